/**
 * Pulse's in-memory counters: what happened between two snapshots (requests per app with a latency
 * histogram, job runs and failures, event deliveries, push failures). Recording is O(1) with no
 * allocation on the hot path once an app has its slot; {@link PulseCounters.drain} hands the window
 * over and starts a new one.
 */

/** Upper bound of the first latency bucket, ms. */
const FIRST_BUCKET_MS = 0.05;
/** Each bucket's upper bound is this factor above the previous one (≈ 12% error on a percentile). */
const BUCKET_FACTOR = 1.25;
/** Buckets: 0.05 ms × 1.25^k up to ≈ 64 s; slower requests land in the last one. */
const BUCKETS = 64;
const LOG_FACTOR = Math.log(BUCKET_FACTOR);

/** The upper bound (ms) of latency bucket `i`. */
export function bucketUpperMs(i: number): number {
  return FIRST_BUCKET_MS * BUCKET_FACTOR ** i;
}

/**
 * A fixed-size latency histogram (64 log-scale buckets, 0.05 ms to ≈ 64 s, 256 bytes): every
 * sample is counted, none kept. A percentile is reported as its bucket's upper bound, so it is at
 * most 25% above the true value and never below it.
 */
export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  /** Samples recorded. */
  count = 0;

  /** Records one duration, ms (negative or NaN count as 0). */
  record(ms: number): void {
    const i = ms > FIRST_BUCKET_MS ? Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / FIRST_BUCKET_MS) / LOG_FACTOR - 1e-9)) : 0;
    this.counts[i]!++;
    this.count++;
  }

  /**
   * The `q` quantile (0 < q ≤ 1), ms, rounded to 0.01 ms; `null` when empty.
   * @example h.quantile(0.99) // p99
   */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.round(bucketUpperMs(i) * 100) / 100;
    }
    return Math.round(bucketUpperMs(BUCKETS - 1) * 100) / 100;
  }
}

/** One app's requests in a window. */
interface AppWindow {
  requests: number;
  /** Answers with status ≥ 500. */
  errors: number;
  latency: LatencyHistogram;
}

/** One app's figures in a drained window. */
export interface AppCounts {
  appId: string;
  /** Requests answered (static files and `/api/…`). */
  requests: number;
  /** Of those, answers with status ≥ 500. */
  errors: number;
  /** 99th percentile time to the response head, ms (histogram bucket bound); `null` without requests. */
  p99Ms: number | null;
}

/** A job that failed its latest runs in a row. */
export interface FailingJob {
  appId: string;
  jobId: string;
  /** The job's name, when it has one (cron entries do). */
  name: string | null;
  /** Failed runs in a row (attempts included). */
  failures: number;
  /** The latest failure's message. */
  lastError: string;
  /** The app's name, when the caller looked it up (Pulse does before judging). */
  appName?: string | null;
}

/** What {@link PulseCounters.drain} returns: the window's counts. */
export interface CountsWindow {
  apps: AppCounts[];
  /** Scheduled job runs (each attempt) and how many of them failed. */
  jobs: { runs: number; failures: number };
  /** Event deliveries to subscribers (`on` handler runs) and how many failed. */
  deliveries: { runs: number; failures: number };
  /** Web Push sends that failed ({@link PulseCounters.recordPushFailure}). */
  pushFailures: number;
  /** Jobs whose latest runs failed in a row (not reset by drain; a success clears a job). */
  failingJobs: FailingJob[];
}

/** Most apps tracked per window; requests to further apps count under `(other)`. */
const MAX_APPS = 500;

/** The live counters (one per kernel). */
export class PulseCounters {
  private apps = new Map<string, AppWindow>();
  private jobs = { runs: 0, failures: 0 };
  private deliveries = { runs: 0, failures: 0 };
  private pushFailures = 0;
  private readonly failing = new Map<string, FailingJob>();

  /**
   * Records one answered app request.
   * @param appId the app's id.
   * @param status the HTTP status answered (≥ 500 counts as an error).
   * @param ms time to the response head, ms.
   */
  recordRequest(appId: string, status: number, ms: number): void {
    let w = this.apps.get(appId);
    if (!w) {
      if (this.apps.size >= MAX_APPS) return this.recordRequest('(other)', status, ms);
      w = { requests: 0, errors: 0, latency: new LatencyHistogram() };
      this.apps.set(appId, w);
    }
    w.requests++;
    if (status >= 500) w.errors++;
    w.latency.record(ms);
  }

  /**
   * Records one run (attempt) of a scheduled job and whether it failed. A job failing again and again
   * shows in {@link CountsWindow.failingJobs} until it succeeds.
   */
  recordJob(appId: string, job: { id: string; name: string | null }, error?: unknown): void {
    this.jobs.runs++;
    const key = `${appId}\n${job.id}`;
    if (error === undefined) {
      this.failing.delete(key);
      return;
    }
    this.jobs.failures++;
    const prev = this.failing.get(key);
    const message = String((error as Error)?.message ?? error).slice(0, 300);
    this.failing.set(key, { appId, jobId: job.id, name: job.name, failures: (prev?.failures ?? 0) + 1, lastError: message });
  }

  /** Forgets a job's failure streak (the job was cancelled or its app removed). */
  forgetJob(appId: string, jobId: string): void {
    this.failing.delete(`${appId}\n${jobId}`);
  }

  /** Forgets the failure streaks of an app's jobs (the app was removed: its jobs are gone). */
  forgetApp(appId: string): void {
    for (const k of [...this.failing.keys()]) if (k.startsWith(appId + '\n')) this.failing.delete(k);
  }

  /** Records one event delivery (an app's `on` handler ran) and whether it failed. */
  recordDelivery(failed: boolean): void {
    this.deliveries.runs++;
    if (failed) this.deliveries.failures++;
  }

  /** Records a push notification that could not be delivered (for the notify service to call). */
  recordPushFailure(): void {
    this.pushFailures++;
  }

  /** Returns the window's counts and starts a new window (failing-job streaks carry over). */
  drain(): CountsWindow {
    const apps = [...this.apps].map(([appId, w]) => ({ appId, requests: w.requests, errors: w.errors, p99Ms: w.latency.quantile(0.99) }));
    const out: CountsWindow = { apps, jobs: this.jobs, deliveries: this.deliveries, pushFailures: this.pushFailures, failingJobs: [...this.failing.values()].map((f) => ({ ...f })) };
    this.apps = new Map();
    this.jobs = { runs: 0, failures: 0 };
    this.deliveries = { runs: 0, failures: 0 };
    this.pushFailures = 0;
    return out;
  }
}
