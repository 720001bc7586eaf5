/**
 * Integration tests of the admin API over real HTTP: token scopes, and the deploy → serve →
 * redeploy → rollback → rename → alias → remove life of an app, against the real node on a real
 * cartridge file.
 */
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createToken,
  deployZip,
  expectError,
  getFile,
  getOnHost,
  internalErrors,
  manifest,
  multipart,
  randomish,
  removeTempDirs,
  request,
  sha256,
  startTestNode,
  tempDir,
  zip,
  type FileSet,
  type TestNode,
} from './test-helpers.js';

let t: TestNode;
let admin: string;

beforeAll(async () => {
  t = await startTestNode();
  admin = createToken(t, 'admin', 'test-admin').token;
});

afterAll(async () => {
  await t?.stop();
  removeTempDirs();
});

const api = (path: string, options: Parameters<typeof request>[1] = {}) => request(`${t.url}${path}`, options);

/** Asserts every file is served back byte-identical (identity encoding) under `/a/NAME/` and on `NAME.localhost`. */
async function expectServed(name: string, files: FileSet): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    if (path === 'app.json') continue;
    const want = sha256(content);
    const a = await getFile(t, `/a/${name}/${path}`, { 'accept-encoding': 'identity' });
    expect(a.status, `/a/${name}/${path}`).toBe(200);
    expect(sha256(a.body), `/a/${name}/${path}`).toBe(want);
    expect(Number(a.headers['content-length'])).toBe(typeof content === 'string' ? Buffer.byteLength(content) : content.length);
    const h = await getOnHost(t, name, `/${path}`, { 'accept-encoding': 'identity' });
    expect(h.status, `${name}.localhost/${path}`).toBe(200);
    expect(sha256(h.body), `${name}.localhost/${path}`).toBe(want);
  }
}

async function expectGone(name: string): Promise<void> {
  expect((await getFile(t, `/a/${name}/`)).status).toBe(404);
  expect((await getOnHost(t, name, '/')).status).toBe(404);
  expectError(await api(`/api/apps/${name}`, { token: admin }), 404, 'APP_NOT_FOUND', new RegExp(`"${name}"`));
}

describe('tokens and scopes', () => {
  let deployToken: { id: string; token: string };

  beforeAll(async () => {
    const r = await deployZip(t, admin, zip({ 'app.json': manifest({ name: 'scoped' }), 'index.html': 'v1' }));
    expect(r.status).toBe(201);
    expect((await deployZip(t, admin, zip({ 'app.json': manifest({ name: 'scoped' }), 'index.html': 'v2' }))).status).toBe(200);
  });

  it('refuses a request without credentials with 401 UNAUTHORIZED', async () => {
    expectError(await api('/api/apps'), 401, 'UNAUTHORIZED', /Sign in, or send an API token/);
    expectError(await api('/api/tokens'), 401, 'UNAUTHORIZED');
    expectError(await api('/api/apps', { method: 'POST', headers: { 'content-type': 'application/zip' }, body: zip({ 'app.json': '{}' }) }), 401, 'UNAUTHORIZED');
  });

  it('refuses invalid tokens with 401 and a message saying what is wrong', async () => {
    expectError(await api('/api/apps', { token: 'fazt_' + 'A'.repeat(43) }), 401, 'UNAUTHORIZED', /Invalid or revoked API token/);
    expectError(await api('/api/apps', { token: 'ghp_notours' }), 401, 'UNAUTHORIZED', /not a Fazt API token/);
    expectError(await api('/api/apps', { headers: { authorization: 'Basic b3duZXI6cGFzc3dvcmQ=' } }), 401, 'UNAUTHORIZED', /Authorization: Bearer/);
    // A valid token with one character changed is unknown.
    const flipped = admin.slice(0, -1) + (admin.endsWith('A') ? 'B' : 'A');
    expectError(await api('/api/apps', { token: flipped }), 401, 'UNAUTHORIZED', /Invalid or revoked/);
  });

  it('lets an admin create a deploy token over the API; listing never shows secrets', async () => {
    const r = await api('/api/tokens', { method: 'POST', token: admin, json: { scope: 'deploy', name: 'ci' } });
    expect(r.status).toBe(201);
    const body = r.json();
    expect(body).toMatchObject({ scope: 'deploy', name: 'ci', lastUsedAt: null });
    expect(body.token).toMatch(/^fazt_[A-Za-z0-9_-]{43}$/);
    deployToken = { id: body.id, token: body.token };
    const list = await api('/api/tokens', { token: admin });
    expect(list.status).toBe(200);
    expect(list.json().tokens.map((x: { id: string; scope: string }) => [x.id, x.scope])).toContainEqual([deployToken.id, 'deploy']);
    expect(list.text()).not.toContain(deployToken.token);
    expect(list.text()).not.toContain(admin);
    expectError(await api('/api/tokens', { method: 'POST', token: admin, json: { scope: 'root' } }), 400, 'BAD_REQUEST', /"deploy", "admin", "mcp" or "mcp-read"/);
  });

  it('lets a deploy token deploy, list, read info, versions and files, and roll back', async () => {
    const tok = deployToken.token;
    const d = await deployZip(t, tok, zip({ 'app.json': manifest({ name: 'scoped' }), 'index.html': 'v3' }));
    expect(d.status).toBe(200);
    expect(d.json()).toMatchObject({ name: 'scoped', version: 3, created: false });
    const list = await api('/api/apps', { token: tok });
    expect(list.status).toBe(200);
    expect(list.json().apps.map((a: { name: string }) => a.name)).toContain('scoped');
    const info = await api('/api/apps/scoped', { token: tok });
    expect(info.status).toBe(200);
    expect(info.json()).toMatchObject({ name: 'scoped', currentVersion: 3, versions: 3, files: 2 });
    expect((await api('/api/apps/scoped/versions', { token: tok })).json().versions.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
    expect((await api('/api/apps/scoped/files', { token: tok })).json().files.map((f: { path: string }) => f.path)).toEqual(['app.json', 'index.html']);
    const rb = await api('/api/apps/scoped/rollback', { method: 'POST', token: tok, json: {} });
    expect(rb.status).toBe(200);
    expect(rb.json()).toMatchObject({ from: 3, to: 2, app: { name: 'scoped', currentVersion: 2 } });
    expect((await getFile(t, '/a/scoped/')).text()).toBe('v2');
  });

  it('gives a deploy token 403 FORBIDDEN on remove, rename, aliases, tokens and backup, and changes nothing', async () => {
    const tok = deployToken.token;
    const needAdmin = /needs a token with the "admin" scope; yours has "deploy"/;
    expectError(await api('/api/apps/scoped', { method: 'DELETE', token: tok }), 403, 'FORBIDDEN', needAdmin);
    expectError(await api('/api/apps/scoped/rename', { method: 'POST', token: tok, json: { name: 'taken-over' } }), 403, 'FORBIDDEN', needAdmin);
    expectError(await api('/api/apps/scoped/aliases', { method: 'POST', token: tok, json: { alias: 'sneaky' } }), 403, 'FORBIDDEN', needAdmin);
    expectError(await api('/api/tokens', { token: tok }), 403, 'FORBIDDEN', needAdmin);
    expectError(await api('/api/tokens', { method: 'POST', token: tok, json: { scope: 'admin' } }), 403, 'FORBIDDEN', needAdmin);
    expectError(await api(`/api/tokens/${deployToken.id}`, { method: 'DELETE', token: tok }), 403, 'FORBIDDEN', needAdmin);
    expectError(await api('/api/backup', { token: tok }), 403, 'FORBIDDEN', needAdmin);
    const info = (await api('/api/apps/scoped', { token: admin })).json();
    expect(info).toMatchObject({ name: 'scoped', aliases: ['scoped'], currentVersion: 2 });
    expect(t.node.kernel.auth.listTokens().filter((x) => x.scope === 'admin')).toHaveLength(1);
  });

  it('lets an admin token back up the cartridge: a real SQLite file that opens as a cartridge and serves the apps', async () => {
    const r = await api('/api/backup', { token: admin });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/vnd.sqlite3');
    expect(r.headers['content-disposition']).toMatch(/^attachment; filename="fazt-.*\.db"$/);
    expect(Number(r.headers['content-length'])).toBe(r.body.length);
    expect(r.body.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\u0000');
    const copy = join(tempDir(), 'backup.db');
    writeFileSync(copy, r.body);
    const restored = await startTestNode({ db: copy });
    try {
      const page = await request(`${restored.url}/a/scoped/`);
      expect(page.status).toBe(200);
      expect(page.text()).toBe('v2');
      expect(restored.node.kernel.apps.require('scoped').id).toBe(t.node.kernel.apps.require('scoped').id);
    } finally {
      await restored.stop();
    }
  });

  it('lets an admin rename, alias and remove; a revoked token then gets 401', async () => {
    expect((await api('/api/apps/scoped/rename', { method: 'POST', token: admin, json: { name: 'scoped2' } })).status).toBe(200);
    expect((await api('/api/apps/scoped2/aliases', { method: 'POST', token: admin, json: { alias: 'scoped-alias' } })).status).toBe(201);
    const del = await api('/api/apps/scoped2', { method: 'DELETE', token: admin });
    expect(del.status).toBe(200);
    expect(del.json().removed.name).toBe('scoped2');

    const revoke = await api(`/api/tokens/${deployToken.id}`, { method: 'DELETE', token: admin });
    expect(revoke.status).toBe(200);
    expectError(await api('/api/apps', { token: deployToken.token }), 401, 'UNAUTHORIZED', /Invalid or revoked API token/);
    expectError(await deployZip(t, deployToken.token, zip({ 'app.json': manifest({ name: 'late' }), 'index.html': 'x' })), 401, 'UNAUTHORIZED');
    expectError(await api(`/api/tokens/${deployToken.id}`, { method: 'DELETE', token: admin }), 404, 'NOT_FOUND');
    expect((await api('/api/tokens', { token: admin })).json().tokens.map((x: { id: string }) => x.id)).not.toContain(deployToken.id);
  });

  it('answers unknown API routes with 404 NOT_FOUND and wrong methods with 405', async () => {
    expectError(await api('/api/nope', { token: admin }), 404, 'NOT_FOUND');
    expectError(await api('/api/apps', { method: 'PUT', token: admin }), 405, 'METHOD_NOT_ALLOWED');
  });

  it('answers a Host header no URL can be made of with 400, not a logged 500', async () => {
    for (const host of ['exa mple', '[', 'a:b:c']) {
      expectError(await api('/api/health', { headers: { host } }), 400, 'BAD_REQUEST', /Malformed Host/);
    }
    expect(internalErrors(t)).toEqual([]);
    expect((await api('/api/health')).json()).toMatchObject({ ok: true });
  });
});

describe('deploy, serve, redeploy, rollback, rename, alias, remove', () => {
  const v1: FileSet = {
    'app.json': manifest({ name: 'site', title: 'The Site' }),
    'index.html': '<!doctype html><h1>version one</h1>',
    'css/style.css': 'body { color: #123456; }\n'.repeat(40),
    'img/photo.bin': randomish(600 * 1024, 7), // three 256 KiB chunks
    'deep/a/b/c/note.txt': 'deep file',
    'unicode/héllo wörld.txt': 'ünïcödé',
    'empty.txt': '',
  };
  const v2: FileSet = {
    'app.json': manifest({ name: 'site', title: 'The Site, again' }),
    'index.html': '<!doctype html><h1>version two</h1>',
    'new.txt': 'only in v2',
  };
  let id: string;

  it('deploys a zip (201) and reports id, name, version, files, bytes and URLs', async () => {
    const r = await deployZip(t, admin, zip(v1));
    expect(r.status).toBe(201);
    const body = r.json();
    id = body.id;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const bytes = Object.values(v1).reduce((s, v) => s + (typeof v === 'string' ? Buffer.byteLength(v) : v.length), 0);
    expect(body).toMatchObject({ name: 'site', version: 1, created: true, files: Object.keys(v1).length, bytes, warnings: [] });
    expect(body.urls).toEqual([`http://site.localhost:${t.port}/`, `${t.url}/a/site/`]);
  });

  it('serves every file byte-identical at /a/site/… and on site.localhost', async () => {
    await expectServed('site', v1);
    const index = await getFile(t, '/a/site/');
    expect(index.status).toBe(200);
    expect(index.text()).toBe(v1['index.html']);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect((await getOnHost(t, 'site', '/')).text()).toBe(v1['index.html']);
    const empty = await getFile(t, '/a/site/empty.txt');
    expect([empty.status, empty.body.length, empty.headers['content-length']]).toEqual([200, 0, '0']);
    const redirect = await getFile(t, '/a/site');
    expect([redirect.status, redirect.headers.location]).toEqual([301, '/a/site/']);
    const unicode = await getFile(t, `/a/site/${encodeURIComponent('unicode')}/${encodeURIComponent('héllo wörld.txt')}`);
    expect(unicode.text()).toBe('ünïcödé');
  });

  it('serves precompressed text that decodes to the same bytes, and never serves app.json', async () => {
    const br = await getFile(t, '/a/site/css/style.css', { 'accept-encoding': 'br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).toString()).toBe(v1['css/style.css']);
    const gz = await getFile(t, '/a/site/css/style.css', { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(v1['css/style.css']);
    expect((await getFile(t, '/a/site/app.json')).status).toBe(404);
    expect((await getOnHost(t, 'site', '/app.json')).status).toBe(404);
  });

  it('lists the files with sizes and SHA-256 hashes, and shows the app', async () => {
    const r = await api('/api/apps/site/files', { token: admin });
    expect(r.status).toBe(200);
    const files = r.json().files as { path: string; size: number; hash: string }[];
    expect(files.map((f) => f.path)).toEqual(Object.keys(v1).sort());
    for (const f of files) expect([f.path, f.hash]).toEqual([f.path, sha256(v1[f.path]!)]);
    const info = (await api('/api/apps/site', { token: admin })).json();
    expect(info).toMatchObject({ id, name: 'site', title: 'The Site', currentVersion: 1, versions: 1, aliases: ['site'], manifest: { name: 'site', spa: false } });
  });

  it('deploys a multipart file set named by relative paths', async () => {
    const files: FileSet = {
      'app.json': manifest({ name: 'multi' }),
      'index.html': '<p>multipart</p>',
      'js/app.js': 'console.log("hi")',
      'assets/blob.bin': randomish(300 * 1024, 3),
    };
    const mp = await multipart(files);
    const r = await api('/api/apps', { method: 'POST', token: admin, headers: { 'content-type': mp.contentType }, body: mp.body });
    expect(r.status).toBe(201);
    expect(r.json()).toMatchObject({ name: 'multi', version: 1, files: 4 });
    await expectServed('multi', files);
    const listed = (await api('/api/apps/multi/files', { token: admin })).json().files.map((f: { path: string }) => f.path);
    expect(listed).toEqual(['app.json', 'assets/blob.bin', 'index.html', 'js/app.js']);
  });

  it('strips a single top folder that holds app.json (a zipped folder)', async () => {
    const r = await deployZip(
      t,
      admin,
      zip({ 'project-main/app.json': manifest({ name: 'folded' }), 'project-main/index.html': 'folded!', 'project-main/js/x.js': 'x()' }),
    );
    expect(r.status).toBe(201);
    const listed = (await api('/api/apps/folded/files', { token: admin })).json().files.map((f: { path: string }) => f.path);
    expect(listed).toEqual(['app.json', 'index.html', 'js/x.js']);
    expect((await getFile(t, '/a/folded/')).text()).toBe('folded!');
    expect((await getFile(t, '/a/folded/js/x.js')).text()).toBe('x()');
    expect((await getFile(t, '/a/folded/project-main/index.html')).status).toBe(404);
  });

  it('redeploys as version 2 of the same app (200, same id) and serves the new files', async () => {
    const r = await deployZip(t, admin, zip(v2));
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ id, name: 'site', version: 2, created: false });
    await expectServed('site', v2);
    expect((await getFile(t, '/a/site/deep/a/b/c/note.txt')).status).toBe(404);
    const versions = (await api('/api/apps/site/versions', { token: admin })).json().versions;
    expect(versions.map((v: { version: number; current: boolean }) => [v.version, v.current])).toEqual([
      [2, true],
      [1, false],
    ]);
    expect((await api('/api/apps/site', { token: admin })).json().title).toBe('The Site, again');
  });

  it('rolls back to version 1 and serves its files byte-identical again', async () => {
    const r = await api('/api/apps/site/rollback', { method: 'POST', token: admin, json: {} });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ from: 2, to: 1, app: { id, currentVersion: 1 } });
    await expectServed('site', v1);
    expect((await getFile(t, '/a/site/new.txt')).status).toBe(404);
    expectError(await api('/api/apps/site/rollback', { method: 'POST', token: admin, json: {} }), 404, 'VERSION_NOT_FOUND', /no version before 1/);
    expectError(await api('/api/apps/site/rollback', { method: 'POST', token: admin, json: { version: 9 } }), 404, 'VERSION_NOT_FOUND', /no version 9/);
    expectError(await api('/api/apps/site/rollback', { method: 'POST', token: admin, json: { version: '2' } }), 400, 'BAD_REQUEST');
    const files2 = await api('/api/apps/site/files?version=2', { token: admin });
    expect(files2.json().files.map((f: { path: string }) => f.path)).toEqual(['app.json', 'index.html', 'new.txt']);
    expect((await api('/api/apps/site', { token: admin })).json().currentVersion).toBe(1);
  });

  it('renames: same id, same files at the new name, the old name 404s', async () => {
    const r = await api('/api/apps/site/rename', { method: 'POST', token: admin, json: { name: 'site-renamed' } });
    expect(r.status).toBe(200);
    expect(r.json().app).toMatchObject({ id, name: 'site-renamed', aliases: ['site-renamed'], currentVersion: 1 });
    await expectServed('site-renamed', v1);
    await expectGone('site');
    const byId = await api(`/api/apps/${id}`, { token: admin });
    expect(byId.json()).toMatchObject({ id, name: 'site-renamed', versions: 2 });
    expectError(await api('/api/apps/site-renamed/rename', { method: 'POST', token: admin, json: { name: 'multi' } }), 409, 'NAME_TAKEN', /"multi"/);
    expectError(await api('/api/apps/site-renamed/rename', { method: 'POST', token: admin, json: { name: 'admin' } }), 422, 'RESERVED_NAME');
    expectError(await api('/api/apps/site-renamed/rename', { method: 'POST', token: admin, json: { name: 'Not OK' } }), 422, 'INVALID_NAME');
  });

  it('adds an alias that serves the same app, and removes it again', async () => {
    const r = await api('/api/apps/site-renamed/aliases', { method: 'POST', token: admin, json: { alias: 'blog' } });
    expect(r.status).toBe(201);
    expect(r.json().app).toMatchObject({ id, name: 'site-renamed', aliases: ['site-renamed', 'blog'] });
    await expectServed('blog', v1);
    expect((await api('/api/apps/blog', { token: admin })).json().id).toBe(id);
    expectError(await api('/api/apps/multi/aliases', { method: 'POST', token: admin, json: { alias: 'blog' } }), 409, 'NAME_TAKEN');
    expectError(await api('/api/apps/site-renamed/aliases/site-renamed', { method: 'DELETE', token: admin }), 409, 'CONFLICT', /rename the app instead/);
    expectError(await api('/api/apps/multi/aliases/blog', { method: 'DELETE', token: admin }), 404, 'NOT_FOUND', /not an alias of "multi"/);
    const del = await api('/api/apps/site-renamed/aliases/blog', { method: 'DELETE', token: admin });
    expect(del.status).toBe(200);
    expect(del.json().app.aliases).toEqual(['site-renamed']);
    expect((await getFile(t, '/a/blog/')).status).toBe(404);
    expect((await getOnHost(t, 'blog', '/')).status).toBe(404);
    expect((await getFile(t, '/a/site-renamed/')).status).toBe(200);
  });

  it('removes the app: its pages 404, the API answers 404 APP_NOT_FOUND, its files are freed', async () => {
    await api('/api/apps/site-renamed/aliases', { method: 'POST', token: admin, json: { alias: 'blog' } });
    t.node.kernel.logs.append(id, { level: 'info', message: 'a log line of the app' });
    expect(t.node.kernel.logs.tail(id, 10)).toHaveLength(1);
    const r = await api('/api/apps/site-renamed', { method: 'DELETE', token: admin });
    expect(r.status).toBe(200);
    expect(r.json().removed).toEqual({ id, name: 'site-renamed' });
    expect(r.json().freed.blobs).toBeGreaterThan(0);
    await expectGone('site-renamed');
    await expectGone('blog');
    expectError(await api(`/api/apps/${id}`, { token: admin }), 404, 'APP_NOT_FOUND');
    expectError(await api('/api/apps/site-renamed', { method: 'DELETE', token: admin }), 404, 'APP_NOT_FOUND');
    expect((await api('/api/apps', { token: admin })).json().apps.map((a: { name: string }) => a.name)).not.toContain('site-renamed');
    // its logs went with it
    expect(t.node.kernel.logs.tail(id, 10)).toEqual([]);
    // The photo was only in this app: its chunks are gone from the cartridge.
    const photoHash = sha256(v1['img/photo.bin']!);
    expect(t.node.file.db.get('SELECT 1 FROM vfs_blobs WHERE hash = ?', [photoHash])).toBeUndefined();
  });

  it('gives a removed name to a new app with a new id', async () => {
    const r = await deployZip(t, admin, zip({ 'app.json': manifest({ name: 'site-renamed' }), 'index.html': 'reborn' }));
    expect(r.status).toBe(201);
    expect(r.json()).toMatchObject({ name: 'site-renamed', version: 1, created: true });
    expect(r.json().id).not.toBe(id);
    expect((await getFile(t, '/a/site-renamed/')).text()).toBe('reborn');
  });

  it('logged no internal errors', () => {
    expect(internalErrors(t)).toEqual([]);
  });
});
