/**
 * Generic helpers of the kernel: nothing here knows about apps, the cartridge or HTTP routes, and
 * every domain folder (runtime, events, schedule, storage, http …) may use them without depending
 * on another domain folder. Hosts import this face, not the files behind it.
 */
export { toBase64Url, fromBase64Url, randomBytes, constantTimeEqual } from './encoding.js';
export type { InvokeExport } from './invoke.js';
export { knownBody, bytesResponse } from './known-body.js';
export { LruCache } from './lru.js';
export { contentTypeFor, isCompressible } from './mime.js';
export { readCapped } from './read-capped.js';
export { MAX_RETRY_DELAY_MS, silentLogger, retryDelay, describeFailure } from './retry.js';
export { MAX_JSON_BYTES, toStoredJson } from './stored-json.js';
export { hostTimers, MAX_TIMER_DELAY_MS, SingleTimer, type HostTimers } from './timer.js';
export { utf8Length, isWellFormed } from './utf8.js';
export { TimedDispatcher, type DispatchSource, type DispatcherOptions } from './dispatcher.js';
