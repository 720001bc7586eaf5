import { faztError } from '../testing/errors.js';
import { describe, expect, it } from 'vitest';
import { drivers } from '../testing/drivers.js';
import { openCartridge, type Cartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import { KvStore } from './kv.js';

/** A wall clock the test moves by hand. */
function manualClock(start = 1_700_000_000_000) {
  return {
    t: start,
    now() {
      return this.t;
    },
  };
}


interface Row {
  value: string;
  expires_at: number | null;
  deleted: number;
  hlc: string;
  node_id: string;
}

function row(cart: Cartridge, appId: string, key: string): Row | undefined {
  return cart.db.get<Row>('SELECT value, expires_at, deleted, hlc, node_id FROM app_kv WHERE app_id = ? AND key = ?', [appId, key]);
}

for (const d of drivers) {
  describe(`KvStore on ${d.name}`, () => {
    async function setup(limits?: ConstructorParameters<typeof KvStore>[1]) {
      const clock = manualClock();
      const cart = openCartridge(await d.open(), { clock });
      return { clock, cart, kv: new KvStore(cart, limits) };
    }

    it('sets, gets, overwrites and deletes JSON values', async () => {
      const { kv } = await setup();
      expect(kv.get('a', 'k')).toBeUndefined();
      kv.set('a', 'k', '{"n":1}');
      expect(kv.get('a', 'k')).toBe('{"n":1}');
      kv.set('a', 'k', '"two"');
      expect(kv.get('a', 'k')).toBe('"two"');
      expect(kv.delete('a', 'k')).toBe(true);
      expect(kv.get('a', 'k')).toBeUndefined();
      expect(kv.delete('a', 'k')).toBe(false);
      expect(kv.delete('a', 'never')).toBe(false);
      // a deleted key can be written again
      kv.set('a', 'k', 'null');
      expect(kv.get('a', 'k')).toBe('null');
    });

    it('writes stamp hlc and node_id; deletes leave tombstones that keep them', async () => {
      const { kv, cart, clock } = await setup();
      kv.set('a', 'k', '[1,2,3]');
      const first = row(cart, 'a', 'k')!;
      expect(first).toMatchObject({ deleted: 0, node_id: cart.nodeId, value: '[1,2,3]' });
      expect(first.hlc).toMatch(/^[0-9a-f]{13}-[0-9a-f]{4}-/);
      clock.t += 10;
      kv.delete('a', 'k');
      const tomb = row(cart, 'a', 'k')!;
      expect(tomb.deleted).toBe(1);
      expect(tomb.node_id).toBe(cart.nodeId);
      expect(tomb.hlc > first.hlc).toBe(true);
      expect(tomb.value).toBe('null');
      expect(cart.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM app_kv')!.n).toBe(1);
    });

    it('expires keys by TTL on the cartridge clock; purgeExpired tombstones them', async () => {
      const { kv, cart, clock } = await setup();
      kv.set('a', 'short', '1', { ttlMs: 1000 });
      kv.set('a', 'long', '2', { ttlMs: 5000 });
      kv.set('a', 'forever', '3');
      kv.set('b', 'short', '4', { ttlMs: 1000 });
      expect(row(cart, 'a', 'short')!.expires_at).toBe(clock.t + 1000);
      clock.t += 999;
      expect(kv.get('a', 'short')).toBe('1');
      clock.t += 1; // expires_at <= now: gone
      expect(kv.get('a', 'short')).toBeUndefined();
      expect(kv.list('a').items.map((i) => i.key)).toEqual(['forever', 'long']);
      expect(kv.delete('a', 'short')).toBe(false); // expired is not live
      const before = row(cart, 'a', 'long')!.hlc;
      expect(kv.purgeExpired()).toBe(1); // b/short (a/short was already tombstoned by delete)
      expect(row(cart, 'b', 'short')).toMatchObject({ deleted: 1, node_id: cart.nodeId, expires_at: null });
      expect(row(cart, 'a', 'long')!.hlc).toBe(before);
      expect(kv.purgeExpired()).toBe(0);
      clock.t += 4000;
      expect(kv.get('a', 'long')).toBeUndefined();
      expect(kv.purgeExpired()).toBe(1);
      expect(kv.get('a', 'forever')).toBe('3');
      // set without ttl clears a previous TTL
      kv.set('a', 'x', '1', { ttlMs: 10 });
      kv.set('a', 'x', '2');
      clock.t += 100;
      expect(kv.get('a', 'x')).toBe('2');
      // fractional TTLs round up to whole ms
      kv.set('a', 'frac', '1', { ttlMs: 0.5 });
      expect(row(cart, 'a', 'frac')!.expires_at).toBe(clock.t + 1);
    });

    it('lists expiresAt for keys with a TTL only', async () => {
      const { kv, clock } = await setup();
      kv.set('a', 'k1', '1', { ttlMs: 60_000 });
      kv.set('a', 'k2', '2');
      expect(kv.list('a')).toEqual({
        items: [
          { key: 'k1', value: '1', expiresAt: clock.t + 60_000 },
          { key: 'k2', value: '2' },
        ],
      });
    });

    it('isolates apps', async () => {
      const { kv } = await setup();
      kv.set('app1', 'k', '1');
      kv.set('app2', 'k', '2');
      expect(kv.get('app1', 'k')).toBe('1');
      expect(kv.get('app2', 'k')).toBe('2');
      expect(kv.delete('app1', 'k')).toBe(true);
      expect(kv.get('app2', 'k')).toBe('2');
      expect(kv.list('app1').items).toEqual([]);
      expect(kv.list('app2').items.map((i) => i.key)).toEqual(['k']);
      expect(kv.increment('app1', 'n')).toBe(1);
      expect(kv.increment('app2', 'n', 5)).toBe(5);
      expect(kv.get('app1', 'n')).toBe('1');
    });

    it('matches prefixes exactly: % _ and backslash are ordinary characters', async () => {
      const { kv } = await setup();
      for (const k of ['a%b', 'a%bc', 'axb', 'a_c', 'abc', 'a\\d', 'a\\', 'A%b', '%', '%%', '_x', 'x_']) kv.set('a', k, '1');
      const keys = (prefix: string) => kv.list('a', { prefix }).items.map((i) => i.key);
      expect(keys('a%')).toEqual(['a%b', 'a%bc']);
      expect(keys('a_')).toEqual(['a_c']);
      expect(keys('%')).toEqual(['%', '%%']);
      expect(keys('_')).toEqual(['_x']);
      expect(keys('a\\')).toEqual(['a\\', 'a\\d']);
      expect(keys('a%b')).toEqual(['a%b', 'a%bc']);
      expect(keys('zz')).toEqual([]);
      expect(keys('')).toHaveLength(12);
    });

    it('orders keys by UTF-8 bytes and keeps astral and U+FFFF characters inside a prefix', async () => {
      const { kv } = await setup();
      const all = ['p/\u{1F600}', 'p/\uffff', 'p/\uffffz', 'p/z', 'p/\u00e9', 'p0', 'p.', 'q/\u{10FFFF}', 'q/\u{10FFFF}\u{10FFFF}', 'r'];
      for (const k of all) kv.set('a', k, '1');
      const keys = (prefix: string) => kv.list('a', { prefix }).items.map((i) => i.key);
      // UTF-8 byte order: U+00E9 < U+FFFF < U+1F600
      expect(keys('p/')).toEqual(['p/z', 'p/\u00e9', 'p/\uffff', 'p/\uffffz', 'p/\u{1F600}']);
      expect(keys('p/\uffff')).toEqual(['p/\uffff', 'p/\uffffz']);
      expect(keys('q/\u{10FFFF}')).toEqual(['q/\u{10FFFF}', 'q/\u{10FFFF}\u{10FFFF}']);
      expect(keys('p')).toEqual(['p.', 'p/z', 'p/\u00e9', 'p/\uffff', 'p/\uffffz', 'p/\u{1F600}', 'p0']);
      // pages across astral keys resume in the right place
      const page1 = kv.list('a', { prefix: 'p/', limit: 3 });
      expect(page1.items.map((i) => i.key)).toEqual(['p/z', 'p/\u00e9', 'p/\uffff']);
      expect(kv.list('a', { prefix: 'p/', limit: 3, cursor: page1.cursor }).items.map((i) => i.key)).toEqual(['p/\uffffz', 'p/\u{1F600}']);
    });

    it('pages through 250 keys with an opaque cursor', async () => {
      const { kv } = await setup();
      const keys = Array.from({ length: 250 }, (_, i) => `item:${String(i).padStart(3, '0')}`);
      for (const k of [...keys].reverse()) kv.set('a', k, JSON.stringify(k));
      kv.set('a', 'other', '0');
      kv.set('b', 'item:x', '0');
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = kv.list('a', { prefix: 'item:', cursor });
        pages++;
        seen.push(...page.items.map((i) => i.key));
        if (page.cursor !== undefined) expect(page.cursor).toMatch(/^[A-Za-z0-9_-]+$/);
        cursor = page.cursor;
      } while (cursor);
      expect(pages).toBe(3); // 100 + 100 + 50, no empty last page
      expect(seen).toEqual(keys);
      // exactly a full page: no cursor
      const exact = kv.list('a', { prefix: 'item:1', limit: 100 });
      expect(exact.items).toHaveLength(100);
      expect(exact.cursor).toBeUndefined();
      // limits clamp at 1000 and must be positive integers
      expect(kv.list('a', { limit: 5000 }).items).toHaveLength(251);
      expect(faztError(() => kv.list('a', { limit: 0 })).code).toBe('INVALID_ARGUMENT');
      expect(faztError(() => kv.list('a', { limit: 1.5 })).code).toBe('INVALID_ARGUMENT');
      expect(faztError(() => kv.list('a', { cursor: 'not a cursor!' })).code).toBe('INVALID_ARGUMENT');
      expect(faztError(() => kv.list('a', { cursor: '__8' })).code).toBe('INVALID_ARGUMENT'); // not UTF-8
      // a cursor before the prefix does not leak other keys
      const early = kv.list('a', { prefix: 'item:', limit: 1 });
      const fromOther = kv.list('a', { limit: 1 }); // cursor after 'item:000'
      expect(early.cursor).toBe(fromOther.cursor);
      const weird = kv.list('a', { prefix: 'other', cursor: early.cursor });
      expect(weird.items.map((i) => i.key)).toEqual(['other']);
    });

    it('increments atomically, starting missing and expired keys at 0', async () => {
      const { kv, cart, clock } = await setup();
      expect(kv.increment('a', 'n')).toBe(1);
      expect(kv.increment('a', 'n')).toBe(2);
      expect(kv.increment('a', 'n', -5)).toBe(-3);
      expect(kv.increment('a', 'n', 0.5)).toBe(-2.5);
      expect(kv.get('a', 'n')).toBe('-2.5');
      for (let i = 0; i < 500; i++) kv.increment('a', 'many');
      expect(kv.get('a', 'many')).toBe('500');
      // TTL: set by ttlMs, kept by later increments, restarted by a new ttlMs
      kv.increment('a', 't', 1, { ttlMs: 1000 });
      const exp = row(cart, 'a', 't')!.expires_at;
      clock.t += 500;
      expect(kv.increment('a', 't')).toBe(2);
      expect(row(cart, 'a', 't')!.expires_at).toBe(exp);
      clock.t += 500;
      expect(kv.increment('a', 't')).toBe(1); // expired: starts again at 0, without TTL
      expect(row(cart, 'a', 't')!.expires_at).toBeNull();
      // a rolled-back outer transaction undoes the increment
      expect(() =>
        cart.db.transaction(() => {
          kv.increment('a', 'n', 100);
          throw new Error('abort');
        }),
      ).toThrow('abort');
      expect(kv.get('a', 'n')).toBe('-2.5');
      // hlc and node id are stamped
      expect(row(cart, 'a', 'n')!.node_id).toBe(cart.nodeId);
    });

    it('refuses to increment non-numbers, leaving the value unchanged', async () => {
      const { kv, cart } = await setup();
      kv.set('a', 'x', '"hello"');
      const e = faztError(() => kv.increment('a', 'x'));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toBe('kv key "x" holds a string, not a number.');
      kv.set('a', 'o', '{"a":1}');
      expect(faztError(() => kv.increment('a', 'o')).message).toContain('holds an object, not a number');
      kv.set('a', 'z', 'null');
      expect(faztError(() => kv.increment('a', 'z')).message).toContain('holds null, not a number');
      expect(kv.get('a', 'x')).toBe('"hello"');
      kv.set('a', 'n', '1');
      const hlc = row(cart, 'a', 'n')!.hlc;
      for (const by of [NaN, Infinity, '1' as unknown as number]) expect(faztError(() => kv.increment('a', 'n', by)).code).toBe('INVALID_ARGUMENT');
      kv.set('a', 'big', String(Number.MAX_VALUE));
      expect(faztError(() => kv.increment('a', 'big', Number.MAX_VALUE)).code).toBe('INVALID_ARGUMENT');
      expect(row(cart, 'a', 'n')!.hlc).toBe(hlc);
      expect(kv.get('a', 'n')).toBe('1');
    });

    it('validates keys, values and TTLs', async () => {
      const { kv } = await setup();
      for (const key of ['', 5, null, undefined, 'a\u0000b', 'bad\ud800']) {
        expect(faztError(() => kv.set('a', key as string, '1')).code).toBe('INVALID_ARGUMENT');
      }
      expect(faztError(() => kv.get('a', '')).code).toBe('INVALID_ARGUMENT');
      for (const v of [undefined, 1, '{not json', '']) expect(faztError(() => kv.set('a', 'k', v as string)).code).toBe('INVALID_ARGUMENT');
      for (const ttlMs of [0, -1, NaN, Infinity, '10', 1e300]) {
        expect(faztError(() => kv.set('a', 'k', '1', { ttlMs: ttlMs as number })).code).toBe('INVALID_ARGUMENT');
      }
      expect(faztError(() => kv.list('a', { prefix: 5 as unknown as string })).code).toBe('INVALID_ARGUMENT');
      expect(kv.get('a', 'k')).toBeUndefined();
    });

    it('enforces key and value size limits in UTF-8 bytes', async () => {
      const { kv, cart } = await setup();
      kv.set('a', 'k'.repeat(512), '1');
      const e = faztError(() => kv.set('a', 'k'.repeat(513), '1'));
      expect(e.code).toBe('LIMIT_EXCEEDED');
      expect(e.message).toContain('maxKeyBytes');
      expect(e.message).toContain('512');
      kv.set('a', '\u00e9'.repeat(256), '1'); // 512 bytes
      expect(faztError(() => kv.set('a', '\u00e9'.repeat(257), '1')).code).toBe('LIMIT_EXCEEDED');
      const big = JSON.stringify('x'.repeat(1024 * 1024 - 2)); // exactly 1 MiB
      kv.set('a', 'big', big);
      expect(kv.get('a', 'big')).toHaveLength(1024 * 1024);
      const tooBig = faztError(() => kv.set('a', 'big2', JSON.stringify('x'.repeat(1024 * 1024 - 1))));
      expect(tooBig.code).toBe('LIMIT_EXCEEDED');
      expect(tooBig.message).toContain('maxValueBytes');
      const small = new KvStore(cart, { maxValueBytes: 10, maxKeyBytes: 3 });
      expect(small.limits).toEqual({ maxKeyBytes: 3, maxValueBytes: 10 });
      expect(faztError(() => small.set('a', 'k', JSON.stringify('\u00e9'.repeat(5)))).code).toBe('LIMIT_EXCEEDED'); // 12 bytes
      expect(faztError(() => small.set('a', 'abcd', '1')).code).toBe('LIMIT_EXCEEDED');
    });
  });
}
