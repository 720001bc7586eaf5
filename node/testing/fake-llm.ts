import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * Fake model providers on 127.0.0.1 that speak the real wire protocols, for tests and benches that
 * drive the real AI SDK provider packages against them:
 * - OpenAI chat-completions (`POST /v1/chat/completions`, JSON or SSE `chat.completion.chunk`s
 *   ending in `data: [DONE]`; https://platform.openai.com/docs/api-reference/chat-streaming) and
 *   embeddings (`POST /v1/embeddings`);
 * - Anthropic Messages (`POST /v1/messages`, JSON or SSE `message_start` … `message_stop`;
 *   https://docs.anthropic.com/en/api/messages-streaming);
 * - Ollama (`POST /api/chat`, JSON or NDJSON lines ending with `done: true`; `POST /api/embed`;
 *   https://github.com/ollama/ollama/blob/main/docs/api.md);
 * - Google Gemini (`POST /v1beta/models/M:generateContent`, `:streamGenerateContent?alt=sse` as SSE
 *   `GenerateContentResponse`s; `:batchEmbedContents`; https://ai.google.dev/api/generate-content).
 * One server answers all three (by path). Replies are scripted ({@link FakeLlm.script}) or made per
 * request ({@link FakeLlm.reply}); every request is recorded with its parsed JSON body.
 */

/** A scripted reply. */
export type FakeReply =
  /**
   * Text, streamed in `chunks` (default: split at spaces), `delayMs` between chunks. With
   * `holdLast`, the last chunk (and the end of the stream) waits until that promise settles: a test
   * can look at the client while the stream is provably not finished.
   */
  | { text: string; chunks?: string[]; delayMs?: number; holdLast?: Promise<unknown>; usage?: { input: number; output: number }; finish?: 'stop' | 'length' }
  /** Tool calls (with optional text before them). `input` as an object, or a raw JSON string (possibly invalid). */
  | { toolCalls: { id?: string; name: string; input: unknown }[]; text?: string; usage?: { input: number; output: number } }
  /** An HTTP error in the provider's own error shape. */
  | { status: number; message?: string; headers?: Record<string, string> }
  /** Streams `text` in chunks (20 ms apart), then destroys the connection after about half of them. */
  | { cut: true; text: string }
  /** Never answers (the request hangs until the client gives up or the server closes). */
  | { hang: true }
  /** Embeddings: one vector per input (`vector` for each, or computed from the text length). */
  | { embedding: number[] };

/** A request the fake received. */
export interface FakeRequest {
  /** Which protocol: by path. */
  api: 'openai' | 'anthropic' | 'ollama' | 'google' | 'openai-embed' | 'ollama-embed' | 'google-embed' | 'unknown';
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** The parsed JSON body (`undefined` when none or not JSON). */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** ms (performance.now()) when it arrived. */
  at: number;
  /** True once the client closed the connection before the answer ended (a cancelled stream). */
  closedEarly: boolean;
}

/** A running fake. */
export interface FakeLlm {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** The base URL the provider package wants: `openai`/`openai-compatible`/`anthropic` → `url/v1`; `ollama` → `url` (the package adds `/api`); `google` → `url/v1beta`. */
  baseUrl(kind: 'openai' | 'openai-compatible' | 'anthropic' | 'ollama' | 'google'): string;
  /** Every request, in order. */
  requests: FakeRequest[];
  /** Queues replies, used in order; when none is queued, {@link reply} decides. */
  script(...replies: FakeReply[]): void;
  /** The reply when the script is empty (default: text "Hello from the fake model."). */
  reply: (req: FakeRequest) => FakeReply;
  /** When set, requests must carry this key (Bearer for OpenAI, `x-api-key` for Anthropic) or get 401. */
  key: string | undefined;
  /** Stops the server, destroying open connections. */
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const splitText = (t: string) => t.split(/(?<= )/).filter(Boolean);

/**
 * Starts a fake on 127.0.0.1 and a free port.
 * @param options.key requests must carry this key (see {@link FakeLlm.key}).
 * @param options.cors answer CORS (`Access-Control-Allow-Origin: *`, preflights) like a provider
 *   that allows browser calls (Ollama with `OLLAMA_ORIGINS=*`): for the browser node's service worker.
 */
export async function startFakeLlm(options: { key?: string; cors?: boolean } = {}): Promise<FakeLlm> {
  const queue: FakeReply[] = [];
  const sockets = new Set<Socket>();
  const fake: FakeLlm = {
    url: '',
    baseUrl: (kind) => (kind === 'ollama' ? fake.url : kind === 'google' ? `${fake.url}/v1beta` : `${fake.url}/v1`),
    requests: [],
    script: (...r) => void queue.push(...r),
    reply: () => ({ text: 'Hello from the fake model.' }),
    key: options.key,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer(async (req, res) => {
    if (options.cors) {
      res.setHeader('access-control-allow-origin', '*');
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { 'access-control-allow-methods': 'POST, GET', 'access-control-allow-headers': String(req.headers['access-control-request-headers'] ?? '*'), 'access-control-max-age': '600' });
        return void res.end();
      }
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const api: FakeRequest['api'] = /\/chat\/completions$/.test(path)
      ? 'openai'
      : /\/v1\/embeddings$/.test(path)
        ? 'openai-embed'
        : /\/v1\/messages$/.test(path)
          ? 'anthropic'
          : /\/api\/chat$/.test(path)
            ? 'ollama'
            : /\/api\/embed$/.test(path)
              ? 'ollama-embed'
              : /\/v1beta\/models\/[^/:]+:(generateContent|streamGenerateContent)$/.test(path)
                ? 'google'
                : /\/v1beta\/models\/[^/:]+:(embedContent|batchEmbedContents)$/.test(path)
                  ? 'google-embed'
                  : 'unknown';
    const r: FakeRequest = { api, method: req.method ?? 'GET', path, headers: req.headers, body, at: performance.now(), closedEarly: false };
    res.on('close', () => {
      if (!res.writableEnded) r.closedEarly = true;
    });
    if (api === 'google' || api === 'google-embed') {
      // the model is in the path; a stream is asked for by the method name
      r.body = { ...(body as object), model: /models\/([^/:]+):/.exec(path)![1], stream: /streamGenerateContent$/.test(path) };
    }
    fake.requests.push(r);
    if (api === 'unknown') return json(res, 404, { error: { message: `no route ${path}` } });
    if (fake.key !== undefined) {
      const given = api === 'anthropic' ? req.headers['x-api-key'] : api.startsWith('google') ? req.headers['x-goog-api-key'] : String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (given !== fake.key) return errorReply(res, api, { status: 401, message: 'Incorrect API key provided.' });
    }
    const reply = queue.shift() ?? fake.reply(r);
    try {
      await answer(res, api, r, reply);
    } catch {
      res.destroy();
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

function errorReply(res: ServerResponse, api: FakeRequest['api'], e: { status: number; message?: string; headers?: Record<string, string> }): void {
  const message = e.message ?? (e.status === 429 ? 'Rate limit reached.' : e.status === 404 ? 'The model does not exist.' : `error ${e.status}`);
  if (api === 'anthropic') {
    const type = e.status === 401 ? 'authentication_error' : e.status === 429 ? 'rate_limit_error' : e.status === 404 ? 'not_found_error' : 'api_error';
    return json(res, e.status, { type: 'error', error: { type, message } }, e.headers);
  }
  if (api === 'ollama' || api === 'ollama-embed') return json(res, e.status, { error: message }, e.headers);
  if (api === 'google' || api === 'google-embed') {
    const status = e.status === 401 ? 'UNAUTHENTICATED' : e.status === 429 ? 'RESOURCE_EXHAUSTED' : e.status === 404 ? 'NOT_FOUND' : 'INTERNAL';
    return json(res, e.status, { error: { code: e.status, message, status } }, e.headers);
  }
  json(res, e.status, { error: { message, type: 'invalid_request_error', param: null, code: e.status === 404 ? 'model_not_found' : null } }, e.headers);
}

async function answer(res: ServerResponse, api: FakeRequest['api'], r: FakeRequest, reply: FakeReply): Promise<void> {
  if ('hang' in reply) return new Promise<void>(() => {});
  if ('status' in reply) return errorReply(res, api, reply);
  const model = String(r.body?.model ?? 'fake');
  if (api === 'google-embed') {
    const reqs: { content?: { parts?: { text?: string }[] } }[] = r.body?.requests ?? [r.body];
    const texts = reqs.map((q) => (q.content?.parts ?? []).map((p) => p.text ?? '').join(''));
    const vec = (t: string) => ('embedding' in reply ? reply.embedding : [t.length, 1, 0.5]);
    return json(res, 200, /batch/.test(r.path) ? { embeddings: texts.map((t) => ({ values: vec(t) })) } : { embedding: { values: vec(texts[0] ?? '') } });
  }
  if (api === 'openai-embed' || api === 'ollama-embed') {
    const input: string[] = api === 'openai-embed' ? [r.body?.input].flat() : [r.body?.input].flat();
    const vec = (t: string) => ('embedding' in reply ? reply.embedding : [t.length, 1, 0.5]);
    if (api === 'openai-embed') return json(res, 200, { object: 'list', data: input.map((t, index) => ({ object: 'embedding', index, embedding: vec(t) })), model, usage: { prompt_tokens: input.length * 3, total_tokens: input.length * 3 } });
    return json(res, 200, { model, embeddings: input.map(vec), total_duration: 1, load_duration: 1, prompt_eval_count: input.length * 3 });
  }
  if ('embedding' in reply) return errorReply(res, api, { status: 400, message: 'an embedding reply to a chat request' });
  const stream = r.body?.stream !== false && (api !== 'openai' || r.body?.stream === true) && (api !== 'anthropic' || r.body?.stream === true) && (api !== 'google' || r.body?.stream === true);
  const text = 'text' in reply ? (reply.text ?? '') : '';
  const parts = 'cut' in reply ? splitText(reply.text) : 'chunks' in reply && reply.chunks ? reply.chunks : splitText(text);
  const toolCalls = 'toolCalls' in reply ? reply.toolCalls.map((t, i) => ({ id: t.id ?? `call_${i + 1}`, name: t.name, args: typeof t.input === 'string' ? t.input : JSON.stringify(t.input) })) : [];
  const usage = ('usage' in reply && reply.usage) || { input: 11, output: Math.max(1, parts.length) };
  // a cut comes after some real time (chunks sent in one packet with the reset are lost to the client)
  const delay = 'delayMs' in reply ? (reply.delayMs ?? 0) : 'cut' in reply ? 20 : 0;
  const cut = 'cut' in reply;
  const hold = 'holdLast' in reply ? reply.holdLast : undefined;
  /** Waits `delay` before part `i`, and for `hold` before the last one. */
  const pace = async (i: number) => {
    if (delay) await sleep(delay);
    if (hold && i === parts.length - 1) await hold.catch(() => {});
  };
  const finish = 'finish' in reply && reply.finish === 'length' ? 'length' : toolCalls.length ? 'tool' : 'stop';

  if (api === 'openai') {
    const id = 'chatcmpl-fake';
    const created = Math.floor(Date.now() / 1000);
    const reason = finish === 'tool' ? 'tool_calls' : finish;
    if (!stream) {
      return json(res, 200, {
        id, object: 'chat.completion', created, model,
        choices: [{ index: 0, message: { role: 'assistant', content: text || null, ...(toolCalls.length ? { tool_calls: toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.args } })) } : {}) }, finish_reason: reason }],
        usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output },
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
    const chunk = (delta: unknown, finish_reason: string | null = null) => send({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason }] });
    chunk({ role: 'assistant', content: '' });
    for (const [i, p] of parts.entries()) {
      await pace(i);
      chunk({ content: p });
      if (cut && i === Math.floor(parts.length / 2)) return void res.socket?.destroy();
    }
    toolCalls.forEach((t, index) => {
      chunk({ tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } }] });
      chunk({ tool_calls: [{ index, function: { arguments: t.args } }] });
    });
    chunk({}, reason);
    send({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output } });
    res.end('data: [DONE]\n\n');
    return;
  }

  if (api === 'anthropic') {
    const id = 'msg_fake';
    const stop = finish === 'tool' ? 'tool_use' : finish === 'length' ? 'max_tokens' : 'end_turn';
    if (!stream) {
      return json(res, 200, {
        id, type: 'message', role: 'assistant', model,
        content: [...(text ? [{ type: 'text', text }] : []), ...toolCalls.map((t) => ({ type: 'tool_use', id: t.id, name: t.name, input: JSON.parse(t.args) }))],
        stop_reason: stop, stop_sequence: null, usage: { input_tokens: usage.input, output_tokens: usage.output },
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (event: string, o: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(o)}\n\n`);
    send('message_start', { type: 'message_start', message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: usage.input, output_tokens: 1 } } });
    let index = 0;
    if (parts.length) {
      send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      for (const [i, p] of parts.entries()) {
        await pace(i);
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: p } });
        if (cut && i === Math.floor(parts.length / 2)) return void res.socket?.destroy();
      }
      send('content_block_stop', { type: 'content_block_stop', index });
      index++;
    }
    for (const t of toolCalls) {
      send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: t.id, name: t.name, input: {} } });
      send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: t.args } });
      send('content_block_stop', { type: 'content_block_stop', index });
      index++;
    }
    send('message_delta', { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: usage.output } });
    send('message_stop', { type: 'message_stop' });
    res.end();
    return;
  }

  if (api === 'google') {
    const reason = finish === 'length' ? 'MAX_TOKENS' : 'STOP';
    const usageMetadata = { promptTokenCount: usage.input, candidatesTokenCount: usage.output, totalTokenCount: usage.input + usage.output };
    const callParts = toolCalls.map((t) => ({ functionCall: { name: t.name, args: safeObject(t.args) } }));
    if (!stream) {
      return json(res, 200, { candidates: [{ content: { role: 'model', parts: [...(text ? [{ text }] : []), ...callParts] }, finishReason: reason, index: 0 }], usageMetadata, modelVersion: model });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\r\n\r\n`);
    for (const [i, p] of parts.entries()) {
      await pace(i);
      send({ candidates: [{ content: { role: 'model', parts: [{ text: p }] }, index: 0 }], modelVersion: model });
      if (cut && i === Math.floor(parts.length / 2)) return void res.socket?.destroy();
    }
    send({ candidates: [{ content: { role: 'model', parts: callParts.length ? callParts : [{ text: '' }] }, finishReason: reason, index: 0 }], usageMetadata, modelVersion: model });
    res.end();
    return;
  }

  // ollama /api/chat
  const created_at = new Date().toISOString();
  const calls = toolCalls.map((t) => ({ function: { name: t.name, arguments: safeObject(t.args) } }));
  const last = { model, created_at, message: { role: 'assistant', content: '' }, done: true, done_reason: finish === 'length' ? 'length' : 'stop', total_duration: 1, load_duration: 1, prompt_eval_count: usage.input, prompt_eval_duration: 1, eval_count: usage.output, eval_duration: 1 };
  if (!stream) return json(res, 200, { ...last, message: { role: 'assistant', content: text, ...(calls.length ? { tool_calls: calls } : {}) } });
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  for (const [i, p] of parts.entries()) {
    await pace(i);
    res.write(JSON.stringify({ model, created_at, message: { role: 'assistant', content: p }, done: false }) + '\n');
    if (cut && i === Math.floor(parts.length / 2)) return void res.socket?.destroy();
  }
  if (calls.length) res.write(JSON.stringify({ model, created_at, message: { role: 'assistant', content: '', tool_calls: calls }, done: false }) + '\n');
  res.end(JSON.stringify(last) + '\n');
}

function safeObject(s: string): Record<string, unknown> {
  try {
    const v = JSON.parse(s);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : { value: v };
  } catch {
    return { raw: s };
  }
}
