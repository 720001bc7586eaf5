import { freePages, getMeta, reclaimFreePages, setMeta, type Cartridge, type GrowthGate } from '../cartridge/index.js';
import { formatBytes } from '../deploy/limits.js';
import { FaztError } from '../errors.js';
import type { DiskSpacePort, Logger } from '../ports.js';

/**
 * The disk guard (docs/safeguards.md): when the disk holding the cartridge is fuller than the
 * owner's limit (default 80 %), writes that would grow the cartridge are refused with `DISK_FULL`
 * (HTTP 507), while reads and deletes go on, so the node stays usable and the owner can free space.
 *
 * Disk numbers come from the host's {@link DiskSpacePort} and are cached ({@link DiskGuardOptions.cacheMs},
 * 5 s): a write never waits for `statfs`. A write checks the last known state and, when that is
 * older than the cache time, starts a refresh in the background. A timer also refreshes every
 * {@link DiskGuardOptions.intervalMs} (60 s) while the kernel runs, so the owner is told of a
 * filling disk even when no write asks. {@link DiskGuard.onTrip} listeners run once per trip (a
 * crossing from below the limit to at or above it).
 *
 * Relation to the other space rules: the deploy limits (shared/deploy/limits.ts) bound one upload;
 * `reclaimFreePages` (shared/cartridge/space.ts) gives the pages deletes free back to the file
 * system: while tripped, each check first gives the cartridge's free pages back and truncates its
 * write-ahead log, so deleting data brings the disk back under the limit.
 */

/** cartridge_meta key of the owner's limit (a fraction, e.g. `"0.8"`). */
const LIMIT_KEY = 'disk_guard.limit';

/** Default limit: refuse growth at 80 % used (issue 14, the seeds' disk guard). */
export const DEFAULT_DISK_LIMIT_FRACTION = 0.8;

/** What {@link DiskGuard.status} reports. The first three fields are the contract other parts (Pulse, notify) use. */
export interface DiskGuardStatus {
  /** Used part of the disk, 0–1 (`1 - free/total`); 0 while unknown. */
  usedFraction: number;
  /** The owner's limit, 0–1 (default {@link DEFAULT_DISK_LIMIT_FRACTION}). */
  limitFraction: number;
  /** True while `usedFraction ≥ limitFraction`: growing writes are refused. */
  tripped: boolean;
  /** Whether the host answered at least once (false: no {@link DiskSpacePort}, or not asked yet). */
  known: boolean;
  /** Free bytes at the last check, or `null` while unknown. */
  freeBytes: number | null;
  /** Total bytes at the last check, or `null` while unknown. */
  totalBytes: number | null;
  /** When the host last answered, ms since epoch, or `null`. */
  checkedAt: number | null;
}

/** Options of {@link DiskGuard}. */
export interface DiskGuardOptions {
  /** How long a disk answer is trusted before a write triggers a new one, ms (default 5,000). */
  cacheMs?: number;
  /** Background refresh period while started, ms (default 60,000; 0: no timer). */
  intervalMs?: number;
  /** Logger for trips, clears and port failures. */
  logger?: Logger;
}

/** Parses a limit as the API and CLI take it: a fraction (`0.85`) or a percentage (`"85%"`, `85`). */
export function parseDiskLimit(v: unknown): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\s*\d+(\.\d+)?\s*%?\s*$/.test(v)) n = Number(v.trim().replace(/%$/, ''));
  else throw new FaztError('INVALID_ARGUMENT', `The disk limit must be a percentage like "85%" or a fraction like 0.85, not ${JSON.stringify(v)}.`);
  if (typeof v === 'string' ? /%/.test(v) || n > 1 : n > 1) n = n / 100;
  if (!Number.isFinite(n) || n < 0.05 || n > 1) throw new FaztError('INVALID_ARGUMENT', `The disk limit must be between 5% and 100%, not ${JSON.stringify(v)}.`);
  return Math.round(n * 10_000) / 10_000;
}

/** `0.8` → `"80%"`. */
export function percent(f: number): string {
  return `${Math.round(f * 1000) / 10}%`;
}

/**
 * The kernel's disk guard (`kernel.diskGuard`). It is the cartridge's {@link GrowthGate}: the stores
 * (kv, docs, blobs, events, jobs) and the deploy use case call {@link assertCanGrow} before a write
 * that grows the cartridge.
 */
export class DiskGuard implements GrowthGate {
  private last: { freeBytes: number; totalBytes: number; at: number } | undefined;
  private limit: number;
  private wasTripped = false;
  private inflight: Promise<DiskGuardStatus> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly listeners = new Set<(s: DiskGuardStatus) => void>();
  private readonly cacheMs: number;
  private readonly intervalMs: number;

  /**
   * @param cart the cartridge (its `cartridge_meta` keeps the limit; its clock times the cache).
   * @param port the host's disk numbers; absent: the guard never trips (status `known: false`).
   */
  constructor(
    private readonly cart: Cartridge,
    private readonly port: DiskSpacePort | undefined,
    private readonly options: DiskGuardOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? 5_000;
    this.intervalMs = options.intervalMs ?? 60_000;
    const stored = Number(getMeta(cart.db, LIMIT_KEY));
    this.limit = Number.isFinite(stored) && stored > 0 && stored <= 1 ? stored : DEFAULT_DISK_LIMIT_FRACTION;
  }

  /** The state as last measured (never waits; see {@link refresh}). */
  status(): DiskGuardStatus {
    const l = this.last;
    const used = l && l.totalBytes > 0 ? Math.min(1, Math.max(0, 1 - l.freeBytes / l.totalBytes)) : 0;
    return {
      usedFraction: Math.round(used * 10_000) / 10_000,
      limitFraction: this.limit,
      tripped: !!l && l.totalBytes > 0 && used >= this.limit,
      known: !!l,
      freeBytes: l?.freeBytes ?? null,
      totalBytes: l?.totalBytes ?? null,
      checkedAt: l?.at ?? null,
    };
  }

  /**
   * Asks the host now (one request at a time; concurrent callers share it), updates the state and
   * runs the {@link onTrip} listeners when this answer crosses the limit.
   * @returns the new status; the old one when the port failed (logged, never thrown).
   */
  refresh(): Promise<DiskGuardStatus> {
    if (!this.port) return Promise.resolve(this.status());
    const port = this.port;
    this.inflight ??= this.giveBackFreePages()
      .then(() => port.usage())
      .then(
        (u) => {
          if (!Number.isFinite(u.freeBytes) || !Number.isFinite(u.totalBytes)) throw new Error(`the host reported ${JSON.stringify(u)}`);
          this.last = { freeBytes: Math.max(0, u.freeBytes), totalBytes: Math.max(0, u.totalBytes), at: this.cart.clock.now() };
          this.settle();
          return this.status();
        },
        (e) => {
          this.options.logger?.warn('disk guard: the host could not tell the free disk space', { error: String((e as Error)?.message ?? e) });
          return this.status();
        },
      )
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  /** A status no older than the cache time (refreshes when stale). */
  async current(): Promise<DiskGuardStatus> {
    if (this.stale()) return this.refresh();
    return this.status();
  }

  /**
   * Runs `fn` each time the guard trips (the used part of the disk reaches the limit after being
   * under it, or is found at or above it by the first check). Listener errors are logged.
   * @returns unsubscribe.
   */
  onTrip(fn: (s: DiskGuardStatus) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Sets the owner's limit (kept in the cartridge) and re-evaluates the state with the last answer.
   * @param limit a fraction (0.85) or a percentage (`"85%"`, 85); 5 %–100 %.
   * @throws FaztError `INVALID_ARGUMENT` for another value (nothing changes).
   */
  setLimit(limit: unknown): DiskGuardStatus {
    this.limit = parseDiskLimit(limit);
    setMeta(this.cart.db, LIMIT_KEY, String(this.limit));
    this.settle();
    return this.status();
  }

  /**
   * Refuses a growing write while the disk is above the limit. Never waits: a stale answer starts a
   * refresh in the background, and this write is judged on the last one.
   * @param what the write, for the message.
   * @throws FaztError `DISK_FULL` (507) with `usedFraction`, `limitFraction`, `freeBytes` in its details.
   */
  assertCanGrow(what: string): void {
    if (this.stale()) void this.refresh();
    if (!this.wasTripped) return; // kept equal to status().tripped by settle(): no object per write
    const s = this.status();
    throw new FaztError(
      'DISK_FULL',
      `The disk holding the cartridge is ${percent(s.usedFraction)} full (${formatBytes(s.freeBytes ?? 0)} free); above the limit of ${percent(s.limitFraction)} Fazt refuses writes that grow the cartridge, so ${what} was not done. Reading and deleting still work. Free space (delete data or apps you no longer need, or files outside Fazt on that disk), or raise the limit with \`fazt disk limit 90%\`.`,
      { usedFraction: s.usedFraction, limitFraction: s.limitFraction, freeBytes: s.freeBytes },
    );
  }

  /** Starts the background refresh (an immediate one, then every `intervalMs`). */
  start(): void {
    void this.refresh();
    if (this.timer || !this.port || this.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.refresh(), this.intervalMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Stops the background refresh. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * While tripped, gives the pages deletes freed back to the file system before measuring
   * (`reclaimFreePages`, in small steps), then truncates the write-ahead log
   * (`PRAGMA wal_checkpoint(TRUNCATE)`, https://www.sqlite.org/pragma.html#pragma_wal_checkpoint; a
   * no-op without a WAL, as on sql.js), so the owner's deletes show as free disk. Failures are
   * logged; the check goes on.
   */
  private async giveBackFreePages(): Promise<void> {
    if (!this.wasTripped) return;
    try {
      if (freePages(this.cart.db) > 0) {
        const pages = await reclaimFreePages(this.cart.db);
        if (pages > 0) this.options.logger?.info('disk guard: gave free pages of the cartridge back to the disk', { pages });
      }
      // the log keeps its largest size until truncated; a reader holding an old snapshot makes this a partial checkpoint
      this.cart.db.get('PRAGMA wal_checkpoint(TRUNCATE)');
    } catch (e) {
      this.options.logger?.warn('disk guard: giving free pages back failed', { error: String((e as Error)?.message ?? e) });
    }
  }

  private stale(): boolean {
    return !!this.port && (!this.last || this.cart.clock.now() - this.last.at >= this.cacheMs);
  }

  /** Notices a crossing of the limit (either way) and tells the listeners of a trip. */
  private settle(): void {
    const s = this.status();
    if (s.tripped === this.wasTripped) return;
    this.wasTripped = s.tripped;
    const fields = { usedPercent: percent(s.usedFraction), limitPercent: percent(s.limitFraction), freeBytes: s.freeBytes };
    if (!s.tripped) {
      this.options.logger?.info('disk guard: back under the limit; writes are accepted again', fields);
      return;
    }
    this.options.logger?.warn('disk guard: the disk is above the limit; writes that grow the cartridge are refused', fields);
    for (const fn of this.listeners) {
      try {
        fn(s);
      } catch (e) {
        this.options.logger?.error('disk guard: an onTrip listener failed', { error: String((e as Error)?.message ?? e) });
      }
    }
  }
}
