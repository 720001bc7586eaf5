/*
 * Fazt serverless runtime: type declarations for app authors (`api/main.js`).
 *
 * This is a global (script) declaration file: it has no imports or exports, so everything below is
 * ambient. Use it with the standard library types `lib: ["ES2022", "DOM"]` and WITHOUT Node's types
 * (`types: []`): Request, Response, Headers, URL, URLSearchParams, FormData, Blob, File, TextEncoder,
 * TextDecoder, atob, btoa, crypto, setTimeout/clearTimeout and console are the standard DOM
 * declarations; this file only declares what Fazt adds: `fazt`, `require` and the handler types.
 *
 * The sandbox provides these standard globals (and nothing else of the DOM lib: no global `fetch`, use
 * `fazt.net.fetch`; no `document`, `localStorage`, …): `Request`, `Response`, `Headers`, `URL`,
 * `URLSearchParams`, `FormData`, `Blob`, `File`, `TextEncoder`, `TextDecoder`, `atob`, `btoa`,
 * `crypto.getRandomValues`, `crypto.randomUUID`, `crypto.subtle.digest('SHA-256' | 'SHA-1' | 'SHA-512', data)`,
 * `crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])`,
 * `crypto.subtle.sign('HMAC', key, data)`, `crypto.subtle.verify('HMAC', key, signature, data)`,
 * `setTimeout`/`clearTimeout` (delays in ms) and `console.log/info/warn/error/debug`.
 *
 * In a JavaScript app, either start `api/main.js` with
 *
 *     // @ts-check
 *     /// <reference path="./fazt.d.ts" />
 *
 * or add a `jsconfig.json` beside it:
 *
 *     { "compilerOptions": { "checkJs": true, "strict": true, "target": "ES2022", "module": "ESNext",
 *                            "moduleResolution": "bundler", "lib": ["ES2022", "DOM"], "types": [] },
 *       "include": ["api/**\/*.js", "fazt.d.ts"] }
 *
 * Units used throughout: times are milliseconds (durations) or milliseconds since the Unix epoch
 * (instants, like `Date.now()`); sizes are bytes.
 */

// ---------------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------------

/**
 * What a `fetch` handler may return (or resolve to):
 * - a `Response`, sent as is;
 * - a string, sent as `text/plain; charset=utf-8` with status 200;
 * - any other object (or array), sent as JSON (`application/json`) with status 200.
 */
type FaztFetchResult = Response | object | string;

/**
 * Handles an HTTP request to the app's `/api/…` routes.
 * @param request the incoming request. `request.url` has the public origin and the path inside the app,
 *   which always starts with `/api/`: on the app's own origin that is the public URL; under the node's
 *   path (`/a/<name>/api/x`) the `/a/<name>` prefix is left out (it is {@link FaztContext.basePath}).
 *   Links back to the app are `origin + ctx.basePath + path`, or relative.
 * @param env the app's secrets (same object as {@link Fazt.env | fazt.env}).
 * @param ctx per-invocation helpers.
 */
type FaztFetchHandler = (
  request: Request,
  env: FaztEnv,
  ctx: FaztContext,
) => FaztFetchResult | Promise<FaztFetchResult>;

/**
 * Runs a job scheduled with {@link FaztSchedule | fazt.schedule} or a cron entry of the app's manifest.
 * If it throws (or rejects) the job may be retried; {@link FaztJob.attempt} counts the runs.
 */
type FaztScheduledHandler = (job: FaztJob, env: FaztEnv, ctx: FaztContext) => void | Promise<void>;

/** Receives an event emitted with {@link FaztEvents.emit | fazt.events.emit} that the app subscribed to. */
type FaztEventHandler = (event: FaztEvent, env: FaztEnv, ctx: FaztContext) => void | Promise<void>;

/**
 * The handlers of an app's `api/main.js`. Any of these shapes is accepted:
 *
 * ```js
 * // ES module, default export (recommended)
 * export default { fetch(request, env, ctx) { … }, scheduled(job, env, ctx) { … }, on(event, env, ctx) { … } };
 * // ES module, named exports
 * export function fetch(request, env, ctx) { … }
 * // CommonJS
 * module.exports = (request, env, ctx) => { … };          // a bare fetch handler
 * module.exports = { fetch, scheduled, on };
 * ```
 *
 * In JavaScript, check the default export with `export default /** @satisfies {FaztHandlers} *\/ ({ … })`.
 */
interface FaztHandlers {
  /** Handles HTTP requests; see {@link FaztFetchHandler}. */
  fetch(request: Request, env: FaztEnv, ctx: FaztContext): FaztFetchResult | Promise<FaztFetchResult>;
  /** Runs scheduled jobs; see {@link FaztScheduledHandler}. */
  scheduled?(job: FaztJob, env: FaztEnv, ctx: FaztContext): void | Promise<void>;
  /** Receives events; see {@link FaztEventHandler}. */
  on?(event: FaztEvent, env: FaztEnv, ctx: FaztContext): void | Promise<void>;
}

/**
 * The secrets the app's owner set, by name. The same values as
 * {@link Fazt.env | fazt.env}. A name that is not set is absent (`undefined`).
 */
interface FaztEnv {
  [name: string]: string;
}

/** Per-invocation helpers passed to every handler. */
interface FaztContext {
  /**
   * Keeps the invocation alive after the response has been sent until `promise` settles (bounded by the
   * app's wall-time limit), e.g. for logging or cache writes that need not delay the response.
   * A rejection is logged, not thrown.
   */
  waitUntil(promise: Promise<unknown>): void;
  /** Unique id of this invocation (also attached to the app's log lines). */
  readonly requestId: string;
  /**
   * Path prefix of the app on the host the request came to: `''` on its own origin
   * (`http://<name>.<domain>/`), `'/a/<name>'` under the node's path. `''` for jobs and events.
   */
  readonly basePath: string;
}

/** A scheduled job being run by a `scheduled` handler. */
interface FaztJob {
  /** The job's id (as returned by {@link FaztSchedule.after}/{@link FaztSchedule.at}). */
  readonly id: string;
  /** For cron jobs: the name of the cron entry in the app's manifest. */
  readonly name?: string;
  /** How the job was created: `fazt.schedule.after`, `fazt.schedule.at`, or a manifest cron entry. */
  readonly kind: 'after' | 'at' | 'cron';
  /** For cron jobs: the cron expression (e.g. `"0 * * * *"`). */
  readonly cron?: string;
  /** When the job was due, ms since the Unix epoch (it may run slightly later). */
  readonly scheduledAt: number;
  /** The `state` given when the job was scheduled (a JSON-compatible value), or `undefined`/`null`. */
  readonly state: unknown;
  /** Which run this is: 1 for the first, 2 for the first retry, … */
  readonly attempt: number;
}

/** An event delivered to an `on` handler. */
interface FaztEvent {
  /** The event's unique id (as returned by {@link FaztEvents.emit}). */
  readonly id: string;
  /** Name of the app that emitted the event. */
  readonly app: string;
  /** The event type given to `emit` (e.g. `"order.created"`). */
  readonly type: string;
  /** The payload given to `emit` (a JSON-compatible value), or `null`. */
  readonly payload: unknown;
  /** When the event was emitted, ms since the Unix epoch. */
  readonly createdAt: number;
}

// ---------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------

/**
 * Stable error codes of `fazt.*` calls. More may be added; compare with string literals.
 * - `PERMISSION_DENIED`: the app (or the current user) may not do this (e.g. `net.fetch` to a host not
 *   allowed by the app's manifest).
 * - `INVALID_ARGUMENT`: a bad argument (wrong type, key too long, value not JSON-serializable, …).
 * - `LIMIT_EXCEEDED`: a quota or size limit was hit (storage, value size, request count, time).
 * - `NOT_FOUND`: the target does not exist (where that is an error rather than a `null` result).
 * - `CONFLICT`: the target already exists (e.g. `insert` with an `_id` in use).
 * - `DISK_FULL`: the node's disk is fuller than the owner's limit; writes that grow storage (`kv.set`,
 *   `docs.insert`, `blobs.put`, `events.emit`, `schedule.after` …) are refused, reads and deletes work.
 * - `EGRESS_QUOTA_EXCEEDED`: the app used its monthly `net.fetch` bytes (`retryAfterSeconds` until the month ends).
 */
type FaztErrorCode = 'PERMISSION_DENIED' | 'INVALID_ARGUMENT' | 'LIMIT_EXCEEDED' | 'NOT_FOUND' | 'CONFLICT' | 'DISK_FULL' | 'EGRESS_QUOTA_EXCEEDED' | (string & {});

/**
 * The error every `fazt.*` call throws or rejects with: a plain `Error` with a stable `code`.
 *
 * ```js
 * try { await fazt.kv.set(key, value); }
 * catch (e) { if (/** @type {FaztError} *\/ (e).code === 'LIMIT_EXCEEDED') { … } else throw e; }
 * ```
 */
interface FaztError extends Error {
  /** Stable, machine-readable code, e.g. `"PERMISSION_DENIED"`; `message` is for humans and may change. */
  code: FaztErrorCode;
  /** Seconds to wait before trying again (`AI_RATE_LIMITED`, `AI_BUDGET_EXCEEDED`, `EGRESS_QUOTA_EXCEEDED`), when known. */
  retryAfterSeconds?: number;
}

// ---------------------------------------------------------------------------------------------------
// fazt.*
// ---------------------------------------------------------------------------------------------------

/** The app being run. */
interface FaztApp {
  /** The app's stable id. */
  readonly id: string;
  /** The app's name (its subdomain / path segment). */
  readonly name: string;
  /** The deployed version number of the app, increasing with every deploy. */
  readonly version: number;
}

/** The signed-in user making the request. */
interface FaztUser {
  /** The user's stable id. */
  readonly id: string;
  /** The user's login name. */
  readonly username: string;
  /** `owner` of this Fazt instance, or a `member`. */
  readonly role: 'owner' | 'member';
}

/** Options of {@link FaztKV.set} and {@link FaztKV.increment}. */
interface FaztKVSetOptions {
  /** Time to live in milliseconds; the entry disappears after it. Omit to keep it until deleted. */
  ttl?: number;
}

/** Options of {@link FaztKV.list}. */
interface FaztKVListOptions {
  /** Only keys starting with this string. */
  prefix?: string;
  /** Most items to return (the host may cap it). */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string;
}

/** One entry returned by {@link FaztKV.list}. */
interface FaztKVItem<T = unknown> {
  key: string;
  value: T;
  /** When the entry expires, ms since the Unix epoch; absent when it has no TTL. */
  expiresAt?: number;
}

/** The app's key-value store. Values are JSON-compatible (stored as JSON). Keys sort lexicographically. */
interface FaztKV {
  /**
   * The value stored under `key`, or `null` when it is absent or expired.
   * @typeParam T the value's type (not checked at run time).
   */
  get<T = unknown>(key: string): Promise<T | null>;
  /**
   * Stores `value` (JSON-serializable) under `key`, replacing any previous value.
   * @throws {FaztError} `INVALID_ARGUMENT` if not serializable, `LIMIT_EXCEEDED` if too big or over quota.
   */
  set(key: string, value: unknown, options?: FaztKVSetOptions): Promise<void>;
  /** Deletes `key`. Resolves `true` if it existed. */
  delete(key: string): Promise<boolean>;
  /**
   * One page of entries in key order. Pass the returned `cursor` to get the next page; it is absent on
   * the last page.
   */
  list<T = unknown>(options?: FaztKVListOptions): Promise<{ items: FaztKVItem<T>[]; cursor?: string }>;
  /**
   * Atomically adds `by` (default 1, may be negative) to the number stored under `key` (0 when absent)
   * and resolves the new value. `options.ttl` (ms) applies when the key is created.
   * @throws {FaztError} `INVALID_ARGUMENT` if the stored value is not a number.
   */
  increment(key: string, by?: number, options?: FaztKVSetOptions): Promise<number>;
}

/** A plain value a filter compares with. */
type FaztFilterScalar = string | number | boolean | null;

/**
 * Comparison operators of a {@link FaztFilter} condition. Several operators on one field must all hold.
 * Ordering operators compare numbers numerically and strings lexicographically (so ISO 8601 dates work).
 */
interface FaztFilterOperators {
  /** Equal to. */
  $eq?: FaztFilterScalar;
  /** Not equal to. */
  $ne?: FaztFilterScalar;
  /** Greater than. */
  $gt?: number | string;
  /** Greater than or equal to. */
  $gte?: number | string;
  /** Less than. */
  $lt?: number | string;
  /** Less than or equal to. */
  $lte?: number | string;
  /** Equal to one of these. */
  $in?: FaztFilterScalar[];
  /** Equal to none of these. */
  $nin?: FaztFilterScalar[];
  /** The field is an array containing this value, or a string containing this substring. */
  $contains?: FaztFilterScalar;
}

/**
 * Which documents: field path (dotted for nested fields, e.g. `"address.city"`) → a value (equality) or
 * an operator object. All entries must match. `{}` matches every document.
 *
 * ```js
 * { status: 'open', 'owner.id': userId, priority: { $gte: 2 }, tags: { $contains: 'urgent' } }
 * ```
 */
interface FaztFilter {
  [path: string]: FaztFilterScalar | FaztFilterOperators;
}

/** Options of {@link FaztCollection.find}. */
interface FaztFindOptions {
  /** Which documents (default: all). */
  where?: FaztFilter;
  /** Sort order: field path → 1 (ascending) or -1 (descending), applied in key order. */
  sort?: Record<string, 1 | -1>;
  /** Most documents to return (the host may cap it). */
  limit?: number;
  /** Documents to skip first (for paging). */
  offset?: number;
}

/** Update operators of {@link FaztCollection.update}. */
interface FaztUpdate {
  /** Sets these field paths to these (JSON-compatible) values. */
  $set?: Record<string, unknown>;
  /** Removes these field paths (the values are ignored; use `true` or `""`). */
  $unset?: Record<string, unknown>;
  /** Adds these amounts (may be negative) to these numeric field paths (missing fields count as 0). */
  $inc?: Record<string, number>;
}

/**
 * A collection of JSON documents. Every stored document has a string `_id` (generated by `insert` unless
 * given).
 * @typeParam T the documents' shape (not checked at run time; validate input, e.g. with `zod`).
 */
interface FaztCollection<T extends object = Record<string, unknown>> {
  /**
   * Inserts `doc` and resolves it with its `_id`.
   * @throws {FaztError} `CONFLICT` if a document with the given `_id` exists, `INVALID_ARGUMENT` if the
   *   document is not serializable.
   */
  insert(doc: T & { _id?: string }): Promise<T & { _id: string }>;
  /** The document with this `_id`, or `null`. */
  get(id: string): Promise<(T & { _id: string }) | null>;
  /** The documents matching `query.where`, sorted and paged. */
  find(query?: FaztFindOptions): Promise<(T & { _id: string })[]>;
  /**
   * Updates the document with this `_id`, or every document matching the filter. Resolves the number of
   * documents changed.
   */
  update(idOrFilter: string | FaztFilter, update: FaztUpdate): Promise<number>;
  /** Deletes the document with this `_id`, or every document matching the filter. Resolves the number deleted. */
  delete(idOrFilter: string | FaztFilter): Promise<number>;
  /** How many documents match `where` (default: all). */
  count(where?: FaztFilter): Promise<number>;
}

/** The app's document store. */
interface FaztDocs {
  /**
   * The collection called `name` (a collection exists once it holds a document).
   * @typeParam T the documents' shape.
   */
  collection<T extends object = Record<string, unknown>>(name: string): FaztCollection<T>;
}

/** Metadata of a stored blob. */
interface FaztBlobInfo {
  /** The blob's key (like a file path, e.g. `"avatars/42.png"`). */
  readonly key: string;
  /** Size in bytes. */
  readonly size: number;
  /** MIME type, e.g. `"image/png"`. */
  readonly contentType: string;
  /** When it was last written, ms since the Unix epoch. */
  readonly updatedAt: number;
}

/**
 * A stored blob. Its bytes stay in the host until read with `arrayBuffer()`/`text()`.
 *
 * To send it, pass it as a response body: `new Response(blob)` is streamed by the host without entering the
 * sandbox (with the blob's content type unless headers say otherwise). The DOM `BodyInit` type does not know
 * FaztBlob, so in checked JavaScript cast it: `new Response(/** @type {any} *\/ (blob))`.
 */
interface FaztBlob extends FaztBlobInfo {
  /** Reads the whole blob into the sandbox (counts against its memory limit). */
  arrayBuffer(): Promise<ArrayBuffer>;
  /** Reads the whole blob into the sandbox, decoded as UTF-8. */
  text(): Promise<string>;
}

/** Options of {@link FaztBlobs.put}. */
interface FaztBlobPutOptions {
  /** MIME type to store, e.g. `"image/png"`; default: the body's own type when it has one. */
  contentType?: string;
}

/** Options of {@link FaztBlobs.list}. */
interface FaztBlobListOptions {
  /** Only keys starting with this string (e.g. `"avatars/"`). */
  prefix?: string;
  /** Most items to return (the host may cap it). */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string;
}

/** The app's blob (file) store. */
interface FaztBlobs {
  /**
   * Stores `body` under `key`, replacing any previous blob. A string is stored as UTF-8; a
   * Request/Response's body is read.
   * @throws {FaztError} `LIMIT_EXCEEDED` if too big or over quota.
   */
  put(
    key: string,
    body: ArrayBuffer | ArrayBufferView | string | Blob | Request | Response,
    options?: FaztBlobPutOptions,
  ): Promise<FaztBlobInfo>;
  /** The blob under `key`, or `null`. Its bytes are read only on `arrayBuffer()`/`text()`. */
  get(key: string): Promise<FaztBlob | null>;
  /** The blob's metadata, or `null`. */
  head(key: string): Promise<FaztBlobInfo | null>;
  /** Deletes the blob. Resolves `true` if it existed. */
  delete(key: string): Promise<boolean>;
  /**
   * One page of blobs in key order. Pass the returned `cursor` to get the next page; it is absent on the
   * last page.
   */
  list(options?: FaztBlobListOptions): Promise<{ items: FaztBlobInfo[]; cursor?: string }>;
}

/** Events between apps. */
interface FaztEvents {
  /**
   * Emits an event of `type` with a JSON-compatible `payload`; apps subscribed to `type` receive it in
   * their `on` handler, asynchronously. Resolves the event's id.
   */
  emit(type: string, payload?: unknown): Promise<{ id: string }>;
}

/** A job as listed by {@link FaztSchedule.list}. */
interface FaztScheduledJobInfo {
  id: string;
  /** `"after"`, `"at"` or `"cron"`. */
  kind: string;
  /** For cron jobs: the cron entry's name. */
  name?: string;
  /** When it runs next, ms since the Unix epoch. */
  runAt: number;
  /** E.g. `"pending"`, `"running"`, `"failed"`. */
  status: string;
}

/** Jobs that run the app's `scheduled` handler later. */
interface FaztSchedule {
  /**
   * Runs the `scheduled` handler once, `ms` milliseconds from now, with `state` (JSON-compatible) as
   * {@link FaztJob.state}. Resolves the job's id and when it is due (ms since the Unix epoch).
   */
  after(ms: number, state?: unknown): Promise<{ id: string; runAt: number }>;
  /**
   * Runs the `scheduled` handler once at `when`: a Date, ms since the Unix epoch, or an ISO 8601 string.
   * Resolves the job's id and when it is due (ms since the Unix epoch).
   */
  at(when: Date | number | string, state?: unknown): Promise<{ id: string; runAt: number }>;
  /** Cancels a pending job. Resolves `true` if it was pending. */
  cancel(id: string): Promise<boolean>;
  /** The app's pending jobs (including its cron entries). */
  list(): Promise<FaztScheduledJobInfo[]>;
}

/** Structured logging to the app's log (visible to the owner). `data` must be JSON-compatible. */
interface FaztLog {
  /** Verbose detail. */
  debug(message: string, data?: unknown): void;
  /** Normal operation. */
  info(message: string, data?: unknown): void;
  /** Something unexpected but handled. */
  warn(message: string, data?: unknown): void;
  /** A failure. */
  error(message: string, data?: unknown): void;
}

/** Options of {@link FaztNet.fetch}: the standard `RequestInit` plus a timeout. */
type FaztFetchInit = RequestInit & {
  /** Abort after this many milliseconds (the host may impose a lower limit). */
  timeout?: number;
};

/** Outbound HTTP. */
interface FaztNet {
  /**
   * Fetches `url` like the standard `fetch` (which is not available in the sandbox).
   * @throws {FaztError} `PERMISSION_DENIED` if the host is not allowed for the app, `LIMIT_EXCEEDED` on
   * timeout or too many requests, `EGRESS_QUOTA_EXCEEDED` when the request and response bodies would
   * pass the app's monthly egress quota (checked before sending and while the response streams in).
   */
  fetch(url: string | URL, init?: FaztFetchInit): Promise<Response>;
}

// ---------------------------------------------------------------------------------------------------
// AI (docs/ai.md): the AI SDK's names, so its docs apply
// ---------------------------------------------------------------------------------------------------

/**
 * A message of a conversation (the AI SDK's `ModelMessage`; content a string or the SDK's parts).
 * Tool results from earlier steps are `{ role: 'tool', content: [{ type: 'tool-result', … }] }`.
 */
interface FaztAiMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | unknown[];
}

/** A JSON Schema (draft 2020-12) object. */
type FaztJsonSchema = Record<string, unknown>;

/** A tool the model may call. It runs in the app's sandbox; what it returns (JSON) goes back to the model. */
interface FaztAiTool<Input = any> {
  description?: string;
  /** JSON Schema of the input; arguments that fail it never reach `execute` (the model is told, the call shows `AI_TOOL_INPUT_INVALID`). */
  inputSchema: FaztJsonSchema;
  /** Runs the tool; a throw becomes the tool's error, shown to the model. */
  execute?(input: Input, options: { toolCallId: string }): unknown | Promise<unknown>;
}

/** Options of `generateText` and `streamText`: give `prompt` or `messages`. */
interface FaztAiTextOptions {
  /** `provider/model` (e.g. `"openai/gpt-4o-mini"`), a model of the node's default provider, or absent: the node's default model. */
  model?: string;
  system?: string;
  prompt?: string;
  messages?: FaztAiMessage[];
  tools?: Record<string, FaztAiTool>;
  /** Most model calls in the tool loop, 1–20 (like the SDK's `stopWhen: stepCountIs(n)`); default 1: tools run once, no follow-up call. */
  maxSteps?: number;
  /** The SDK's spelling of {@link maxSteps}: `stopWhen: fazt.ai.stepCountIs(5)`. */
  stopWhen?: { readonly stepCount: number };
  maxOutputTokens?: number;
  /** 0–2. */
  temperature?: number;
}

/** Token counts as the provider reported them (0 when it did not). */
interface FaztAiUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

/** A tool call the model made; `error` when its arguments failed the schema (then it did not run). */
interface FaztAiToolCall {
  toolCallId: string;
  toolName: string;
  input: unknown;
  error?: { code: 'AI_TOOL_INPUT_INVALID' | (string & {}); message: string };
}

/** A tool's result, or its error. */
interface FaztAiToolResult {
  toolCallId: string;
  toolName: string;
  output?: unknown;
  error?: { code: string; message: string };
}

/** What `generateText` resolves to. */
interface FaztAiTextResult {
  text: string;
  /** Every tool call of every step. */
  toolCalls: FaztAiToolCall[];
  toolResults: FaztAiToolResult[];
  /** Summed over the steps. */
  usage: FaztAiUsage;
  /** `"stop"`, `"length"`, `"tool-calls"`, `"content-filter"`, `"error"`, `"other"`. */
  finishReason: string;
  /** `provider/model` that answered. */
  model: string;
  /** Model calls made. */
  steps: number;
}

/** A part of {@link FaztAiStream.fullStream}. */
type FaztAiStreamPart =
  | { type: 'text'; text: string }
  | ({ type: 'tool-call' } & FaztAiToolCall)
  | ({ type: 'tool-result' } & FaztAiToolResult)
  | { type: 'step' }
  | { type: 'finish'; finishReason: string; usage: FaztAiUsage };

/** What `streamText` returns at once; the promises settle when the answer is complete. */
interface FaztAiStream {
  readonly textStream: AsyncIterable<string>;
  readonly fullStream: AsyncIterable<FaztAiStreamPart>;
  readonly text: Promise<string>;
  readonly usage: Promise<FaztAiUsage>;
  readonly totalUsage: Promise<FaztAiUsage>;
  readonly finishReason: Promise<string>;
  readonly toolCalls: Promise<FaztAiToolCall[]>;
  readonly toolResults: Promise<FaztAiToolResult[]>;
  /** A `text/plain` response streaming the text as it comes (a failure mid-way cuts the response). */
  toTextStreamResponse(init?: ResponseInit): Response;
  /** A `text/event-stream` response in the AI SDK's UI message stream protocol (what `useChat` reads); a failure mid-way is an `error` event. */
  toUIMessageStreamResponse(init?: ResponseInit): Response;
}

/**
 * Models for app code: needs the `ai` permission, granted by the owner. Errors (as {@link FaztError}
 * codes): `AI_UNAVAILABLE` (no provider, provider down, timeout), `AI_AUTH` (the node's key was
 * refused), `AI_RATE_LIMITED` (with `retryAfterSeconds`), `AI_MODEL_NOT_FOUND`, `AI_BUDGET_EXCEEDED`
 * (the owner's monthly cap), `AI_STREAM_INTERRUPTED`, `AI_OUTPUT_INVALID`, `PERMISSION_DENIED`,
 * `INVALID_ARGUMENT`. Uncaught, they answer the request with their own status (503, 502, 429, 404 …).
 */
interface FaztAi {
  /** The SDK's stop condition for the tool loop: at most `n` model calls (1–20). */
  stepCountIs(n: number): { readonly stepCount: number };
  generateText(options: FaztAiTextOptions): Promise<FaztAiTextResult>;
  /** Starts at once; return `.toTextStreamResponse()` or `.toUIMessageStreamResponse()` to stream to the page. */
  streamText(options: FaztAiTextOptions): FaztAiStream;
  /** An object matching `schema` (JSON Schema). @throws {FaztError} `AI_OUTPUT_INVALID` when the answer does not match. */
  generateObject<T = unknown>(options: Omit<FaztAiTextOptions, 'tools' | 'maxSteps'> & { schema: FaztJsonSchema; schemaName?: string; schemaDescription?: string }): Promise<{ object: T; usage: FaztAiUsage; finishReason: string; model: string }>;
  /** Embeddings of `value` or of each of `values` (`model`: an embedding model, e.g. `"ollama/nomic-embed-text"`). */
  embed(options: { model?: string; value: string }): Promise<{ embedding: number[]; usage: { tokens: number }; model: string }>;
  embed(options: { model?: string; values: string[] }): Promise<{ embeddings: number[][]; usage: { tokens: number }; model: string }>;
}

// ---------------------------------------------------------------------------------------------------
// Realtime (docs/realtime.md)
// ---------------------------------------------------------------------------------------------------

/** What {@link FaztRealtime.publish} reports. */
interface FaztPublishResult {
  /** The message's id, `<epoch>-<seq>` (what pages see as `lastEventId`). */
  id: string;
  /** Pages (streams) it was handed to right now. */
  delivered: number;
}

/**
 * Live updates to the app's own pages. Pages follow channels with `fazt.realtime.subscribe(channel, fn)`
 * from `/_fazt/realtime.js` (one Server-Sent Events stream per page). Channels belong to the app:
 * another app's pages never see them. Messages stay in memory for 2 minutes (100 per channel), so a
 * page that reconnects gets what it missed; after a node restart it gets a `reset` instead.
 */
interface FaztRealtime {
  /**
   * Sends `data` to every page of this app following `channel`. Works in `fetch`, `scheduled` and
   * `on` handlers alike.
   * @param channel 1–64 letters, digits, `.`, `_`, `:` or `-`, starting with a letter or digit.
   * @param data any JSON value, at most 64 KiB as JSON (send an id and let the page fetch the rest).
   * @throws {FaztError} `INVALID_ARGUMENT` (bad channel name, data that is not JSON), `PAYLOAD_TOO_LARGE`.
   */
  publish(channel: string, data?: unknown): Promise<FaztPublishResult>;
}

/** The `fazt` global: the app's context and host services. Every async call rejects with a {@link FaztError}. */
interface Fazt {
  /** The running app. */
  readonly app: FaztApp;
  /** The signed-in user making the request, or `null` (anonymous, or a job/event invocation). */
  readonly user: FaztUser | null;
  /** The secrets the app's owner set, by name (same as the handlers' `env`). */
  readonly env: Readonly<Record<string, string>>;
  /** Key-value store. */
  readonly kv: FaztKV;
  /** Document store. */
  readonly docs: FaztDocs;
  /** Blob (file) store. */
  readonly blobs: FaztBlobs;
  /** Events between apps. */
  readonly events: FaztEvents;
  /** Deferred jobs. */
  readonly schedule: FaztSchedule;
  /** Structured logging. */
  readonly log: FaztLog;
  /** Outbound HTTP. */
  readonly net: FaztNet;
  /** Models (needs the `ai` permission; docs/ai.md). */
  readonly ai: FaztAi;
  /** Live updates to the app's own pages (docs/realtime.md). */
  readonly realtime: FaztRealtime;
  /**
   * Notifies the owner on their subscribed devices (Web Push), as this app: its title and icon, and a
   * tap opens it (`url`: a path inside the app). Needs the `notify` permission, granted by the owner
   * (docs/notify.md). Resolves with one report per device once each delivery ended (retries
   * included); rejects with `PERMISSION_DENIED`, `INVALID_ARGUMENT` (title missing or over 200
   * characters, body over 1,000, url outside the app) or `LIMIT_EXCEEDED` (over 3,993 bytes).
   */
  notify(message: { title: string; body?: string; url?: string; tag?: string }): Promise<FaztDelivery[]>;
}

/** One device's delivery of `fazt.notify` (docs/notify.md). */
interface FaztDelivery {
  subscriptionId: string;
  device: string;
  userId: string;
  /** `sent` (accepted by the push service), `expired` (gone; removed), `failed`, `shown` (the browser node's own device). */
  status: 'sent' | 'expired' | 'failed' | 'shown';
  statusCode: number | null;
  attempts: number;
  error?: string;
  /** ms. */
  ms: number;
}

/** Fazt's host services, available in every handler. */
declare const fazt: Fazt;

// ---------------------------------------------------------------------------------------------------
// require
// ---------------------------------------------------------------------------------------------------

/** Modules of the bundled standard library (the real npm packages; see `dist/stdlib/manifest.json`). */
type FaztStdlibModule = 'lodash' | 'dayjs' | 'uuid' | 'zod' | 'node-html-parser';

/**
 * Loads a module of the bundled standard library, CommonJS style; `import` works too
 * (`import _ from 'lodash'`, `import { z } from 'zod'`). Returns `any` because the packages' own types
 * are not part of this file. Other names throw.
 */
declare function require(name: FaztStdlibModule | (string & {})): any;
