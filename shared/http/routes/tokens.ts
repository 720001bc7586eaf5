import { jsonBody, param } from '../api-input.js';
import { json } from '../responses.js';
import type { ApiRouter } from '../router.js';

/** API tokens: list, create, revoke (the owner). */

/** Adds `/api/tokens` (GET, POST) and `/api/tokens/:id` (DELETE). */
export function tokenRoutes(api: ApiRouter): void {
  api.route('GET', '/api/tokens', 'admin', (c) => json({ tokens: c.kernel.auth.listTokens() }));

  api.route('POST', '/api/tokens', 'admin', async (c) => {
    const b = await jsonBody(c);
    return json(c.kernel.auth.createToken(b.scope ?? 'deploy', (b.name as string | undefined) ?? 'token', b.apps), 201);
  });

  api.route('DELETE', '/api/tokens/:id', 'admin', (c) => {
    c.kernel.auth.revokeToken(param(c, 0));
    return json({ ok: true });
  });
}
