import type { AppRegistry } from '../apps/index.js';
import type { Cartridge } from '../cartridge/index.js';
import { getMeta, setMeta } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import { hostTimers, SingleTimer, type HostTimers } from '../lib/timer.js';
import type { MeshService } from '../mesh/index.js';
import type { KernelPorts, Logger } from '../ports.js';
import { DEFAULT_THRESHOLDS, diskThresholds, judge, type AlertThresholds, type PulseAlert } from './alerts.js';
import { PulseCounters } from './counters.js';
import { RecentWindow } from './baseline.js';
import type { AppPulse, PulseSnapshot } from './snapshot.js';
import { PulseStore, RETENTION, type PulseAlertRecord } from './store.js';

/**
 * Pulse (docs/pulse.md): every interval (15 minutes by default) the node records a snapshot of its
 * health — process memory and CPU, disk and cartridge size, requests, errors and p99 latency per
 * app, job runs and failures, events, push failures, peers' links — into the cartridge, keeps the
 * history bounded and downsampled (`store.ts`), and raises alerts on critical conditions
 * (`alerts.ts`) to {@link PulseService.onAlert} listeners. Host-neutral: process and disk figures
 * come through the `processStats` and `diskSpace` ports.
 */

/** The default interval between snapshots, ms (15 minutes). */
export const DEFAULT_PULSE_INTERVAL_MS = 15 * 60_000;
/** The shortest interval the owner can set, ms (1 minute). Hosts may pass shorter ones (tests, benches). */
export const MIN_PULSE_INTERVAL_MS = 60_000;
/** The longest interval, ms (1 day). */
export const MAX_PULSE_INTERVAL_MS = 24 * 3_600_000;
/** The history is downsampled at most this often, ms (5 minutes). */
const COMPACT_EVERY_MS = 5 * 60_000;
/** `cartridge_meta` key of the owner's interval. */
const INTERVAL_KEY = 'pulse_interval_ms';

/** Options of {@link PulseService}. */
export interface PulseOptions {
  /** An interval that overrides the owner's setting, ms (the Node host passes `FAZT_PULSE_INTERVAL_MS`); ≥ 10. */
  intervalMs?: number;
  /** Host timers (tests pass fakes). */
  timers?: HostTimers;
  /** Alert thresholds (tests lower them). Disk thresholds given here win over {@link diskLimit}'s. */
  thresholds?: Partial<AlertThresholds>;
  /**
   * The disk guard's limit (0–1), read at each snapshot: the disk alert is derived from it
   * (`diskThresholds` of alerts.ts: a warning 10 points before the guard refuses, critical when it
   * does). Absent: the fixed defaults (80 % / 75 % / 95 %).
   */
  diskLimit?: () => number;
}

/** What the node's services are, for Pulse to read (the kernel passes its own). */
export interface PulseSources {
  cart: Cartridge;
  apps: AppRegistry;
  mesh: MeshService;
  ports: Pick<KernelPorts, 'diskSpace' | 'processStats' | 'logger'>;
}

/** Where the interval in force comes from. */
export type IntervalSource = 'host' | 'setting' | 'default';

/** An alert listener (the contract of issue 14: the coordinator wires it to `notify.send`). */
export type AlertListener = (a: PulseAlert) => void;

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** The node's Pulse (one per kernel). */
export class PulseService {
  /** The in-memory counters the HTTP face, the scheduler and the event bus feed. */
  readonly counters = new PulseCounters();
  readonly store: PulseStore;
  private readonly thresholds: AlertThresholds;
  private readonly diskLimit: (() => number) | undefined;
  /** The disk thresholds were given as options: the disk guard's limit does not move them. */
  private readonly diskGiven: boolean;

  /** The thresholds of this snapshot: the disk ones follow the disk guard's limit (see {@link PulseOptions.diskLimit}). */
  private currentThresholds(): AlertThresholds {
    if (!this.diskLimit || this.diskGiven) return this.thresholds;
    const limit = this.diskLimit();
    return Number.isFinite(limit) && limit > 0 && limit <= 1 ? { ...this.thresholds, ...diskThresholds(limit) } : this.thresholds;
  }
  private readonly timer: SingleTimer;
  private readonly listeners = new Set<AlertListener>();
  private readonly logger: Logger;
  private running = false;
  /** Start of the current window, ms epoch. */
  private windowStart = 0;
  /** CPU time at the start of the window, ms. */
  private cpuAtStart: number | null = null;
  /** The past day's raw snapshots as running totals (loaded from the store at the first snapshot). */
  private recent: RecentWindow | undefined;
  /** When the history was last downsampled, ms epoch. */
  private compactedAt = -Infinity;
  /** Snapshots in progress are chained: one at a time. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly src: PulseSources,
    private readonly options: PulseOptions = {},
  ) {
    this.store = new PulseStore(src.cart.db);
    this.thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
    this.diskLimit = options.diskLimit;
    this.diskGiven = ['diskRaise', 'diskClear', 'diskCritical'].some((k) => options.thresholds?.[k as keyof AlertThresholds] !== undefined);
    this.logger = src.ports.logger;
    this.timer = new SingleTimer(options.timers ?? hostTimers, () => this.fire());
    if (options.intervalMs !== undefined && !(Number.isFinite(options.intervalMs) && options.intervalMs >= 10)) {
      throw new FaztError('INVALID_ARGUMENT', `The Pulse interval must be at least 10 ms (got ${options.intervalMs}).`);
    }
  }

  private get clockNow(): number {
    return this.src.cart.clock.now();
  }

  /** The interval in force, ms, and where it comes from (host override, the owner's setting, the default). */
  interval(): { intervalMs: number; source: IntervalSource } {
    if (this.options.intervalMs !== undefined) return { intervalMs: this.options.intervalMs, source: 'host' };
    const v = Number(getMeta(this.src.cart.db, INTERVAL_KEY));
    if (Number.isSafeInteger(v) && v >= MIN_PULSE_INTERVAL_MS && v <= MAX_PULSE_INTERVAL_MS) return { intervalMs: v, source: 'setting' };
    return { intervalMs: DEFAULT_PULSE_INTERVAL_MS, source: 'default' };
  }

  /**
   * Sets the owner's interval (kept in the cartridge); the next snapshot is re-planned at once.
   * @param ms between {@link MIN_PULSE_INTERVAL_MS} and {@link MAX_PULSE_INTERVAL_MS}, or `null` for the default.
   * @throws FaztError `INVALID_ARGUMENT` for anything else.
   */
  setInterval(ms: number | null): { intervalMs: number; source: IntervalSource } {
    if (ms !== null && !(Number.isSafeInteger(ms) && ms >= MIN_PULSE_INTERVAL_MS && ms <= MAX_PULSE_INTERVAL_MS)) {
      throw new FaztError('INVALID_ARGUMENT', `The Pulse interval must be a whole number of ms from ${MIN_PULSE_INTERVAL_MS} (1 minute) to ${MAX_PULSE_INTERVAL_MS} (1 day); got ${String(ms).slice(0, 30)}.`);
    }
    setMeta(this.src.cart.db, INTERVAL_KEY, ms === null ? null : String(ms));
    if (this.running) this.plan();
    return this.interval();
  }

  /** When the next snapshot is due, ms epoch (`undefined` when not running). */
  get nextAt(): number | undefined {
    return this.timer.target;
  }

  /** Whether snapshots are being taken on schedule. */
  get isRunning(): boolean {
    return this.running;
  }

  /**
   * Starts taking snapshots on schedule. The first is due one interval after the last stored one,
   * but not sooner than one interval (at most a minute) from now, so a node restarted often still
   * records. Calling it again while running does nothing.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.windowStart = this.clockNow;
    this.cpuAtStart = this.readProcess().cpuMs;
    const { intervalMs } = this.interval();
    const last = this.safe(() => this.store.latest()?.at);
    const at = Math.max(this.windowStart + Math.min(intervalMs, 60_000), (last ?? -Infinity) + intervalMs);
    this.timer.arm(at, this.windowStart);
  }

  /** Stops the schedule; resolves when a snapshot in progress has finished. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer.clear();
    await this.chain.catch(() => {});
  }

  private plan(): void {
    const { intervalMs } = this.interval();
    const t = this.clockNow;
    this.timer.arm(Math.max(t, this.windowStart + intervalMs), t);
  }

  private fire(): void {
    if (!this.running) return;
    void this.snapshot()
      .catch((e: unknown) => this.logger.warn('pulse: snapshot failed', { error: String((e as Error)?.message ?? e) }))
      .finally(() => {
        if (this.running) this.plan();
      });
  }

  /**
   * Registers an alert listener (called once when an alert is raised, not again until it has
   * cleared). A listener that throws is logged and the others still run.
   * @returns unsubscribe.
   */
  onAlert(fn: AlertListener): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  /** Records a push notification that could not be delivered (the notify service calls it). */
  recordPushFailure(): void {
    this.counters.recordPushFailure();
  }

  /**
   * Watches an app export's run (a scheduled job or an event delivery) for the counters; the promise
   * is returned unchanged to its caller by the kernel.
   */
  observe(appId: string, name: 'scheduled' | 'on', arg: unknown, run: Promise<unknown>): void {
    const job = name === 'scheduled' ? (arg as { id?: unknown; name?: unknown }) : undefined;
    const jobRef = job && { id: String(job.id ?? ''), name: typeof job.name === 'string' ? job.name : null };
    run.then(
      () => (jobRef ? this.counters.recordJob(appId, jobRef) : this.counters.recordDelivery(false)),
      (e: unknown) => (jobRef ? this.counters.recordJob(appId, jobRef, e ?? 'failed') : this.counters.recordDelivery(true)),
    );
  }

  private readProcess() {
    try {
      return this.src.ports.processStats?.read() ?? { rssBytes: null, heapUsedBytes: null, cpuMs: null };
    } catch {
      return { rssBytes: null, heapUsedBytes: null, cpuMs: null };
    }
  }

  private safe<T>(f: () => T): T | undefined {
    try {
      return f();
    } catch {
      return undefined;
    }
  }

  /**
   * Takes a snapshot now: reads the figures, stores it, downsamples the history, judges the alert
   * conditions (raising and clearing alerts, calling listeners for new ones). One at a time.
   * `snapshotMs` in the result is the event-loop time it took (its synchronous parts: what could
   * delay requests); waiting for the disk figures is not counted.
   * @returns the stored snapshot.
   */
  snapshot(): Promise<PulseSnapshot> {
    const p = this.chain.then(() => this.take());
    this.chain = p.catch(() => {});
    return p;
  }

  private async take(): Promise<PulseSnapshot> {
    let t0 = now();
    const proc = this.readProcess();
    let busy = now() - t0;
    let disk: { freeBytes: number; totalBytes: number } | undefined;
    try {
      disk = await this.src.ports.diskSpace?.usage();
    } catch (e) {
      this.logger.warn('pulse: disk space unknown', { error: String((e as Error)?.message ?? e) });
    }
    t0 = now();
    const db = this.src.cart.db;
    const at = this.clockNow;
    const start = this.running || this.windowStart ? this.windowStart : at;
    const periodMs = Math.max(0, at - start);
    const cpuPercent =
      proc.cpuMs !== null && this.cpuAtStart !== null && periodMs > 0 ? Math.round(((proc.cpuMs - this.cpuAtStart) / periodMs) * 10000) / 100 : null;
    const win = this.counters.drain();
    const pages = db.get<{ page_count: number }>('PRAGMA page_count')?.page_count ?? 0;
    const pageSize = db.get<{ page_size: number }>('PRAGMA page_size')?.page_size ?? 0;
    const emitted = db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events WHERE created_at > ? AND created_at <= ?', [start, at])?.n ?? 0;
    const apps: AppPulse[] = win.apps
      .map((a) => ({ appId: a.appId, app: this.src.apps.resolve(a.appId)?.name ?? null, requests: a.requests, errors: a.errors, p99Ms: a.p99Ms }))
      .sort((a, b) => b.requests - a.requests);
    const peers = this.safe(() => this.src.mesh.status()) ?? [];
    const p99s = apps.map((a) => a.p99Ms).filter((x): x is number => x !== null);
    const usedFraction = disk && disk.totalBytes > 0 ? Math.round((1 - disk.freeBytes / disk.totalBytes) * 10000) / 10000 : null;
    const snap: PulseSnapshot = {
      at,
      resolution: 'raw',
      periodMs,
      samples: 1,
      process: { rssBytes: proc.rssBytes, heapUsedBytes: proc.heapUsedBytes, cpuPercent },
      disk: { freeBytes: disk?.freeBytes ?? null, totalBytes: disk?.totalBytes ?? null, usedFraction, cartridgeBytes: pages * pageSize },
      requests: { total: apps.reduce((n, a) => n + a.requests, 0), errors: apps.reduce((n, a) => n + a.errors, 0), p99Ms: p99s.length ? Math.max(...p99s) : null },
      apps,
      jobs: win.jobs,
      events: { emitted, deliveries: win.deliveries.runs, deliveryFailures: win.deliveries.failures },
      push: { failures: win.pushFailures },
      peers: { total: peers.length, connected: peers.filter((p) => p.connected).length, list: peers.map((p) => ({ nodeId: p.nodeId, name: p.name, connected: p.connected })) },
      snapshotMs: 0,
    };
    this.windowStart = at;
    this.cpuAtStart = proc.cpuMs;
    const raised = this.judgeAlerts(snap, win.failingJobs.map((j) => ({ ...j, appName: this.src.apps.resolve(j.appId)?.name ?? null })));
    snap.snapshotMs = Math.round((busy + now() - t0) * 1000) / 1000;
    db.transaction(() => {
      this.store.insert(snap);
      // downsampling moves whole hours: once every few minutes is enough (and every snapshot at the default interval)
      if (at - this.compactedAt >= COMPACT_EVERY_MS || at < this.compactedAt) {
        this.store.compact(at);
        this.store.pruneAlerts(at - RETENTION.dayMs);
        this.compactedAt = at;
      }
    });
    this.recent!.add(snap);
    busy += now() - t0;
    for (const a of raised) this.emitAlert(a);
    return snap;
  }

  /** Applies the verdicts on a snapshot: records new alerts and clears fine ones. @returns the new ones. */
  private judgeAlerts(snap: PulseSnapshot, failing: ReturnType<PulseCounters['drain']>['failingJobs']): PulseAlert[] {
    const open = new Map<string, Set<string>>();
    for (const a of this.store.openAlerts()) {
      let s = open.get(a.condition);
      if (!s) open.set(a.condition, (s = new Set()));
      s.add(a.subject);
    }
    if (!this.recent) {
      this.recent = new RecentWindow(RETENTION.maxRawRows);
      for (const s of this.store.history(snap.at - 24 * 3_600_000, snap.at, 'raw')) this.recent.add(s);
    }
    const base = this.recent.baseline(snap.at);
    const raised: PulseAlert[] = [];
    for (const v of judge(snap, base, failing, open, this.currentThresholds())) {
      if (v.state === 'raise') {
        const r = this.store.raise({ condition: v.condition, subject: v.subject, severity: v.severity, title: v.title, message: v.message, raisedAt: snap.at });
        if (r) raised.push({ condition: r.condition, severity: r.severity, title: r.title, message: r.message, at: r.raisedAt });
      } else if (v.state === 'clear' && open.get(v.condition)?.has(v.subject)) {
        this.store.clear(v.condition, v.subject, snap.at);
        this.logger.info('pulse: alert cleared', { condition: v.condition, subject: v.subject });
      }
    }
    return raised;
  }

  private emitAlert(a: PulseAlert): void {
    this.logger.warn('pulse: alert', { condition: a.condition, severity: a.severity, title: a.title });
    for (const fn of this.listeners) {
      try {
        fn(a);
      } catch (e) {
        this.logger.error('pulse: an alert listener failed', { error: String((e as Error)?.message ?? e) });
      }
    }
  }

  /** Open alerts, and those raised in the past `sinceMs` (default a week), newest first. */
  alerts(sinceMs = 7 * 24 * 3_600_000): { open: PulseAlertRecord[]; recent: PulseAlertRecord[] } {
    return { open: this.store.openAlerts(), recent: this.store.recentAlerts(this.clockNow - sinceMs) };
  }
}
