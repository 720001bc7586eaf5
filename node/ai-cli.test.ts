/**
 * `fazt ai …` as a user runs it (`node bin/fazt.js` in a child process, throwaway HOME) against a
 * real node (`--node URL --token T`) and directly on a cartridge file (`--db`), with a fake
 * OpenAI-compatible provider speaking the real chat-completions protocol (node/testing/fake-llm.ts).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from './testing/fake-llm.js';
import { createToken, ensureBundle, removeTempDirs, startTestNode, tempDir, type TestNode } from './test-helpers.js';


const BIN = resolve(import.meta.dirname, '..', 'bin', 'fazt.js');
let home: string;
let env: NodeJS.ProcessEnv;
let t: TestNode;
let fake: FakeLlm;
let admin: string;

function fazt(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string; chunks: number }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: home, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let chunks = 0;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      chunks++;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr, chunks }));
    child.stdin.end(input);
  });
}

beforeAll(async () => {
  ensureBundle();
  home = tempDir('fazt-home-');
  env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data'), NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (k.startsWith('FAZT_')) delete env[k];
  fake = await startFakeLlm({ key: 'sk-cli-secret' });
  t = await startTestNode();
  admin = createToken(t, 'admin', 'cli').token;
}, 60_000);

afterAll(async () => {
  await t?.stop();
  await fake?.close();
  removeTempDirs();
});

describe('fazt ai against a running node', () => {
  const node = () => ['--node', t.url, '--token', admin];

  it('ask without a provider says how to add one', async () => {
    const r = await fazt(['ai', 'ask', 'hi', ...node()]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^fazt: No AI provider is configured on this node\. .*fazt ai provider set/);
  });

  it('provider set takes the key from stdin and never prints it', async () => {
    const r = await fazt(['ai', 'provider', 'set', 'local', '--kind', 'openai-compatible', '--base-url', fake.baseUrl('openai-compatible'), '--key-stdin', '--default-model', 'fake-gpt', '--default', ...node(), '--json'], 'sk-cli-secret\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).provider).toMatchObject({ name: 'local', kind: 'openai-compatible', hasKey: true, defaultModel: 'fake-gpt', isDefault: true });
    expect(r.stdout).not.toContain('sk-cli-secret');
    const list = await fazt(['ai', 'provider', 'list', ...node()]);
    expect(list.stdout).toMatch(/^\* local\s+openai-compatible\s+key set\s+fake-gpt/);
    expect(list.stdout).not.toContain('sk-cli-secret');
    const json = await fazt(['ai', 'provider', 'list', ...node(), '--json']);
    expect(JSON.parse(json.stdout).providers).toHaveLength(1);
    expect(json.stdout).not.toContain('sk-cli-secret');
  });

  it('ask streams the answer to stdout', async () => {
    fake.script({ text: 'The answer comes in pieces.', delayMs: 40 });
    const n = fake.requests.length;
    const r = await fazt(['ai', 'ask', 'What is up?', ...node()]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('The answer comes in pieces.\n');
    expect(r.chunks).toBeGreaterThan(1);
    expect(fake.requests[n]!.body).toMatchObject({ model: 'fake-gpt', stream: true, messages: [{ role: 'user', content: 'What is up?' }] });
  });

  it('ask --json gives { text, usage }; --model names provider/model', async () => {
    fake.script({ text: 'json answer', usage: { input: 5, output: 2 } });
    const n = fake.requests.length;
    const r = await fazt(['ai', 'ask', 'hi', '--model', 'local/other-model', ...node(), '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ text: 'json answer', usage: { inputTokens: 5, outputTokens: 2, totalTokens: 7 } });
    expect(fake.requests[n]!.body.model).toBe('other-model');
  });

  it('ask: a stream cut mid-way leaves the text so far and fails with a clear line', async () => {
    fake.script({ cut: true, text: 'one two three four five six seven eight' });
    const r = await fazt(['ai', 'ask', 'count', ...node()]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/^one two /);
    expect(r.stdout).not.toContain('eight');
    expect(r.stderr).toMatch(/^fazt: The answer stopped before it was complete/);
  });

  it('bad input: both key options, a wrong key, an unknown provider, rm twice', async () => {
    let r = await fazt(['ai', 'provider', 'set', 'x', '--kind', 'openai', '--key', 'a', '--key-stdin', ...node()], 'b\n');
    expect(r.stderr).toMatch(/^fazt: Give the key with --key or --key-stdin, not both/);
    r = await fazt(['ai', 'provider', 'set', 'local', '--key', 'wrong', ...node()]);
    expect(r.code).toBe(0);
    r = await fazt(['ai', 'ask', 'hi', ...node()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^fazt: local\/fake-gpt: the provider refused the key \(HTTP 401/);
    r = await fazt(['ai', 'ask', 'hi', '--model', 'nobody/m', ...node()]);
    expect(r.stderr).toMatch(/no AI provider is named "nobody"/);
    r = await fazt(['ai', 'provider', 'rm', 'local', ...node()]);
    expect(r.stdout).toBe('Removed local\n');
    r = await fazt(['ai', 'provider', 'rm', 'local', ...node()]);
    expect(r.stderr).toMatch(/^fazt: No AI provider named "local"/);
  });
});

describe('fazt ai on a cartridge file (--db)', () => {
  it('set, list, ask and rm work on the file (shared with the running node)', async () => {
    const db = t.db;
    let r = await fazt(['ai', 'provider', 'set', 'local', '--kind', 'openai-compatible', '--base-url', fake.baseUrl('openai-compatible'), '--key', 'sk-cli-secret', '--default-model', 'm1', '--db', db]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Set local \(openai-compatible, key stored, default model m1\) — the default provider/);
    fake.script({ text: 'from the file node' });
    r = await fazt(['ai', 'ask', 'hello', '--db', db]);
    expect(r.stdout).toBe('from the file node\n');
    r = await fazt(['ai', 'usage', '--db', db, '--json']);
    expect(JSON.parse(r.stdout).usage[0]).toMatchObject({ app: null });
    r = await fazt(['ai', 'provider', 'rm', 'local', '--db', db]);
    expect(r.code).toBe(0);
  });

  it('budget caps an app; bad numbers are refused', async () => {
    const dir = tempDir('fazt-app-');
    writeFileSync(join(dir, 'app.json'), JSON.stringify({ name: 'capped', permissions: ['ai'] }));
    writeFileSync(join(dir, 'index.html'), '<p>hi</p>');
    expect((await fazt(['app', 'deploy', dir, '--db', t.db])).code).toBe(0);
    let r = await fazt(['ai', 'budget', 'capped', '--tokens', '1000', '--db', t.db]);
    expect(r.stdout).toBe('capped: 1000 tokens, no cap on calls per month\n');
    r = await fazt(['ai', 'usage', '--db', t.db, '--json']);
    expect(JSON.parse(r.stdout).budgets).toEqual([expect.objectContaining({ app: 'capped', tokensPerMonth: 1000, callsPerMonth: null })]);
    r = await fazt(['ai', 'budget', 'capped', '--tokens', 'lots', '--db', t.db]);
    expect(r.stderr).toMatch(/^fazt: --tokens takes a whole number or "none", not "lots"/);
    r = await fazt(['ai', 'budget', 'nope', '--tokens', '5', '--db', t.db]);
    expect(r.stderr).toMatch(/^fazt: .*nope/);
  });
});
