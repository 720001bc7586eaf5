import type { SqlDatabase } from '../sql/index.js';
import { mergeSnapshots, type PulseSnapshot, type Resolution } from './snapshot.js';

/**
 * Pulse history in the cartridge (tables `pulse_snapshots` and `pulse_alerts`, migration 10, sync
 * class `local`), bounded and downsampled ({@link RETENTION}):
 * - raw snapshots are kept for a day; each UTC hour that ended more than a day ago is merged into
 *   one `hour` row;
 * - `hour` rows are kept for 30 days; each UTC day that ended more than 30 days ago is merged into
 *   one `day` row;
 * - `day` rows older than 400 days are deleted;
 * - whatever the interval, at most {@link RETENTION}.maxRawRows raw rows are kept (oldest go first).
 * So with the default 15-minute interval the history holds at most 96 + 720 + 400 rows (≈ 1.2 MB).
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The bounds of the history (ms and rows). */
export const RETENTION = {
  /** Raw snapshots younger than this stay raw. */
  rawMs: DAY,
  /** Hourly rows younger than this stay hourly. */
  hourMs: 30 * DAY,
  /** Daily rows older than this are deleted. */
  dayMs: 400 * DAY,
  /** Most raw rows kept (a very short interval, as in tests, cannot fill the disk). */
  maxRawRows: 5000,
} as const;

/** A recorded alert. */
export interface PulseAlertRecord {
  id: number;
  /** `disk-full`, `app-errors`, `job-failing`, `cartridge-growth`. */
  condition: string;
  /** What it is about: `disk`, an app id, `appId/jobId`, `cartridge`. */
  subject: string;
  severity: 'warning' | 'critical';
  title: string;
  message: string;
  /** When it was raised, ms epoch. */
  raisedAt: number;
  /** When it cleared, ms epoch; `null` while it holds. */
  clearedAt: number | null;
}

interface AlertRow {
  id: number;
  condition: string;
  subject: string;
  severity: 'warning' | 'critical';
  title: string;
  message: string;
  raised_at: number;
  cleared_at: number | null;
}

const toAlert = (r: AlertRow): PulseAlertRecord => ({
  id: r.id,
  condition: r.condition,
  subject: r.subject,
  severity: r.severity,
  title: r.title,
  message: r.message,
  raisedAt: r.raised_at,
  clearedAt: r.cleared_at,
});

/** What {@link PulseStore.compact} did, rows. */
export interface CompactResult {
  /** Raw rows merged into hourly ones. */
  rawMerged: number;
  /** Hourly rows merged into daily ones. */
  hoursMerged: number;
  /** Rows deleted (old daily rows, raw rows beyond the cap). */
  deleted: number;
}

/** Reads and writes Pulse's tables. */
export class PulseStore {
  constructor(private readonly db: SqlDatabase) {}

  /** Stores a snapshot (replacing one of the same resolution and time). */
  insert(s: PulseSnapshot): void {
    this.db.run('INSERT OR REPLACE INTO pulse_snapshots (resolution, at, data) VALUES (?, ?, ?)', [s.resolution, s.at, JSON.stringify(s)]);
  }

  /** The newest raw snapshot, if any. */
  latest(): PulseSnapshot | undefined {
    const r = this.db.get<{ data: string }>("SELECT data FROM pulse_snapshots WHERE resolution = 'raw' ORDER BY at DESC LIMIT 1");
    return r ? (JSON.parse(r.data) as PulseSnapshot) : undefined;
  }

  /**
   * Every stored snapshot with `at` in `[since, until]`, oldest first, in whatever resolution it is
   * kept at (raw for the last day, hourly then daily further back).
   * @param resolution only rows of this resolution.
   */
  history(since: number, until = Number.MAX_SAFE_INTEGER, resolution?: Resolution): PulseSnapshot[] {
    const rows = resolution
      ? this.db.query<{ data: string }>('SELECT data FROM pulse_snapshots WHERE resolution = ? AND at >= ? AND at <= ? ORDER BY at', [resolution, since, until])
      : this.db.query<{ data: string }>('SELECT data FROM pulse_snapshots WHERE at >= ? AND at <= ? ORDER BY at', [since, until]);
    return rows.map((r) => JSON.parse(r.data) as PulseSnapshot);
  }

  /** Rows per resolution (for diagnostics and tests). */
  counts(): Record<Resolution, number> {
    const out: Record<Resolution, number> = { raw: 0, hour: 0, day: 0 };
    for (const r of this.db.query<{ resolution: Resolution; n: number }>('SELECT resolution, COUNT(*) AS n FROM pulse_snapshots GROUP BY resolution')) out[r.resolution] = r.n;
    return out;
  }

  /**
   * Downsamples and bounds the history as of `now` (see the module comment). Only whole UTC hours
   * (days) that ended before the cut-off are merged, so a row is merged once; a merged row that
   * already exists for that hour (a late row) is merged with the new ones. One transaction.
   */
  compact(now: number): CompactResult {
    const result: CompactResult = { rawMerged: 0, hoursMerged: 0, deleted: 0 };
    this.db.transaction(() => {
      result.rawMerged = this.mergeOlder('raw', 'hour', HOUR, Math.floor((now - RETENTION.rawMs) / HOUR) * HOUR);
      result.hoursMerged = this.mergeOlder('hour', 'day', DAY, Math.floor((now - RETENTION.hourMs) / DAY) * DAY);
      result.deleted += this.db.run("DELETE FROM pulse_snapshots WHERE resolution = 'day' AND at < ?", [now - RETENTION.dayMs]).changes;
      result.deleted += this.db.run(
        "DELETE FROM pulse_snapshots WHERE resolution = 'raw' AND at < (SELECT at FROM pulse_snapshots WHERE resolution = 'raw' ORDER BY at DESC LIMIT 1 OFFSET ?)",
        [RETENTION.maxRawRows - 1],
      ).changes;
    });
    return result;
  }

  /** Merges rows of `from` with `at < cutoff` into one `to` row per bucket of `bucketMs`. @returns rows merged. */
  private mergeOlder(from: Resolution, to: Resolution, bucketMs: number, cutoff: number): number {
    const rows = this.db.query<{ at: number; data: string }>('SELECT at, data FROM pulse_snapshots WHERE resolution = ? AND at < ? ORDER BY at', [from, cutoff]);
    if (rows.length === 0) return 0;
    const buckets = new Map<number, PulseSnapshot[]>();
    for (const r of rows) {
      const b = Math.floor(r.at / bucketMs) * bucketMs;
      let list = buckets.get(b);
      if (!list) buckets.set(b, (list = []));
      list.push(JSON.parse(r.data) as PulseSnapshot);
    }
    for (const [b, list] of buckets) {
      const existing = this.db.get<{ data: string }>('SELECT data FROM pulse_snapshots WHERE resolution = ? AND at = ?', [to, b]);
      if (existing) list.push(JSON.parse(existing.data) as PulseSnapshot);
      this.insert(mergeSnapshots(list, b, to));
    }
    this.db.run('DELETE FROM pulse_snapshots WHERE resolution = ? AND at < ?', [from, cutoff]);
    return rows.length;
  }

  // ---------------------------------------------------------------- alerts

  /** The alert holding now for `(condition, subject)`, if any. */
  openAlert(condition: string, subject: string): PulseAlertRecord | undefined {
    const r = this.db.get<AlertRow>('SELECT * FROM pulse_alerts WHERE condition = ? AND subject = ? AND cleared_at IS NULL', [condition, subject]);
    return r && toAlert(r);
  }

  /** Records a new alert; `undefined` when one is already open for `(condition, subject)`. */
  raise(a: Omit<PulseAlertRecord, 'id' | 'clearedAt'>): PulseAlertRecord | undefined {
    const r = this.db.run('INSERT OR IGNORE INTO pulse_alerts (condition, subject, severity, title, message, raised_at) VALUES (?, ?, ?, ?, ?, ?)', [
      a.condition,
      a.subject,
      a.severity,
      a.title,
      a.message,
      a.raisedAt,
    ]);
    return r.changes ? this.openAlert(a.condition, a.subject) : undefined;
  }

  /** Marks the open alert for `(condition, subject)` cleared. @returns whether one was open. */
  clear(condition: string, subject: string, at: number): boolean {
    return this.db.run('UPDATE pulse_alerts SET cleared_at = ? WHERE condition = ? AND subject = ? AND cleared_at IS NULL', [at, condition, subject]).changes > 0;
  }

  /** Open alerts, newest first. */
  openAlerts(): PulseAlertRecord[] {
    return this.db.query<AlertRow>('SELECT * FROM pulse_alerts WHERE cleared_at IS NULL ORDER BY raised_at DESC, id DESC').map(toAlert);
  }

  /**
   * Alerts raised since `since` (open or cleared), newest first, at most `limit`. Alerts older than
   * {@link RETENTION}.dayMs that have cleared are deleted by {@link pruneAlerts}.
   */
  recentAlerts(since: number, limit = 50): PulseAlertRecord[] {
    return this.db.query<AlertRow>('SELECT * FROM pulse_alerts WHERE raised_at >= ? OR cleared_at IS NULL ORDER BY raised_at DESC, id DESC LIMIT ?', [since, limit]).map(toAlert);
  }

  /** Deletes cleared alerts raised before `before`. @returns rows deleted. */
  pruneAlerts(before: number): number {
    return this.db.run('DELETE FROM pulse_alerts WHERE cleared_at IS NOT NULL AND raised_at < ?', [before]).changes;
  }
}
