/**
 * AI relay through a paired node (docs/ai.md "Relay through a paired node"), with real parts on both
 * SQLite drivers: two real kernels (a "hub" with a provider, a "phone" with none) paired with the real
 * pairing protocol and joined by the real authenticated link (shared/mesh/link.ts) over an in-memory
 * pipe; real QuickJS sandboxes run the phone's app; the real AI SDK provider package on the hub talks
 * to the fake OpenAI-compatible server (node/testing/fake-llm.ts, real HTTP on 127.0.0.1).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openCartridge } from '../shared/cartridge/index.js';
import { FaztError } from '../shared/errors.js';
import { createFetch } from '../shared/http/index.js';
import { createKernel, type Kernel } from '../shared/kernel.js';
import { MAX_CALL_CHARS, MAX_RELAYED_CALLS_PER_PEER, PIECE_CHARS, relayUsageId } from '../shared/ai/relay.js';
import { drivers } from '../shared/testing/drivers.js';
import { makeZip, streamOf } from '../shared/testing/zip.js';
import { startFakeLlm, type FakeLlm } from './testing/fake-llm.js';

const require = createRequire(import.meta.url);
let compiled: Promise<WebAssembly.Module> | undefined;
const wasm = () => (compiled ??= WebAssembly.compile(readFileSync(require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm'))));

const HUB_KEY = 'sk-hub-secret-7d1f';
const HINT = 'No paired node is connected to relay the call through: add a key on this device, or connect to your paired node (Devices).';

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
        case '/api/iter': {
          const r = fazt.ai.streamText(body);
          const pieces = [];
          for await (const t of r.textStream) pieces.push(t);
          return { pieces, usage: await r.usage, finishReason: await r.finishReason };
        }
        case '/api/object': return await fazt.ai.generateObject(body);
        case '/api/embed': return await fazt.ai.embed(body);
        case '/api/runs': return { runs: (await fazt.kv.get('tool-runs')) ?? 0 };
      }
    } catch (e) {
      return Response.json({ caught: { code: e.code, message: e.message, retryAfterSeconds: e.retryAfterSeconds } }, { status: 299 });
    }
    return new Response('no route', { status: 404 });
  },
};
`;

let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm({ key: HUB_KEY });
});
afterAll(async () => {
  await fake?.close();
});

/** A link between two kernels: the real PeerLink handshake and frames over an in-memory pipe (delivery on the next macrotask, in order). */
async function link(a: Kernel, b: Kernel) {
  let closed = false;
  let ra!: ReturnType<Kernel['mesh']['attach']>;
  let rb!: ReturnType<Kernel['mesh']['attach']>;
  const cut = () => {
    if (closed) return;
    closed = true;
    ra.closed();
    rb.closed();
  };
  const tb = { send: (m: string | Uint8Array) => void setImmediate(() => !closed && ra.receive(m)), close: cut };
  const ta = { send: (m: string | Uint8Array) => void setImmediate(() => !closed && rb.receive(m)), close: cut };
  rb = b.mesh.attach(tb);
  ra = a.mesh.attach(ta, b.mesh.id().nodeId);
  expect(await ra.handshake).toBe(true);
  expect(await rb.handshake).toBe(true);
  return { cut };
}

/** Provider requests the hub's fetch saw aborted (its AI SDK provider's requests, observed through the host's fetch port). */
let providerAborts = 0;
const observedFetch: typeof fetch = (input, init) => {
  init?.signal?.addEventListener('abort', () => providerAborts++, { once: true });
  return fetch(input, init);
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const waitFor = async (what: string, cond: () => boolean, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
};

for (const d of drivers) {
  describe(`AI relay through a paired node, on ${d.name}`, () => {
    let hub: Kernel;
    let phone: Kernel;
    let cut: () => void;
    /** Plain `ai` messages the hub sent (observed before the link encrypts them). */
    const hubSent: unknown[] = [];
    const owner = { appId: '', appName: 'owner' };
    const post = async (path: string, body: unknown) => {
      const r = await createFetch(phone)(new Request(`http://localhost/a/chat${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
      return { status: r.status, json: (await r.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    const caught = async (path: string, body: unknown) => {
      const r = await post(path, body);
      expect(r.status, JSON.stringify(r.json)).toBe(299);
      return r.json.caught as { code: string; message: string; retryAfterSeconds?: number };
    };
    const hubUsage = () => hub.ai.usage.usage(relayUsageId(phone.mesh.id().nodeId))[0];
    /** Opens the link unless it is open (each test can run alone with -t). */
    const linked = async () => {
      if (!phone.mesh.connected(hub.mesh.id().nodeId)) ({ cut } = await link(phone, hub));
    };

    beforeAll(async () => {
      hub = createKernel({ cartridge: openCartridge(await d.open()), nodeName: 'pi', ai: { fetch: observedFetch } });
      phone = createKernel({ cartridge: openCartridge(await d.open()), nodeName: 'phone', runtime: { wasm }, ai: { browserCalls: true, unavailableHint: HINT } });
      await phone.start();
      hub.ai.providers.set({ name: 'local', kind: 'openai-compatible', baseUrl: fake.baseUrl('openai-compatible'), key: HUB_KEY, defaultModel: 'fake-gpt' }, true);
      hub.ai.providers.set({ name: 'emb', kind: 'ollama', baseUrl: fake.url, key: HUB_KEY, defaultModel: 'nomic' });
      // pair with the real protocol
      const j = phone.mesh.pairing.join(hub.mesh.pairing.createInvitation().invitation);
      j.complete(hub.mesh.pairing.accept(j.request).response);
      const send = hub.mesh.sendAi.bind(hub.mesh);
      hub.mesh.sendAi = (id, m) => {
        hubSent.push(m);
        send(id, m);
      };
      await phone.deployApp({ body: streamOf(makeZip({ 'app.json': JSON.stringify({ name: 'chat', permissions: ['ai'] }), 'api/main.js': APP })), contentType: 'application/zip', name: 'chat', grant: 'all' });
    });

    afterEach(async () => {
      fake.key = HUB_KEY;
      fake.reply = () => ({ text: 'Hello from the fake model.' });
    });

    afterAll(async () => {
      cut?.();
      await phone?.stop();
      await hub?.stop();
    });

    it('with no link: AI_UNAVAILABLE at once, saying to add a key or connect to the paired node', async () => {
      const t0 = performance.now();
      const before = fake.requests.length;
      const c = await caught('/api/gen', { prompt: 'hi' });
      expect(c.code).toBe('AI_UNAVAILABLE');
      expect(c.message).toMatch(/No AI provider is configured on this node/);
      expect(c.message).toContain('connect to your paired node (Devices)');
      expect(performance.now() - t0).toBeLessThan(2_000);
      expect(phone.ai.status().relay).toEqual({ serve: true, available: false });
      expect(fake.requests).toHaveLength(before);
    });

    it("generateText from the phone's app answers through the hub, with the hub's key; the phone never has it", async () => {
      await linked();
      expect(phone.ai.status().relay.available).toBe(true);
      const before = fake.requests.length;
      const r = await post('/api/gen', { prompt: 'Say hello' });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(r.json).toMatchObject({ text: 'Hello from the fake model.', finishReason: 'stop', model: 'local/fake-gpt', steps: 1 });
      expect(r.json.usage.totalTokens).toBeGreaterThan(0);
      const req = fake.requests[before]!;
      expect(req.api).toBe('openai');
      expect(req.headers.authorization).toBe(`Bearer ${HUB_KEY}`);
      expect(req.body.model).toBe('fake-gpt');
      expect(JSON.stringify(req.body.messages)).toContain('Say hello');
      // the key is the hub's alone: the phone has no provider, and no relay message carried it
      expect(phone.ai.providers.list()).toEqual([]);
      expect(JSON.stringify(hubSent)).not.toContain(HUB_KEY);
      expect(hubSent.length).toBeGreaterThan(0);
      // usage: on the hub under relay:<phone>, on the phone under the app
      const u = hubUsage()!;
      expect(u).toMatchObject({ calls: 1, errors: 0 });
      expect(u.inputTokens + u.outputTokens).toBeGreaterThan(0);
      const app = phone.apps.resolve('chat')!;
      expect(phone.ai.usage.usage(app.id)[0]).toMatchObject({ calls: 1, errors: 0 });
    });

    it('streamText streams the pieces as the hub receives them', async () => {
      await linked();
      fake.script({ text: 'one two three four five', delayMs: 10 });
      const r = await post('/api/iter', { prompt: 'count' });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(r.json.pieces.length).toBeGreaterThan(2);
      expect(r.json.pieces.join('')).toBe('one two three four five');
      expect(r.json.finishReason).toBe('stop');
      expect(r.json.usage.totalTokens).toBeGreaterThan(0);
      // and through the kernel's stream (what the HTTP layer serves): the hub's model label
      fake.script({ text: 'streamed answer' });
      const s = phone.ai.streamText(owner, { prompt: 'x' });
      const res = await s.result();
      expect(res.text).toBe('streamed answer');
      expect(res.model).toBe('local/fake-gpt');
    });

    it('a tool call runs the tool in the phone’s sandbox; the model sees its result through the hub', async () => {
      await linked();
      const before = fake.requests.length;
      fake.script({ toolCalls: [{ id: 'call_1', name: 'weather', input: { city: 'Oslo' } }] }, { text: 'It is 21 °C in Oslo.' });
      const r = await post('/api/tools', { prompt: 'Weather in Oslo?', maxSteps: 2 });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(r.json.text).toBe('It is 21 °C in Oslo.');
      expect(r.json.toolCalls).toEqual([{ toolCallId: 'call_1', toolName: 'weather', input: { city: 'Oslo' } }]);
      expect(r.json.toolResults).toEqual([{ toolCallId: 'call_1', toolName: 'weather', output: { city: 'Oslo', tempC: 21 } }]);
      expect((await post('/api/runs', {})).json.runs).toBe(1); // the phone's app storage
      expect(hub.apps.resolve('chat')).toBeUndefined(); // the hub has no such app: the tool cannot have run there
      const second = fake.requests[before + 1]!;
      expect(second.body.tools[0].function.name).toBe('weather');
      expect(JSON.stringify(second.body.messages)).toContain('"tempC\\":21');
    });

    it('generateObject and embed go through the hub too', async () => {
      await linked();
      fake.script({ text: '{"name":"Ada","age":36}' });
      const o = await post('/api/object', { prompt: 'a person', schema: { type: 'object', properties: { name: { type: 'string' }, age: { type: 'number' } }, required: ['name', 'age'] } });
      expect(o.status, JSON.stringify(o.json)).toBe(200);
      expect(o.json.object).toEqual({ name: 'Ada', age: 36 });
      fake.script({ embedding: [0.25, 0.5, 0.75] });
      const e = await post('/api/embed', { model: 'emb/nomic', values: ['a', 'b'] });
      expect(e.status, JSON.stringify(e.json)).toBe(200);
      expect(e.json.embeddings).toEqual([
        [0.25, 0.5, 0.75],
        [0.25, 0.5, 0.75],
      ]);
      expect(e.json.model).toBe('emb/nomic');
    });

    it('hub errors cross as kernel codes: 401 → AI_AUTH, 429 → AI_RATE_LIMITED with retryAfter, unknown provider → AI_MODEL_NOT_FOUND', async () => {
      await linked();
      fake.key = 'another-key';
      let c = await caught('/api/gen', { prompt: 'hi' });
      expect(c.code).toBe('AI_AUTH');
      expect(c.message).toMatch(/^Through the paired node "pi": local\/fake-gpt: the provider refused the key \(HTTP 401/);
      expect(c.message).not.toContain(HUB_KEY);
      fake.key = HUB_KEY;
      fake.script({ status: 429, message: 'slow down', headers: { 'retry-after': '7' } });
      c = await caught('/api/gen', { prompt: 'hi' });
      expect(c).toMatchObject({ code: 'AI_RATE_LIMITED', retryAfterSeconds: 7 });
      c = await caught('/api/gen', { prompt: 'hi', model: 'nope/x' });
      expect(c.code).toBe('AI_MODEL_NOT_FOUND');
      expect(c.message).toMatch(/no AI provider is named "nope"/);
      // and in a stream
      fake.key = 'another-key';
      const s = phone.ai.streamText(owner, { prompt: 'x' });
      await expect(s.result()).rejects.toMatchObject({ code: 'AI_AUTH' });
      expect(hubUsage()!.errors).toBe(3); // 401, 429 and the stream's 401 (an unknown provider is refused before the call counts)
    });

    it("the hub's budget for the relay and its owner's switch are applied", async () => {
      await linked();
      const id = relayUsageId(phone.mesh.id().nodeId);
      const token = hub.auth.createToken('admin', 'relay-test').token;
      const hubApi = (method: string, path: string, body?: unknown) =>
        createFetch(hub)(new Request(`http://localhost${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) }));
      // the owner sets the relay's budget over the admin API, like an app's
      const set = await hubApi('PUT', `/api/ai/budgets/${id}`, { callsPerMonth: hubUsage()?.calls ?? 0 });
      expect(set.status).toBe(200);
      expect(await set.json()).toMatchObject({ app: id, budget: { callsPerMonth: hubUsage()?.calls ?? 0 } });
      expect((await hubApi('PUT', '/api/ai/budgets/relay:nosuchnode', { callsPerMonth: 1 })).status).toBe(404);
      const listed = (await (await hubApi('GET', '/api/ai/usage')).json()) as { usage: { app: string; appId: string }[] };
      expect(listed.usage).toEqual(expect.arrayContaining([expect.objectContaining({ appId: id, app: id })]));
      let c = await caught('/api/gen', { prompt: 'hi' });
      expect(c.code).toBe('AI_BUDGET_EXCEEDED');
      expect(c.message).toMatch(/^Through the paired node "pi": The app "relay:phone" used its AI budget/);
      hub.ai.usage.setBudget(id, { tokensPerMonth: null, callsPerMonth: null });
      // the owner's switch, over the admin API
      const api = (method: string, body?: unknown) => hubApi(method, '/api/ai/relay', body);
      expect(await (await api('GET')).json()).toEqual({ serve: true, available: true });
      const bad = await api('PUT', { serve: 'no' });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
      expect(await (await api('PUT', { serve: false })).json()).toEqual({ serve: false, available: true });
      c = await caught('/api/gen', { prompt: 'hi' });
      expect(c.code).toBe('AI_UNAVAILABLE');
      expect(c.message).toMatch(/turned off "Let paired devices use this node's AI"/);
      hub.ai.setRelayServing(true);
      expect((await post('/api/gen', { prompt: 'hi' })).status).toBe(200);
    });

    it('a cancelled stream is cancelled on the hub (its provider request closes)', async () => {
      await linked();
      fake.script({ hang: true });
      const before = fake.requests.length;
      const s = phone.ai.streamText(owner, { prompt: 'wait' });
      await waitFor('the hub to call the provider', () => fake.requests.length > before);
      const hubRelay = hub.ai.relay as unknown as { incoming: Map<string, unknown> };
      expect(hubRelay.incoming.size).toBe(1);
      const aborts = providerAborts;
      s.cancel();
      await expect(s.result()).rejects.toBeInstanceOf(FaztError);
      await waitFor('the hub to drop the call', () => hubRelay.incoming.size === 0);
      await waitFor("the hub's provider request to be aborted", () => providerAborts > aborts);
    });

    it('a link cut mid-stream ends the phone’s stream with AI_STREAM_INTERRUPTED at once, not after the idle timer', async () => {
      await linked();
      fake.script({ text: Array.from({ length: 60 }, (_, i) => `w${i} `).join(''), delayMs: 30 });
      const s = phone.ai.streamText(owner, { prompt: 'long' });
      await waitFor('some text', () => s.hasText);
      const t0 = performance.now();
      const aborts = providerAborts;
      cut();
      const e = (await s.result().catch((x: unknown) => x)) as FaztError;
      const took = performance.now() - t0;
      expect(e.code).toBe('AI_STREAM_INTERRUPTED');
      expect(e.message).toMatch(/link to the paired node "pi" closed/);
      expect(took).toBeLessThan(1_000); // the idle timer is 30 s
      const hubRelay = hub.ai.relay as unknown as { incoming: Map<string, unknown> };
      await waitFor('the hub to stop the call', () => hubRelay.incoming.size === 0);
      await waitFor("the hub's provider request to be aborted", () => providerAborts > aborts);
      // and with the link gone, calls are unavailable again
      expect((await caught('/api/gen', { prompt: 'hi' })).code).toBe('AI_UNAVAILABLE');
    });

    it('connected peers are tried in order: one with no provider is skipped; with none able, AI_UNAVAILABLE says what each said', async () => {
      await linked();
      // "attic" sorts before "pi": the phone asks it first
      const attic = createKernel({ cartridge: openCartridge(await d.open()), nodeName: 'attic' });
      try {
        const j = phone.mesh.pairing.join(attic.mesh.pairing.createInvitation().invitation);
        j.complete(attic.mesh.pairing.accept(j.request).response);
        const atticLink = await link(phone, attic);
        expect(phone.mesh.connectedIds()[0]).toBe(attic.mesh.id().nodeId);
        const r = await post('/api/gen', { prompt: 'who answers?' });
        expect(r.status, JSON.stringify(r.json)).toBe(200);
        expect(r.json.model).toBe('local/fake-gpt');
        cut();
        const c = await caught('/api/gen', { prompt: 'hi' });
        expect(c.code).toBe('AI_UNAVAILABLE');
        expect(c.message).toMatch(/^This node has no usable AI provider, and no connected paired node could take the call\. Through the paired node "attic": No AI provider is configured on this node\./);
        expect(c.message).toMatch(/Add a key on this device \(Settings → AI\), or a provider on the paired node\.$/);
        atticLink.cut();
      } finally {
        await attic.stop();
      }
    });

    it('a lying peer: malformed messages, unknown ids, parts never asked for, oversized calls are dropped or refused, never a crash', async () => {
      await linked();
      const phoneId = phone.mesh.id().nodeId;
      const hubId = hub.mesh.id().nodeId;
      const hubRelay = hub.ai.relay!;
      const phoneRelay = phone.ai.relay!;
      // what the phone's end receives, captured in place of its relay
      const got: any[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
      phone.mesh.setAiHandler((_id, m) => got.push(m));
      try {
        const hubDropped = hubRelay.dropped;
        for (const junk of [null, 'x', 7, [], {}, { id: 'a b', k: 'call', d: '{}' }, { id: 'ok', k: 'nope' }, { id: 'ok', k: 'call', d: 5 }, { id: 'ok', k: 'call', more: 1 }, { id: 'x'.repeat(65), k: 'call' }, { id: 'ok', k: 'call', d: 'x'.repeat(PIECE_CHARS + 1) }, { id: 'stray', k: 'part', d: '{"type":"text-delta"}' }, { id: 'stray', k: 'result', d: '{}' }]) {
          phone.mesh.sendAi(hubId, junk);
        }
        await waitFor('the hub to read them', () => hubRelay.dropped >= hubDropped + 13);
        expect(got).toEqual([]); // nothing answered to a message that is not a call
        // calls that are not JSON, or malformed, are refused with a clear error
        phone.mesh.sendAi(hubId, { id: 'nj', k: 'call', d: '{not json' });
        phone.mesh.sendAi(hubId, { id: 'bad', k: 'call', d: JSON.stringify({ op: 'rm -rf', options: {} }) });
        phone.mesh.sendAi(hubId, { id: 'np', k: 'call', d: JSON.stringify({ op: 'generate', options: { prompt: 'not an array' } }) });
        await waitFor('three refusals', () => got.filter((m) => m.k === 'error').length === 3);
        const codes = Object.fromEntries(got.filter((m) => m.k === 'error').map((m) => [m.id, JSON.parse(m.d).code]));
        expect(codes).toEqual({ nj: 'INVALID_ARGUMENT', bad: 'INVALID_ARGUMENT', np: 'INVALID_ARGUMENT' });
        // an oversized call (in slices) is refused, and its slices freed
        got.length = 0;
        const slice = 'x'.repeat(PIECE_CHARS);
        for (let i = 0; i <= MAX_CALL_CHARS / PIECE_CHARS; i++) phone.mesh.sendAi(hubId, { id: 'big', k: 'call', d: slice, more: true });
        await waitFor('the refusal', () => got.some((m) => m.id === 'big' && m.k === 'error'));
        expect(JSON.parse(got.find((m) => m.id === 'big').d).code).toBe('INVALID_ARGUMENT');
        // more than MAX_RELAYED_CALLS_PER_PEER at once: AI_RATE_LIMITED
        got.length = 0;
        fake.reply = () => ({ hang: true });
        const call = JSON.stringify({ op: 'stream', options: { prompt: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] } });
        for (let i = 0; i <= MAX_RELAYED_CALLS_PER_PEER; i++) phone.mesh.sendAi(hubId, { id: `c${i}`, k: 'call', d: call });
        await waitFor('acks and a refusal', () => got.filter((m) => m.k === 'ack').length === MAX_RELAYED_CALLS_PER_PEER && got.some((m) => m.k === 'error'));
        const refusal = got.find((m) => m.k === 'error');
        expect(refusal.id).toBe(`c${MAX_RELAYED_CALLS_PER_PEER}`);
        expect(JSON.parse(refusal.d)).toMatchObject({ code: 'AI_RATE_LIMITED', retryAfterSeconds: 1 });
        for (let i = 0; i < MAX_RELAYED_CALLS_PER_PEER; i++) phone.mesh.sendAi(hubId, { id: `c${i}`, k: 'cancel' });
        await waitFor('the hub to cancel them', () => (hubRelay as unknown as { incoming: Map<string, unknown> }).incoming.size === 0);
        fake.reply = () => ({ text: 'Hello from the fake model.' });
      } finally {
        phone.mesh.setAiHandler((id, m) => phoneRelay.receive(id, m));
      }
      // the hub lies to the phone: answers for calls never made, malformed ones
      const phoneDropped = phoneRelay.dropped;
      hub.mesh.sendAi(phoneId, { id: 'never', k: 'part', d: JSON.stringify({ type: 'text-delta', id: '0', delta: 'injected' }) });
      hub.mesh.sendAi(phoneId, { id: 'never', k: 'result', d: '{}' });
      hub.mesh.sendAi(phoneId, { k: 'part' });
      hub.mesh.sendAi(phoneId, 'garbage');
      await waitFor('the phone to drop them', () => phoneRelay.dropped >= phoneDropped + 4);
      // both still work
      const r = await post('/api/gen', { prompt: 'still there?' });
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(r.json.text).toBe('Hello from the fake model.');
    });
  });
}
