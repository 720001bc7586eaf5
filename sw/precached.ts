/**
 * Files the device node needs from the workbox precache: the sql.js and QuickJS WebAssembly binaries
 * and the apps' standard library (dist/stdlib, copied into the PWA build as `/stdlib/`).
 *
 * A service worker's own `fetch()` does not pass through its fetch handler (docs/architecture.md §8), so offline it
 * would fail: everything is read with `matchPrecache`, falling back to the network only when the
 * precache lacks the file (a development build).
 */
import { matchPrecache } from 'workbox-precaching';
import type { StdlibModule, StdlibSource } from '../shared/runtime/index.js';

/** An entry of workbox's precache manifest (`self.__WB_MANIFEST`). */
export type PrecacheManifestEntry = string | { url: string; revision?: string | null };

/**
 * The device node's WebAssembly URLs, found in the build's precache manifest by the packages' file
 * names (`sql-wasm-browser-<hash>.wasm`, `emscripten-module-<hash>.wasm`). The service worker is a
 * classic script (its compiled code is cached by Chromium; a module worker's is not), and in that
 * format the bundler would inline `?url` imports of wasm as base64, so it looks them up instead.
 * @throws Error when the manifest lacks one (a broken build).
 */
export function assetUrls(manifest: readonly PrecacheManifestEntry[]): { sqlWasm: string; quickjsWasm: string } {
  const urls = manifest.map((e) => (typeof e === 'string' ? e : e.url));
  const find = (re: RegExp, what: string) => {
    const hit = urls.find((u) => re.test(u));
    if (!hit) throw new Error(`This build's offline cache lists no ${what} (looked for ${re}).`);
    return new URL(hit, self.location.origin + '/').pathname;
  };
  return {
    sqlWasm: find(/(^|\/)sql-wasm-browser-[\w-]+\.wasm$/, 'sql.js WebAssembly'),
    quickjsWasm: find(/(^|\/)emscripten-module-[\w-]+\.wasm$/, 'QuickJS WebAssembly'),
  };
}

/** The precached response for a build URL (`/assets/x-HASH.wasm`), or the network's. @throws Error when neither has it. */
export async function precachedResponse(url: string): Promise<Response> {
  const hit = await matchPrecache(url);
  if (hit) return hit;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`The device node could not load ${url} (HTTP ${res.status}; not in the offline cache either).`);
  return res;
}

/**
 * Compiles a precached WebAssembly file. `compileStreaming` lets Chromium cache the compiled code for
 * responses from Cache Storage; a response without `Content-Type: application/wasm` is compiled from
 * its bytes instead.
 */
export async function compilePrecachedWasm(url: string): Promise<WebAssembly.Module> {
  const res = await precachedResponse(url);
  if ((res.headers.get('content-type') ?? '').startsWith('application/wasm')) {
    try {
      return await WebAssembly.compileStreaming(res.clone());
    } catch {
      // fall through to the bytes
    }
  }
  return WebAssembly.compile(await res.arrayBuffer());
}

/** What `/stdlib/manifest.json` lists per module (scripts/build-stdlib.mjs). */
interface StdlibManifestEntry {
  file: string;
  exports: string[];
}

/**
 * Loads the whole standard library from the precache (≈ 0.7 MB of text; the runtime's
 * {@link StdlibSource} is synchronous, so it must be in memory before the first invocation).
 * A build without `/stdlib/` gives an empty library (relative imports still work).
 * @param base URL of the folder, ending in `/` (default `/stdlib/`).
 */
export async function loadStdlib(base = '/stdlib/'): Promise<StdlibSource> {
  let manifest: Record<string, StdlibManifestEntry> = {};
  try {
    manifest = (await (await precachedResponse(base + 'manifest.json')).json()) as Record<string, StdlibManifestEntry>;
  } catch {
    manifest = {};
  }
  const modules = new Map<string, StdlibModule>();
  await Promise.all(
    Object.entries(manifest).map(async ([name, entry]) => {
      const source = await (await precachedResponse(base + entry.file)).text();
      modules.set(name, { source, exports: entry.exports });
    }),
  );
  return {
    names: () => [...modules.keys()],
    get: (name) => modules.get(name),
  };
}
