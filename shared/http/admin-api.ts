import { FaztError } from '../errors.js';
import type { Kernel, RequestContext } from '../kernel.js';
import { SESSION_COOKIE, type Principal, type TokenScope } from '../auth/index.js';
import type { AppRecord } from '../apps/index.js';
import { readCookie, serializeCookie } from './cookies.js';
import { errorResponse, json } from './responses.js';

/**
 * The admin API under `/api/…`: JSON in, JSON out, the same on both hosts. Every route declares the
 * scope it needs; `null` routes are public. Documented in docs/api.md.
 */

type Handler = (c: ApiCall) => Promise<Response> | Response;

/** One request being handled. */
export interface ApiCall {
  request: Request;
  url: URL;
  ctx: RequestContext;
  params: string[];
  principal?: Principal;
  kernel: Kernel;
}

interface Route {
  method: string;
  pattern: RegExp;
  scope: TokenScope | null;
  handler: Handler;
}

const routes: Route[] = [];
function route(method: string, path: string, scope: TokenScope | null, handler: Handler): void {
  const pattern = new RegExp('^' + path.replace(/:[a-z]+/g, '([^/]+)') + '/?$');
  routes.push({ method, pattern, scope, handler });
}

/** Reads a JSON object body (≤ 64 KiB). @throws FaztError `BAD_REQUEST`. */
async function body(c: ApiCall): Promise<Record<string, unknown>> {
  const text = await c.request.text();
  if (text.length > 65536) throw new FaztError('PAYLOAD_TOO_LARGE', 'JSON body larger than 64 KiB.');
  if (text.trim() === '') return {};
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new FaztError('BAD_REQUEST', 'The request body must be a JSON object.');
  }
}

function sessionCookie(c: ApiCall, value: string, maxAgeSeconds: number): string {
  return serializeCookie(SESSION_COOKIE, value, {
    path: '/api',
    maxAge: maxAgeSeconds,
    httpOnly: true,
    sameSite: 'Strict',
    secure: c.url.protocol === 'https:',
  });
}

/** URLs where an app is served, seen from the request's origin. */
export function appUrls(kernel: Kernel, url: URL, name: string): string[] {
  const port = url.port ? `:${url.port}` : '';
  return [`${url.protocol}//${name}.${kernel.domain}${port}/`, `${url.origin}/a/${name}/`];
}

function appJson(c: ApiCall, app: AppRecord) {
  return { ...app, urls: appUrls(c.kernel, c.url, app.name) };
}

const peer = (c: ApiCall) => c.ctx.peer ?? 'unknown';
const isLoopback = (addr: string | undefined) => !!addr && /^(127\.|::1$|::ffff:127\.)/.test(addr);
/**
 * True when the request comes from this machine AND names the node by a loopback host: a page
 * elsewhere that DNS-rebinds its own name to 127.0.0.1 reaches us from loopback too, with its own Host.
 */
const isLocalSetup = (c: ApiCall) => {
  const h = c.url.hostname;
  return isLoopback(c.ctx.peer) && (h === 'localhost' || h === c.kernel.domain || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h));
};
/**
 * Refuses browser requests from other origins to the public sign-in routes: a form on any web site
 * (`enctype="text/plain"` posts a JSON-looking body, no preflight) would otherwise set up the owner of
 * a fresh node or burn the owner's login attempts, from the owner's own browser. Non-browser clients
 * send no `Origin`.
 * @throws FaztError `FORBIDDEN`.
 */
function assertNotCrossOrigin(c: ApiCall): void {
  const origin = c.request.headers.get('origin');
  if (origin !== null && origin !== c.url.origin) throw new FaztError('FORBIDDEN', 'Cross-origin request refused: set up and sign in from the node’s own dashboard.');
}

route('GET', '/api/health', null, (c) =>
  json({ ok: true, node: c.kernel.cartridge.nodeId, version: c.kernel.version, schema: c.kernel.cartridge.schemaVersion }),
);

route('GET', '/api/setup', null, (c) => json({ setUp: c.kernel.auth.hasOwner(), codeRequired: !isLocalSetup(c) }));

route('POST', '/api/setup', null, async (c) => {
  assertNotCrossOrigin(c);
  const b = await body(c);
  if (c.kernel.auth.hasOwner()) throw new FaztError('ALREADY_SET_UP', 'This node already has an owner. Sign in instead.');
  if (!isLocalSetup(c) && b.code !== c.kernel.auth.setupCode()) {
    throw new FaztError('FORBIDDEN', 'Setting up from another machine needs the setup code the node printed when it started.');
  }
  const { userId } = await c.kernel.auth.setupOwner(b.password);
  const s = c.kernel.auth.openSession(userId);
  return json({ ok: true }, 201, { 'set-cookie': sessionCookie(c, s.session, Math.floor(c.kernel.auth.sessionTtlMs / 1000)) });
});

route('POST', '/api/login', null, async (c) => {
  assertNotCrossOrigin(c);
  const b = await body(c);
  const s = await c.kernel.auth.login(b.password, peer(c));
  return json({ ok: true, expiresAt: s.expiresAt }, 200, { 'set-cookie': sessionCookie(c, s.session, Math.floor(c.kernel.auth.sessionTtlMs / 1000)) });
});

route('POST', '/api/logout', null, (c) => {
  const s = readCookie(c.request.headers.get('cookie'), SESSION_COOKIE);
  if (s) c.kernel.auth.logout(s);
  return json({ ok: true }, 200, { 'set-cookie': sessionCookie(c, '', 0) });
});

route('GET', '/api/session', null, (c) =>
  json({ authenticated: !!c.principal, kind: c.principal?.kind ?? null, scope: c.principal?.scope ?? null, setUp: c.kernel.auth.hasOwner() }),
);

route('GET', '/api/apps', 'deploy', (c) => json({ apps: c.kernel.apps.list().map((a) => appJson(c, a)) }));

route('POST', '/api/apps', 'deploy', async (c) => {
  const name = c.url.searchParams.get('name') ?? undefined;
  if (!c.request.body) throw new FaztError('BAD_REQUEST', 'Send the app as a zip (Content-Type: application/zip) or multipart/form-data.');
  const len = c.request.headers.get('content-length');
  const r = await c.kernel.deploy.deploy({
    body: c.request.body,
    contentType: c.request.headers.get('content-type') ?? '',
    contentLength: len ? Number(len) : undefined,
    name,
  });
  c.kernel.collectGarbage();
  return json(
    { id: r.id, name: r.name, version: r.version, created: r.created, files: r.files, bytes: r.bytes, warnings: r.warnings, permissions: r.manifest.permissions, urls: appUrls(c.kernel, c.url, r.name) },
    r.created ? 201 : 200,
  );
});

route('GET', '/api/apps/:ref', 'deploy', (c) => {
  const app = c.kernel.apps.require(decodeURIComponent(c.params[0]!));
  const versions = c.kernel.apps.versions(app.id);
  const live = versions.find((v) => v.current);
  return json({ ...appJson(c, app), manifest: live?.manifest ?? null, versions: versions.length, files: live?.fileCount ?? 0, bytes: live?.totalBytes ?? 0 });
});

route('GET', '/api/apps/:ref/versions', 'deploy', (c) => {
  const app = c.kernel.apps.require(decodeURIComponent(c.params[0]!));
  return json({ app: app.name, versions: c.kernel.apps.versions(app.id) });
});

route('GET', '/api/apps/:ref/files', 'deploy', (c) => {
  const app = c.kernel.apps.require(decodeURIComponent(c.params[0]!));
  const v = c.url.searchParams.get('version');
  const version = v ? Number(v) : app.currentVersion;
  if (version === null || !Number.isInteger(version)) throw new FaztError('VERSION_NOT_FOUND', `"${app.name}" has no live version.`);
  if (!c.kernel.apps.versions(app.id).some((x) => x.version === version)) throw new FaztError('VERSION_NOT_FOUND', `"${app.name}" has no version ${v}.`);
  return json({ app: app.name, version, files: c.kernel.apps.files(app.id, version) });
});

route('POST', '/api/apps/:ref/rollback', 'deploy', async (c) => {
  const b = await body(c);
  if (b.version !== undefined && !Number.isInteger(b.version)) throw new FaztError('BAD_REQUEST', '"version" must be an integer.');
  const r = c.kernel.apps.rollback(decodeURIComponent(c.params[0]!), b.version as number | undefined);
  return json({ app: appJson(c, r.app), from: r.from, to: r.to });
});

route('POST', '/api/apps/:ref/rename', 'admin', async (c) => {
  const b = await body(c);
  if (typeof b.name !== 'string') throw new FaztError('BAD_REQUEST', 'Send {"name": "new-name"}.');
  return json({ app: appJson(c, c.kernel.apps.rename(decodeURIComponent(c.params[0]!), b.name, b.keepAlias === true)) });
});

route('POST', '/api/apps/:ref/aliases', 'admin', async (c) => {
  const b = await body(c);
  if (typeof b.alias !== 'string') throw new FaztError('BAD_REQUEST', 'Send {"alias": "other-name"}.');
  return json({ app: appJson(c, c.kernel.apps.addAlias(decodeURIComponent(c.params[0]!), b.alias)) }, 201);
});

route('DELETE', '/api/apps/:ref/aliases/:alias', 'admin', (c) => {
  const app = c.kernel.apps.require(decodeURIComponent(c.params[0]!));
  const alias = decodeURIComponent(c.params[1]!);
  if (!app.aliases.includes(alias)) throw new FaztError('NOT_FOUND', `"${alias}" is not an alias of "${app.name}".`);
  return json({ app: appJson(c, c.kernel.apps.removeAlias(alias)) });
});

route('DELETE', '/api/apps/:ref', 'admin', (c) => {
  const app = c.kernel.apps.remove(decodeURIComponent(c.params[0]!));
  const gc = c.kernel.collectGarbage();
  return json({ removed: { id: app.id, name: app.name }, freed: gc ?? null });
});

route('GET', '/api/tokens', 'admin', (c) => json({ tokens: c.kernel.auth.listTokens() }));

route('POST', '/api/tokens', 'admin', async (c) => {
  const b = await body(c);
  return json(c.kernel.auth.createToken(b.scope ?? 'deploy', (b.name as string | undefined) ?? 'token'), 201);
});

route('DELETE', '/api/tokens/:id', 'admin', (c) => {
  c.kernel.auth.revokeToken(decodeURIComponent(c.params[0]!));
  return json({ ok: true });
});

route('GET', '/api/backup', 'admin', async (c) => {
  const backup = c.kernel.ports.backup;
  if (!backup) throw new FaztError('NOT_FOUND', 'This node cannot make backups.');
  const { stream, size } = await backup();
  const stamp = new Date(c.kernel.cartridge.clock.now()).toISOString().replace(/[:.]/g, '-');
  return new Response(stream, {
    headers: {
      'content-type': 'application/vnd.sqlite3',
      'content-length': String(size),
      'content-disposition': `attachment; filename="fazt-${stamp}.db"`,
      'cache-control': 'no-store',
    },
  });
});

const SCOPE_RANK: Record<TokenScope, number> = { deploy: 1, admin: 2 };
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Authenticates a request: `Authorization: Bearer fazt_…` or the session cookie. Cookie-authenticated
 * writes must come from the node's own origin (`Origin` header), which blocks cross-site and
 * app-origin forgeries.
 * @throws FaztError `UNAUTHORIZED` for a bad token, `FORBIDDEN` for a cross-origin cookie write.
 */
function authenticate(c: ApiCall): Principal | undefined {
  if (c.ctx.principal) return c.ctx.principal;
  const authz = c.request.headers.get('authorization');
  if (authz) {
    const m = /^Bearer\s+(\S+)$/i.exec(authz);
    if (!m) throw new FaztError('UNAUTHORIZED', 'Use "Authorization: Bearer <token>".');
    return c.kernel.auth.token(m[1]!);
  }
  const s = readCookie(c.request.headers.get('cookie'), SESSION_COOKIE);
  if (!s) return undefined;
  const p = c.kernel.auth.session(s);
  if (p && !SAFE.has(c.request.method)) {
    const origin = c.request.headers.get('origin');
    if (origin !== c.url.origin) throw new FaztError('FORBIDDEN', 'Cross-origin request refused: the dashboard must call the API from its own origin.');
  }
  return p;
}

/** Handles a request under `/api/`. Never throws: errors become JSON error responses. */
export async function handleApi(kernel: Kernel, request: Request, url: URL, ctx: RequestContext): Promise<Response> {
  const c: ApiCall = { request, url, ctx, params: [], kernel };
  try {
    let methodMismatch = false;
    for (const r of routes) {
      const m = r.pattern.exec(url.pathname);
      if (!m) continue;
      if (r.method !== request.method && !(r.method === 'GET' && request.method === 'HEAD')) {
        methodMismatch = true;
        continue;
      }
      c.params = m.slice(1);
      c.principal = authenticate(c);
      if (r.scope) {
        if (!c.principal) throw new FaztError('UNAUTHORIZED', 'Sign in, or send an API token: "Authorization: Bearer <token>" (create one with `fazt token create`).');
        if (SCOPE_RANK[c.principal.scope] < SCOPE_RANK[r.scope]) {
          throw new FaztError('FORBIDDEN', `This needs a token with the "${r.scope}" scope; yours has "${c.principal.scope}".`);
        }
      }
      return await r.handler(c);
    }
    if (methodMismatch) throw new FaztError('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${url.pathname}.`);
    throw new FaztError('NOT_FOUND', `No API route ${request.method} ${url.pathname}. See docs/api.md.`);
  } catch (e) {
    if (!(e instanceof FaztError)) kernel.ports.logger.error('api error', { path: url.pathname, error: String((e as Error)?.stack ?? e) });
    return errorResponse(e);
  }
}
