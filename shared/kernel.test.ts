import { beforeAll, describe, expect, it } from 'vitest';
import { drivers } from './testing/drivers.js';
import { makeZip, sameBytes, streamOf } from './testing/zip.js';
import { openCartridge } from './cartridge/index.js';
import { createKernel, type Kernel } from './kernel.js';
import { createFetch } from './http/index.js';
import { CHUNK_SIZE } from './vfs/blobs.js';
import { docIndexName } from './storage/index.js';

/** The kernel, host-neutral: the same behaviour on sql.js (browser host) and better-sqlite3 (Node host). */

const big = new Uint8Array(CHUNK_SIZE * 3 + 12345).map((_, i) => (i * 7919) % 251);
const site = {
  'app.json': JSON.stringify({ name: 'site', title: 'Site', spa: false }),
  'index.html': '<!doctype html><h1>home</h1>',
  'docs/index.html': '<h1>docs</h1>',
  'about.html': '<h1>about</h1>',
  'assets/app.3f9c2b1a.js': 'console.log("' + 'x'.repeat(2000) + '")',
  'style.css': 'body{color:red}'.repeat(100),
  'media/big.bin': big,
  '404.html': '<h1>custom 404</h1>',
  '.env': 'SECRET=1',
  'api/main.js': 'export default {}',
};

async function deploy(k: Kernel, files: Record<string, string | Uint8Array>, name?: string) {
  return k.deployApp({ body: streamOf(makeZip(files)), contentType: 'application/zip', name });
}
const get = (k: Kernel, path: string, headers: Record<string, string> = {}, host = 'node.test') =>
  createFetch(k)(new Request(`http://${host}${path}`, { headers }), { peer: '127.0.0.1' });

for (const d of drivers) {
  describe(`kernel static hosting on ${d.name}`, () => {
    let k: Kernel;
    beforeAll(async () => {
      k = createKernel({ cartridge: openCartridge(await d.open()), domain: 'node.test' });
      const r = await deploy(k, site);
      expect(r).toMatchObject({ name: 'site', version: 1, created: true, files: 10 });
    });

    it('serves files byte-identical with type, length, strong ETag and nosniff', async () => {
      const res = await get(k, '/a/site/media/big.bin');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      expect(res.headers.get('content-length')).toBe(String(big.length));
      expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(sameBytes(new Uint8Array(await res.arrayBuffer()), big)).toBe(true);
    });

    it('serves on the subdomain too, without the sandbox CSP', async () => {
      const res = await get(k, '/docs/', {}, 'site.node.test');
      expect(await res.text()).toBe('<h1>docs</h1>');
      expect(res.headers.get('content-security-policy')).toBeNull();
      const onPath = await get(k, '/a/site/docs/');
      expect(onPath.headers.get('content-security-policy')).toMatch(/^sandbox allow-scripts/);
    });

    it('answers If-None-Match with 304', async () => {
      const first = await get(k, '/a/site/index.html');
      const res = await get(k, '/a/site/index.html', { 'if-none-match': first.headers.get('etag')! });
      expect(res.status).toBe(304);
      expect(await res.text()).toBe('');
    });

    it('serves byte ranges across chunk boundaries (206) and refuses unsatisfiable ones (416)', async () => {
      const start = CHUNK_SIZE - 10;
      const end = CHUNK_SIZE * 2 + 10;
      const res = await get(k, '/a/site/media/big.bin', { range: `bytes=${start}-${end}` });
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${big.length}`);
      expect(sameBytes(new Uint8Array(await res.arrayBuffer()), big.slice(start, end + 1))).toBe(true);
      const suffix = await get(k, '/a/site/media/big.bin', { range: 'bytes=-100' });
      expect(sameBytes(new Uint8Array(await suffix.arrayBuffer()), big.slice(-100))).toBe(true);
      const huge = await get(k, '/a/site/media/big.bin', { range: 'bytes=0-10737418240' });
      expect(huge.status).toBe(206);
      expect(huge.headers.get('content-length')).toBe(String(big.length));
      await huge.body?.cancel();
      const past = await get(k, '/a/site/media/big.bin', { range: 'bytes=10737418240-' });
      expect(past.status).toBe(416);
      expect(past.headers.get('content-range')).toBe(`bytes */${big.length}`);
    });

    it('ignores Range when If-Range does not match the ETag', async () => {
      const res = await get(k, '/a/site/media/big.bin', { range: 'bytes=0-9', 'if-range': '"stale"' });
      expect(res.status).toBe(200);
      await res.body?.cancel();
    });

    it('serves precompressed gzip to clients that accept it, with Vary', async () => {
      const res = await get(k, '/a/site/style.css', { 'accept-encoding': 'gzip' });
      expect(res.headers.get('content-encoding')).toBe('gzip');
      expect(res.headers.get('vary')).toBe('Accept-Encoding');
      const text = await new Response(res.body!.pipeThrough(new DecompressionStream('gzip'))).text();
      expect(text).toBe(site['style.css']);
      const plain = await get(k, '/a/site/style.css');
      expect(plain.headers.get('content-encoding')).toBeNull();
    });

    it('caches fingerprinted assets forever and revalidates HTML', async () => {
      expect((await get(k, '/a/site/assets/app.3f9c2b1a.js')).headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect((await get(k, '/a/site/')).headers.get('cache-control')).toBe('no-cache');
    });

    it('redirects folders to their slash form, serves clean URLs and the custom 404', async () => {
      const redirect = await get(k, '/a/site/docs?x=1');
      expect(redirect.status).toBe(301);
      expect(redirect.headers.get('location')).toBe('/a/site/docs/?x=1');
      expect(await (await get(k, '/a/site/about')).text()).toBe('<h1>about</h1>');
      const missing = await get(k, '/a/site/nope');
      expect(missing.status).toBe(404);
      expect(await missing.text()).toBe('<h1>custom 404</h1>');
      expect((await get(k, '/a/site')).headers.get('location')).toBe('/a/site/');
    });

    it('never serves app.json, api/ sources or dot-files, and refuses traversal', async () => {
      for (const p of ['/a/site/app.json', '/a/site/.env']) expect((await get(k, p)).status, p).toBe(404);
      // api/ paths belong to the app's server code (here: no runtime configured), never to its sources
      const api = await get(k, '/a/site/api/main.js');
      expect(api.status).toBe(501);
      expect(await api.text()).not.toContain('export default');
      // The URL parser resolves dot segments before routing: this lands outside the app, never in it.
      const dots = await get(k, '/a/site/%2e%2e/%2e%2e/app.json');
      expect(dots.status).toBe(404);
      expect(await dots.text()).not.toContain('"name"');
      expect((await get(k, '/a/site/..%2f..%2fapp.json')).status).toBe(400);
      expect((await get(k, '/a/site/docs%5c..%5capp.json')).status).toBe(400);
      expect((await get(k, '/a/site/a%00b')).status).toBe(400);
    });

    it('falls back to index.html for SPA routes when app.json asks for it', async () => {
      await deploy(k, { 'app.json': JSON.stringify({ name: 'spa', spa: true }), 'index.html': 'SPA' });
      const res = await get(k, '/a/spa/settings/profile', { accept: 'text/html' });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('SPA');
      expect((await get(k, '/a/spa/missing.js', { accept: '*/*' })).status).toBe(404);
    });

    it('keeps every version and rolls back to the previous one', async () => {
      await deploy(k, { 'app.json': '{"name":"ver"}', 'index.html': 'one' });
      await deploy(k, { 'app.json': '{"name":"ver"}', 'index.html': 'two' });
      expect(await (await get(k, '/a/ver/')).text()).toBe('two');
      const r = k.rollbackApp('ver');
      expect(r).toMatchObject({ from: 2, to: 1 });
      expect(await (await get(k, '/a/ver/')).text()).toBe('one');
      expect(k.apps.versions(r.app.id).map((v) => [v.version, v.current])).toEqual([
        [2, false],
        [1, true],
      ]);
    });

    it('removing an app frees its blobs', async () => {
      const unique = new Uint8Array(50_000).map((_, i) => (i * 31) % 256);
      await deploy(k, { 'app.json': '{"name":"gone"}', 'blob.bin': unique });
      const before = k.cartridge.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM vfs_blobs')!.n;
      const gc = k.removeApp('gone').freed!;
      expect(gc.blobs).toBeGreaterThanOrEqual(2); // blob.bin and app.json
      expect(k.cartridge.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM vfs_blobs')!.n).toBe(before - gc.blobs);
      expect((await get(k, '/a/gone/')).status).toBe(404);
    });

    it('stores identical files once (content addressing)', async () => {
      const chunks = () => k.cartridge.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM vfs_chunks')!.n;
      const before = chunks();
      await deploy(k, { 'app.json': '{"name":"copy"}', 'same.bin': big });
      expect(chunks()).toBe(before + 1); // only the new app.json
    });
  });
}

describe('apps open in their own origin', () => {
  it('redirects browser navigations on /a/<name>/ to the subdomain when the client can resolve it, else serves sandboxed', async () => {
    const d = drivers[0]!;
    const k = createKernel({ cartridge: openCartridge(await d.open()), domain: 'localhost' });
    await deploy(k, { 'app.json': '{"name":"blog"}', 'index.html': 'hi', 'docs/a.html': 'a' });
    const nav = { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
    const go = (host: string, headers: Record<string, string>) => createFetch(k)(new Request(`http://${host}/a/blog/docs/a.html?q=1`, { headers }));
    for (const host of ['localhost:8080', '127.0.0.1:8080']) {
      const r = await go(host, nav);
      expect(r.status, host).toBe(302);
      expect(r.headers.get('location')).toBe('http://blog.localhost:8080/docs/a.html?q=1');
    }
    // a LAN address: subdomains may not resolve for the client, serve in place, sandboxed
    const lan = await go('192.168.1.20:8080', nav);
    expect(lan.status).toBe(200);
    expect(lan.headers.get('content-security-policy')).toMatch(/^sandbox /);
    // subresources and non-browser clients are served in place
    expect((await go('localhost:8080', { 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' })).status).toBe(200);
    expect((await go('localhost:8080', {})).status).toBe(200);
  });
});

describe('use cases own their effects', () => {
  it('a deploy syncs cron jobs, creates doc indexes, grants what the owner approved and collects replaced blobs; rollback and removal follow', async () => {
    const k = createKernel({ cartridge: openCartridge(await drivers[0]!.open()) });
    const upload = (manifest: object, html: string, grant?: 'all' | string[]) =>
      k.deployApp({ body: streamOf(makeZip({ 'app.json': JSON.stringify(manifest), 'index.html': html })), contentType: 'application/zip', grant });
    const v1 = { name: 'fx', permissions: ['ai', 'net:example.com'], schedule: [{ name: 'tick', cron: '*/5 * * * *' }], docs: { indexes: { notes: ['tag'] } } };
    const r = await upload(v1, 'one '.repeat(100), ['ai']);
    expect(k.jobs.list(r.id).map((j) => j.name)).toEqual(['tick']);
    expect(r.permissions).toEqual({ requested: ['ai', 'net:example.com'], granted: ['ai'], pending: ['net:example.com'], dormant: [] });
    const index = docIndexName(r.id, 'notes', 'tag');
    expect(k.cartridge.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'index' AND name = ?", [index])!.n).toBe(1);
    const blobs = () => k.cartridge.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM vfs_blobs')!.n;
    const before = blobs();
    // a refused upload removes what it staged before it answers
    await expect(upload({ name: 'fx', schedule: [{ cron: 'not a cron' }] }, 'refused '.repeat(100))).rejects.toThrow();
    expect(blobs()).toBe(before);
    // v2 drops the schedule: the job goes
    const r2 = await upload({ name: 'fx', permissions: ['ai'] }, 'two '.repeat(100));
    expect(k.jobs.list(r.id)).toEqual([]);
    expect(r2.permissions).toEqual({ requested: ['ai'], granted: ['ai'], pending: [], dormant: [] });
    expect(k.collectGarbage()).toEqual({ blobs: 0, chunks: 0 }); // the deploy collected the blobs v2 replaced itself
    k.rollbackApp('fx');
    expect(k.jobs.list(r.id).map((j) => j.name)).toEqual(['tick']);
    expect(k.grantPermissions('fx', 'all')).toEqual(['ai', 'net:example.com']);
    expect(k.permissionStatus(r.id).pending).toEqual([]);
    k.revokePermission('fx', 'net:example.com');
    expect(() => k.revokePermission('fx', 'net:example.com')).toThrow(/not granted/);
    expect(() => k.grantPermissions('fx', ['Not A Permission'])).toThrow(/not a permission/);
    const removed = k.removeApp('fx');
    expect(removed.app.id).toBe(r.id);
    expect(k.jobs.list(r.id)).toEqual([]);
    expect(removed.freed!.blobs).toBeGreaterThanOrEqual(4);
  });

  it('a refused grant in a deploy deploys nothing', async () => {
    const k = createKernel({ cartridge: openCartridge(await drivers[0]!.open()) });
    await expect(
      k.deployApp({ body: streamOf(makeZip({ 'app.json': '{"name":"nogo"}', 'index.html': 'x' })), contentType: 'application/zip', grant: ['BAD PERM'] }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(k.apps.list()).toEqual([]);
  });

  it('setSecret and removeSecret report what they did', async () => {
    const k = createKernel({ cartridge: openCartridge(await drivers[0]!.open()) });
    await deploy(k, { 'app.json': '{"name":"sec"}', 'index.html': 'x' });
    expect(k.setSecret('sec', 'TOKEN', 'a')).toMatchObject({ created: true });
    expect(k.setSecret('sec', 'TOKEN', 'b')).toMatchObject({ created: false });
    expect(k.secrets.all(k.apps.require('sec').id)).toEqual({ TOKEN: 'b' });
    k.removeSecret('sec', 'TOKEN');
    expect(() => k.removeSecret('sec', 'TOKEN')).toThrow(/has no secret TOKEN/);
  });
});
