/**
 * One host timer for a whole queue: background services keep a single `setTimeout` armed for the
 * earliest moment something becomes due, so idle apps cost nothing however many jobs they have.
 */

/** Timer functions of the host (`globalThis` by default; tests pass fakes). */
export interface HostTimers {
  /** Calls `fn` once after `ms` milliseconds; returns a handle for {@link HostTimers.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a pending call. Unknown or fired handles are ignored. */
  clearTimeout(handle: unknown): void;
}

/** The host's own timers. */
export const hostTimers: HostTimers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as Parameters<typeof globalThis.clearTimeout>[0]),
};

/** Longest delay `setTimeout` accepts (2^31 − 1 ms ≈ 24.8 days); longer waits fire early and re-arm. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * A single re-armable timer. Arming it for the moment it is already armed for is free; any other
 * moment replaces the pending call. The handle is `unref`'d where the host supports it (Node), so
 * a pending timer never keeps the process alive.
 */
export class SingleTimer {
  private handle: unknown;
  private armedAt: number | undefined;

  /**
   * @param timers host timer functions.
   * @param onFire called when the timer fires (possibly early, for waits beyond {@link MAX_TIMER_DELAY_MS}).
   */
  constructor(
    private readonly timers: HostTimers,
    private readonly onFire: () => void,
  ) {}

  /** The moment (ms epoch) the timer is armed for, or `undefined` when idle. */
  get target(): number | undefined {
    return this.armedAt;
  }

  /**
   * Arms the timer to fire at `at` (ms epoch), given the current time `now` (ms epoch).
   * A moment in the past fires as soon as possible (delay 0).
   */
  arm(at: number, now: number): void {
    if (this.armedAt === at && this.handle !== undefined) return;
    this.clear();
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, at - now));
    this.armedAt = at;
    const h = this.timers.setTimeout(() => {
      if (this.handle !== h) return;
      this.handle = undefined;
      this.armedAt = undefined;
      this.onFire();
    }, delay);
    this.handle = h;
    const unref = (h as { unref?: unknown } | null)?.unref;
    if (typeof unref === 'function') unref.call(h);
  }

  /** Cancels the pending call, if any. */
  clear(): void {
    if (this.handle !== undefined) this.timers.clearTimeout(this.handle);
    this.handle = undefined;
    this.armedAt = undefined;
  }
}
