import type { Cartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import type { SqlValue } from '../sql/index.js';
import { decodeCronColumn, encodeCronColumn, nextCronRun, scheduleKey, validateSchedule, type CatchUpPolicy, type ScheduleEntry } from './cron.js';
import { MAX_JSON_BYTES, toStoredJson } from '../lib/stored-json.js';

/**
 * Jobs of `fazt.schedule`, kept in the cartridge's `jobs` table (sync class `local`: each node runs
 * its own). One-shot jobs (`after`, `at`) come from app code; cron jobs mirror the live manifest's
 * `schedule` ({@link JobStore.syncCron}). Execution is the {@link Scheduler}'s business; this store
 * only writes rows and tells listeners that something changed.
 *
 * Row format notes (the table is private to this module):
 * - `id`: the node's HLC timestamp at creation, so ids are unique and sort in creation order.
 * - `cron`: the expression, prefixed `CRON_TZ=<zone> ` when the entry has a timezone.
 * - `state`: JSON envelope `{"v": <app state>, "slot": <ms>}`; `v` absent when the job has no state,
 *   `slot` present only while a run is being retried (the run's original scheduled time).
 * - `name`: the cron job's key (`name` of the entry, or `cron-<index>`); `NULL` for one-shot jobs.
 */

/** How a job was created. */
export type JobKind = 'after' | 'at' | 'cron';

/** Lifecycle: `scheduled` → `running` → `done` | `failed` (one-shot) or back to `scheduled` (cron, retries); `cancelled` any time. */
export type JobStatus = 'scheduled' | 'running' | 'done' | 'failed' | 'cancelled';

/** A job as apps and the dashboard see it. */
export interface JobInfo {
  /** Unique id (sortable by creation). */
  id: string;
  /** Owning app's UUID. */
  appId: string;
  kind: JobKind;
  /** Cron jobs: the entry's `name`, or `cron-<index>` when unnamed. `null` for one-shot jobs. */
  name: string | null;
  /** Cron jobs: the expression (without timezone). */
  cron: string | null;
  /** Cron jobs: IANA timezone the expression is evaluated in; `null` = UTC. */
  timezone: string | null;
  /** Cron jobs: policy for runs missed while the node was down (one-shot jobs: `'once'`, unused). */
  catchUp: CatchUpPolicy;
  /** When the job runs next (ms epoch); for retries, when the retry is due. */
  runAt: number;
  /** The app-supplied state (JSON value), `undefined` when none. */
  state: unknown;
  status: JobStatus;
  /** Failed attempts of the current run (reset when a cron job moves on). */
  attempts: number;
  /** Message of the last failure, `null` when none. */
  lastError: string | null;
  /** ms epoch. */
  createdAt: number;
  /** ms epoch of the last status change. */
  updatedAt: number;
}

/** What changed, for {@link JobStore.onChange} listeners. */
export interface JobChange {
  /** The app whose jobs changed. */
  appId: string;
  /**
   * Set when the only change is a new scheduled job due at this moment (ms epoch): a listener whose
   * timer fires earlier can ignore it. Absent: anything may have changed (re-read everything).
   */
  runAt?: number;
}

/** Called synchronously after every committed change of the jobs table made through the store. */
export type JobChangeListener = (change: JobChange) => void;

/** Result of {@link JobStore.syncCron}: cron job keys by what happened to them. */
export interface CronSyncResult {
  /** New entries, scheduled for their next run. */
  added: string[];
  /** Entries whose expression or timezone changed: rescheduled from now. */
  rescheduled: string[];
  /** Entries whose timing is unchanged: they keep their next run (state/catchUp updated in place). */
  kept: string[];
  /** Jobs no longer in the manifest: cancelled. */
  cancelled: string[];
}

/** Most scheduled one-shot jobs (`after`/`at`, status `scheduled` or `running`) an app may have. */
export const MAX_PENDING_JOBS_PER_APP = 1000;

/** Latest moment a job may be scheduled for (the largest valid `Date`, ms epoch). */
export const MAX_RUN_AT = 8.64e15;

/** A `jobs` row. @internal */
export interface JobRow {
  id: string;
  app_id: string;
  kind: JobKind;
  name: string | null;
  cron: string | null;
  catch_up: CatchUpPolicy;
  run_at: number;
  state: string | null;
  status: JobStatus;
  attempts: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

/** Decodes the `state` column. @internal */
export function parseStateColumn(column: string | null): { state: unknown; slot?: number } {
  if (column === null) return { state: undefined };
  const env = JSON.parse(column) as { v?: unknown; slot?: number };
  return { state: env.v, slot: typeof env.slot === 'number' ? env.slot : undefined };
}

/** Encodes the `state` column from the state's JSON text (`undefined`: no state) and a retry slot. @internal */
export function stateColumn(stateJson: string | undefined, slot?: number): string | null {
  if (stateJson === undefined && slot === undefined) return null;
  const parts: string[] = [];
  if (stateJson !== undefined) parts.push(`"v":${stateJson}`);
  if (slot !== undefined) parts.push(`"slot":${slot}`);
  return `{${parts.join(',')}}`;
}

/** The JSON text of the state held in a `state` column (`undefined` when none). @internal */
export function stateJsonOf(column: string | null): string | undefined {
  const { state } = parseStateColumn(column);
  return state === undefined ? undefined : JSON.stringify(state);
}

/** Converts a row to its public shape. @internal */
export function toJobInfo(r: JobRow): JobInfo {
  const cron = r.cron === null ? undefined : decodeCronColumn(r.cron);
  return {
    id: r.id,
    appId: r.app_id,
    kind: r.kind,
    name: r.name,
    cron: cron?.expr ?? null,
    timezone: cron?.timezone ?? null,
    catchUp: r.catch_up,
    runAt: r.run_at,
    state: parseStateColumn(r.state).state,
    status: r.status,
    attempts: r.attempts,
    lastError: r.last_error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function assertAppId(appId: unknown): asserts appId is string {
  if (typeof appId !== 'string' || appId.length === 0) throw new FaztError('INVALID_ARGUMENT', 'appId must be a non-empty string.');
}

/** Jobs of all apps in one cartridge. Every method is one synchronous transaction. */
export class JobStore {
  private readonly listeners = new Set<JobChangeListener>();

  constructor(private readonly cart: Cartridge) {}

  private get db() {
    return this.cart.db;
  }

  /**
   * Registers a listener told about every change made through this store (the {@link Scheduler}
   * uses it to re-arm its timer). Listener errors are swallowed.
   * @returns a function that unregisters the listener.
   */
  onChange(listener: JobChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(change: JobChange): void {
    for (const l of [...this.listeners]) {
      try {
        l(change);
      } catch {
        // a listener's failure must not undo or hide a committed change
      }
    }
  }

  /**
   * Schedules a one-shot job `ms` milliseconds from now (`fazt.schedule.after`).
   * @param ms delay, ms; finite, ≥ 0 (fractions round up).
   * @param state JSON value handed back to the `scheduled(job)` export as `job.state`.
   * @throws FaztError `INVALID_ARGUMENT` for a bad delay or non-JSON state; `LIMIT_EXCEEDED` when the
   *   state's JSON exceeds 64 KiB or the app already has {@link MAX_PENDING_JOBS_PER_APP} pending one-shot jobs;
   *   `DISK_FULL` while the disk guard is tripped (docs/safeguards.md).
   */
  after(appId: string, ms: number, state?: unknown): JobInfo {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw new FaztError('INVALID_ARGUMENT', `The delay must be a finite number of milliseconds ≥ 0 (got ${String(ms)}).`);
    }
    const runAt = this.cart.clock.now() + Math.ceil(ms);
    if (runAt > MAX_RUN_AT) throw new FaztError('INVALID_ARGUMENT', `The delay ${ms} ms reaches past the year 275760.`);
    return this.insertOneShot(appId, 'after', runAt, state);
  }

  /**
   * Schedules a one-shot job at a moment (`fazt.schedule.at`). A moment in the past runs as soon as possible.
   * @param when ms epoch; finite, ≥ 0 (fractions round to the nearest ms).
   * @param state JSON value handed back as `job.state`.
   * @throws FaztError as {@link JobStore.after}.
   */
  at(appId: string, when: number, state?: unknown): JobInfo {
    if (typeof when !== 'number' || !Number.isFinite(when) || when < 0 || when > MAX_RUN_AT) {
      throw new FaztError('INVALID_ARGUMENT', `The time must be a finite ms-since-epoch number between 0 and ${MAX_RUN_AT} (got ${String(when)}).`);
    }
    return this.insertOneShot(appId, 'at', Math.round(when), state);
  }

  private insertOneShot(appId: string, kind: 'after' | 'at', runAt: number, state: unknown): JobInfo {
    assertAppId(appId);
    this.cart.growth?.assertCanGrow(`scheduling a job (fazt.schedule.${kind})`);
    const json = toStoredJson(state, 'job state', MAX_JSON_BYTES);
    const row = this.db.transaction(() => {
      // index-only count of all pending jobs first; cron jobs are subtracted only near the limit
      let pending = this.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM jobs WHERE app_id = ? AND status IN ('scheduled','running')", [appId])!.n;
      if (pending >= MAX_PENDING_JOBS_PER_APP) {
        pending -= this.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM jobs WHERE app_id = ? AND status IN ('scheduled','running') AND kind = 'cron'", [appId])!.n;
      }
      if (pending >= MAX_PENDING_JOBS_PER_APP) {
        throw new FaztError(
          'LIMIT_EXCEEDED',
          `This app already has ${pending} scheduled jobs (the limit is ${MAX_PENDING_JOBS_PER_APP}). Cancel some with fazt.schedule.cancel(id) or let them run first.`,
          { limit: MAX_PENDING_JOBS_PER_APP },
        );
      }
      const now = this.cart.clock.now();
      const r: JobRow = {
        id: this.cart.hlc.now(),
        app_id: appId,
        kind,
        name: null,
        cron: null,
        catch_up: 'once',
        run_at: runAt,
        state: stateColumn(json),
        status: 'scheduled',
        attempts: 0,
        last_error: null,
        created_at: now,
        updated_at: now,
      };
      this.insertRow(r);
      return r;
    });
    this.notify({ appId, runAt });
    return toJobInfo(row);
  }

  private insertRow(r: JobRow): void {
    this.db.run(
      'INSERT INTO jobs (id, app_id, kind, name, cron, catch_up, run_at, state, status, attempts, last_error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [r.id, r.app_id, r.kind, r.name, r.cron, r.catch_up, r.run_at, r.state, r.status, r.attempts, r.last_error, r.created_at, r.updated_at] as SqlValue[],
    );
  }

  /**
   * Cancels a pending one-shot job of the app. A run already in progress finishes, but its outcome is
   * not recorded and it is not retried.
   * @returns `true` when a scheduled or running job was cancelled; `false` when there is no such job
   *   of this app or it already finished.
   * @throws FaztError `INVALID_ARGUMENT` for a cron job (those follow `app.json`; remove the entry and redeploy).
   */
  cancel(appId: string, jobId: string): boolean {
    assertAppId(appId);
    const row = this.db.get<{ kind: JobKind; status: JobStatus }>('SELECT kind, status FROM jobs WHERE id = ? AND app_id = ?', [jobId, appId]);
    if (!row) return false;
    if (row.kind === 'cron') {
      throw new FaztError('INVALID_ARGUMENT', `Job ${jobId} is a cron job from app.json "schedule"; remove the entry from app.json and deploy to stop it.`);
    }
    const changed = this.db.run("UPDATE jobs SET status = 'cancelled', updated_at = ? WHERE id = ? AND app_id = ? AND status IN ('scheduled','running')", [
      this.cart.clock.now(),
      jobId,
      appId,
    ]).changes;
    if (changed) this.notify({ appId });
    return changed > 0;
  }

  /** One job of the app (any status), or `undefined`. */
  get(appId: string, jobId: string): JobInfo | undefined {
    const r = this.db.get<JobRow>('SELECT * FROM jobs WHERE id = ? AND app_id = ?', [jobId, appId]);
    return r && toJobInfo(r);
  }

  /**
   * The app's jobs that are `scheduled`, `running` or `failed` (finished and cancelled ones are
   * omitted), by next run time then creation.
   */
  list(appId: string): JobInfo[] {
    return this.db
      .query<JobRow>("SELECT * FROM jobs WHERE app_id = ? AND status IN ('scheduled','running','failed') ORDER BY run_at, id", [appId])
      .map(toJobInfo);
  }

  /** Jobs waiting to run or running (all kinds), of one app or of all apps. */
  pendingCount(appId?: string): number {
    return appId === undefined
      ? this.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM jobs WHERE status IN ('scheduled','running')")!.n
      : this.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM jobs WHERE app_id = ? AND status IN ('scheduled','running')", [appId])!.n;
  }

  /**
   * Makes the app's cron jobs match its live manifest's `schedule`; call after every deploy and
   * rollback (and with `[]` when an app stops having a live version). Jobs are keyed by entry `name`,
   * or `cron-<index>` when unnamed:
   * - new key → scheduled for its next run after now;
   * - same key, different expression or timezone → rescheduled from now (a retry in progress is dropped);
   * - same key, same timing → keeps its next run (so a redeploy does not reset it); `state` and
   *   `catchUp` are updated in place;
   * - key no longer present → cancelled.
   * @param schedule `manifest.schedule` (`undefined` is treated as `[]`).
   * @throws FaztError `INVALID_MANIFEST` (see {@link validateSchedule}); nothing changes then.
   */
  syncCron(appId: string, schedule: readonly ScheduleEntry[] | undefined): CronSyncResult {
    assertAppId(appId);
    const now = this.cart.clock.now();
    const entries = schedule ?? [];
    validateSchedule(entries, now);
    const result: CronSyncResult = { added: [], rescheduled: [], kept: [], cancelled: [] };
    this.db.transaction(() => {
      const existing = new Map<string, JobRow>();
      for (const r of this.db.query<JobRow>("SELECT * FROM jobs WHERE app_id = ? AND kind = 'cron' AND status IN ('scheduled','running') ORDER BY id", [appId])) {
        if (existing.has(r.name ?? '')) this.cancelRow(r.id, now);
        else existing.set(r.name ?? '', r);
      }
      entries.forEach((entry, i) => {
        const key = scheduleKey(entry, i);
        const column = encodeCronColumn(entry.cron, entry.timezone);
        const catchUp: CatchUpPolicy = entry.catchUp ?? 'once';
        const json = toStoredJson(entry.state, `schedule[${i}].state`, MAX_JSON_BYTES);
        const row = existing.get(key);
        existing.delete(key);
        if (!row) {
          this.insertRow({
            id: this.cart.hlc.now(),
            app_id: appId,
            kind: 'cron',
            name: key,
            cron: column,
            catch_up: catchUp,
            run_at: nextCronRun(entry.cron, entry.timezone, now)!,
            state: stateColumn(json),
            status: 'scheduled',
            attempts: 0,
            last_error: null,
            created_at: now,
            updated_at: now,
          });
          result.added.push(key);
        } else if (row.cron !== column) {
          this.db.run('UPDATE jobs SET cron = ?, catch_up = ?, run_at = ?, state = ?, attempts = 0, last_error = NULL, updated_at = ? WHERE id = ?', [
            column,
            catchUp,
            nextCronRun(entry.cron, entry.timezone, now)!,
            stateColumn(json),
            now,
            row.id,
          ]);
          result.rescheduled.push(key);
        } else {
          const slot = parseStateColumn(row.state).slot;
          const newState = stateColumn(json, slot);
          if (row.catch_up !== catchUp || row.state !== newState) {
            this.db.run('UPDATE jobs SET catch_up = ?, state = ?, updated_at = ? WHERE id = ?', [catchUp, newState, now, row.id]);
          }
          result.kept.push(key);
        }
      });
      for (const [key, row] of existing) {
        this.cancelRow(row.id, now);
        result.cancelled.push(key);
      }
    });
    this.notify({ appId });
    return result;
  }

  private cancelRow(id: string, now: number): void {
    this.db.run("UPDATE jobs SET status = 'cancelled', updated_at = ? WHERE id = ?", [now, id]);
  }

  /**
   * Cancels every scheduled or running job of the app (cron and one-shot); call when the app is removed.
   * @returns how many jobs were cancelled.
   */
  removeApp(appId: string): number {
    assertAppId(appId);
    const n = this.db.run("UPDATE jobs SET status = 'cancelled', updated_at = ? WHERE app_id = ? AND status IN ('scheduled','running')", [
      this.cart.clock.now(),
      appId,
    ]).changes;
    if (n) this.notify({ appId });
    return n;
  }

  /**
   * Deletes finished rows (`done`, `failed`, `cancelled`) last changed before `before`.
   * @param before ms epoch.
   * @returns rows deleted.
   */
  prune(before: number): number {
    return this.db.run("DELETE FROM jobs WHERE status IN ('done','failed','cancelled') AND updated_at < ?", [before]).changes;
  }
}
