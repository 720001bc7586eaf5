import { describe, expect, it } from 'vitest';
import { TimedDispatcher, type DispatchSource } from './dispatcher.js';
import { silentLogger } from './retry.js';
import type { HostTimers } from './timer.js';

/** An in-memory queue: items due at a moment, in lanes; a run resolves when the test says so. */
function queue(items: { id: string; lane: string; due: number }[]) {
  const pending = [...items];
  const started: string[] = [];
  const finish = new Map<string, (fail?: boolean) => void>();
  const source: DispatchSource<string> = {
    nextDue: (busy) => Math.min(...pending.filter((i) => !busy.has(i.lane)).map((i) => i.due)) as number,
    claim: (now, busy) => {
      const i = pending.find((p) => p.due <= now && !busy.has(p.lane));
      if (!i) return undefined;
      pending.splice(pending.indexOf(i), 1);
      started.push(i.id);
      return { lane: i.lane, item: i.id };
    },
    run: (id) => new Promise<void>((resolve, reject) => finish.set(id, (fail) => (fail ? reject(new Error('disk full')) : resolve()))),
  };
  const src = { ...source, nextDue: (busy: ReadonlySet<string>) => (pending.some((i) => !busy.has(i.lane)) ? source.nextDue(busy) : undefined) };
  return { source: src, started, finish, pending };
}

/** Fake timers: the test fires them. */
function fakeTimers() {
  const armed = new Map<number, { fn: () => void; ms: number }>();
  let seq = 0;
  const timers: HostTimers = {
    setTimeout: (fn, ms) => (armed.set(++seq, { fn, ms }), seq),
    clearTimeout: (h) => void armed.delete(h as number),
  };
  return { timers, armed, fire: () => [...armed.entries()].forEach(([h, t]) => (armed.delete(h), t.fn())) };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('TimedDispatcher', () => {
  it('runs one item per lane and at most `concurrency` at once; a finished item dispatches the next', async () => {
    const now = 1000;
    const q = queue([
      { id: 'a1', lane: 'a', due: 0 },
      { id: 'a2', lane: 'a', due: 0 },
      { id: 'b1', lane: 'b', due: 0 },
      { id: 'c1', lane: 'c', due: 0 },
    ]);
    const t = fakeTimers();
    const d = new TimedDispatcher(q.source, { concurrency: 2, timers: t.timers, now: () => now, logger: silentLogger, name: 'test' });
    d.start();
    t.fire();
    expect(q.started).toEqual(['a1', 'b1']);
    expect(d.running).toBe(2);
    q.finish.get('a1')!();
    await tick();
    expect(q.started).toEqual(['a1', 'b1', 'a2']); // lane a is free again and a2 is its next
    q.finish.get('b1')!();
    q.finish.get('a2')!();
    await tick();
    await tick();
    expect(q.started).toEqual(['a1', 'b1', 'a2', 'c1']);
    q.finish.get('c1')!();
    await d.stop();
    expect(d.running).toBe(0);
  });

  it('arms one timer for the earliest due item and none when idle', () => {
    const q = queue([{ id: 'x', lane: 'a', due: 5000 }]);
    const t = fakeTimers();
    const d = new TimedDispatcher(q.source, { concurrency: 4, timers: t.timers, now: () => 1000, logger: silentLogger, name: 'test' });
    d.start();
    expect(d.wakeAt).toBe(5000);
    expect([...t.armed.values()].map((a) => a.ms)).toEqual([4000]);
    q.pending.length = 0;
    d.kick();
    expect(d.wakeAt).toBeUndefined();
    expect(t.armed.size).toBe(0);
  });

  it('does not spin on an item whose outcome could not be recorded', async () => {
    const q = queue([{ id: 'x', lane: 'a', due: 0 }]);
    const errors: string[] = [];
    const t = fakeTimers();
    const d = new TimedDispatcher(q.source, {
      concurrency: 1,
      timers: t.timers,
      now: () => 1000,
      logger: { ...silentLogger, error: (m) => void errors.push(m) },
      name: 'test',
    });
    d.start();
    t.fire();
    q.pending.push({ id: 'x-again', lane: 'a', due: 0 }); // still due, as a failed write leaves it
    q.finish.get('x')!(true);
    await tick();
    expect(errors).toEqual(['test: cannot record an outcome']);
    expect(q.started).toEqual(['x']); // not re-dispatched at once
    await d.stop();
  });

  it('drain runs everything due, whether or not started, and counts the runs', async () => {
    const q = queue([
      { id: 'a1', lane: 'a', due: 0 },
      { id: 'a2', lane: 'a', due: 0 },
    ]);
    const d = new TimedDispatcher(q.source, { concurrency: 4, timers: fakeTimers().timers, now: () => 1000, logger: silentLogger, name: 'test' });
    const drained = d.drain();
    for (let i = 0; i < 5 && q.finish.size < 2; i++) {
      for (const [id, f] of q.finish) if (q.started.includes(id)) f();
      await tick();
    }
    for (const f of q.finish.values()) f();
    expect(await drained).toBe(2);
  });
});
