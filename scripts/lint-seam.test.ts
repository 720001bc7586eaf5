import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The seam rules of eslint.config.js really fire (so a weakened config fails here, not silently):
 * shared/ imports no Node built-in, host package, DOM code or host folder; hosts import kernel faces.
 */

const eslint = new ESLint({ cwd: new URL('..', import.meta.url).pathname });

/** The rule ids ESLint reports for `code` as if it were the file `filePath`. */
async function violations(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => m.ruleId ?? m.message);
}

describe('the seam between the kernel and its hosts (eslint.config.js)', () => {
  it.each([
    ["import { readFileSync } from 'node:fs';", 'no-restricted-imports'],
    ["import path from 'path';", 'no-restricted-imports'],
    ["import { pipeline } from 'stream/promises';", 'no-restricted-imports'],
    ["import express from 'express';", 'no-restricted-imports'],
    ["import Database from 'better-sqlite3';", 'no-restricted-imports'],
    ["import { LitElement } from 'lit';", 'no-restricted-imports'],
    ["import { BetterSqliteDatabase } from '../../node/sqlite.js';", 'no-restricted-imports'],
    ["export { DeviceNode } from '../sw/device-node.js';", 'no-restricted-imports'],
    ["import type { AppFrame } from '../../web/frame/index.js';", 'no-restricted-imports'],
    ["export const load = () => import('../../node/sqlite.js');", 'no-restricted-syntax'],
    ['export const title = document.title;', 'no-restricted-globals'],
    ['export const env = process.env.X;', 'no-restricted-globals'],
    ["export const b = Buffer.from('x');", 'no-restricted-globals'],
  ])('shared/ refuses %s', async (code, rule) => {
    expect(await violations('shared/http/probe.ts', code)).toEqual([rule]);
  });

  it('shared/ may import its own folders, lib/ and npm packages both hosts run', async () => {
    expect(await violations('shared/http/probe.ts', "import { LruCache } from '../lib/index.js';\nimport { FaztError } from '../errors.js';\nimport mime from 'mime/lite';\nexport const x = [LruCache, FaztError, mime];")).toEqual([]);
  });

  it.each(['node/probe.ts', 'sw/probe.ts', 'web/lib/probe.ts'])('%s imports kernel folders through their faces only', async (file) => {
    const up = file.startsWith('web/') ? '../../' : '../';
    expect(await violations(file, `import { EnginePool } from '${up}shared/runtime/engine.js';`)).toEqual(['no-restricted-imports']);
    expect(await violations(file, `import { appRoutes } from '${up}shared/http/routes/apps.js';`)).toEqual(['no-restricted-imports']);
    expect(
      await violations(file, `import { createFetch } from '${up}shared/index.js';\nimport { AppRuntime } from '${up}shared/runtime/index.js';\nimport { FaztError } from '${up}shared/errors.js';\nexport const x = [createFetch, AppRuntime, FaztError];`),
    ).toEqual([]);
  });
});
