/**
 * Owner setup, sign-in sessions, cookie attributes, the same-origin rule for cookie writes, and the
 * login rate limit — over real HTTP against the real node (real scrypt, ~100 ms per password check).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, internalErrors, removeTempDirs, request, startTestNode, type HttpResult, type TestNode } from './test-helpers.js';

const PASSWORD = 'correct horse battery staple';

afterAll(() => removeTempDirs());

/** The single `Set-Cookie` of an answer, parsed into name, value and attributes (lowercased keys). */
function parseSetCookie(res: HttpResult): { name: string; value: string; attrs: Map<string, string | true> } {
  const raw = res.headers['set-cookie'];
  expect(raw, 'Set-Cookie').toBeDefined();
  expect(raw).toHaveLength(1);
  const [pair, ...rest] = raw![0]!.split(';');
  const eq = pair!.indexOf('=');
  const attrs = new Map<string, string | true>();
  for (const a of rest) {
    const [k, ...v] = a.trim().split('=');
    attrs.set(k!.toLowerCase(), v.length ? v.join('=') : true);
  }
  return { name: pair!.slice(0, eq).trim(), value: pair!.slice(eq + 1).trim(), attrs };
}

/** A peer address that is not loopback, for the kernel's own `fetch` (the network here is 127.0.0.1 only). */
const REMOTE_PEER = '203.0.113.7';

function fetchAsRemote(t: TestNode, path: string, init: RequestInit = {}, peer = REMOTE_PEER): Promise<Response> {
  return t.node.fetch(new Request(`${t.url}${path}`, init), { peer });
}

describe('owner setup and sessions', () => {
  let t: TestNode;
  let cookie: string;
  const api = (path: string, options: Parameters<typeof request>[1] = {}) => request(`${t.url}${path}`, options);
  const withCookie = (c: string, headers: Record<string, string> = {}) => ({ cookie: `fazt_session=${c}`, ...headers });

  beforeAll(async () => {
    t = await startTestNode();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('reports a node without owner; from 127.0.0.1 no setup code is needed', async () => {
    const r = await api('/api/setup');
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ setUp: false, codeRequired: false });
    expect((await api('/api/session')).json()).toEqual({ authenticated: false, kind: null, scope: null, setUp: false });
    expectError(await api('/api/login', { method: 'POST', json: { password: PASSWORD } }), 409, 'NOT_SET_UP');
  });

  it('requires the setup code from another machine', async () => {
    const info = await fetchAsRemote(t, '/api/setup');
    expect(await info.json()).toEqual({ setUp: false, codeRequired: true });
    for (const code of [undefined, 'wrong-code']) {
      const r = await fetchAsRemote(t, '/api/setup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD, code }) });
      expect(r.status).toBe(403);
      expect(await r.json()).toMatchObject({ error: { code: 'FORBIDDEN', message: expect.stringMatching(/setup code/) } });
    }
    expect(t.node.kernel.auth.hasOwner()).toBe(false);
  });

  it('refuses setup by a cross-site page in the owner’s browser (form post, DNS rebinding) and stays unset', async () => {
    // An HTML form with enctype="text/plain" on any web site can post this JSON-looking body to the
    // node on the owner's machine: the TCP peer is then 127.0.0.1, so only the Origin tells it apart.
    const formBody = '{"password":"attacker-password","pad":"="}\r\n';
    const csrf = await api('/api/setup', { method: 'POST', headers: { 'content-type': 'text/plain', origin: 'https://evil.example' }, body: formBody });
    expectError(csrf, 403, 'FORBIDDEN', /Cross-origin/);
    // Deployed apps on their own subdomain are other origins too.
    const fromApp = await api('/api/setup', { method: 'POST', headers: { origin: `http://someapp.localhost:${t.port}` }, json: { password: 'attacker-password' } });
    expectError(fromApp, 403, 'FORBIDDEN');
    // DNS rebinding: evil.example resolved to 127.0.0.1, so Host and Origin agree — but the node was not
    // addressed by a loopback name, so the setup code is required.
    const rebound = await api('/api/setup', {
      method: 'POST',
      headers: { host: `evil.example:${t.port}`, origin: `http://evil.example:${t.port}` },
      json: { password: 'attacker-password' },
    });
    expectError(rebound, 403, 'FORBIDDEN', /setup code/);
    expect((await api('/api/setup', { headers: { host: `evil.example:${t.port}` } })).json()).toEqual({ setUp: false, codeRequired: true });
    expect((await api('/api/setup')).json().setUp).toBe(false);
  });

  it('refuses a weak or missing password with 400 and creates nothing', async () => {
    expectError(await api('/api/setup', { method: 'POST', json: { password: 'short' } }), 400, 'BAD_REQUEST', /at least 8 characters/);
    expectError(await api('/api/setup', { method: 'POST', json: {} }), 400, 'BAD_REQUEST', /at least 8 characters/);
    expectError(await api('/api/setup', { method: 'POST', json: { password: 12345678 } }), 400, 'BAD_REQUEST');
    expectError(await api('/api/setup', { method: 'POST', body: 'password=hunter22', headers: { 'content-type': 'text/plain' } }), 400, 'BAD_REQUEST', /JSON object/);
    expect((await api('/api/setup')).json().setUp).toBe(false);
  });

  it('sets up the owner from 127.0.0.1 without a code and opens a session in a host-only, HttpOnly, SameSite=Strict cookie on /api', async () => {
    const r = await api('/api/setup', { method: 'POST', json: { password: PASSWORD } });
    expect(r.status).toBe(201);
    expect(r.json()).toEqual({ ok: true });
    const c = parseSetCookie(r);
    expect(c.name).toBe('fazt_session');
    expect(c.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(c.attrs.get('httponly')).toBe(true);
    expect(c.attrs.get('samesite')).toBe('Strict');
    expect(c.attrs.get('path')).toBe('/api');
    expect(c.attrs.has('domain')).toBe(false);
    expect(c.attrs.has('secure')).toBe(false); // plain http on 127.0.0.1
    expect(Number(c.attrs.get('max-age'))).toBe(30 * 24 * 3600);
    cookie = c.value;
    expect((await api('/api/setup')).json()).toEqual({ setUp: true, codeRequired: false });
  });

  it('refuses a second setup with 409 ALREADY_SET_UP and keeps the first password', async () => {
    expectError(await api('/api/setup', { method: 'POST', json: { password: 'another strong password' } }), 409, 'ALREADY_SET_UP', /Sign in instead/);
    const again = await fetchAsRemote(t, '/api/setup', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: 'another strong password', code: 'anything' }),
    });
    expect(again.status).toBe(409);
    expectError(await api('/api/login', { method: 'POST', json: { password: 'another strong password' } }), 401, 'UNAUTHORIZED');
  });

  it('accepts the setup session cookie for GET /api/apps', async () => {
    const r = await api('/api/apps', { headers: withCookie(cookie) });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ apps: [] });
  });

  it('refuses a wrong password with 401 and sets no cookie', async () => {
    const r = await api('/api/login', { method: 'POST', json: { password: PASSWORD + '!' } });
    expectError(r, 401, 'UNAUTHORIZED', /Wrong password/);
    expect(r.headers['set-cookie']).toBeUndefined();
    expectError(await api('/api/login', { method: 'POST', json: { password: 42 } }), 401, 'UNAUTHORIZED');
  });

  it('ignores cross-site sign-in attempts: 403, and they do not count toward the rate limit', async () => {
    // Otherwise any web page open in the owner's browser could lock the owner out (peer 127.0.0.1).
    for (let i = 0; i < 12; i++) {
      const r = await api('/api/login', { method: 'POST', headers: { 'content-type': 'text/plain', origin: 'https://evil.example' }, body: `{"password":"guess${i}"}` });
      expectError(r, 403, 'FORBIDDEN', /Cross-origin/);
    }
  });

  it('signs in with the right password; the session cookie authenticates API reads', async () => {
    const r = await api('/api/login', { method: 'POST', json: { password: PASSWORD } });
    expect(r.status).toBe(200);
    expect(r.json().expiresAt).toBeGreaterThan(Date.now() + 29 * 24 * 3600_000);
    const c = parseSetCookie(r);
    expect([c.attrs.get('httponly'), c.attrs.get('samesite'), c.attrs.get('path'), c.attrs.has('domain')]).toEqual([true, 'Strict', '/api', false]);
    expect(c.value).not.toBe(cookie);
    cookie = c.value;
    expect((await api('/api/apps', { headers: withCookie(cookie) })).status).toBe(200);
    expect((await api('/api/session', { headers: withCookie(cookie) })).json()).toEqual({ authenticated: true, kind: 'session', scope: 'admin', setUp: true });
    expectError(await api('/api/apps', { headers: withCookie('A'.repeat(43)) }), 401, 'UNAUTHORIZED');
  });

  it('refuses cookie-authenticated writes without Origin or from a foreign origin with 403, and does nothing', async () => {
    const tokensBefore = t.node.kernel.auth.listTokens().length;
    const create = (headers: Record<string, string>) => api('/api/tokens', { method: 'POST', headers: withCookie(cookie, headers), json: { scope: 'admin' } });
    const foreign: Record<string, string>[] = [
      {},
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { origin: `http://someapp.localhost:${t.port}` }, // an app's own subdomain is another origin
      { origin: `http://localhost:${t.port}` }, // another name for the node is another origin
      { origin: `https://127.0.0.1:${t.port}` },
      { origin: `${t.url}.evil.example` },
      { referer: `${t.url}/` }, // Referer is no substitute for Origin
    ];
    for (const headers of foreign) {
      expectError(await create(headers), 403, 'FORBIDDEN', /Cross-origin request refused/);
    }
    expectError(await api('/api/apps/x', { method: 'DELETE', headers: withCookie(cookie, { origin: 'https://evil.example' }) }), 403, 'FORBIDDEN');
    expectError(await api('/api/logout', { method: 'POST', headers: withCookie(cookie, { origin: 'https://evil.example' }) }), 403, 'FORBIDDEN');
    expect(t.node.kernel.auth.listTokens().length).toBe(tokensBefore);
    // Reads need no Origin.
    expect((await api('/api/tokens', { headers: withCookie(cookie) })).status).toBe(200);
  });

  it('accepts a cookie-authenticated write from the node’s own origin', async () => {
    const r = await api('/api/tokens', { method: 'POST', headers: withCookie(cookie, { origin: t.url }), json: { scope: 'deploy', name: 'from-dashboard' } });
    expect(r.status).toBe(201);
    expect(r.json()).toMatchObject({ scope: 'deploy', name: 'from-dashboard' });
    const token = r.json().token as string;
    // A bearer-token write needs no Origin (scripts and the CLI are not browsers).
    expect((await api('/api/apps', { token })).status).toBe(200);
  });

  it('logs out: the cookie is cleared and the session is dead on the server', async () => {
    const r = await api('/api/logout', { method: 'POST', headers: withCookie(cookie, { origin: t.url }) });
    expect(r.status).toBe(200);
    const c = parseSetCookie(r);
    expect([c.name, c.value, c.attrs.get('max-age'), c.attrs.get('path')]).toEqual(['fazt_session', '', '0', '/api']);
    // Replaying the old cookie does not work.
    expectError(await api('/api/apps', { headers: withCookie(cookie) }), 401, 'UNAUTHORIZED');
    expect((await api('/api/session', { headers: withCookie(cookie) })).json().authenticated).toBe(false);
  });

  it('logged no internal errors', () => {
    expect(internalErrors(t)).toEqual([]);
  });
});

describe('login rate limit', () => {
  let t: TestNode;
  const login = (password: string, headers: Record<string, string> = {}) => request(`${t.url}/api/login`, { method: 'POST', json: { password }, headers });

  beforeAll(async () => {
    t = await startTestNode();
    // Set up from "another machine" with the code the node prints: the remote setup path.
    const code = t.node.kernel.auth.setupCode();
    const r = await fetchAsRemote(t, '/api/setup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD, code }) });
    expect(r.status).toBe(201);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('after 10 failures from 127.0.0.1 answers 429 RATE_LIMITED with Retry-After; X-Forwarded-For does not reset it', async () => {
    for (let i = 1; i <= 10; i++) {
      const r = await login(`wrong password ${i}`, { 'x-forwarded-for': `198.51.100.${i}`, 'x-real-ip': `198.51.100.${i}`, forwarded: `for=198.51.100.${i}` });
      expectError(r, 401, 'UNAUTHORIZED', /Wrong password/);
    }
    const r = await login('wrong password 11', { 'x-forwarded-for': '198.51.100.11' });
    expectError(r, 429, 'RATE_LIMITED', /Too many failed sign-ins\. Try again in \d+ s, or sign in with a one-time code: run `fazt owner login-code`/);
    const retry = Number(r.headers['retry-after']);
    expect(Number.isInteger(retry)).toBe(true);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(15 * 60);
    expect(r.json().error.retryAfterSeconds).toBe(retry);
  });

  it('refuses even the correct password while limited, whatever forwarding headers say', async () => {
    const spoofs: Record<string, string>[] = [{}, { 'x-forwarded-for': '192.0.2.99' }, { 'x-forwarded-for': '127.0.0.1' }, { forwarded: 'for=192.0.2.1' }];
    for (const headers of spoofs) {
      const r = await login(PASSWORD, headers);
      expectError(r, 429, 'RATE_LIMITED');
      expect(r.headers['set-cookie']).toBeUndefined();
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
  });

  it('limits by TCP peer: another peer address can still sign in', async () => {
    const r = await fetchAsRemote(t, '/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) }, '192.0.2.50');
    expect(r.status).toBe(200);
    expect(r.headers.getSetCookie()).toHaveLength(1);
    expect((await login(PASSWORD)).status).toBe(429);
  });

  it('logged no internal errors', () => {
    expect(internalErrors(t)).toEqual([]);
  });
});
