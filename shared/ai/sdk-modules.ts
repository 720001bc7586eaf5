/**
 * The AI SDK and its provider packages, in one module the kernel imports only on the first model
 * call (`import('./sdk-modules.js')` in sdk.ts): a node with AI configured but unused never loads
 * them (docs/ai.md, bench/ai.mjs measures the idle RSS).
 */
export { generateText, streamText, generateObject, embed, embedMany, jsonSchema, stepCountIs, APICallError, RetryError, NoSuchModelError, NoObjectGeneratedError, InvalidToolInputError, NoSuchToolError } from 'ai';
export { createOpenAI } from '@ai-sdk/openai';
export { createAnthropic } from '@ai-sdk/anthropic';
export { createGoogleGenerativeAI } from '@ai-sdk/google';
export { createOllama } from 'ollama-ai-provider-v2';
