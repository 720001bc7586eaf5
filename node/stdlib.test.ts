// The bundled standard library (scripts/build-stdlib.mjs → dist/stdlib) works inside real QuickJS:
// each bundle is wrapped as `(function (module, exports, require) { … })`, evaluated in a fresh context
// and exercised. Also prints each bundle's size and how long QuickJS takes to evaluate it (the sandbox
// evaluates the bundles an app requires on every request).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  newQuickJSWASMModuleFromVariant,
  type QuickJSContext,
  type QuickJSRuntime,
  type QuickJSSyncVariant,
  type QuickJSWASMModule,
} from 'quickjs-emscripten-core';
import releaseSyncImport from '@jitl/quickjs-wasmfile-release-sync';
// @ts-expect-error plain JavaScript build script without declarations
import { buildStdlib } from '../scripts/build-stdlib.mjs';

interface ManifestEntry {
  file: string;
  bytes: number;
  version: string;
  exports: string[];
}
type Manifest = Record<string, ManifestEntry>;

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const stdlibDir = join(root, 'dist', 'stdlib');

/** Test-only stand-in for the sandbox's crypto (NOT cryptographically secure). */
const CRYPTO_SHIM = `
globalThis.crypto = {
  getRandomValues(array) {
    for (let i = 0; i < array.length; i++) array[i] = Math.floor(Math.random() * 256);
    return array;
  },
};`;

// The variant's typings are CommonJS-flavoured, so under NodeNext TypeScript sees the default import as
// the module object; at run time (ESM build) it is the variant itself.
const releaseSync = ((releaseSyncImport as unknown as { default?: QuickJSSyncVariant }).default ??
  releaseSyncImport) as QuickJSSyncVariant;

let QuickJS: QuickJSWASMModule;
let manifest: Manifest;
const timings: { name: string; bytes: number; coldMs: number; medianMs: number; memoryKB: number }[] = [];

function wrap(name: string, code: string): string {
  // Exactly how the sandbox is expected to load a bundle: the body inside a CommonJS function wrapper.
  return `(() => {
  const module = { exports: {} };
  (function (module, exports, require) {${code}
})(module, module.exports, (id) => { throw new Error('no require in stdlib bundle: ' + id); });
  globalThis[${JSON.stringify(name)}] = module.exports;
})();`;
}

function evalOk(vm: QuickJSContext, code: string, filename = 'test.js'): unknown {
  const result = vm.evalCode(code, filename);
  if (result.error) {
    const error = vm.dump(result.error) as unknown;
    result.error.dispose();
    throw new Error(`QuickJS error in ${filename}: ${JSON.stringify(error)}`);
  }
  const value = vm.dump(result.value) as unknown;
  result.value.dispose();
  return value;
}

/** Runs `body` with a fresh runtime + context that has the crypto shim and module `name` loaded as a global. */
function withModule<T>(name: string, body: (vm: QuickJSContext, runtime: QuickJSRuntime) => T): T {
  const entry = manifest[name];
  if (!entry) throw new Error(`${name} missing from manifest`);
  const code = readFileSync(join(stdlibDir, entry.file), 'utf8');
  const runtime = QuickJS.newRuntime();
  const vm = runtime.newContext();
  try {
    evalOk(vm, CRYPTO_SHIM, 'crypto-shim.js');
    evalOk(vm, wrap(name, code), entry.file);
    return body(vm, runtime);
  } finally {
    vm.dispose();
    runtime.dispose();
  }
}

/** Bytes allocated by the QuickJS runtime (its system context is created by the first call). */
function heapUsed(runtime: QuickJSRuntime): number {
  const handle = runtime.computeMemoryUsage();
  try {
    return (runtime.context!.dump(handle) as { memory_used_size: number }).memory_used_size;
  } finally {
    handle.dispose();
  }
}

/** Evaluation time in QuickJS: one cold run in a new runtime, then the median of 7 fresh contexts. */
function measure(name: string): void {
  const entry = manifest[name]!;
  const wrapped = wrap(name, readFileSync(join(stdlibDir, entry.file), 'utf8'));
  const samples: number[] = [];
  let memoryKB = 0;
  for (let i = 0; i < 8; i++) {
    const runtime = QuickJS.newRuntime();
    const vm = runtime.newContext();
    try {
      evalOk(vm, CRYPTO_SHIM);
      const baseline = heapUsed(runtime);
      const t0 = performance.now();
      evalOk(vm, wrapped, entry.file);
      samples.push(performance.now() - t0);
      memoryKB = (heapUsed(runtime) - baseline) / 1024;
    } finally {
      vm.dispose();
      runtime.dispose();
    }
  }
  const [coldMs, ...warm] = samples as [number, ...number[]];
  warm.sort((a, b) => a - b);
  const medianMs = warm[Math.floor(warm.length / 2)]!;
  timings.push({ name, bytes: entry.bytes, coldMs, medianMs, memoryKB });
}

beforeAll(async () => {
  ({ manifest } = (await buildStdlib({ quiet: true })) as { manifest: Manifest });
  QuickJS = await newQuickJSWASMModuleFromVariant(releaseSync);
});

afterAll(() => {
  const rows = timings.map(
    (t) =>
      `  ${t.name.padEnd(17)} ${(t.bytes / 1024).toFixed(1).padStart(7)} KB   eval cold ${t.coldMs.toFixed(1).padStart(6)} ms   ` +
      `median ${t.medianMs.toFixed(1).padStart(6)} ms   heap +${t.memoryKB.toFixed(0)} KB`,
  );
  // A yardstick for this machine's QuickJS speed, to compare numbers taken on different hosts.
  const runtime = QuickJS.newRuntime();
  const vm = runtime.newContext();
  let loopMs = 0;
  try {
    const t0 = performance.now();
    evalOk(vm, 'let s = 0; for (let i = 0; i < 1e6; i++) s += i; s');
    loopMs = performance.now() - t0;
  } finally {
    vm.dispose();
    runtime.dispose();
  }
  console.log(`stdlib bundles in QuickJS (reference: a 1e6-iteration loop takes ${loopMs.toFixed(0)} ms here):\n${rows.join('\n')}`);
});

describe('stdlib manifest', () => {
  it('lists every module with its file, size, version and named exports', () => {
    expect(Object.keys(manifest).sort()).toEqual(['dayjs', 'lodash', 'node-html-parser', 'uuid', 'zod']);
    for (const [name, entry] of Object.entries(manifest)) {
      expect(entry.file).toBe(`${name}.js`);
      expect(entry.bytes).toBe(readFileSync(join(stdlibDir, entry.file)).byteLength);
      const pkg = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
      expect(entry.version).toBe(pkg.version);
      expect(entry.exports).not.toContain('default');
      expect(entry.exports).not.toContain('__esModule');
      for (const key of entry.exports) expect(key).toMatch(/^[A-Za-z_$][\w$]*$/);
    }
    expect(manifest.lodash!.exports).toEqual(expect.arrayContaining(['chunk', 'debounce', 'groupBy']));
    expect(manifest.dayjs!.exports).toEqual(expect.arrayContaining(['extend', 'unix', 'isDayjs']));
    expect(manifest.uuid!.exports).toEqual(expect.arrayContaining(['v4', 'v7', 'validate', 'NIL']));
    expect(manifest.zod!.exports).toEqual(expect.arrayContaining(['z', 'object', 'string', 'ZodError']));
    expect(manifest['node-html-parser']!.exports).toEqual(expect.arrayContaining(['parse', 'HTMLElement']));
  });
});

describe('stdlib bundles in QuickJS', () => {
  it('lodash', () => {
    const out = withModule('lodash', (vm) =>
      evalOk(
        vm,
        `const _ = globalThis.lodash;
        JSON.stringify({
          chunk: _.chunk([1, 2, 3, 4, 5], 2),
          groupBy: _.groupBy(['one', 'two', 'three'], 'length'),
          debounce: typeof _.debounce,
          chain: _([3, 1, 2]).sortBy().map((n) => n * 10).value(),
          template: _.template('hi <%= name %>')({ name: 'fazt' }),
          version: _.VERSION,
        })`,
      ),
    );
    expect(JSON.parse(out as string)).toEqual({
      chunk: [[1, 2], [3, 4], [5]],
      groupBy: { 3: ['one', 'two'], 5: ['three'] },
      debounce: 'function',
      chain: [10, 20, 30],
      template: 'hi fazt',
      version: manifest.lodash!.version,
    });
    measure('lodash');
  });

  it('dayjs', () => {
    const out = withModule('dayjs', (vm) =>
      evalOk(
        vm,
        `const dayjs = globalThis.dayjs;
        const d = dayjs('2024-02-28T10:00:00');
        JSON.stringify({
          format: d.format('YYYY-MM-DD HH:mm'),
          add: d.add(2, 'day').format('YYYY-MM-DD'),
          diff: dayjs('2024-03-10').diff(dayjs('2024-03-01'), 'day'),
          valid: dayjs('nope').isValid(),
          isDayjs: dayjs.isDayjs(d),
        })`,
      ),
    );
    expect(JSON.parse(out as string)).toEqual({
      format: '2024-02-28 10:00',
      add: '2024-03-01',
      diff: 9,
      valid: false,
      isDayjs: true,
    });
    measure('dayjs');
  });

  it('uuid (v4 through crypto.getRandomValues, and through crypto.randomUUID when present)', () => {
    const out = withModule('uuid', (vm) =>
      evalOk(
        vm,
        `const uuid = globalThis.uuid;
        const a = uuid.v4(), b = uuid.v4();
        // The sandbox also defines crypto.randomUUID; uuid's browser build captures it when the bundle is
        // evaluated, so here (defined afterwards) v4() keeps using getRandomValues.
        JSON.stringify({
          a, distinct: a !== b, valid: uuid.validate(a), version: uuid.version(a),
          invalid: uuid.validate('not-a-uuid'), v7: uuid.version(uuid.v7()),
          v5: uuid.v5('hello', uuid.v5.DNS),
        })`,
      ),
    );
    const result = JSON.parse(out as string) as Record<string, unknown>;
    expect(result.a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(result).toMatchObject({ distinct: true, valid: true, version: 4, invalid: false, v7: 7 });
    expect(result.v5).toBe('9342d47a-1bab-5709-9869-c840b2eac501');

    // With crypto.randomUUID present before evaluation (as in the sandbox), v4() delegates to it.
    const entry = manifest.uuid!;
    const runtime = QuickJS.newRuntime();
    const vm = runtime.newContext();
    try {
      evalOk(vm, `${CRYPTO_SHIM}\nglobalThis.crypto.randomUUID = () => '00000000-0000-4000-8000-000000000000';`);
      evalOk(vm, wrap('uuid', readFileSync(join(stdlibDir, entry.file), 'utf8')), entry.file);
      expect(evalOk(vm, `globalThis.uuid.v4()`)).toBe('00000000-0000-4000-8000-000000000000');
      expect(evalOk(vm, `globalThis.uuid.v4({}) !== '00000000-0000-4000-8000-000000000000'`)).toBe(true);
    } finally {
      vm.dispose();
      runtime.dispose();
    }
    measure('uuid');
  });

  it('zod', () => {
    const out = withModule('zod', (vm) =>
      evalOk(
        vm,
        `const { z } = globalThis.zod;
        const User = z.object({ name: z.string().min(2), age: z.number().int().positive(), tags: z.array(z.string()).default([]) });
        const ok = User.parse({ name: 'Ada', age: 36 });
        const bad = User.safeParse({ name: 'A', age: -1 });
        let thrown = null;
        try { User.parse({ name: 5 }); } catch (e) { thrown = { isZodError: e instanceof z.ZodError, name: e.name }; }
        JSON.stringify({
          ok,
          success: bad.success,
          issues: bad.error.issues.map((i) => ({ path: i.path, code: i.code, message: i.message })),
          pretty: z.prettifyError(bad.error),
          thrown,
          url: z.string().url().safeParse('https://example.com/x').success,
          jwtLike: z.base64().safeParse('aGVsbG8=').success,
        })`,
      ),
    );
    const result = JSON.parse(out as string) as {
      ok: unknown;
      success: boolean;
      issues: { path: unknown[]; code: string; message: string }[];
      pretty: string;
      thrown: unknown;
      url: boolean;
      jwtLike: boolean;
    };
    expect(result.ok).toEqual({ name: 'Ada', age: 36, tags: [] });
    expect(result.success).toBe(false);
    expect(result.issues).toEqual([
      { path: ['name'], code: 'too_small', message: 'Too small: expected string to have >=2 characters' },
      { path: ['age'], code: 'too_small', message: 'Too small: expected number to be >0' },
    ]);
    expect(result.pretty).toContain('→ at name');
    expect(result.thrown).toEqual({ isZodError: true, name: 'ZodError' });
    // URL/atob come from the sandbox; plain QuickJS lacks them, so these formats fail closed here.
    expect(result.url).toBe(false);
    expect(result.jwtLike).toBe(false);
    measure('zod');
  });

  it('node-html-parser', () => {
    const out = withModule('node-html-parser', (vm) =>
      evalOk(
        vm,
        `const { parse } = globalThis['node-html-parser'];
        const root = parse('<ul id="list"><li>a</li><li class="x">b &amp; c</li></ul>');
        JSON.stringify({
          items: root.querySelectorAll('li').map((li) => li.text),
          cls: root.querySelector('li.x').textContent,
          id: root.querySelector('#list').getAttribute('id'),
          html: root.querySelector('ul').innerHTML,
        })`,
      ),
    );
    expect(JSON.parse(out as string)).toEqual({
      items: ['a', 'b & c'],
      cls: 'b & c',
      id: 'list',
      html: '<li>a</li><li class="x">b &amp; c</li>',
    });
    measure('node-html-parser');
  });
});
