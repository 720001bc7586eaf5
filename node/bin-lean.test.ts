/**
 * `node bin/fazt.js start` without the lean V8 flags (a systemd unit, a script) runs the node in a
 * child process that has them (bin/fazt.js): the node process really has `--max-semi-space-size=1`,
 * signals reach it once, a parent killed outright still stops it cleanly, exit statuses pass through.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from './test-helpers.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'fazt.js');

interface Started {
  parent: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  url: string;
}

async function start(env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const db = join(tempDir('fazt-lean-'), 'data.db');
  const parent = spawn(process.execPath, [BIN, 'start', '--port', '0', '--host', '127.0.0.1', '--db', db, '--no-example'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FAZT_LEAN_FLAGS: '', ...env },
  });
  let out = '';
  parent.stdout!.on('data', (d: Buffer) => (out += d));
  parent.stderr!.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => parent.on('exit', (code, signal) => r({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('node did not start: ' + out)), 20_000);
    const check = () => {
      const m = /dashboard\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    };
    parent.stdout!.on('data', check);
  });
  return { parent, output: () => out, exited, url };
}

/** The pids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

afterAll(() => removeTempDirs());

describe('bin/fazt.js start without the lean flags', () => {
  it('runs the node with --max-semi-space-size=1; SIGTERM to the parent stops both, status 0', async () => {
    const s = await start();
    const [child] = childrenOf(s.parent.pid!);
    expect(child).toBeDefined();
    expect(cmdline(child!)).toContain('--max-semi-space-size=1');
    expect((await fetch(`${s.url}/api/health`)).status).toBe(200);
    s.parent.kill('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
    await expect.poll(() => alive(child!)).toBe(false);
    // the node stopped once, gracefully
    expect(s.output().match(/"msg":"stopping"/g)?.length).toBe(1);
  }, 30_000);

  it('a parent killed outright (SIGKILL) still stops the node cleanly', async () => {
    const s = await start();
    const [child] = childrenOf(s.parent.pid!);
    s.parent.kill('SIGKILL');
    await s.exited;
    await expect.poll(() => alive(child!), { timeout: 10_000 }).toBe(false);
    expect(s.output()).toMatch(/"msg":"stopping","signal":"SIGTERM"/);
  }, 30_000);

  it('FAZT_LEAN_FLAGS=0 runs the node in the process itself', async () => {
    const s = await start({ FAZT_LEAN_FLAGS: '0' });
    expect(childrenOf(s.parent.pid!)).toEqual([]);
    s.parent.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
  }, 30_000);

  it("passes the node's exit status through", async () => {
    const r = spawn(process.execPath, [BIN, 'start', '--port', 'abc'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FAZT_LEAN_FLAGS: '' } });
    let err = '';
    r.stderr!.on('data', (d: Buffer) => (err += d));
    const code = await new Promise<number | null>((res) => r.on('exit', (c) => res(c)));
    expect(code).toBe(1);
    expect(err).toMatch(/--port must be/);
  }, 30_000);
});
