import { FaztError, isFaztError } from '../errors.js';
import type { AiCaller, AiService, EmbedOptions, ObjectCallOptions, TextCallOptions, ToolSpec } from './service.js';
import type { AiStream, StreamPart } from './stream.js';

/**
 * The runtime's side of `fazt.ai` (the ops `ai.begin`, `ai.result`, `ai.next`, `ai.tool`,
 * `ai.toolResult`; the prelude holds the other side). A call begins synchronously and gets an id;
 * its tools stay in the sandbox: when the model calls one, the request waits here until the
 * sandbox's tool pump (`ai.tool`) takes it, runs the tool's `execute` and hands back the result
 * (`ai.toolResult`). A stream's HTTP body is served from here ({@link AppAiCalls.body}) without a
 * round trip through the sandbox per token.
 */

/** What `ai.begin` takes: the call's kind and its options (tools without their `execute`). */
export type BeginArgs =
  | ({ kind: 'text' | 'stream' } & TextCallOptions & { tools?: Record<string, ToolSpec> })
  | ({ kind: 'object' } & ObjectCallOptions)
  | ({ kind: 'embed' } & EmbedOptions);

/** A tool call waiting for the sandbox. */
export interface ToolRequest {
  toolCallId: string;
  toolName: string;
  input: unknown;
}

interface Call {
  appId: string;
  result: Promise<unknown>;
  stream?: AiStream;
  /** Tool calls not yet taken by the sandbox. */
  queue: ToolRequest[];
  /** The sandbox's pump waiting for a tool call. */
  takers: ((r: ToolRequest | null) => void)[];
  /** Tool calls taken, waiting for their results. */
  running: Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>;
  ended: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/** Most calls one app may have open at once. */
export const MAX_OPEN_CALLS_PER_APP = 32;
/** How long an ended call's result stays to be read, ms. */
const KEEP_MS = 60_000;

/** Open `fazt.ai` calls of all apps. */
export class AppAiCalls {
  private readonly calls = new Map<string, Call>();

  constructor(private readonly ai: AiService) {}

  /** Calls open now (all apps), for diagnostics and tests. */
  get open(): number {
    return this.calls.size;
  }

  private own(appId: string, id: unknown): Call {
    const c = typeof id === 'string' ? this.calls.get(id) : undefined;
    if (!c || c.appId !== appId) throw new FaztError('NOT_FOUND', 'fazt.ai: this call is over or unknown (results are kept 60 s after a call ends).');
    return c;
  }

  /**
   * Begins a call for an app (permission checked by the caller).
   * @returns its id.
   * @throws FaztError for bad options and the configuration errors of the call (see AiService).
   */
  begin(caller: AiCaller, args: BeginArgs): { id: string } {
    if (typeof args !== 'object' || args === null) throw new FaztError('INVALID_ARGUMENT', 'fazt.ai: pass an options object.');
    let mine = 0;
    for (const c of this.calls.values()) if (c.appId === caller.appId && !c.ended) mine++;
    if (mine >= MAX_OPEN_CALLS_PER_APP) throw new FaztError('LIMIT_EXCEEDED', `fazt.ai: the app has ${mine} model calls open; finish some first (at most ${MAX_OPEN_CALLS_PER_APP}).`);
    const { kind, ...opts } = args;
    const call: Call = { appId: caller.appId, result: Promise.resolve(), queue: [], takers: [], running: new Map(), ended: false };
    const id = crypto.randomUUID();
    const hasTools = (kind === 'text' || kind === 'stream') && (opts as TextCallOptions).tools && Object.keys((opts as TextCallOptions).tools!).length > 0;
    const runTool = hasTools
      ? (req: ToolRequest) =>
          new Promise<unknown>((resolve, reject) => {
            if (call.ended) return reject(new FaztError('APP_ERROR', 'the call ended'));
            call.running.set(req.toolCallId, { resolve, reject });
            const t = call.takers.shift();
            if (t) t(req);
            else call.queue.push(req);
          })
      : undefined;
    switch (kind) {
      case 'text':
        call.result = this.ai.generateText(caller, opts as TextCallOptions, runTool);
        break;
      case 'stream': {
        call.stream = this.ai.streamText(caller, opts as TextCallOptions, runTool);
        call.result = call.stream.result();
        break;
      }
      case 'object':
        call.result = this.ai.generateObject(caller, opts as ObjectCallOptions);
        break;
      case 'embed':
        call.result = this.ai.embed(caller, opts as EmbedOptions);
        break;
      default:
        throw new FaztError('INVALID_ARGUMENT', `fazt.ai: unknown call kind "${String(kind)}".`);
    }
    call.result.catch(() => {});
    this.calls.set(id, call);
    const finish = () => {
      call.ended = true;
      for (const t of call.takers.splice(0)) t(null);
      for (const r of call.running.values()) r.reject(new FaztError('APP_ERROR', 'the call ended'));
      call.running.clear();
      call.timer = setTimeout(() => this.calls.delete(id), KEEP_MS);
      (call.timer as { unref?: () => void }).unref?.();
    };
    call.result.then(finish, finish);
    return { id };
  }

  /** The call's result when it ends. @throws FaztError the call's error. */
  result(appId: string, id: string): Promise<unknown> {
    return this.own(appId, id).result;
  }

  /** A stream's parts after `cursor` (for `textStream` / `fullStream` in the sandbox). */
  next(appId: string, id: string, cursor: number): Promise<{ parts: StreamPart[]; cursor: number; done: boolean }> {
    const c = this.own(appId, id);
    if (!c.stream) throw new FaztError('INVALID_ARGUMENT', 'fazt.ai: this call is not a stream.');
    return c.stream.next(Math.max(0, Math.floor(Number(cursor) || 0)));
  }

  /** The next tool call for the sandbox to run, or `null` when the call ended. */
  tool(appId: string, id: string): Promise<ToolRequest | null> {
    const c = this.own(appId, id);
    const q = c.queue.shift();
    if (q) return Promise.resolve(q);
    if (c.ended) return Promise.resolve(null);
    return new Promise((resolve) => c.takers.push(resolve));
  }

  /** A tool's result from the sandbox: `output`, or `error` (a message, shown to the model as the tool's error). */
  toolResult(appId: string, id: string, a: { toolCallId: string; output?: unknown; error?: { code?: string; message?: string } }): null {
    const c = this.own(appId, id);
    const r = c.running.get(a.toolCallId);
    if (!r) return null;
    c.running.delete(a.toolCallId);
    if (a.error) r.reject(new FaztError('APP_ERROR', String(a.error.message ?? 'the tool failed').slice(0, 1000)));
    else r.resolve(a.output ?? null);
    return null;
  }

  /**
   * A stream's HTTP body: `ready` resolves when the first part came (with the error when the call
   * failed before any output: the response is then that error, not a 200 stream).
   */
  body(appId: string, id: string, format: 'text' | 'sse'): { ready: Promise<FaztError | undefined>; stream: ReadableStream<Uint8Array> } {
    const c = this.own(appId, id);
    if (!c.stream) throw new FaztError('INVALID_ARGUMENT', 'fazt.ai: only a streamText result can be a streaming response.');
    const s = c.stream;
    return { ready: s.firstOutput().then((e) => (e && isFaztError(e) ? e : undefined)), stream: format === 'sse' ? s.sseBody() : s.textBody() };
  }
}
