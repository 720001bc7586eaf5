#!/usr/bin/env -S node --max-semi-space-size=1
// --max-semi-space-size=1 (a 1 MiB young generation): same throughput measured, ~30 MB less
// resident memory under load (bench/README.md). `npm start` passes the same flag.
// The `fazt` command. Runs the bundle built by `npm install` (scripts/build.mjs); builds it first
// when missing (e.g. after a fresh clone with --ignore-scripts).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'fazt.mjs');
if (!existsSync(bundle)) {
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--quiet'], { stdio: 'inherit' });
}
await import(pathToFileURL(bundle).href);
