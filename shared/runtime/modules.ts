import { FaztError } from '../errors.js';

/**
 * Module resolution for app code: `require()` and `import` reach files of the app's own deployed
 * version and the bundled standard library, nothing else. Specifiers follow Node's rules in the
 * small: `./x` and `../x` relative to the importing file, `/x` from the app root, bare names for the
 * standard library; extensions `.js`, `.mjs`, `.cjs`, `.json` and `index.js` are tried in that order.
 */

/** A bundled standard-library module (built from the real npm package by scripts/build-stdlib.mjs). */
export interface StdlibModule {
  /** CommonJS source, evaluated inside `(function (module, exports, require, __filename, __dirname) { … })`. */
  source: string;
  /** Named exports offered to ES `import { x } from 'name'`. */
  exports: string[];
}

/** Reads app files and standard-library modules for the resolver. */
export interface ModuleSource {
  /** Text of a file of the app version, or `undefined` when absent. */
  readFile(path: string): string | undefined;
  /** A standard-library module by package name, or `undefined`. */
  stdlib(name: string): StdlibModule | undefined;
  /** Names of the standard-library modules, for error messages. */
  stdlibNames(): string[];
}

const EXTENSIONS = ['', '.js', '.mjs', '.cjs', '.json', '/index.js', '/index.mjs', '/index.cjs'];
const STDLIB_PREFIX = 'stdlib:';

/**
 * True when `source` is an ES module: a `.mjs` file, or one with a top-level `import`/`export`
 * statement (a `.cjs` file never is). Dynamic `import(…)` does not count.
 */
export function isEsModule(path: string, source: string): boolean {
  if (path.endsWith('.mjs')) return true;
  if (path.endsWith('.cjs') || path.endsWith('.json')) return false;
  return /^\s*(import\s*[\w{*'"]|export\s+(default|const|let|var|function|async|class|\{|\*))/m.test(source);
}

/** Joins a relative specifier onto a directory; `undefined` when it climbs above the app root. */
function join(dir: string, spec: string): string | undefined {
  const out = dir ? dir.split('/') : [];
  for (const seg of spec.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) return undefined;
      out.pop();
    } else out.push(seg);
  }
  return out.join('/');
}

/**
 * Resolves `spec` imported from module `from` (an app path like `api/main.js`, or `stdlib:<name>`).
 * @returns an app path (`api/lib/x.js`) or `stdlib:<name>`.
 * @throws FaztError `PERMISSION_DENIED` for paths outside the app, `NOT_FOUND` for missing modules.
 */
export function resolveModule(src: ModuleSource, spec: string, from: string): string {
  if (spec.startsWith(STDLIB_PREFIX)) spec = spec.slice(STDLIB_PREFIX.length);
  const isPath = spec.startsWith('./') || spec.startsWith('../') || spec.startsWith('/') || spec === '.' || spec === '..';
  if (!isPath) {
    if (src.stdlib(spec)) return STDLIB_PREFIX + spec;
    const where = from ? ` (imported from ${from})` : '';
    throw new FaztError(
      'NOT_FOUND',
      `Cannot find module "${spec}"${where}. Apps can import their own files by relative path and the bundled standard library: ${src.stdlibNames().join(', ')}.`,
    );
  }
  if (from.startsWith(STDLIB_PREFIX)) throw new FaztError('NOT_FOUND', `Cannot find module "${spec}" from ${from}`);
  const dir = spec.startsWith('/') ? '' : from.includes('/') ? from.slice(0, from.lastIndexOf('/')) : '';
  const base = join(dir, spec);
  if (base === undefined) throw new FaztError('PERMISSION_DENIED', `"${spec}"${from ? ` (from ${from})` : ''} points outside the app; only the app's own files can be imported.`);
  for (const ext of EXTENSIONS) {
    const p = base + ext;
    if (p && !p.endsWith('/') && src.readFile(p) !== undefined) return p;
  }
  throw new FaztError('NOT_FOUND', `Cannot find module "${spec}"${from ? ` (imported from ${from})` : ''}: no file ${base || '/'} (also tried .js, .mjs, .cjs, .json, /index.js) in this version of the app.`);
}

/**
 * The CommonJS view of a module for `require()`.
 * @throws FaztError as {@link resolveModule}, and `INVALID_CODE` when requiring an ES module.
 */
export function loadCommonJs(src: ModuleSource, spec: string, from: string): { id: string; kind: 'cjs' | 'json'; source: string } {
  const id = resolveModule(src, spec, from);
  if (id.startsWith(STDLIB_PREFIX)) return { id, kind: 'cjs', source: src.stdlib(id.slice(STDLIB_PREFIX.length))!.source };
  const source = src.readFile(id)!;
  if (id.endsWith('.json')) {
    try {
      JSON.parse(source);
    } catch (e) {
      throw new FaztError('INVALID_CODE', `${id} is not valid JSON: ${(e as Error).message}`);
    }
    return { id, kind: 'json', source };
  }
  if (isEsModule(id, source)) {
    throw new FaztError('INVALID_CODE', `${id} is an ES module (it uses import/export); load it with import, not require().`);
  }
  return { id, kind: 'cjs', source };
}

/**
 * ES module source for an id from {@link resolveModule}: app ES modules as they are; standard
 * library, CommonJS and JSON files through a small wrapper whose default export is `module.exports`
 * (standard-library modules also get their named exports).
 */
export function loadEsModule(src: ModuleSource, id: string): string {
  if (id.startsWith(STDLIB_PREFIX)) {
    const name = id.slice(STDLIB_PREFIX.length);
    const mod = src.stdlib(name);
    if (!mod) throw new FaztError('NOT_FOUND', `Cannot find module "${name}"`);
    const names = mod.exports.filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== 'default');
    return `const m = require(${JSON.stringify(name)});\nexport default m && m.__esModule && 'default' in m ? m.default : m;\n${names.length ? `export const { ${names.join(', ')} } = m;` : ''}`;
  }
  const source = src.readFile(id);
  if (source === undefined) throw new FaztError('NOT_FOUND', `Cannot find module "${id}"`);
  if (id.endsWith('.json')) return `export default ${source};`;
  if (isEsModule(id, source)) return source;
  return `const m = require(${JSON.stringify('/' + id)});\nexport default m;`;
}
