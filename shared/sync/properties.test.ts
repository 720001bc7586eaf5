import fc from 'fast-check';
import initSqlJs from 'sql.js';
import { describe, expect, it } from 'vitest';
import { openCartridge } from '../cartridge/index.js';
import { decodeHlc, HybridLogicalClock } from '../clock/index.js';
import { createKernel } from '../kernel.js';
import { SqlJsDatabase } from '../sql/sqljs.js';
import { descends, MAX_DRIFT_MS } from './stamps.js';

/** Property tests (fast-check) of the HLC rules and the merge (docs/sync-spec.md S1–S4, S10–S14, S33). */

const T0 = 1_800_000_000_000;
const WRITERS = ['aaaaaaaaaaaaaaa1', 'bbbbbbbbbbbbbbb2', 'ccccccccccccccc3'];
const stamp = (ms: number, counter: number, w: string) => `${ms.toString(16).padStart(13, '0')}-${counter.toString(16).padStart(4, '0')}-${w}`;

describe('HLC properties', () => {
  it('S1 S2: stamps only grow, and a local stamp after receive(r) is greater than r', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 50 }) }),
            fc.record({ op: fc.constant('now' as const) }),
            fc.record({ op: fc.constant('recv' as const), ahead: fc.integer({ min: -100_000, max: MAX_DRIFT_MS }), counter: fc.integer({ min: 0, max: 0xfffe }), w: fc.constantFrom(...WRITERS) }),
          ),
          { maxLength: 200 },
        ),
        (ops) => {
          let wall = T0;
          const hlc = new HybridLogicalClock('ddddddddddddddd4', { now: () => wall });
          let last = '';
          for (const o of ops) {
            if (o.op === 'tick') wall += o.ms;
            else if (o.op === 'now') {
              const s = hlc.now();
              expect(s > last).toBe(true);
              last = s;
            } else {
              const r = stamp(wall + o.ahead, o.counter, o.w);
              hlc.receive(r);
              const s = hlc.now();
              expect(s.slice(0, 18) > r.slice(0, 18)).toBe(true); // ms then counter, the writer aside
              expect(s > last).toBe(true);
              last = s;
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('S3: a stamp more than MAX_DRIFT_MS ahead is refused and not adopted', () => {
    fc.assert(
      fc.property(fc.integer({ min: MAX_DRIFT_MS + 1, max: 365 * 24 * 3600_000 }), fc.integer({ min: 0, max: 0xffff }), (ahead, counter) => {
        const hlc = new HybridLogicalClock('ddddddddddddddd4', { now: () => T0 }, MAX_DRIFT_MS);
        const before = hlc.now();
        expect(() => hlc.receive(stamp(T0 + ahead, counter, WRITERS[0]!))).toThrow(/ahead/);
        const after = hlc.now();
        expect(decodeHlc(after).ms).toBe(decodeHlc(before).ms); // the clock did not jump
      }),
      { numRuns: 200 },
    );
  });
});

let SQL: Awaited<ReturnType<typeof initSqlJs>> | undefined;
async function engine() {
  SQL ??= await initSqlJs();
  const k = createKernel({ cartridge: openCartridge(SqlJsDatabase.open(SQL), { clock: { now: () => T0 + 10_000 } }) });
  return k.sync.engine;
}

/** A random stamp among three writers, within the last second before T0 + 10 s. */
const arbStamp = fc.record({ ms: fc.integer({ min: T0 + 9_000, max: T0 + 9_100 }), c: fc.integer({ min: 0, max: 3 }), w: fc.constantFrom(...WRITERS) }).map((x) => stamp(x.ms, x.c, x.w));

const arbKvRow = fc.record({
  key: fc.constantFrom('x', 'y'),
  v: fc.option(fc.integer({ min: 0, max: 5 }).map(String), { nil: null }),
  h: arbStamp,
  b: fc.option(arbStamp, { nil: null }),
}).map((r) => ({ t: 'kv' as const, app: 'app1', key: r.key, v: r.v, exp: null, h: r.h, b: r.b && r.b < r.h ? r.b : null }));

const arbDocRow = fc
  .record({
    id: fc.constantFrom('d1', 'd2'),
    born: fc.option(arbStamp, { nil: null }),
    del: fc.option(arbStamp, { nil: null }),
    fields: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.record({ v: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }), h: arbStamp }), { maxKeys: 3 }),
  })
  .filter((r) => r.born !== null || r.del !== null || Object.keys(r.fields).length > 0)
  .map((r) => {
    const fields: Record<string, { v?: unknown; h: string; b: null }> = {};
    for (const [k, f] of Object.entries(r.fields)) {
      if (r.del && f.h <= r.del) continue; // a sender never holds a field older than its delete (S14)
      fields[k] = f.v === undefined ? { h: f.h, b: null } : { v: f.v, h: f.h, b: null };
    }
    return { t: 'doc' as const, app: 'app1', col: 'c', id: r.id, born: r.born, del: r.del ? { h: r.del, seen: {} } : null, fields, created: T0, updated: T0 };
  });

/** The replicated data (not the conflicts: which conflicts a node sees depends on what met on it). */
function data(e: Awaited<ReturnType<typeof engine>>) {
  const s = e.stateRows();
  return { kv: s.kv, docs: s.docs, docFields: s.docFields, docMeta: s.docMeta };
}

describe('merge properties (real engines on sql.js)', () => {
  it('S10 S11 S12 S14 S33: any order, any duplication of the same rows gives the same data', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(arbKvRow, arbDocRow), { minLength: 1, maxLength: 12 }), fc.integer(), async (rows, seed) => {
        const shuffled = [...rows];
        let s = seed >>> 0;
        for (let i = shuffled.length - 1; i > 0; i--) {
          s = (s * 1103515245 + 12345) >>> 0;
          const j = s % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        const a = await engine();
        const b = await engine();
        for (const r of rows) a.apply(WRITERS[0]!, { from: 0, to: 1, rows: [r] });
        for (const r of [...shuffled, ...rows.slice(0, 3)]) b.apply(WRITERS[1]!, { from: 0, to: 1, rows: [r] });
        expect(data(b)).toEqual(data(a));
        // applying everything once more changes no data (S33)
        const before = data(a);
        expect(a.apply(WRITERS[0]!, { from: 0, to: 1, rows }).changed).toBe(0);
        expect(data(a)).toEqual(before);
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('S11 S13: the greatest stamp wins a key; a concurrent loser with another value is a conflict', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbKvRow, { minLength: 2, maxLength: 8 }), async (rows) => {
        const e = await engine();
        for (const r of rows) e.apply(WRITERS[0]!, { from: 0, to: 1, rows: [r] });
        for (const key of ['x', 'y']) {
          const mine = rows.filter((r) => r.key === key);
          if (!mine.length) continue;
          const max = mine.reduce((m, r) => (r.h > m.h ? r : m));
          const row = e.readRow('app_kv', 'app1', key, null) as { v: string | null; h: string };
          expect(row.h).toBe(max.h);
          expect(row.v).toBe(max.v);
        }
        // every recorded conflict is between two versions where neither descends from the other
        for (const c of e.cart.db.query<{ key: string; winner_hlc: string; loser_hlc: string }>('SELECT key, winner_hlc, loser_hlc FROM sync_conflicts')) {
          expect(c.winner_hlc > c.loser_hlc).toBe(true);
          const lose = rows.find((r) => r.h === c.loser_hlc && r.key === c.key);
          const win = rows.find((r) => r.h === c.winner_hlc && r.key === c.key);
          if (lose && win) expect(descends(lose, win)).toBe(false);
        }
      }),
      { numRuns: 80 },
    );
  }, 120_000);
});
