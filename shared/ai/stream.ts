import type { FaztError } from '../errors.js';
import type { TokenUsage, ToolCallInfo, ToolResultInfo, TextResult } from './service.js';

/**
 * One streaming model call (`streamText`): the parts as they come, kept in order so several readers
 * (app code iterating `textStream`, the HTTP response, the final result) each read at their own
 * pace. Bodies for HTTP: plain text (`text/plain`, the deltas) and Server-Sent Events in the AI
 * SDK's UI message stream protocol (https://ai-sdk.dev/docs/ai-sdk-ui/stream-protocol), which
 * `useChat` and the example chat page read.
 */

/** A part of the stream. */
export type StreamPart =
  | { type: 'text'; text: string }
  | ({ type: 'tool-call' } & ToolCallInfo)
  | ({ type: 'tool-result' } & ToolResultInfo)
  /** A model call (step) finished. */
  | { type: 'step' }
  | { type: 'finish'; finishReason: string; usage: TokenUsage }
  /** The stream failed; always the last part. */
  | { type: 'error'; error: { code: string; message: string } };

const utf8 = new TextEncoder();

/** A streaming call's parts and their readers. */
export class AiStream {
  /** Identifies the stream to the app that started it (random). */
  readonly id = crypto.randomUUID();
  readonly parts: StreamPart[] = [];
  /** Set when the stream failed. */
  error: FaztError | undefined;
  /** No part will follow. */
  ended = false;
  /** A `finish` part arrived. */
  finished = false;
  /** Some text arrived. */
  hasText = false;
  /** The idle timer stopped the call. */
  idleFired = false;
  private waiters: (() => void)[] = [];
  private idle: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param model `provider/model`, for messages.
   * @param idleMs longest wait for the next part before the call is aborted, ms.
   * @param abort aborts the provider request (idle, a reader cancelled, total timeout).
   */
  constructor(
    /** `provider/model`; a relayed call's becomes the paired node's once it took the call. */
    public model: string,
    private readonly idleMs: number,
    private readonly abort: AbortController,
  ) {
    this.armIdle();
  }

  private armIdle(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      this.idleFired = true;
      this.abort.abort(new DOMException('idle', 'TimeoutError'));
    }, this.idleMs);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Adds a part (the service, as the provider sends). */
  push(part: StreamPart): void {
    if (this.ended) return;
    this.parts.push(part);
    if (part.type === 'text') this.hasText = true;
    if (part.type === 'finish') this.finished = true;
    this.armIdle();
    this.wake();
  }

  /** Restarts the idle timer without a part (a tool that waits for a person, e.g. the Ask box's confirmation). */
  keepAlive(): void {
    if (!this.ended) this.armIdle();
  }

  /** Ends the stream successfully. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.idle) clearTimeout(this.idle);
    this.wake();
  }

  /** Ends the stream with an error (appended as its last part). */
  fail(err: FaztError): void {
    if (this.ended) return;
    this.error = err;
    this.parts.push({ type: 'error', error: { code: err.code, message: err.message } });
    this.end();
  }

  /** Stops the provider call (a reader went away). */
  cancel(): void {
    if (!this.ended) this.abort.abort(new DOMException('cancelled', 'AbortError'));
  }

  /** Resolves when there are parts past `cursor`, or the stream ended. */
  waitFrom(cursor: number): Promise<void> {
    if (this.parts.length > cursor || this.ended) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Parts after `cursor` (waiting for at least one unless ended). */
  async next(cursor: number): Promise<{ parts: StreamPart[]; cursor: number; done: boolean }> {
    await this.waitFrom(cursor);
    const parts = this.parts.slice(cursor);
    return { parts, cursor: this.parts.length, done: this.ended };
  }

  /**
   * Resolves once the first part came: with the error when the stream failed before sending any
   * text (the HTTP layer then answers with the error's status instead of a 200 stream).
   */
  async firstOutput(): Promise<FaztError | undefined> {
    await this.waitFrom(0);
    const first = this.parts[0];
    return first?.type === 'error' ? this.error : undefined;
  }

  /** The whole result, when the stream ended. @throws FaztError the stream's error. */
  async result(): Promise<TextResult> {
    while (!this.ended) await this.waitFrom(this.parts.length);
    if (this.error) throw this.error;
    let text = '';
    let steps = 0;
    const toolCalls: ToolCallInfo[] = [];
    const toolResults: ToolResultInfo[] = [];
    let finish: Extract<StreamPart, { type: 'finish' }> | undefined;
    for (const p of this.parts) {
      if (p.type === 'text') text += p.text;
      else if (p.type === 'step') steps++;
      else if (p.type === 'finish') finish = p;
      else if (p.type === 'tool-call') toolCalls.push(strip(p));
      else if (p.type === 'tool-result') toolResults.push(strip(p));
    }
    return { text, toolCalls, toolResults, usage: finish?.usage ?? { inputTokens: 0, outputTokens: 0, totalTokens: 0 }, finishReason: finish?.finishReason ?? 'other', model: this.model, steps };
  }

  /**
   * The text deltas as a byte stream (UTF-8). A failure mid-way errors the stream (the HTTP
   * response is cut without its final chunk); cancelling it stops the provider call.
   */
  textBody(): ReadableStream<Uint8Array> {
    let cursor = 0;
    return new ReadableStream<Uint8Array>({
      pull: async (c) => {
        for (;;) {
          const r = await this.next(cursor);
          cursor = r.cursor;
          let out = '';
          for (const p of r.parts) {
            if (p.type === 'text') out += p.text;
            else if (p.type === 'error') {
              if (out) c.enqueue(utf8.encode(out));
              c.error(new Error(`${p.error.code}: ${p.error.message}`));
              return;
            }
          }
          if (out) c.enqueue(utf8.encode(out));
          if (r.done && cursor >= this.parts.length) {
            c.close();
            return;
          }
          if (out) return;
        }
      },
      cancel: () => this.cancel(),
    });
  }

  /**
   * Server-Sent Events (`text/event-stream`) in the AI SDK's UI message stream protocol (v1):
   * `start`, `start-step`, `text-start`/`text-delta`/`text-end`, `tool-input-available`,
   * `tool-output-available`/`tool-output-error`, `finish-step`, `finish`, `error` (its `errorText`
   * starts with the code, e.g. `AI_STREAM_INTERRUPTED: …`), then `data: [DONE]`.
   */
  sseBody(): ReadableStream<Uint8Array> {
    let cursor = 0;
    let started = false;
    let stepOpen = false;
    let textId: string | undefined;
    let n = 0;
    const ev = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
    const closeText = () => {
      if (!textId) return '';
      const s = ev({ type: 'text-end', id: textId });
      textId = undefined;
      return s;
    };
    const openStep = () => {
      if (stepOpen) return '';
      stepOpen = true;
      return ev({ type: 'start-step' });
    };
    return new ReadableStream<Uint8Array>({
      pull: async (c) => {
        let out = '';
        if (!started) {
          started = true;
          out += ev({ type: 'start' });
        }
        const r = await this.next(cursor);
        cursor = r.cursor;
        for (const p of r.parts) {
          switch (p.type) {
            case 'text':
              out += openStep();
              if (!textId) {
                textId = `t${n++}`;
                out += ev({ type: 'text-start', id: textId });
              }
              out += ev({ type: 'text-delta', id: textId, delta: p.text });
              break;
            case 'tool-call':
              out += openStep() + closeText();
              out += p.error
                ? ev({ type: 'tool-input-error', toolCallId: p.toolCallId, toolName: p.toolName, input: p.input ?? null, errorText: `${p.error.code}: ${p.error.message}` })
                : ev({ type: 'tool-input-available', toolCallId: p.toolCallId, toolName: p.toolName, input: p.input ?? null });
              break;
            case 'tool-result':
              out += openStep() + closeText();
              out += p.error ? ev({ type: 'tool-output-error', toolCallId: p.toolCallId, errorText: `${p.error.code}: ${p.error.message}` }) : ev({ type: 'tool-output-available', toolCallId: p.toolCallId, output: p.output ?? null });
              break;
            case 'step':
              out += closeText();
              if (stepOpen) out += ev({ type: 'finish-step' });
              stepOpen = false;
              break;
            case 'finish':
              out += closeText() + ev({ type: 'finish', finishReason: p.finishReason });
              break;
            case 'error':
              out += closeText() + ev({ type: 'error', errorText: `${p.error.code}: ${p.error.message}` });
              break;
          }
        }
        if (r.done && cursor >= this.parts.length) out += 'data: [DONE]\n\n';
        if (out) c.enqueue(utf8.encode(out));
        if (r.done && cursor >= this.parts.length) c.close();
      },
      cancel: () => this.cancel(),
    });
  }
}

function strip<T extends { type: string }>(p: T): Omit<T, 'type'> {
  const { type: _t, ...rest } = p;
  return rest;
}
