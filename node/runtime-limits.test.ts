/**
 * Limits and isolation of the serverless runtime, against the real node over HTTP (real QuickJS
 * sandboxes, real SQLite cartridge, no mocks). Small limits (200 ms CPU, 2 s wall time, two requests
 * in flight per app, 1 KiB request bodies) keep the runaway cases fast.
 *
 * Runaway cases fire their neighbour probes (another app's `/api` and the admin API) from a log
 * subscription, when the runaway handler has logged that it started: the probes are then surely in
 * flight while the runaway runs. QuickJS runs on the node's only JavaScript thread, so a neighbour
 * of a busy *synchronous* loop waits at most for the rest of the loop's CPU slice (cpuMs); a
 * runaway that yields (timers, host calls) does not delay its neighbours at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createToken,
  deployZip,
  expectError,
  internalErrors,
  manifest,
  removeTempDirs,
  request,
  startTestNode,
  zip,
  type FileSet,
  type HttpResult,
  type RequestOptions,
  type TestNode,
} from './test-helpers.js';

const LIMITS = { cpuMs: 200, wallMs: 2000, perAppConcurrency: 2, perAppQueue: 1, queueMs: 300, requestBytes: 1024 };

/** The main node: small limits. */
let t: TestNode;
/**
 * A node with room for CPU (3 s): a bomb of small objects needs ~0.5 s of CPU to fill the heap, so
 * under 200 ms it would stop at the CPU limit before it reaches the memory limit.
 */
let roomy: TestNode;
const tokens = new Map<TestNode, string>();
/** App ids by `port/name`. */
const ids = new Map<string, string>();

beforeAll(async () => {
  t = await startTestNode({ runtimeLimits: LIMITS });
  tokens.set(t, createToken(t, 'admin', 'limits-admin').token);
  roomy = await startTestNode({ runtimeLimits: { cpuMs: 3000, wallMs: 5000 } });
  tokens.set(roomy, createToken(roomy, 'admin', 'roomy-admin').token);
});

afterAll(async () => {
  await t?.stop();
  await roomy?.stop();
  removeTempDirs();
});

const adminOf = (n: TestNode) => tokens.get(n)!;
const idOf = (name: string, n: TestNode = t) => ids.get(`${n.port}/${name}`)!;

/** Deploys `files` (plus an `app.json`) as app `name`; returns the deploy answer. */
async function deploy(name: string, files: FileSet, extraManifest: Record<string, unknown> = {}, n: TestNode = t): Promise<HttpResult> {
  return deployZip(n, adminOf(n), zip({ 'app.json': manifest({ name, ...extraManifest }), ...files }));
}

/** Deploys and expects success; remembers the app id. */
async function deployOk(name: string, files: FileSet, extraManifest: Record<string, unknown> = {}, n: TestNode = t): Promise<string> {
  const r = await deploy(name, files, extraManifest, n);
  expect(r.status, `deploy ${name}: ${r.text()}`).toBeLessThan(300);
  const id = r.json().id as string;
  ids.set(`${n.port}/${name}`, id);
  return id;
}

/** A request to an app's API on the node's host (`/a/NAME/api/…`). */
const call = (name: string, path: string, options: RequestOptions = {}, n: TestNode = t) => request(`${n.url}/a/${name}${path}`, options);

/** A request to an app's API on its own origin (`NAME.localhost`). */
const callOnHost = (name: string, path: string, options: RequestOptions = {}, n: TestNode = t) =>
  request(`${n.url}${path}`, { ...options, headers: { host: `${name}.localhost:${n.port}`, ...options.headers } });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const elapsed = async <T>(p: Promise<T>, t0 = performance.now()): Promise<{ r: T; ms: number }> => {
  const r = await p;
  return { r, ms: performance.now() - t0 };
};

/** The request id of a JSON error answer, checked against the `x-fazt-request-id` header. */
function requestIdOf(res: HttpResult): string {
  const body = res.json();
  expect(typeof body.error.requestId).toBe('string');
  expect(body.error.requestId).toBe(res.headers['x-fazt-request-id']);
  return body.error.requestId;
}

/** The app's log has an error entry for that request with that code. */
function expectLogged(app: string, requestId: string, code: string, message: RegExp, n: TestNode = t): void {
  const entries = n.node.kernel.logs.tail(idOf(app, n), 50, 'error');
  const e = entries.find((x) => (x.data as { requestId?: string } | undefined)?.requestId === requestId);
  expect(e, `no log entry for ${requestId} in ${JSON.stringify(entries.map((x) => x.message))}`).toBeDefined();
  expect(e!.level).toBe('error');
  expect(e!.data).toMatchObject({ code, requestId });
  expect(e!.message).toMatch(message);
  expect(e!.source).toMatch(/^(GET|POST) \/api\//);
}

// ---------------------------------------------------------------------------------------------
// 1. Runaway apps

const RUNAWAY = `
export default {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    console.log('start ' + path);
    switch (path) {
      case '/api/loop':
        for (;;) {}
      case '/api/objects': {
        const all = [];
        for (let i = 0; ; i++) all.push({ i, tags: ['a', i] });
      }
      case '/api/strings': {
        let s = 'x';
        const keep = [];
        for (;;) { s += s; keep.push(s.slice(1)); }
      }
      case '/api/typed': {
        const all = [];
        for (;;) all.push(new Uint8Array(1e7));
      }
      case '/api/recurse': {
        const down = (n) => down(n + 1) + 1;
        return { depth: down(0) };
      }
      case '/api/never':
        return new Promise(() => {});
      case '/api/sleep':
        await new Promise((resolve) => setTimeout(resolve, 60000));
        return 'woke up';
      case '/api/yielding':
        // CPU in 20 ms slices with a timer between them: over the 200 ms CPU limit after ~10 slices
        for (;;) {
          const t0 = Date.now();
          while (Date.now() - t0 < 20);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      case '/api/huge-string':
        return 'x'.repeat(100e6);
      case '/api/huge-bytes':
        return new Uint8Array(100e6);
      case '/api/big-bytes':
        return new Response(new Uint8Array(12 * 1024 * 1024));
      case '/api/ok':
        return { ok: true, at: path };
    }
    return new Response('no such route', { status: 404 });
  },
};
`;

const NEIGHBOUR = `export default { fetch: () => ({ pong: true, app: fazt.app.name }) };`;

describe('runaway apps: a clear error, a log entry, and neighbours that do not notice', () => {
  let rssBefore: number;

  beforeAll(async () => {
    for (const n of [t, roomy]) {
      await deployOk('runaway', { 'api/main.js': RUNAWAY }, {}, n);
      await deployOk('neighbour', { 'api/main.js': NEIGHBOUR }, {}, n);
      // warm both (sandbox creation, priming) so the timings below measure the limits alone
      expect((await call('runaway', '/api/ok', {}, n)).json()).toEqual({ ok: true, at: '/api/ok' });
      expect((await call('neighbour', '/api/ping', {}, n)).json()).toEqual({ pong: true, app: 'neighbour' });
    }
    rssBefore = process.memoryUsage().rss;
  });

  /**
   * Starts `GET /a/runaway<path>`; when the handler has logged its start (it is running now), fires
   * two probes at the neighbour's API and one at the admin API. Resolves with all answers and times
   * (ms from the runaway's start; probes from their own start).
   */
  async function runawayWithProbes(path: string, n: TestNode = t) {
    const appId = idOf('runaway', n);
    const probes: Promise<{ what: string; r: HttpResult; ms: number; sentAt: number }>[] = [];
    const t0 = performance.now();
    let started!: () => void;
    const startedP = new Promise<void>((r) => (started = r));
    const unsubscribe = n.node.kernel.logs.subscribe(appId, (e) => {
      if (e.message !== `start ${path}` || probes.length) return;
      // inside the runaway's invocation: these requests are in flight while it runs
      const fire = (what: string, p: Promise<HttpResult>) => {
        const sentAt = performance.now();
        probes.push(p.then((r) => ({ what, r, ms: performance.now() - sentAt, sentAt: sentAt - t0 })));
      };
      fire('neighbour', call('neighbour', '/api/ping', {}, n));
      fire('neighbour-host', callOnHost('neighbour', '/api/ping', {}, n));
      fire('admin', request(`${n.url}/api/apps`, { token: adminOf(n) }));
      started();
    });
    try {
      const runaway = elapsed(call('runaway', path, {}, n), t0);
      await Promise.race([startedP, runaway]);
      expect(probes.length, 'the runaway handler never started').toBe(3);
      const answers = await Promise.all(probes);
      const done = await runaway;
      for (const a of answers) {
        expect(a.r.status, `${a.what}: ${a.r.text()}`).toBe(200);
        if (a.what === 'admin') expect(a.r.json().apps.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(['runaway', 'neighbour']));
        else expect(a.r.json()).toEqual({ pong: true, app: 'neighbour' });
      }
      return { res: done.r, ms: done.ms, probes: answers, probeDoneAt: answers.map((a) => a.sentAt + a.ms) };
    } finally {
      unsubscribe();
    }
  }

  /** A synchronous runaway holds the thread for at most the rest of its CPU slice. */
  const SYNC_PROBE_MS = LIMITS.cpuMs + 1500;

  it('an infinite loop is stopped at the CPU limit: 504 APP_TIMEOUT, logged; neighbours answer within the CPU slice', async () => {
    const { res, ms, probes } = await runawayWithProbes('/api/loop');
    expectError(res, 504, 'APP_TIMEOUT', /the request handler used more than 200 ms of CPU time and was stopped/);
    expect(ms).toBeLessThan(LIMITS.wallMs);
    expectLogged('runaway', requestIdOf(res), 'APP_TIMEOUT', /CPU time/);
    for (const p of probes) expect(p.ms, p.what).toBeLessThan(SYNC_PROBE_MS);
  });

  it('a loop that yields between CPU slices is stopped at the CPU limit, and neighbours answer while it still runs', async () => {
    const { res, probes, probeDoneAt, ms } = await runawayWithProbes('/api/yielding');
    expectError(res, 504, 'APP_TIMEOUT', /used more than 200 ms of CPU time/);
    expectLogged('runaway', requestIdOf(res), 'APP_TIMEOUT', /CPU time/);
    // the probes were answered before the runaway was stopped
    for (const at of probeDoneAt) expect(at).toBeLessThan(ms);
    for (const p of probes) expect(p.ms, p.what).toBeLessThan(SYNC_PROBE_MS);
  });

  it('a memory bomb of small objects under a 200 ms CPU limit is stopped by the CPU limit first: 504 APP_TIMEOUT', async () => {
    const { res, probes } = await runawayWithProbes('/api/objects');
    expectError(res, 504, 'APP_TIMEOUT', /used more than 200 ms of CPU time/);
    expectLogged('runaway', requestIdOf(res), 'APP_TIMEOUT', /CPU time/);
    for (const p of probes) expect(p.ms, p.what).toBeLessThan(SYNC_PROBE_MS);
  });

  it('a memory bomb of small objects with CPU to spare fills the heap: 507 APP_OUT_OF_MEMORY (not a "null" throw), logged, neighbours fine', async () => {
    // QuickJS throws null when the heap is too full to allocate its own "out of memory" error
    const { res, probes } = await runawayWithProbes('/api/objects', roomy);
    expectError(res, 507, 'APP_OUT_OF_MEMORY', /the request handler ran out of memory \(limit 64 MiB\) and was stopped/);
    expectLogged('runaway', requestIdOf(res), 'APP_OUT_OF_MEMORY', /out of memory/, roomy);
    for (const p of probes) expect(p.ms, p.what).toBeLessThan(3000);
    expect((await call('runaway', '/api/ok', {}, roomy)).json()).toEqual({ ok: true, at: '/api/ok' });
  });

  it('a memory bomb of strings (s += s): 507 APP_OUT_OF_MEMORY, logged, neighbours fine', async () => {
    const { res, probes } = await runawayWithProbes('/api/strings');
    expectError(res, 507, 'APP_OUT_OF_MEMORY', /ran out of memory/);
    expectLogged('runaway', requestIdOf(res), 'APP_OUT_OF_MEMORY', /out of memory/);
    for (const p of probes) expect(p.ms, p.what).toBeLessThan(SYNC_PROBE_MS);
  });

  it('a memory bomb of typed arrays (10 MB Uint8Arrays): 507 APP_OUT_OF_MEMORY, logged, neighbours fine', async () => {
    const { res, probes } = await runawayWithProbes('/api/typed');
    expectError(res, 507, 'APP_OUT_OF_MEMORY', /ran out of memory/);
    expectLogged('runaway', requestIdOf(res), 'APP_OUT_OF_MEMORY', /out of memory/);
    for (const p of probes) expect(p.ms, p.what).toBeLessThan(SYNC_PROBE_MS);
  });

  it('deep recursion: 500 APP_ERROR naming the stack overflow, logged; the next request to the app works', async () => {
    const { res, probes } = await runawayWithProbes('/api/recurse');
    expectError(res, 500, 'APP_ERROR', /the request handler overflowed the stack \(recursion too deep\)/);
    expectLogged('runaway', requestIdOf(res), 'APP_ERROR', /overflowed the stack/);
    for (const p of probes) expect(p.ms, p.what).toBeLessThan(SYNC_PROBE_MS);
    const next = await call('runaway', '/api/ok');
    expect(next.status).toBe(200);
    expect(next.json()).toEqual({ ok: true, at: '/api/ok' });
  });

  it('a promise that never settles: 500 APP_ERROR at once ("never settles"), logged', async () => {
    const { res, ms } = await runawayWithProbes('/api/never');
    expectError(res, 500, 'APP_ERROR', /the request handler returned a promise that never settles/);
    expect(ms).toBeLessThan(1000);
    expectLogged('runaway', requestIdOf(res), 'APP_ERROR', /never settles/);
  });

  it('waiting on a timer longer than the wall-time limit: 504 APP_TIMEOUT at the limit, logged; neighbours answer meanwhile', async () => {
    const { res, ms, probes, probeDoneAt } = await runawayWithProbes('/api/sleep');
    expectError(res, 504, 'APP_TIMEOUT', /the request handler ran longer than its wall-time limit and was stopped/);
    expect(ms).toBeGreaterThanOrEqual(LIMITS.wallMs - 50);
    expect(ms).toBeLessThan(LIMITS.wallMs + 1500);
    expectLogged('runaway', requestIdOf(res), 'APP_TIMEOUT', /wall-time limit/);
    for (const p of probes) expect(p.ms, p.what).toBeLessThan(500);
    for (const at of probeDoneAt) expect(at).toBeLessThan(ms);
  });

  it("a 100 MB response built as a string ('x'.repeat(100e6)): a clear JSON error, not a crash", async () => {
    const { res, probes } = await runawayWithProbes('/api/huge-string');
    expectError(res, 507, 'APP_OUT_OF_MEMORY', /ran out of memory/);
    expectLogged('runaway', requestIdOf(res), 'APP_OUT_OF_MEMORY', /out of memory/);
    for (const p of probes) expect(p.ms, p.what).toBeLessThan(SYNC_PROBE_MS);
  });

  it('a 100 MB response built as bytes (new Uint8Array(100e6)): a clear JSON error, not a crash', async () => {
    const { res } = await runawayWithProbes('/api/huge-bytes');
    expectError(res, 507, 'APP_OUT_OF_MEMORY', /ran out of memory/);
    expectLogged('runaway', requestIdOf(res), 'APP_OUT_OF_MEMORY', /out of memory/);
  });

  it('a 12 MiB response body (fits in memory, over the 10 MiB response limit): 413 LIMIT_EXCEEDED naming the limit', async () => {
    const { res } = await runawayWithProbes('/api/big-bytes');
    expectError(res, 413, 'LIMIT_EXCEEDED', /built a 12 MiB response body, over the 10 MiB limit; stream large data with fazt.blobs instead/);
    expectLogged('runaway', requestIdOf(res), 'LIMIT_EXCEEDED', /response body/);
  });

  it("after all the bombs the node's own memory stayed bounded and the app still answers", async () => {
    const grown = (process.memoryUsage().rss - rssBefore) / 1048576;
    expect(grown, `RSS grew by ${grown.toFixed(0)} MB`).toBeLessThan(150);
    expect((await call('runaway', '/api/ok')).json()).toEqual({ ok: true, at: '/api/ok' });
    expect(t.node.kernel.runtime!.pool.size).toBeLessThanOrEqual(t.node.kernel.runtime!.limits.maxSandboxes);
    expect(internalErrors(t)).toEqual([]);
    expect(internalErrors(roomy)).toEqual([]);
  });

  // Regression: the deploy check once compiled code inside a (possibly replaced) sandbox with
  // QuickJS's compile-only mode, which failed valid code there ("SyntaxError: undefined") and could
  // trap with "memory access out of bounds". Deploy checks now parse on the host (acorn).
  it("valid code deploys after the pool replaced a poisoned sandbox", async () => {
    expectError(await call('runaway', '/api/typed'), 507, 'APP_OUT_OF_MEMORY');
    expect((await call('runaway', '/api/ok')).status).toBe(200);
    const r = await deploy('after-bomb', { 'api/main.js': NEIGHBOUR });
    expect(r.status, r.text()).toBe(201);
    ids.set(`${t.port}/after-bomb`, r.json().id);
    expect((await call('after-bomb', '/api/ping')).json()).toEqual({ pong: true, app: 'after-bomb' });
  });
});

// ---------------------------------------------------------------------------------------------
// 2. Concurrency per app

describe('concurrency per app (perAppConcurrency: 2)', () => {
  const SLOW = `
export default {
  async fetch(request) {
    const id = new URL(request.url).searchParams.get('id');
    console.log('start ' + id);
    await new Promise((resolve) => setTimeout(resolve, 700));
    return { id };
  },
};`;

  beforeAll(async () => {
    await deployOk('slow', { 'api/main.js': SLOW });
    await deployOk('calm', { 'api/main.js': `export default { fetch: () => ({ calm: true }) };` });
  });

  it('at its limit a request waits in the app queue (1 place here) and gives up with 503 APP_BUSY after queueMs; past the queue, 503 at once; the two in flight finish', async () => {
    let started = 0;
    let twoRunning!: () => void;
    const bothStarted = new Promise<void>((r) => (twoRunning = r));
    const unsubscribe = t.node.kernel.logs.subscribe(idOf('slow'), (e) => {
      if (e.message.startsWith('start ') && ++started === 2) twoRunning();
    });
    try {
      const t0 = performance.now();
      const first = elapsed(call('slow', '/api/x?id=1'), t0);
      const second = elapsed(call('slow', '/api/x?id=2'), t0);
      await bothStarted;
      const t3 = performance.now();
      const third = elapsed(call('slow', '/api/x?id=3'), t3); // takes the one place in the queue
      await new Promise((r) => setTimeout(r, 50));
      const t4 = performance.now();
      const fourth = await elapsed(call('slow', '/api/x?id=4'), t4);
      // another app is not limited by this one's concurrency
      const other = await call('calm', '/api/ping');
      expect([other.status, other.json()]).toEqual([200, { calm: true }]);

      expectError(fourth.r, 503, 'APP_BUSY', /The app "slow" is already handling 2 requests \(its limit\) and 1 more are waiting; try again shortly\./);
      expect(fourth.r.headers['retry-after']).toBe('1');
      expect(fourth.ms).toBeLessThan(250);
      expectLogged('slow', requestIdOf(fourth.r), 'APP_BUSY', /already handling 2 requests/);

      const waited = await third;
      expectError(waited.r, 503, 'APP_BUSY', /The app "slow" stayed busy with 2 requests \(its limit\) for the 300 ms this one waited; try again shortly\./);
      expect(waited.r.headers['retry-after']).toBe('1');
      expect(waited.ms).toBeGreaterThanOrEqual(280);
      expect(started).toBe(2); // neither the third nor the fourth ran

      const [a, b] = await Promise.all([first, second]);
      expect([a.r.status, b.r.status]).toEqual([200, 200]);
      expect([a.r.json(), b.r.json()]).toEqual([{ id: '1' }, { id: '2' }]);
      expect(a.ms).toBeGreaterThanOrEqual(650);
      expect(waited.ms + (t3 - t0)).toBeLessThan(a.ms); // the 503 came while both were still running

      const again = await call('slow', '/api/x?id=5');
      expect(again.status).toBe(200);
      expect(again.json()).toEqual({ id: '5' });
    } finally {
      unsubscribe();
    }
  });

  it('with the default limits (4 in flight, 16 queued) a burst of 10 parallel requests is served in full, never more than 4 at once, in arrival order', async () => {
    await deploy(
      'burst',
      {
        'api/main.js': `export default { async fetch(request) {
          const id = new URL(request.url).searchParams.get('id');
          console.log('start ' + id);
          await new Promise((resolve) => setTimeout(resolve, 150));
          console.log('end ' + id);
          return { id };
        } };`,
      },
      {},
      roomy,
    ).then((r) => {
      expect(r.status, r.text()).toBeLessThan(300);
      ids.set(`${roomy.port}/burst`, r.json().id);
    });
    const events: string[] = [];
    const unsubscribe = roomy.node.kernel.logs.subscribe(idOf('burst', roomy), (e) => events.push(e.message));
    try {
      const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => request(`${roomy.url}/a/burst/api/?id=${i}`)));
      expect(rs.map((r) => r.status)).toEqual(Array(10).fill(200));
      expect(rs.map((r) => r.json().id)).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
      let running = 0;
      let most = 0;
      for (const e of events) {
        running += e.startsWith('start ') ? 1 : -1;
        most = Math.max(most, running);
      }
      expect(events.filter((e) => e.startsWith('start '))).toHaveLength(10);
      expect(most).toBe(4);
    } finally {
      unsubscribe();
    }
  });

  it('the in-flight count is released by failures too (timeouts, errors): the app is not left "busy"', async () => {
    await deployOk('flaky', {
      'api/main.js': `export default { async fetch(request) {
        const p = new URL(request.url).pathname;
        if (p === '/api/throw') throw new Error('boom');
        if (p === '/api/loop') for (;;) {}
        return 'fine';
      } };`,
    });
    for (let i = 0; i < 3; i++) {
      expectError(await call('flaky', '/api/throw'), 500, 'APP_ERROR', /threw Error: boom/);
      expectError(await call('flaky', '/api/loop'), 504, 'APP_TIMEOUT');
    }
    const [x, y] = await Promise.all([call('flaky', '/api/ok'), call('flaky', '/api/ok')]);
    expect([x.status, y.status, x.text(), y.text()]).toEqual([200, 200, 'fine', 'fine']);
  });
});

// ---------------------------------------------------------------------------------------------
// 3. No state survives between requests

describe('no state survives between requests', () => {
  const STATEFUL = `
let n = 0;
const seen = [];
export default {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    n++;
    seen.push(path);
    if (path === '/api/pollute') {
      globalThis.x = 'set by an earlier request';
      Object.prototype.polluted = 1;
      Array.prototype.push = function () { return 'hijacked'; };
      JSON.parse = () => 'hijacked';
      Math.random = () => 0.5;
      String.prototype.toUpperCase = () => 'hijacked';
      return 'polluted';
    }
    return {
      n,
      seen: seen.length,
      x: globalThis.x === undefined ? null : globalThis.x,
      polluted: ({}).polluted === undefined ? null : ({}).polluted,
      pushed: [].push(1),
      parsed: JSON.parse('{"a":1}'),
      upper: 'abc'.toUpperCase(),
      random: Math.random(),
      uuid: crypto.randomUUID(),
    };
  },
};`;
  const CLEAN = { n: 1, seen: 1, x: null, polluted: null, pushed: 1, parsed: { a: 1 }, upper: 'ABC' };

  beforeAll(async () => {
    await deployOk('stateful', { 'api/main.js': STATEFUL });
    await deployOk('bystander', { 'api/main.js': STATEFUL });
  });

  it('a module-level counter is 1 on every request (sequential and concurrent)', async () => {
    for (let i = 0; i < 4; i++) expect((await call('stateful', '/api/count')).json()).toMatchObject({ n: 1, seen: 1 });
    const both = await Promise.all([call('stateful', '/api/count'), call('stateful', '/api/count')]);
    for (const r of both) expect(r.json()).toMatchObject({ n: 1, seen: 1 });
  });

  it('globals and prototypes changed by one request (globalThis.x, Object.prototype, Array.prototype.push, JSON.parse …) are back to normal in the next request and in another app', async () => {
    const p = await call('stateful', '/api/pollute');
    expect([p.status, p.text()]).toEqual([200, 'polluted']);
    expect((await call('stateful', '/api/check')).json()).toMatchObject(CLEAN);
    expect((await call('bystander', '/api/check')).json()).toMatchObject(CLEAN);
    // and again with the polluting request still fresh in the sandbox the other app might lease
    await call('bystander', '/api/pollute');
    expect((await call('stateful', '/api/check')).json()).toMatchObject(CLEAN);
    expect((await call('bystander', '/api/check')).json()).toMatchObject(CLEAN);
  });

  it('Math.random() and crypto.randomUUID() differ between requests', async () => {
    const rs = [];
    for (let i = 0; i < 5; i++) rs.push((await call('stateful', '/api/random')).json());
    const randoms = rs.map((r) => r.random as number);
    for (const r of randoms) {
      expect(r).toBeGreaterThanOrEqual(0);
      expect(r).toBeLessThan(1);
    }
    expect(new Set(randoms).size).toBe(5);
    expect(new Set(rs.map((r) => r.uuid)).size).toBe(5);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Nothing leaks between apps

describe("nothing leaks between apps: one app's data is invisible to another using the same keys", () => {
  const STORE = `
export default {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    const notes = fazt.docs.collection('notes');
    if (path === '/api/write') {
      const { tag } = await request.json();
      await fazt.kv.set('shared-key', { tag });
      await notes.insert({ _id: 'note-1', tag });
      await fazt.blobs.put('shared-blob', 'blob of ' + tag, { contentType: 'text/plain' });
      await fazt.schedule.after(3600000, { tag });
      return { ok: true };
    }
    const blob = await fazt.blobs.get('shared-blob');
    return {
      kv: await fazt.kv.get('shared-key'),
      kvKeys: (await fazt.kv.list()).items.map((i) => i.key),
      doc: await notes.get('note-1'),
      docs: (await notes.find()).map((d) => d._id + ':' + d.tag),
      count: await notes.count(),
      byTag: (await notes.find({ where: { tag: 'A' } })).length,
      blob: blob ? await blob.text() : null,
      blobKeys: (await fazt.blobs.list()).items.map((b) => b.key),
      jobs: (await fazt.schedule.list()).map((j) => j.id),
    };
  },
};`;

  beforeAll(async () => {
    await deployOk('store-a', { 'api/main.js': STORE });
    await deployOk('store-b', { 'api/main.js': STORE });
  });

  it('kv, docs, blobs and scheduled jobs written by app A are absent for app B, and B writing the same keys does not touch A', async () => {
    expect((await call('store-a', '/api/write', { method: 'POST', json: { tag: 'A' } })).status).toBe(200);
    const a = (await call('store-a', '/api/read')).json();
    expect(a).toMatchObject({ kv: { tag: 'A' }, kvKeys: ['shared-key'], doc: { _id: 'note-1', tag: 'A' }, docs: ['note-1:A'], count: 1, byTag: 1, blob: 'blob of A', blobKeys: ['shared-blob'] });
    expect(a.jobs).toHaveLength(1);

    expect((await call('store-b', '/api/read')).json()).toEqual({ kv: null, kvKeys: [], doc: null, docs: [], count: 0, byTag: 0, blob: null, blobKeys: [], jobs: [] });

    expect((await call('store-b', '/api/write', { method: 'POST', json: { tag: 'B' } })).status).toBe(200);
    const b = (await call('store-b', '/api/read')).json();
    expect(b).toMatchObject({ kv: { tag: 'B' }, doc: { _id: 'note-1', tag: 'B' }, docs: ['note-1:B'], count: 1, byTag: 0, blob: 'blob of B' });
    expect(b.jobs).toHaveLength(1);
    expect(b.jobs[0]).not.toBe(a.jobs[0]);
    // A unchanged
    expect((await call('store-a', '/api/read')).json()).toEqual(a);
  });
});

// ---------------------------------------------------------------------------------------------
// 5. The owner's credentials never reach app code

describe("app code never sees the owner's session cookie or API token", () => {
  beforeAll(async () => {
    await deployOk('echo-headers', { 'api/main.js': `export default { fetch: (request) => ({ headers: [...request.headers] }) };` });
  });

  for (const [where, send] of [
    ['/a/echo-headers/api/…', (h: Record<string, string>) => call('echo-headers', '/api/echo', { headers: h })],
    ['echo-headers.localhost/api/…', (h: Record<string, string>) => callOnHost('echo-headers', '/api/echo', { headers: h })],
  ] as const) {
    it(`on ${where}: fazt_session and "Bearer fazt_…" are removed; other cookies and headers pass`, async () => {
      const session = 'fazt_session=' + 'S'.repeat(43);
      const token = createToken(t, 'admin', 'leak-check').token;
      const r = await send({ cookie: `${session}; other=1; theme=dark`, authorization: `Bearer ${token}`, 'x-custom': 'kept' });
      expect(r.status).toBe(200);
      const headers = Object.fromEntries(r.json().headers as [string, string][]);
      expect(headers.cookie).toBe('other=1; theme=dark');
      expect(headers.authorization).toBeUndefined();
      expect(headers['x-custom']).toBe('kept');
      const all = JSON.stringify(r.json());
      expect(all).not.toContain(token);
      expect(all).not.toContain('fazt_session');

      // the session cookie alone: no cookie header at all; in another position: still removed
      const only = Object.fromEntries((await send({ cookie: session })).json().headers as [string, string][]);
      expect(only.cookie).toBeUndefined();
      const mid = Object.fromEntries((await send({ cookie: `a=1; ${session}; b=2` })).json().headers as [string, string][]);
      expect(mid.cookie).toBe('a=1; b=2');
      // an app's own bearer token (not a Fazt token) is the app's business and passes
      const own = Object.fromEntries((await send({ authorization: 'Bearer app-token-123' })).json().headers as [string, string][]);
      expect(own.authorization).toBe('Bearer app-token-123');
    });
  }
});

// ---------------------------------------------------------------------------------------------
// 6. Module escapes and prototype pollution of host objects

describe('require/import cannot escape the app, and host objects cannot be polluted', () => {
  const ESCAPE = `
export default {
  async fetch(request) {
    const u = new URL(request.url);
    const spec = u.searchParams.get('spec');
    try {
      const m = u.pathname === '/api/import' ? await import(spec) : require(spec);
      return { loaded: true, keys: Object.keys(m || {}) };
    } catch (e) {
      return { loaded: false, name: e.name, code: e.code === undefined ? null : e.code, message: String(e.message) };
    }
  },
};`;
  const tryLoad = async (how: 'require' | 'import', spec: string) => {
    const r = await call('escaper', `/api/${how}?spec=${encodeURIComponent(spec)}`);
    expect(r.status, r.text()).toBe(200);
    return r.json() as { loaded: boolean; name?: string; code: string | null; message: string; keys?: string[] };
  };

  beforeAll(async () => {
    await deployOk('escaper', { 'api/main.js': ESCAPE, 'api/lib/ok.js': 'exports.fine = true;', 'shared.js': 'exports.root = true;' });
  });

  it("require() of paths above the app root fails with PERMISSION_DENIED; the app's own files load", async () => {
    for (const spec of ['../../../etc/passwd', '../../x', '/../../x', './lib/../../../x', '../../../../../../../../etc/passwd', 'stdlib:../../x']) {
      const r = await tryLoad('require', spec);
      expect(r, spec).toMatchObject({ loaded: false, code: 'PERMISSION_DENIED' });
      expect(r.message, spec).toMatch(/points outside the app; only the app's own files can be imported/);
    }
    expect(await tryLoad('require', './lib/ok')).toEqual({ loaded: true, keys: ['fine'] });
    expect(await tryLoad('require', '/api/lib/ok.js')).toEqual({ loaded: true, keys: ['fine'] });
    expect(await tryLoad('require', '../shared')).toEqual({ loaded: true, keys: ['root'] });
  });

  it('import() of paths above the app root fails the same way', async () => {
    for (const spec of ['../../x.js', '../../../etc/passwd', '/../../x']) {
      const r = await tryLoad('import', spec);
      expect(r.loaded, spec).toBe(false);
      expect(r.message, spec).toMatch(/points outside the app/);
    }
    expect(await tryLoad('import', './lib/ok.js')).toMatchObject({ loaded: true, keys: ['default'] });
  });

  it('a static import above the app root, or of a Node built-in, is refused at deploy: 422 INVALID_CODE', async () => {
    const up = await deploy('static-escape', { 'api/main.js': `import x from '../../x.js';\nexport default { fetch: () => x };` });
    expectError(up, 422, 'INVALID_CODE', /^api\/main\.js: .*"\.\.\/\.\.\/x\.js" \(from api\/main\.js\) points outside the app; only the app's own files can be imported\. Nothing was deployed/);
    const fs = await deploy('static-escape', { 'api/main.js': `import fs from 'fs';\nexport default { fetch: () => fs };` });
    expectError(fs, 422, 'INVALID_CODE', /Cannot find module "fs" \(imported from api\/main\.js\)\. .*standard library: lodash, dayjs, uuid, zod, node-html-parser/);
    const apps = (await request(`${t.url}/api/apps`, { token: adminOf(t) })).json().apps.map((a: { name: string }) => a.name);
    expect(apps).not.toContain('static-escape');
  });

  it('unknown bare modules and Node built-ins fail with NOT_FOUND listing the standard library', async () => {
    for (const spec of ['fs', 'node:fs', 'child_process', 'left-pad', 'lodash/../../x', '__proto__', 'constructor', 'hasOwnProperty']) {
      const r = await tryLoad('require', spec);
      expect(r, spec).toMatchObject({ loaded: false, code: 'NOT_FOUND' });
      expect(r.message, spec).toContain(`Cannot find module "${spec}"`);
      expect(r.message, spec).toMatch(/the bundled standard library: lodash, dayjs, uuid, zod, node-html-parser/);
    }
    const viaImport = await tryLoad('import', 'fs');
    expect(viaImport.loaded).toBe(false);
    expect(viaImport.message).toMatch(/Cannot find module "fs".*standard library: lodash/);
    // the standard library itself loads
    expect((await tryLoad('require', 'lodash')).loaded).toBe(true);
  });

  it('__proto__ / constructor keys sent through fazt.kv, fazt.docs, fazt.blobs, fazt.log and fazt.schedule are plain data: no prototype of the host or of another app changes', async () => {
    const POLLUTER = `
const evil = () => JSON.parse('{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 1}}}');
export default {
  async fetch(request) {
    const results = {};
    const attempt = async (name, fn) => {
      try { results[name] = { ok: await fn() }; } catch (e) { results[name] = { error: e.code || e.name, message: String(e.message) }; }
    };
    const c = fazt.docs.collection('c');
    await attempt('kv.set __proto__', () => fazt.kv.set('__proto__', { polluted: 1 }));
    await attempt('kv.set constructor', () => fazt.kv.set('constructor', evil()));
    await attempt('kv.set evil value', () => fazt.kv.set('k', evil()));
    await attempt('kv.get __proto__', () => fazt.kv.get('__proto__'));
    await attempt('kv.list', () => fazt.kv.list());
    await attempt('kv.increment __proto__', () => fazt.kv.increment('__proto__.polluted'));
    await attempt('docs.insert', () => c.insert(Object.assign(evil(), { _id: 'p' })));
    await attempt('docs.insert __proto__ id', () => c.insert({ _id: '__proto__', polluted: 1 }));
    await attempt('docs.update $set path', () => c.update('p', { $set: { '__proto__.polluted': 1, 'constructor.prototype.polluted': 1 } }));
    await attempt('docs.update $set object', () => c.update('p', JSON.parse('{"$set": {"__proto__": {"polluted": 1}}}')));
    await attempt('docs.update $inc', () => c.update('p', { $inc: { '__proto__.polluted': 1 } }));
    await attempt('docs.update filter', () => c.update(evil(), { $set: { x: 1 } }));
    await attempt('docs.find', () => c.find({ where: { '__proto__.polluted': 1 } }));
    await attempt('docs.find evil where', () => c.find({ where: evil() }));
    await attempt('docs.count', () => c.count(evil()));
    await attempt('docs.get', () => c.get('__proto__'));
    await attempt('docs.collection __proto__', () => fazt.docs.collection('__proto__').insert({ a: 1 }));
    await attempt('blobs.put', () => fazt.blobs.put('__proto__', 'x'));
    await attempt('blobs.head', () => fazt.blobs.head('__proto__'));
    await attempt('log', () => fazt.log.info('evil', evil()));
    await attempt('schedule', () => fazt.schedule.after(3600000, evil()));
    await attempt('events', () => fazt.events.emit('evil', evil()));
    results.sandboxPolluted = ({}).polluted === undefined ? null : ({}).polluted;
    return results;
  },
};`;
    await deployOk('polluter', { 'api/main.js': POLLUTER });
    const r = await call('polluter', '/api/go');
    expect(r.status, r.text()).toBe(200);
    const results = r.json();
    // nothing failed inside the node: errors are typed (INVALID_ARGUMENT …), never INTERNAL
    for (const [name, v] of Object.entries(results)) {
      if (v && typeof v === 'object' && 'error' in v) expect((v as { error: string }).error, `${name}: ${JSON.stringify(v)}`).not.toBe('INTERNAL');
    }
    // the data went in as data
    expect(results['kv.get __proto__']).toEqual({ ok: { polluted: 1 } });

    // the host (this test process runs the node)
    const plain: Record<string, unknown> = {};
    expect(plain.polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    expect((Object as unknown as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as { constructor: { prototype: Record<string, unknown> } }).constructor.prototype.polluted).toBeUndefined();
    expect((Function.prototype as unknown as Record<string, unknown>).polluted).toBeUndefined();
    // the same app's next request and another app
    expect((await call('polluter', '/api/go')).json().sandboxPolluted).toBeNull();
    expect((await call('stateful', '/api/check')).json()).toMatchObject({ polluted: null });
    // the admin API still answers normally (it builds plain objects)
    const apps = await request(`${t.url}/api/apps`, { token: adminOf(t) });
    expect(apps.status).toBe(200);
    expect(internalErrors(t)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// 7. Deploy-time checks

describe('deploy-time checks of server code', () => {
  const GOOD = { 'api/main.js': `const lib = require('./lib/x');\nmodule.exports = () => ({ version: lib.version });`, 'api/lib/x.js': 'exports.version = 1;\n' };

  beforeAll(async () => {
    await deployOk('checked', GOOD);
    expect((await call('checked', '/api/v')).json()).toEqual({ version: 1 });
  });

  /** The app is still at version 1 and its API answers as version 1. */
  async function expectStillV1(): Promise<void> {
    const info = await request(`${t.url}/api/apps/checked`, { token: adminOf(t) });
    expect(info.json()).toMatchObject({ name: 'checked', currentVersion: 1, versions: 1 });
    const r = await call('checked', '/api/v');
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ version: 1 });
  }

  it('a syntax error in api/lib/x.js: 422 INVALID_CODE naming the file and line; the live version keeps answering', async () => {
    const r = await deploy('checked', { ...GOOD, 'api/lib/x.js': 'exports.version = 2;\n\nexports.broken = 1 +* 2;\n' });
    const err = expectError(r, 422, 'INVALID_CODE', /^api\/lib\/x\.js:3:\d+: SyntaxError: /);
    expect(err.message).toMatch(/Nothing was deployed; the live version is unchanged\./);
    await expectStillV1();
  });

  it('a syntax error in an ES module api/main.js names api/main.js and its line', async () => {
    const r = await deploy('checked', { ...GOOD, 'api/main.js': `export default {\n  fetch() {\n    return 1 +;\n  },\n};\n` });
    expectError(r, 422, 'INVALID_CODE', /^api\/main\.js:3:\d+: SyntaxError: /);
    await expectStillV1();
  });

  it('server code without api/main.js (only api/other.js) is rejected', async () => {
    const r = await deploy('checked', { 'api/other.js': 'module.exports = () => 1;' });
    expectError(r, 422, 'INVALID_CODE', /The app has no api\/main\.js, but it has server code \(api\/other\.js\)\..*Nothing was deployed\./);
    await expectStillV1();
  });

  it('an app.json with a schedule but no api/main.js is rejected', async () => {
    const r = await deploy('checked', { 'index.html': 'hi' }, { schedule: [{ name: 'nightly', cron: '0 3 * * *' }] });
    expectError(r, 422, 'INVALID_CODE', /The app has no api\/main\.js, but app\.json schedules jobs/);
    await expectStillV1();
  });

  it('an app.json subscribing to events without api/main.js is rejected', async () => {
    const r = await deploy('checked', { 'index.html': 'hi' }, { events: { subscribe: ['note.created'] } });
    expectError(r, 422, 'INVALID_CODE', /no api\/main\.js, but app\.json subscribes to events/);
    await expectStillV1();
  });

  it('a bad cron expression is rejected with 422 INVALID_MANIFEST naming it', async () => {
    for (const cron of ['not a cron', '61 * * * *', '* * * * * * * *', '0 0 31 2 *']) {
      const r = await deploy('checked', GOOD, { schedule: [{ name: 'bad', cron }] });
      expectError(r, 422, 'INVALID_MANIFEST', new RegExp(`schedule\\[0\\]\\.cron "${cron.replace(/\*/g, '\\*')}" is not a valid cron expression`));
    }
    await expectStillV1();
  });

  it('a new app with broken code is not created at all', async () => {
    const r = await deploy('never-born', { 'api/main.js': 'module.exports = (' });
    expectError(r, 422, 'INVALID_CODE', /^api\/main\.js:/);
    expect((await request(`${t.url}/api/apps`, { token: adminOf(t) })).json().apps.map((a: { name: string }) => a.name)).not.toContain('never-born');
  });
});

// ---------------------------------------------------------------------------------------------
// 8 (limit). Request bodies over the cap

describe('request bodies over the cap (requestBytes: 1024)', () => {
  beforeAll(async () => {
    await deployOk('reader', {
      'api/main.js': `export default { async fetch(request) {
        const p = new URL(request.url).pathname;
        if (p === '/api/ignore') return 'not read';
        if (p === '/api/catch') { try { await request.text(); return 'read'; } catch (e) { return { caught: e.code, message: e.message }; } }
        const text = await request.text();
        return { bytes: text.length };
      } };`,
    });
  });

  it('a body at the cap is read; one byte over (declared) is 413 LIMIT_EXCEEDED', async () => {
    expect((await call('reader', '/api/read', { method: 'POST', body: 'x'.repeat(1024) })).json()).toEqual({ bytes: 1024 });
    const r = await call('reader', '/api/read', { method: 'POST', body: 'x'.repeat(1025) });
    const err = expectError(r, 413, 'LIMIT_EXCEEDED', /The request body of an app request \(1025 bytes\) is larger than the 1024-byte limit\./);
    expect(err.message).toBeTruthy();
  });

  it('a chunked body (no Content-Length) over the cap: 413 LIMIT_EXCEEDED once the cap is passed', async () => {
    async function* chunks() {
      for (let i = 0; i < 8; i++) {
        yield new Uint8Array(400).fill(120);
        await sleep(5);
      }
    }
    const r = await call('reader', '/api/read', { method: 'POST', body: chunks() });
    expectError(r, 413, 'LIMIT_EXCEEDED', /The request body of an app request is larger than the 1024-byte limit\./);
  });

  it('the app may catch the limit error itself; a handler that does not read the body is not affected', async () => {
    const caught = await call('reader', '/api/catch', { method: 'POST', body: 'y'.repeat(5000) });
    expect(caught.status).toBe(200);
    expect(caught.json()).toMatchObject({ caught: 'LIMIT_EXCEEDED' });
    const ignored = await call('reader', '/api/ignore', { method: 'POST', body: 'y'.repeat(5000) });
    expect([ignored.status, ignored.text()]).toEqual([200, 'not read']);
  });
});
