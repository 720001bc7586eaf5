import { faztError as fazt } from '../testing/errors.js';
import { describe, expect, it } from 'vitest';
import { drivers } from '../testing/drivers.js';
import { openCartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import { AppLogStore, truncateUtf8, type LogEntry } from './app-logs.js';

const byteLen = (s: string) => new TextEncoder().encode(s).length;


describe('truncateUtf8', () => {
  it('keeps short text, cuts long text on a character boundary with …', () => {
    expect(truncateUtf8('hello', 5)).toBe('hello');
    expect(truncateUtf8('hello!', 5)).toBe('he…');
    expect(truncateUtf8('ééé', 6)).toBe('ééé');
    const cut = truncateUtf8('é'.repeat(10), 8); // 20 bytes → 2 é (4 bytes) + … (3 bytes)
    expect(cut).toBe('éé…');
    expect(byteLen(cut)).toBeLessThanOrEqual(8);
    const emoji = truncateUtf8('😀'.repeat(5), 10); // never splits a surrogate pair
    expect(emoji).toBe('😀…');
  });
});

for (const d of drivers) {
  describe(`AppLogStore on ${d.name}`, () => {
    async function setup(opts?: ConstructorParameters<typeof AppLogStore>[1]) {
      let now = 10_000;
      const db = await d.open();
      const cart = openCartridge(db, { clock: { now: () => now } });
      const logs = new AppLogStore(cart, opts);
      const rows = (appId: string) => db.get<{ n: number }>('SELECT COUNT(*) AS n FROM app_logs WHERE app_id = ?', [appId])!.n;
      return { db, cart, logs, rows, setNow: (n: number) => (now = n) };
    }

    it('appends and returns entries as stored', async () => {
      const { logs, setNow } = await setup();
      const e = logs.append('app', { level: 'info', message: 'hello', data: { n: 1, tags: ['a'] }, source: 'request GET /api/x' });
      expect(e).toEqual({ id: e.id, appId: 'app', ts: 10_000, level: 'info', message: 'hello', data: { n: 1, tags: ['a'] }, source: 'request GET /api/x' });
      setNow(10_001);
      const plain = logs.append('app', { level: 'debug', message: 'no extras' });
      expect(plain).toEqual({ id: plain.id, appId: 'app', ts: 10_001, level: 'debug', message: 'no extras' });
      expect(plain.id).toBeGreaterThan(e.id);
      expect(logs.query('app')).toEqual([e, plain]);
      // falsy data survives
      expect(logs.append('app', { level: 'info', message: 'zero', data: 0 }).data).toBe(0);
      expect(logs.append('app', { level: 'info', message: 'null', data: null }).data).toBeNull();
      expect(fazt(() => logs.append('app', { level: 'fatal' as 'error', message: 'x' })).code).toBe('INVALID_ARGUMENT');
    });

    it('keeps at most maxRowsPerApp rows per app across 5,000 appends, newest kept', async () => {
      const { logs, rows } = await setup();
      let max = 0;
      for (let i = 0; i < 5000; i++) {
        logs.append('busy', { level: 'info', message: `m${i}` });
        if (i % 50 === 0) logs.append('quiet', { level: 'info', message: `q${i}` });
        if (i % 97 === 0) max = Math.max(max, rows('busy'));
      }
      max = Math.max(max, rows('busy'));
      expect(max).toBeLessThanOrEqual(2000);
      expect(rows('busy')).toBeGreaterThanOrEqual(1901);
      const tail = logs.tail('busy', 1000);
      expect(tail[tail.length - 1]!.message).toBe('m4999');
      expect(tail[0]!.message).toBe('m4000');
      expect(rows('quiet')).toBe(100); // another app's rows are not trimmed by a busy one
    });

    it('a small cap and a restart (a new store on a full table) still hold the cap', async () => {
      const { db, cart, logs, rows } = await setup({ maxRowsPerApp: 50 });
      for (let i = 0; i < 500; i++) {
        logs.append('a', { level: 'info', message: String(i) });
        expect(rows('a')).toBeLessThanOrEqual(50);
      }
      // rows left by a process with a larger cap
      for (let i = 0; i < 80; i++) db.run("INSERT INTO app_logs (app_id, ts, level, message) VALUES ('a', 0, 'info', 'old')");
      const restarted = new AppLogStore(cart, { maxRowsPerApp: 50 });
      restarted.append('a', { level: 'info', message: 'new' });
      expect(rows('a')).toBeLessThanOrEqual(50);
      expect(restarted.tail('a', 1)[0]!.message).toBe('new');
      const one = new AppLogStore(cart, { maxRowsPerApp: 1 });
      for (let i = 0; i < 5; i++) one.append('b', { level: 'info', message: String(i) });
      expect(one.tail('b', 10).map((e) => e.message)).toEqual(['4']);
    });

    it('truncates long messages, data and sources; unserializable data becomes its String()', async () => {
      const { logs } = await setup({ maxMessageBytes: 100 });
      const e = logs.append('a', { level: 'warn', message: 'x'.repeat(500) });
      expect(byteLen(e.message)).toBeLessThanOrEqual(100);
      expect(e.message.endsWith('…')).toBe(true);
      expect(e.message.startsWith('x'.repeat(90))).toBe(true);
      expect(logs.query('a')[0]!.message).toBe(e.message);
      const multi = logs.append('a', { level: 'info', message: 'ü'.repeat(200) });
      expect(byteLen(multi.message)).toBeLessThanOrEqual(100);
      expect(multi.message).toMatch(/^ü+…$/);

      const big = logs.append('a', { level: 'info', message: 'big data', data: { text: '"quoted"\n'.repeat(100) } });
      expect(typeof big.data).toBe('string');
      expect((big.data as string).startsWith('{"text":"\\"quoted\\"\\n')).toBe(true);
      expect((big.data as string).endsWith('…')).toBe(true);
      expect(logs.tail('a', 1)[0]!.data).toEqual(big.data);

      const cyclic: Record<string, unknown> = { name: 'loop' };
      cyclic.self = cyclic;
      expect(logs.append('a', { level: 'error', message: 'cycle', data: cyclic }).data).toBe('[object Object]');
      expect(logs.append('a', { level: 'error', message: 'bigint', data: 10n }).data).toBe('10');
      expect(logs.append('a', { level: 'error', message: 'fn', data: function named() {} }).data).toMatch(/^function named/);
      expect(logs.append('a', { level: 'error', message: 'no proto', data: Object.create(null) }).data).toEqual({});
      const err = logs.append('a', { level: 'error', message: 'error', data: new Error('boom') });
      expect(err.data).toEqual({}); // JSON of an Error: callers should pass { message, stack }
      const src = logs.append('a', { level: 'info', message: 's', source: 's'.repeat(1000) });
      expect(byteLen(src.source!)).toBeLessThanOrEqual(256);
    });

    it('pages with afterId, limits, and filters by minimum level', async () => {
      const { logs } = await setup();
      const levels = ['debug', 'info', 'warn', 'error'] as const;
      const all: LogEntry[] = [];
      for (let i = 0; i < 250; i++) all.push(logs.append('a', { level: levels[i % 4]!, message: `m${i}` }));
      const seen: LogEntry[] = [];
      let after: number | undefined;
      for (;;) {
        const page = logs.query('a', { afterId: after, limit: 100 });
        if (page.length === 0) break;
        seen.push(...page);
        after = page[page.length - 1]!.id;
      }
      expect(seen).toEqual(all);
      expect(logs.query('a')).toHaveLength(100);
      expect(logs.query('a', { limit: 5000 })).toHaveLength(250);
      expect(logs.query('a', { afterId: all[247]!.id }).map((e) => e.message)).toEqual(['m248', 'm249']);
      const warn = logs.query('a', { level: 'warn', limit: 1000 });
      expect(warn).toHaveLength(124);
      expect(warn.every((e) => e.level === 'warn' || e.level === 'error')).toBe(true);
      expect(logs.query('a', { level: 'error', limit: 1000 })).toHaveLength(62);
      expect(logs.query('a', { level: 'debug', limit: 1000 })).toHaveLength(250);
      expect(logs.tail('a', 3).map((e) => e.message)).toEqual(['m247', 'm248', 'm249']);
      expect(logs.tail('a', 2, 'error').map((e) => e.message)).toEqual(['m243', 'm247']);
      expect(logs.tail('a')).toHaveLength(100);
      expect(fazt(() => logs.query('a', { limit: 0 })).code).toBe('INVALID_ARGUMENT');
      expect(fazt(() => logs.query('a', { level: 'loud' as 'warn' })).code).toBe('INVALID_ARGUMENT');
      expect(fazt(() => logs.tail('a', -1)).code).toBe('INVALID_ARGUMENT');
    });

    it('subscribe follows one app or all; unsubscribe stops; a throwing listener breaks nothing', async () => {
      const { logs } = await setup();
      const one: string[] = [];
      const all: string[] = [];
      const offOne = logs.subscribe('a', (e) => one.push(e.message));
      const offAll = logs.subscribe('*', (e) => all.push(`${e.appId}:${e.message}`));
      const offBad = logs.subscribe('a', () => {
        throw new Error('listener bug');
      });
      const e = logs.append('a', { level: 'info', message: '1' });
      logs.append('b', { level: 'info', message: '2' });
      expect(e.message).toBe('1');
      expect(one).toEqual(['1']);
      expect(all).toEqual(['a:1', 'b:2']);
      offOne();
      offOne(); // idempotent
      offBad();
      logs.append('a', { level: 'info', message: '3' });
      expect(one).toEqual(['1']);
      expect(all).toEqual(['a:1', 'b:2', 'a:3']);
      offAll();
      logs.append('a', { level: 'info', message: '4' });
      expect(all).toHaveLength(3);
      // the same function subscribed twice is two subscriptions
      const twice: string[] = [];
      const f = (x: LogEntry) => twice.push(x.message);
      const off1 = logs.subscribe('a', f);
      logs.subscribe('a', f);
      off1();
      logs.append('a', { level: 'info', message: '5' });
      expect(twice).toEqual(['5']);
      // the live entry equals the stored one
      let live: LogEntry | undefined;
      logs.subscribe('c', (x) => (live = x));
      const stored = logs.append('c', { level: 'warn', message: 'w', data: [1, 2] });
      expect(live).toEqual(stored);
      expect(logs.tail('c', 1)[0]).toEqual(stored);
    });

    it('isolates apps; clear removes one app only', async () => {
      const { logs } = await setup();
      logs.append('a', { level: 'info', message: 'for a' });
      logs.append('b', { level: 'info', message: 'for b' });
      expect(logs.query('a').map((e) => e.message)).toEqual(['for a']);
      expect(logs.tail('b', 10).map((e) => e.message)).toEqual(['for b']);
      expect(logs.query('nobody')).toEqual([]);
      expect(logs.clear('a')).toBe(1);
      expect(logs.query('a')).toEqual([]);
      expect(logs.query('b')).toHaveLength(1);
    });
  });
}
