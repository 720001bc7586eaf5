// Bundles the headless node's sandbox thread (node/sandbox-worker.ts) with esbuild: into
// dist/sandbox-worker.mjs by scripts/build.mjs, or in memory when the node runs from its TypeScript
// sources (node/sandbox-threads.ts writes it to dist/dev/). npm packages stay external.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** `import text from './x.js?raw'` → the file's text (vite's convention, used by shared/runtime). */
export const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({ path: join(args.resolveDir, args.path.slice(0, -4)), namespace: 'raw-text' }));
    b.onLoad({ filter: /.*/, namespace: 'raw-text' }, async (args) => ({ contents: await readFile(args.path, 'utf8'), loader: 'text' }));
  },
};

/**
 * @param {{ root: string, write?: boolean }} options `write: false` → resolves with the bundle's text.
 * @returns {Promise<string | undefined>}
 */
export async function buildSandboxWorker({ root, write = true }) {
  const r = await build({
    entryPoints: [join(root, 'node/sandbox-worker.ts')],
    outfile: join(root, 'dist', 'sandbox-worker.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: write ? 'linked' : false,
    logLevel: 'warning',
    write,
    plugins: [rawText],
  });
  return write ? undefined : r.outputFiles[0].text;
}
