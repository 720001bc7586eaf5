/**
 * The dashboard's storage browser routes over real HTTP against the real node: an app's kv keys,
 * document collections and documents, and blobs, read-only and for the owner (`admin` scope) only.
 * The data is written through the kernel's own stores, the same ones app code reaches via `fazt.*`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, deployZip, expectError, internalErrors, manifest, removeTempDirs, request, startTestNode, zip, type TestNode } from './test-helpers.js';

let t: TestNode;
let admin: string;
let deployOnly: string;
let appId: string;

beforeAll(async () => {
  t = await startTestNode();
  admin = createToken(t, 'admin', 'test-admin').token;
  deployOnly = createToken(t, 'deploy', 'test-deploy').token;
  const res = await deployZip(t, admin, zip({ 'app.json': manifest({ name: 'shelf', title: 'Shelf' }), 'index.html': '<h1>Shelf</h1>' }));
  expect(res.status).toBe(201);
  appId = res.json().id;
  await deployZip(t, admin, zip({ 'app.json': manifest({ name: 'other', title: 'Other' }), 'index.html': '<h1>Other</h1>' }));
  const k = t.node.kernel;
  const otherId = k.apps.require('other').id;
  for (let i = 0; i < 7; i++) k.kv.set(appId, `item:${i}`, JSON.stringify({ n: i }));
  k.kv.set(appId, 'greeting', JSON.stringify('hello'));
  k.kv.set(appId, 'gone', JSON.stringify(1));
  k.kv.delete(appId, 'gone');
  k.kv.set(otherId, 'secret-of-other', JSON.stringify('not yours'));
  for (let i = 0; i < 5; i++) k.docs.insert(appId, 'books', { title: `Book ${i}`, year: 2000 + i });
  k.docs.insert(appId, 'authors', { name: 'Ann' });
  k.docs.insert(otherId, 'books', { title: 'Other book' });
  await k.appBlobs.put(appId, 'covers/a.png', new Uint8Array([1, 2, 3, 4]), 'image/png');
  await k.appBlobs.put(appId, 'notes.txt', new TextEncoder().encode('hello blobs'), 'text/plain');
  await k.appBlobs.put(otherId, 'x.bin', new Uint8Array(10));
});

afterAll(async () => {
  await t?.stop();
  removeTempDirs();
});

const get = (path: string, token = admin) => request(`${t.url}${path}`, { token });

describe('storage browser', () => {
  it('summarises an app’s storage: kv keys, collections with counts, blobs with bytes', async () => {
    const r = await get('/api/apps/shelf/storage');
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({
      app: 'shelf',
      kv: { count: 8 },
      collections: [
        { name: 'authors', count: 1 },
        { name: 'books', count: 5 },
      ],
      blobs: { count: 2, bytes: 15 },
    });
  });

  it('lists kv entries in key order, page by page, with a prefix, only of that app', async () => {
    const first = (await get('/api/apps/shelf/kv?limit=3')).json();
    expect(first.items.map((i: { key: string }) => i.key)).toEqual(['greeting', 'item:0', 'item:1']);
    expect(JSON.parse(first.items[0].value)).toBe('hello');
    expect(typeof first.cursor).toBe('string');
    const rest = (await get(`/api/apps/shelf/kv?limit=100&cursor=${encodeURIComponent(first.cursor)}`)).json();
    expect(rest.items.map((i: { key: string }) => i.key)).toEqual(['item:2', 'item:3', 'item:4', 'item:5', 'item:6']);
    expect(rest.cursor).toBeUndefined();
    const pre = (await get('/api/apps/shelf/kv?prefix=item%3A5')).json();
    expect(pre.items).toEqual([{ key: 'item:5', value: '{"n":5}' }]);
    const other = (await get(`/api/apps/${appId}/kv`)).json();
    expect(other.items.some((i: { key: string }) => i.key === 'secret-of-other' || i.key === 'gone')).toBe(false);
  });

  it('lists collections and pages through documents with a total', async () => {
    expect((await get('/api/apps/shelf/docs')).json().collections).toEqual([
      { name: 'authors', count: 1 },
      { name: 'books', count: 5 },
    ]);
    const page = (await get('/api/apps/shelf/docs/books?limit=2&offset=1')).json();
    expect(page.total).toBe(5);
    expect(page.offset).toBe(1);
    expect(page.documents).toHaveLength(2);
    for (const d of page.documents) expect(d).toMatchObject({ _id: expect.any(String), title: expect.stringMatching(/^Book \d$/) });
    const empty = (await get('/api/apps/shelf/docs/nothing-here')).json();
    expect(empty).toMatchObject({ total: 0, documents: [] });
  });

  it('lists blobs’ metadata, never their bytes', async () => {
    const r = (await get('/api/apps/shelf/blobs')).json();
    expect(r.items.map((b: { key: string; size: number; contentType: string }) => [b.key, b.size, b.contentType])).toEqual([
      ['covers/a.png', 4, 'image/png'],
      ['notes.txt', 11, 'text/plain'],
    ]);
    expect(r.items[0].hash).toMatch(/^[0-9a-f]{64}$/);
    const paged = (await get('/api/apps/shelf/blobs?limit=1')).json();
    expect(paged.items).toHaveLength(1);
    const next = (await get(`/api/apps/shelf/blobs?limit=1&cursor=${encodeURIComponent(paged.cursor)}`)).json();
    expect(next.items[0].key).toBe('notes.txt');
  });

  it('is for the owner only: no token 401, a deploy token 403', async () => {
    for (const p of ['/api/apps/shelf/storage', '/api/apps/shelf/kv', '/api/apps/shelf/docs', '/api/apps/shelf/docs/books', '/api/apps/shelf/blobs']) {
      expectError(await request(`${t.url}${p}`), 401, 'UNAUTHORIZED');
      expectError(await get(p, deployOnly), 403, 'FORBIDDEN', /admin/);
    }
  });

  it('is read-only: writes are not routes', async () => {
    const r = await request(`${t.url}/api/apps/shelf/kv`, { method: 'POST', token: admin, json: { key: 'x', value: 1 } });
    expectError(r, 405, 'METHOD_NOT_ALLOWED');
  });

  it('answers bad input with a clear error and changes nothing', async () => {
    expectError(await get('/api/apps/nope/kv'), 404, 'APP_NOT_FOUND');
    expectError(await get('/api/apps/shelf/kv?limit=0'), 400, 'BAD_REQUEST', /limit/);
    expectError(await get('/api/apps/shelf/kv?limit=5000'), 400, 'BAD_REQUEST', /1 to 200/);
    expectError(await get('/api/apps/shelf/kv?cursor=%25%25'), 400, 'INVALID_ARGUMENT');
    expectError(await get('/api/apps/shelf/docs/bad%20name'), 400, 'INVALID_ARGUMENT');
    expectError(await get('/api/apps/shelf/docs/books?offset=-1'), 400, 'BAD_REQUEST', /offset/);
    expectError(await get('/api/apps/shelf/blobs?cursor=!!'), 400, 'INVALID_ARGUMENT');
    expect((await get('/api/apps/shelf/storage')).json().kv.count).toBe(8);
    expect(internalErrors(t)).toEqual([]);
  });
});
