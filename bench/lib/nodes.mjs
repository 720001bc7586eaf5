/**
 * Real headless nodes for the benches: each is `bin/fazt.js start` in its own process, on a free port
 * of 127.0.0.1, with its own cartridge. Every process started here is killed, and the temporary
 * folder removed, when the bench exits (normally, by an error, or by Ctrl-C).
 *
 *   const nodes = nodeProcesses('fazt-bench-mesh-');
 *   const a = await nodes.start(join(nodes.tmp, 'a.db'), { token: true });   // { proc, url, db, token }
 *   await nodes.stop(a);
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root folder. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The CLI the nodes run. */
export const BIN = join(ROOT, 'bin', 'fazt.js');

/** Builds `dist/` (the node's bundle) when it is missing. */
export function ensureBuilt() {
  if (!existsSync(join(ROOT, 'dist', 'fazt.mjs'))) execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--quiet'], { stdio: 'inherit' });
}

/**
 * An admin token for the cartridge at `db` (made with the CLI; works while a node runs on the file).
 * @returns the bearer token.
 */
export function adminToken(db) {
  return JSON.parse(execFileSync(process.execPath, [BIN, 'token', 'create', '--db', db, '--scope', 'admin', '--json'], { encoding: 'utf8' })).token;
}

/**
 * A set of node processes sharing one temporary folder.
 * @param {string} prefix the temporary folder's name prefix (under the OS temp dir).
 * @returns `{ tmp, procs, start, stop, cleanup }`:
 *   - `start(db, { token?, env? })` spawns a node on `db` and resolves `{ proc, url, db, token? }` once it
 *     prints its dashboard URL (rejects with its output when it exits first);
 *   - `stop(n)` ends it with SIGTERM and waits for the exit;
 *   - `cleanup()` kills what is left and removes `tmp` (also run at exit).
 */
export function nodeProcesses(prefix) {
  ensureBuilt();
  const tmp = mkdtempSync(join(os.tmpdir(), prefix));
  const procs = new Set();
  const cleanup = () => {
    for (const p of procs) p.kill('SIGKILL');
    procs.clear();
    rmSync(tmp, { recursive: true, force: true });
  };
  process.on('exit', cleanup);

  async function start(db, options = {}) {
    const proc = spawn(process.execPath, ['--max-semi-space-size=1', BIN, 'start', '--port', '0', '--host', '127.0.0.1', '--db', db, '--no-example'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FAZT_NODE: '', FAZT_TOKEN: '', FAZT_DB: '', ...options.env },
    });
    procs.add(proc);
    let out = '';
    const url = await new Promise((resolve, reject) => {
      proc.stdout.on('data', (d) => {
        out += d;
        const m = /dashboard\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
        if (m) resolve(m[1]);
      });
      proc.stderr.on('data', (d) => (out += d));
      proc.on('exit', (c) => reject(new Error(`node exited ${c}: ${out}`)));
    });
    const n = { proc, url, db };
    if (options.token) n.token = adminToken(db);
    return n;
  }

  async function stop(n) {
    if (n.proc.exitCode === null && n.proc.signalCode === null) {
      const done = new Promise((r) => n.proc.once('exit', r));
      n.proc.kill('SIGTERM');
      await done;
    }
    procs.delete(n.proc);
  }

  return { tmp, procs, start, stop, cleanup };
}
