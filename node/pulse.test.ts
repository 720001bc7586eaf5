/**
 * Pulse on a real node: a real HTTP server on 127.0.0.1, a real cartridge file, snapshots on a real
 * short interval (250 ms), requests to a real app counted per app, `/api/pulse` and its refusals,
 * `pulse ask` answered by the rules and by a model (node/testing/fake-llm.ts speaks the real
 * chat-completions protocol), and `fazt pulse` as a user runs it (child process) against the node
 * and on the cartridge file.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from './testing/fake-llm.js';
import { createToken, deployZip, ensureBundle, expectError, removeTempDirs, request, startTestNode, tempDir, zip, type TestNode } from './test-helpers.js';
import type { PulseSnapshot } from '../shared/pulse/index.js';

const BIN = resolve(import.meta.dirname, '..', 'bin', 'fazt.js');
const INTERVAL = 250;
let t: TestNode;
let admin: string;
let fake: FakeLlm;
let home: string;
let env: NodeJS.ProcessEnv;

function fazt(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

const api = (method: string, path: string, json?: unknown, token: string | undefined = admin) => request(`${t.url}${path}`, { method, token, json });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const APP = {
  'app.json': JSON.stringify({ name: 'probe' }),
  'index.html': '<h1>probe</h1>',
  'api/main.js': `export default { async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/api/fail') return new Response('broken', { status: 503 });
    return { ok: true };
  } };`,
};

beforeAll(async () => {
  ensureBundle();
  home = tempDir('fazt-home-');
  env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data'), NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (k.startsWith('FAZT_')) delete env[k];
  fake = await startFakeLlm();
  t = await startTestNode({ pulse: { intervalMs: INTERVAL } });
  admin = createToken(t, 'admin', 'pulse').token;
  const r = await deployZip(t, admin, zip(APP));
  expect(r.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await t?.stop();
  await fake?.close();
  removeTempDirs();
});

describe('pulse on a running node', () => {
  it('records snapshots on the interval with requests, errors and p99 per app, process and disk figures', async () => {
    for (let i = 0; i < 30; i++) expect((await request(`${t.url}/a/probe/api/ok`)).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await request(`${t.url}/a/probe/api/fail`)).status).toBe(503);
    expect((await request(`${t.url}/a/probe/`)).status).toBe(200);
    await sleep(INTERVAL * 5);
    const r = await api('GET', '/api/pulse?history=1h');
    expect(r.status).toBe(200);
    const body = r.json() as { latest: PulseSnapshot; history: PulseSnapshot[]; settings: { intervalMs: number; intervalSource: string }; running: boolean; nextAt: number };
    expect(body.running).toBe(true);
    expect(body.settings).toEqual({ intervalMs: INTERVAL, intervalSource: 'host' });
    const h = body.history;
    expect(h.length).toBeGreaterThanOrEqual(3);
    // one per interval: consecutive snapshots are about an interval apart (never closer than the interval)
    for (let i = 1; i < h.length; i++) expect(h[i]!.at - h[i - 1]!.at).toBeGreaterThanOrEqual(INTERVAL - 5);
    const probe = h.flatMap((s) => s.apps).filter((a) => a.app === 'probe');
    expect(probe.reduce((n, a) => n + a.requests, 0)).toBe(41);
    expect(probe.reduce((n, a) => n + a.errors, 0)).toBe(10);
    expect(probe.every((a) => a.p99Ms !== null && a.p99Ms > 0)).toBe(true);
    const s = body.latest;
    expect(s.process.rssBytes).toBeGreaterThan(10_000_000);
    expect(s.process.heapUsedBytes).toBeGreaterThan(1_000_000);
    expect(s.process.cpuPercent).not.toBeNull();
    expect(s.disk.totalBytes).toBeGreaterThan(0);
    expect(s.disk.usedFraction).toBeGreaterThan(0);
    expect(s.disk.cartridgeBytes).toBeGreaterThan(10_000);
    expect(s.snapshotMs).toBeGreaterThan(0);
    expect(t.logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('refuses bad input with clear errors', async () => {
    expectError(await api('GET', '/api/pulse?history=2x'), 400, 'BAD_REQUEST', /history must be a duration like 30m/);
    expectError(await api('GET', '/api/pulse?history=900d'), 400, 'BAD_REQUEST', /at most 400d/);
    expectError(await api('GET', '/api/pulse', undefined, ''), 401, 'UNAUTHORIZED');
    const deploy = createToken(t, 'deploy', 'd').token;
    expectError(await api('GET', '/api/pulse', undefined, deploy), 403, 'FORBIDDEN');
    expectError(await api('PUT', '/api/pulse/settings', { intervalMs: 5 }), 400, 'INVALID_ARGUMENT', /from 60000 \(1 minute\)/);
    expectError(await api('PUT', '/api/pulse/settings', { nope: 1 }), 400, 'BAD_REQUEST', /intervalMs/);
    expectError(await api('POST', '/api/pulse/ask', { question: 7 }), 400, 'INVALID_ARGUMENT', /must be a string/);
    // the owner's setting is stored even while the host overrides it
    const r = await api('PUT', '/api/pulse/settings', { interval: '5m' });
    expect(r.json()).toEqual({ settings: { intervalMs: INTERVAL, intervalSource: 'host' } });
  });

  it('ask: rule-based without a model, the model with one, the rules again when the model fails', async () => {
    let r = await api('POST', '/api/pulse/ask', { question: 'how am I doing?' });
    expect(r.status).toBe(200);
    let a = r.json() as { answer: string; source: string; model?: string; note?: string };
    expect(a.source).toBe('rules');
    expect(a.answer).toMatch(/^(All is well|\d+ things? needs? attention)/);
    expect(a.answer).toMatch(/Over the past day apps answered \d+ requests; 10 failed/);

    expect((await api('PUT', '/api/ai/providers/local', { kind: 'openai-compatible', baseUrl: fake.baseUrl('openai-compatible'), defaultModel: 'fake-gpt', key: 'k', default: true })).status).toBe(201);
    fake.script({ text: 'You are fine: 10 of 41 probe requests failed, so look at probe.' });
    const n = fake.requests.length;
    r = await api('POST', '/api/pulse/ask', { question: 'how am I doing?' });
    a = r.json() as typeof a;
    expect(a).toEqual({ answer: 'You are fine: 10 of 41 probe requests failed, so look at probe.', source: 'model', model: 'local/fake-gpt' });
    const sent = fake.requests[n]!.body as { model: string; messages: { role: string; content: string }[] };
    expect(sent.model).toBe('fake-gpt');
    expect(sent.messages[0]!.role).toBe('system');
    const user = sent.messages.find((m) => m.role === 'user')!.content;
    expect(user).toContain('Question: how am I doing?');
    expect(user).toContain('"app":"probe"');

    fake.script({ status: 500, message: 'provider down' });
    r = await api('POST', '/api/pulse/ask', {});
    a = r.json() as typeof a;
    expect(a.source).toBe('rules');
    expect(a.note).toMatch(/^The model could not answer \(AI_/);
    expect(a.answer).toMatch(/Over the past day apps answered/);
    expect((await api('DELETE', '/api/ai/providers/local')).status).toBe(200);
  });
});

describe('fazt pulse (CLI)', () => {
  const node = () => ['--node', t.url, '--token', admin];

  it('--json against the running node gives the latest snapshot and history', async () => {
    const r = await fazt(['pulse', '--json', '--history', '1h', ...node()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { latest: PulseSnapshot; history: PulseSnapshot[]; historySpan: string };
    expect(j.latest.resolution).toBe('raw');
    expect(j.history.length).toBeGreaterThanOrEqual(3);
    expect(j.historySpan).toBe('1h');
  });

  it('prints a readable table with history, and works on the cartridge file (--db) too', async () => {
    let r = await fazt(['pulse', '--history', '1h', ...node()]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Pulse at \d{4}-\d\d-\d\d \d\d:\d\d UTC \(just now\), every 250ms \(host\)\n/);
    expect(r.stdout).toMatch(/\nmemory +\d+(\.\d+)? MiB RSS, heap /);
    expect(r.stdout).toMatch(/\nApps, past 1h:\nAPP +REQUESTS +ERRORS +P99\nprobe +41 +10 +\d/);
    expect(r.stdout).toMatch(/\nHistory, past 1h \(\d+ rows\):\nTIME \(UTC\) +RES +RSS/);
    r = await fazt(['pulse', '--db', t.db, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).latest.resolution).toBe('raw');
    r = await fazt(['pulse', 'ask', 'how am I doing?', '--db', t.db]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\(rule-based summary\)\n$/);
    expect(r.stdout).toMatch(/Disk \d+(\.\d+)?% used/);
  });

  it('bad input fails with one clear line', async () => {
    let r = await fazt(['pulse', '--history', '2x', ...node()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('fazt: --history must be a duration like 30m, 24h or 7d (got "2x").\n');
    r = await fazt(['pulse', '--interval', '1s', ...node()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^fazt: The Pulse interval must be a whole number of ms from 60000/);
  });
});
