/**
 * The CPU limit of a sandbox on the calling thread (the browser node's design: no watchdog thread),
 * against the real QuickJS module: code that catches its own stack overflows, or catches the
 * interrupt in a promise chain, is stopped at about the limit. Before the interrupt handler paced
 * QuickJS's poll countdown (sandbox.ts, `pace`), the first ran 5–13 s past a 300 ms limit and the
 * second never ended.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { isFaztError } from '../errors.js';
import { EnginePool } from './engine.js';
import { HOST_OPS, PURE_OPS, type HostOpTable } from './host-ops.js';
import { DEFAULT_RUNTIME_LIMITS } from './index.js';
import type { AppCode, HostOps } from './sandbox.js';

const require = createRequire(import.meta.url);
const wasm = () => WebAssembly.compile(readFileSync(require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm')));
const CPU_MS = 300;

function app(source: string): AppCode {
  const others = Object.fromEntries(Object.keys(HOST_OPS).map((op) => [op, () => null]));
  const ops: HostOps = {
    table: { ...others, ...PURE_OPS } as unknown as HostOpTable,
    call: { source: 'test' },
    loadCommonJs: () => {
      throw new Error('no modules');
    },
    normalizeModule: (_b, spec) => spec,
    loadModule: () => {
      throw new Error('no modules');
    },
    log: () => {},
  };
  return { key: `app@${source.length}`, entry: { path: 'api/main.js', source, isModule: true }, ops };
}

async function timedRun(pool: EnginePool, source: string) {
  const code = app(source);
  const t0 = performance.now();
  try {
    await pool.run({ app: code, kind: 'fetch', arg: { url: 'http://x/api/', method: 'GET', headers: [], hasBody: false }, meta: { app: { id: 'a', name: 'a', version: 1 }, user: null, env: {}, requestId: 'r', basePath: '' }, limits: { cpuMs: CPU_MS, wallMs: 30_000 }, ops: code.ops });
    return { ms: performance.now() - t0, error: undefined };
  } catch (e) {
    return { ms: performance.now() - t0, error: e };
  }
}

describe('the CPU limit on a single-thread host', () => {
  const pool = new EnginePool(wasm, DEFAULT_RUNTIME_LIMITS);
  it('(warm-up: a sandbox exists before the timings)', async () => {
    expect((await timedRun(pool, 'export default { fetch: () => 1 };')).error).toBeUndefined();
  });
  const attacks: Record<string, string> = {
    'caught stack overflows': `export default { fetch() { const f = (n) => { try { return f(n + 1); } catch { return f(n + 1); } }; return f(0); } };`,
    'an interrupt caught by a promise chain': `const burn = () => { for (;;) {} }; export default { fetch() { const again = () => Promise.resolve().then(burn).catch(again); return again(); } };`,
    'an interrupt caught in an async loop': `const burn = () => { for (;;) {} }; export default { async fetch() { for (;;) { try { await (async () => burn())(); } catch {} } } };`,
  };
  for (const [what, source] of Object.entries(attacks)) {
    it(`${what}: APP_TIMEOUT at about the limit`, async () => {
      const r = await timedRun(pool, source);
      expect(isFaztError(r.error) && r.error.code, String(r.error)).toBe('APP_TIMEOUT');
      expect(r.ms).toBeLessThan(CPU_MS + 1700);
    }, 60_000);
  }
});
