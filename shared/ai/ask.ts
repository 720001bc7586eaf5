import { FaztError } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { callTool, findTool, listTools, type ToolAccess, type ToolContext } from '../tools/index.js';
import type { ToolSpec } from './service.js';
import type { AiStream } from './stream.js';

/**
 * "Ask": the owner's question answered by the node's model with the kernel's tool catalogue
 * (shared/tools, the same tools the MCP server offers) through the AI SDK's tool calling
 * (docs/ai.md "Ask"). Tools marked destructive (`destructiveHint` and not `readOnlyHint`) wait for the
 * owner's confirmation; big tool results are trimmed before they reach the model. The answer is a
 * stream of Server-Sent Events in the AI SDK's UI message stream protocol
 * (https://ai-sdk.dev/docs/ai-sdk-ui/stream-protocol) plus two data parts: `data-confirm` (a tool
 * waits: `{ id, toolCallId, toolName, input, timeoutMs }`) and `data-confirmed` (`{ id, approved }`).
 */

/** What `POST /api/ai/ask` takes. */
export interface AskInput {
  /** The question (or `messages`: the conversation so far, AI SDK `ModelMessage`s). */
  prompt?: string;
  messages?: unknown[];
  /** `provider/model`; absent: the node's default model. */
  model?: string;
  /** Most model calls, 1–20 (default {@link ASK_DEFAULT_STEPS}). */
  maxSteps?: number;
  /** How long a destructive tool waits for the owner, ms (1,000–{@link ASK_CONFIRM_MAX_MS}; default {@link ASK_CONFIRM_MS}). */
  confirmTimeoutMs?: number;
}

/** Model calls an ask may make unless told otherwise. */
export const ASK_DEFAULT_STEPS = 8;
/** How long a destructive tool waits for the owner's confirmation by default, ms. */
export const ASK_CONFIRM_MS = 90_000;
/** The longest wait for a confirmation, ms: below the whole call's own limit (`AiService.timeoutMs`, 120 s by default). */
export const ASK_CONFIRM_MAX_MS = 100_000;
/** A tool result longer than this (characters of its JSON) is trimmed before it goes to the model. */
export const ASK_MAX_RESULT_CHARS = 12_000;

const SYSTEM = [
  "You are the assistant of the owner of a Fazt node (a personal cloud that runs the owner's apps).",
  'Answer the question briefly and concretely. Use the tools to look at the node (apps, versions, files, logs, jobs, events, kv, docs) instead of guessing;',
  'name the apps and figures you found. Tools that change the node run only after the owner approves each call in the dashboard;',
  'if a call is not confirmed, say so and do not retry it.',
].join(' ');

interface Pending {
  resolve: (approved: boolean) => void;
}

const pendingByKernel = new WeakMap<Kernel, Map<string, Pending>>();

function pendingOf(kernel: Kernel): Map<string, Pending> {
  let m = pendingByKernel.get(kernel);
  if (!m) pendingByKernel.set(kernel, (m = new Map()));
  return m;
}

/**
 * Answers a confirmation an ask is waiting for.
 * @param id the `id` of the `data-confirm` event.
 * @throws FaztError `NOT_FOUND` when no ask waits on that id (answered already, timed out, or the ask ended).
 */
export function confirmAsk(kernel: Kernel, id: string, approve: boolean): void {
  const p = pendingOf(kernel).get(id);
  if (!p) throw new FaztError('NOT_FOUND', `No tool call waits for confirmation "${id.slice(0, 60)}": it was answered already, timed out, or its question ended.`);
  p.resolve(approve);
}

/**
 * A tool result as the model gets it: unchanged when its JSON has at most `max` characters; else
 * `{ truncated: true, totalChars, preview }` where `preview` is the first `max` characters of the JSON.
 */
export function trimToolResult(result: unknown, max = ASK_MAX_RESULT_CHARS): unknown {
  const s = JSON.stringify(result ?? null);
  if (s.length <= max) return result ?? null;
  return { truncated: true, totalChars: s.length, preview: s.slice(0, max), note: `The result had ${s.length} characters; only the first ${max} are shown. Ask the tool for less (a smaller limit, one file, a filter).` };
}

/** Checks the body of `POST /api/ai/ask`. @throws FaztError `INVALID_ARGUMENT`. */
export function checkAskInput(b: Record<string, unknown>): AskInput {
  const bad = (m: string) => new FaztError('INVALID_ARGUMENT', `/api/ai/ask: ${m}`);
  if (b.question !== undefined && b.prompt === undefined) b = { ...b, prompt: b.question };
  if (b.confirmTimeoutMs !== undefined && (!Number.isSafeInteger(b.confirmTimeoutMs) || (b.confirmTimeoutMs as number) < 1000 || (b.confirmTimeoutMs as number) > ASK_CONFIRM_MAX_MS)) {
    throw bad(`confirmTimeoutMs must be a whole number of ms from 1000 to ${ASK_CONFIRM_MAX_MS}.`);
  }
  if (typeof b.prompt === 'string' && b.prompt.trim() === '') throw bad('the question is empty.');
  return { prompt: b.prompt as string | undefined, messages: b.messages as unknown[] | undefined, model: b.model as string | undefined, maxSteps: (b.maxSteps as number | undefined) ?? ASK_DEFAULT_STEPS, confirmTimeoutMs: b.confirmTimeoutMs as number | undefined };
}

const utf8 = new TextEncoder();

/**
 * Starts an ask and returns its SSE body. Configuration errors throw now (the route answers them
 * with their status): `INVALID_ARGUMENT`, `AI_UNAVAILABLE` (no provider: the message says how to add
 * one), `AI_MODEL_NOT_FOUND`. Provider errors after the start arrive as an `error` event.
 * @param ctx who asks (the owner) and the node's origin (for app URLs in results).
 * @param access the tools offered: `all` (destructive ones wait for confirmation) or `read`.
 */
export async function startAsk(ctx: ToolContext, input: AskInput, access: ToolAccess = 'all'): Promise<{ body: ReadableStream<Uint8Array>; early?: FaztError }> {
  const kernel = ctx.kernel;
  const confirmMs = input.confirmTimeoutMs ?? ASK_CONFIRM_MS;
  const tools: Record<string, ToolSpec> = {};
  for (const t of listTools(access)) tools[t.name] = { description: t.description, inputSchema: t.inputSchema };
  const events: unknown[] = [];
  let ended = false;
  let waiters: (() => void)[] = [];
  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const emit = (e: unknown) => {
    events.push(e);
    wake();
  };
  const mine = new Set<string>();
  let stream: AiStream | undefined;

  const waitForOwner = (toolCallId: string, toolName: string, args: unknown): Promise<boolean> => {
    const id = crypto.randomUUID();
    const pending = pendingOf(kernel);
    return new Promise<boolean>((resolve) => {
      // the stream's idle timer must not stop the call while the owner reads
      const keep = setInterval(() => stream?.keepAlive(), Math.max(50, Math.min(5000, Math.floor(kernel.ai.idleMs / 3))));
      const timer = setTimeout(() => done(false), confirmMs);
      const done = (approved: boolean) => {
        if (!pending.delete(id)) return;
        mine.delete(id);
        clearTimeout(timer);
        clearInterval(keep);
        emit({ type: 'data-confirmed', data: { id, toolCallId, approved } });
        resolve(approved);
      };
      pending.set(id, { resolve: done });
      mine.add(id);
      emit({ type: 'data-confirm', data: { id, toolCallId, toolName, input: args ?? null, timeoutMs: confirmMs } });
    });
  };

  const runTool = async (call: { toolCallId: string; toolName: string; input: unknown }): Promise<unknown> => {
    const def = findTool(call.toolName);
    if (def && def.annotations.destructiveHint && !def.annotations.readOnlyHint) {
      const approved = await waitForOwner(call.toolCallId, call.toolName, call.input);
      if (!approved) throw new FaztError('FORBIDDEN', `Not confirmed: the owner did not approve ${call.toolName}, so it was not run. Do not retry it; tell the owner.`);
    }
    const out = await callTool(ctx, call.toolName, call.input, access);
    if (!out.ok) throw new FaztError(out.error.code, out.error.message);
    return trimToolResult(out.result);
  };

  emit({ type: 'start' });
  const prompt = input.messages !== undefined ? { messages: input.messages } : { prompt: input.prompt };
  stream = kernel.ai.streamText({ appId: '', appName: 'owner' }, { ...prompt, system: SYSTEM, model: input.model, tools, maxSteps: input.maxSteps ?? ASK_DEFAULT_STEPS }, runTool);
  const s = stream;
  const early = await s.firstOutput();

  const refuseAll = () => {
    for (const id of [...mine]) pendingOf(kernel).get(id)?.resolve(false);
  };
  // pump the model's parts into the event list (as the UI message stream protocol names them)
  void (async () => {
    let cursor = 0;
    let textId: string | undefined;
    let n = 0;
    let stepOpen = false;
    const closeText = () => {
      if (textId) emit({ type: 'text-end', id: textId });
      textId = undefined;
    };
    const openStep = () => {
      if (!stepOpen) emit({ type: 'start-step' });
      stepOpen = true;
    };
    for (;;) {
      const r = await s.next(cursor);
      cursor = r.cursor;
      for (const p of r.parts) {
        switch (p.type) {
          case 'text':
            openStep();
            if (!textId) emit({ type: 'text-start', id: (textId = `t${n++}`) });
            emit({ type: 'text-delta', id: textId, delta: p.text });
            break;
          case 'tool-call':
            openStep();
            closeText();
            emit(
              p.error
                ? { type: 'tool-input-error', toolCallId: p.toolCallId, toolName: p.toolName, input: p.input ?? null, errorText: `${p.error.code}: ${p.error.message}` }
                : { type: 'tool-input-available', toolCallId: p.toolCallId, toolName: p.toolName, input: p.input ?? null },
            );
            break;
          case 'tool-result':
            openStep();
            closeText();
            emit(p.error ? { type: 'tool-output-error', toolCallId: p.toolCallId, errorText: `${p.error.code}: ${p.error.message}` } : { type: 'tool-output-available', toolCallId: p.toolCallId, output: p.output ?? null });
            break;
          case 'step':
            closeText();
            if (stepOpen) emit({ type: 'finish-step' });
            stepOpen = false;
            break;
          case 'finish':
            closeText();
            emit({ type: 'finish', finishReason: p.finishReason, messageMetadata: { model: s.model, usage: p.usage } });
            break;
          case 'error':
            closeText();
            emit({ type: 'error', errorText: `${p.error.code}: ${p.error.message}` });
            break;
        }
      }
      if (r.done && cursor >= s.parts.length) break;
    }
    refuseAll();
    ended = true;
    wake();
  })();

  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull: async (c) => {
      while (sent >= events.length && !ended) await new Promise<void>((r) => waiters.push(r));
      let out = '';
      for (; sent < events.length; sent++) out += `data: ${JSON.stringify(events[sent])}\n\n`;
      if (ended) out += 'data: [DONE]\n\n';
      if (out) c.enqueue(utf8.encode(out));
      if (ended) c.close();
    },
    cancel: () => {
      refuseAll();
      s.cancel();
    },
  });
  return { body, early };
}
