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

const LIMITS = { cpuMs: 200, wallMs: 2000, perAppConcurrency: 2, requestBytes: 1024 };

let t: TestNode;
let admin: string;
const ids = new Map<string, string>();

beforeAll(async () => {
  t = await startTestNode({ runtimeLimits: LIMITS });
  admin = createToken(t, 'admin', 'limits-admin').token;
});

afterAll(async () => {
  await t?.stop();
  removeTempDirs();
});

/** Deploys `files` (plus an `app.json`) as app `name`; returns the deploy answer. */
async function deploy(name: string, files: FileSet, extraManifest: Record<string, unknown> = {}): Promise<HttpResult> {
  return deployZip(t, admin, zip({ 'app.json': manifest({ name, ...extraManifest }), ...files }));
}

/** Deploys and expects success; remembers the app id. */
async function deployOk(name: string, files: FileSet, extraManifest: Record<string, unknown> = {}): Promise<string> {
  const r = await deploy(name, files, extraManifest);
  expect(r.status, r.text()).toBeLessThan(300);
  const id = r.json().id as string;
  ids.set(name, id);
  return id;
}

/** A request to an app's API on the node's host (`/a/NAME/api/…`). */
const call = (name: string, path: string, options: RequestOptions = {}) => request(`${t.url}/a/${name}${path}`, options);

/** A request to an app's API on its own origin (`NAME.localhost`). */
const callOnHost = (name: string, path: string, options: RequestOptions = {}) =>
  request(`${t.url}${path}`, { ...options, headers: { host: `${name}.localhost:${t.port}`, ...options.headers } });

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
function expectLogged(app: string, requestId: string, code: string, message: RegExp): void {
  const entries = t.node.kernel.logs.tail(ids.get(app)!, 50, 'error');
  const e = entries.find((x) => (x.data as { requestId?: string } | undefined)?.requestId === requestId);
  expect(e, `no log entry for ${requestId} in ${JSON.stringify(entries.map((x) => x.message))}`).toBeDefined();
  expect(e!.level).toBe('error');
  expect(e!.data).toMatchObject({ code, requestId });
  expect(e!.message).toMatch(message);
  expect(e!.source).toMatch(/^GET \/api\//);
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
        for (let i = 0; ; i++) all.push(Array.from({ length: 1000 }, (_, j) => ({ i, j, tags: ['a', 'b'] })));
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
    await deployOk('runaway', { 'api/main.js': RUNAWAY });
    await deployOk('neighbour', { 'api/main.js': NEIGHBOUR });
    // warm both (sandbox creation, priming) so the timings below measure the limits alone
    expect((await call('runaway', '/api/ok')).json()).toEqual({ ok: true, at: '/api/ok' });
    expect((await call('neighbour', '/api/ping')).json()).toEqual({ pong: true, app: 'neighbour' });
    rssBefore = process.memoryUsage().rss;
  });

  /**
   * Starts `GET /a/runaway<path>`; when the handler has logged its start (it is running now), fires
   * two probes at the neighbour's API and one at the admin API. Resolves with all answers and times
   * (ms from the runaway's start; probes from their own start).
   */
  async function runawayWithProbes(path: string) {
    const appId = ids.get('runaway')!;
    const probes: Promise<{ what: string; r: HttpResult; ms: number; sentAt: number }>[] = [];
    const t0 = performance.now();
    let started!: () => void;
    const startedP = new Promise<void>((r) => (started = r));
    const unsubscribe = t.node.kernel.logs.subscribe(appId, (e) => {
      if (e.message !== `start ${path}` || probes.length) return;
      // inside the runaway's invocation: these requests are in flight while it runs
      const fire = (what: string, p: Promise<HttpResult>) => {
        const sentAt = performance.now();
        probes.push(p.then((r) => ({ what, r, ms: performance.now() - sentAt, sentAt: sentAt - t0 })));
      };
      fire('neighbour', call('neighbour', '/api/ping'));
      fire('neighbour-host', callOnHost('neighbour', '/api/ping'));
      fire('admin', request(`${t.url}/api/apps`, { token: admin }));
      started();
    });
    try {
      const runaway = elapsed(call('runaway', path), t0);
      await Promise.race([startedP, runaway]);
      expect(probes.length, 'the runaway handler never started').toBe(3);
      const answers = await Promise.all(probes);
      const done = await runaway;
      for (const a of answers) {
        expect(a.r.status, `${a.what}: ${a.r.text()}`).toBe(200);
        if (a.what === 'admin') expect(a.r.json().apps.map((x: { name: string }) => x.name)).toEqual(expect.arrayContaining(['runaway', 'neighbour']));
        else expect(a.r.json()).toEqual({ pong: true, app: 'neighbour' });
      }
      if (process.env.SHOW) console.log(path, done.ms, answers.map((a) => [a.what, a.ms, a.sentAt]));
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

  it('a memory bomb of objects: 507 APP_OUT_OF_MEMORY, logged, neighbours fine', async () => {
    const { res, probes } = await runawayWithProbes('/api/objects');
    expectError(res, 507, 'APP_OUT_OF_MEMORY', /the request handler ran out of memory \(limit 64 MiB\) and was stopped/);
    expectLogged('runaway', requestIdOf(res), 'APP_OUT_OF_MEMORY', /out of memory/);
    for (const p of probes) expect(p.ms, p.what).toBeLessThan(SYNC_PROBE_MS);
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
  });
});
