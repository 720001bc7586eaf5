// Bundles the Node host (CLI + kernel) into dist/fazt.mjs with esbuild. npm packages stay external
// (they are installed beside it); only our TypeScript is compiled. Code splitting keeps the HTTP
// server (express) out of commands that do not serve. Runs on `npm install` (prepare)
// and before `npm start` / `npm test`. Takes ~100 ms.
// Also builds the apps' standard library into dist/stdlib (scripts/build-stdlib.mjs; skipped when up to date).
import { build } from 'esbuild';
import { buildStdlib } from './build-stdlib.mjs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { readFile } from 'node:fs/promises';

/** `import text from './x.js?raw'` → the file's text (vite's convention, used by shared/runtime). */
const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({ path: join(args.resolveDir, args.path.slice(0, -4)), namespace: 'raw-text' }));
    b.onLoad({ filter: /.*/, namespace: 'raw-text' }, async (args) => ({ contents: await readFile(args.path, 'utf8'), loader: 'text' }));
  },
};

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
if (!quiet) console.error(`built dist/fazt.mjs in ${Date.now() - started} ms`);
await stdlib;
