import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pwaDashboard, webDir } from './pwa-host.js';

describe('pwaDashboard: the built PWA as the node dashboard', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fazt-web-test-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Fazt</title>' + ' '.repeat(2000));
  writeFileSync(join(dir, 'sw.js'), 'self.addEventListener("fetch", () => {});');
  writeFileSync(join(dir, 'manifest.webmanifest'), '{"name":"Fazt"}');
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
  writeFileSync(join(dir, '.secret'), 'no');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const serve = pwaDashboard(dir)!;
  const get = async (path: string, headers: Record<string, string> = {}) => (await serve(new Request('http://n.test' + path, { headers }), new URL('http://n.test' + path)))!;

  it('serves the shell, the worker and the manifest fresh, hashed assets forever', async () => {
    const index = await get('/');
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('x-frame-options')).toBe('DENY');
    expect(await index.text()).toContain('<title>Fazt</title>');
    const sw = await get('/sw.js');
    expect(sw.headers.get('cache-control')).toBe('no-cache');
    expect(sw.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await get('/manifest.webmanifest')).headers.get('content-type')).toBe('application/manifest+json; charset=utf-8');
    expect((await get('/assets/index-abc123.js')).headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('gzips text for clients that accept it', async () => {
    const r = await get('/index.html', { 'accept-encoding': 'gzip, br' });
    expect(r.headers.get('content-encoding')).toBe('gzip');
    expect(Number(r.headers.get('content-length'))).toBeLessThan(2000);
  });

  it('answers browser navigations to dashboard routes with the shell, and nothing else', async () => {
    expect(await (await get('/settings/backups', { 'sec-fetch-mode': 'navigate', accept: 'text/html' })).text()).toContain('<title>Fazt</title>');
    expect(await serve(new Request('http://n.test/settings'), new URL('http://n.test/settings'))).toBeUndefined();
    expect(await serve(new Request('http://n.test/missing.js', { headers: { accept: 'text/html' } }), new URL('http://n.test/missing.js'))).toBeUndefined();
    expect(await serve(new Request('http://n.test/.secret'), new URL('http://n.test/.secret'))).toBeUndefined();
    expect(await serve(new Request('http://n.test/%2e%2e/x'), new URL('http://n.test/%2e%2e/x'))).toBeUndefined();
    expect(await serve(new Request('http://n.test/', { method: 'POST' }), new URL('http://n.test/'))).toBeUndefined();
  });

  it('serves a file rebuilt while the node runs', async () => {
    writeFileSync(join(dir, 'sw.js'), '// v2');
    utimesSync(join(dir, 'sw.js'), new Date(), new Date(Date.now() + 5000));
    expect(await (await get('/sw.js')).text()).toBe('// v2');
  });

  it('is off without a build, or with FAZT_WEB_DIR=builtin', () => {
    expect(pwaDashboard(join(dir, 'nothing-here'))).toBeUndefined();
    expect(webDir({ FAZT_WEB_DIR: 'builtin' })).toBeUndefined();
    expect(webDir({ FAZT_WEB_DIR: '/x' })).toBe('/x');
  });
});
