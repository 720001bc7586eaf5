/**
 * "Ask" (`POST /api/ai/ask`, docs/ai.md "Ask"): the real node on 127.0.0.1 answers the owner with the
 * real AI SDK's OpenAI chat-completions provider against the fake provider (node/testing/fake-llm.ts),
 * calling the kernel's tool catalogue. Asserts on what the fake received (tools offered, tool results
 * sent back), the SSE events, and the confirmation of destructive tools (refused, approved, timed out).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from './testing/fake-llm.js';
import { createToken, deployZip, expectError, manifest, removeTempDirs, request, startTestNode, zip, type TestNode } from './test-helpers.js';

let t: TestNode;
let fake: FakeLlm;
let admin: string;

const api = (method: string, path: string, body?: unknown) =>
  request(`${t.url}${path}`, { method, token: admin, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

/** Reads an ask's SSE stream event by event. */
async function ask(body: unknown) {
  const res = await fetch(`${t.url}/api/ai/ask`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status, res.status === 200 ? '' : await res.clone().text()).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: any[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  let buf = '';
  let done = false;
  /** Reads until an event matches `pred` (or the stream ends: then throws). */
  const until = async (pred: (e: any) => boolean) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    for (;;) {
      const hit = events.find(pred);
      if (hit) return hit;
      if (done) throw new Error(`stream ended without the event; got ${JSON.stringify(events)}`);
      const r = await reader.read();
      if (r.done) {
        done = true;
        continue;
      }
      buf += r.value;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = line.replace(/^data: /, '');
        events.push(data === '[DONE]' ? { type: '[DONE]' } : JSON.parse(data));
      }
    }
  };
  return { events, until, end: () => until((e) => e.type === '[DONE]') };
}

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await startTestNode();
  admin = createToken(t, 'admin', 'ask').token;
  const r = await deployZip(t, admin, zip({ 'app.json': manifest({ name: 'notes' }), 'index.html': '<h1>notes</h1>' }), undefined);
  expect(r.status, r.text()).toBeLessThan(300);
});

afterAll(async () => {
  await t?.stop();
  await fake?.close();
  removeTempDirs();
});

describe('POST /api/ai/ask', () => {
  it('without a provider: AI_UNAVAILABLE saying how to add one', async () => {
    const e = expectError(await api('POST', '/api/ai/ask', { question: 'which apps do I have?' }), 503, 'AI_UNAVAILABLE', /Settings → AI/);
    expect(e.message).toMatch(/fazt ai provider set/);
    expect(fake.requests).toEqual([]);
  });

  it('bad input: an empty question, a bad confirmation answer, an unknown confirmation id', async () => {
    expectError(await api('POST', '/api/ai/ask', { question: '  ' }), 400, 'INVALID_ARGUMENT', /empty/);
    expectError(await api('POST', '/api/ai/ask', { question: 'x', confirmTimeoutMs: 5 }), 400, 'INVALID_ARGUMENT', /confirmTimeoutMs/);
    expectError(await api('POST', '/api/ai/ask/nope/confirm', { approve: 'yes' }), 400, 'BAD_REQUEST', /approve/);
    expectError(await api('POST', '/api/ai/ask/nope/confirm', { approve: true }), 404, 'NOT_FOUND', /No tool call waits/);
  });

  it('a read-only tool runs at once and its result reaches the model', async () => {
    const r = await api('PUT', '/api/ai/providers/local', { kind: 'openai-compatible', baseUrl: fake.baseUrl('openai-compatible'), defaultModel: 'fake-gpt', key: 'sk-ask', default: true });
    expect(r.status, r.text()).toBe(201);
    fake.script({ toolCalls: [{ id: 'call_1', name: 'list_apps', input: {} }] }, { text: 'You have one app: notes.' });
    const s = await ask({ question: 'Which apps do I have?' });
    await s.end();
    const types = s.events.map((e) => e.type);
    expect(types[0]).toBe('start');
    const call = s.events.find((e) => e.type === 'tool-input-available');
    expect(call).toMatchObject({ toolCallId: 'call_1', toolName: 'list_apps' });
    const out = s.events.find((e) => e.type === 'tool-output-available');
    expect(JSON.stringify(out.output)).toContain('notes');
    expect(types).not.toContain('data-confirm');
    expect(s.events.filter((e) => e.type === 'text-delta').map((e) => e.delta).join('')).toBe('You have one app: notes.');
    expect(types.at(-2)).toBe('finish');
    // what the model got: the catalogue as tools, then the tool's result
    const [first, second] = fake.requests.slice(-2);
    const offered = first!.body.tools.map((x: { function: { name: string } }) => x.function.name);
    expect(offered).toEqual(expect.arrayContaining(['list_apps', 'kv_set', 'read_logs', 'write_files']));
    expect(first!.body.messages.find((m: { role: string }) => m.role === 'user').content).toContain('Which apps do I have?');
    const toolMsg = second!.body.messages.find((m: { role: string }) => m.role === 'tool');
    expect(toolMsg.tool_call_id).toBe('call_1');
    expect(String(toolMsg.content)).toContain('"name":"notes"');
  });

  it('a destructive tool waits for the owner: refused, it is not run and the model is told', async () => {
    fake.script({ toolCalls: [{ id: 'call_2', name: 'kv_set', input: { app: 'notes', key: 'title', value: 'Big' } }] }, { text: 'The owner refused.' });
    const s = await ask({ question: 'Set the notes title to Big' });
    const confirm = await s.until((e) => e.type === 'data-confirm');
    expect(confirm.data).toMatchObject({ toolCallId: 'call_2', toolName: 'kv_set', input: { app: 'notes', key: 'title', value: 'Big' } });
    const before = fake.requests.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.requests.length).toBe(before); // nothing goes on while it waits
    expect(t.node.kernel.kv.get(t.node.kernel.apps.require('notes').id, 'title')).toBeUndefined();
    const r = await api('POST', `/api/ai/ask/${confirm.data.id}/confirm`, { approve: false });
    expect(r.status, r.text()).toBe(200);
    await s.end();
    expect(s.events.find((e) => e.type === 'data-confirmed')?.data).toMatchObject({ id: confirm.data.id, approved: false });
    expect(s.events.find((e) => e.type === 'tool-output-error')?.errorText).toMatch(/Not confirmed/);
    expect(t.node.kernel.kv.get(t.node.kernel.apps.require('notes').id, 'title')).toBeUndefined();
    const toolMsg = fake.requests.at(-1)!.body.messages.find((m: { role: string }) => m.role === 'tool');
    expect(String(toolMsg.content)).toMatch(/Not confirmed/);
    // answered once: a second answer finds nothing
    expectError(await api('POST', `/api/ai/ask/${confirm.data.id}/confirm`, { approve: true }), 404, 'NOT_FOUND');
  });

  it('a destructive tool, approved, runs and its result reaches the model', async () => {
    fake.script({ toolCalls: [{ id: 'call_3', name: 'kv_set', input: { app: 'notes', key: 'title', value: 'Big' } }] }, { text: 'Done.' });
    const s = await ask({ question: 'Set the notes title to Big' });
    const confirm = await s.until((e) => e.type === 'data-confirm');
    expect((await api('POST', `/api/ai/ask/${confirm.data.id}/confirm`, { approve: true })).status).toBe(200);
    await s.end();
    expect(s.events.find((e) => e.type === 'tool-output-available')?.output).toEqual({ app: 'notes', key: 'title', set: true });
    expect(t.node.kernel.kv.get(t.node.kernel.apps.require('notes').id, 'title')).toBe('"Big"');
    const toolMsg = fake.requests.at(-1)!.body.messages.find((m: { role: string }) => m.role === 'tool');
    expect(String(toolMsg.content)).toContain('"set":true');
  });

  it('an unanswered confirmation times out as "not confirmed"', async () => {
    fake.script({ toolCalls: [{ id: 'call_4', name: 'kv_delete', input: { app: 'notes', key: 'title' } }] }, { text: 'Not confirmed in time.' });
    const s = await ask({ question: 'Delete the title', confirmTimeoutMs: 1000 });
    await s.until((e) => e.type === 'data-confirm');
    await s.end();
    expect(s.events.find((e) => e.type === 'data-confirmed')?.data.approved).toBe(false);
    expect(s.events.find((e) => e.type === 'tool-output-error')?.errorText).toMatch(/Not confirmed/);
    expect(t.node.kernel.kv.get(t.node.kernel.apps.require('notes').id, 'title')).toBe('"Big"');
  });

  it('a confirmation longer than the stream\'s idle limit does not stop the call', async () => {
    const ai = t.node.kernel.ai as { idleMs: number };
    const idle = ai.idleMs;
    ai.idleMs = 400; // the provider must send something every 400 ms; the owner takes 1.2 s
    try {
      fake.script({ toolCalls: [{ id: 'call_6', name: 'kv_set', input: { app: 'notes', key: 'slow', value: 1 } }] }, { text: 'Set after a while.' });
      const s = await ask({ question: 'Set slow', confirmTimeoutMs: 5000 });
      const confirm = await s.until((e) => e.type === 'data-confirm');
      await new Promise((r) => setTimeout(r, 1200));
      expect((await api('POST', `/api/ai/ask/${confirm.data.id}/confirm`, { approve: true })).status).toBe(200);
      await s.end();
      expect(s.events.filter((e) => e.type === 'error')).toEqual([]);
      expect(s.events.find((e) => e.type === 'tool-output-available')?.output).toEqual({ app: 'notes', key: 'slow', set: true });
      expect(s.events.filter((e) => e.type === 'text-delta').map((e) => e.delta).join('')).toBe('Set after a while.');
    } finally {
      ai.idleMs = idle;
    }
  });

  it('a big tool result is trimmed before it goes to the model', async () => {
    const id = t.node.kernel.apps.require('notes').id;
    t.node.kernel.kv.set(id, 'big', JSON.stringify('x'.repeat(50_000)));
    fake.script({ toolCalls: [{ id: 'call_5', name: 'kv_get', input: { app: 'notes', key: 'big' } }] }, { text: 'It is long.' });
    const s = await ask({ question: 'What is in big?' });
    await s.end();
    const toolMsg = fake.requests.at(-1)!.body.messages.find((m: { role: string }) => m.role === 'tool');
    const content = String(toolMsg.content);
    expect(content.length).toBeLessThan(14_000);
    expect(content).toContain('truncated');
    expect(t.logs.filter((l) => l.level === 'error')).toEqual([]);
  });
});
