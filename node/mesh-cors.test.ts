/**
 * CORS of the mesh routes on the real node (127.0.0.1, port 0): only the public `POST /api/mesh/pair`
 * answers another origin (a browser node whose dashboard another hub served pairs from its service
 * worker); every other admin route, the session and login routes above all, answers no CORS header,
 * so another origin can neither read them nor send them a preflighted request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, removeTempDirs, request, startTestNode, type TestNode } from './test-helpers.js';

const ELSEWHERE = 'http://192.168.1.30:8080';

let t: TestNode;
beforeAll(async () => {
  t = await startTestNode();
});
afterAll(async () => {
  await t?.stop();
  removeTempDirs();
});

const preflight = (path: string, method = 'POST', extra: Record<string, string> = {}) =>
  request(`${t.url}${path}`, { method: 'OPTIONS', headers: { origin: ELSEWHERE, 'access-control-request-method': method, 'access-control-request-headers': 'content-type', ...extra } });

describe('CORS of the mesh pairing endpoint', () => {
  it('answers the preflight of a cross-origin pairing request', async () => {
    const r = await preflight('/api/mesh/pair');
    expect(r.status).toBe(204);
    expect(r.headers['access-control-allow-origin']).toBe('*');
    expect(r.headers['access-control-allow-methods']).toBe('POST');
    expect(r.headers['access-control-allow-headers']).toBe('content-type');
    expect(r.headers['access-control-allow-credentials']).toBeUndefined();
    expect(r.headers['access-control-allow-private-network']).toBeUndefined();
  });

  it('allows a public page to reach it on a private address when asked (Private Network Access)', async () => {
    const r = await preflight('/api/mesh/pair', 'POST', { 'access-control-request-private-network': 'true' });
    expect(r.status).toBe(204);
    expect(r.headers['access-control-allow-private-network']).toBe('true');
  });

  it('lets the other origin read refusals as well as answers', async () => {
    const bad = await request(`${t.url}/api/mesh/pair`, { method: 'POST', headers: { origin: ELSEWHERE }, json: { locator: 'nope' } });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    expect(bad.headers['access-control-allow-origin']).toBe('*');
    expect(bad.json().error.code).toMatch(/^[A-Z_]+$/);
    const notJson = await request(`${t.url}/api/mesh/pair`, { method: 'POST', headers: { origin: ELSEWHERE, 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);
    expect(notJson.headers['access-control-allow-origin']).toBe('*');
  });

  it('gives no other route CORS: not the session, login, setup, join, peers or invitations', async () => {
    const { token } = createToken(t, 'admin');
    for (const [method, path] of [
      ['GET', '/api/session'],
      ['POST', '/api/login'],
      ['POST', '/api/logout'],
      ['POST', '/api/setup'],
      ['GET', '/api/mesh'],
      ['POST', '/api/mesh/join'],
      ['POST', '/api/mesh/invitations'],
      ['GET', '/api/mesh/peers'],
      ['GET', '/api/apps'],
    ] as const) {
      const pre = await preflight(path, method);
      expect(pre.headers['access-control-allow-origin'], `OPTIONS ${path}`).toBeUndefined();
      expect(pre.headers['access-control-allow-methods'], `OPTIONS ${path}`).toBeUndefined();
      const r = await request(`${t.url}${path}`, { method, headers: { origin: ELSEWHERE }, token, ...(method === 'POST' ? { json: {} } : {}) });
      expect(r.headers['access-control-allow-origin'], `${method} ${path}`).toBeUndefined();
    }
  });
});
