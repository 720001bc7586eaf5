import { formatBytes } from '../deploy/index.js';
import type { FailingJob } from './counters.js';
import type { PulseSnapshot } from './snapshot.js';
import type { Baseline } from './baseline.js';

/**
 * Critical conditions Pulse watches (docs/pulse.md "Alerts"), each with a level that raises it and a
 * lower one that clears it (hysteresis), so a value hovering at the line does not raise an alert at
 * every snapshot.
 */

/** An alert as `kernel.pulse.onAlert` listeners receive it (the contract of issue 14). */
export interface PulseAlert {
  /** `disk-full`, `app-errors`, `job-failing`, `cartridge-growth`. */
  condition: string;
  severity: 'warning' | 'critical';
  /** One line for a notification's title. */
  title: string;
  /** What happened and what to do, in plain words. */
  message: string;
  /** When it was raised, ms epoch. */
  at: number;
}

/** Thresholds of the conditions. */
export interface AlertThresholds {
  /**
   * Disk use (0–1) at or above which `disk-full` is raised. Default 0.8; a kernel's Pulse derives the
   * three disk thresholds from the disk guard's limit instead ({@link diskThresholds}).
   */
  diskRaise: number;
  /** Disk use below which it clears. Default 0.75. */
  diskClear: number;
  /** Disk use at or above which the alert is `critical` rather than `warning`. Default 0.95. */
  diskCritical: number;
  /** Disk use at which the disk guard refuses new data (shared/guards/disk.ts), named in the message; absent: not said. */
  diskRefuseAt?: number;
  /** Fewest requests in a snapshot for an app's error rate to count. Default 20. */
  errorMinRequests: number;
  /** Error rate (errors / requests, 0–1) at or above which `app-errors` is raised… Default 0.1. */
  errorRaise: number;
  /** …when it is also at least this many times the app's rate over the past day. Default 3. */
  errorSpikeFactor: number;
  /** Error rate below which it clears (over at least {@link errorMinRequests} requests; or after an hour without errors). Default 0.02. */
  errorClear: number;
  /** Failed runs in a row that raise `job-failing` (a success clears it). Default 3. */
  jobFailures: number;
  /** Cartridge growth within a day, bytes, that raises `cartridge-growth` (with {@link growthRaiseFraction}). Default 256 MiB. */
  growthRaiseBytes: number;
  /** …and as a share of its size a day before. Default 0.5. */
  growthRaiseFraction: number;
}

/** How far below the disk guard's limit the `disk-full` warning comes, as a fraction of the disk. */
export const DISK_WARNING_MARGIN = 0.1;

/**
 * The disk thresholds for a disk guard that refuses new data at `limit` (0–1): the warning comes
 * {@link DISK_WARNING_MARGIN} before it (so the owner hears of it before writes fail), clears 5
 * points lower again, and turns `critical` once the guard refuses (at `limit`).
 * @returns `diskRaise`, `diskClear`, `diskCritical`, `diskRefuseAt`.
 */
export function diskThresholds(limit: number): Pick<AlertThresholds, 'diskRaise' | 'diskClear' | 'diskCritical' | 'diskRefuseAt'> {
  const raise = Math.max(0.05, limit - DISK_WARNING_MARGIN);
  return { diskRaise: raise, diskClear: Math.max(0, raise - 0.05), diskCritical: limit, diskRefuseAt: limit };
}

/** The default thresholds. */
export const DEFAULT_THRESHOLDS: AlertThresholds = {
  diskRaise: 0.8,
  diskClear: 0.75,
  diskCritical: 0.95,
  errorMinRequests: 20,
  errorRaise: 0.1,
  errorSpikeFactor: 3,
  errorClear: 0.02,
  jobFailures: 3,
  growthRaiseBytes: 256 * 1024 * 1024,
  growthRaiseFraction: 0.5,
};

/** A condition's verdict on one subject: raise (with the words), clear, or leave as it is. */
export type Verdict =
  | { condition: string; subject: string; state: 'raise'; severity: 'warning' | 'critical'; title: string; message: string }
  | { condition: string; subject: string; state: 'clear' | 'hold' };

const pct = (f: number) => `${Math.round(f * 1000) / 10}%`;

/**
 * Judges a new snapshot. Subjects not mentioned (an app with no requests this time, a job that is no
 * longer failing) are cleared by the caller when an alert of that condition is open for them and
 * the verdict list says `clear`; `hold` keeps whatever state there is.
 * @param now the snapshot (already taken, not yet stored).
 * @param base the past day and hour before this snapshot (error rates, growth), see `baseline.ts`.
 * @param failing jobs failing in a row now.
 * @param openSubjects subjects with an open alert, per condition (to clear those now fine).
 */
export function judge(
  now: PulseSnapshot,
  base: Baseline,
  failing: readonly FailingJob[],
  openSubjects: ReadonlyMap<string, ReadonlySet<string>>,
  t: AlertThresholds = DEFAULT_THRESHOLDS,
): Verdict[] {
  const out: Verdict[] = [];
  // disk
  const used = now.disk.usedFraction;
  if (used !== null) {
    if (used >= t.diskRaise) {
      out.push({
        condition: 'disk-full',
        subject: 'disk',
        state: 'raise',
        severity: used >= t.diskCritical ? 'critical' : 'warning',
        title: `Disk ${pct(used)} full`,
        message: `The disk holding the cartridge is ${pct(used)} used (${formatBytes(now.disk.freeBytes ?? 0)} free of ${formatBytes(now.disk.totalBytes ?? 0)}).${
          t.diskRefuseAt === undefined ? '' : used >= t.diskRefuseAt ? ` Fazt refuses new data now (its limit is ${pct(t.diskRefuseAt)}).` : ` At ${pct(t.diskRefuseAt)} Fazt refuses new data.`
        } Free some space, or move the cartridge to a larger disk; the cartridge itself is ${formatBytes(now.disk.cartridgeBytes)}.`,
      });
    } else out.push({ condition: 'disk-full', subject: 'disk', state: used < t.diskClear ? 'clear' : 'hold' });
  }
  // error rate per app
  // an app's error alert clears when enough requests succeed, or after an hour without errors (a
  // quiet app proves nothing either way, so a few quiet snapshots hold it)
  const quietHour = (appId: string) => !now.apps.some((a) => a.appId === appId && a.errors > 0) && !base.erroredLastHour.has(appId);
  const seen = new Set<string>();
  for (const a of now.apps) {
    seen.add(a.appId);
    const rate = a.requests ? a.errors / a.requests : 0;
    const b = base.dayByApp.get(a.appId);
    const baseline = b && b.requests ? b.errors / b.requests : 0;
    const name = a.app ?? a.appId;
    if (a.requests >= t.errorMinRequests && rate >= t.errorRaise && rate >= t.errorSpikeFactor * baseline) {
      out.push({
        condition: 'app-errors',
        subject: a.appId,
        state: 'raise',
        severity: 'critical',
        title: `${name}: ${pct(rate)} of requests failing`,
        message: `${a.errors} of ${a.requests} requests to “${name}” failed (status 5xx) since the last snapshot; over the past day it was ${pct(baseline)}. Look at its logs: \`fazt app logs ${name}\`.`,
      });
    } else out.push({ condition: 'app-errors', subject: a.appId, state: a.requests >= t.errorMinRequests && rate < t.errorClear ? 'clear' : quietHour(a.appId) ? 'clear' : 'hold' });
  }
  for (const subject of openSubjects.get('app-errors') ?? []) if (!seen.has(subject)) out.push({ condition: 'app-errors', subject, state: quietHour(subject) ? 'clear' : 'hold' });
  // jobs failing in a row
  const failingNow = new Set<string>();
  for (const j of failing) {
    const subject = `${j.appId}/${j.jobId}`;
    failingNow.add(subject);
    const app = j.appName ?? now.apps.find((a) => a.appId === j.appId)?.app ?? j.appId;
    if (j.failures >= t.jobFailures) {
      out.push({
        condition: 'job-failing',
        subject,
        state: 'raise',
        severity: 'warning',
        title: `Job ${j.name ?? j.jobId} of ${app} keeps failing`,
        message: `The scheduled job ${j.name ? `“${j.name}”` : j.jobId} of “${app}” failed ${j.failures} times in a row; the last error: ${j.lastError}`,
      });
    } else out.push({ condition: 'job-failing', subject, state: 'hold' });
  }
  for (const subject of openSubjects.get('job-failing') ?? []) if (!failingNow.has(subject)) out.push({ condition: 'job-failing', subject, state: 'clear' });
  // cartridge growth over the past day
  const first = base.first;
  if (first) {
    const grew = now.disk.cartridgeBytes - first.cartridgeBytes;
    const frac = first.cartridgeBytes > 0 ? grew / first.cartridgeBytes : Infinity;
    if (grew >= t.growthRaiseBytes && frac >= t.growthRaiseFraction) {
      const hours = Math.max(1, Math.round((now.at - first.at) / 3_600_000));
      out.push({
        condition: 'cartridge-growth',
        subject: 'cartridge',
        state: 'raise',
        severity: 'warning',
        title: `Cartridge grew ${formatBytes(grew)} in ${hours} h`,
        message: `The cartridge grew from ${formatBytes(first.cartridgeBytes)} to ${formatBytes(now.disk.cartridgeBytes)} in about ${hours} hours. See which app stores the most in Apps → Storage, and its logs.`,
      });
    } else {
      const fine = grew < t.growthRaiseBytes / 2 || frac < t.growthRaiseFraction / 2;
      out.push({ condition: 'cartridge-growth', subject: 'cartridge', state: fine ? 'clear' : 'hold' });
    }
  }
  return out;
}
