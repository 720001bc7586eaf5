/**
 * `fazt disk` and `fazt app quota` as a user runs them (`node bin/fazt.js` in a child process,
 * throwaway HOME) against a real node (`--node URL --token T`) and on a cartridge file (`--db`).
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCartridgeFile } from './cartridge-file.js';
import { createToken, ensureBundle, removeTempDirs, request, startTestNode, tempDir, zip, type TestNode } from './test-helpers.js';

const BIN = resolve(import.meta.dirname, '..', 'bin', 'fazt.js');
let home: string;
let env: NodeJS.ProcessEnv;
let t: TestNode;
let admin: string;

function fazt(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: home, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  ensureBundle();
  home = tempDir('fazt-home-');
  env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data'), NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (k.startsWith('FAZT_')) delete env[k];
  t = await startTestNode();
  admin = createToken(t, 'admin', 'cli').token;
  const r = await request(`${t.url}/api/apps`, { method: 'POST', token: admin, headers: { 'content-type': 'application/zip' }, body: zip({ 'app.json': JSON.stringify({ name: 'web' }), 'index.html': 'hi' }) });
  expect(r.status, r.text()).toBe(201);
}, 120_000);

afterAll(async () => {
  await t?.stop();
  removeTempDirs();
});

describe('fazt app quota', () => {
  const node = () => ['--node', t.url, '--token', admin];

  it('sets, shows and removes an egress quota; sizes are parsed with 1024-based units', async () => {
    let r = await fazt(['app', 'quota', 'web', '--egress', '500MB', ...node(), '--json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ app: 'web', quotaBytes: 500 * 1024 * 1024, usedBytes: 0 });
    r = await fazt(['app', 'quota', 'web', ...node()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^web: egress quota 500 MiB per month\n {2}\d{4}-\d{2}: 0 bytes used in 0 requests; resets \d{4}-\d{2}-01 \(UTC\)\n$/);
    r = await fazt(['app', 'quota', 'web', '--egress', '1.5GB', ...node(), '--json']);
    expect(JSON.parse(r.stdout).quotaBytes).toBe(1.5 * 1024 ** 3);
    r = await fazt(['app', 'quota', 'web', '--egress', 'none', ...node()]);
    expect(r.stdout).toMatch(/^web: no egress quota\n/);
    r = await fazt(['app', 'quota', 'web', '--egress', 'lots', ...node()]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^fazt: --egress takes a size like 500MB, 2GB or 1048576 \(bytes\), or "none"; not "lots"\.\n$/);
    r = await fazt(['app', 'quota', 'nope', ...node()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^fazt: .*nope/);
  });
});

describe('fazt disk', () => {
  const node = () => ['--node', t.url, '--token', admin];

  it('shows the disk use and sets the limit', async () => {
    let r = await fazt(['disk', ...node(), '--json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout).disk).toMatchObject({ known: true, limitFraction: 0.8 });
    r = await fazt(['disk', 'limit', '90%', ...node()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^disk \d+(\.\d)?% used \(.* free of .*\); limit 90%\n$/);
    r = await fazt(['disk', 'limit', '300%', ...node()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^fazt: The disk limit must be between 5% and 100%/);
  });

  it('works on a cartridge file (--db) and shows a trip under a small fake disk', async () => {
    const db = join(tempDir(), 'offline.db');
    openCartridgeFile(db).db.close(); // a new cartridge, as `fazt start` makes it
    let r = await fazt(['disk', 'limit', '85%', '--db', db]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/limit 85%/);
    r = await fazt(['disk', '--db', db], { FAZT_DISK_QUOTA_BYTES: '100000' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^disk 100% used \(0 bytes free of 98 KiB\); limit 85% — TRIPPED: writes that grow the cartridge are refused \(DISK_FULL\)/);
  });
});
