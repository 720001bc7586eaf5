import { describe, expect, it } from 'vitest';
import { drivers } from '../testing/drivers.js';
import { faztError } from '../testing/errors.js';
import { openCartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import { SecretStore } from '../storage/index.js';
import { AiService, AiStream, aiError, monthOf, retryAfterSeconds, sdkRequested } from './index.js';

/** The kernel's AI parts that need no provider: providers and sealed keys, model resolution, usage and budgets, the stream encodings, error mapping. On both SQLite drivers. */

const bytesContain = (hay: Uint8Array, needle: string): boolean => Buffer.from(hay).includes(Buffer.from(needle));

for (const d of drivers) {
  describe(`AI on ${d.name}`, () => {
    async function setup(start = Date.UTC(2026, 11, 6)) {
      let now = start;
      const db = await d.open();
      const cart = openCartridge(db, { clock: { now: () => now } });
      const secrets = new SecretStore(cart);
      const ai = new AiService(cart, secrets);
      return { db, cart, ai, secrets, setNow: (n: number) => (now = n) };
    }

    it('seals keys: never listed, not in the file as text, bound to the provider name', async () => {
      const { ai, db } = await setup();
      const p = ai.providers.set({ name: 'openai', kind: 'openai', key: 'sk-very-secret-123', defaultModel: 'gpt-4o-mini' });
      expect(p).toMatchObject({ name: 'openai', kind: 'openai', hasKey: true, defaultModel: 'gpt-4o-mini', isDefault: true, baseUrl: null });
      expect(JSON.stringify(ai.providers.list())).not.toContain('sk-very');
      expect(JSON.stringify(ai.status())).not.toContain('sk-very');
      const row = db.get<{ key_sealed: Uint8Array }>('SELECT key_sealed FROM ai_providers WHERE name = ?', ['openai'])!;
      expect(bytesContain(row.key_sealed, 'sk-very')).toBe(false);
      expect(ai.providers.resolve('openai')!.key).toBe('sk-very-secret-123');
      // a sealed key copied to another provider does not open there
      ai.providers.set({ name: 'other', kind: 'openai' });
      db.run('UPDATE ai_providers SET key_sealed = ? WHERE name = ?', [row.key_sealed, 'other']);
      expect(faztError(() => ai.providers.resolve('other')).code).toBe('INTERNAL');
    });

    it('updates keep what is not given; an empty key removes it; the default follows set and remove', async () => {
      const { ai } = await setup();
      ai.providers.set({ name: 'a', kind: 'ollama', baseUrl: 'http://127.0.0.1:11434/', defaultModel: 'llama3' });
      ai.providers.set({ name: 'b', kind: 'anthropic', key: 'k', defaultModel: 'claude' }, true);
      expect(ai.status().defaultModel).toBe('b/claude');
      expect(ai.providers.get('a')!.baseUrl).toBe('http://127.0.0.1:11434');
      ai.providers.set({ name: 'b', defaultModel: 'claude-2' });
      expect(ai.providers.get('b')).toMatchObject({ kind: 'anthropic', hasKey: true, defaultModel: 'claude-2' });
      ai.providers.set({ name: 'b', key: '' });
      expect(ai.providers.get('b')!.hasKey).toBe(false);
      expect(ai.providers.remove('b')).toBe(true);
      expect(ai.providers.remove('b')).toBe(false);
      expect(ai.status()).toMatchObject({ configured: true, defaultModel: 'a/llama3' });
    });

    it('refuses bad providers, storing nothing', async () => {
      const { ai } = await setup();
      for (const bad of [
        { name: 'Upper', kind: 'openai' },
        { name: 'x', kind: 'nope' },
        { name: 'x' },
        { name: 'x', kind: 'openai-compatible' },
        { name: 'x', kind: 'openai', baseUrl: 'file:///etc' },
        { name: 'x', kind: 'openai', baseUrl: 'http://u:p@host' },
        { name: 'x', kind: 'openai', defaultModel: 'has space' },
        { name: 'x', kind: 'openai', key: 'a\u0000b' },
      ]) {
        expect(faztError(() => ai.providers.set(bad as never)).code, JSON.stringify(bad)).toBe('INVALID_ARGUMENT');
      }
      expect(ai.providers.list()).toEqual([]);
      expect(faztError(() => ai.providers.setDefault('ghost')).code).toBe('NOT_FOUND');
    });

    it('resolves models: default, provider/model, ids with slashes, and says what is missing', async () => {
      const { ai } = await setup();
      let e = faztError(() => ai.resolveModel(undefined));
      expect(e.code).toBe('AI_UNAVAILABLE');
      expect(e.message).toMatch(/No AI provider is configured.*fazt ai provider set/);
      ai.providers.set({ name: 'local', kind: 'ollama', defaultModel: 'llama3' });
      ai.providers.set({ name: 'vllm', kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:8000/v1' });
      ai.providers.set({ name: 'openai', kind: 'openai' });
      expect(ai.resolveModel(undefined).label).toBe('local/llama3');
      expect(ai.resolveModel('qwen2').label).toBe('local/qwen2');
      expect(ai.resolveModel('vllm/meta-llama/Llama-3-8B')).toMatchObject({ modelId: 'meta-llama/Llama-3-8B', label: 'vllm/meta-llama/Llama-3-8B' });
      e = faztError(() => ai.resolveModel('nobody/x'));
      expect(e.code).toBe('AI_MODEL_NOT_FOUND');
      expect(ai.resolveModel('vllm').label).toBe('local/vllm'); // no slash: a model of the default provider
      e = faztError(() => ai.resolveModel('vllm/'));
      expect(e.code).toBe('AI_MODEL_NOT_FOUND');
      expect(e.message).toMatch(/has no default model/);
      e = faztError(() => ai.resolveModel('openai/gpt-4o'));
      expect(e.code).toBe('AI_UNAVAILABLE');
      expect(e.message).toMatch(/has no API key/);
    });

    it('counts usage per app and month; budgets refuse over the cap with when it resets', async () => {
      const { ai, setNow } = await setup(Date.UTC(2026, 11, 30, 12));
      const u = ai.usage;
      u.begin('app1');
      u.record('app1', { inputTokens: 60, outputTokens: 40 });
      u.begin('app1');
      u.record('app1', {}, true);
      u.begin('');
      expect(u.usage('app1')).toEqual([{ appId: 'app1', period: '2026-12', calls: 2, inputTokens: 60, outputTokens: 40, errors: 1, lastAt: Date.UTC(2026, 11, 30, 12) }]);
      expect(u.usage().map((x) => x.appId)).toEqual(['app1', '']);
      u.check('app1', 'one'); // no budget: no cap
      u.setBudget('app1', { tokensPerMonth: 100, callsPerMonth: null });
      const e = faztError(() => u.check('app1', 'one'));
      expect(e.code).toBe('AI_BUDGET_EXCEEDED');
      expect(e.status).toBe(429);
      expect(e.message).toMatch(/100 of 100 tokens.*resets on 2027-01-01/);
      expect(e.details?.retryAfterSeconds).toBe(36 * 3600);
      u.setBudget('app1', { tokensPerMonth: null, callsPerMonth: 2 });
      expect(faztError(() => u.check('app1', 'one')).message).toMatch(/2 of 2 calls/);
      expect(faztError(() => u.setBudget('app1', { tokensPerMonth: -1, callsPerMonth: null })).code).toBe('INVALID_ARGUMENT');
      // a new month starts from zero
      setNow(Date.UTC(2027, 0, 1));
      u.check('app1', 'one');
      expect(monthOf(Date.UTC(2027, 0, 1))).toBe('2027-01');
      u.setBudget('app1', { tokensPerMonth: null, callsPerMonth: null });
      expect(u.budgets()).toEqual([]);
    });
  });
}

describe('AI streams', () => {
  const stream = () => new AiStream('p/m', 60_000, new AbortController());

  it('SSE follows the UI message stream protocol, ending in [DONE]', async () => {
    const s = stream();
    s.push({ type: 'text', text: 'Hel' });
    s.push({ type: 'text', text: 'lo' });
    s.push({ type: 'tool-call', toolCallId: 'c1', toolName: 't', input: { a: 1 } });
    s.push({ type: 'tool-result', toolCallId: 'c1', toolName: 't', output: 2 });
    s.push({ type: 'step' });
    s.push({ type: 'finish', finishReason: 'stop', usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 } });
    s.end();
    const text = await new Response(s.sseBody()).text();
    const events = text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.slice(0, -1).map((e) => JSON.parse(e.slice(6)))).toEqual([
      { type: 'start' },
      { type: 'start-step' },
      { type: 'text-start', id: 't0' },
      { type: 'text-delta', id: 't0', delta: 'Hel' },
      { type: 'text-delta', id: 't0', delta: 'lo' },
      { type: 'text-end', id: 't0' },
      { type: 'tool-input-available', toolCallId: 'c1', toolName: 't', input: { a: 1 } },
      { type: 'tool-output-available', toolCallId: 'c1', output: 2 },
      { type: 'finish-step' },
      { type: 'finish', finishReason: 'stop' },
    ]);
    expect(await s.result()).toMatchObject({ text: 'Hello', steps: 1, toolCalls: [{ toolCallId: 'c1' }], usage: { totalTokens: 3 } });
  });

  it('a failure mid-way: the text stream errors after the text so far; SSE sends an error event; result() rejects', async () => {
    const s = stream();
    s.push({ type: 'text', text: 'partial ' });
    const text = s.textBody().getReader();
    expect(new TextDecoder().decode((await text.read()).value)).toBe('partial ');
    s.fail(new FaztError('AI_STREAM_INTERRUPTED', 'cut'));
    await expect(text.read()).rejects.toThrow(/AI_STREAM_INTERRUPTED: cut/);
    expect(await new Response(s.sseBody()).text()).toContain('"type":"error","errorText":"AI_STREAM_INTERRUPTED: cut"');
    await expect(s.result()).rejects.toMatchObject({ code: 'AI_STREAM_INTERRUPTED' });
    expect(await s.firstOutput()).toBeUndefined(); // text came first: the response was already a 200 stream
  });

  it('a failure before any output is what firstOutput() reports', async () => {
    const s = stream();
    s.fail(new FaztError('AI_AUTH', 'refused'));
    expect((await s.firstOutput())?.code).toBe('AI_AUTH');
  });

  it('the idle timer aborts a silent provider', async () => {
    const abort = new AbortController();
    const s = new AiStream('p/m', 20, abort);
    await new Promise((r) => setTimeout(r, 60));
    expect(abort.signal.aborted).toBe(true);
    expect(s.idleFired).toBe(true);
  });
});

describe('AI error mapping', () => {
  const facts = { model: 'p/m', kind: 'openai', timeoutMs: 1000 };
  const apiError = (statusCode: number | undefined, extra: Record<string, unknown> = {}) => Object.assign(new Error('x'), { name: 'AI_APICallError', statusCode, ...extra });

  it('maps provider answers to stable codes, without echoing keys', () => {
    expect(aiError(apiError(401, { responseBody: '{"error":{"message":"bad key"}}' }), facts)).toMatchObject({ code: 'AI_AUTH', status: 502 });
    expect(aiError(apiError(429, { responseHeaders: { 'retry-after': '30' } }), facts)).toMatchObject({ code: 'AI_RATE_LIMITED', details: { retryAfterSeconds: 30 } });
    expect(aiError(apiError(404), facts).code).toBe('AI_MODEL_NOT_FOUND');
    expect(aiError(apiError(400, { responseBody: '{"error":{"message":"model \\"x\\" not found"}}' }), facts).code).toBe('AI_MODEL_NOT_FOUND');
    expect(aiError(apiError(400, { responseBody: '{"error":{"message":"messages: too long"}}' }), facts).code).toBe('INVALID_ARGUMENT');
    expect(aiError(apiError(503), facts).code).toBe('AI_UNAVAILABLE');
    expect(aiError(apiError(undefined, { cause: Object.assign(new Error('fetch failed'), { code: 'ECONNREFUSED' }) }), facts).message).toMatch(/ECONNREFUSED/);
    expect(aiError(Object.assign(new Error('t'), { name: 'TimeoutError' }), facts).message).toMatch(/within 1000 ms/);
    expect(aiError({ name: 'AI_RetryError', lastError: apiError(401) }, facts).code).toBe('AI_AUTH');
  });

  it('reads retry-after as seconds or an HTTP date (RFC 9110 §10.2.3)', () => {
    expect(retryAfterSeconds({ 'retry-after': '12' })).toBe(12);
    expect(retryAfterSeconds({ 'retry-after': new Date(Date.UTC(2026, 0, 1, 0, 1)).toUTCString() }, Date.UTC(2026, 0, 1))).toBe(60);
    expect(retryAfterSeconds({ 'retry-after': 'soon' })).toBeUndefined();
    expect(retryAfterSeconds(undefined)).toBeUndefined();
  });
});

describe('the SDK loads lazily', () => {
  it('configuring providers, resolving models and reading usage never load it', () => {
    expect(sdkRequested()).toBe(false);
  });
});
