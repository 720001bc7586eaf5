import type { Cartridge } from '../cartridge/index.js';
import { formatBytes } from '../deploy/limits.js';
import { FaztError } from '../errors.js';

/**
 * Egress quota of `fazt.net.fetch` per app and UTC month (docs/safeguards.md). What counts: the
 * request body bytes as sent (once per hop: a 307/308 redirect sends the body again) plus the
 * response body bytes as the app receives them (after the `Content-Encoding` is undone, so a
 * gzip-compressed 1 MB answer counts 1 MB). Headers, TLS and TCP overhead do not count. Kept in the
 * cartridge (`egress_usage`, `egress_quotas`, migration 11; both local to this node).
 */

/** `YYYY-MM` of `ms` in UTC. */
export function egressMonthOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

/** The first instant of the UTC month after the one holding `ms`, ms since epoch. */
export function nextMonthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** One app's outbound traffic in one month. */
export interface EgressUsage {
  /** The app's id. */
  appId: string;
  /** UTC month, `YYYY-MM`. */
  period: string;
  /** Request body bytes sent. */
  requestBytes: number;
  /** Response body bytes received. */
  responseBytes: number;
  /** Requests begun (each hop of a redirect counts). */
  requests: number;
  /** Calls refused because the quota was used. */
  refused: number;
  /** Last request, ms since epoch, or `null`. */
  lastAt: number | null;
}

/**
 * The meter of one `net.fetch` call (see {@link EgressStore.meter}). It keeps what the call moved in
 * memory and writes it to the cartridge once, at {@link flush} (one upsert per call).
 */
export interface EgressMeter {
  /**
   * Bytes the app may still move this month (`Infinity` without a quota), this call's unflushed
   * bytes taken off.
   * @throws FaztError `EGRESS_QUOTA_EXCEEDED` when nothing is left (the refusal is counted).
   */
  remaining(): number;
  /** Counts bytes this call moved (`kind`: which side); a `request` also counts one request begun. */
  add(kind: 'request' | 'response', bytes: number): void;
  /** Writes what {@link add} counted to the cartridge (once; later adds are written by the next flush). */
  flush(): void;
  /** The refusal for a call that would pass the quota: flushes, counts the refusal, names the quota and the reset. */
  exceeded(detail: string): FaztError;
}

/** Usage and quotas in the cartridge. */
export class EgressStore {
  constructor(private readonly cart: Cartridge) {}

  private get db() {
    return this.cart.db;
  }

  /** The app's quota, bytes per UTC month, or `null` (no quota). */
  quota(appId: string): number | null {
    return this.db.get<{ bytes_per_month: number }>('SELECT bytes_per_month FROM egress_quotas WHERE app_id = ?', [appId])?.bytes_per_month ?? null;
  }

  /** Every quota set, by app id. */
  quotas(): { appId: string; bytesPerMonth: number }[] {
    return this.db.query<{ app_id: string; bytes_per_month: number }>('SELECT app_id, bytes_per_month FROM egress_quotas ORDER BY app_id').map((r) => ({ appId: r.app_id, bytesPerMonth: r.bytes_per_month }));
  }

  /**
   * Sets an app's quota; `null` removes it (no cap).
   * @param bytesPerMonth a whole number of bytes ≥ 0 (0 refuses every call), or `null`.
   * @throws FaztError `INVALID_ARGUMENT` for anything else (nothing changes).
   */
  setQuota(appId: string, bytesPerMonth: number | null): number | null {
    if (bytesPerMonth === null) {
      this.db.run('DELETE FROM egress_quotas WHERE app_id = ?', [appId]);
      return null;
    }
    if (typeof bytesPerMonth !== 'number' || !Number.isSafeInteger(bytesPerMonth) || bytesPerMonth < 0) {
      throw new FaztError('INVALID_ARGUMENT', `The egress quota must be a whole number of bytes ≥ 0, or null for no quota; got ${JSON.stringify(bytesPerMonth)}.`);
    }
    this.db.run(
      `INSERT INTO egress_quotas (app_id, bytes_per_month, updated_at) VALUES (?, ?, ?)
       ON CONFLICT(app_id) DO UPDATE SET bytes_per_month = excluded.bytes_per_month, updated_at = excluded.updated_at`,
      [appId, bytesPerMonth, this.cart.clock.now()],
    );
    return bytesPerMonth;
  }

  /** Usage in `period` (default: this UTC month), of one app or of all, most bytes first. */
  usage(appId?: string, period = egressMonthOf(this.cart.clock.now())): EgressUsage[] {
    const rows = this.db.query<{ app_id: string; period: string; request_bytes: number; response_bytes: number; requests: number; refused: number; last_at: number | null }>(
      `SELECT * FROM egress_usage WHERE period = ? ${appId === undefined ? '' : 'AND app_id = ?'} ORDER BY request_bytes + response_bytes DESC, app_id`,
      appId === undefined ? [period] : [period, appId],
    );
    return rows.map((r) => ({ appId: r.app_id, period: r.period, requestBytes: r.request_bytes, responseBytes: r.response_bytes, requests: r.requests, refused: r.refused, lastAt: r.last_at }));
  }

  /** Bytes (request + response) the app moved this UTC month. */
  used(appId: string): number {
    return this.db.get<{ n: number }>('SELECT request_bytes + response_bytes AS n FROM egress_usage WHERE app_id = ? AND period = ?', [appId, egressMonthOf(this.cart.clock.now())])?.n ?? 0;
  }

  /** Adds to the app's counts of the current UTC month (one upsert). */
  add(appId: string, counts: { requestBytes?: number; responseBytes?: number; requests?: number }): void {
    const now = this.cart.clock.now();
    const whole = (v: number | undefined) => Math.max(0, Math.floor(v ?? 0)) || 0;
    this.db.run(
      `INSERT INTO egress_usage (app_id, period, request_bytes, response_bytes, requests, last_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(app_id, period) DO UPDATE SET request_bytes = request_bytes + excluded.request_bytes,
         response_bytes = response_bytes + excluded.response_bytes, requests = requests + excluded.requests, last_at = excluded.last_at`,
      [appId, egressMonthOf(now), whole(counts.requestBytes), whole(counts.responseBytes), whole(counts.requests), now],
    );
  }

  private refusedOnce(appId: string): void {
    const now = this.cart.clock.now();
    this.db.run(
      `INSERT INTO egress_usage (app_id, period, refused, last_at) VALUES (?, ?, 1, ?)
       ON CONFLICT(app_id, period) DO UPDATE SET refused = refused + 1`,
      [appId, egressMonthOf(now), now],
    );
  }

  /**
   * The meter of one `fazt.net.fetch` call of an app (quota and usage read at each step, so
   * parallel calls of one app share the month's bytes; parallel calls may each pass the check and
   * together go past the quota by at most what was in flight).
   * @param appName for the messages.
   */
  meter(appId: string, appName: string): EgressMeter {
    const pending = { requestBytes: 0, responseBytes: 0, requests: 0 };
    const flush = () => {
      if (pending.requestBytes + pending.responseBytes + pending.requests === 0) return;
      this.add(appId, pending);
      pending.requestBytes = pending.responseBytes = pending.requests = 0;
    };
    const refusal = (detail: string): FaztError => {
      flush();
      this.refusedOnce(appId);
      const quota = this.quota(appId) ?? 0;
      const used = this.used(appId);
      const now = this.cart.clock.now();
      const next = nextMonthStart(now);
      return new FaztError(
        'EGRESS_QUOTA_EXCEEDED',
        `fazt.net.fetch: the app "${appName}" ${detail}: it used ${formatBytes(used)} of its ${formatBytes(quota)} egress quota this month (request and response bodies). The quota resets on ${new Date(next).toISOString().slice(0, 10)} (UTC); the owner can raise it with \`fazt app quota ${appName} --egress 1GB\`.`,
        { quotaBytes: quota, usedBytes: used, resetsAt: new Date(next).toISOString(), retryAfterSeconds: Math.max(1, Math.ceil((next - now) / 1000)) },
      );
    };
    return {
      remaining: () => {
        const q = this.quota(appId);
        if (q === null) return Infinity;
        const left = q - this.used(appId) - pending.requestBytes - pending.responseBytes;
        if (left <= 0) throw refusal('used its quota');
        return left;
      },
      add: (kind, bytes) => {
        const n = Math.max(0, Math.floor(bytes)) || 0;
        if (kind === 'request') {
          pending.requestBytes += n;
          pending.requests++;
        } else pending.responseBytes += n;
      },
      flush,
      exceeded: refusal,
    };
  }
}
