/**
 * `fazt.ai` end to end: the real node on 127.0.0.1, real QuickJS sandboxes, the real AI SDK provider
 * packages, against fake providers that speak the real wire protocols (node/testing/fake-llm.ts):
 * OpenAI chat-completions SSE, Anthropic Messages SSE, Ollama NDJSON. Asserts what the providers
 * received (model, messages, tools) and what the app and its page got back, and each bad input of
 * issue 13 as a clear error with the node and the other apps unaffected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from './testing/fake-llm.js';
import { createToken, deployZip, expectError, manifest, removeTempDirs, request, startTestNode, zip, type TestNode } from './test-helpers.js';

let t: TestNode;
let fake: FakeLlm;
let admin: string;

const APP = `
const weather = {
  description: 'The weather in a city',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  async execute({ city }) {
    await fazt.kv.increment('tool-runs');
    return { city, tempC: 21 };
  },
};
export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    const body = request.method === 'POST' ? await request.json() : {};
    try {
      switch (pathname) {
        case '/api/gen': return await fazt.ai.generateText(body);
        case '/api/tools': return await fazt.ai.generateText({ ...body, tools: { weather } });
        case '/api/tools-sdk-style': return await fazt.ai.generateText({ prompt: body.prompt, tools: { weather }, stopWhen: fazt.ai.stepCountIs(body.steps) });
        case '/api/stream': return fazt.ai.streamText(body).toTextStreamResponse();
        case '/api/sse': return fazt.ai.streamText(body).toUIMessageStreamResponse();
        case '/api/sse-tools': return fazt.ai.streamText({ ...body, tools: { weather } }).toUIMessageStreamResponse();
        case '/api/iter': {
          const r = fazt.ai.streamText(body);
          const pieces = [];
          for await (const t of r.textStream) pieces.push(t);
          return { pieces, usage: await r.usage, finishReason: await r.finishReason };
        }
        case '/api/object': return await fazt.ai.generateObject(body);
        case '/api/embed': return await fazt.ai.embed(body);
        case '/api/runs': return { runs: (await fazt.kv.get('tool-runs')) ?? 0 };
        case '/api/uncaught': return await fazt.ai.generateText(body);
        case '/api/stream-id': {
          const r = fazt.ai.streamText(body);
          await r.text;
          return { id: r._id };
        }
        case '/api/steal': {
          // a forged response body naming another app's stream
          const res = new Response(null);
          res._body = { ai: body.id, format: 'text' };
          return res;
        }
      }
    } catch (e) {
      if (pathname === '/api/uncaught') throw e;
      return Response.json({ caught: { code: e.code, message: e.message, retryAfterSeconds: e.retryAfterSeconds } }, { status: 299 });
    }
    return new Response('no route', { status: 404 });
  },
};
`;

const post = (app: string, path: string, body: unknown) => request(`${t.url}/a/${app}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const adminApi = (method: string, path: string, body?: unknown) =>
  request(`${t.url}${path}`, { method, token: admin, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
const caught = async (app: string, path: string, body: unknown) => {
  const r = await post(app, path, body);
  expect(r.status, r.text()).toBe(299);
  return r.json().caught as { code: string; message: string; retryAfterSeconds?: number };
};

beforeAll(async () => {
  fake = await startFakeLlm();
  t = await startTestNode();
  admin = createToken(t, 'admin', 'ai-admin').token;
  for (const [name, perms] of [
    ['chat', ['ai']],
    ['other', ['ai']],
    ['noai', ['ai']],
  ] as const) {
    const r = await deployZip(t, admin, zip({ 'app.json': manifest({ name, permissions: perms }), 'api/main.js': APP }), undefined);
    expect(r.status, r.text()).toBeLessThan(300);
  }
  for (const name of ['chat', 'other']) expect((await adminApi('POST', `/api/apps/${name}/permissions`, { grant: 'all' })).status).toBe(200);
});

afterAll(async () => {
  await t?.stop();
  await fake?.close();
  removeTempDirs();
});

describe('with no provider', () => {
  it('a call answers AI_UNAVAILABLE saying how to add one, at once', async () => {
    const c = await caught('chat', '/api/gen', { prompt: 'hi' });
    expect(c.code).toBe('AI_UNAVAILABLE');
    expect(c.message).toMatch(/fazt ai provider set/);
    const r = await post('chat', '/api/uncaught', { prompt: 'hi' });
    expectError(r, 503, 'AI_UNAVAILABLE');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('providers over the admin API', () => {
  it('stores keys sealed and never returns them', async () => {
    let r = await adminApi('PUT', '/api/ai/providers/local', { kind: 'openai-compatible', baseUrl: fake.baseUrl('openai-compatible'), defaultModel: 'fake-gpt', key: 'sk-local-secret', default: true });
    expect(r.status, r.text()).toBe(201);
    expect(r.text()).not.toContain('sk-local-secret');
    r = await adminApi('PUT', '/api/ai/providers/claude', { kind: 'anthropic', baseUrl: fake.baseUrl('anthropic'), key: 'sk-ant-secret', defaultModel: 'claude-fake' });
    expect(r.status).toBe(201);
    r = await adminApi('PUT', '/api/ai/providers/llama', { kind: 'ollama', baseUrl: fake.baseUrl('ollama'), defaultModel: 'llama-fake' });
    expect(r.status).toBe(201);
    r = await adminApi('GET', '/api/ai/providers');
    expect(r.text()).not.toMatch(/sk-(local|ant)-secret/);
    const list = r.json().providers as { name: string; hasKey: boolean; isDefault: boolean }[];
    expect(list.map((p) => [p.name, p.hasKey, p.isDefault])).toEqual([
      ['claude', true, false],
      ['llama', false, false],
      ['local', true, true],
    ]);
    r = await adminApi('GET', '/api/ai');
    expect(r.json().defaultModel).toBe('local/fake-gpt');
    expect(r.json().kinds).toContainEqual({ kind: 'openai-compatible', needsKey: false, needsBaseUrl: true, defaultBaseUrl: null });
    expect(r.json().kinds).toContainEqual({ kind: 'anthropic', needsKey: true, needsBaseUrl: false, defaultBaseUrl: 'https://api.anthropic.com/v1' });
    // the key is not in the cartridge as text
    const rows = t.node.kernel.cartridge.db.query<{ key_sealed: Uint8Array }>('SELECT key_sealed FROM ai_providers');
    for (const row of rows) if (row.key_sealed) expect(Buffer.from(row.key_sealed).toString('latin1')).not.toContain('secret');
  });

  it('refuses bad input with clear errors, changing nothing', async () => {
    expectError(await adminApi('PUT', '/api/ai/providers/x', { baseUrl: 'http://a' }), 400, 'INVALID_ARGUMENT', /give its kind/);
    expectError(await adminApi('PUT', '/api/ai/providers/x', { kind: 'skynet' }), 400, 'INVALID_ARGUMENT', /not a provider kind/);
    expectError(await adminApi('PUT', '/api/ai/providers/Bad Name', { kind: 'openai' }), 400, 'INVALID_ARGUMENT');
    expectError(await adminApi('PUT', '/api/ai/providers/x', { kind: 'openai-compatible' }), 400, 'INVALID_ARGUMENT', /base URL/);
    expectError(await adminApi('PUT', '/api/ai/providers/x', { kind: 'openai', baseUrl: 'ftp://x' }), 400, 'INVALID_ARGUMENT');
    expectError(await adminApi('DELETE', '/api/ai/providers/nope'), 404, 'NOT_FOUND');
    expect((await adminApi('GET', '/api/ai/providers')).json().providers).toHaveLength(3);
  });

  it('needs the admin scope', async () => {
    const deploy = createToken(t, 'deploy', 'ai-deploy').token;
    expectError(await request(`${t.url}/api/ai/providers`, { token: deploy }), 403, 'FORBIDDEN');
    expectError(await request(`${t.url}/api/ai/providers`), 401, 'UNAUTHORIZED');
  });
});

describe('generateText', () => {
  it('OpenAI chat-completions: the provider gets the model and messages; the app gets text and usage', async () => {
    fake.script({ text: 'Hello there, friend.', usage: { input: 7, output: 4 } });
    const n = fake.requests.length;
    const r = await post('chat', '/api/gen', { system: 'Be brief.', prompt: 'Say hello' });
    expect(r.status, r.text()).toBe(200);
    expect(r.json()).toMatchObject({ text: 'Hello there, friend.', finishReason: 'stop', usage: { inputTokens: 7, outputTokens: 4, totalTokens: 11 }, model: 'local/fake-gpt' });
    const req = fake.requests[n]!;
    expect(req.api).toBe('openai');
    expect(req.headers.authorization).toBe('Bearer sk-local-secret');
    expect(req.body.model).toBe('fake-gpt');
    expect(req.body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Say hello' },
    ]);
  });

  it('Anthropic Messages, by provider/model', async () => {
    fake.script({ text: 'Bonjour.' });
    const n = fake.requests.length;
    const r = await post('chat', '/api/gen', { model: 'claude/claude-3-fake', messages: [{ role: 'user', content: 'Hi' }] });
    expect(r.json().text).toBe('Bonjour.');
    const req = fake.requests[n]!;
    expect(req.api).toBe('anthropic');
    expect(req.headers['x-api-key']).toBe('sk-ant-secret');
    expect(req.body.model).toBe('claude-3-fake');
    expect(req.body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }]);
  });

  it('Ollama /api/chat', async () => {
    fake.script({ text: 'Hallo.' });
    const n = fake.requests.length;
    const r = await post('chat', '/api/gen', { model: 'llama/llama-fake', prompt: 'Hi' });
    expect(r.json().text).toBe('Hallo.');
    expect(fake.requests[n]).toMatchObject({ api: 'ollama', body: { model: 'llama-fake', messages: [{ role: 'user', content: 'Hi' }] } });
  });

  it('Google Gemini generateContent, with a key, by provider/model', async () => {
    await adminApi('PUT', '/api/ai/providers/gemini', { kind: 'google', baseUrl: fake.baseUrl('google'), key: 'g-secret', defaultModel: 'gemini-fake' });
    fake.script({ text: 'Ciao.', usage: { input: 4, output: 2 } });
    const n = fake.requests.length;
    const r = await post('chat', '/api/gen', { model: 'gemini/gemini-fake', system: 'Be brief.', prompt: 'Hi' });
    expect(r.json()).toMatchObject({ text: 'Ciao.', usage: { inputTokens: 4, outputTokens: 2 } });
    const req = fake.requests[n]!;
    expect(req).toMatchObject({ api: 'google', body: { model: 'gemini-fake', stream: false, contents: [{ role: 'user', parts: [{ text: 'Hi' }] }], systemInstruction: { parts: [{ text: 'Be brief.' }] } } });
    expect(req.headers['x-goog-api-key']).toBe('g-secret');
  });

  it('Google Gemini streams (SSE) with a tool call run in the sandbox', async () => {
    fake.script({ toolCalls: [{ name: 'weather', input: { city: 'Lima' } }] }, { text: 'Mild in Lima.' });
    const n = fake.requests.length;
    const r = await post('chat', '/api/sse-tools', { model: 'gemini/gemini-fake', prompt: 'Lima?', maxSteps: 2 });
    const parsed = r.text().split('\n\n').filter((l) => l && l !== 'data: [DONE]').map((l) => JSON.parse(l.replace(/^data: /, '')));
    expect(parsed.find((e) => e.type === 'tool-output-available')).toMatchObject({ output: { city: 'Lima', tempC: 21 } });
    expect(parsed.filter((e) => e.type === 'text-delta').map((e) => e.delta).join('')).toBe('Mild in Lima.');
    expect(fake.requests[n]!.body.stream).toBe(true);
    expect(fake.requests[n]!.body.tools[0].functionDeclarations[0].name).toBe('weather');
    expect(fake.requests[n + 1]!.body.contents.at(-1).parts[0].functionResponse).toMatchObject({ name: 'weather' });
  });

  it('tools run in the sandbox; the provider sees their schema, then their result', async () => {
    const runsBefore = (await post('chat', '/api/runs', {})).json().runs;
    fake.script({ toolCalls: [{ id: 'call_w1', name: 'weather', input: { city: 'Oslo' } }] }, { text: 'It is 21 °C in Oslo.' });
    const n = fake.requests.length;
    const r = await post('chat', '/api/tools', { prompt: 'Weather in Oslo?', maxSteps: 3 });
    expect(r.status, r.text()).toBe(200);
    const out = r.json();
    expect(out.text).toBe('It is 21 °C in Oslo.');
    expect(out.steps).toBe(2);
    expect(out.toolCalls).toEqual([{ toolCallId: 'call_w1', toolName: 'weather', input: { city: 'Oslo' } }]);
    expect(out.toolResults).toEqual([{ toolCallId: 'call_w1', toolName: 'weather', output: { city: 'Oslo', tempC: 21 } }]);
    const first = fake.requests[n]!.body;
    expect(first.tools).toEqual([
      { type: 'function', function: { name: 'weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } } },
    ]);
    const second = fake.requests[n + 1]!.body;
    expect(second.messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_w1', content: JSON.stringify({ city: 'Oslo', tempC: 21 }) });
    expect((await post('chat', '/api/runs', {})).json().runs).toBe(runsBefore + 1);
  });

  it('stopWhen: fazt.ai.stepCountIs(n), the SDK\'s spelling of maxSteps', async () => {
    fake.script({ toolCalls: [{ name: 'weather', input: { city: 'Bern' } }] }, { text: 'Cool in Bern.' });
    expect((await post('chat', '/api/tools-sdk-style', { prompt: 'Bern?', steps: 2 })).json()).toMatchObject({ text: 'Cool in Bern.', steps: 2 });
    expect((await caught('chat', '/api/tools-sdk-style', { prompt: 'x', steps: 'many' })).code).toBe('INVALID_ARGUMENT');
  });

  it('tool arguments that fail the schema: the tool does not run, the model is told, the app sees AI_TOOL_INPUT_INVALID', async () => {
    const before = (await post('chat', '/api/runs', {})).json().runs;
    fake.script({ toolCalls: [{ id: 'call_bad', name: 'weather', input: { town: 42 } }] }, { text: 'Sorry.' });
    const n = fake.requests.length;
    const out = (await post('chat', '/api/tools', { prompt: 'Weather?', maxSteps: 2 })).json();
    expect(out.toolCalls[0]).toMatchObject({ toolName: 'weather', input: { town: 42 }, error: { code: 'AI_TOOL_INPUT_INVALID' } });
    expect(out.toolCalls[0].error.message).toMatch(/fail its schema.*city/);
    expect(out.text).toBe('Sorry.');
    expect((await post('chat', '/api/runs', {})).json().runs).toBe(before);
    const told = fake.requests[n + 1]!.body.messages.at(-1);
    expect(told.role).toBe('tool');
    expect(told.content).toMatch(/city/);
  });
});

describe('streamText', () => {
  it('a text stream reaches the page as the tokens come (OpenAI SSE)', async () => {
    fake.script({ text: 'one two three four', delayMs: 30 });
    const res = await fetch(`${t.url}/a/chat/api/stream`, { method: 'POST', body: JSON.stringify({ prompt: 'count' }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const reader = res.body!.getReader();
    const got: string[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      got.push(new TextDecoder().decode(value));
    }
    expect(got.join('')).toBe('one two three four');
    expect(got.length).toBeGreaterThan(1); // streamed, not buffered
  });

  it('SSE in the UI message stream protocol (Anthropic)', async () => {
    fake.script({ text: 'Hi there' });
    const r = await post('chat', '/api/sse', { model: 'claude/c', prompt: 'hi' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(r.headers['x-vercel-ai-ui-message-stream']).toBe('v1');
    const events = r.text().split('\n\n').filter(Boolean).map((l) => l.replace(/^data: /, ''));
    expect(events.at(-1)).toBe('[DONE]');
    const parsed = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(parsed.map((e) => e.type)).toEqual(['start', 'start-step', 'text-start', 'text-delta', 'text-delta', 'text-end', 'finish-step', 'finish']);
    expect(parsed.filter((e) => e.type === 'text-delta').map((e) => e.delta).join('')).toBe('Hi there');
  });

  it('SSE with a tool call run in the sandbox (Ollama NDJSON)', async () => {
    fake.script({ toolCalls: [{ name: 'weather', input: { city: 'Rome' } }] }, { text: 'Warm in Rome.' });
    const n = fake.requests.length;
    const r = await post('chat', '/api/sse-tools', { model: 'llama/l', prompt: 'Rome?', maxSteps: 2 });
    const parsed = r.text().split('\n\n').filter((l) => l && l !== 'data: [DONE]').map((l) => JSON.parse(l.replace(/^data: /, '')));
    expect(parsed.find((e) => e.type === 'tool-input-available')).toMatchObject({ toolName: 'weather', input: { city: 'Rome' } });
    expect(parsed.find((e) => e.type === 'tool-output-available')).toMatchObject({ output: { city: 'Rome', tempC: 21 } });
    expect(parsed.filter((e) => e.type === 'text-delta').map((e) => e.delta).join('')).toBe('Warm in Rome.');
    expect(fake.requests[n]!.body.tools[0].function.name).toBe('weather');
    expect(fake.requests[n + 1]!.body.messages.at(-1)).toMatchObject({ role: 'tool' });
  });

  it('app code can iterate textStream itself', async () => {
    fake.script({ text: 'a b c', usage: { input: 3, output: 3 } });
    const r = await post('chat', '/api/iter', { prompt: 'abc' });
    expect(r.json()).toEqual({ pieces: ['a ', 'b ', 'c'], usage: { inputTokens: 3, outputTokens: 3, totalTokens: 6 }, finishReason: 'stop' });
  });
});

describe('generateObject and embed', () => {
  it('generateObject sends the JSON Schema and returns the parsed object', async () => {
    fake.script({ text: JSON.stringify({ name: 'Ada', age: 36 }) });
    const n = fake.requests.length;
    const schema = { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'], additionalProperties: false };
    const r = await post('chat', '/api/object', { prompt: 'a person', schema });
    expect(r.json()).toMatchObject({ object: { name: 'Ada', age: 36 } });
    expect(fake.requests[n]!.body.response_format).toMatchObject({ type: 'json_schema', json_schema: { schema } });
  });

  it('an answer that fails the schema is AI_OUTPUT_INVALID', async () => {
    fake.script({ text: JSON.stringify({ name: 7 }) });
    const c = await caught('chat', '/api/object', { prompt: 'a person', schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } });
    expect(c.code).toBe('AI_OUTPUT_INVALID');
  });

  it('embed one value and several (OpenAI-compatible /v1/embeddings)', async () => {
    let r = await post('chat', '/api/embed', { model: 'local/embed-fake', value: 'hello' });
    expect(r.json()).toMatchObject({ embedding: [5, 1, 0.5] });
    r = await post('chat', '/api/embed', { model: 'local/embed-fake', values: ['a', 'abc'] });
    expect(r.json().embeddings).toEqual([
      [1, 1, 0.5],
      [3, 1, 0.5],
    ]);
    expect(fake.requests.at(-1)).toMatchObject({ api: 'openai-embed', body: { model: 'embed-fake', input: ['a', 'abc'] } });
  });
});

describe('bad input: each a clear error, the node and the other apps unaffected', () => {
  it('a wrong key (401) is AI_AUTH', async () => {
    fake.key = 'the-right-key';
    try {
      const c = await caught('chat', '/api/gen', { prompt: 'hi' });
      expect(c.code).toBe('AI_AUTH');
      expect(c.message).toMatch(/refused the key.*fazt ai provider set local/);
      expect(c.message).not.toContain('sk-local-secret');
    } finally {
      fake.key = undefined;
    }
  });

  it('429 with retry-after is AI_RATE_LIMITED with retryAfterSeconds, and 429 + Retry-After when uncaught', async () => {
    fake.script({ status: 429, headers: { 'retry-after': '17' } });
    const c = await caught('chat', '/api/gen', { prompt: 'hi' });
    expect(c).toMatchObject({ code: 'AI_RATE_LIMITED', retryAfterSeconds: 17 });
    fake.script({ status: 429, headers: { 'retry-after': '17' } });
    const r = await post('chat', '/api/uncaught', { prompt: 'hi' });
    expectError(r, 429, 'AI_RATE_LIMITED');
    expect(r.headers['retry-after']).toBe('17');
  });

  it('a model that does not exist is AI_MODEL_NOT_FOUND (provider 404, and an unknown provider name)', async () => {
    fake.script({ status: 404, message: 'The model `nope` does not exist' });
    expect((await caught('chat', '/api/gen', { model: 'local/nope', prompt: 'hi' })).code).toBe('AI_MODEL_NOT_FOUND');
    const c = await caught('chat', '/api/gen', { model: 'nobody/x', prompt: 'hi' });
    expect(c.code).toBe('AI_MODEL_NOT_FOUND');
    expect(c.message).toMatch(/no AI provider is named "nobody"/);
  });

  it('a provider that is down is AI_UNAVAILABLE, at once', async () => {
    await adminApi('PUT', '/api/ai/providers/down', { kind: 'ollama', baseUrl: 'http://127.0.0.1:9', defaultModel: 'm' });
    const t0 = Date.now();
    const c = await caught('chat', '/api/gen', { model: 'down/m', prompt: 'hi' });
    expect(c.code).toBe('AI_UNAVAILABLE');
    expect(c.message).toMatch(/cannot reach the provider/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a provider that never answers is AI_UNAVAILABLE after the timeout, never a hang', async () => {
    const ai = t.node.kernel.ai as unknown as { timeoutMs: number };
    const old = ai.timeoutMs;
    ai.timeoutMs = 500;
    try {
      fake.script({ hang: true });
      const c = await caught('chat', '/api/gen', { prompt: 'hi' });
      expect(c.code).toBe('AI_UNAVAILABLE');
      expect(c.message).toMatch(/did not answer within 500 ms/);
    } finally {
      ai.timeoutMs = old;
    }
  });

  it('a stream cut mid-way: the text so far, then an error event (SSE); AI_STREAM_INTERRUPTED for app code', async () => {
    fake.script({ cut: true, text: 'one two three four five six' });
    const r = await post('chat', '/api/sse', { prompt: 'count' });
    const events = r.text().split('\n\n').filter(Boolean);
    const err = events.map((l) => l.replace(/^data: /, '')).filter((l) => l !== '[DONE]').map((l) => JSON.parse(l)).find((e) => e.type === 'error');
    expect(err.errorText, r.text()).toMatch(/^AI_STREAM_INTERRUPTED: /);
    expect(r.text()).toContain('"delta":"one "');
    fake.script({ cut: true, text: 'one two three four five six' });
    const c = await caught('chat', '/api/iter', { prompt: 'count' });
    expect(c.code).toBe('AI_STREAM_INTERRUPTED');
  });

  it('a text stream cut mid-way is cut for the client too (no clean end that would pass for a whole answer)', async () => {
    fake.script({ cut: true, text: 'one two three four five six' });
    const res = await fetch(`${t.url}/a/chat/api/stream`, { method: 'POST', body: JSON.stringify({ prompt: 'count' }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    let got = '';
    const reader = res.body!.getReader();
    const read = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return 'ended cleanly';
        got += new TextDecoder().decode(value);
      }
    })();
    await expect(read).rejects.toThrow(/terminated/);
    expect(got).toMatch(/^one two /);
  });

  it('a stream that fails before any output answers with the error status, not a 200', async () => {
    fake.script({ status: 401, message: 'bad key' });
    expectError(await post('chat', '/api/stream', { prompt: 'x' }), 502, 'AI_AUTH');
  });

  it('an app without the granted ai permission is PERMISSION_DENIED', async () => {
    const c = await caught('noai', '/api/gen', { prompt: 'hi' });
    expect(c.code).toBe('PERMISSION_DENIED');
    expect(c.message).toMatch(/"ai"/);
  });

  it('over budget is AI_BUDGET_EXCEEDED; usage is recorded per app; other apps go on', async () => {
    let r = await adminApi('PUT', '/api/ai/budgets/other', { tokensPerMonth: 30 });
    expect(r.status, r.text()).toBe(200);
    fake.script({ text: 'x', usage: { input: 20, output: 15 } });
    expect((await post('other', '/api/gen', { prompt: 'hi' })).status).toBe(200);
    const c = await caught('other', '/api/gen', { prompt: 'hi' });
    expect(c.code).toBe('AI_BUDGET_EXCEEDED');
    expect(c.message).toMatch(/35 of 30 tokens/);
    // the other app is not affected
    fake.script({ text: 'still fine' });
    expect((await post('chat', '/api/gen', { prompt: 'hi' })).json().text).toBe('still fine');
    r = await adminApi('GET', '/api/ai/usage');
    const rows = r.json().usage as { app: string; calls: number; inputTokens: number; outputTokens: number }[];
    expect(rows.find((u) => u.app === 'other')).toMatchObject({ calls: 1, inputTokens: 20, outputTokens: 15 });
    expect(rows.find((u) => u.app === 'chat')!.calls).toBeGreaterThan(5);
    expectError(await adminApi('PUT', '/api/ai/budgets/other', { tokensPerMonth: -1 }), 400, 'BAD_REQUEST');
  });

  it('bad options are INVALID_ARGUMENT before anything is sent', async () => {
    const n = fake.requests.length;
    expect((await caught('chat', '/api/gen', {})).code).toBe('INVALID_ARGUMENT');
    expect((await caught('chat', '/api/gen', { prompt: 'a', messages: [] })).code).toBe('INVALID_ARGUMENT');
    expect((await caught('chat', '/api/gen', { prompt: 'a', maxOutputTokens: -3 })).code).toBe('INVALID_ARGUMENT');
    expect((await caught('chat', '/api/object', { prompt: 'a', schema: 'nope' })).code).toBe('INVALID_ARGUMENT');
    expect((await caught('chat', '/api/embed', { value: 'a', model: 'claude/x' })).code).toBe('INVALID_ARGUMENT');
    expect(fake.requests.length).toBe(n);
  });

  it("an app cannot read another app's stream by forging its id", async () => {
    fake.script({ text: 'private answer of chat' });
    const { id } = (await post('chat', '/api/stream-id', { prompt: 'secret' })).json();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const r = await post('noai', '/api/steal', { id });
    expectError(r, 404, 'NOT_FOUND');
    expect(r.text()).not.toContain('private answer');
    // its owner still can (the call is kept 60 s after it ends)
    expect((await post('chat', '/api/steal', { id })).text()).toBe('private answer of chat');
  });

  it('the owner can stream through /api/ai/chat', async () => {
    fake.script({ text: 'owner answer' });
    const r = await adminApi('POST', '/api/ai/chat', { prompt: 'hi', format: 'text' });
    expect(r.status).toBe(200);
    expect(r.text()).toBe('owner answer');
    expect(t.logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('after all of the above, no key is in the node log, the apps\' logs or the usage answers', async () => {
    const keys = ['sk-local-secret', 'sk-ant-secret', 'g-secret'];
    const texts = [JSON.stringify(t.logs), (await adminApi('GET', '/api/ai/usage')).text(), (await adminApi('GET', '/api/ai')).text()];
    for (const app of ['chat', 'other', 'noai']) texts.push((await adminApi('GET', `/api/apps/${app}/logs?limit=1000`)).text());
    expect(texts[3]).toMatch(/AI_/); // the apps' logs hold the failures …
    for (const text of texts) for (const k of keys) expect(text).not.toContain(k); // … but never a key
  });
});
