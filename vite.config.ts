/**
 * The PWA build (`vite build`, run by scripts/build.mjs): the dashboard from `web/` (root
 * `web/index.html`) and the service worker from `sw/sw.ts` into `dist/web/`, which the headless node
 * serves as its dashboard (node/pwa-host.ts).
 *
 * The service worker is built by vite-plugin-pwa in injectManifest mode as one classic script
 * (`rollupFormat: 'iife'`): Chromium starts it ~20 ms sooner than the same code as a module worker
 * (its compiled code is cached; bench/pwa.mjs). In that format a `?url` import of a wasm file would be
 * inlined as base64, so the worker finds the wasm URLs in the precache manifest instead
 * (sw/precached.ts `assetUrls`). Workbox precaches the shell, both wasm binaries (sql.js, QuickJS) and
 * the apps' standard library (dist/stdlib, copied to `/stdlib/`), so the device node starts offline.
 * @see https://vite-pwa-org.netlify.app/guide/inject-manifest.html
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

const ROOT = fileURLToPath(new URL('.', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const STDLIB_DIR = join(ROOT, 'dist', 'stdlib');

/** Copies the apps' standard library (built by scripts/build-stdlib.mjs) into the build as `/stdlib/*`, so workbox precaches it. */
function stdlibAssets(): Plugin {
  return {
    name: 'fazt-stdlib-assets',
    apply: 'build',
    generateBundle() {
      if (!existsSync(STDLIB_DIR)) {
        this.warn('dist/stdlib is missing (run scripts/build-stdlib.mjs): apps in the device node get no standard library');
        return;
      }
      for (const file of readdirSync(STDLIB_DIR)) {
        if (!/\.(js|json)$/.test(file)) continue;
        this.emitFile({ type: 'asset', fileName: `stdlib/${file}`, source: readFileSync(join(STDLIB_DIR, file)) });
      }
    },
  };
}

export default defineConfig({
  root: join(ROOT, 'web'),
  base: '/',
  publicDir: join(ROOT, 'public'),
  define: { __FAZT_VERSION__: JSON.stringify(VERSION) },
  build: {
    outDir: join(ROOT, 'dist', 'web'),
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1024,
  },
  plugins: [
    stdlibAssets(),
    VitePWA({
      strategies: 'injectManifest',
      srcDir: join(ROOT, 'sw'),
      filename: 'sw.ts',
      // web/lib/device-link.ts registers the worker itself (as an ES module, scope '/')
      injectRegister: false,
      manifestFilename: 'manifest.webmanifest',
      manifest: {
        id: '/',
        name: 'Fazt',
        short_name: 'Fazt',
        description: 'Your personal cloud: your apps and their data, on this device and on your own server.',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        orientation: 'any',
        background_color: '#ffffff',
        theme_color: '#1d4ed8',
        lang: 'en',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
          { src: '/icons/icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' },
        ],
      },
      integration: {
        // the worker bundles the kernel, sql.js and the QuickJS glue (~650 KB, by design)
        configureCustomSWViteBuild(config) {
          config.build = { ...config.build, chunkSizeWarningLimit: 2048, reportCompressedSize: false };
          // one file (a service worker cannot import() chunks): rolldown's spelling of inlineDynamicImports
          const output = config.build.rollupOptions?.output;
          if (output && !Array.isArray(output)) {
            delete output.inlineDynamicImports;
            (output as { codeSplitting?: boolean }).codeSplitting = false;
          }
          // the QuickJS glue locates its wasm with `new URL('emscripten-module.wasm', import.meta.url)`,
          // which the bundler would inline as 670 KB of base64 (the worker hands the glue its compiled
          // module, so that URL is never fetched): point it at the worker's own URL instead
          config.plugins = [
            ...(config.plugins ?? []),
            {
              name: 'fazt-sw-no-inlined-wasm',
              enforce: 'pre',
              transform(code: string, id: string) {
                if (!/quickjs-wasmfile-release-sync[\\/]dist[\\/]emscripten-module\.browser\.mjs$/.test(id)) return null;
                return { code: code.replaceAll('import.meta.url', 'self.location.href'), map: null };
              },
            } satisfies Plugin,
          ];
          if (process.env.FAZT_BUILD_QUIET) config.logLevel = 'error';
        },
      },
      injectManifest: {
        // a classic script (see above)
        rollupFormat: 'iife',
        globPatterns: ['**/*.{js,mjs,css,html,wasm,png,svg,ico,webmanifest,json,woff2}'],
        // the QuickJS and sql.js binaries and the zod bundle are larger than workbox's 2 MiB default
        maximumFileSizeToCacheInBytes: 16 * 1024 * 1024,
        minify: process.env.FAZT_SW_MINIFY !== '0',
        sourcemap: false,
      },
    }),
  ],
});
