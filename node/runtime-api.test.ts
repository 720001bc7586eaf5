/**
 * What app code sees of the Fetch API and of `fazt.*`, against the real node over HTTP (real QuickJS
 * sandboxes, real SQLite cartridge, default limits): request bodies of every kind in, responses of
 * every kind out, the handler shapes (`export default { fetch }`, `export function fetch`,
 * `module.exports = fn`), and the storage, log and crypto APIs.
 */
import { createHash, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCartridgeFile } from './cartridge-file.js';
import { kernelForFile } from './kernel-file.js';
import {
  createToken,
  deployZip,
  expectError,
  internalErrors,
  manifest,
  memoryLogger,
  randomish,
  removeTempDirs,
  request,
  sha256,
  startTestNode,
  zip,
  type FileSet,
  type RequestOptions,
  type TestNode,
} from './test-helpers.js';

let t: TestNode;
let admin: string;
const ids = new Map<string, string>();

beforeAll(async () => {
  t = await startTestNode();
  admin = createToken(t, 'admin', 'api-admin').token;
});

afterAll(async () => {
  await t?.stop();
  removeTempDirs();
});

async function deployOk(name: string, files: FileSet): Promise<string> {
  const r = await deployZip(t, admin, zip({ 'app.json': manifest({ name }), ...files }));
  expect(r.status, r.text()).toBeLessThan(300);
  ids.set(name, r.json().id);
  return r.json().id;
}

const call = (name: string, path: string, options: RequestOptions = {}) => request(`${t.url}/a/${name}${path}`, options);

// ---------------------------------------------------------------------------------------------
// Request bodies

const BODIES = `
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
const sha = async (buf) => hex(await crypto.subtle.digest('SHA-256', buf));
export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    const type = request.headers.get('content-type');
    switch (pathname) {
      case '/api/json':
        return { method: request.method, type, got: await request.json() };
      case '/api/text':
        return { text: await request.text() };
      case '/api/form': {
        const form = await request.formData();
        return { type, entries: [...form.entries()], all: form.getAll('tag') };
      }
      case '/api/multipart': {
        const form = await request.formData();
        const out = [];
        for (const [name, value] of form) {
          if (typeof value === 'string') out.push({ name, value });
          else out.push({ name, file: value.name, type: value.type, size: value.size, sha256: await sha(await value.arrayBuffer()), isFile: value instanceof File });
        }
        return out;
      }
      case '/api/binary': {
        const buf = await request.arrayBuffer();
        const bytes = new Uint8Array(buf);
        return { size: buf.byteLength, sha256: await sha(buf), first: bytes[0], last: bytes[bytes.length - 1] };
      }
      case '/api/echo-bytes':
        return new Response(await request.arrayBuffer(), { headers: { 'content-type': 'application/octet-stream' } });
      case '/api/twice': {
        await request.text();
        try { await request.text(); return 'read twice'; } catch (e) { return { second: e.name, message: e.message, used: request.bodyUsed }; }
      }
      case '/api/bad-json':
        try { await request.json(); return 'parsed'; } catch (e) { return { name: e.name, message: e.message }; }
    }
    return new Response('no route', { status: 404 });
  },
};`;

describe('request bodies', () => {
  beforeAll(async () => {
    await deployOk('bodies', { 'api/main.js': BODIES });
  });

  it('JSON: request.json() gets the parsed value', async () => {
    const value = { a: 1, s: 'héllo ✓', list: [true, null, 2.5], nested: { deep: { x: 'y' } } };
    const r = await call('bodies', '/api/json', { method: 'POST', json: value });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ method: 'POST', type: 'application/json', got: value });
    // PUT and PATCH too
    expect((await call('bodies', '/api/json', { method: 'PATCH', json: [1, 2] })).json()).toMatchObject({ method: 'PATCH', got: [1, 2] });
  });

  it('invalid JSON: request.json() throws a SyntaxError the app can catch', async () => {
    const r = await call('bodies', '/api/bad-json', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a": ' });
    expect(r.json()).toMatchObject({ name: 'SyntaxError', message: expect.stringMatching(/^body is not valid JSON/) });
  });

  it('a body can be read once: the second read throws TypeError and bodyUsed is true', async () => {
    const r = await call('bodies', '/api/twice', { method: 'POST', body: 'once' });
    expect(r.json()).toEqual({ second: 'TypeError', message: 'Body has already been consumed', used: true });
  });

  it('UTF-8 text: request.text() decodes it', async () => {
    const text = 'Grüße, 世界 🌍\nline 2';
    expect((await call('bodies', '/api/text', { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, body: text })).json()).toEqual({ text });
  });

  it('urlencoded form: request.formData() gets every field, repeated names and escapes included', async () => {
    const body = new URLSearchParams([
      ['name', 'Ada Lovelace'],
      ['tag', 'a&b'],
      ['tag', 'ü=2'],
      ['empty', ''],
      ['plus', '1+1 = 2'],
    ]).toString();
    const r = await call('bodies', '/api/form', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({
      type: 'application/x-www-form-urlencoded',
      entries: [
        ['name', 'Ada Lovelace'],
        ['tag', 'a&b'],
        ['tag', 'ü=2'],
        ['empty', ''],
        ['plus', '1+1 = 2'],
      ],
      all: ['a&b', 'ü=2'],
    });
  });

  it('multipart with files: text fields and files arrive with name, type and exact bytes (sha-256 via crypto.subtle.digest)', async () => {
    const photo = randomish(300_000, 7);
    const note = new TextEncoder().encode('résumé ✓\n');
    const form = new FormData();
    form.append('title', 'Holiday ✓');
    form.append('photo', new File([photo as Uint8Array<ArrayBuffer>], 'photo.png', { type: 'image/png' }));
    form.append('note', new File([note], 'résumé ✓.txt', { type: 'text/plain' }));
    form.append('empty', new File([], 'empty.bin', { type: 'application/octet-stream' }));
    const req = new Request('http://x/', { method: 'POST', body: form });
    const body = new Uint8Array(await req.arrayBuffer());
    const r = await call('bodies', '/api/multipart', { method: 'POST', headers: { 'content-type': req.headers.get('content-type')! }, body });
    expect(r.status, r.text()).toBe(200);
    expect(r.json()).toEqual([
      { name: 'title', value: 'Holiday ✓' },
      { name: 'photo', file: 'photo.png', type: 'image/png', size: photo.length, sha256: sha256(photo), isFile: true },
      { name: 'note', file: 'résumé ✓.txt', type: 'text/plain', size: note.length, sha256: sha256(note), isFile: true },
      { name: 'empty', file: 'empty.bin', type: 'application/octet-stream', size: 0, sha256: sha256(new Uint8Array(0)), isFile: true },
    ]);
  });

  it('multipart without a boundary: a typed error the app sees (here uncaught: 500 APP_ERROR naming it)', async () => {
    const r = await call('bodies', '/api/multipart', { method: 'POST', headers: { 'content-type': 'multipart/form-data' }, body: 'x' });
    expectError(r, 500, 'APP_ERROR', /formData\(\): the multipart body has no boundary/);
  });

  it('binary: request.arrayBuffer() gets the exact bytes (1 MiB, every byte value)', async () => {
    const bytes = randomish(1024 * 1024, 3);
    bytes[0] = 0;
    bytes[bytes.length - 1] = 255;
    const r = await call('bodies', '/api/binary', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    expect(r.json()).toEqual({ size: bytes.length, sha256: sha256(bytes), first: 0, last: 255 });
  });

  it('binary round trip: bytes in, the same bytes out', async () => {
    const bytes = randomish(200_000, 9);
    const a = await call('bodies', '/api/echo-bytes', { method: 'POST', body: bytes });
    expect(a.status).toBe(200);
    expect(a.headers['content-type']).toBe('application/octet-stream');
    expect(sha256(a.body)).toBe(sha256(bytes));
  });
});

// ---------------------------------------------------------------------------------------------
// Responses

const RESPONSES = `
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case '/api/object':
        return { a: 1, nested: { b: [1, 'two', null] }, text: 'ünï' };
      case '/api/array':
        return [1, 2, 3];
      case '/api/string':
        return 'hello ✓';
      case '/api/nothing':
        return undefined;
      case '/api/bytes':
        return new Uint8Array([0, 1, 2, 254, 255]);
      case '/api/response':
        return new Response(new Uint8Array([1, 2, 3, 255]), { status: 201, statusText: 'Made', headers: { 'content-type': 'application/x-thing', 'x-custom': 'yes', 'cache-control': 'no-store' } });
      case '/api/json-helper':
        return Response.json({ created: true }, { status: 202, headers: { 'x-a': 'b' } });
      case '/api/redirect':
        return Response.redirect(ctx.basePath + '/elsewhere', 303);
      case '/api/cookies': {
        const h = new Headers();
        h.append('set-cookie', 'a=1; Path=/; HttpOnly');
        h.append('set-cookie', 'b=2; Path=/');
        h.set('content-type', 'text/plain');
        return new Response('cookies', { status: 200, headers: h });
      }
      case '/api/not-found':
        return new Response(JSON.stringify({ missing: url.searchParams.get('what') }), { status: 404, headers: { 'content-type': 'application/json' } });
      case '/api/blob':
        return new Response(new Blob(['blob ', 'parts'], { type: 'text/x-blob' }));
      case '/api/search':
        return { params: Object.fromEntries(url.searchParams), search: url.search, pathname: url.pathname, basePath: ctx.basePath, requestId: ctx.requestId, app: fazt.app.name, method: request.method };
      case '/api/bad-status':
        return new Response('x', { status: 99 });
      case '/api/throws':
        throw new TypeError('the app broke: ' + url.searchParams.get('why'));
      case '/api/rejects':
        return Promise.reject(new RangeError('async break'));
      case '/api/throws-string':
        throw 'a plain string';
    }
    return new Response('no route', { status: 404 });
  },
};`;

describe('responses', () => {
  beforeAll(async () => {
    await deployOk('responses', { 'api/main.js': RESPONSES });
  });

  it('a plain object or array → JSON (application/json), status 200', async () => {
    const r = await call('responses', '/api/object');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json()).toEqual({ a: 1, nested: { b: [1, 'two', null] }, text: 'ünï' });
    expect((await call('responses', '/api/array')).json()).toEqual([1, 2, 3]);
  });

  it('a string → text/plain; charset=utf-8', async () => {
    const r = await call('responses', '/api/string');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r.text()).toBe('hello ✓');
  });

  it('undefined → 204 without a body; bytes → the bytes; a Blob → its bytes and type', async () => {
    const none = await call('responses', '/api/nothing');
    expect(none.status).toBe(204);
    expect(none.body.length).toBe(0);
    const bytes = await call('responses', '/api/bytes');
    expect([...bytes.body]).toEqual([0, 1, 2, 254, 255]);
    const blob = await call('responses', '/api/blob');
    expect([blob.text(), blob.headers['content-type']]).toEqual(['blob parts', 'text/x-blob']);
  });

  it('new Response(bytes, {status: 201, headers}) → exactly as given', async () => {
    const r = await call('responses', '/api/response');
    expect(r.status).toBe(201);
    expect(r.headers['content-type']).toBe('application/x-thing');
    expect(r.headers['x-custom']).toBe('yes');
    expect(r.headers['cache-control']).toBe('no-store');
    expect([...r.body]).toEqual([1, 2, 3, 255]);
    expect(r.headers['x-fazt-request-id']).toMatch(/\S/);
  });

  it('Response.json, Response.redirect, several Set-Cookie headers, an app 404', async () => {
    const j = await call('responses', '/api/json-helper');
    expect([j.status, j.headers['content-type'], j.headers['x-a'], j.json()]).toEqual([202, 'application/json', 'b', { created: true }]);
    const red = await call('responses', '/api/redirect');
    expect([red.status, red.headers.location]).toEqual([303, '/a/responses/elsewhere']);
    // several cookies pass on the app's own origin; under /a/NAME/ (the node's origin) none do (docs/apps.md)
    const own = await request(`${t.url}/api/cookies`, { headers: { host: `responses.localhost:${t.port}` } });
    expect(own.headers['set-cookie']).toEqual(['a=1; Path=/; HttpOnly', 'b=2; Path=/']);
    const c = await call('responses', '/api/cookies');
    expect(c.headers['set-cookie']).toBeUndefined();
    const nf = await call('responses', '/api/not-found?what=cat');
    expect([nf.status, nf.json()]).toEqual([404, { missing: 'cat' }]);
  });

  it('the request URL, query, method, ctx.basePath and ctx.requestId as the app sees them (path mount and own origin)', async () => {
    const r = await call('responses', '/api/search?q=a%20b&n=1');
    const body = r.json();
    expect(body).toMatchObject({ params: { q: 'a b', n: '1' }, search: '?q=a%20b&n=1', pathname: '/api/search', basePath: '/a/responses', app: 'responses', method: 'GET' });
    expect(body.requestId).toBe(r.headers['x-fazt-request-id']);
    const own = await request(`${t.url}/api/search?x=1`, { headers: { host: `responses.localhost:${t.port}` } });
    expect(own.json()).toMatchObject({ params: { x: '1' }, pathname: '/api/search', basePath: '' });
  });

  it('errors thrown by the handler: 500 APP_ERROR with the error name and message; the stack goes to the app log only', async () => {
    const r = await call('responses', '/api/throws?why=because');
    const err = expectError(r, 500, 'APP_ERROR', /^the request handler threw TypeError: the app broke: because$/);
    expect(err.message).not.toContain('\n');
    const logged = t.node.kernel.logs.tail(ids.get('responses')!, 10, 'error').find((e) => (e.data as { requestId?: string }).requestId === r.json().error.requestId);
    expect(logged?.message).toMatch(/the app broke: because\n.*api\/main\.js/s);
    expectError(await call('responses', '/api/rejects'), 500, 'APP_ERROR', /threw RangeError: async break/);
    expectError(await call('responses', '/api/throws-string'), 500, 'APP_ERROR', /threw Error: non-Error thrown: a plain string$/);
    expectError(await call('responses', '/api/bad-status'), 500, 'APP_ERROR', /RangeError: Response status 99 is not in 200–599/);
  });
});

// ---------------------------------------------------------------------------------------------
// Handler shapes

describe('handler shapes', () => {
  it('CommonJS: module.exports = (req) => …, with require() of a relative file and of JSON', async () => {
    await deployOk('cjs-fn', {
      'api/main.js': `const lib = require('./lib/greet');\nconst data = require('./data.json');\nmodule.exports = (req) => lib.greet(new URL(req.url).searchParams.get('name')) + ' v' + data.v;`,
      'api/lib/greet.js': `exports.greet = (n) => 'hello ' + n;`,
      'api/data.json': '{"v": 3}',
    });
    const r = await call('cjs-fn', '/api/x?name=ada');
    expect([r.status, r.headers['content-type'], r.text()]).toEqual([200, 'text/plain; charset=utf-8', 'hello ada v3']);
  });

  it('CommonJS: module.exports = { fetch } and an async handler', async () => {
    await deployOk('cjs-obj', { 'api/main.js': `module.exports = { async fetch(req) { return { method: req.method, kind: 'cjs-object' }; } };` });
    expect((await call('cjs-obj', '/api/x', { method: 'DELETE' })).json()).toEqual({ method: 'DELETE', kind: 'cjs-object' });
  });

  it('ES module: export function fetch, import of app files and of the standard library', async () => {
    await deployOk('esm-fn', {
      'api/main.js': `import _ from 'lodash';\nimport { twice } from './lib/math.mjs';\nexport function fetch() { return { sum: _.sum([1, 2, 3]), twice: twice(4) }; }`,
      'api/lib/math.mjs': `export const twice = (n) => n * 2;`,
    });
    expect((await call('esm-fn', '/api/x')).json()).toEqual({ sum: 6, twice: 8 });
  });

  it('no fetch handler: 404 NO_HANDLER saying what to export', async () => {
    await deployOk('no-fetch', { 'api/main.js': `export default { scheduled() {} };` });
    expectError(await call('no-fetch', '/api/x'), 404, 'NO_HANDLER', /api\/main\.js has no fetch handler: export default \{ fetch\(request\) \{ … \} \}/);
  });

  it('an app without api/main.js: 404 NO_HANDLER on /api/*', async () => {
    await deployOk('static-only', { 'index.html': 'hi' });
    expectError(await call('static-only', '/api/x'), 404, 'NO_HANDLER', /has no api\/main\.js/);
  });

  it('code that throws at load time: every request gets a clear error naming api/main.js', async () => {
    await deployOk('load-fails', { 'api/main.js': `throw new Error('cannot start');\nexport default { fetch() { return 1; } };` });
    const r = await call('load-fails', '/api/x');
    expect(r.status).toBeGreaterThanOrEqual(400);
    const body = r.json();
    expect(body.error.message).toMatch(/api\/main\.js failed to load: Error: cannot start/);
  });
});

// ---------------------------------------------------------------------------------------------
// fazt.* and the Web APIs inside the sandbox

const FAZT = `
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
export default {
  async fetch(request, env, ctx) {
    const { pathname, searchParams } = new URL(request.url);
    switch (pathname) {
      case '/api/kv': {
        await fazt.kv.set('a', { n: 1 });
        await fazt.kv.set('b', 'two');
        const n1 = await fazt.kv.increment('hits');
        const n2 = await fazt.kv.increment('hits', 5);
        const list = await fazt.kv.list();
        const deleted = await fazt.kv.delete('b');
        let undef;
        try { await fazt.kv.set('u', undefined); } catch (e) { undef = e.code; }
        return { a: await fazt.kv.get('a'), b: await fazt.kv.get('b'), n1, n2, keys: list.items.map((i) => i.key), deleted, undef };
      }
      case '/api/docs': {
        const c = fazt.docs.collection('todos');
        const one = await c.insert({ title: 'one', done: false, n: 1 });
        await c.insert({ _id: 'two', title: 'two', done: true, n: 2 });
        const changed = await c.update(one._id, { $set: { done: true }, $inc: { n: 10 } });
        const done = await c.find({ where: { done: true }, sort: { n: -1 } });
        const count = await c.count({ done: true });
        const removed = await c.delete('two');
        let conflict;
        try { await c.insert({ _id: one._id }); } catch (e) { conflict = e.code; }
        return { changed, done: done.map((d) => [d.title, d.n]), count, removed, left: (await c.find()).length, conflict };
      }
      case '/api/blob-put': {
        const info = await fazt.blobs.put('upload', request, { contentType: request.headers.get('content-type') });
        return info;
      }
      case '/api/blob-get': {
        const b = await fazt.blobs.get('upload');
        return b ? new Response(b) : new Response('none', { status: 404 });
      }
      case '/api/log': {
        console.log('from console', { x: 1 });
        fazt.log.warn('a warning', { why: 'test' });
        return 'logged';
      }
      case '/api/crypto': {
        const key = await crypto.subtle.importKey('raw', new TextEncoder().encode('secret'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
        const sig = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode('message'));
        const ok = await crypto.subtle.verify('HMAC', key, sig, new TextEncoder().encode('message'));
        const bad = await crypto.subtle.verify('HMAC', key, sig, new TextEncoder().encode('other'));
        const sha1 = hex(await crypto.subtle.digest('SHA-1', new TextEncoder().encode('abc')));
        const r = crypto.getRandomValues(new Uint8Array(16));
        return { hmac: hex(sig), ok, bad, sha1, randomLength: r.length, uuid: crypto.randomUUID() };
      }
      case '/api/web': {
        const u = new URL('https://example.com/a/b?x=1#h');
        u.searchParams.set('y', 'z w');
        return {
          href: u.href,
          b64: btoa('hello'),
          unb64: atob('aGVsbG8='),
          decoded: new TextDecoder().decode(new TextEncoder().encode('ü✓')),
          qs: new URLSearchParams({ a: '1', b: 'x y' }).toString(),
          headers: [...new Headers({ 'X-B': '2', 'x-a': '1' })],
        };
      }
      case '/api/background': {
        ctx.waitUntil((async () => {
          await new Promise((r) => setTimeout(r, 50));
          await fazt.kv.set('background', 'done');
        })());
        return 'answered first';
      }
      case '/api/background-result':
        return { value: await fazt.kv.get('background') };
      case '/api/timers': {
        const order = [];
        const cancelled = setTimeout(() => order.push('never'), 10);
        clearTimeout(cancelled);
        await new Promise((r) => setTimeout(() => { order.push('timer'); r(); }, 20));
        queueMicrotask(() => order.push('microtask'));
        await null;
        return order;
      }
    }
    return new Response('no route', { status: 404 });
  },
};`;

describe('fazt.* and the Web APIs in the sandbox', () => {
  beforeAll(async () => {
    await deployOk('fazt-api', { 'api/main.js': FAZT });
  });

  it('fazt.kv: set/get/list/increment/delete; undefined values are refused with INVALID_ARGUMENT', async () => {
    expect((await call('fazt-api', '/api/kv')).json()).toEqual({ a: { n: 1 }, b: null, n1: 1, n2: 6, keys: ['a', 'b', 'hits'], deleted: true, undef: 'INVALID_ARGUMENT' });
  });

  it('fazt.docs: insert/update ($set, $inc)/find (where, sort)/count/delete; a duplicate _id is CONFLICT', async () => {
    expect((await call('fazt-api', '/api/docs')).json()).toEqual({
      changed: 1,
      done: [
        ['one', 11],
        ['two', 2],
      ],
      count: 2,
      removed: 1,
      left: 1,
      conflict: 'CONFLICT',
    });
  });

  it('fazt.blobs: the request body stored as a blob, and a blob returned as the response, byte for byte', async () => {
    const bytes = randomish(2 * 1024 * 1024 + 5, 11); // over no limit: blob bodies are streamed
    const put = await call('fazt-api', '/api/blob-put', { method: 'POST', headers: { 'content-type': 'image/x-test' }, body: bytes });
    expect(put.status, put.text()).toBe(200);
    expect(put.json()).toMatchObject({ key: 'upload', size: bytes.length, contentType: 'image/x-test' });
    const get = await call('fazt-api', '/api/blob-get');
    expect(get.status).toBe(200);
    expect(get.headers['content-type']).toBe('image/x-test');
    expect(Number(get.headers['content-length'])).toBe(bytes.length);
    expect(sha256(get.body)).toBe(sha256(bytes));
  });

  it("console.log and fazt.log write to the app's log", async () => {
    const r = await call('fazt-api', '/api/log');
    expect(r.text()).toBe('logged');
    const entries = t.node.kernel.logs.tail(ids.get('fazt-api')!, 10);
    expect(entries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ level: 'info', message: 'from console {"x":1}', source: 'GET /api/log' }),
        expect.objectContaining({ level: 'warn', message: 'a warning', data: { why: 'test' }, source: 'GET /api/log' }),
      ]),
    );
  });

  it('crypto.subtle (HMAC sign/verify, digest) agrees with Node; getRandomValues, randomUUID work', async () => {
    const r = (await call('fazt-api', '/api/crypto')).json();
    expect(r).toMatchObject({
      hmac: createHmac('sha256', 'secret').update('message').digest('hex'),
      ok: true,
      bad: false,
      sha1: createHash('sha1').update('abc').digest('hex'),
      randomLength: 16,
    });
    expect(r.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('URL, URLSearchParams, btoa/atob, TextEncoder/TextDecoder, Headers behave as on the web', async () => {
    expect((await call('fazt-api', '/api/web')).json()).toEqual({
      href: 'https://example.com/a/b?x=1&y=z+w#h',
      b64: 'aGVsbG8=',
      unb64: 'hello',
      decoded: 'ü✓',
      qs: 'a=1&b=x+y',
      headers: [
        ['x-a', '1'],
        ['x-b', '2'],
      ],
    });
  });

  it('ctx.waitUntil: the response comes first, the background work finishes after it', async () => {
    const r = await call('fazt-api', '/api/background');
    expect(r.text()).toBe('answered first');
    let value = null;
    for (let i = 0; i < 50 && value === null; i++) {
      value = (await call('fazt-api', '/api/background-result')).json().value;
      if (value === null) await new Promise((res) => setTimeout(res, 20));
    }
    expect(value).toBe('done');
  });

  it('setTimeout, clearTimeout and queueMicrotask', async () => {
    expect((await call('fazt-api', '/api/timers')).json()).toEqual(['timer', 'microtask']);
  });

  it('the request URL object is the one a fresh parse gives, and stays separate per URL instance', async () => {
    await deployOk('url-fast', {
      'api/main.js': `export default { fetch(request) {
        const a = new URL(request.url), b = new URL(request.url);
        b.pathname = '/api/changed'; b.searchParams.set('k', 'v');
        const fresh = new URL(String(request.url), undefined);
        return { a: a.href, path: a.pathname, q: a.searchParams.get('q'), b: b.href, same: a.href === request.url, parts: [a.origin, a.host, a.port, a.hash] };
      } };`,
    });
    const r = (await call('url-fast', '/api/x%20y?q=1')).json();
    expect(r).toEqual({
      a: `${t.url}/api/x%20y?q=1`,
      path: '/api/x%20y',
      q: '1',
      b: `${t.url}/api/changed?q=1&k=v`,
      same: true,
      parts: [t.url, `127.0.0.1:${t.port}`, String(t.port), ''],
    });
  });

  it('plain return values: an object is JSON, a string is text, both with a Content-Length; undefined is 204 without one', async () => {
    await deployOk('plain-returns', {
      'api/main.js': `export default { fetch(request) {
        const p = new URL(request.url).pathname;
        if (p === '/api/object') return { ok: true, text: 'ü' };
        if (p === '/api/string') return 'hello ü';
        if (p === '/api/function') return { f: () => 1, n: 1 };
        return undefined;
      } };`,
    });
    const o = await call('plain-returns', '/api/object');
    expect(o.status).toBe(200);
    expect(o.headers['content-type']).toBe('application/json');
    expect(o.headers['content-length']).toBe(String(Buffer.byteLength('{"ok":true,"text":"ü"}')));
    expect(o.headers['transfer-encoding']).toBeUndefined();
    expect(o.json()).toEqual({ ok: true, text: 'ü' });
    const s = await call('plain-returns', '/api/string');
    expect(s.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(s.headers['content-length']).toBe(String(Buffer.byteLength('hello ü')));
    expect(s.text()).toBe('hello ü');
    expect((await call('plain-returns', '/api/function')).json()).toEqual({ n: 1 });
    const head = await call('plain-returns', '/api/object', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    const none = await call('plain-returns', '/api/none');
    expect(none.status).toBe(204);
    expect(none.headers['content-length']).toBeUndefined();
    expect(none.body.length).toBe(0);
  });

  it('no untyped (INTERNAL) failure was logged by the node', () => {
    expect(internalErrors(t)).toEqual([]);
  });
});

describe('writes by another connection to the cartridge (e.g. `fazt … --db` while the node runs)', () => {
  it('a rename and a new secret reach the running node: the alias and fazt.env caches notice within their interval', async () => {
    const id = await deployOk('ext-before', { 'api/main.js': 'export default { fetch(request, env) { return { secret: env.TOKEN ?? null }; } };' });
    expect((await call('ext-before', '/api/')).json()).toEqual({ secret: null });
    const other = openCartridgeFile(t.db, { mustExist: true });
    try {
      const k = kernelForFile(other, { logger: memoryLogger() });
      k.apps.rename(id, 'ext-after');
      k.secrets.set(id, 'TOKEN', 'from the CLI');
    } finally {
      other.db.close();
    }
    // the caches may answer from before the write for up to ExternalWrites' interval (250 ms)
    const started = Date.now();
    let after: { status: number; json(): unknown } | undefined;
    let before = 200;
    while (Date.now() - started < 3000) {
      after = await call('ext-after', '/api/');
      before = (await call('ext-before', '/api/')).status;
      if (after.status === 200 && (after.json() as { secret: unknown }).secret !== null && before === 404) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(after!.status).toBe(200);
    expect(after!.json()).toEqual({ secret: 'from the CLI' });
    expect(before).toBe(404);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('sandbox reuse across deploys and restarts', () => {
  it('a redeploy of an app in use re-primes an existing sandbox in the background: the first request gets the new version, no sandbox is created', async () => {
    await deployOk('reprime', { 'api/main.js': 'export default { fetch() { return { v: 1 }; } };' });
    expect((await call('reprime', '/api/')).json()).toEqual({ v: 1 });
    const pool = t.node.kernel.runtime!.pool;
    const created = pool.created;
    await deployOk('reprime', { 'api/main.js': 'export default { fetch() { return { v: 2 }; } };' });
    expect((await call('reprime', '/api/')).json()).toEqual({ v: 2 });
    expect(pool.created).toBe(created);
  });

  it('a node started on a cartridge with server code has a warm sandbox before it listens; one without has none', async () => {
    const withCode = await startTestNode({ db: t.db });
    try {
      expect(withCode.node.kernel.runtime!.pool.size).toBe(1);
    } finally {
      await withCode.stop();
    }
    const empty = await startTestNode();
    try {
      expect(empty.node.kernel.runtime!.pool.size).toBe(0);
    } finally {
      await empty.stop();
    }
  });
});
