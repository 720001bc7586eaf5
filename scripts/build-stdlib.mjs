// Builds the standard library offered to apps' serverless code (`require('lodash')`, `import { z } from 'zod'`)
// from the real, installed npm packages into dist/stdlib/<name>.js plus dist/stdlib/manifest.json.
//
// Each bundle is a self-contained CommonJS body (esbuild format 'cjs', browser builds, ES2022, minified,
// no Node builtins, no remaining externals) meant to be wrapped and called by the sandbox as
//
//   (function (module, exports, require) { <bundle> })(module, module.exports, require)
//
// after which `module.exports` is the package (lodash: the `_` function; dayjs: the `dayjs` function; uuid,
// zod, node-html-parser: a namespace object with non-enumerable `__esModule: true`).
// manifest.json lists, per module, its file, size, package version and the named exports (computed here by
// loading each bundle in Node) so the sandbox can offer ESM named imports.
//
// Skips work when every output exists and is newer than the packages' package.json files and this script.
// Usage: `node scripts/build-stdlib.mjs [--quiet] [--force]`, or `await buildStdlib({ quiet })`.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { mkdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import vm from 'node:vm';

const here = fileURLToPath(import.meta.url);
const root = join(dirname(here), '..');
const outDir = join(root, 'dist', 'stdlib');

/** Module names exposed to apps = the npm package names. */
export const STDLIB_MODULES = ['lodash', 'dayjs', 'uuid', 'zod', 'node-html-parser'];

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function packageJsonPath(name) {
  // Not every package exports ./package.json (it is fine here, but resolve via the directory to be safe).
  const path = join(root, 'node_modules', name, 'package.json');
  if (!existsSync(path)) {
    throw new Error(`stdlib: package "${name}" is not installed (expected ${path}); run npm install`);
  }
  return path;
}

function mtimeMs(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

function isUpToDate() {
  const manifestPath = join(outDir, 'manifest.json');
  const builtAt = mtimeMs(manifestPath);
  if (builtAt < 0) return false;
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch {
    return false;
  }
  if (mtimeMs(here) > builtAt) return false;
  for (const name of STDLIB_MODULES) {
    const entry = manifest[name];
    if (!entry) return false;
    const pkgPath = packageJsonPath(name);
    if (mtimeMs(pkgPath) > builtAt) return false;
    if (JSON.parse(readFileSync(pkgPath, 'utf8')).version !== entry.version) return false;
    const file = join(outDir, entry.file);
    const fileTime = mtimeMs(file);
    if (fileTime < 0 || statSync(file).size !== entry.bytes) return false;
  }
  return true;
}

/**
 * Evaluates a bundle the way the sandbox will (wrapped, `require` that always throws) in a fresh Node
 * realm and returns `module.exports`.
 */
function loadBundle(name, code) {
  const context = vm.createContext({
    // uuid's browser build reads globalThis.crypto; the other bundles need only ES2022 built-ins.
    crypto: globalThis.crypto,
    setTimeout,
    clearTimeout,
    console,
  });
  const fn = vm.runInContext(`(function (module, exports, require) {${code}\n})`, context, {
    filename: `stdlib/${name}.js`,
  });
  const module = { exports: {} };
  const require = (id) => {
    throw new Error(`stdlib/${name}.js tried to require("${id}"): bundles must be self-contained`);
  };
  fn.call(module.exports, module, module.exports, require);
  return module.exports;
}

/**
 * Builds dist/stdlib/*.js and dist/stdlib/manifest.json (unless already up to date).
 * @param {{ quiet?: boolean, force?: boolean }} [options]
 * @returns {Promise<{ skipped: boolean, manifest: Record<string, { file: string, bytes: number, version: string, exports: string[] }> }>}
 */
export async function buildStdlib({ quiet = false, force = false } = {}) {
  const started = Date.now();
  if (!force && isUpToDate()) {
    const manifest = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8'));
    if (!quiet) console.error(`dist/stdlib is up to date (checked in ${Date.now() - started} ms)`);
    return { skipped: true, manifest };
  }
  mkdirSync(outDir, { recursive: true });

  const results = await Promise.all(
    STDLIB_MODULES.map(async (name) => {
      const version = JSON.parse(readFileSync(packageJsonPath(name), 'utf8')).version;
      const result = await build({
        // A bare package name: esbuild resolves it like `import 'name'` from the repo root.
        entryPoints: [name],
        absWorkingDir: root,
        bundle: true,
        write: false,
        format: 'cjs',
        platform: 'browser', // browser builds (uuid: esm-browser, reads globalThis.crypto), Node builtins fail to resolve
        mainFields: ['browser', 'module', 'main'],
        conditions: ['browser', 'import', 'module', 'default'],
        target: 'es2022',
        minify: true,
        legalComments: 'none',
        charset: 'utf8',
        treeShaking: true,
        metafile: true,
        logLevel: 'silent',
        define: { 'process.env.NODE_ENV': '"production"' },
      });
      if (result.outputFiles.length !== 1) throw new Error(`stdlib: ${name} produced ${result.outputFiles.length} files`);
      const code = result.outputFiles[0].text;
      const imports = Object.values(result.metafile.outputs)[0].imports ?? [];
      const external = imports.filter((i) => i.external);
      if (external.length) {
        throw new Error(`stdlib: ${name} bundle still imports ${external.map((i) => i.path).join(', ')}`);
      }

      const moduleExports = loadBundle(name, code);
      const exportNames = Object.keys(moduleExports)
        .filter((key) => IDENTIFIER.test(key) && key !== 'default' && key !== '__esModule')
        .sort();
      const file = `${name}.js`;
      const bytes = Buffer.byteLength(code);
      return { name, code, entry: { file, bytes, version, exports: exportNames } };
    }),
  );

  /** @type {Record<string, { file: string, bytes: number, version: string, exports: string[] }>} */
  const manifest = {};
  for (const { name, code, entry } of results) {
    writeFileSync(join(outDir, entry.file), code);
    manifest[name] = entry;
  }
  // Written last: its mtime marks a complete build.
  writeFileSync(join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');

  if (!quiet) {
    const sizes = results.map(({ name, entry }) => `${name} ${(entry.bytes / 1024).toFixed(1)} KB`).join(', ');
    console.error(`built dist/stdlib (${sizes}) in ${Date.now() - started} ms`);
  }
  return { skipped: false, manifest };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildStdlib({ quiet: process.argv.includes('--quiet'), force: process.argv.includes('--force') });
}
