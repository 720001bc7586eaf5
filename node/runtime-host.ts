import { readFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { RuntimeHostOptions, StdlibSource, StdlibModule } from '../shared/runtime/index.js';
import { PACKAGE_ROOT } from './paths.js';
import { ThreadEngine } from './sandbox-threads.js';

/**
 * The Node host's facilities for the serverless runtime: the QuickJS WebAssembly binary from
 * `@jitl/quickjs-wasmfile-release-sync`, the standard library bundles built into `dist/stdlib/`
 * (scripts/build-stdlib.mjs), and DNS resolution for `fazt.net.fetch`'s private-address check.
 */

const require = createRequire(import.meta.url);

/** Compiles the QuickJS module once per process. */
let compiled: Promise<WebAssembly.Module> | undefined;
function quickjsWasm(): Promise<WebAssembly.Module> {
  compiled ??= WebAssembly.compile(readFileSync(require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm')));
  return compiled;
}

/** Reads `dist/stdlib/` lazily; a missing build gives an empty library (relative imports still work). */
export function stdlibFromDir(dir = join(PACKAGE_ROOT, 'dist', 'stdlib')): StdlibSource {
  let manifest: Record<string, { file: string; exports: string[] }> | undefined;
  const cache = new Map<string, StdlibModule>();
  const load = () => {
    if (!manifest) {
      try {
        manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, { file: string; exports: string[] }>;
      } catch {
        manifest = {};
      }
    }
    return manifest;
  };
  return {
    names: () => Object.keys(load()),
    get(name) {
      const entry = Object.hasOwn(load(), name) ? load()[name] : undefined;
      if (!entry) return undefined;
      let m = cache.get(name);
      if (!m) {
        m = { source: readFileSync(join(dir, entry.file), 'utf8'), exports: entry.exports };
        cache.set(name, m);
      }
      return m;
    },
  };
}

/** Runtime options for the Node host. */
export function nodeRuntimeHost(limits?: RuntimeHostOptions['limits']): RuntimeHostOptions {
  return {
    wasm: quickjsWasm,
    stdlib: stdlibFromDir(),
    resolveHost: async (host) => (await lookup(host, { all: true })).map((a) => a.address),
    limits,
    // sandboxes run off the main thread (node/sandbox-threads.ts)
    engine: (wasm, all) => new ThreadEngine(wasm, all),
  };
}
