import type { ResolvedProvider } from './providers.js';

/**
 * Lazy access to the AI SDK (`ai` 6 and its provider packages, https://ai-sdk.dev/docs): loaded on
 * the first model call, then kept. Model objects are built per call from the resolved provider
 * (its key is handed to the provider package and to nothing else).
 */

/** The SDK's module (see sdk-modules.ts). */
export type AiSdk = typeof import('./sdk-modules.js');

let loading: Promise<AiSdk> | undefined;

/** Loads the SDK once (a dynamic import). @returns the module. */
export function loadSdk(): Promise<AiSdk> {
  // the SDK's console warnings (e.g. "maxOutputTokens in compatibility mode") are not the node's log
  (globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS ??= false;
  loading ??= import('./sdk-modules.js').catch((e) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

/** True once {@link loadSdk} has been called (for diagnostics and the idle-memory test). */
export function sdkRequested(): boolean {
  return loading !== undefined;
}

/** The kind's public API base URL (what the provider package uses when none is set). */
export const PUBLIC_BASE_URL: Record<ResolvedProvider['kind'], string | null> = {
  openai: 'https://api.openai.com/v1',
  'openai-compatible': null,
  anthropic: 'https://api.anthropic.com/v1',
  google: 'https://generativelanguage.googleapis.com/v1beta',
  ollama: 'http://127.0.0.1:11434/api',
};

/** Kinds that need an API key (Ollama and local OpenAI-compatible servers usually do not). */
export const NEEDS_KEY: Record<ResolvedProvider['kind'], boolean> = { openai: true, 'openai-compatible': false, anthropic: true, google: true, ollama: false };

/** Ollama's base URL as its provider package wants it: ending in `/api`. */
function ollamaBase(url: string): string {
  return /\/api$/.test(url) ? url : `${url}/api`;
}

/** What a provider package builds: a chat model and (where the kind has one) an embedding model. */
export interface ModelFactory {
  /** A language model (AI SDK `LanguageModelV3`). */
  language(modelId: string): Parameters<AiSdk['generateText']>[0]['model'];
  /** An embedding model, or `undefined` when the kind has none (Anthropic). */
  embedding?(modelId: string): Parameters<AiSdk['embed']>[0]['model'];
}

/**
 * Builds the provider package's models for `p`. OpenAI and OpenAI-compatible servers are reached
 * through chat-completions (`openai.chat`), which llama.cpp, LM Studio and vLLM speak.
 * @param fetchImpl the fetch the provider uses (the host's; default the global one).
 * @param browser calls leave from a browser: Anthropic gets its direct-browser-access header.
 */
export function modelFactory(sdk: AiSdk, p: ResolvedProvider, fetchImpl?: typeof fetch, browser = false): ModelFactory {
  const baseURL = p.baseUrl ?? undefined;
  const f = fetchImpl ? { fetch: fetchImpl } : {};
  switch (p.kind) {
    case 'openai':
    case 'openai-compatible': {
      const o = sdk.createOpenAI({ apiKey: p.key ?? 'none', baseURL, name: p.name, ...f });
      return { language: (m) => o.chat(m), embedding: (m) => o.embedding(m) };
    }
    case 'anthropic': {
      const a = sdk.createAnthropic({ apiKey: p.key ?? '', baseURL, ...(browser ? { headers: { 'anthropic-dangerous-direct-browser-access': 'true' } } : {}), ...f });
      return { language: (m) => a(m) };
    }
    case 'google': {
      const g = sdk.createGoogleGenerativeAI({ apiKey: p.key ?? '', baseURL, ...f });
      return { language: (m) => g(m), embedding: (m) => g.embedding(m) };
    }
    case 'ollama': {
      const o = sdk.createOllama({ baseURL: baseURL ? ollamaBase(baseURL) : undefined, headers: p.key ? { authorization: `Bearer ${p.key}` } : undefined, ...f });
      return { language: (m) => o(m), embedding: (m) => o.embedding(m) };
    }
  }
}
