import { assertMayUseApp } from '../../auth/index.js';
import { FaztError } from '../../errors.js';
import { appOf, intParam, jsonBody, param } from '../api-input.js';
import { json } from '../responses.js';
import type { ApiRouter } from '../router.js';

/** What an app's server code runs with: its secrets (owner only), its jobs and the events (read-only). */

/** Adds `/api/apps/:ref/secrets[/:name]`, `/api/apps/:ref/jobs` and `/api/events`. */
export function runtimeRoutes(api: ApiRouter): void {
  api.route('GET', '/api/apps/:ref/secrets', 'admin', (c) => {
    const app = appOf(c);
    return json({ app: app.name, secrets: c.kernel.secrets.names(app.id) });
  });

  api.route('PUT', '/api/apps/:ref/secrets/:name', 'admin', async (c) => {
    const app = appOf(c);
    const name = param(c, 1);
    // A 64 KiB value may need up to 6 JSON characters per byte (\u00XX).
    const b = await jsonBody(c, 400 * 1024);
    if (typeof b.value !== 'string') throw new FaztError('BAD_REQUEST', 'Send {"value": "…"}: the secret\'s value as a string.');
    const r = c.kernel.setSecret(app.id, name, b.value);
    return json({ app: app.name, name, updatedAt: r.updatedAt, created: r.created }, r.created ? 201 : 200);
  });

  api.route('DELETE', '/api/apps/:ref/secrets/:name', 'admin', (c) => {
    const app = appOf(c);
    const name = param(c, 1);
    c.kernel.removeSecret(app.id, name);
    return json({ app: app.name, removed: name });
  });

  api.route('GET', '/api/apps/:ref/jobs', 'deploy', (c) => {
    const app = appOf(c);
    return json({ app: app.name, jobs: c.kernel.jobs.list(app.id) });
  });

  api.route('GET', '/api/events', 'deploy', (c) => {
    const ref = c.url.searchParams.get('app');
    if (c.principal?.apps && (ref === null || ref === '')) throw new FaztError('FORBIDDEN', 'This token is limited to some apps: ask for one with ?app=NAME.');
    if (ref !== null && ref !== '') assertMayUseApp(c.principal, c.kernel.apps.resolve(ref) ?? ref);
    const app = ref !== null && ref !== '' ? c.kernel.apps.require(ref) : undefined;
    const limit = intParam('limit', c.url.searchParams.get('limit'), 1, 1000) ?? 50;
    return json({ events: c.kernel.events.recent(app?.id, limit) });
  });
}
