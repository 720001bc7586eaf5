/**
 * Hostile and broken deploys against the real node (small limits): every one is refused with a clear
 * JSON error and changes nothing — the app's live version stays the same and is served
 * byte-identical. Also: concurrent deploys of one app, a deploy under another app's alias, and
 * Range requests far outside a file.
 */
import { inflateRawSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  craftZip,
  createToken,
  deflatedZeros,
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
  zip,
  type FileSet,
  type TestNode,
} from './test-helpers.js';

const MiB = 1024 * 1024;
const LIMITS = { maxUploadBytes: 4 * MiB, maxTotalBytes: 10 * MiB, maxFiles: 20 };

let t: TestNode;
let admin: string;

/** The app every bad deploy aims at, and what it must keep serving. */
const VICTIM: FileSet = {
  'app.json': manifest({ name: 'victim', title: 'Victim' }),
  'index.html': '<!doctype html><title>victim</title><p>the original, version 1</p>',
  'data.bin': randomish(700 * 1024, 42), // spans 3 chunks
  'about/index.html': '<p>about</p>',
};
let victimId: string;
let baselineApps: string[];

const enc = (s: string) => new TextEncoder().encode(s);
const api = (path: string, options: Parameters<typeof request>[1] = {}) => request(`${t.url}${path}`, options);
const appNames = async () => (await api('/api/apps', { token: admin })).json().apps.map((a: { name: string }) => a.name) as string[];
const post = (body: Uint8Array | string | AsyncIterable<Uint8Array>, contentType: string | undefined, query = '') =>
  api(`/api/apps${query}`, { method: 'POST', token: admin, headers: contentType ? { 'content-type': contentType } : {}, body });

/** The victim is still at version 1, alone, every file byte-identical; no app appeared or vanished. */
async function expectNothingChanged(): Promise<void> {
  const info = await api('/api/apps/victim', { token: admin });
  expect(info.status).toBe(200);
  expect(info.json()).toMatchObject({ id: victimId, name: 'victim', currentVersion: 1, versions: 1, files: 4, aliases: ['victim'] });
  const files = (await api('/api/apps/victim/files', { token: admin })).json().files as { path: string; hash: string }[];
  expect(files.map((f) => [f.path, f.hash])).toEqual(Object.keys(VICTIM).sort().map((p) => [p, sha256(VICTIM[p]!)]));
  for (const p of ['index.html', 'data.bin', 'about/index.html']) {
    const r = await getFile(t, `/a/victim/${p}`, { 'accept-encoding': 'identity' });
    expect([p, r.status, sha256(r.body)]).toEqual([p, 200, sha256(VICTIM[p]!)]);
  }
  expect((await getOnHost(t, 'victim', '/')).text()).toBe(VICTIM['index.html']);
  expect(await appNames()).toEqual(baselineApps);
}

beforeAll(async () => {
  t = await startTestNode({ limits: LIMITS });
  admin = createToken(t, 'admin').token;
  const r = await deployZip(t, admin, zip(VICTIM));
  expect(r.status).toBe(201);
  victimId = r.json().id;
  baselineApps = await appNames();
});

afterAll(async () => {
  await t?.stop();
  removeTempDirs();
});

describe('refused uploads change nothing', () => {
  afterEach(async () => {
    await expectNothingChanged();
    expect(internalErrors(t)).toEqual([]);
  });

  const app = enc(manifest({ name: 'victim' }));
  const page = enc('<p>evil</p>');

  it.each([
    ['../x', /climbs out of the app folder/],
    ['index.html/../../x', /climbs out/],
    ['/abs', /absolute path/],
    ['/etc/passwd', /absolute path/],
    ['a\\b', /backslash/],
    ['..\\..\\windows\\x', /backslash/],
    ['a\u0000b', /NUL or control character/],
    ['a\u007fb', /NUL or control character/],
    ['next\u0085line.html', /NUL or control character/], // C1 NEL
    ['\u009b2Jcleared.html', /NUL or control character/], // C1 CSI: clears a terminal listing the files
    ['x\u0080\u009f.txt', /NUL or control character/],
    ['C:/x', /drive letter/],
    ['c:x', /drive letter/],
    ['a//b', /empty segment/],
    ['./a/./b', /"\." segment/],
  ])('refuses the zip entry %j with 400 UNSAFE_PATH', async (name, why) => {
    // The unsafe entry comes after good ones, so they were already staged when it is met.
    const archive = craftZip([
      { name: 'app.json', data: app },
      { name: 'index.html', data: page },
      { name, data: enc('payload') },
    ]);
    const e = expectError(await deployZip(t, admin, archive), 400, 'UNSAFE_PATH', why);
    expect(e.message).toMatch(/Nothing was deployed/);
  });

  it('refuses an unsafe file name in a multipart upload with 400 UNSAFE_PATH', async () => {
    const mp = await multipart({ 'app.json': app, 'index.html': page, '../../escape.html': page });
    expectError(await post(mp.body, mp.contentType), 400, 'UNSAFE_PATH', /climbs out/);
  });

  it('stops a zip bomb (a 256 MiB entry of zeros in 1.6 MiB) with 413, quickly, without buffering it', async () => {
    const zeros = 256 * MiB;
    const bomb = craftZip([
      { name: 'app.json', data: app },
      { name: 'index.html', data: page },
      { name: 'zeros.bin', deflated: deflatedZeros(zeros), size: zeros },
    ]);
    expect(bomb.length).toBeLessThan(LIMITS.maxUploadBytes);
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
    const started = Date.now();
    const r = await deployZip(t, admin, bomb);
    const elapsed = Date.now() - started;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    expectError(r, 413, 'PAYLOAD_TOO_LARGE', /more than 10 MiB once unpacked/);
    expect(elapsed).toBeLessThan(5000);
    // Inflating the whole entry would cost ≥ 256 MiB; the node stops after ~10 MiB.
    expect((peak - before) / MiB).toBeLessThan(100);
  });

  it('also stops a bomb that declares a tiny uncompressed size', async () => {
    const bomb = craftZip([
      { name: 'app.json', data: app },
      { name: 'liar.bin', deflated: deflatedZeros(64 * MiB), size: 10 },
    ]);
    expectError(await deployZip(t, admin, bomb), 413, 'PAYLOAD_TOO_LARGE', /once unpacked/);
  });

  it('refuses an upload over maxUploadBytes announced by Content-Length with 413 before reading it', async () => {
    const big = zip({ 'app.json': app, 'big.bin': randomish(LIMITS.maxUploadBytes + 64 * 1024, 9) });
    expect(big.length).toBeGreaterThan(LIMITS.maxUploadBytes);
    const started = Date.now();
    const r = await deployZip(t, admin, big);
    expectError(r, 413, 'PAYLOAD_TOO_LARGE', new RegExp(`\\(${big.length} bytes\\) is larger than the limit \\(${LIMITS.maxUploadBytes} bytes\\)`));
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('refuses a streamed (chunked, no Content-Length) upload once it passes maxUploadBytes', async () => {
    const piece = randomish(64 * 1024, 5);
    const head = zip({ 'app.json': app });
    let sent = 0;
    async function* body() {
      yield head.subarray(0, head.length - 22); // a zip that never ends …
      for (let i = 0; i < 200; i++) {
        // … followed by 12.5 MiB of noise, unless the node answers first
        sent += piece.length;
        yield piece;
        await new Promise((r) => setImmediate(r));
      }
    }
    const r = await post(body(), 'application/zip');
    expectError(r, 413, 'PAYLOAD_TOO_LARGE', /larger than 4\.0 MiB/);
    expect(sent).toBeLessThan(200 * piece.length); // the node answered before the client finished
  });

  it('refuses a multipart upload over maxUploadBytes with 413', async () => {
    const mp = await multipart({ 'app.json': app, 'big.bin': randomish(LIMITS.maxUploadBytes + 1024, 11) });
    expectError(await post(mp.body, mp.contentType), 413, 'PAYLOAD_TOO_LARGE');
    async function* streamed() {
      for (let off = 0; off < mp.body.length; off += 256 * 1024) yield mp.body.subarray(off, off + 256 * 1024);
    }
    expectError(await post(streamed(), mp.contentType), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('refuses more than maxFiles files with 413 TOO_MANY_FILES (zip and multipart)', async () => {
    const files: FileSet = { 'app.json': app };
    for (let i = 0; i < LIMITS.maxFiles + 5; i++) files[`f${i}.txt`] = `file ${i}`;
    expectError(await deployZip(t, admin, zip(files)), 413, 'TOO_MANY_FILES', /more than 20 files/);
    const mp = await multipart(files);
    expectError(await post(mp.body, mp.contentType), 413, 'TOO_MANY_FILES');
  });

  it('refuses an upload without app.json and without a name with 422 MISSING_MANIFEST', async () => {
    expectError(await deployZip(t, admin, zip({ 'index.html': page })), 422, 'MISSING_MANIFEST', /no app\.json at its top level and no name was given: pass one \(`\?name=blog`/);
    // a top folder that is not an app name does not name the app
    expectError(await deployZip(t, admin, zip({ 'My Site/index.html': page })), 422, 'INVALID_NAME', /takes its name from its folder "My Site".*\?name=blog/);
    // app.json in a subfolder that is not the only top folder does not count
    expectError(await deployZip(t, admin, zip({ 'sub/app.json': app, 'index.html': page })), 422, 'MISSING_MANIFEST');
    const mp = await multipart({ 'index.html': page });
    expectError(await post(mp.body, mp.contentType), 422, 'MISSING_MANIFEST');
  });

  it('refuses app.json that is not JSON with 422 INVALID_MANIFEST naming the problem', async () => {
    expectError(await deployZip(t, admin, zip({ 'app.json': '{"name": "victim",', 'index.html': page })), 422, 'INVALID_MANIFEST', /app\.json is not valid JSON: .+/);
    expectError(await deployZip(t, admin, zip({ 'app.json': '["victim"]', 'index.html': page })), 422, 'INVALID_MANIFEST', /must be a JSON object/);
    expectError(await deployZip(t, admin, zip({ 'app.json': new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), 'index.html': page })), 422, 'INVALID_MANIFEST', /not valid JSON/);
  });

  it('refuses a schema-invalid app.json with 422 INVALID_MANIFEST naming the field', async () => {
    expectError(await deployZip(t, admin, zip({ 'app.json': manifest({ name: 'victim', spa: 'yes' }), 'index.html': page })), 422, 'INVALID_MANIFEST', /spa: /);
    expectError(
      await deployZip(t, admin, zip({ 'app.json': manifest({ name: 'victim', permissions: ['Root Access'] }), 'index.html': page })),
      422,
      'INVALID_MANIFEST',
      /permissions\.0: /,
    );
    expectError(await deployZip(t, admin, zip({ 'app.json': manifest({ title: 'no name' }), 'index.html': page })), 422, 'INVALID_MANIFEST', /no name/);
  });

  it.each(['api', 'admin', 'www'])('refuses the reserved name %s with 422 RESERVED_NAME (manifest and ?name=)', async (name) => {
    expectError(await deployZip(t, admin, zip({ 'app.json': manifest({ name }), 'index.html': page })), 422, 'RESERVED_NAME', new RegExp(`"${name}" is reserved`));
    expectError(await deployZip(t, admin, zip({ 'app.json': app, 'index.html': page }), name), 422, 'RESERVED_NAME');
  });

  it.each(['Bad_Name', '-x', 'x-', 'a.b', 'x'.repeat(64), ''])('refuses the invalid name %j (?name=) with 422 INVALID_NAME', async (name) => {
    // `?name=` (empty) is an invalid name too, not "no name given"
    const r = await post(zip({ 'app.json': app, 'index.html': page }), 'application/zip', `?name=${encodeURIComponent(name)}`);
    expectError(r, 422, 'INVALID_NAME', /lowercase letters, digits or hyphens/);
  });

  it('refuses an invalid name inside app.json with 422 (as a manifest error naming the field)', async () => {
    for (const name of ['Bad_Name', '-x']) {
      expectError(await deployZip(t, admin, zip({ 'app.json': manifest({ name }), 'index.html': page })), 422, 'INVALID_MANIFEST', /name: use 1–63 lowercase/);
    }
  });

  it('refuses a body that is not a zip with 400 BAD_ARCHIVE', async () => {
    expectError(await post('this is plain text, not a zip archive at all', 'application/zip'), 400, 'BAD_ARCHIVE', /not a zip archive/);
    expectError(await post(new Uint8Array(0), 'application/zip'), 400, 'BAD_ARCHIVE');
    expectError(await post(randomish(100_000, 3), 'application/octet-stream'), 400, 'BAD_ARCHIVE');
  });

  it('refuses a truncated zip and a zip with a duplicate entry with 400 BAD_ARCHIVE', async () => {
    const whole = craftZip([
      { name: 'app.json', data: app },
      { name: 'big.bin', data: randomish(200_000, 4), method: 0 },
    ]);
    expectError(await deployZip(t, admin, whole.subarray(0, 100_000)), 400, 'BAD_ARCHIVE', /zip.*Nothing was deployed/);
    const dup = craftZip([
      { name: 'app.json', data: app },
      { name: 'index.html', data: page },
      { name: 'index.html', data: enc('second') },
    ]);
    expectError(await deployZip(t, admin, dup), 400, 'BAD_ARCHIVE', /"index\.html" twice/);
  });

  it('refuses a wrong or missing Content-Type with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const archive = zip({ 'app.json': app, 'index.html': page });
    expectError(await post(archive, 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE', /application\/zip or multipart\/form-data, not "text\/plain"/);
    expectError(await post(archive, 'application/json'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await post(archive, undefined), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a multipart body that does not parse with 400 BAD_REQUEST', async () => {
    expectError(await post('--nope\r\ngarbage', 'multipart/form-data; boundary=xyz'), 400, 'BAD_REQUEST', /multipart upload could not be read/);
  });
});

describe('an upload without app.json (a plain built folder)', () => {
  it('deploys under ?name=, titled with its name, as zip and as multipart', async () => {
    const site = { 'index.html': '<p>plain</p>', 'assets/x.css': 'p{}' };
    const r = await deployZip(t, admin, zip(site), 'plain-site');
    expect(r.status).toBe(201);
    expect(r.json()).toMatchObject({ name: 'plain-site', version: 1, created: true, files: 2, warnings: [] });
    expect((await api('/api/apps/plain-site', { token: admin })).json()).toMatchObject({ name: 'plain-site', title: 'plain-site' });
    expect((await getFile(t, '/a/plain-site/')).text()).toBe('<p>plain</p>');
    expect((await getFile(t, '/a/plain-site/assets/x.css')).text()).toBe('p{}');
    const mp = await multipart(site);
    const again = await post(mp.body, mp.contentType, '?name=plain-site');
    expect(again.json()).toMatchObject({ name: 'plain-site', version: 2 });
    expect((await api('/api/apps/plain-site', { method: 'DELETE', token: admin })).status).toBe(200);
  });

  it('a zip of one folder deploys under that folder\'s name, the folder stripped', async () => {
    const r = await deployZip(t, admin, zip({ 'dist-site/index.html': '<p>zipped folder</p>', 'dist-site/a/b.txt': 'b' }));
    expect(r.status).toBe(201);
    expect(r.json()).toMatchObject({ name: 'dist-site', files: 2 });
    expect((await getFile(t, '/a/dist-site/')).text()).toBe('<p>zipped folder</p>');
    expect((await getFile(t, '/a/dist-site/a/b.txt')).text()).toBe('b');
    expect((await api('/api/apps/dist-site', { method: 'DELETE', token: admin })).status).toBe(200);
    await expectNothingChanged();
  });

  it('a present but malformed app.json is still refused, even with ?name=', async () => {
    expectError(await deployZip(t, admin, zip({ 'app.json': '{"title": ', 'index.html': '<p>x</p>' }), 'fine-name'), 422, 'INVALID_MANIFEST', /app\.json is not valid JSON/);
    expectError(await deployZip(t, admin, zip({ 'app.json': '{"spa": "yes"}', 'index.html': '<p>x</p>' }), 'fine-name'), 422, 'INVALID_MANIFEST', /spa: /);
    expectError(await api('/api/apps/fine-name', { token: admin }), 404, 'APP_NOT_FOUND');
    await expectNothingChanged();
  });
});

describe('deploying under a name that is an alias of another app', () => {
  // An alias points at its app's id like the app's own name does, so a deploy "to" the alias is a new
  // version of the app that owns it (not a new app, not an error).
  it('is a redeploy of the app that owns the alias (manifest name or ?name=)', async () => {
    const first = await deployZip(t, admin, zip({ 'app.json': manifest({ name: 'owner-app' }), 'index.html': 'owner v1' }));
    expect(first.status).toBe(201);
    const ownerId = first.json().id;
    expect((await api('/api/apps/owner-app/aliases', { method: 'POST', token: admin, json: { alias: 'nick' } })).status).toBe(201);

    const viaManifest = await deployZip(t, admin, zip({ 'app.json': manifest({ name: 'nick' }), 'index.html': 'via alias in app.json' }));
    expect(viaManifest.status).toBe(200);
    expect(viaManifest.json()).toMatchObject({ id: ownerId, name: 'owner-app', version: 2, created: false });
    expect(viaManifest.json().urls).toEqual([`http://owner-app.localhost:${t.port}/`, `${t.url}/a/owner-app/`]);

    const viaQuery = await deployZip(t, admin, zip({ 'app.json': manifest({ name: 'something-else' }), 'index.html': 'via ?name=nick' }), 'nick');
    expect(viaQuery.status).toBe(200);
    expect(viaQuery.json()).toMatchObject({ id: ownerId, name: 'owner-app', version: 3, created: false });

    expect((await getFile(t, '/a/owner-app/')).text()).toBe('via ?name=nick');
    expect((await getFile(t, '/a/nick/')).text()).toBe('via ?name=nick');
    expectError(await api('/api/apps/something-else', { token: admin }), 404, 'APP_NOT_FOUND');
    const info = (await api('/api/apps/owner-app', { token: admin })).json();
    expect(info).toMatchObject({ aliases: ['owner-app', 'nick'], versions: 3 });
    expect((await api('/api/apps/owner-app', { method: 'DELETE', token: admin })).status).toBe(200);
    await expectNothingChanged();
  });
});

describe('two deploys of one app at the same time', () => {
  it('both succeed with distinct versions, and each version holds exactly its own files', async () => {
    const set = (tag: string, seed: number): FileSet => {
      const files: FileSet = { 'app.json': manifest({ name: 'twin', title: `twin ${tag}` }), 'index.html': `<p>${tag}</p>` };
      for (let i = 0; i < 6; i++) files[`blob${i}.bin`] = randomish(300 * 1024, seed * 100 + i);
      return files;
    };
    const a = set('A', 1);
    const b = set('B', 2);
    // Stream both bodies slowly in small pieces so that their uploads interleave on the node.
    const slow = async function* (data: Uint8Array) {
      for (let off = 0; off < data.length; off += 32 * 1024) {
        yield data.subarray(off, off + 32 * 1024);
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    const [ra, rb] = await Promise.all([post(slow(zip(a)), 'application/zip'), post(slow(zip(b)), 'application/zip')]);
    expect([ra.status, rb.status].sort()).toEqual([200, 201]);
    const ja = ra.json();
    const jb = rb.json();
    expect(ja.id).toBe(jb.id);
    expect([ja.version, jb.version].sort()).toEqual([1, 2]);
    expect([ja.created, jb.created].sort()).toEqual([false, true]);
    for (const [files, v] of [
      [a, ja.version],
      [b, jb.version],
    ] as const) {
      const listed = (await api(`/api/apps/twin/files?version=${v}`, { token: admin })).json().files as { path: string; hash: string; size: number }[];
      expect(listed.map((f) => [f.path, f.hash])).toEqual(Object.keys(files).sort().map((p) => [p, sha256(files[p]!)]));
    }
    // The later version is live; rolling to the other serves its bytes.
    const live = ja.version === 2 ? a : b;
    const other = ja.version === 2 ? b : a;
    for (const p of Object.keys(live).filter((p) => p !== 'app.json')) expect(sha256((await getFile(t, `/a/twin/${p}`)).body)).toBe(sha256(live[p]!));
    expect((await api('/api/apps/twin/rollback', { method: 'POST', token: admin, json: { version: 1 } })).status).toBe(200);
    for (const p of Object.keys(other).filter((p) => p !== 'app.json')) expect(sha256((await getFile(t, `/a/twin/${p}`)).body)).toBe(sha256(other[p]!));
    // Concurrent redeploys of an existing app, too.
    const [r3, r4] = await Promise.all([post(slow(zip(a)), 'application/zip'), post(slow(zip(b)), 'application/zip')]);
    expect([r3.status, r4.status]).toEqual([200, 200]);
    expect([r3.json().version, r4.json().version].sort()).toEqual([3, 4]);
    expect((await api('/api/apps/twin', { token: admin })).json().versions).toBe(4);
    await api('/api/apps/twin', { method: 'DELETE', token: admin });
    expect(internalErrors(t)).toEqual([]);
  });
});

describe('Range requests far outside a file', () => {
  const size = Buffer.byteLength(VICTIM['index.html'] as string);

  it('answers bytes=0-10737418240 on a small file with 206 and the whole file', async () => {
    const r = await getFile(t, '/a/victim/index.html', { range: 'bytes=0-10737418240' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 0-${size - 1}/${size}`);
    expect(r.headers['content-length']).toBe(String(size));
    expect(r.text()).toBe(VICTIM['index.html']);
  });

  it('answers bytes=10737418240- with 416 and Content-Range: bytes */SIZE', async () => {
    const r = await getFile(t, '/a/victim/index.html', { range: 'bytes=10737418240-' });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe(`bytes */${size}`);
    expect(r.body.length).toBe(0);
  });

  it('serves a range across a chunk boundary of a large file exactly', async () => {
    const data = VICTIM['data.bin'] as Uint8Array;
    const r = await getFile(t, '/a/victim/data.bin', { range: 'bytes=262100-524400' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 262100-524400/${data.length}`);
    expect(Buffer.compare(r.body, Buffer.from(data.subarray(262100, 524401)))).toBe(0);
    const tail = await getFile(t, '/a/victim/data.bin', { range: 'bytes=-10' });
    expect(Buffer.compare(tail.body, Buffer.from(data.subarray(data.length - 10)))).toBe(0);
  });
});

describe('the hand-made zip bomb', () => {
  it('is a valid deflate stream of zeros (so the 413 above is the limit, not a parse error)', () => {
    for (const n of [1, 258, 259, 1000, 300_000]) {
      const out = inflateRawSync(deflatedZeros(n));
      expect([n, out.length, out.every((b) => b === 0)]).toEqual([n, n, true]);
    }
  });
});
