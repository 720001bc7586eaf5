import { describeFailure, retryDelay, silentLogger } from '../lib/retry.js';
import type { Cartridge } from '../cartridge/index.js';
import type { Logger } from '../ports.js';
import type { InvokeExport } from '../lib/invoke.js';
import { boundBacklog, decodeCronColumn, nextCronRun, previousCronRuns } from './cron.js';
import { parseStateColumn, stateColumn, stateJsonOf, type JobKind, type JobRow, type JobStore } from './jobs.js';
import { TimedDispatcher } from '../lib/dispatcher.js';
import { hostTimers, type HostTimers } from '../lib/timer.js';

/** The argument of an app's `scheduled(job)` export. */
export interface ScheduledJobEvent {
  /** Job id (`JobInfo.id`). */
  id: string;
  /** Cron jobs: the entry's name or `cron-<index>`; `null` for one-shot jobs. */
  name: string | null;
  kind: JobKind;
  /** Cron jobs: the expression; `null` for one-shot jobs. */
  cron: string | null;
  /**
   * The moment this run was scheduled for (ms epoch): the cron slot or the one-shot's due time.
   * Retries keep the original moment; catch-up runs carry the missed slot.
   */
  scheduledAt: number;
  /** The app-supplied state (`undefined` when none). */
  state: unknown;
  /** 1 for the first try, 2 for the first retry, … */
  attempt: number;
}

/** Options of {@link Scheduler}. */
export interface SchedulerOptions {
  /** Delay before the first retry, ms; retry n waits `retryBaseMs · 2^(n−1)` (capped at 1 day). Default 1000. */
  retryBaseMs?: number;
  /** Tries per run (first try included) before a one-shot job becomes `failed` / a cron job skips to its next slot. Default 5. */
  maxAttempts?: number;
  /** Most runs of one cron job with `catchUp: 'all'` made to catch up a backlog (the latest ones are kept). Default 100. */
  maxCatchUpRuns?: number;
  /** Most jobs running at once over all apps (each app runs at most one at a time). Default 4. */
  concurrency?: number;
  /** Finished jobs are deleted this long after they finished, ms. Default 7 days. */
  retentionMs?: number;
  /** Where failures and catch-up decisions are reported. Default: silent. */
  logger?: Logger;
  /** Host timers (tests pass fakes). Default: `globalThis.setTimeout`. */
  timers?: HostTimers;
}

const PRUNE_EVERY_MS = 3600_000;

/**
 * Runs due jobs by calling the app's `scheduled` export. Idle apps cost nothing: the scheduler keeps
 * one host timer, armed for the earliest due job of any app, and re-armed on every change.
 *
 * Guarantees: at most one running job per app and `concurrency` overall; one-shot jobs run at least
 * once (a run interrupted by a crash is retried at the next start, counting as a failed attempt);
 * failures are retried with exponential backoff. Runs are at-least-once, not exactly-once.
 *
 * The wall clock is the cartridge's (`cart.clock`), so tests drive time by injecting a clock and
 * calling {@link Scheduler.tick}.
 */
export class Scheduler {
  private readonly retryBaseMs: number;
  private readonly maxAttempts: number;
  private readonly maxCatchUpRuns: number;
  private readonly concurrency: number;
  private readonly retentionMs: number;
  private readonly logger: Logger;
  /** One run per app (the lane), `concurrency` overall, one host timer: see `lib/dispatcher.ts`. */
  private readonly dispatcher: TimedDispatcher<JobRow>;
  private unsubscribe: (() => void) | undefined;
  private lastPrune = -Infinity;

  /**
   * @param cart the open cartridge (its `jobs` table and clock).
   * @param jobs the store apps schedule through (the scheduler listens to its changes).
   * @param invoke runs an app export in the sandbox.
   */
  constructor(
    private readonly cart: Cartridge,
    private readonly jobs: JobStore,
    private readonly invoke: InvokeExport,
    opts: SchedulerOptions = {},
  ) {
    this.retryBaseMs = opts.retryBaseMs ?? 1000;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 5);
    this.maxCatchUpRuns = Math.max(1, opts.maxCatchUpRuns ?? 100);
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.retentionMs = opts.retentionMs ?? 7 * 24 * 3600_000;
    this.logger = opts.logger ?? silentLogger;
    this.dispatcher = new TimedDispatcher<JobRow>(
      {
        nextDue: (busy) => this.nextDue(busy),
        claim: (now, busy) => {
          const job = this.claim(now, busy);
          return job && { lane: job.app_id, item: job };
        },
        run: (job) => this.run(job),
      },
      { concurrency: this.concurrency, timers: opts.timers ?? hostTimers, now: () => this.now(), logger: this.logger, name: 'scheduler', onWake: () => this.maybePrune() },
    );
  }

  private get db() {
    return this.cart.db;
  }

  private now(): number {
    return this.cart.clock.now();
  }

  /** Jobs this scheduler is running now. */
  get runningCount(): number {
    return this.dispatcher.running;
  }

  /** The moment (ms epoch) the host timer is armed for, `undefined` when idle. For diagnostics and tests. */
  get wakeAt(): number | undefined {
    return this.dispatcher.wakeAt;
  }

  /**
   * Starts background operation: recovers runs interrupted by a crash (retried now, counting as a
   * failed attempt), applies each cron job's `catchUp` policy to runs missed while the node was down,
   * then arms the timer. Calling it again while started does nothing.
   */
  start(): void {
    if (this.dispatcher.isStarted) return;
    this.recover();
    this.unsubscribe = this.jobs.onChange((c) => {
      if (!this.dispatcher.isStarted) return;
      const target = this.dispatcher.wakeAt;
      if (c.runAt !== undefined && target !== undefined && c.runAt >= target) return;
      this.dispatcher.kick();
    });
    this.maybePrune();
    this.dispatcher.start();
  }

  /**
   * Stops background operation: clears the timer and stops listening. Runs in progress finish and
   * record their outcome; the returned promise resolves when they have.
   */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.dispatcher.stop();
  }

  /**
   * Runs every job due now (respecting the per-app and global limits, so an app's due jobs run one
   * after the other) and waits until they, and runs that became due meanwhile, have finished.
   * Works whether or not the scheduler is started.
   * @returns how many runs were started while it waited.
   */
  tick(): Promise<number> {
    return this.dispatcher.drain();
  }

  /** The earliest scheduled job of an app that is not running one now (in the table or in `busy`). */
  private nextDue(busy: ReadonlySet<string>): number | undefined {
    const b = busyApps(busy);
    const t = this.db.get<{ t: number | null }>(
      `SELECT MIN(run_at) AS t FROM jobs WHERE status = 'scheduled' AND app_id NOT IN (SELECT app_id FROM jobs WHERE status = 'running')${b.sql}`,
      b.params,
    )?.t;
    return t ?? undefined;
  }

  private maybePrune(): void {
    const now = this.now();
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    this.jobs.prune(now - this.retentionMs);
  }

  /**
   * Marks the earliest due job of an app without a running job (in the table, or in `busy`: a run
   * cancelled meanwhile no longer shows as `running`, but still occupies its app until it returns)
   * as `running`.
   */
  private claim(now: number, busyLanes: ReadonlySet<string>): JobRow | undefined {
    return this.db.transaction(() => {
      const busy = busyApps(busyLanes);
      const row = this.db.get<JobRow>(
        `SELECT * FROM jobs WHERE status = 'scheduled' AND run_at <= ? AND app_id NOT IN (SELECT app_id FROM jobs WHERE status = 'running')${busy.sql} ORDER BY run_at, id LIMIT 1`,
        [now, ...busy.params],
      );
      if (!row) return undefined;
      this.db.run("UPDATE jobs SET status = 'running', updated_at = ? WHERE id = ? AND status = 'scheduled'", [now, row.id]);
      return row;
    });
  }

  /** Runs a claimed job and records its outcome (never rejects: a failure to record is logged). */
  private async run(job: JobRow): Promise<void> {
    const { state, slot } = parseStateColumn(job.state);
    const scheduledAt = slot ?? job.run_at;
    const attempt = job.attempts + 1;
    const arg: ScheduledJobEvent = {
      id: job.id,
      name: job.name,
      kind: job.kind,
      cron: job.cron === null ? null : decodeCronColumn(job.cron).expr,
      scheduledAt,
      state,
      attempt,
    };
    let failure: unknown;
    let failed = false;
    try {
      await this.invoke(job.app_id, 'scheduled', arg);
    } catch (e) {
      failed = true;
      failure = e;
    }
    try {
      if (failed) this.recordFailure(job, scheduledAt, attempt, describeFailure(failure));
      else this.recordSuccess(job, scheduledAt, attempt);
    } catch (e) {
      this.logger.error('scheduler: cannot record a job outcome', { jobId: job.id, appId: job.app_id, error: String(e) });
    }
  }

  /** The still-running row, or `undefined` when it was cancelled (or removed) meanwhile. */
  private fresh(id: string): JobRow | undefined {
    const r = this.db.get<JobRow>('SELECT * FROM jobs WHERE id = ?', [id]);
    return r && r.status === 'running' ? r : undefined;
  }

  /** Next run of a cron job after a run for `slot` finished or was given up at `now`. */
  private nextCronAfter(row: JobRow, slot: number, now: number): number | undefined {
    const { expr, timezone } = decodeCronColumn(row.cron!);
    if (row.catch_up === 'all') {
      const n = nextCronRun(expr, timezone, slot);
      if (n !== undefined && n <= now) return boundBacklog(expr, timezone, n, now, this.maxCatchUpRuns);
      return n;
    }
    return nextCronRun(expr, timezone, Math.max(slot, now));
  }

  /**
   * Moves a cron row to its next run (attempts reset). When the expression changed while the run was
   * in progress, the run time `syncCron` chose stands.
   */
  private advanceCron(fresh: JobRow, claimedCron: string | null, slot: number, now: number, lastError: string | null): void {
    const stateJson = stateJsonOf(fresh.state);
    const next = fresh.cron === claimedCron ? this.nextCronAfter(fresh, slot, now) : fresh.run_at;
    if (next === undefined) {
      this.db.run("UPDATE jobs SET status = 'failed', attempts = 0, last_error = ?, state = ?, updated_at = ? WHERE id = ?", [
        'the cron expression matches no future date',
        stateColumn(stateJson),
        now,
        fresh.id,
      ]);
      return;
    }
    this.db.run("UPDATE jobs SET status = 'scheduled', run_at = ?, attempts = 0, last_error = ?, state = ?, updated_at = ? WHERE id = ?", [
      next,
      lastError,
      stateColumn(stateJson),
      now,
      fresh.id,
    ]);
  }

  private recordSuccess(job: JobRow, slot: number, attempt: number): void {
    const now = this.now();
    this.db.transaction(() => {
      const fresh = this.fresh(job.id);
      if (!fresh) return;
      if (fresh.kind === 'cron') this.advanceCron(fresh, job.cron, slot, now, null);
      else {
        this.db.run("UPDATE jobs SET status = 'done', attempts = ?, last_error = NULL, state = ?, updated_at = ? WHERE id = ?", [
          attempt,
          stateColumn(stateJsonOf(fresh.state)),
          now,
          fresh.id,
        ]);
      }
    });
  }

  /**
   * Records a failed attempt: retry with backoff while attempts remain, else `failed` (one-shot) or
   * on to the next slot (cron).
   * @param retryDelayMs override of the backoff (crash recovery retries at once).
   */
  private recordFailure(job: JobRow, slot: number, attempt: number, err: { message: string; permanent: boolean }, retryDelayMs?: number): void {
    const now = this.now();
    this.db.transaction(() => {
      const fresh = this.fresh(job.id);
      if (!fresh) return;
      const retry = !err.permanent && attempt < this.maxAttempts && (fresh.kind !== 'cron' || fresh.cron === job.cron);
      if (retry) {
        const delay = retryDelayMs ?? retryDelay(this.retryBaseMs, attempt);
        this.db.run("UPDATE jobs SET status = 'scheduled', run_at = ?, attempts = ?, last_error = ?, state = ?, updated_at = ? WHERE id = ?", [
          now + delay,
          attempt,
          err.message,
          stateColumn(stateJsonOf(fresh.state), slot),
          now,
          fresh.id,
        ]);
        this.logger.warn('scheduler: job failed, will retry', { appId: fresh.app_id, jobId: fresh.id, attempt, retryInMs: delay, error: err.message });
        return;
      }
      this.logger.warn('scheduler: job failed', { appId: fresh.app_id, jobId: fresh.id, attempt, error: err.message, kind: fresh.kind });
      if (fresh.kind === 'cron') this.advanceCron(fresh, job.cron, slot, now, err.message);
      else {
        this.db.run("UPDATE jobs SET status = 'failed', attempts = ?, last_error = ?, state = ?, updated_at = ? WHERE id = ?", [
          attempt,
          err.message,
          stateColumn(stateJsonOf(fresh.state)),
          now,
          fresh.id,
        ]);
      }
    });
  }

  /** Startup: interrupted runs and missed cron slots. */
  private recover(): void {
    const now = this.now();
    for (const row of this.db.query<JobRow>("SELECT * FROM jobs WHERE status = 'running'")) {
      if (this.dispatcher.runningItems().some((j) => j.id === row.id)) continue; // still running in this process (stop() then start())
      const slot = parseStateColumn(row.state).slot ?? row.run_at;
      this.logger.warn('scheduler: a job was interrupted by a restart', { appId: row.app_id, jobId: row.id });
      this.recordFailure(row, slot, row.attempts + 1, { message: 'interrupted: the node stopped while the job was running', permanent: false }, 0);
    }
    const missed = this.db.query<JobRow>("SELECT * FROM jobs WHERE status = 'scheduled' AND kind = 'cron' AND attempts = 0 AND run_at < ?", [now]);
    this.db.transaction(() => {
      for (const row of missed) {
        const { expr, timezone } = decodeCronColumn(row.cron!);
        let runAt: number | undefined;
        if (row.catch_up === 'skip') runAt = nextCronRun(expr, timezone, now);
        else if (row.catch_up === 'once') runAt = Math.max(row.run_at, previousCronRuns(expr, timezone, now, 1)[0] ?? row.run_at);
        else runAt = boundBacklog(expr, timezone, row.run_at, now, this.maxCatchUpRuns);
        if (runAt === undefined) {
          this.db.run("UPDATE jobs SET status = 'failed', last_error = ?, updated_at = ? WHERE id = ?", ['the cron expression matches no future date', now, row.id]);
          continue;
        }
        if (runAt !== row.run_at) this.db.run('UPDATE jobs SET run_at = ?, updated_at = ? WHERE id = ?', [runAt, now, row.id]);
        this.logger.info('scheduler: missed cron runs', { appId: row.app_id, job: row.name, policy: row.catch_up, missedSince: row.run_at, nextRunAt: runAt });
      }
    });
  }
}

/** SQL condition excluding the apps in `busy` (those with a run in progress in this process). */
function busyApps(busy: ReadonlySet<string>): { sql: string; params: string[] } {
  const apps = [...busy];
  return apps.length ? { sql: ` AND app_id NOT IN (${apps.map(() => '?').join(', ')})`, params: apps } : { sql: '', params: [] };
}
