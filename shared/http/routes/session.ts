import { FaztError } from '../../errors.js';
import { SESSION_COOKIE } from '../../auth/index.js';
import { integritySummary } from '../../cartridge/index.js';
import { jsonBody } from '../api-input.js';
import { readCookie, serializeCookie } from '../cookies.js';
import { json } from '../responses.js';
import type { ApiCall, ApiRouter } from '../router.js';

/** Node health, first-run setup, sign-in and sign-out, the session: the public routes. */

function sessionCookie(c: ApiCall, value: string, maxAgeSeconds: number): string {
  return serializeCookie(SESSION_COOKIE, value, {
    path: '/api',
    maxAge: maxAgeSeconds,
    httpOnly: true,
    sameSite: 'Strict',
    secure: c.url.protocol === 'https:',
  });
}

/** The request's source address (rate-limit key): what the host computed, else the TCP peer. */
const peer = (c: ApiCall) => c.ctx.source ?? c.ctx.peer ?? 'unknown';
const isLoopback = (addr: string | undefined) => !!addr && /^(127\.|::1$|::ffff:127\.)/.test(addr);
/**
 * True when the request came through a proxy: the host says so (a trusted-proxy peer), or it carries
 * a `Forwarded` (RFC 7239) or `X-Forwarded-*` header. A reverse proxy on the node's machine connects
 * from loopback on behalf of anyone.
 */
const viaProxy = (c: ApiCall) => {
  if (c.ctx.proxied) return true;
  for (const name of c.request.headers.keys()) if (name === 'forwarded' || name.startsWith('x-forwarded-')) return true;
  return false;
};
/**
 * True when the request comes from this machine AND names the node by a loopback host AND did not
 * come through a proxy: a page elsewhere that DNS-rebinds its own name to 127.0.0.1 reaches us from
 * loopback too, with its own Host; a reverse proxy on this machine connects from loopback for anyone.
 */
const isLocalSetup = (c: ApiCall) => {
  const h = c.url.hostname;
  return isLoopback(c.ctx.peer) && !viaProxy(c) && (h === 'localhost' || h === c.kernel.domain || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h));
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

/** Adds `/api/health`, `/api/setup`, `/api/login`, `/api/logout` and `/api/session`. */
export function sessionRoutes(api: ApiRouter): void {
  api.route('GET', '/api/health', null, (c) =>
    json({ ok: true, node: c.kernel.cartridge.nodeId, version: c.kernel.version, schema: c.kernel.cartridge.schemaVersion, integrity: integritySummary(c.kernel.cartridge.integrity) }),
  );

  api.route('GET', '/api/setup', null, (c) => json({ setUp: c.kernel.auth.hasOwner(), codeRequired: !isLocalSetup(c) }));

  api.route('POST', '/api/setup', null, async (c) => {
    assertNotCrossOrigin(c);
    const b = await jsonBody(c);
    if (c.kernel.auth.hasOwner()) throw new FaztError('ALREADY_SET_UP', 'This node already has an owner. Sign in instead.');
    if (!isLocalSetup(c) && b.code !== c.kernel.auth.setupCode()) {
      throw new FaztError('FORBIDDEN', 'Setting up from another machine (or through a proxy) needs the setup code the node printed when it started.');
    }
    const { userId } = await c.kernel.auth.setupOwner(b.password);
    const s = c.kernel.auth.openSession(userId);
    return json({ ok: true }, 201, { 'set-cookie': sessionCookie(c, s.session, Math.floor(c.kernel.auth.sessionTtlMs / 1000)) });
  });

  api.route('POST', '/api/login', null, async (c) => {
    assertNotCrossOrigin(c);
    const b = await jsonBody(c);
    // {"code"}: a one-time code from `fazt owner login-code`, accepted even while passwords are rate limited
    const s = b.code !== undefined ? c.kernel.auth.loginWithCode(b.code) : await c.kernel.auth.login(b.password, peer(c));
    return json({ ok: true, expiresAt: s.expiresAt }, 200, { 'set-cookie': sessionCookie(c, s.session, Math.floor(c.kernel.auth.sessionTtlMs / 1000)) });
  });

  api.route('POST', '/api/logout', null, (c) => {
    const s = readCookie(c.request.headers.get('cookie'), SESSION_COOKIE);
    if (s) c.kernel.auth.logout(s);
    return json({ ok: true }, 200, { 'set-cookie': sessionCookie(c, '', 0) });
  });

  api.route('GET', '/api/session', null, (c) =>
    json({ authenticated: !!c.principal, kind: c.principal?.kind ?? null, scope: c.principal?.scope ?? null, setUp: c.kernel.auth.hasOwner() }),
  );
}
