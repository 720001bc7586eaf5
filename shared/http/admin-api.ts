import { FaztError } from '../errors.js';
import type { Kernel, RequestContext } from '../kernel.js';
import { SESSION_COOKIE, type Principal, type TokenScope } from '../auth/index.js';
import type { AppRecord } from '../apps/index.js';
import { PERMISSION_PATTERN } from '../apps/permissions.js';
import { LOG_LEVELS, type LogEntry, type LogLevel } from '../storage/index.js';
import { integritySummary } from '../cartridge/index.js';
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

/** Reads a JSON object body (≤ `maxChars`, default 64 KiB). @throws FaztError `BAD_REQUEST`, `PAYLOAD_TOO_LARGE`. */
async function body(c: ApiCall, maxChars = 65536): Promise<Record<string, unknown>> {
  const declared = Number(c.request.headers.get('content-length') ?? NaN);
  const tooLarge = () => new FaztError('PAYLOAD_TOO_LARGE', `JSON body larger than ${Math.round(maxChars / 1024)} KiB.`);
  if (declared > maxChars * 3) throw tooLarge(); // a UTF-16 unit is at most 3 UTF-8 bytes
  const text = await c.request.text();
  if (text.length > maxChars) throw tooLarge();
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

/** A decoded path parameter. @throws FaztError `BAD_REQUEST` for broken percent-encoding. */
function param(c: ApiCall, i: number): string {
  try {
    return decodeURIComponent(c.params[i]!);
  } catch {
    throw new FaztError('BAD_REQUEST', `Malformed percent-encoding in the path: "${c.params[i]!.slice(0, 80)}".`);
  }
}

/** The app named by the first path parameter. @throws FaztError `APP_NOT_FOUND`. */
const appOf = (c: ApiCall) => c.kernel.apps.require(param(c, 0));

/** What the app's live version requests in its manifest. */
function requestedBy(c: ApiCall, app: AppRecord): string[] {
  if (app.currentVersion === null) return [];
  return c.kernel.apps.manifest(app.id, app.currentVersion)?.permissions ?? [];
}

/**
 * The app's permissions: `requested` by the live version, of those `granted` (in force) and `pending`,
 * plus `dormant`: granted but not requested by the live version (unused until a version asks again).
 */
function permissionStatus(c: ApiCall, appId: string, requested: readonly string[]) {
  const status = c.kernel.permissions.status(appId, requested);
  const req = new Set(status.requested);
  return { ...status, dormant: c.kernel.permissions.granted(appId).filter((p) => !req.has(p)) };
}

/** @throws FaztError `INVALID_ARGUMENT` unless `p` is a permission string (`ai`, `net:example.com`). */
function checkPermission(p: unknown): string {
  if (typeof p !== 'string' || !PERMISSION_PATTERN.test(p)) {
    throw new FaztError('INVALID_ARGUMENT', `"${String(p).slice(0, 100)}" is not a permission; they look like "ai" or "net:example.com". Nothing was changed.`);
  }
  return p;
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

/**
 * An optional integer query value in `[min, max]`.
 * @throws FaztError `BAD_REQUEST` when present but not such an integer.
 */
function intParam(name: string, v: string | null, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new FaztError('BAD_REQUEST', `${name} must be a whole number${max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : ` ≥ ${min}`} (got "${v.slice(0, 40)}").`);
  }
  return n;
}

/** @throws FaztError `BAD_REQUEST` for an unknown level. */
function logLevelParam(v: string | null): LogLevel | undefined {
  if (v === null || v === '') return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(v)) throw new FaztError('BAD_REQUEST', `level must be one of ${LOG_LEVELS.join(', ')} (got "${v.slice(0, 40)}").`);
  return v as LogLevel;
}

/** Interval of the comment lines that keep an idle log stream (and proxies in between) alive, ms. */
const LOG_STREAM_HEARTBEAT_MS = 15_000;
/** Entries queued for a slow log follower before its stream is ended (it reconnects with `Last-Event-ID`). */
const LOG_STREAM_MAX_QUEUE = 1000;

/**
 * A server-sent event stream (text/event-stream) of an app's log entries: first the backlog (entries
 * after `after`, or the last `limit`), then live entries as they are appended. Each event's `id` is
 * the entry's id, so a client reconnecting with `Last-Event-ID` resumes without gaps or repeats.
 * Ends when the client goes away (the host cancels the body), when the app is removed, or when the
 * client falls more than {@link LOG_STREAM_MAX_QUEUE} entries behind; every path unsubscribes.
 */
function followLogs(c: ApiCall, app: AppRecord, o: { after?: number; limit: number; level?: LogLevel }): Response {
  const headers = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' };
  if (c.request.method === 'HEAD') return new Response(null, { headers });
  const { logs, apps } = c.kernel;
  const encoder = new TextEncoder();
  const minLevel = LOG_LEVELS.indexOf(o.level ?? 'debug');
  let lastId = o.after ?? 0;
  let cleanup = () => {};
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let open = true;
        const send = (text: string) => {
          if (open) controller.enqueue(encoder.encode(text));
        };
        const end = () => {
          if (!open) return;
          cleanup();
          controller.close();
        };
        let backlog = 0;
        const sendEntry = (e: LogEntry) => {
          if (e.id <= lastId || LOG_LEVELS.indexOf(e.level) < minLevel) return;
          lastId = e.id;
          send(`id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`);
        };
        const sendLive = (e: LogEntry) => {
          sendEntry(e);
          // queued chunks = highWaterMark − desiredSize; the backlog may fill the queue at first
          if (open && (controller.desiredSize ?? 0) < -backlog) {
            send(': too far behind; reconnect with Last-Event-ID\n\n');
            end();
          }
        };
        // Subscribe before reading the backlog; ids dedupe the overlap (both run synchronously anyway).
        const unsubscribe = logs.subscribe(app.id, sendLive);
        const unwatch = apps.onChange((ch) => {
          if (ch.kind === 'remove' && ch.appId === app.id) {
            send(': app removed\n\n');
            end();
          }
        });
        const heartbeat = setInterval(() => send(': heartbeat\n\n'), LOG_STREAM_HEARTBEAT_MS);
        (heartbeat as { unref?: () => void }).unref?.(); // never keeps a Node process alive
        cleanup = () => {
          open = false;
          clearInterval(heartbeat);
          unsubscribe();
          unwatch();
        };
        send(`retry: 1000\n: following ${app.name}\n\n`); // also makes the host send the headers now
        if (o.after !== undefined) {
          for (;;) {
            const page = logs.query(app.id, { afterId: lastId, limit: 1000, level: o.level });
            page.forEach(sendEntry);
            backlog += page.length;
            if (page.length < 1000) break;
          }
        } else if (o.limit > 0) {
          const page = logs.tail(app.id, o.limit, o.level);
          page.forEach(sendEntry);
          backlog = page.length;
        }
      },
      cancel() {
        cleanup();
      },
    },
    { highWaterMark: LOG_STREAM_MAX_QUEUE },
  );
  return new Response(stream, { headers });
}

route('GET', '/api/health', null, (c) =>
  json({ ok: true, node: c.kernel.cartridge.nodeId, version: c.kernel.version, schema: c.kernel.cartridge.schemaVersion, integrity: integritySummary(c.kernel.cartridge.integrity) }),
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
  // Checked before the upload is read: a refused grant deploys nothing.
  const grant = parseGrantParam(c.url.searchParams.getAll('grant'));
  if (grant && c.principal?.scope !== 'admin') {
    throw new FaztError(
      'FORBIDDEN',
      'Granting permissions needs the "admin" scope; this token has "deploy". Deploy without granting (new permissions stay pending), then the owner grants them: `fazt app grant APP PERM…`.',
    );
  }
  if (!c.request.body) throw new FaztError('BAD_REQUEST', 'Send the app as a zip (Content-Type: application/zip) or multipart/form-data.');
  const len = c.request.headers.get('content-length');
  const r = await c.kernel.deploy.deploy({
    body: c.request.body,
    contentType: c.request.headers.get('content-type') ?? '',
    contentLength: len ? Number(len) : undefined,
    name,
  });
  c.kernel.collectGarbage();
  const requested = r.manifest.permissions ?? [];
  if (grant) {
    const list = grant === 'all' ? requested : grant;
    if (list.length) c.kernel.permissions.grant(r.id, list);
  }
  return json(
    {
      id: r.id,
      name: r.name,
      version: r.version,
      created: r.created,
      files: r.files,
      bytes: r.bytes,
      warnings: r.warnings,
      permissions: permissionStatus(c, r.id, requested),
      urls: appUrls(c.kernel, c.url, r.name),
    },
    r.created ? 201 : 200,
  );
});

route('GET', '/api/apps/:ref', 'deploy', (c) => {
  const app = c.kernel.apps.require(param(c, 0));
  const versions = c.kernel.apps.versions(app.id);
  const live = versions.find((v) => v.current);
  return json({ ...appJson(c, app), manifest: live?.manifest ?? null, versions: versions.length, files: live?.fileCount ?? 0, bytes: live?.totalBytes ?? 0 });
});

route('GET', '/api/apps/:ref/versions', 'deploy', (c) => {
  const app = c.kernel.apps.require(param(c, 0));
  return json({ app: app.name, versions: c.kernel.apps.versions(app.id) });
});

route('GET', '/api/apps/:ref/files', 'deploy', (c) => {
  const app = c.kernel.apps.require(param(c, 0));
  const v = c.url.searchParams.get('version');
  const version = v ? Number(v) : app.currentVersion;
  if (version === null || !Number.isInteger(version)) throw new FaztError('VERSION_NOT_FOUND', `"${app.name}" has no live version.`);
  if (!c.kernel.apps.versions(app.id).some((x) => x.version === version)) throw new FaztError('VERSION_NOT_FOUND', `"${app.name}" has no version ${v}.`);
  return json({ app: app.name, version, files: c.kernel.apps.files(app.id, version) });
});

route('POST', '/api/apps/:ref/rollback', 'deploy', async (c) => {
  const b = await body(c);
  if (b.version !== undefined && !Number.isInteger(b.version)) throw new FaztError('BAD_REQUEST', '"version" must be an integer.');
  const r = c.kernel.apps.rollback(param(c, 0), b.version as number | undefined);
  return json({ app: appJson(c, r.app), from: r.from, to: r.to });
});

route('POST', '/api/apps/:ref/rename', 'admin', async (c) => {
  const b = await body(c);
  if (typeof b.name !== 'string') throw new FaztError('BAD_REQUEST', 'Send {"name": "new-name"}.');
  return json({ app: appJson(c, c.kernel.apps.rename(param(c, 0), b.name, b.keepAlias === true)) });
});

route('POST', '/api/apps/:ref/aliases', 'admin', async (c) => {
  const b = await body(c);
  if (typeof b.alias !== 'string') throw new FaztError('BAD_REQUEST', 'Send {"alias": "other-name"}.');
  return json({ app: appJson(c, c.kernel.apps.addAlias(param(c, 0), b.alias)) }, 201);
});

route('DELETE', '/api/apps/:ref/aliases/:alias', 'admin', (c) => {
  const app = c.kernel.apps.require(param(c, 0));
  const alias = param(c, 1);
  if (!app.aliases.includes(alias)) throw new FaztError('NOT_FOUND', `"${alias}" is not an alias of "${app.name}".`);
  return json({ app: appJson(c, c.kernel.apps.removeAlias(alias)) });
});

route('DELETE', '/api/apps/:ref', 'admin', (c) => {
  const app = c.kernel.apps.remove(param(c, 0));
  const gc = c.kernel.collectGarbage();
  return json({ removed: { id: app.id, name: app.name }, freed: gc ?? null });
});

// ---------------------------------------------------------------- permissions

route('GET', '/api/apps/:ref/permissions', 'deploy', (c) => {
  const app = appOf(c);
  return json({ app: app.name, ...permissionStatus(c, app.id, requestedBy(c, app)) });
});

route('POST', '/api/apps/:ref/permissions', 'admin', async (c) => {
  const app = appOf(c);
  const b = await body(c);
  const requested = requestedBy(c, app);
  let list: string[];
  if (b.grant === 'all') list = requested;
  else if (Array.isArray(b.grant) && b.grant.length > 0 && b.grant.length <= 100) list = b.grant.map((p) => checkPermission(p));
  else throw new FaztError('BAD_REQUEST', 'Send {"grant": ["net:example.com", "ai"]} (1–100 permissions) or {"grant": "all"} for everything the live version requests.');
  if (list.length) c.kernel.permissions.grant(app.id, list);
  return json({ app: app.name, grantedNow: [...new Set(list)], ...permissionStatus(c, app.id, requested) });
});

route('DELETE', '/api/apps/:ref/permissions/:perm', 'admin', (c) => {
  const app = appOf(c);
  const perm = checkPermission(param(c, 1));
  if (!c.kernel.permissions.revoke(app.id, perm)) throw new FaztError('NOT_FOUND', `"${perm}" is not granted to "${app.name}"; nothing was revoked.`);
  return json({ app: app.name, revoked: perm, ...permissionStatus(c, app.id, requestedBy(c, app)) });
});

// ---------------------------------------------------------------- logs

route('GET', '/api/apps/:ref/logs', 'deploy', (c) => {
  const app = appOf(c);
  const q = c.url.searchParams;
  const level = logLevelParam(q.get('level'));
  const follow = q.get('follow');
  if (follow !== null && follow !== '0' && follow !== 'false') {
    const lastEventId = c.request.headers.get('last-event-id');
    const after = lastEventId !== null && lastEventId.trim() !== '' ? intParam('Last-Event-ID', lastEventId, 0) : intParam('after', q.get('after'), 0);
    return followLogs(c, app, { after, limit: intParam('limit', q.get('limit'), 0, 1000) ?? 0, level });
  }
  const after = intParam('after', q.get('after'), 0);
  const limit = intParam('limit', q.get('limit'), 1, 1000) ?? 100;
  const logs = after !== undefined ? c.kernel.logs.query(app.id, { afterId: after, limit, level }) : c.kernel.logs.tail(app.id, limit, level);
  return json({ logs });
});

// ---------------------------------------------------------------- secrets

route('GET', '/api/apps/:ref/secrets', 'admin', (c) => {
  const app = appOf(c);
  return json({ app: app.name, secrets: c.kernel.secrets.names(app.id) });
});

route('PUT', '/api/apps/:ref/secrets/:name', 'admin', async (c) => {
  const app = appOf(c);
  const name = param(c, 1);
  // A 64 KiB value may need up to 6 JSON characters per byte (\u00XX).
  const b = await body(c, 400 * 1024);
  if (typeof b.value !== 'string') throw new FaztError('BAD_REQUEST', 'Send {"value": "…"}: the secret\'s value as a string.');
  const existed = c.kernel.secrets.names(app.id).some((s) => s.name === name);
  c.kernel.secrets.set(app.id, name, b.value);
  c.kernel.runtime?.secretsChanged(app.id);
  const stored = c.kernel.secrets.names(app.id).find((s) => s.name === name);
  return json({ app: app.name, name, updatedAt: stored?.updatedAt ?? null, created: !existed }, existed ? 200 : 201);
});

route('DELETE', '/api/apps/:ref/secrets/:name', 'admin', (c) => {
  const app = appOf(c);
  const name = param(c, 1);
  if (!c.kernel.secrets.delete(app.id, name)) throw new FaztError('NOT_FOUND', `"${app.name}" has no secret ${name}. See \`fazt app secret list ${app.name}\`.`);
  c.kernel.runtime?.secretsChanged(app.id);
  return json({ app: app.name, removed: name });
});

// ---------------------------------------------------------------- jobs and events (read-only)

route('GET', '/api/apps/:ref/jobs', 'deploy', (c) => {
  const app = appOf(c);
  return json({ app: app.name, jobs: c.kernel.jobs.list(app.id) });
});

route('GET', '/api/events', 'deploy', (c) => {
  const ref = c.url.searchParams.get('app');
  const app = ref !== null && ref !== '' ? c.kernel.apps.require(ref) : undefined;
  const limit = intParam('limit', c.url.searchParams.get('limit'), 1, 1000) ?? 50;
  return json({ events: c.kernel.events.recent(app?.id, limit) });
});

// ---------------------------------------------------------------- storage browser (read-only, owner)

/** Default and largest page of the storage browser's kv, document and blob listings. */
const STORAGE_PAGE_DEFAULT = 50;
const STORAGE_PAGE_MAX = 200;

/** An opaque page cursor from the query, or `undefined`. */
/**
 * `?prefix=&limit=&cursor=` of a storage-browser listing (kv keys, blobs).
 * @throws FaztError `INVALID_ARGUMENT` for a limit outside 1…{@link STORAGE_PAGE_MAX}.
 */
const listParams = (c: ApiCall): { prefix?: string; limit: number; cursor?: string } => {
  const q = c.url.searchParams;
  const cursor = q.get('cursor');
  return {
    prefix: q.get('prefix') ?? undefined,
    limit: intParam('limit', q.get('limit'), 1, STORAGE_PAGE_MAX) ?? STORAGE_PAGE_DEFAULT,
    cursor: cursor === null || cursor === '' ? undefined : cursor,
  };
};

route('GET', '/api/apps/:ref/storage', 'admin', (c) => {
  const app = appOf(c);
  const kv = c.kernel.cartridge.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM app_kv WHERE app_id = ? AND deleted = 0 AND (expires_at IS NULL OR expires_at > ?)', [app.id, c.kernel.cartridge.clock.now()]);
  const blobs = c.kernel.cartridge.db.get<{ n: number; bytes: number | null }>('SELECT COUNT(*) AS n, SUM(size) AS bytes FROM app_blobs WHERE app_id = ? AND deleted = 0', [app.id]);
  return json({
    app: app.name,
    kv: { count: kv?.n ?? 0 },
    collections: c.kernel.docs.collections(app.id),
    blobs: { count: blobs?.n ?? 0, bytes: blobs?.bytes ?? 0 },
  });
});

route('GET', '/api/apps/:ref/kv', 'admin', (c) => {
  const app = appOf(c);
  const page = c.kernel.kv.list(app.id, listParams(c));
  return json({ app: app.name, ...page });
});

route('GET', '/api/apps/:ref/docs', 'admin', (c) => {
  const app = appOf(c);
  return json({ app: app.name, collections: c.kernel.docs.collections(app.id) });
});

route('GET', '/api/apps/:ref/docs/:collection', 'admin', (c) => {
  const app = appOf(c);
  const collection = param(c, 1);
  const q = c.url.searchParams;
  const limit = intParam('limit', q.get('limit'), 1, STORAGE_PAGE_MAX) ?? STORAGE_PAGE_DEFAULT;
  const offset = intParam('offset', q.get('offset'), 0) ?? 0;
  const total = c.kernel.docs.count(app.id, collection);
  return json({ app: app.name, collection, total, offset, documents: c.kernel.docs.find(app.id, collection, { limit, offset }) });
});

route('GET', '/api/apps/:ref/blobs', 'admin', (c) => {
  const app = appOf(c);
  const page = c.kernel.appBlobs.list(app.id, listParams(c));
  return json({ app: app.name, ...page });
});

route('GET', '/api/tokens', 'admin', (c) => json({ tokens: c.kernel.auth.listTokens() }));

route('POST', '/api/tokens', 'admin', async (c) => {
  const b = await body(c);
  return json(c.kernel.auth.createToken(b.scope ?? 'deploy', (b.name as string | undefined) ?? 'token'), 201);
});

route('DELETE', '/api/tokens/:id', 'admin', (c) => {
  c.kernel.auth.revokeToken(param(c, 0));
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
