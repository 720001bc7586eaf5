import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeHlc, encodeHlc, HybridLogicalClock } from './index.js';

/** Property tests of the hybrid logical clock (Kulkarni et al. 2014): order, round trip, monotonicity. */

const MAX_MS = 16 ** 13 - 1;
const node = fc.stringMatching(/^[a-z0-9-]{1,24}$/);
const stamp = fc.record({ ms: fc.integer({ min: 0, max: MAX_MS }), counter: fc.integer({ min: 0, max: 0xffff }), node });

describe('HLC (properties)', () => {
  it('decodes what it encodes', () => {
    fc.assert(
      fc.property(stamp, (t) => {
        expect(decodeHlc(encodeHlc(t))).toEqual(t);
      }),
    );
  });

  it('the string order of one node’s stamps is the order of (ms, counter)', () => {
    fc.assert(
      fc.property(stamp, stamp, (a, b) => {
        const x = encodeHlc(a);
        const y = encodeHlc({ ...b, node: a.node });
        const byTuple = a.ms - b.ms || a.counter - b.counter;
        expect(Math.sign(x < y ? -1 : x > y ? 1 : 0)).toBe(Math.sign(byTuple));
      }),
    );
  });

  /** A step of a node's life: its wall clock moves (even backwards), it writes, or it hears a peer. */
  const step = fc.oneof(
    fc.record({ kind: fc.constant('wall' as const), delta: fc.integer({ min: -5_000, max: 5_000 }) }),
    fc.record({ kind: fc.constant('now' as const) }),
    fc.record({
      kind: fc.constant('receive' as const),
      skew: fc.integer({ min: -10_000, max: 60_000 }),
      counter: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0xfffd, max: 0xffff })),
      node,
    }),
  );

  it('every local stamp is well-formed, greater than every stamp before it, local or received', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.integer({ min: 0, max: 2 ** 40 }), (steps, start) => {
        let wall = start;
        const hlc = new HybridLogicalClock('self', { now: () => wall }, 60_000);
        let highest = '';
        for (const s of steps) {
          if (s.kind === 'wall') wall = Math.max(0, wall + s.delta);
          else if (s.kind === 'receive') {
            const remote = encodeHlc({ ms: Math.max(0, wall + s.skew), counter: s.counter, node: s.node });
            hlc.receive(remote);
            // compare on (ms, counter): a peer's node id decides only ties, which receive() breaks
            const r = decodeHlc(remote);
            const key = encodeHlc({ ms: r.ms, counter: r.counter, node: 'self' });
            if (key > highest) highest = key;
          } else {
            const t = hlc.now();
            const d = decodeHlc(t); // throws when malformed (e.g. a 5-digit counter)
            expect(d.node).toBe('self');
            expect(d.counter).toBeLessThanOrEqual(0xffff);
            expect(t > highest, `${t} after ${highest}`).toBe(true);
            highest = t;
          }
        }
      }),
    );
  });

  it('refuses a peer more than maxDriftMs ahead', () => {
    fc.assert(
      fc.property(fc.integer({ min: 60_001, max: 10 ** 9 }), (ahead) => {
        const hlc = new HybridLogicalClock('self', { now: () => 1_000_000 }, 60_000);
        expect(() => hlc.receive(encodeHlc({ ms: 1_000_000 + ahead, counter: 0, node: 'peer' }))).toThrow(/ahead/);
      }),
    );
  });
});
