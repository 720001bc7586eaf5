import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HOST_OPS, isHostOp } from './host-ops.js';

/** The prelude's text (the sandbox side of the bridge). */
const PRELUDE = readFileSync(new URL('./prelude.sandbox.js', import.meta.url), 'utf8');

/** Every `call('op'…)`, `callAsync('op'…)`, `hostCall('op'…)`, `hostAsync('op'…)` in the prelude, with how it is called. */
function preludeCalls(): { op: string; kind: 'sync' | 'async' }[] {
  const out: { op: string; kind: 'sync' | 'async' }[] = [];
  for (const m of PRELUDE.matchAll(/\b(call|callAsync|hostCall|hostAsync)\('([^']+)'/g)) {
    out.push({ op: m[2]!, kind: m[1] === 'call' || m[1] === 'hostCall' ? 'sync' : 'async' });
  }
  return out;
}

describe('the host-op table is the one list of host operations', () => {
  it('every op the prelude calls is in HOST_OPS, called with the kind the table gives it', () => {
    const calls = preludeCalls();
    expect(calls.length).toBeGreaterThan(30);
    for (const c of calls) {
      expect(isHostOp(c.op), `prelude calls "${c.op}", which is not in HOST_OPS`).toBe(true);
      expect(HOST_OPS[c.op as keyof typeof HOST_OPS].kind, `prelude calls "${c.op}" as ${c.kind}`).toBe(c.kind);
    }
  });

  it('every op of the table is called by the prelude (no dead entries)', () => {
    const used = new Set(preludeCalls().map((c) => c.op));
    const unused = Object.keys(HOST_OPS).filter((op) => !used.has(op));
    expect(unused).toEqual([]);
  });

  it('isHostOp refuses inherited names', () => {
    expect(isHostOp('constructor')).toBe(false);
    expect(isHostOp('__proto__')).toBe(false);
  });
});
