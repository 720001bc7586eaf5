import { FaztError } from '../../errors.js';
import { checkPermission } from '../../apps/index.js';
import { appOf, jsonBody, param } from '../api-input.js';
import { json } from '../responses.js';
import type { ApiRouter } from '../router.js';

/** An app's permissions: see them (deploy scope), grant and revoke them (the owner). */

/** Adds `/api/apps/:ref/permissions` (GET, POST) and `/api/apps/:ref/permissions/:perm` (DELETE). */
export function permissionRoutes(api: ApiRouter): void {
  api.route('GET', '/api/apps/:ref/permissions', 'deploy', (c) => {
    const app = appOf(c);
    return json({ app: app.name, ...c.kernel.permissionStatus(app.id) });
  });

  api.route('POST', '/api/apps/:ref/permissions', 'admin', async (c) => {
    const app = appOf(c);
    const b = await jsonBody(c);
    let grant: 'all' | string[];
    if (b.grant === 'all') grant = 'all';
    else if (Array.isArray(b.grant) && b.grant.length > 0 && b.grant.length <= 100) grant = b.grant.map((p) => checkPermission(p));
    else throw new FaztError('BAD_REQUEST', 'Send {"grant": ["net:example.com", "ai"]} (1–100 permissions) or {"grant": "all"} for everything the live version requests.');
    const grantedNow = c.kernel.grantPermissions(app.id, grant);
    return json({ app: app.name, grantedNow, ...c.kernel.permissionStatus(app.id) });
  });

  api.route('DELETE', '/api/apps/:ref/permissions/:perm', 'admin', (c) => {
    const app = appOf(c);
    const perm = param(c, 1);
    c.kernel.revokePermission(app.id, perm);
    return json({ app: app.name, revoked: perm, ...c.kernel.permissionStatus(app.id) });
  });
}
