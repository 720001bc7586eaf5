import { FaztError } from '../../errors.js';
import { checkPermission, type AppRecord } from '../../apps/index.js';
import { assertMayUseApp, deployNeedsApproval, mayUseApp } from '../../auth/index.js';
import type { Kernel } from '../../kernel.js';
import { jsonBody, param } from '../api-input.js';
import { json } from '../responses.js';
import type { ApiCall, ApiRouter } from '../router.js';

/** Apps and deploys: list, deploy, inspect, roll back, rename, aliases, remove. */

/** URLs where an app is served, seen from the request's origin: its subdomain and its `/a/<name>/` path. */
export function appUrls(kernel: Kernel, url: URL, name: string): string[] {
  const port = url.port ? `:${url.port}` : '';
  return [`${url.protocol}//${name}.${kernel.domain}${port}/`, `${url.origin}/a/${name}/`];
}

/** True when the app holds secrets or permission grants: the owner's decisions a non-admin's code must not inherit. */
function holdsOwnerDecisions(c: ApiCall, appId: string): boolean {
  return c.kernel.secrets.names(appId).length > 0 || c.kernel.permissions.granted(appId).length > 0;
}

function appJson(c: ApiCall, app: AppRecord) {
  return { ...app, urls: appUrls(c.kernel, c.url, app.name) };
}

/**
 * The deploy's `grant` query parameter(s): `all`, or permissions separated by commas (repeatable).
 * @returns `undefined` when absent or empty.
 * @throws FaztError `INVALID_ARGUMENT` for a malformed permission.
 */
function parseGrantParam(values: string[]): 'all' | string[] | undefined {
  const items = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  if (items.length === 0) return undefined;
  if (items.includes('all')) return 'all';
  return items.map(checkPermission);
}

/** Adds `/api/apps` and `/api/apps/:ref/{versions,files,rollback,rename,aliases}`. */
export function appRoutes(api: ApiRouter): void {
  api.route('GET', '/api/apps', 'deploy', (c) => json({ apps: c.kernel.apps.list().filter((a) => mayUseApp(c.principal, a)).map((a) => appJson(c, a)) }));

  api.route('POST', '/api/apps', 'deploy', async (c) => {
    const name = c.url.searchParams.get('name') ?? undefined;
    // Checked before the upload is read: a refused grant deploys nothing.
    const grant = parseGrantParam(c.url.searchParams.getAll('grant'));
    if (grant && c.principal?.scope !== 'admin') {
      throw new FaztError(
        'FORBIDDEN',
        'Granting permissions needs the "admin" scope; this token has "deploy". Deploy without granting (new permissions stay pending), then the owner grants them: `fazt app grant APP PERM…`.',
      );
    }
    if (name !== undefined) assertMayUseApp(c.principal, c.kernel.apps.resolve(name) ?? name);
    if (!c.request.body) throw new FaztError('BAD_REQUEST', 'Send the app as a zip (Content-Type: application/zip) or multipart/form-data.');
    const len = c.request.headers.get('content-length');
    const p = c.principal;
    const r = await c.kernel.deployApp({
      body: c.request.body,
      contentType: c.request.headers.get('content-type') ?? '',
      contentLength: len ? Number(len) : undefined,
      name,
      grant,
      // Secrets and grants are the owner's: a non-admin's version of an app holding any waits for approval.
      review: (app, target) => {
        assertMayUseApp(p, app ?? target);
        if (p?.scope === 'admin') return undefined;
        return {
          deployedBy: p?.tokenId ? `token:${p.tokenId}` : `session:${p?.userId ?? 'unknown'}`,
          hold: deployNeedsApproval(p, !!app && holdsOwnerDecisions(c, app.id)),
        };
      },
    });
    return json(
      {
        id: r.id,
        name: r.name,
        version: r.version,
        live: r.live,
        ...(r.live
          ? {}
          : {
              pending: true,
              message: `Version ${r.version} of "${r.name}" is stored but not live: the app holds secrets or permission grants, so a version deployed without the admin scope waits for the owner's approval (\`fazt app approve ${r.name} ${r.version}\`).`,
            }),
        created: r.created,
        files: r.files,
        bytes: r.bytes,
        warnings: r.warnings,
        permissions: r.permissions,
        urls: appUrls(c.kernel, c.url, r.name),
      },
      r.live ? (r.created ? 201 : 200) : 202,
    );
  });

  api.route('GET', '/api/apps/:ref', 'deploy', (c) => {
    const app = c.kernel.apps.require(param(c, 0));
    const versions = c.kernel.apps.versions(app.id);
    const live = versions.find((v) => v.current);
    return json({ ...appJson(c, app), manifest: live?.manifest ?? null, versions: versions.length, files: live?.fileCount ?? 0, bytes: live?.totalBytes ?? 0 });
  });

  api.route('GET', '/api/apps/:ref/versions', 'deploy', (c) => {
    const app = c.kernel.apps.require(param(c, 0));
    return json({ app: app.name, versions: c.kernel.apps.versions(app.id) });
  });

  api.route('GET', '/api/apps/:ref/files', 'deploy', (c) => {
    const app = c.kernel.apps.require(param(c, 0));
    const v = c.url.searchParams.get('version');
    const version = v ? Number(v) : app.currentVersion;
    if (version === null || !Number.isInteger(version)) throw new FaztError('VERSION_NOT_FOUND', `"${app.name}" has no live version.`);
    if (!c.kernel.apps.versions(app.id).some((x) => x.version === version)) throw new FaztError('VERSION_NOT_FOUND', `"${app.name}" has no version ${v}.`);
    return json({ app: app.name, version, files: c.kernel.apps.files(app.id, version) });
  });

  api.route('POST', '/api/apps/:ref/rollback', 'deploy', async (c) => {
    const b = await jsonBody(c);
    if (b.version !== undefined && !Number.isInteger(b.version)) throw new FaztError('BAD_REQUEST', '"version" must be an integer.');
    const app = c.kernel.apps.require(param(c, 0));
    const r = c.kernel.rollbackApp(app.id, b.version as number | undefined, { reviewedOnly: deployNeedsApproval(c.principal, holdsOwnerDecisions(c, app.id)) });
    return json({ app: appJson(c, r.app), from: r.from, to: r.to });
  });

  api.route('POST', '/api/apps/:ref/approve', 'admin', async (c) => {
    const b = await jsonBody(c);
    if (!Number.isInteger(b.version)) throw new FaztError('BAD_REQUEST', 'Send {"version": N}: the version waiting for approval (see `fazt app versions APP`).');
    const r = c.kernel.approveVersion(param(c, 0), b.version as number);
    return json({ app: appJson(c, r.app), from: r.from, to: r.to });
  });

  api.route('POST', '/api/apps/:ref/rename', 'admin', async (c) => {
    const b = await jsonBody(c);
    if (typeof b.name !== 'string') throw new FaztError('BAD_REQUEST', 'Send {"name": "new-name"}.');
    return json({ app: appJson(c, c.kernel.renameApp(param(c, 0), b.name, b.keepAlias === true)) });
  });

  api.route('POST', '/api/apps/:ref/aliases', 'admin', async (c) => {
    const b = await jsonBody(c);
    if (typeof b.alias !== 'string') throw new FaztError('BAD_REQUEST', 'Send {"alias": "other-name"}.');
    return json({ app: appJson(c, c.kernel.apps.addAlias(param(c, 0), b.alias)) }, 201);
  });

  api.route('DELETE', '/api/apps/:ref/aliases/:alias', 'admin', (c) => {
    const app = c.kernel.apps.require(param(c, 0));
    const alias = param(c, 1);
    if (!app.aliases.includes(alias)) throw new FaztError('NOT_FOUND', `"${alias}" is not an alias of "${app.name}".`);
    return json({ app: appJson(c, c.kernel.apps.removeAlias(alias)) });
  });

  api.route('DELETE', '/api/apps/:ref', 'admin', (c) => {
    const { app, freed } = c.kernel.removeApp(param(c, 0));
    return json({ removed: { id: app.id, name: app.name }, freed });
  });
}
