/**
 * A sandbox thread's synchronous host call (node/sandbox-worker.ts `callMain`) against a late wake-up.
 *
 * The main thread answers a call with `postMessage`, `Atomics.store(flag, 1)`, `Atomics.notify`. If
 * the OS pauses it between the store and the notify, the thread (which found the flag set and took
 * its answer) goes on to its next call, and the late notify then wakes that call's wait before any
 * answer exists: the call failed with "no answer to kv.set" (seen under load in CI's fill requests;
 * the same race as esbuild issue #590).
 * Here, before each answer is posted, the waiting thread is woken as such a late notify would wake it,
 * while an app makes 3 × 1,000 `kv.set` calls.
 * Against the real node and its real sandbox threads.
 */
import { MessagePort } from 'node:worker_threads';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createToken, deployZip, manifest, removeTempDirs, request, startTestNode, zip, type TestNode } from './test-helpers.js';

let t: TestNode;
const realNotify = Atomics.notify;

beforeAll(async () => {
  t = await startTestNode({ runtimeLimits: { threads: 1, cpuMs: 10_000, wallMs: 30_000 } });
  const admin = createToken(t, 'admin', 'sync-call').token;
  const code = `export default {
  async fetch(request) {
    const n = Number(new URL(request.url).searchParams.get('n'));
    for (let i = 0; i < n; i++) await fazt.kv.set('k' + i, i);
    return { n, last: await fazt.kv.get('k' + (n - 1)) };
  },
};`;
  const r = await deployZip(t, admin, zip({ 'app.json': manifest({ name: 'filler' }), 'api/main.js': code }));
  expect(r.status, r.text()).toBeLessThan(300);
  expect((await request(`${t.url}/a/filler/api/fill?n=1`)).json()).toEqual({ n: 1, last: 0 });
});

afterAll(async () => {
  Atomics.notify = realNotify;
  await t?.stop();
  removeTempDirs();
});

it('a late notify from the main thread does not end the next synchronous call early', async () => {
  // the flag of the sandbox thread, learnt from the main thread's first notify of it
  let flag: Int32Array | undefined;
  let late = 0;
  Atomics.notify = ((array: Int32Array, index: number, count?: number): number => {
    flag = array;
    return realNotify(array, index, count);
  }) as typeof Atomics.notify;
  // before each answer is posted, the thread is woken as a late notify of the previous call would
  // (it waits for this answer now), and given a moment to act on it
  const realPost = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (this: MessagePort, message: unknown, ...rest: never[]) {
    if (flag && message && typeof message === 'object' && 'ms' in message && ('ok' in message || 'err' in message)) {
      late++;
      realNotify(flag, 0);
      const until = performance.now() + 0.5;
      while (performance.now() < until);
    }
    return realPost.call(this, message, ...rest);
  } as typeof realPost;
  try {
    for (let round = 0; round < 3; round++) {
      const r = await request(`${t.url}/a/filler/api/fill?n=1000`);
      expect(r.status, r.text()).toBe(200);
      expect(r.json()).toEqual({ n: 1000, last: 999 });
    }
  } finally {
    Atomics.notify = realNotify;
    MessagePort.prototype.postMessage = realPost;
  }
  expect(late).toBeGreaterThan(1000);
});
