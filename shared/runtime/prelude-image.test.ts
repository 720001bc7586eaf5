import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_LIMITS } from './limits.js';
import { preludeImageKey, Sandbox, type AppCode, type HostOps, type InvocationSpec } from './sandbox.js';
import { HOST_OPS, PURE_OPS, type HostOpTable } from './host-ops.js';

const require = createRequire(import.meta.url);
let compiled: Promise<WebAssembly.Module> | undefined;
/** The real QuickJS module (as the Node host loads it). */
const wasm = () => (compiled ??= WebAssembly.compile(readFileSync(require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm'))));
const KEY = preludeImageKey('quickjs-test', DEFAULT_SANDBOX_LIMITS);
const LIMITS = { cpuMs: 1000, wallMs: 5000 };

/** A tiny app: its handler uses the prelude's classes, fazt.kv (through the host ops) and module state. */
function app(store: Map<string, unknown>): AppCode {
  // ops this app does not use fail loudly
  const others = Object.fromEntries(Object.keys(HOST_OPS).map((op) => [op, () => { throw new Error(`unexpected host op ${op}`); }]));
  const table = {
    ...others,
    ...PURE_OPS,
    'kv.get': (a: { key: string }) => store.get(a.key) ?? null,
    'kv.set': (a: { key: string; value: unknown }) => (store.set(a.key, a.value), null),
    log: () => null,
  } as unknown as HostOpTable;
  const ops: HostOps = {
    table,
    call: { source: 'test' },
    loadCommonJs: () => {
      throw new Error('no modules');
    },
    normalizeModule: (_base, spec) => spec,
    loadModule: () => {
      throw new Error('no modules');
    },
    log: () => {},
  };
  const source = `let calls = 0;
    export default { async fetch(request) {
      calls++;
      const url = new URL(request.url);
      const seen = (await fazt.kv.get('seen')) ?? 0;
      await fazt.kv.set('seen', seen + 1);
      return Response.json({ path: url.pathname, q: url.searchParams.get('q'), seen, calls, app: fazt.app.name, h: request.headers.get('x-test') });
    } };`;
  return { key: 'app@1', entry: { path: 'api/main.js', source, isModule: true }, ops };
}

async function call(sb: Sandbox, code: AppCode, q: string) {
  const spec: InvocationSpec = {
    app: code,
    kind: 'fetch',
    arg: { url: `https://app.example/api/x?q=${q}`, method: 'GET', headers: [['x-test', q]], hasBody: false },
    meta: { app: { id: 'a1', name: 'demo', version: 1, seed: [1, 2] } as never, user: null, env: {}, requestId: 'r1', basePath: '' },
    limits: LIMITS,
    ops: code.ops,
  };
  const r = await sb.invoke(spec);
  await r.done;
  return { status: r.response?.status, body: JSON.parse(new TextDecoder().decode(r.body)) };
}

describe('PreludeImage: a sandbox that starts from another sandbox’s post-prelude memory', () => {
  it('serves the same app the same way as a sandbox that evaluated its prelude, and keeps no state between invocations', async () => {
    const first = await Sandbox.create(await wasm(), DEFAULT_SANDBOX_LIMITS, { imageKey: KEY });
    expect(first.fromImage).toBe(false);
    const image = first.preludeImage()!;
    expect(image.key).toBe(KEY);
    expect(image.low.length + image.heap.length).toBeGreaterThan(100_000);
    // a copy, as the service worker stores and reads it back
    const copy = { ...image, low: image.low.slice(), heap: image.heap.slice(), check: [...image.check], handles: [...image.handles] };
    const second = await Sandbox.create(await wasm(), DEFAULT_SANDBOX_LIMITS, { imageKey: KEY, image: copy });
    expect(second.fromImage).toBe(true);
    const storeA = new Map<string, unknown>();
    const storeB = new Map<string, unknown>();
    const a1 = await call(first, app(storeA), 'one');
    const b1 = await call(second, app(storeB), 'one');
    expect(b1).toEqual(a1);
    expect(b1).toEqual({ status: 200, body: { path: '/api/x', q: 'one', seen: 0, calls: 1, app: 'demo', h: 'one' } });
    const b2 = await call(second, app(storeB), 'two');
    // module state is restored after each invocation; host data persists
    expect(b2.body).toMatchObject({ q: 'two', seen: 1, calls: 1 });
    // and a third sandbox from the same image still works after the second one served requests
    const third = await Sandbox.create(await wasm(), DEFAULT_SANDBOX_LIMITS, { imageKey: KEY, image: copy });
    expect(third.fromImage).toBe(true);
    expect((await call(third, app(new Map()), 'three')).body).toMatchObject({ q: 'three', seen: 0 });
  });

  it('is not applied when its key differs (another build, prelude or limits) or its pointers do not match: the prelude runs', async () => {
    const first = await Sandbox.create(await wasm(), DEFAULT_SANDBOX_LIMITS, { imageKey: KEY });
    const image = first.preludeImage()!;
    const otherLimits = { ...DEFAULT_SANDBOX_LIMITS, heapBytes: 32 * 1024 * 1024 };
    expect(preludeImageKey('quickjs-test', otherLimits)).not.toBe(KEY);
    const wrongKey = await Sandbox.create(await wasm(), otherLimits, { imageKey: preludeImageKey('quickjs-test', otherLimits), image });
    expect(wrongKey.fromImage).toBe(false);
    const lying = { ...image, check: image.check.map((v, i) => (i === 1 ? v + 16 : v)) };
    const mismatched = await Sandbox.create(await wasm(), DEFAULT_SANDBOX_LIMITS, { imageKey: KEY, image: lying });
    expect(mismatched.fromImage).toBe(false);
    expect((await call(mismatched, app(new Map()), 'x')).body).toMatchObject({ q: 'x' });
    const noKey = await Sandbox.create(await wasm(), DEFAULT_SANDBOX_LIMITS, { image });
    expect(noKey.fromImage).toBe(false);
    expect(noKey.preludeImage()).toBeUndefined();
  });
});
