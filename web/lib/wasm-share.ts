/**
 * Keeps the device node's WebAssembly compiled while a dashboard page is open, so a service worker
 * that restarts does not compile it again.
 *
 * Chromium stops an idle service worker after ~30 s. Its next start instantiates sql.js and QuickJS
 * from scratch, and V8 compiles WebAssembly lazily (Liftoff, each function on its first call): about
 * 120 ms of the worker's cold start on a 2-core machine (bench/pwa.mjs). V8 shares one compiled
 * module between all the isolates of a renderer process that compile the same bytes (its native
 * module cache), together with the functions compiled since. So the dashboard compiles the same two
 * binaries, never instantiates them, and holds the modules: a worker restarting in the dashboard's
 * process gets code its previous run already compiled. Elsewhere (another browser, another process)
 * this costs one streaming validation and changes nothing.
 * @see https://v8.dev/blog/wasm-code-caching (streaming compilation; per-process module sharing is V8's `NativeModuleCache`)
 */
import quickjsWasmUrl from '@jitl/quickjs-wasmfile-release-sync/wasm?url';
import sqlWasmUrl from 'sql.js/dist/sql-wasm-browser.wasm?url';

/** The device node's WebAssembly binaries (the same hashed build URLs the service worker compiles). */
export const DEVICE_WASM_URLS: readonly string[] = [sqlWasmUrl, quickjsWasmUrl];

let held: Promise<WebAssembly.Module[]> | undefined;

/**
 * Compiles the device node's binaries once and keeps them for the page's lifetime. Call after the
 * service worker controls the page (the fetches are answered from its precache, offline too).
 * @returns the modules; rejects when a binary cannot be loaded or compiled (then a later call tries again).
 */
export function shareDeviceWasm(urls: readonly string[] = DEVICE_WASM_URLS): Promise<WebAssembly.Module[]> {
  held ??= Promise.all(
    urls.map(async (url) => {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
      return WebAssembly.compileStreaming ? WebAssembly.compileStreaming(res) : WebAssembly.compile(await res.arrayBuffer());
    }),
  );
  held.catch(() => (held = undefined));
  return held;
}
