import type { Logger } from '../ports.js';
import { SingleTimer, type HostTimers } from './timer.js';

/**
 * The mechanism shared by the kernel's timer-driven background services (the scheduler's jobs, the
 * event bus's deliveries): work lives in the cartridge, due at a moment, in *lanes* (an app) that
 * run one item at a time; one host timer is armed for the earliest due item of a free lane, and a
 * finished item dispatches the next. Idle lanes cost nothing. What is due, how an item is claimed
 * and how its outcome (and retry with backoff) is recorded are the service's: see {@link DispatchSource}.
 */

/** The service side of a {@link TimedDispatcher}. */
export interface DispatchSource<T> {
  /**
   * The earliest moment (ms epoch) an item of a lane not in `busy` is due, `undefined` when none.
   * May throw (e.g. the table cannot be read): the dispatcher logs it and waits for the next change.
   */
  nextDue(busy: ReadonlySet<string>): number | undefined;
  /** Claims one item due at `now` (ms epoch) whose lane is not in `busy`; `undefined` when none. */
  claim(now: number, busy: ReadonlySet<string>): { lane: string; item: T } | undefined;
  /**
   * Runs an item and records its outcome (success, retry later, or failure). Rejects only when the
   * outcome could not be recorded: the item is then still due, and the dispatcher does not spin on
   * it (the next change or timer retries).
   */
  run(item: T): Promise<void>;
}

/** Options of {@link TimedDispatcher}. */
export interface DispatcherOptions {
  /** Most items running at once over all lanes (≥ 1). */
  concurrency: number;
  /** Host timers (tests pass fakes). */
  timers: HostTimers;
  /** Wall time, ms epoch (the cartridge's clock). */
  now: () => number;
  /** Where dispatch failures are reported. */
  logger: Logger;
  /** Prefix of log messages, e.g. `'scheduler'`, `'events'`. */
  name: string;
  /** Called on every timer wake before dispatching (housekeeping such as pruning). */
  onWake?: () => void;
}

/** Dispatches due items of a {@link DispatchSource}, one per lane, at most `concurrency` at once. */
export class TimedDispatcher<T> {
  private readonly timer: SingleTimer;
  private readonly inflight = new Map<string, { item: T; done: Promise<void> }>();
  private started = false;
  private launched = 0;

  constructor(
    private readonly source: DispatchSource<T>,
    private readonly o: DispatcherOptions,
  ) {
    this.timer = new SingleTimer(o.timers, () => this.onTimer());
  }

  /** Items running now. */
  get running(): number {
    return this.inflight.size;
  }

  /** The items running now. */
  runningItems(): T[] {
    return [...this.inflight.values()].map((r) => r.item);
  }

  /** True between {@link start} and {@link stop}. */
  get isStarted(): boolean {
    return this.started;
  }

  /** The moment (ms epoch) the timer is armed for, `undefined` when idle. */
  get wakeAt(): number | undefined {
    return this.timer.target;
  }

  /** Starts background dispatch (arms the timer). Calling it again while started does nothing. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.arm();
  }

  /** Stops background dispatch; items in progress finish (and record) — resolves when they have. */
  async stop(): Promise<void> {
    this.started = false;
    this.timer.clear();
    await Promise.all([...this.inflight.values()].map((r) => r.done));
  }

  /** Re-arms the timer after the work changed (a new job or delivery, a cancelled one). No-op when stopped. */
  kick(): void {
    this.arm();
  }

  /**
   * Dispatches everything due now and waits until those items, and the ones they unblocked, have
   * finished. Works whether or not the dispatcher is started.
   * @returns how many items were started while it waited.
   */
  async drain(): Promise<number> {
    const before = this.launched;
    this.pump();
    while (this.inflight.size > 0) {
      await Promise.race([...this.inflight.values()].map((r) => r.done));
      this.pump();
    }
    if (this.started) this.arm();
    return this.launched - before;
  }

  private busy(): Set<string> {
    return new Set(this.inflight.keys());
  }

  private arm(): void {
    if (!this.started) return;
    let earliest: number | undefined;
    try {
      earliest = this.source.nextDue(this.busy());
    } catch (e) {
      this.o.logger.error(`${this.o.name}: cannot read the queue`, { error: String(e) });
      this.timer.clear();
      return;
    }
    const now = this.o.now();
    if (earliest === undefined || (earliest <= now && this.inflight.size >= this.o.concurrency)) {
      // nothing to wait for, or a finishing item will re-arm
      this.timer.clear();
      return;
    }
    this.timer.arm(earliest, now);
  }

  private onTimer(): void {
    if (!this.started) return;
    try {
      this.o.onWake?.();
      this.pump();
    } catch (e) {
      this.o.logger.error(`${this.o.name}: dispatch failed`, { error: String(e) });
    }
    this.arm();
  }

  /** Starts as many due items as the limits allow. */
  private pump(): void {
    while (this.inflight.size < this.o.concurrency) {
      const next = this.source.claim(this.o.now(), this.busy());
      if (!next) return;
      this.launch(next.lane, next.item);
    }
  }

  private launch(lane: string, item: T): void {
    this.launched++;
    let recorded = false;
    const done = this.source
      .run(item)
      .then(() => {
        recorded = true;
      })
      .catch((e) => this.o.logger.error(`${this.o.name}: cannot record an outcome`, { lane, error: String(e) }))
      .finally(() => {
        this.inflight.delete(lane);
        if (this.started && recorded) {
          try {
            this.pump();
          } catch (e) {
            this.o.logger.error(`${this.o.name}: dispatch failed`, { error: String(e) });
          }
          this.arm();
        }
      });
    this.inflight.set(lane, { item, done });
  }
}
