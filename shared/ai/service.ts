import { Validator, type Schema } from '@cfworker/json-schema';
import { FaztError, isFaztError } from '../errors.js';
import { getMeta, setMeta, type Cartridge } from '../cartridge/index.js';
import type { Logger } from '../ports.js';
import type { SecretStore } from '../storage/index.js';
import { formatSchemaErrors } from '../events/index.js';
import { aiError, type CallFacts } from './errors.js';
import { ProviderStore, type ProviderInfo, type ResolvedProvider } from './providers.js';
import { loadSdk, modelFactory, NEEDS_KEY, type AiSdk, type ModelFactory } from './sdk.js';
import { UsageStore } from './usage.js';
import { AiStream, type StreamPart } from './stream.js';
import { AiRelay, type RelayLinks } from './relay.js';

/**
 * The kernel's AI: model calls for app code (`fazt.ai`), the CLI and the dashboard, through the
 * Vercel AI SDK (https://ai-sdk.dev/docs/reference/ai-sdk-core). Providers and their keys are the
 * node's ({@link ProviderStore}); every call is counted per app and checked against the owner's
 * budget ({@link UsageStore}); every failure is a FaztError with a stable code (errors.ts). The
 * SDK itself is imported on the first call, never before.
 */

/** Options of {@link AiService}. */
export interface AiServiceOptions {
  /** The fetch the providers use (default: the global one). */
  fetch?: typeof fetch;
  /** Longest a whole call may take, ms (default 120,000). */
  timeoutMs?: number;
  /** Longest a stream may go without sending anything (before its first part too), ms (default 30,000). */
  idleMs?: number;
  /** Added to the "no provider" message (the browser node says to add a key or connect to the paired node). */
  unavailableHint?: string;
  /**
   * With no usable provider of its own (none configured, or its key missing), call models through a
   * connected paired node ({@link AiService.attachRelay}, docs/ai.md "Relay through a paired node").
   * Default true.
   */
  relay?: boolean;
  /**
   * Calls leave from a browser (the service worker): Anthropic is then sent its opt-in header for
   * direct browser access (`anthropic-dangerous-direct-browser-access: true`), without which it
   * refuses CORS requests.
   */
  browserCalls?: boolean;
  logger?: Logger;
}

/** Who calls: an app (its id and name) or the owner (`appId: ''`). */
export interface AiCaller {
  appId: string;
  appName: string;
}

/** A tool as app code declares it (JSON Schema for its input); its `execute` runs wherever the caller is. */
export interface ToolSpec {
  description?: string;
  /** JSON Schema (draft 2020-12) of the tool's input object. */
  inputSchema: object;
}

/** A tool call the model made. `error` when its arguments failed the schema (`AI_TOOL_INPUT_INVALID`); then it was not run. */
export interface ToolCallInfo {
  toolCallId: string;
  toolName: string;
  input: unknown;
  error?: { code: string; message: string };
}

/** A tool's result (`output`) or its failure (`error`). */
export interface ToolResultInfo {
  toolCallId: string;
  toolName: string;
  output?: unknown;
  error?: { code: string; message: string };
}

/** Runs a tool the model called (in the app's sandbox for `fazt.ai`); its throw becomes the tool's error, shown to the model. */
export type ToolRunner = (call: { toolCallId: string; toolName: string; input: unknown }) => Promise<unknown>;

/** Options of a text call: the AI SDK's names (https://ai-sdk.dev/docs/reference/ai-sdk-core/generate-text). */
export interface TextCallOptions {
  /** `provider/model`, a model of the default provider, or absent: the node's default model. */
  model?: string;
  system?: string;
  /** A prompt, or … */
  prompt?: string;
  /** … the conversation (AI SDK `ModelMessage`s: `{ role: 'user' | 'assistant' | 'system' | 'tool', content }`). */
  messages?: unknown[];
  tools?: Record<string, ToolSpec>;
  /** Most model calls in the tool loop (like `stopWhen: stepCountIs(n)`), 1–20, default 1: tools run, their results are returned, no further model call. */
  maxSteps?: number;
  maxOutputTokens?: number;
  temperature?: number;
}

/** Token counts (as the provider reported them; 0 when it did not). */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

/** What `generateText` answers. */
export interface TextResult {
  text: string;
  /** Every tool call of every step, in order. */
  toolCalls: ToolCallInfo[];
  /** Every tool result of every step, in order. */
  toolResults: ToolResultInfo[];
  /** Summed over the steps. */
  usage: TokenUsage;
  /** The last step's: `stop`, `length`, `tool-calls`, `content-filter`, `error`, `other`. */
  finishReason: string;
  /** `provider/model` that answered. */
  model: string;
  /** Model calls made. */
  steps: number;
}

/** Options of `generateObject`: a text call's options plus the JSON Schema of the object. */
export interface ObjectCallOptions extends Omit<TextCallOptions, 'tools' | 'maxSteps'> {
  /** JSON Schema (draft 2020-12) the answer must match. */
  schema: object;
  schemaName?: string;
  schemaDescription?: string;
}

/** Options of `embed`: one `value` or several `values`. */
export interface EmbedOptions {
  /** `provider/model` of an embedding model (or a model of the default provider). */
  model?: string;
  value?: string;
  values?: string[];
}

const MAX_PROMPT_CHARS = 1_000_000;

/** `cartridge_meta` key of the owner's switch "Let paired devices use this node's AI" (`'0'`: off; absent: on). */
export const RELAY_SERVE_META = 'ai.relay_serve';

/** What a call runs on: this node's provider, or a paired node's (relayed). */
interface Target {
  /** `provider/model` (for a relayed call: the paired node's, once it took the call). */
  label: string;
  /** The provider's kind, or `relay`. */
  kind: string;
  relayed: boolean;
  /** The model objects (`embedding` absent when the provider kind has none). */
  models(sdk: AiSdk): { language(): ReturnType<ModelFactory['language']>; embedding?(): ReturnType<NonNullable<ModelFactory['embedding']>> };
}

function usageOf(u: { inputTokens?: number; outputTokens?: number; totalTokens?: number } | undefined): TokenUsage {
  const i = u?.inputTokens ?? 0;
  const o = u?.outputTokens ?? 0;
  return { inputTokens: i, outputTokens: o, totalTokens: u?.totalTokens ?? i + o };
}

/** Compiles a JSON Schema for the SDK, validated with @cfworker/json-schema (draft 2020-12). @throws FaztError `INVALID_ARGUMENT`. */
function schemaFor(sdk: AiSdk, schema: unknown, where: string) {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new FaztError('INVALID_ARGUMENT', `${where} must be a JSON Schema object (like {"type":"object","properties":{…}}).`);
  let v: Validator;
  try {
    v = new Validator(schema as Schema, '2020-12', false);
    v.validate(null);
  } catch (e) {
    throw new FaztError('INVALID_ARGUMENT', `${where} is not a usable JSON Schema: ${(e as Error).message.split('\n')[0]}`);
  }
  return sdk.jsonSchema(schema as Parameters<AiSdk['jsonSchema']>[0], {
    validate: (value: unknown) => {
      const r = v.validate(value);
      return r.valid ? { success: true as const, value } : { success: false as const, error: new Error(`does not match the schema: ${formatSchemaErrors(r.errors)}`) };
    },
  });
}

/** Checks a text call's options (before anything is sent). @throws FaztError `INVALID_ARGUMENT`. */
export function checkTextOptions(o: unknown, what = 'generateText'): TextCallOptions {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new FaztError('INVALID_ARGUMENT', `fazt.ai.${what}: pass an object like { prompt: 'Hello' }.`);
  const x = o as TextCallOptions;
  const hasPrompt = x.prompt !== undefined && x.prompt !== null;
  const hasMessages = x.messages !== undefined && x.messages !== null;
  if (hasPrompt === hasMessages) throw new FaztError('INVALID_ARGUMENT', `fazt.ai.${what}: give either prompt (a string) or messages (an array), not ${hasPrompt ? 'both' : 'neither'}.`);
  if (hasPrompt && (typeof x.prompt !== 'string' || x.prompt.length > MAX_PROMPT_CHARS)) throw new FaztError('INVALID_ARGUMENT', `fazt.ai.${what}: prompt must be a string of at most ${MAX_PROMPT_CHARS} characters.`);
  if (hasMessages && (!Array.isArray(x.messages) || x.messages.length === 0 || x.messages.some((m) => typeof m !== 'object' || m === null || typeof (m as { role?: unknown }).role !== 'string'))) {
    throw new FaztError('INVALID_ARGUMENT', `fazt.ai.${what}: messages must be a non-empty array of { role, content }.`);
  }
  if (x.system !== undefined && typeof x.system !== 'string') throw new FaztError('INVALID_ARGUMENT', `fazt.ai.${what}: system must be a string.`);
  if (x.model !== undefined && typeof x.model !== 'string') throw new FaztError('INVALID_ARGUMENT', `fazt.ai.${what}: model must be a string like "openai/gpt-4o-mini".`);
  if (x.maxOutputTokens !== undefined && (!Number.isSafeInteger(x.maxOutputTokens) || x.maxOutputTokens < 1)) throw new FaztError('INVALID_ARGUMENT', `fazt.ai.${what}: maxOutputTokens must be a whole number ≥ 1.`);
  if (x.maxSteps !== undefined && (!Number.isSafeInteger(x.maxSteps) || x.maxSteps < 1 || x.maxSteps > 20)) throw new FaztError('INVALID_ARGUMENT', `fazt.ai.${what}: maxSteps must be a whole number from 1 to 20.`);
  if (x.temperature !== undefined && (typeof x.temperature !== 'number' || !(x.temperature >= 0 && x.temperature <= 2))) throw new FaztError('INVALID_ARGUMENT', `fazt.ai.${what}: temperature must be a number from 0 to 2.`);
  if (x.tools !== undefined) {
    if (typeof x.tools !== 'object' || x.tools === null || Array.isArray(x.tools)) throw new FaztError('INVALID_ARGUMENT', `fazt.ai.${what}: tools must be an object of name → { description, inputSchema, execute }.`);
    for (const [name, t] of Object.entries(x.tools)) {
      if (!/^[a-zA-Z0-9_-]{1,64}$/.test(name)) throw new FaztError('INVALID_ARGUMENT', `fazt.ai.${what}: tool name "${name.slice(0, 70)}" must be 1–64 letters, digits, "_" or "-".`);
      if (typeof t !== 'object' || t === null || typeof t.inputSchema !== 'object' || t.inputSchema === null) throw new FaztError('INVALID_ARGUMENT', `fazt.ai.${what}: tool "${name}" needs an inputSchema (a JSON Schema object).`);
    }
  }
  return x;
}

/** The node's AI service (one per kernel). */
export class AiService {
  readonly providers: ProviderStore;
  readonly usage: UsageStore;
  readonly timeoutMs: number;
  readonly idleMs: number;
  /** The relay through paired nodes, once the kernel attached the mesh ({@link attachRelay}). */
  relay: AiRelay | undefined;

  constructor(
    private readonly cart: Cartridge,
    secrets: SecretStore,
    private readonly options: AiServiceOptions = {},
  ) {
    this.providers = new ProviderStore(cart, secrets);
    this.usage = new UsageStore(cart);
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.idleMs = options.idleMs ?? 30_000;
  }

  /**
   * What the dashboard shows: configured or not, the default model, the providers (never keys), and
   * the relay: `serve` (the owner's switch "Let paired devices use this node's AI") and `available`
   * (a paired node is connected now, so a call with no provider here would be relayed).
   */
  status(): { configured: boolean; defaultModel: string | null; providers: ProviderInfo[]; relay: { serve: boolean; available: boolean } } {
    const providers = this.providers.list();
    const def = providers.find((p) => p.isDefault);
    return {
      configured: providers.length > 0,
      defaultModel: def?.defaultModel ? `${def.name}/${def.defaultModel}` : null,
      providers,
      relay: { serve: this.relayServing(), available: this.options.relay !== false && (this.relay?.available() ?? false) },
    };
  }

  /** Whether paired nodes may call models through this node (the owner's switch; default on). */
  relayServing(): boolean {
    return getMeta(this.cart.db, RELAY_SERVE_META) !== '0';
  }

  /** Sets the owner's switch "Let paired devices use this node's AI". @returns the new value. */
  setRelayServing(on: boolean): boolean {
    setMeta(this.cart.db, RELAY_SERVE_META, on ? null : '0');
    return this.relayServing();
  }

  /**
   * Connects the relay to the mesh (the kernel does it once): calls with no usable provider here go
   * through a connected paired node, and paired nodes' calls run on this node's providers while
   * {@link relayServing}. Feed the returned relay every `ai` message and every link that closes.
   */
  attachRelay(links: RelayLinks): AiRelay {
    this.relay = new AiRelay(
      links,
      {
        serving: () => this.relayServing(),
        usage: this.usage,
        timeoutMs: this.timeoutMs,
        model: (spec, kind) => {
          const m = this.resolveModel(spec);
          return {
            label: m.label,
            providerKind: m.provider.kind,
            build: async () => {
              const sdk = await loadSdk();
              const fac = modelFactory(sdk, m.provider, this.options.fetch, this.options.browserCalls);
              if (kind === 'language') return { language: fac.language(m.modelId) as never };
              if (!fac.embedding) throw new FaztError('INVALID_ARGUMENT', `${m.label}: ${m.provider.kind} providers have no embedding models; name one of another provider (e.g. "ollama/nomic-embed-text").`);
              return { embedding: fac.embedding(m.modelId) as never };
            },
          };
        },
      },
      this.options.logger,
    );
    return this.relay;
  }

  /**
   * The model a call runs on: {@link resolveModel}'s, or — when this node has no usable provider
   * (`AI_UNAVAILABLE`) and a paired node is connected — the paired node's, through the relay.
   * @throws FaztError as {@link resolveModel}.
   */
  private target(spec: string | undefined): Target {
    try {
      const m = this.resolveModel(spec);
      return {
        label: m.label,
        kind: m.provider.kind,
        relayed: false,
        models: (sdk) => {
          const fac = modelFactory(sdk, m.provider, this.options.fetch, this.options.browserCalls);
          return { language: () => fac.language(m.modelId), ...(fac.embedding ? { embedding: () => fac.embedding!(m.modelId) } : {}) };
        },
      };
    } catch (e) {
      const relay = this.relay;
      if (!isFaztError(e) || e.code !== 'AI_UNAVAILABLE' || !relay || this.options.relay === false || !relay.available()) throw e;
      const named = spec === undefined || spec === '' ? undefined : spec;
      const t: Target = {
        label: `${named ?? 'default model'} (through a paired node)`,
        kind: 'relay',
        relayed: true,
        models: () => ({
          language: () => relay.languageModel(named, (l) => (t.label = l)) as never,
          embedding: () => relay.embeddingModel(named, (l) => (t.label = l)) as never,
        }),
      };
      return t;
    }
  }

  /**
   * Which provider and model a call means (docs/ai.md "Choosing a model").
   * @throws FaztError `AI_UNAVAILABLE` (no provider; a provider without its key), `AI_MODEL_NOT_FOUND`
   *   (no provider of that name; no model named and no default model).
   */
  resolveModel(spec: string | undefined): { provider: ResolvedProvider; modelId: string; label: string } {
    const all = this.providers.list();
    if (all.length === 0) {
      throw new FaztError(
        'AI_UNAVAILABLE',
        `No AI provider is configured on this node. The owner adds one in Settings → AI or with \`fazt ai provider set NAME --kind openai|anthropic|google|ollama|openai-compatible --key-stdin --default-model MODEL\`.${this.options.unavailableHint ? ' ' + this.options.unavailableHint : ''}`,
      );
    }
    let name: string | undefined;
    let modelId: string | undefined;
    if (spec !== undefined && spec !== '') {
      const slash = spec.indexOf('/');
      const prefix = slash > 0 ? spec.slice(0, slash) : undefined;
      if (prefix !== undefined && all.some((p) => p.name === prefix)) {
        name = prefix;
        modelId = spec.slice(slash + 1) || undefined;
      } else if (prefix !== undefined) {
        throw new FaztError('AI_MODEL_NOT_FOUND', `"${spec.slice(0, 100)}": no AI provider is named "${prefix.slice(0, 40)}" on this node (there are: ${all.map((p) => p.name).join(', ')}). Name models as provider/model.`);
      } else modelId = spec;
    }
    name ??= this.providers.defaultName()!;
    const provider = this.providers.resolve(name)!;
    modelId ??= provider.defaultModel ?? undefined;
    if (!modelId) throw new FaztError('AI_MODEL_NOT_FOUND', `No model was named and the provider "${name}" has no default model. Name one ("${name}/MODEL") or set it: \`fazt ai provider set ${name} --default-model MODEL\`.`);
    if (NEEDS_KEY[provider.kind] && !provider.key) {
      throw new FaztError('AI_UNAVAILABLE', `The AI provider "${name}" (${provider.kind}) has no API key. The owner sets it with \`fazt ai provider set ${name} --key-stdin\` or in Settings → AI.${this.options.unavailableHint ? ' ' + this.options.unavailableHint : ''}`);
    }
    return { provider, modelId, label: `${name}/${modelId}` };
  }

  /** Budget check and the call's count. @throws FaztError `AI_BUDGET_EXCEEDED`. */
  private begin(caller: AiCaller): void {
    if (caller.appId) this.usage.check(caller.appId, caller.appName);
    this.usage.begin(caller.appId);
  }

  private facts(label: string, kind: string): CallFacts {
    return { model: label, kind, timeoutMs: this.timeoutMs };
  }

  private promptOf(o: TextCallOptions) {
    return o.messages !== undefined && o.messages !== null
      ? { system: o.system, messages: o.messages as Parameters<AiSdk['generateText']>[0]['messages'] & object }
      : { system: o.system, prompt: o.prompt as string };
  }

  private toolsFor(sdk: AiSdk, tools: Record<string, ToolSpec> | undefined, run: ToolRunner | undefined) {
    if (!tools) return undefined;
    const out: Record<string, { description?: string; inputSchema: ReturnType<typeof schemaFor>; execute?: (input: unknown, o: { toolCallId: string }) => Promise<unknown> }> = {};
    for (const [name, t] of Object.entries(tools)) {
      out[name] = {
        description: typeof t.description === 'string' ? t.description : undefined,
        inputSchema: schemaFor(sdk, t.inputSchema, `tool "${name}" inputSchema`),
        execute: run ? (input, o) => run({ toolCallId: o.toolCallId, toolName: name, input }) : undefined,
      };
    }
    return out;
  }

  /**
   * `generateText`: one answer, with the tool loop (tools run through `runTool`).
   * @throws FaztError `INVALID_ARGUMENT` (bad options), `AI_UNAVAILABLE`, `AI_AUTH`, `AI_RATE_LIMITED`,
   *   `AI_MODEL_NOT_FOUND`, `AI_BUDGET_EXCEEDED`.
   */
  async generateText(caller: AiCaller, options: TextCallOptions, runTool?: ToolRunner): Promise<TextResult> {
    const o = checkTextOptions(options);
    const m = this.target(o.model);
    this.begin(caller);
    const f = this.facts(m.label, m.kind);
    let used: TokenUsage | undefined;
    try {
      const sdk = await loadSdk();
      const model = m.models(sdk).language();
      const r = await sdk.generateText({
        model,
        ...this.promptOf(o),
        tools: this.toolsFor(sdk, o.tools, runTool) as never,
        stopWhen: sdk.stepCountIs(o.maxSteps ?? 1) as never,
        maxOutputTokens: o.maxOutputTokens,
        temperature: o.temperature,
        maxRetries: 0,
        abortSignal: AbortSignal.timeout(this.timeoutMs),
      });
      used = usageOf(r.totalUsage);
      const toolCalls: ToolCallInfo[] = [];
      const toolResults: ToolResultInfo[] = [];
      for (const step of r.steps) {
        for (const c of step.content) {
          if (c.type === 'tool-call') {
            const bad = (c as { invalid?: boolean; error?: unknown }).invalid ? toolInputError(c.toolName, (c as { error?: unknown }).error) : undefined;
            toolCalls.push({ toolCallId: c.toolCallId, toolName: c.toolName, input: c.input, ...(bad ? { error: bad } : {}) });
          } else if (c.type === 'tool-result') toolResults.push({ toolCallId: c.toolCallId, toolName: c.toolName, output: c.output ?? null });
          else if (c.type === 'tool-error') toolResults.push({ toolCallId: c.toolCallId, toolName: c.toolName, error: toolFailure(c.toolName, c.error) });
        }
      }
      this.usage.record(caller.appId, used);
      return { text: r.text, toolCalls, toolResults, usage: used, finishReason: r.finishReason, model: m.label, steps: r.steps.length };
    } catch (e) {
      this.usage.record(caller.appId, used ?? {}, true);
      throw this.mapError(e, f);
    }
  }

  /**
   * `streamText`: starts the call and returns its stream at once (configuration errors throw now;
   * the provider's errors arrive in the stream, see {@link AiStream}).
   * @throws FaztError `INVALID_ARGUMENT`, `AI_UNAVAILABLE`, `AI_MODEL_NOT_FOUND`, `AI_BUDGET_EXCEEDED`.
   */
  streamText(caller: AiCaller, options: TextCallOptions, runTool?: ToolRunner): AiStream {
    const o = checkTextOptions(options, 'streamText');
    const m = this.target(o.model);
    this.begin(caller);
    const f = this.facts(m.label, m.kind);
    const abort = new AbortController();
    const total = setTimeout(() => abort.abort(new DOMException('timeout', 'TimeoutError')), this.timeoutMs);
    const stream = new AiStream(m.label, this.idleMs, abort);
    const run = async () => {
      let used: TokenUsage | undefined;
      try {
        const sdk = await loadSdk();
        const model = m.models(sdk).language();
        let failure: unknown;
        const r = sdk.streamText({
          model,
          ...this.promptOf(o),
          tools: this.toolsFor(sdk, o.tools, runTool) as never,
          stopWhen: sdk.stepCountIs(o.maxSteps ?? 1) as never,
          maxOutputTokens: o.maxOutputTokens,
          temperature: o.temperature,
          maxRetries: 0,
          abortSignal: abort.signal,
          onError: ({ error }) => {
            failure ??= error;
          },
        });
        try {
          for await (const p of r.fullStream) {
            const part = toPart(p as SdkPart, f);
            if (part?.type === 'error') {
              failure ??= (p as { error?: unknown }).error;
              break;
            }
            if (part?.type === 'finish') used = part.usage;
            if (m.relayed) stream.model = m.label; // the paired node's provider/model, once it took the call
            if (part) stream.push(part);
          }
        } catch (e) {
          // a connection lost mid-answer makes the SDK's stream throw
          failure ??= e;
        }
        if (failure !== undefined || abort.signal.aborted) {
          const why = failure ?? abort.signal.reason;
          let err = stream.idleFired ? new FaztError('AI_UNAVAILABLE', `${m.label} sent nothing for ${this.idleMs} ms.`) : this.mapError(why, f);
          if (stream.hasText && !isFaztErrorCode(why, 'AI_STREAM_INTERRUPTED')) {
            err = new FaztError('AI_STREAM_INTERRUPTED', `${m.label}: the answer stopped before it was complete (${err.message}) The text so far was sent; ask again for the rest.`);
          }
          throw err;
        }
        if (!stream.finished) throw new FaztError('AI_STREAM_INTERRUPTED', `${m.label}: the provider's stream ended without finishing the answer. The text so far was sent; ask again for the rest.`);
        this.usage.record(caller.appId, used ?? {});
        stream.end();
      } catch (e) {
        this.usage.record(caller.appId, used ?? {}, true);
        stream.fail(isFaztError(e) ? e : this.mapError(e, f));
      } finally {
        clearTimeout(total);
      }
    };
    void run();
    return stream;
  }

  /**
   * `generateObject`: an object matching `schema`.
   * @throws FaztError as {@link generateText}, and `AI_OUTPUT_INVALID` when the answer does not match.
   */
  async generateObject(caller: AiCaller, options: ObjectCallOptions): Promise<{ object: unknown; usage: TokenUsage; finishReason: string; model: string }> {
    const o = checkTextOptions(options, 'generateObject') as ObjectCallOptions;
    const m = this.target(o.model);
    const f = this.facts(m.label, m.kind);
    const sdk0 = await loadSdk();
    const schema = schemaFor(sdk0, o.schema, 'fazt.ai.generateObject: schema');
    this.begin(caller);
    try {
      const model = m.models(sdk0).language();
      const r = await sdk0.generateObject({
        model,
        ...this.promptOf(o),
        schema,
        schemaName: o.schemaName,
        schemaDescription: o.schemaDescription,
        maxOutputTokens: o.maxOutputTokens,
        temperature: o.temperature,
        maxRetries: 0,
        abortSignal: AbortSignal.timeout(this.timeoutMs),
      } as Parameters<AiSdk['generateObject']>[0]);
      const usage = usageOf(r.usage);
      this.usage.record(caller.appId, usage);
      return { object: r.object, usage, finishReason: r.finishReason, model: m.label };
    } catch (e) {
      this.usage.record(caller.appId, {}, true);
      throw this.mapError(e, f);
    }
  }

  /**
   * `embed`: the embedding of `value`, or of each of `values`.
   * @throws FaztError `INVALID_ARGUMENT` (bad options, a provider kind without embeddings) and the call's errors.
   */
  async embed(caller: AiCaller, options: EmbedOptions): Promise<{ embedding?: number[]; embeddings?: number[][]; usage: { tokens: number }; model: string }> {
    if (typeof options !== 'object' || options === null) throw new FaztError('INVALID_ARGUMENT', 'fazt.ai.embed: pass { value } or { values }.');
    const one = options.value !== undefined;
    if (one === (options.values !== undefined)) throw new FaztError('INVALID_ARGUMENT', 'fazt.ai.embed: give either value (a string) or values (an array of strings).');
    if (one ? typeof options.value !== 'string' : !Array.isArray(options.values) || options.values.length === 0 || options.values.length > 2048 || options.values.some((v) => typeof v !== 'string')) {
      throw new FaztError('INVALID_ARGUMENT', 'fazt.ai.embed: value must be a string; values a non-empty array of at most 2048 strings.');
    }
    const m = this.target(options.model);
    const f = this.facts(m.label, m.kind);
    this.begin(caller);
    try {
      const sdk = await loadSdk();
      const fac = m.models(sdk);
      if (!fac.embedding) throw new FaztError('INVALID_ARGUMENT', `${m.label}: ${m.kind} providers have no embedding models; name one of another provider (e.g. "ollama/nomic-embed-text").`);
      const model = fac.embedding();
      const common = { model, maxRetries: 0, abortSignal: AbortSignal.timeout(this.timeoutMs) };
      if (one) {
        const r = await sdk.embed({ ...common, value: options.value! });
        this.usage.record(caller.appId, { inputTokens: r.usage?.tokens ?? 0 });
        return { embedding: r.embedding, usage: { tokens: r.usage?.tokens ?? 0 }, model: m.label };
      }
      const r = await sdk.embedMany({ ...common, values: options.values! });
      this.usage.record(caller.appId, { inputTokens: r.usage?.tokens ?? 0 });
      return { embeddings: r.embeddings, usage: { tokens: r.usage?.tokens ?? 0 }, model: m.label };
    } catch (e) {
      this.usage.record(caller.appId, {}, true);
      throw this.mapError(e, f);
    }
  }

  private mapError(e: unknown, f: CallFacts): FaztError {
    const name = (e as { name?: string })?.name;
    if (name === 'AI_InvalidPromptError' || name === 'AI_InvalidArgumentError' || name === 'AI_InvalidMessageRoleError') {
      return new FaztError('INVALID_ARGUMENT', `fazt.ai: ${String((e as Error).message).slice(0, 300)}`);
    }
    const err = aiError(e, f);
    if (err.code === 'AI_UNAVAILABLE' && !isFaztError(e)) this.options.logger?.warn('ai call failed', { model: f.model, code: err.code, error: err.message });
    return err;
  }
}

function isFaztErrorCode(e: unknown, code: string): boolean {
  return isFaztError(e) && e.code === code;
}

/** The error of a tool call whose arguments failed the schema. */
function toolInputError(toolName: string, e: unknown): { code: string; message: string } {
  const cause = (e as { cause?: { message?: string } })?.cause?.message ?? (e as Error)?.message ?? String(e);
  return { code: 'AI_TOOL_INPUT_INVALID', message: `The model called the tool "${toolName}" with arguments that fail its schema: ${String(cause).replace(/^Type validation failed: Value: .*?\.\s*Error message: /s, '').slice(0, 300)}` };
}

/** The error of a tool that failed (its arguments failed the schema, or it threw). */
function toolFailure(toolName: string, e: unknown): { code: string; message: string } {
  if ((e as { name?: string })?.name === 'AI_InvalidToolInputError') return toolInputError(toolName, e);
  return { code: isFaztError(e) ? e.code : 'APP_ERROR', message: String((e as Error)?.message ?? e).slice(0, 500) };
}

/** A part of the SDK's `fullStream` (the fields used here). */
interface SdkPart {
  type: string;
  text?: string;
  toolCallId?: string;
  toolName?: string;
  input?: unknown;
  output?: unknown;
  error?: unknown;
  invalid?: boolean;
  finishReason?: string;
  totalUsage?: { inputTokens?: number; outputTokens?: number; totalTokens?: number };
}

function toPart(p: SdkPart, f: CallFacts): StreamPart | undefined {
  switch (p.type) {
    case 'text-delta':
      return p.text ? { type: 'text', text: p.text } : undefined;
    case 'tool-call': {
      const bad = p.invalid ? toolInputError(p.toolName!, p.error) : undefined;
      return { type: 'tool-call', toolCallId: p.toolCallId!, toolName: p.toolName!, input: p.input, ...(bad ? { error: bad } : {}) };
    }
    case 'tool-result':
      return { type: 'tool-result', toolCallId: p.toolCallId!, toolName: p.toolName!, output: p.output ?? null };
    case 'tool-error':
      return { type: 'tool-result', toolCallId: p.toolCallId!, toolName: p.toolName!, error: toolFailure(p.toolName!, p.error) };
    case 'finish-step':
      return { type: 'step' };
    case 'finish':
      return { type: 'finish', finishReason: p.finishReason ?? 'other', usage: usageOf(p.totalUsage) };
    case 'error':
      return { type: 'error', error: { code: 'AI_UNAVAILABLE', message: f.model } };
    case 'abort':
      return { type: 'error', error: { code: 'AI_UNAVAILABLE', message: 'aborted' } };
    default:
      return undefined;
  }
}
