/**
 * AI in the kernel (docs/ai.md): model providers with keys sealed in the cartridge, `fazt.ai` for
 * app code, usage and budgets per app, through the Vercel AI SDK loaded on first use.
 */
export { AiService, checkTextOptions, type AiServiceOptions, type AiCaller, type ToolSpec, type ToolCallInfo, type ToolResultInfo, type ToolRunner, type TextCallOptions, type TextResult, type TokenUsage, type ObjectCallOptions, type EmbedOptions } from './service.js';
export { AiStream, type StreamPart } from './stream.js';
export { AppAiCalls, MAX_OPEN_CALLS_PER_APP, type BeginArgs, type ToolRequest } from './app-calls.js';
export { ProviderStore, PROVIDER_KINDS, PROVIDER_NAME_PATTERN, checkProviderName, checkProviderKind, checkBaseUrl, checkModelId, type ProviderKind, type ProviderInfo, type ProviderInput } from './providers.js';
export { UsageStore, monthOf, type AiUsage, type AiBudget } from './usage.js';
export { aiError, retryAfterSeconds } from './errors.js';
export { sdkRequested, PUBLIC_BASE_URL, NEEDS_KEY } from './sdk.js';
