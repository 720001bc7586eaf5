// Bundles the Node host (CLI + kernel) into dist/fazt.mjs with esbuild. npm packages stay external
// (they are installed beside it); only our TypeScript is compiled. Code splitting keeps the HTTP
// server (express) out of commands that do not serve. Runs on `npm install` (prepare)
// and before `npm start` / `npm test`. Takes ~100 ms.
// Also builds the apps' standard library into dist/stdlib (scripts/build-stdlib.mjs; skipped when up to date)
// and then the PWA (dashboard + service worker, vite.config.ts) into dist/web (skipped when up to date,
// ~5 s otherwise; skipped with a note when vite is not installed: the node then serves its built-in
// dashboard). `--force-web` rebuilds the PWA regardless.
import { build } from 'esbuild';
import { buildStdlib } from './build-stdlib.mjs';
import { buildSandboxWorker, rawText } from './sandbox-worker-build.mjs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const started = Date.now();
const stdlib = buildStdlib({ quiet });
await build({
  entryPoints: [join(root, 'node/main.ts')],
  outdir: join(root, 'dist'),
  entryNames: 'fazt',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
  plugins: [rawText],
});
// the sandbox thread of the headless node (node/sandbox-threads.ts starts it)
await buildSandboxWorker({ root });
if (!quiet) console.error(`built dist/fazt.mjs in ${Date.now() - started} ms`);
await stdlib;
await buildPwa();

/** Newest modification time (ms) of the files under `path` (a file or a folder), skipping tests; -1 when missing. */
function newest(path) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return -1;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.') || /\.test\.ts$/.test(e.name)) continue;
    max = Math.max(max, newest(join(path, e.name)));
  }
  return max;
}

/** Builds dist/web with vite unless it is newer than every input. */
async function buildPwa() {
  const t0 = Date.now();
  const out = join(root, 'dist', 'web', 'sw.js');
  const inputs = ['web', 'sw', 'shared', 'public', 'vite.config.ts', 'package.json', 'dist/stdlib/manifest.json', 'scripts/build.mjs'];
  const built = existsSync(out) && existsSync(join(root, 'dist', 'web', 'index.html')) ? statSync(out).mtimeMs : -1;
  if (!process.argv.includes('--force-web') && built > 0 && inputs.every((p) => newest(join(root, p)) <= built)) return;
  let vite;
  try {
    vite = await import('vite');
  } catch {
    console.error('vite is not installed (npm install --omit=dev?): the PWA was not built; the node serves its built-in dashboard.');
    return;
  }
  if (quiet) process.env.FAZT_BUILD_QUIET = '1';
  await vite.build({ configFile: join(root, 'vite.config.ts'), logLevel: quiet ? 'error' : 'warn' });
  if (!quiet) console.error(`built dist/web (PWA) in ${Date.now() - t0} ms`);
}
