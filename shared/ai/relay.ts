import type {
  EmbeddingModelV3,
  EmbeddingModelV3CallOptions,
  EmbeddingModelV3Result,
  LanguageModelV3,
  LanguageModelV3CallOptions,
  LanguageModelV3GenerateResult,
  LanguageModelV3StreamPart,
  LanguageModelV3StreamResult,
} from '@ai-sdk/provider';
import { FaztError, isFaztError, type FaztErrorCode } from '../errors.js';
import type { Logger } from '../ports.js';
import { aiError } from './errors.js';
import type { UsageStore } from './usage.js';

/**
 * AI relay through a paired node (docs/ai.md "Relay through a paired node"). A node with no provider
 * of its own (the phone's browser node) calls models through a paired node that has one (the hub),
 * over the authenticated mesh link (docs/mesh.md "The link", message kind `ai`).
 *
 * The relay works at the AI SDK's language-model level (`LanguageModelV3`, `EmbeddingModelV3` of
 * `@ai-sdk/provider` 3): the phone's `AiService` runs the SDK's whole loop as usual (steps, tool
 * execution in the app's sandbox, usage, budgets, permissions) with a model object whose
 * `doGenerate` / `doStream` / `doEmbed` send the call options to the hub and return what the hub's
 * own provider model answered. The hub's keys never leave it: only prompts, tool schemas and
 * answers cross the link.
 *
 * Wire (each value of `{ t: "ai", m }` on the link):
 * - phone → hub: `{ id, k: "call", d }` with `d` = JSON text of `{ op: "generate" | "stream" | "embed", model?, options }`;
 *   `{ id, k: "cancel" }`.
 * - hub → phone: `{ id, k: "ack", d }` (`d` = `{ model }`, the hub's `provider/model`: it took the call);
 *   `{ id, k: "part", d }` (a stream part); `{ id, k: "result", d }` (generate/embed); `{ id, k: "end" }`
 *   (stream done); `{ id, k: "error", d }` (`d` = `{ code, message, retryAfterSeconds? }`: the call ended).
 * - Any message whose JSON text is longer than {@link PIECE_CHARS} is sent as several with
 *   `more: true` on all but the last, each carrying a slice of `d` (every frame stays under the
 *   link's 256 KiB limit). `d` is JSON with `Uint8Array`, `Date` and `URL` encoded as
 *   `{ "$fazt": "u8" | "date" | "url", "v": … }`.
 *
 * A peer that lies (malformed message, unknown request id, a part for a request never made,
 * oversized) is logged and dropped, or the request fails; nothing it sends can crash the node.
 */

/** `id`s of relayed calls: 1–64 letters, digits, `.`, `_`, `-`. */
const ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** Characters of `d` per message: JSON-escaped (at most 6 bytes per character) and UTF-8 encoded it stays under `MAX_FRAME_BYTES`. */
export const PIECE_CHARS = 32_000;
/** Longest call (its options' JSON text) a hub accepts, characters. */
export const MAX_CALL_CHARS = 4 * 1024 * 1024;
/** Most characters a phone accepts for one call's answer (all its parts together). */
export const MAX_ANSWER_CHARS = 32 * 1024 * 1024;
/** Most relayed calls a hub runs at once for one peer; more are refused with `AI_RATE_LIMITED`. */
export const MAX_RELAYED_CALLS_PER_PEER = 4;
/** Time a hub has to take a call (`ack` or `error`), ms: a peer that says nothing is skipped. */
export const ACK_TIMEOUT_MS = 5_000;
/** Usage and budgets of calls relayed for peer `nodeId` are kept under the app id `relay:<nodeId>`. */
export const relayUsageId = (nodeId: string): string => `relay:${nodeId}`;

/** Error codes a hub may send; anything else arrives as `AI_UNAVAILABLE`. */
const RELAYED_CODES = new Set<FaztErrorCode>(['AI_UNAVAILABLE', 'AI_AUTH', 'AI_RATE_LIMITED', 'AI_MODEL_NOT_FOUND', 'AI_BUDGET_EXCEEDED', 'AI_STREAM_INTERRUPTED', 'AI_OUTPUT_INVALID', 'INVALID_ARGUMENT']);
/** Call options the hub passes to its provider; the rest (`abortSignal`, `headers`, `includeRawChunks`) are dropped. */
const CALL_KEYS = ['prompt', 'maxOutputTokens', 'temperature', 'stopSequences', 'topP', 'topK', 'presencePenalty', 'frequencyPenalty', 'responseFormat', 'seed', 'tools', 'toolChoice', 'providerOptions'] as const;

/** The messages of the relay, as they travel in `{ t: "ai", m }`. */
export interface RelayMessage {
  id: string;
  k: 'call' | 'cancel' | 'ack' | 'part' | 'result' | 'end' | 'error';
  /** JSON text (see the module comment), or a slice of it when `more`. */
  d?: string;
  /** More slices of `d` follow. */
  more?: true;
}

/** What the relay needs of the mesh (implemented by `MeshService`, see kernel.ts). */
export interface RelayLinks {
  /** Node ids of the paired peers with an open link now, in the order to try them. */
  connected(): string[];
  /** A peer's name, for messages. */
  name(nodeId: string): string | undefined;
  /** Sends `{ t: "ai", m: message }` over the open link. @throws FaztError `PEER_UNREACHABLE` when none is open. */
  send(nodeId: string, message: RelayMessage): void;
}

/** What the hub side needs of its own AI service. */
export interface RelayHub {
  /** Whether this node lets paired peers use its AI (the owner's switch). */
  serving(): boolean;
  /**
   * The node's own model for `spec` (never relayed further): resolved at once, its model object
   * built by `build` (which loads the AI SDK on first use).
   * @throws FaztError `AI_UNAVAILABLE` (no provider), `AI_MODEL_NOT_FOUND`; `build` rejects with
   *   `INVALID_ARGUMENT` for an embedding call to a kind without embeddings.
   */
  model(spec: string | undefined, kind: 'language' | 'embedding'): { label: string; providerKind: string; build(): Promise<{ language?: LanguageModelV3; embedding?: EmbeddingModelV3 }> };
  usage: UsageStore;
  /** Longest a relayed call may run, ms. */
  timeoutMs: number;
}

// ------------------------------------------------------------------------------------------------
// Encoding

const TAG = '$fazt';

/** JSON text of `v` with `Uint8Array`, `Date` and `URL` kept (see the module comment); functions and AbortSignals are dropped. */
export function encodeRelay(v: unknown): string {
  return JSON.stringify(v, function (this: Record<string, unknown>, key: string, value: unknown) {
    const orig = this[key];
    if (orig instanceof Uint8Array) {
      let s = '';
      for (let i = 0; i < orig.length; i += 0x8000) s += String.fromCharCode(...orig.subarray(i, i + 0x8000));
      return { [TAG]: 'u8', v: btoa(s) };
    }
    if (orig instanceof Date) return { [TAG]: 'date', v: orig.getTime() };
    if (orig instanceof URL) return { [TAG]: 'url', v: orig.href };
    if (typeof AbortSignal !== 'undefined' && orig instanceof AbortSignal) return undefined;
    return value;
  });
}

/** Parses {@link encodeRelay}'s text. @throws SyntaxError for text that is not JSON. */
export function decodeRelay(text: string): unknown {
  return JSON.parse(text, (_k, value: unknown) => {
    if (value && typeof value === 'object' && !Array.isArray(value) && TAG in value) {
      const o = value as { [TAG]: unknown; v: unknown };
      if (o[TAG] === 'u8' && typeof o.v === 'string') {
        const s = atob(o.v);
        const b = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
        return b;
      }
      if (o[TAG] === 'date' && typeof o.v === 'number') return new Date(o.v);
      if (o[TAG] === 'url' && typeof o.v === 'string') {
        try {
          return new URL(o.v);
        } catch {
          return o.v;
        }
      }
    }
    return value;
  });
}

/** Sends `k` with the JSON text `d`, in slices when long. */
function sendSliced(links: RelayLinks, nodeId: string, id: string, k: RelayMessage['k'], d?: string): void {
  if (d === undefined || d.length <= PIECE_CHARS) {
    links.send(nodeId, d === undefined ? { id, k } : { id, k, d });
    return;
  }
  for (let i = 0; i < d.length; i += PIECE_CHARS) {
    const last = i + PIECE_CHARS >= d.length;
    links.send(nodeId, last ? { id, k, d: d.slice(i) } : { id, k, d: d.slice(i, i + PIECE_CHARS), more: true });
  }
}

/** A well-formed relay message, or `undefined`. */
function readMessage(m: unknown): RelayMessage | undefined {
  if (!m || typeof m !== 'object' || Array.isArray(m)) return undefined;
  const x = m as Record<string, unknown>;
  if (typeof x.id !== 'string' || !ID_PATTERN.test(x.id)) return undefined;
  if (!['call', 'cancel', 'ack', 'part', 'result', 'end', 'error'].includes(x.k as string)) return undefined;
  if (x.d !== undefined && (typeof x.d !== 'string' || x.d.length > PIECE_CHARS)) return undefined;
  if (x.more !== undefined && x.more !== true) return undefined;
  return { id: x.id, k: x.k as RelayMessage['k'], ...(x.d !== undefined ? { d: x.d } : {}), ...(x.more ? { more: true as const } : {}) };
}

/** The kernel error a hub sent (only AI codes pass; the message says it came through the peer). */
function relayedError(d: unknown, via: string): FaztError {
  const o = (d && typeof d === 'object' ? d : {}) as { code?: unknown; message?: unknown; retryAfterSeconds?: unknown };
  const code = RELAYED_CODES.has(o.code as FaztErrorCode) ? (o.code as FaztErrorCode) : 'AI_UNAVAILABLE';
  const message = typeof o.message === 'string' ? o.message.slice(0, 600) : 'the call failed';
  const ra = typeof o.retryAfterSeconds === 'number' && Number.isFinite(o.retryAfterSeconds) && o.retryAfterSeconds >= 0 ? Math.min(Math.ceil(o.retryAfterSeconds), 86_400 * 31) : undefined;
  return new FaztError(code, `Through the paired node ${via}: ${message}`, ra !== undefined ? { retryAfterSeconds: ra } : undefined);
}

// ------------------------------------------------------------------------------------------------
// The relay

/** A call this node sent and waits on. */
interface Outgoing {
  nodeId: string;
  /** Slices of `d` received so far. */
  buf: string;
  /** Characters received for the whole call. */
  received: number;
  /** A message of the call (`via`: the peer, as messages name it). */
  on(k: 'ack' | 'part' | 'result' | 'end' | 'error', d: unknown, via: string): void;
  /** The link closed or the answer broke a rule. */
  fail(e: FaztError): void;
}

/** A call a peer asked this node to run. */
interface Incoming {
  buf: string;
  abort?: AbortController;
  running: boolean;
}

let seq = 0;
const newId = (): string => `${Date.now().toString(36)}.${(++seq).toString(36)}.${Math.floor(Math.random() * 1e9).toString(36)}`;

/**
 * Both sides of the relay for one node: the phone side ({@link languageModel}, {@link embeddingModel})
 * and the hub side (answering calls). Feed it every `ai` message ({@link receive}) and every link
 * that closes ({@link linkClosed}).
 */
export class AiRelay {
  private readonly out = new Map<string, Outgoing>();
  /** Calls from peers, by `nodeId id`. */
  private readonly incoming = new Map<string, Incoming>();
  /** Messages dropped because they broke a rule (for tests and diagnostics). */
  dropped = 0;

  constructor(
    private readonly links: RelayLinks,
    private readonly hub: RelayHub,
    private readonly logger?: Logger,
  ) {}

  /** True when a link to some paired peer is open (a relayed call can be tried). */
  available(): boolean {
    return this.links.connected().length > 0;
  }

  private via(nodeId: string): string {
    const n = this.links.name(nodeId);
    return n ? `"${n.slice(0, 60)}"` : nodeId.slice(0, 12);
  }

  private drop(nodeId: string, why: string, m?: { id?: string; k?: string }): void {
    this.dropped++;
    this.logger?.warn('ai relay: message dropped', { peer: nodeId, why, id: m?.id?.slice(0, 64), k: m?.k });
  }

  /** Handles one `ai` message from the authenticated peer `nodeId` (never throws). */
  receive(nodeId: string, raw: unknown): void {
    try {
      const m = readMessage(raw);
      if (!m) return this.drop(nodeId, 'malformed', raw as { id?: string });
      if (m.k === 'call' || m.k === 'cancel') this.hubReceive(nodeId, m);
      else this.phoneReceive(nodeId, m);
    } catch (e) {
      this.logger?.error('ai relay: handling a message failed', { peer: nodeId, error: String((e as Error)?.message ?? e) });
    }
  }

  /** The link to `nodeId` closed: its calls fail at once (here) and stop (there). */
  linkClosed(nodeId: string): void {
    for (const [id, o] of [...this.out]) {
      if (o.nodeId !== nodeId) continue;
      this.out.delete(id);
      o.fail(new FaztError('AI_STREAM_INTERRUPTED', `The link to the paired node ${this.via(nodeId)} closed during the call. Reconnect (Devices) and ask again.`));
    }
    const prefix = `${nodeId} `;
    for (const [key, c] of [...this.incoming]) {
      if (!key.startsWith(prefix)) continue;
      this.incoming.delete(key);
      c.abort?.abort(new FaztError('AI_STREAM_INTERRUPTED', 'the peer went away'));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Phone side

  private phoneReceive(nodeId: string, m: RelayMessage): void {
    const o = this.out.get(m.id);
    if (!o || o.nodeId !== nodeId) return this.drop(nodeId, 'no such call', m);
    o.received += m.d?.length ?? 0;
    if (o.received > MAX_ANSWER_CHARS) {
      this.out.delete(m.id);
      this.cancel(nodeId, m.id);
      return o.fail(new FaztError('AI_UNAVAILABLE', `The paired node ${this.via(nodeId)} sent an answer over ${MAX_ANSWER_CHARS} characters; the call was stopped.`));
    }
    if (m.more) {
      o.buf += m.d ?? '';
      return;
    }
    const text = o.buf + (m.d ?? '');
    o.buf = '';
    let d: unknown;
    if (text) {
      try {
        d = decodeRelay(text);
      } catch {
        this.out.delete(m.id);
        this.cancel(nodeId, m.id);
        this.drop(nodeId, 'not JSON', m);
        return o.fail(new FaztError('AI_UNAVAILABLE', `The paired node ${this.via(nodeId)} sent an unreadable answer; the call was stopped.`));
      }
    }
    if (m.k === 'end' || m.k === 'error' || m.k === 'result') this.out.delete(m.id);
    o.on(m.k as 'ack' | 'part' | 'result' | 'end' | 'error', d, this.via(nodeId));
  }

  private cancel(nodeId: string, id: string): void {
    try {
      this.links.send(nodeId, { id, k: 'cancel' });
    } catch {
      /* the link is gone: the hub stops the call itself */
    }
  }

  /**
   * Sends a call to the first connected peer that takes it (an `AI_UNAVAILABLE` refusal, or no answer
   * in {@link ACK_TIMEOUT_MS}, moves on to the next).
   * @param handler gets the call's messages after the `ack`.
   * @returns the peer that took the call, its `provider/model`, and the call's id.
   * @throws FaztError `AI_UNAVAILABLE` when no peer took it; the taking peer's refusal otherwise.
   */
  private async place(op: 'generate' | 'stream' | 'embed', spec: string | undefined, options: unknown, signal: AbortSignal | undefined, handler: Omit<Outgoing, 'nodeId' | 'buf' | 'received'>): Promise<{ nodeId: string; id: string; model: string }> {
    const peers = this.links.connected();
    if (!peers.length) throw new FaztError('AI_UNAVAILABLE', 'No paired node is connected to relay the call through: add a key on this device, or connect to your paired node (Devices).');
    const body = encodeRelay({ op, ...(spec ? { model: spec } : {}), options });
    if (body.length > MAX_CALL_CHARS) throw new FaztError('INVALID_ARGUMENT', `This call is too large to relay through a paired node (${body.length} characters of at most ${MAX_CALL_CHARS}).`);
    const refusals: string[] = [];
    for (const nodeId of peers) {
      signal?.throwIfAborted();
      const id = newId();
      const taken = await new Promise<{ model: string } | FaztError>((resolve) => {
        let settled = false;
        const settle = (v: { model: string } | FaztError) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(v);
        };
        const timer = setTimeout(() => {
          this.out.delete(id);
          this.cancel(nodeId, id);
          settle(new FaztError('AI_UNAVAILABLE', `The paired node ${this.via(nodeId)} did not take the call within ${ACK_TIMEOUT_MS / 1000} s (does it run an older Fazt?).`));
        }, ACK_TIMEOUT_MS);
        const onAbort = () => {
          this.out.delete(id);
          this.cancel(nodeId, id);
          settle(signal!.reason instanceof Error ? (signal!.reason as FaztError) : new FaztError('AI_UNAVAILABLE', 'The call was cancelled.'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.out.set(id, {
          nodeId,
          buf: '',
          received: 0,
          on: (k, d, via) => {
            if (settled) return handler.on(k, d, via);
            if (k === 'ack') return settle({ model: typeof (d as { model?: unknown })?.model === 'string' ? (d as { model: string }).model.slice(0, 200) : 'relayed' });
            if (k === 'error') return settle(relayedError(d, this.via(nodeId)));
            // a part before the ack: a peer that does not follow the protocol
            this.out.delete(id);
            this.cancel(nodeId, id);
            this.drop(nodeId, 'answer before ack', { id, k });
            settle(new FaztError('AI_UNAVAILABLE', `The paired node ${this.via(nodeId)} answered out of turn.`));
          },
          fail: (e) => (settled ? handler.fail(e) : settle(new FaztError('AI_UNAVAILABLE', e.message))),
        });
        try {
          sendSliced(this.links, nodeId, id, 'call', body);
        } catch (e) {
          this.out.delete(id);
          settle(isFaztError(e) ? new FaztError('AI_UNAVAILABLE', `The paired node ${this.via(nodeId)}: ${e.message}`) : new FaztError('AI_UNAVAILABLE', String(e)));
        }
      });
      if (!(taken instanceof FaztError)) return { nodeId, id, model: taken.model };
      if (signal?.aborted) throw signal.reason;
      if (taken.code !== 'AI_UNAVAILABLE') throw taken;
      refusals.push(taken.message);
    }
    throw new FaztError('AI_UNAVAILABLE', `This node has no usable AI provider, and no connected paired node could take the call. ${refusals.join(' ')} Add a key on this device (Settings → AI), or a provider on the paired node.`);
  }

  /**
   * A language model (AI SDK `LanguageModelV3`) whose calls run on a connected paired node.
   * @param spec `provider/model` as the hub names it, or `undefined` for the hub's default model.
   * @param onModel told the hub's `provider/model` once a hub takes a call.
   */
  languageModel(spec: string | undefined, onModel?: (label: string) => void): LanguageModelV3 {
    const relay = this;
    const strip = (o: LanguageModelV3CallOptions) => {
      const x: Record<string, unknown> = {};
      for (const k of CALL_KEYS) if (o[k] !== undefined) x[k] = o[k];
      return x;
    };
    return {
      specificationVersion: 'v3',
      provider: 'fazt-relay',
      modelId: spec ?? 'default',
      supportedUrls: {},
      async doGenerate(options: LanguageModelV3CallOptions): Promise<LanguageModelV3GenerateResult> {
        let resolve!: (r: LanguageModelV3GenerateResult) => void;
        let reject!: (e: unknown) => void;
        const done = new Promise<LanguageModelV3GenerateResult>((a, b) => ((resolve = a), (reject = b)));
        const placed = await relay.place('generate', spec, strip(options), options.abortSignal, {
          on: (k, d, via) => (k === 'result' ? resolve(d as LanguageModelV3GenerateResult) : k === 'error' ? reject(relayedError(d, via)) : undefined),
          fail: reject,
        });
        onModel?.(placed.model);
        const onAbort = () => {
          relay.out.delete(placed.id);
          relay.cancel(placed.nodeId, placed.id);
          reject(options.abortSignal!.reason);
        };
        options.abortSignal?.addEventListener('abort', onAbort, { once: true });
        try {
          const r = await done;
          if (!r || typeof r !== 'object' || !Array.isArray(r.content)) throw new FaztError('AI_UNAVAILABLE', `The paired node ${relay.via(placed.nodeId)} sent a malformed answer.`);
          return { ...r, warnings: Array.isArray(r.warnings) ? r.warnings : [] };
        } finally {
          options.abortSignal?.removeEventListener('abort', onAbort);
        }
      },
      async doStream(options: LanguageModelV3CallOptions): Promise<LanguageModelV3StreamResult> {
        let ctl!: ReadableStreamDefaultController<LanguageModelV3StreamPart>;
        let closed = false;
        let placedRef: { nodeId: string; id: string } | undefined;
        const stream = new ReadableStream<LanguageModelV3StreamPart>({
          start: (c) => void (ctl = c),
          cancel: () => {
            closed = true;
            if (placedRef) {
              relay.out.delete(placedRef.id);
              relay.cancel(placedRef.nodeId, placedRef.id);
            }
          },
        });
        const finish = (e?: unknown) => {
          if (closed) return;
          closed = true;
          options.abortSignal?.removeEventListener('abort', onAbort);
          if (e !== undefined) ctl.enqueue({ type: 'error', error: e });
          ctl.close();
        };
        const onAbort = () => {
          if (placedRef) {
            relay.out.delete(placedRef.id);
            relay.cancel(placedRef.nodeId, placedRef.id);
          }
          finish(options.abortSignal!.reason);
        };
        const placed = await relay.place('stream', spec, strip(options), options.abortSignal, {
          on: (k, d, via) => {
            if (closed) return;
            if (k === 'part') {
              const p = d as LanguageModelV3StreamPart;
              if (!p || typeof p !== 'object' || typeof (p as { type?: unknown }).type !== 'string') return relay.drop(via, 'malformed part');
              if (p.type === 'error') return; // errors cross as `error` messages
              ctl.enqueue(p);
            } else if (k === 'end') finish();
            else if (k === 'error') finish(relayedError(d, via));
          },
          fail: (e) => finish(e),
        });
        placedRef = placed;
        onModel?.(placed.model);
        options.abortSignal?.addEventListener('abort', onAbort, { once: true });
        return { stream };
      },
    };
  }

  /** An embedding model (AI SDK `EmbeddingModelV3`) whose calls run on a connected paired node. */
  embeddingModel(spec: string | undefined, onModel?: (label: string) => void): EmbeddingModelV3 {
    const relay = this;
    return {
      specificationVersion: 'v3',
      provider: 'fazt-relay',
      modelId: spec ?? 'default',
      maxEmbeddingsPerCall: 2048,
      supportsParallelCalls: false,
      async doEmbed(options: EmbeddingModelV3CallOptions): Promise<EmbeddingModelV3Result> {
        let resolve!: (r: EmbeddingModelV3Result) => void;
        let reject!: (e: unknown) => void;
        const done = new Promise<EmbeddingModelV3Result>((a, b) => ((resolve = a), (reject = b)));
        const placed = await relay.place('embed', spec, { values: options.values, ...(options.providerOptions ? { providerOptions: options.providerOptions } : {}) }, options.abortSignal, {
          on: (k, d, via) => (k === 'result' ? resolve(d as EmbeddingModelV3Result) : k === 'error' ? reject(relayedError(d, via)) : undefined),
          fail: reject,
        });
        onModel?.(placed.model);
        const onAbort = () => {
          relay.out.delete(placed.id);
          relay.cancel(placed.nodeId, placed.id);
          reject(options.abortSignal!.reason);
        };
        options.abortSignal?.addEventListener('abort', onAbort, { once: true });
        try {
          const r = await done;
          if (!r || !Array.isArray(r.embeddings) || r.embeddings.length !== options.values.length) throw new FaztError('AI_UNAVAILABLE', `The paired node ${relay.via(placed.nodeId)} sent a malformed answer.`);
          return { ...r, warnings: Array.isArray(r.warnings) ? r.warnings : [] };
        } finally {
          options.abortSignal?.removeEventListener('abort', onAbort);
        }
      },
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Hub side

  /** Calls of one peer running now. */
  private running(nodeId: string): number {
    let n = 0;
    const prefix = `${nodeId} `;
    for (const [key, c] of this.incoming) if (c.running && key.startsWith(prefix)) n++;
    return n;
  }

  private hubReceive(nodeId: string, m: RelayMessage): void {
    const key = `${nodeId} ${m.id}`;
    if (m.k === 'cancel') {
      const c = this.incoming.get(key);
      if (!c) return; // it ended already: not a lie
      this.incoming.delete(key);
      c.abort?.abort(new FaztError('AI_UNAVAILABLE', 'cancelled by the peer'));
      return;
    }
    let c = this.incoming.get(key);
    if (c?.running) return this.drop(nodeId, 'call id in use', m);
    if (!c) {
      // slices of calls not yet complete count against the peer's limit too
      let open = 0;
      for (const k of this.incoming.keys()) if (k.startsWith(`${nodeId} `)) open++;
      if (open >= MAX_RELAYED_CALLS_PER_PEER * 2) return this.refuse(nodeId, m.id, new FaztError('AI_RATE_LIMITED', `Too many relayed calls at once from this node (at most ${MAX_RELAYED_CALLS_PER_PEER}); try again in a moment.`, { retryAfterSeconds: 1 }));
      c = { buf: '', running: false };
      this.incoming.set(key, c);
    }
    c.buf += m.d ?? '';
    if (c.buf.length > MAX_CALL_CHARS) {
      this.incoming.delete(key);
      return this.refuse(nodeId, m.id, new FaztError('INVALID_ARGUMENT', `The call is larger than ${MAX_CALL_CHARS} characters; a paired node relays no larger calls.`));
    }
    if (m.more) return;
    const text = c.buf;
    c.buf = '';
    let call: { op?: unknown; model?: unknown; options?: unknown };
    try {
      call = decodeRelay(text) as typeof call;
    } catch {
      this.incoming.delete(key);
      this.drop(nodeId, 'not JSON', m);
      return this.refuse(nodeId, m.id, new FaztError('INVALID_ARGUMENT', 'The relayed call is not JSON.'));
    }
    const op = call?.op;
    const ok =
      call && typeof call === 'object' && (op === 'generate' || op === 'stream' || op === 'embed') && (call.model === undefined || (typeof call.model === 'string' && call.model.length <= 200)) && call.options && typeof call.options === 'object' && !Array.isArray(call.options);
    if (!ok) {
      this.incoming.delete(key);
      this.drop(nodeId, 'malformed call', m);
      return this.refuse(nodeId, m.id, new FaztError('INVALID_ARGUMENT', 'The relayed call is malformed (it needs op "generate", "stream" or "embed" and an options object).'));
    }
    if (!this.hub.serving()) {
      this.incoming.delete(key);
      return this.refuse(nodeId, m.id, new FaztError('AI_UNAVAILABLE', `The owner of this node turned off "Let paired devices use this node's AI" (Settings → AI, or PUT /api/ai/relay {"serve": true}).`));
    }
    if (this.running(nodeId) >= MAX_RELAYED_CALLS_PER_PEER) {
      this.incoming.delete(key);
      return this.refuse(nodeId, m.id, new FaztError('AI_RATE_LIMITED', `Too many relayed calls at once from this node (at most ${MAX_RELAYED_CALLS_PER_PEER}); try again in a moment.`, { retryAfterSeconds: 1 }));
    }
    c.running = true;
    c.abort = new AbortController();
    void this.run(nodeId, m.id, key, c, op as 'generate' | 'stream' | 'embed', call.model as string | undefined, call.options as Record<string, unknown>);
  }

  private refuse(nodeId: string, id: string, e: FaztError): void {
    try {
      this.links.send(nodeId, { id, k: 'error', d: JSON.stringify({ code: e.code, message: e.message, ...(e.details ?? {}) }) });
    } catch {
      /* the link went away */
    }
  }

  private async run(nodeId: string, id: string, key: string, c: Incoming, op: 'generate' | 'stream' | 'embed', spec: string | undefined, raw: Record<string, unknown>): Promise<void> {
    const usageId = relayUsageId(nodeId);
    const usageName = `relay:${this.links.name(nodeId) ?? nodeId}`;
    let label = spec ?? 'default';
    let kind = 'unknown';
    let begun = false;
    const signal = AbortSignal.any([c.abort!.signal, AbortSignal.timeout(this.hub.timeoutMs)]);
    const live = () => this.incoming.get(key) === c && !signal.aborted;
    try {
      const target = this.hub.model(spec, op === 'embed' ? 'embedding' : 'language');
      label = target.label;
      kind = target.providerKind;
      this.hub.usage.check(usageId, usageName);
      this.hub.usage.begin(usageId);
      begun = true;
      // taken: the phone stops waiting for an ack (the SDK may still have to load here)
      this.links.send(nodeId, { id, k: 'ack', d: JSON.stringify({ model: label }) });
      const model = await target.build();
      if (!live()) throw signal.reason;
      if (op === 'embed') {
        const values = raw.values;
        if (!Array.isArray(values) || values.length === 0 || values.length > 2048 || values.some((v) => typeof v !== 'string')) throw new FaztError('INVALID_ARGUMENT', 'embed: values must be a non-empty array of at most 2048 strings.');
        const r = await model.embedding!.doEmbed({ values: values as string[], abortSignal: signal, ...(raw.providerOptions && typeof raw.providerOptions === 'object' ? { providerOptions: raw.providerOptions as never } : {}) });
        this.hub.usage.record(usageId, { inputTokens: r.usage?.tokens ?? 0 });
        if (live()) sendSliced(this.links, nodeId, id, 'result', encodeRelay({ embeddings: r.embeddings, usage: r.usage, warnings: r.warnings ?? [] }));
        return;
      }
      const options = { ...pick(raw), abortSignal: signal } as LanguageModelV3CallOptions;
      if (!Array.isArray(options.prompt)) throw new FaztError('INVALID_ARGUMENT', 'The relayed call has no prompt (an array of messages).');
      if (op === 'generate') {
        const r = await model.language!.doGenerate(options);
        this.hub.usage.record(usageId, tokens(r.usage));
        if (live()) sendSliced(this.links, nodeId, id, 'result', encodeRelay({ content: r.content, finishReason: r.finishReason, usage: r.usage, providerMetadata: r.providerMetadata, warnings: r.warnings ?? [], response: r.response ? { id: r.response.id, modelId: r.response.modelId, timestamp: r.response.timestamp } : undefined }));
        return;
      }
      const r = await model.language!.doStream(options);
      const reader = r.stream.getReader();
      const stop = () => void reader.cancel().catch(() => {});
      signal.addEventListener('abort', stop, { once: true });
      let used: { inputTokens: number; outputTokens: number } | undefined;
      try {
        for (;;) {
          const { value: p, done } = await reader.read();
          if (done) break;
          if (!live()) throw signal.reason ?? new FaztError('AI_UNAVAILABLE', 'cancelled');
          if (p.type === 'raw') continue;
          if (p.type === 'error') throw p.error;
          if (p.type === 'finish') used = tokens(p.usage);
          sendSliced(this.links, nodeId, id, 'part', encodeRelay(p));
        }
      } finally {
        signal.removeEventListener('abort', stop);
      }
      if (!live()) throw signal.reason ?? new FaztError('AI_UNAVAILABLE', 'cancelled');
      this.hub.usage.record(usageId, used ?? {});
      this.links.send(nodeId, { id, k: 'end' });
    } catch (e) {
      if (begun) this.hub.usage.record(usageId, {}, true);
      if (this.incoming.get(key) !== c) return; // cancelled or the link closed: nobody waits
      const err = isFaztError(e) ? e : aiError(e, { model: label, kind, timeoutMs: this.hub.timeoutMs });
      this.refuse(nodeId, id, err);
    } finally {
      if (this.incoming.get(key) === c) this.incoming.delete(key);
    }
  }
}

/** The call options a hub passes on (see {@link CALL_KEYS}). */
function pick(raw: Record<string, unknown>): Record<string, unknown> {
  const x: Record<string, unknown> = {};
  for (const k of CALL_KEYS) if (raw[k] !== undefined) x[k] = raw[k];
  return x;
}

/** Token counts of an `LanguageModelV3Usage` (nested totals) for the usage store. */
function tokens(u: LanguageModelV3GenerateResult['usage'] | undefined): { inputTokens: number; outputTokens: number } {
  const n = (v: unknown) => (typeof v === 'number' ? v : typeof (v as { total?: unknown })?.total === 'number' ? (v as { total: number }).total : 0);
  return { inputTokens: n(u?.inputTokens), outputTokens: n(u?.outputTokens) };
}
