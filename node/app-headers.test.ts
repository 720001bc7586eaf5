/**
 * The app response header policy (shared/http/app-headers.ts, docs/apps.md) against a real node over
 * HTTP: a hostile app's server code returns `Clear-Site-Data`, cookies aimed at the owner's session,
 * and origin-wide policies; what reaches the client depends on where the app is served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyAppHeaderPolicy, refuseAppCookie } from '../shared/http/app-headers.js';
import { createToken, deployZip, getFile, getOnHost, manifest, removeTempDirs, request, startTestNode, zip, type TestNode } from './test-helpers.js';

const HOSTILE = `
export default {
  fetch(request) {
    const h = new Headers({ 'content-type': 'text/plain' });
    h.append('clear-site-data', '"cookies", "storage", "cache"');
    h.append('set-cookie', 'fazt_session=stolen; Domain=localhost; Path=/api/session');
    h.append('set-cookie', 'fazt_session=shadow; Path=/api');
    h.append('set-cookie', '__Host-FAZT_SESSION=x; Path=/; Secure');
    h.append('set-cookie', 'tracker=1; domain=.localhost; Path=/');
    h.append('set-cookie', 'prefs=dark; Path=/; SameSite=Lax');
    h.append('alt-svc', 'h2="evil.example:443"');
    h.append('strict-transport-security', 'max-age=31536000; includeSubDomains');
    h.append('service-worker-allowed', '/');
    h.append('nel', '{"report_to":"x","max_age":86400,"include_subdomains":true}');
    h.append('x-app-own', 'kept');
    return new Response('gone', { headers: h });
  },
};`;

let t: TestNode;

beforeAll(async () => {
  t = await startTestNode();
  const admin = createToken(t, 'admin', 'headers').token;
  const r = await deployZip(t, admin, zip({ 'app.json': manifest({ name: 'hostile' }), 'api/main.js': HOSTILE }));
  expect(r.status, r.text()).toBeLessThan(300);
});

afterAll(async () => {
  await t?.stop();
  removeTempDirs();
});

describe('a hostile app response', () => {
  it("under /a/NAME/ on the node's origin: no Clear-Site-Data, no cookie, no origin-wide policy", async () => {
    const r = await getFile(t, '/a/hostile/api/wipe');
    expect(r.status).toBe(200);
    expect(r.text()).toBe('gone');
    for (const h of ['clear-site-data', 'set-cookie', 'alt-svc', 'strict-transport-security', 'service-worker-allowed', 'nel']) expect(r.headers[h], h).toBeUndefined();
    expect(r.headers['x-app-own']).toBe('kept');
    // the sandbox CSP of path-mounted apps is still the node's, not the app's
    expect(r.headers['content-security-policy']).toMatch(/^sandbox /);
  });

  it('on its own subdomain: only host-only cookies not named like the session pass', async () => {
    const r = await getOnHost(t, 'hostile', '/api/wipe');
    expect(r.status).toBe(200);
    expect(r.headers['clear-site-data']).toBeUndefined();
    expect(r.headers['alt-svc']).toBeUndefined();
    expect(r.headers['strict-transport-security']).toBeUndefined();
    expect(r.headers['set-cookie']).toEqual(['prefs=dark; Path=/; SameSite=Lax']);
    expect(r.headers['x-app-own']).toBe('kept');
  });

  it("what was removed is in the app's log, as a warning that names the rule", async () => {
    const admin = createToken(t, 'admin', 'logs').token;
    const r = await request(`${t.url}/api/apps/hostile/logs?level=warn`, { token: admin });
    expect(r.status).toBe(200);
    const text = JSON.stringify(r.json());
    expect(text).toContain('clear-site-data');
    expect(text).toContain('docs/apps.md');
  });
});

describe('refuseAppCookie', () => {
  it.each([
    ['fazt_session=x', true],
    ['FAZT_SESSION=x; Path=/', true],
    ['__Secure-fazt_session=x; Secure', true],
    ['a=b; Domain=example.com', true],
    ['a=b;domain=.x', true],
    ['a=b; Path=/; HttpOnly; Secure; SameSite=Strict', false],
    ['fazt_session_prefs=x', false],
  ])('%s → refused: %s', (cookie, refused) => {
    expect(refuseAppCookie(cookie, 'fazt_session') !== undefined).toBe(refused);
  });

  it('applyAppHeaderPolicy keeps the order of the cookies it keeps', () => {
    const h = new Headers();
    h.append('set-cookie', 'a=1');
    h.append('set-cookie', 'b=2; Domain=x');
    h.append('set-cookie', 'c=3');
    const out = applyAppHeaderPolicy(h, 'app', 'fazt_session');
    expect(h.getSetCookie()).toEqual(['a=1', 'c=3']);
    expect(out.map((o) => o.name)).toEqual(['set-cookie']);
  });
});
