import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { openCartridge } from '../cartridge/index.js';
import { createKernel } from '../kernel.js';
import { drivers } from '../testing/drivers.js';
import { DEFAULT_RUNTIME_LIMITS, EnginePool, prestartSandbox, type Sandbox } from './index.js';

const require = createRequire(import.meta.url);
let compiled: Promise<WebAssembly.Module> | undefined;
/** The real QuickJS module (as the Node host loads it). */
const wasm = () => (compiled ??= WebAssembly.compile(readFileSync(require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm'))));

/** A pool that counts how often it had to compile/instantiate on its own. */
function pool(limits = DEFAULT_RUNTIME_LIMITS) {
  let asked = 0;
  const p = new EnginePool(() => {
    asked++;
    return wasm();
  }, limits);
  return { p, asked: () => asked };
}

describe('EnginePool.adopt: a sandbox the host started before the pool existed', () => {
  it('becomes the first lease; a lease and a warm-up made meanwhile wait for it instead of instantiating another', async () => {
    const early = prestartSandbox(wasm);
    const { p, asked } = pool();
    p.adopt(early);
    expect(p.size).toBe(1);
    const [leased] = await Promise.all([p.lease('app@1'), p.warmUp()]);
    expect(leased).toBe(await early);
    expect(p.size).toBe(1);
    expect(p.created).toBe(1);
    expect(asked()).toBe(0); // the pool never loaded QuickJS itself
    p.release(leased);
    expect(p.idleCount).toBe(1);
  });

  it('drops a sandbox made with other limits, and the first lease creates its own', async () => {
    const early = prestartSandbox(wasm, { heapBytes: 8 * 1024 * 1024 });
    const { p, asked } = pool();
    p.adopt(early);
    const leased: Sandbox = await p.lease();
    expect(leased).not.toBe(await early);
    expect(leased.limits.heapBytes).toBe(DEFAULT_RUNTIME_LIMITS.heapBytes);
    expect(p.size).toBe(1);
    expect(asked()).toBe(1);
  });

  it('ignores a failed creation: the first lease creates a sandbox', async () => {
    const { p } = pool();
    p.adopt(Promise.reject(new Error('CompileError: broken wasm')));
    const leased = await p.lease();
    expect(leased).toBeDefined();
    expect(p.size).toBe(1);
  });

  it('does nothing when the pool already has a sandbox', async () => {
    const { p } = pool();
    const first = await p.lease();
    const early = prestartSandbox(wasm);
    p.adopt(early);
    await early;
    expect(p.size).toBe(1);
    p.release(first);
    expect(await p.lease()).toBe(first);
  });
});

describe('a kernel given a prestarted sandbox (RuntimeHostOptions.prestarted)', () => {
  it('counts it from the start, and frees it when the cartridge holds no server code', async () => {
    const kernel = createKernel({ cartridge: openCartridge(await drivers[0]!.open()), runtime: { wasm, prestarted: prestartSandbox(wasm) } });
    expect(kernel.runtime!.sandboxes).toBe(1);
    await kernel.start();
    expect(kernel.runtime!.sandboxes).toBe(0);
    await kernel.stop();
  });
});
