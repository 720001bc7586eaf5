import { describe, expect, it } from 'vitest';
import { drivers } from '../testing/drivers.js';
import { openCartridge } from '../cartridge/index.js';
import { BlobStore, CHUNK_SIZE } from '../vfs/blobs.js';
import { defaultPorts } from '../ports.js';
import { FaztError } from '../errors.js';
import { AppBlobStore } from './app-blobs.js';

/** Deterministic pseudo-random bytes (no two chunks equal, so nothing dedupes by accident). */
function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A stream yielding `data` in pieces of `piece` bytes. */
function streamOf(data: Uint8Array, piece = 64 * 1024): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= data.length) return c.close();
      c.enqueue(data.slice(off, off + piece));
      off += piece;
    },
  });
}

async function collect(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(s).arrayBuffer());
}

/** Byte equality without vitest's slow element-wise diff of large arrays. */
function expectBytes(got: Uint8Array | undefined, want: Uint8Array): void {
  expect(got).toBeDefined();
  expect(Object.getPrototypeOf(got)).toBe(Uint8Array.prototype);
  expect(got!.length).toBe(want.length);
  let diff = -1;
  for (let i = 0; i < want.length; i++) {
    if (got![i] !== want[i]) {
      diff = i;
      break;
    }
  }
  expect(diff, 'first differing byte').toBe(-1);
}

function sha256Hex(data: Uint8Array): string {
  return defaultPorts.sha256().update(data).digestHex();
}

async function expectFazt(p: Promise<unknown> | (() => unknown), code: string): Promise<FaztError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FaztError);
  expect((err as FaztError).code).toBe(code);
  return err as FaztError;
}

for (const d of drivers) {
  describe(`AppBlobStore on ${d.name}`, () => {
    async function setup(limits?: ConstructorParameters<typeof AppBlobStore>[2]) {
      const db = await d.open();
      const cart = openCartridge(db);
      const blobs = new BlobStore(db, defaultPorts);
      const store = new AppBlobStore(cart, blobs, limits);
      const count = (table: string) => db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`)!.n;
      return { db, cart, blobs, store, count };
    }

    it('round-trips a 3 MiB stream over several chunks', async () => {
      const { store, blobs } = await setup();
      const data = bytes(3 * 1024 * 1024 + 123);
      const info = await store.put('app1', 'videos/clip.bin', streamOf(data, 100_000), 'video/mp4');
      expect(info).toMatchObject({ key: 'videos/clip.bin', size: data.length, contentType: 'video/mp4', hash: sha256Hex(data) });
      expect(info.createdAt).toBe(info.updatedAt);
      const head = store.head('app1', 'videos/clip.bin')!;
      expect(head.blob.chunkCount).toBeGreaterThan(1);
      expect(head.blob.chunkCount).toBe(Math.ceil(data.length / CHUNK_SIZE));
      expect(head.blob).toEqual(blobs.info(info.hash));
      const got = store.stream('app1', 'videos/clip.bin')!;
      expect(got.info.size).toBe(data.length);
      expectBytes(await collect(got.stream), data);
      expectBytes(store.read('app1', 'videos/clip.bin'), data);
      // a range across a chunk boundary
      const r = store.stream('app1', 'videos/clip.bin', { start: CHUNK_SIZE - 10, end: CHUNK_SIZE + 9 })!;
      expectBytes(await collect(r.stream), data.slice(CHUNK_SIZE - 10, CHUNK_SIZE + 10));
      await expectFazt(() => store.stream('app1', 'videos/clip.bin', { start: 0, end: data.length }), 'RANGE_NOT_SATISFIABLE');
    });

    it('stores Uint8Array bodies, empty ones included, with the default content type', async () => {
      const { store } = await setup();
      const info = await store.put('a', 'hello.txt', new TextEncoder().encode('hello'));
      expect(info.contentType).toBe('application/octet-stream');
      expect(new TextDecoder().decode(store.read('a', 'hello.txt'))).toBe('hello');
      const empty = await store.put('a', 'empty', new Uint8Array(0), 'text/plain');
      expect(empty.size).toBe(0);
      expectBytes(store.read('a', 'empty'), new Uint8Array(0));
      expect(await collect(store.stream('a', 'empty')!.stream)).toEqual(new Uint8Array(0));
    });

    it('read returns a copy: changing it does not change later reads', async () => {
      const { store } = await setup();
      await store.put('a', 'k', new Uint8Array([1, 2, 3]));
      const first = store.read('a', 'k')!;
      first[0] = 99;
      expectBytes(store.read('a', 'k'), new Uint8Array([1, 2, 3]));
    });

    it('over the limit: LIMIT_EXCEEDED, nothing stored, GC removes the partial chunks', async () => {
      const { store, blobs, count } = await setup({ maxBlobBytes: 1024 * 1024 });
      const before = { chunks: count('vfs_chunks'), blobs: count('vfs_blobs') };
      const err = await expectFazt(store.put('a', 'big', streamOf(bytes(3 * 1024 * 1024, 7))), 'LIMIT_EXCEEDED');
      expect(err.message).toContain('1 MiB');
      expect(store.head('a', 'big')).toBeUndefined();
      expect(store.list('a').items).toEqual([]);
      expect(count('vfs_blobs')).toBe(before.blobs);
      expect(count('vfs_chunks')).toBeGreaterThan(before.chunks); // full chunks were committed while streaming
      const gc = blobs.collectGarbage()!;
      expect(gc.chunks).toBeGreaterThan(0);
      expect(count('vfs_chunks')).toBe(before.chunks);
      // a whole-array body over the limit is refused before anything is written
      await expectFazt(store.put('a', 'big', bytes(1024 * 1024 + 1)), 'LIMIT_EXCEEDED');
      expect(count('vfs_chunks')).toBe(before.chunks);
      // exactly the limit is fine
      expect((await store.put('a', 'big', streamOf(bytes(1024 * 1024, 3)))).size).toBe(1024 * 1024);
    });

    it('a failing body stream stores nothing and is reported', async () => {
      const { store } = await setup();
      let sent = 0;
      const failing = new ReadableStream<Uint8Array>({
        pull(c) {
          if (sent++ < 3) c.enqueue(bytes(100_000, sent));
          else c.error(new Error('connection reset'));
        },
      });
      await expect(store.put('a', 'k', failing)).rejects.toThrow('connection reset');
      expect(store.head('a', 'k')).toBeUndefined();
    });

    it('GC does not collect chunks of an upload in progress', async () => {
      const { store, blobs } = await setup();
      const data = bytes(CHUNK_SIZE * 2 + 5, 11);
      let step = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          if (step === 0) c.enqueue(data.subarray(0, CHUNK_SIZE * 2));
          else if (step === 1) {
            await gate;
            c.enqueue(data.subarray(CHUNK_SIZE * 2));
          } else c.close();
          step++;
        },
      });
      const pending = store.put('a', 'k', body);
      await new Promise((r) => setTimeout(r, 20));
      expect(blobs.collectGarbage()).toBeUndefined(); // skipped: a write is open
      release();
      await pending;
      expect(blobs.collectGarbage()).toEqual({ blobs: 0, chunks: 0 });
      expectBytes(store.read('a', 'k'), data);
    });

    it('overwrites keep createdAt, replace body and content type; GC frees the old body', async () => {
      let now = 1_000;
      const db = await d.open();
      const cart = openCartridge(db, { clock: { now: () => now } });
      const blobs = new BlobStore(db, defaultPorts);
      const store = new AppBlobStore(cart, blobs);
      const a = await store.put('a', 'doc', bytes(CHUNK_SIZE + 1, 1), 'text/plain');
      now = 2_000;
      const b = await store.put('a', 'doc', bytes(1000, 2), 'application/json');
      expect(b).toMatchObject({ createdAt: 1_000, updatedAt: 2_000, size: 1000, contentType: 'application/json' });
      expect(b.hash).not.toBe(a.hash);
      expectBytes(store.read('a', 'doc'), bytes(1000, 2));
      expect(store.list('a').items).toHaveLength(1);
      expect(blobs.collectGarbage()).toEqual({ blobs: 1, chunks: 2 });
      expect(blobs.info(a.hash)).toBeUndefined();
      expectBytes(store.read('a', 'doc'), bytes(1000, 2));
    });

    it('delete makes a tombstone; GC then frees the chunks; re-put starts a new createdAt', async () => {
      let now = 5_000;
      const db = await d.open();
      const cart = openCartridge(db, { clock: { now: () => now } });
      const blobs = new BlobStore(db, defaultPorts);
      const store = new AppBlobStore(cart, blobs);
      const info = await store.put('a', 'x', bytes(CHUNK_SIZE * 2, 4));
      const row1 = db.get<{ hlc: string }>('SELECT hlc FROM app_blobs WHERE key = ?', ['x'])!;
      now = 6_000;
      expect(store.delete('a', 'x')).toBe(true);
      expect(store.delete('a', 'x')).toBe(false);
      expect(store.delete('a', 'never')).toBe(false);
      expect(store.head('a', 'x')).toBeUndefined();
      expect(store.read('a', 'x')).toBeUndefined();
      expect(store.stream('a', 'x')).toBeUndefined();
      const row = db.get<{ deleted: number; hlc: string; node_id: string }>('SELECT deleted, hlc, node_id FROM app_blobs WHERE key = ?', ['x'])!;
      expect(row.deleted).toBe(1);
      expect(row.hlc > row1.hlc).toBe(true);
      expect(row.node_id).toBe(cart.nodeId);
      expect(blobs.collectGarbage()).toEqual({ blobs: 1, chunks: 2 });
      expect(blobs.info(info.hash)).toBeUndefined();
      now = 7_000;
      const again = await store.put('a', 'x', bytes(10, 5));
      expect(again.createdAt).toBe(7_000);
    });

    it('the same bytes under two keys are stored once and survive deleting one key', async () => {
      const { store, blobs, count } = await setup();
      const data = bytes(CHUNK_SIZE + 100, 9);
      await store.put('a', 'one', data);
      await store.put('b', 'two', data);
      expect(count('vfs_blobs')).toBe(1);
      store.delete('a', 'one');
      expect(blobs.collectGarbage()).toEqual({ blobs: 0, chunks: 0 });
      expectBytes(store.read('b', 'two'), data);
    });

    it('isolates apps', async () => {
      const { store } = await setup();
      await store.put('app1', 'shared-name', new Uint8Array([1]));
      await store.put('app2', 'shared-name', new Uint8Array([2]));
      await store.put('app2', 'only-2', new Uint8Array([3]));
      expectBytes(store.read('app1', 'shared-name'), new Uint8Array([1]));
      expectBytes(store.read('app2', 'shared-name'), new Uint8Array([2]));
      expect(store.head('app1', 'only-2')).toBeUndefined();
      expect(store.list('app1').items.map((i) => i.key)).toEqual(['shared-name']);
      expect(store.delete('app1', 'only-2')).toBe(false);
      expect(store.delete('app1', 'shared-name')).toBe(true);
      expectBytes(store.read('app2', 'shared-name'), new Uint8Array([2]));
    });

    it('lists in key order, paginated by an opaque cursor present only while more remain', async () => {
      const { store } = await setup();
      const keys = Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(2, '0')}`);
      for (const k of [...keys].reverse()) await store.put('a', k, new TextEncoder().encode(k));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = store.list('a', { limit: 10, cursor });
        seen.push(...page.items.map((i) => i.key));
        cursor = page.cursor;
        pages++;
        if (cursor) expect(page.items).toHaveLength(10);
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen).toEqual(keys);
      // an exact multiple: the last full page has no cursor
      const p = store.list('a', { limit: 25 });
      expect(p.items).toHaveLength(25);
      expect(p.cursor).toBeUndefined();
      // items carry metadata
      expect(p.items[0]).toMatchObject({ key: 'k00', size: 3, contentType: 'application/octet-stream' });
      // default and clamped limits
      expect(store.list('a').items).toHaveLength(25);
      expect(store.list('a', { limit: 5000 }).items).toHaveLength(25);
      await expectFazt(() => store.list('a', { limit: 0 }), 'INVALID_ARGUMENT');
      await expectFazt(() => store.list('a', { limit: 1.5 }), 'INVALID_ARGUMENT');
      await expectFazt(() => store.list('a', { cursor: 'not a cursor!' }), 'INVALID_ARGUMENT');
      // deletes between pages neither repeat nor skip other keys
      const first = store.list('a', { limit: 5 });
      store.delete('a', 'k02');
      store.delete('a', 'k07');
      const second = store.list('a', { limit: 5, cursor: first.cursor });
      expect(second.items.map((i) => i.key)).toEqual(['k05', 'k06', 'k08', 'k09', 'k10']);
    });

    it('prefix is literal (% and _ are ordinary), case-sensitive, and works with non-ASCII and cursors', async () => {
      const { store } = await setup();
      const keys = ['a%b/1', 'a%b/2', 'axb/1', 'a_c', 'abc', 'A_c', 'img/ä1', 'img/ä2', 'img/b', 'img0', 'img/😀', 'img/\u{10FFFF}x'];
      for (const k of keys) await store.put('app', k, new Uint8Array([1]));
      const list = (prefix: string, limit?: number, cursor?: string) => store.list('app', { prefix, limit, cursor });
      expect(list('a%b').items.map((i) => i.key)).toEqual(['a%b/1', 'a%b/2']);
      expect(list('a_').items.map((i) => i.key)).toEqual(['a_c']);
      expect(list('A').items.map((i) => i.key)).toEqual(['A_c']);
      expect(list('img/').items.map((i) => i.key)).toEqual(['img/b', 'img/ä1', 'img/ä2', 'img/😀', 'img/\u{10FFFF}x']);
      expect(list('img/ä').items.map((i) => i.key)).toEqual(['img/ä1', 'img/ä2']);
      expect(list('img/\u{10FFFF}').items.map((i) => i.key)).toEqual(['img/\u{10FFFF}x']);
      expect(list('nothing').items).toEqual([]);
      const p1 = list('img/', 2);
      expect(p1.items.map((i) => i.key)).toEqual(['img/b', 'img/ä1']);
      const p2 = list('img/', 2, p1.cursor);
      expect(p2.items.map((i) => i.key)).toEqual(['img/ä2', 'img/😀']);
      const p3 = list('img/', 2, p2.cursor);
      expect(p3.items.map((i) => i.key)).toEqual(['img/\u{10FFFF}x']);
      expect(p3.cursor).toBeUndefined();
    });

    it('validates keys and content types', async () => {
      const { store } = await setup({ maxKeyBytes: 8 });
      await expectFazt(store.put('a', '', new Uint8Array(1)), 'INVALID_ARGUMENT');
      await expectFazt(store.put('a', 'a\u0000b', new Uint8Array(1)), 'INVALID_ARGUMENT');
      await expectFazt(store.put('a', '\uD800x', new Uint8Array(1)), 'INVALID_ARGUMENT');
      await expectFazt(store.put('a', 'ééééé', new Uint8Array(1)), 'INVALID_ARGUMENT'); // 10 bytes
      expect((await store.put('a', 'éééé', new Uint8Array(1))).key).toBe('éééé'); // 8 bytes
      await expectFazt(store.put('a', 'ok', new Uint8Array(1), 'text/plain\r\nX-Evil: 1'), 'INVALID_ARGUMENT');
      await expectFazt(store.put('a', 'ok', new Uint8Array(1), ''), 'INVALID_ARGUMENT');
      await expectFazt(() => store.head('a', ''), 'INVALID_ARGUMENT');
      await expectFazt(() => store.delete('a', 'x'.repeat(9)), 'INVALID_ARGUMENT');
    });

    it('writes replicated rows stamped with the node id and increasing HLCs', async () => {
      const { store, db, cart } = await setup();
      await store.put('a', 'k1', new Uint8Array([1]));
      await store.put('a', 'k2', new Uint8Array([2]));
      const rows = db.query<{ hlc: string; node_id: string; deleted: number }>('SELECT hlc, node_id, deleted FROM app_blobs ORDER BY key');
      expect(rows.map((r) => r.node_id)).toEqual([cart.nodeId, cart.nodeId]);
      expect(rows[1]!.hlc > rows[0]!.hlc).toBe(true);
      expect(rows.every((r) => r.deleted === 0)).toBe(true);
    });
  });
}
