import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRange } from './static.js';

/** Property tests of `Range` parsing against RFC 9110 §14.1.2 (byte ranges) and §14.4 (416). */

/** A decimal position, sometimes far past 2^53 (clients may send any digit string). */
const position = fc.oneof(fc.bigInt({ min: 0n, max: 10_000n }), fc.bigInt({ min: 0n, max: 10n ** 30n }));
const size = fc.integer({ min: 0, max: 1_000_000 });

describe('parseRange (properties)', () => {
  it('bytes=first-last: ignored when last < first, 416 when first is past the end, else clamped to the resource', () => {
    fc.assert(
      fc.property(position, position, size, (first, last, n) => {
        const r = parseRange(`bytes=${first}-${last}`, n);
        if (last < first) expect(r).toBeUndefined();
        else if (first >= BigInt(n)) expect(r).toBe('unsatisfiable');
        else expect(r).toEqual({ start: Number(first), end: Number(last < BigInt(n - 1) ? last : BigInt(n - 1)) });
      }),
    );
  });

  it('bytes=first-: to the end, or 416 when first is past it', () => {
    fc.assert(
      fc.property(position, size, (first, n) => {
        const r = parseRange(`bytes=${first}-`, n);
        expect(r).toEqual(first >= BigInt(n) ? 'unsatisfiable' : { start: Number(first), end: n - 1 });
      }),
    );
  });

  it('bytes=-suffix: the last suffix bytes (the whole resource when it is shorter), 416 for an empty suffix or resource', () => {
    fc.assert(
      fc.property(position, size, (suffix, n) => {
        const r = parseRange(`bytes=-${suffix}`, n);
        if (suffix === 0n || n === 0) expect(r).toBe('unsatisfiable');
        else expect(r).toEqual({ start: suffix >= BigInt(n) ? 0 : n - Number(suffix), end: n - 1 });
      }),
    );
  });

  it('any header gives undefined, 416, or a range inside the resource', () => {
    const header = fc.oneof(
      fc.string(),
      fc.tuple(fc.constantFrom('bytes=', 'Bytes=', 'bytes =', 'items='), fc.stringMatching(/^[0-9, -]{0,12}$/)).map(([a, b]) => a + b),
    );
    fc.assert(
      fc.property(header, size, (h, n) => {
        const r = parseRange(h, n);
        if (r === undefined || r === 'unsatisfiable') return;
        expect(Number.isSafeInteger(r.start) && Number.isSafeInteger(r.end)).toBe(true);
        expect(0 <= r.start && r.start <= r.end && r.end < n).toBe(true);
      }),
    );
  });

  it('the range unit is case-insensitive (RFC 9110 §14.1)', () => {
    expect(parseRange('Bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange('BYTES=-5', 100)).toEqual({ start: 95, end: 99 });
  });
});
