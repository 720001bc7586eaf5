import { FaztError } from '../../errors.js';
import { intParam, jsonBody, param } from '../api-input.js';
import { json } from '../responses.js';
import type { ApiCall, ApiRouter } from '../router.js';

/**
 * Cartridge sync (docs/sync-spec.md): per-peer status, a catch-up on demand, and the conflicts the
 * owner resolves. Documented in docs/api.md ("Sync").
 */

/** Longest `POST /api/sync/now` waits for the peers, ms. */
const MAX_NOW_TIMEOUT_MS = 120_000;

/** A conflict with its app's current name (`null` when the app is not here or removed). */
function withName(c: ApiCall, x: ReturnType<ApiCall['kernel']['sync']['engine']['conflicts']>[number]) {
  return { ...x, appName: c.kernel.apps.resolve(x.app)?.name ?? null };
}

/** Adds the sync routes. */
export function syncRoutes(api: ApiRouter): void {
  api.route('GET', '/api/sync/status', 'admin', (c) => json(c.kernel.sync.status()));

  api.route('POST', '/api/sync/now', 'admin', async (c) => {
    const body = c.request.headers.get('content-length') === '0' || !c.request.body ? {} : await jsonBody(c);
    const t = body.timeoutMs ?? 30_000;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_NOW_TIMEOUT_MS) {
      throw new FaztError('BAD_REQUEST', `"timeoutMs" must be a whole number of milliseconds from 1 to ${MAX_NOW_TIMEOUT_MS}.`);
    }
    const peers = await c.kernel.sync.now(t);
    return json({ peers, status: c.kernel.sync.status() });
  });

  // an app's home node: where its manifest's cron jobs run (S17)
  api.route('GET', '/api/apps/:app/home', 'admin', (c) => json(c.kernel.appHome(param(c, 0))));
  api.route('PUT', '/api/apps/:app/home', 'admin', async (c) => {
    const body = await jsonBody(c);
    if (typeof body.node !== 'string' || body.node.length === 0 || body.node.length > 64) {
      throw new FaztError('BAD_REQUEST', '"node" must be a paired node\'s id (`fazt mesh peers`) or "self".');
    }
    return json(c.kernel.moveAppHome(param(c, 0), body.node));
  });

  api.route('GET', '/api/conflicts', 'admin', (c) => {
    const all = c.url.searchParams.get('all');
    if (all !== null && all !== '1' && all !== 'true' && all !== '0' && all !== 'false') throw new FaztError('BAD_REQUEST', '"all" must be 1 or 0.');
    const limit = intParam('limit', c.url.searchParams.get('limit'), 1, 10_000);
    return json(c.kernel.sync.engine.conflicts({ all: all === '1' || all === 'true', limit }).map((x) => withName(c, x)));
  });

  api.route('POST', '/api/conflicts/:id/resolve', 'admin', async (c) => {
    const id = param(c, 0);
    const body = await jsonBody(c);
    return json(withName(c, c.kernel.sync.engine.resolve(id, body.keep)));
  });
}
