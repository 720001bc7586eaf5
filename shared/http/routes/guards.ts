import { FaztError } from '../../errors.js';
import { egressMonthOf, nextMonthStart, type EgressUsage } from '../../guards/index.js';
import type { Kernel } from '../../kernel.js';
import { appOf, jsonBody } from '../api-input.js';
import { json } from '../responses.js';
import type { ApiRouter } from '../router.js';

/**
 * Safeguards (docs/safeguards.md, docs/api.md "Safeguards"): the disk guard's state and limit, and
 * the per-app egress quota of `fazt.net.fetch` with this month's usage. All need the `admin` scope.
 */

/** An app's egress as the API shows it: quota (`null`: none), this month's usage, when it resets. */
export interface EgressView {
  /** The app's name. */
  app: string;
  /** Request + response body bytes per UTC month, or `null` (no quota). */
  quotaBytes: number | null;
  /** UTC month, `YYYY-MM`. */
  period: string;
  /** Bytes moved this month (request + response bodies). */
  usedBytes: number;
  /** The month's row, or `null` when the app fetched nothing. */
  usage: EgressUsage | null;
  /** When the month (and the quota) resets, ISO 8601 UTC. */
  resetsAt: string;
}

/** The egress view of one app (for the API and the dashboard). */
export function egressView(kernel: Kernel, app: { id: string; name: string }): EgressView {
  const now = kernel.cartridge.clock.now();
  const usage = kernel.egress.usage(app.id)[0] ?? null;
  return {
    app: app.name,
    quotaBytes: kernel.egress.quota(app.id),
    period: egressMonthOf(now),
    usedBytes: usage ? usage.requestBytes + usage.responseBytes : 0,
    usage,
    resetsAt: new Date(nextMonthStart(now)).toISOString(),
  };
}

/** Adds `GET|PUT /api/disk`, `GET /api/egress`, `GET|PUT /api/apps/:ref/egress`. */
export function guardRoutes(api: ApiRouter): void {
  // a status no older than the guard's cache time (5 s): asks the host when stale
  api.route('GET', '/api/disk', 'admin', async (c) => json({ disk: await c.kernel.diskGuard.current() }));

  api.route('PUT', '/api/disk', 'admin', async (c) => {
    const b = await jsonBody(c);
    if (b.limit === undefined) throw new FaztError('BAD_REQUEST', 'Send {"limit": "85%"} (or a fraction like 0.85): the disk use above which growing writes are refused.');
    c.kernel.diskGuard.setLimit(b.limit);
    return json({ disk: await c.kernel.diskGuard.current() });
  });

  api.route('GET', '/api/egress', 'admin', (c) => {
    const period = c.url.searchParams.get('period') ?? egressMonthOf(c.kernel.cartridge.clock.now());
    if (!/^\d{4}-\d{2}$/.test(period)) throw new FaztError('BAD_REQUEST', `period must be a month like 2026-12 (got "${period.slice(0, 20)}").`);
    const name = (id: string) => c.kernel.apps.resolve(id)?.name ?? null;
    const quotas = new Map(c.kernel.egress.quotas().map((q) => [q.appId, q.bytesPerMonth]));
    const usage = c.kernel.egress.usage(undefined, period).map((u) => ({ ...u, app: name(u.appId), quotaBytes: quotas.get(u.appId) ?? null }));
    return json({ period, usage, quotas: [...quotas].map(([appId, bytesPerMonth]) => ({ appId, app: name(appId), bytesPerMonth })) });
  });

  api.route('GET', '/api/apps/:ref/egress', 'admin', (c) => json(egressView(c.kernel, appOf(c))));

  api.route('PUT', '/api/apps/:ref/egress', 'admin', async (c) => {
    const app = appOf(c);
    const b = await jsonBody(c);
    const q = b.bytesPerMonth;
    if (q === undefined || (q !== null && (typeof q !== 'number' || !Number.isSafeInteger(q) || q < 0))) {
      throw new FaztError('BAD_REQUEST', 'Send {"bytesPerMonth": N} (a whole number of bytes ≥ 0) or {"bytesPerMonth": null} for no quota.');
    }
    c.kernel.egress.setQuota(app.id, q);
    return json(egressView(c.kernel, app));
  });
}
