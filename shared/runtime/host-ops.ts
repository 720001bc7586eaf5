import { hmac } from '@noble/hashes/hmac.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { FaztError } from '../errors.js';
import type { BeginArgs, StreamPart, ToolRequest } from '../ai/index.js';
import type { DeliveryReport } from '../notify/index.js';

/**
 * The sandbox's host operations: one typed table of op name → kind, where it runs, argument and
 * result types. The prelude (`prelude.sandbox.js`) calls them by name through `host.call` (sync) and
 * `host.async` (promise); the sandbox (`sandbox.ts`) dispatches by this table; the runtime
 * (`index.ts`) builds the handlers of an app once per app version. A test checks that every name the
 * prelude uses is in {@link HOST_OPS} with the kind it is called with.
 */

/** A log level of `fazt.log` / `console`. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A blob's public facts. */
export interface BlobFacts {
  key: string;
  size: number;
  contentType: string;
  updatedAt: number;
}

/** One page of a listing. */
export interface Page<T> {
  items: T[];
  cursor?: string | null;
}

/** A part of a multipart body as the prelude's `formData()` rebuilds it. */
export interface FormPart {
  name: string;
  value?: string;
  file?: boolean;
  filename?: string;
  type?: string;
  /** [start, end) of the file's bytes in `body.formDataFiles`. */
  start?: number;
  end?: number;
}

/** A `fazt.net.fetch` request. */
export interface NetFetchArgs {
  url: string;
  method: string;
  headers: [string, string][];
  /** ms */
  timeout?: number;
  redirect?: 'follow' | 'manual' | 'error';
}

/** Argument (JSON), result and kind of every host operation. `bytes`: the op also takes/returns raw bytes. */
export interface HostOpSignatures {
  log: { args: { level: LogLevel; message: string; data?: unknown }; result: null };
  'utf8.encode': { args: string; result: Uint8Array };
  'utf8.decode': { args: { fatal?: boolean }; result: string };
  'url.parse': { args: { url: string; base?: string }; result: Record<string, string> };
  'url.set': { args: { href: string; part: string; value: string }; result: Record<string, string> };
  'crypto.random': { args: number; result: Uint8Array };
  'crypto.uuid': { args: undefined; result: string };
  'crypto.digest': { args: { alg: string }; result: Uint8Array };
  'crypto.hmac': { args: { alg: string }; result: Uint8Array };
  'kv.get': { args: { key: string }; result: unknown };
  'kv.set': { args: { key: string; value: unknown; ttl?: number | null }; result: null };
  'kv.delete': { args: { key: string }; result: boolean };
  'kv.list': { args: { prefix?: string; limit?: number; cursor?: string }; result: Page<{ key: string; value: unknown }> };
  'kv.increment': { args: { key: string; by?: number; ttl?: number | null }; result: number };
  'docs.insert': { args: { collection: string; doc: object }; result: unknown };
  'docs.get': { args: { collection: string; id: string }; result: unknown };
  'docs.find': { args: { collection: string; query?: object }; result: unknown };
  'docs.update': { args: { collection: string; target: string | Record<string, unknown>; update: object }; result: unknown };
  'docs.delete': { args: { collection: string; target: string | Record<string, unknown> }; result: unknown };
  'docs.count': { args: { collection: string; where?: Record<string, unknown> }; result: number };
  'blobs.head': { args: { key: string }; result: BlobFacts | null };
  'blobs.delete': { args: { key: string }; result: boolean };
  'blobs.list': { args: { prefix?: string; limit?: number; cursor?: string }; result: Page<BlobFacts> };
  'blobs.read': { args: string; result: Uint8Array };
  'blobs.put': { args: { key: string; contentType: string; ref?: string; from?: string }; result: BlobFacts };
  'events.emit': { args: { type: string; payload: unknown }; result: { id: string } };
  'realtime.publish': { args: { channel: string; data: unknown }; result: { id: string; delivered: number } };
  'schedule.after': { args: { ms: number; state?: unknown }; result: { id: string; runAt: number } };
  'schedule.at': { args: { at: number; state?: unknown }; result: { id: string; runAt: number } };
  'schedule.cancel': { args: { id: string }; result: boolean };
  'schedule.list': { args: undefined; result: { id: string; kind: string; name?: string; runAt: number; status: string }[] };
  'net.fetch': { args: NetFetchArgs; result: { status: number; statusText: string; headers: [string, string][]; url: string; redirected: boolean; body: Uint8Array } };
  'ai.begin': { args: BeginArgs; result: { id: string } };
  'ai.result': { args: { id: string }; result: unknown };
  'ai.next': { args: { id: string; cursor: number }; result: { parts: StreamPart[]; cursor: number; done: boolean } };
  'ai.tool': { args: { id: string }; result: ToolRequest | null };
  'ai.toolResult': { args: { id: string; toolCallId: string; output?: unknown; error?: { code?: string; message?: string } }; result: null };
  'notify.send': { args: { title: string; body?: string; url?: string; tag?: string }; result: DeliveryReport[] };
  'body.read': { args: undefined; result: Uint8Array };
  'body.formData': { args: undefined; result: FormPart[] };
  'body.formDataFiles': { args: undefined; result: Uint8Array };
  // run by the sandbox itself (its per-invocation state)
  'net.body': { args: number; result: Uint8Array };
  timer: { args: { id: number; ms: number }; result: null };
  'timer.clear': { args: { id: number }; result: null };
}

/** A host operation's name. */
export type HostOpName = keyof HostOpSignatures;

/**
 * Where an op runs:
 * - `pure`: needs nothing but the platform (text, URL, hashes): a sandbox thread runs it itself;
 * - `app`: uses the app's storage and services in the kernel (the cartridge): runs where the kernel is;
 * - `request`: uses the request being served (its body): runs where the kernel is;
 * - `sandbox`: the sandbox's own per-invocation state (timers, fetched bodies).
 */
export type HostOpPlace = 'pure' | 'app' | 'request' | 'sandbox';

/** How the prelude calls an op: `sync` through `host.call` (a value), `async` through `host.async` (a promise). */
export type HostOpKind = 'sync' | 'async';

/** The table: every op's kind and place. */
export const HOST_OPS = {
  log: { kind: 'sync', place: 'app' },
  'utf8.encode': { kind: 'sync', place: 'pure' },
  'utf8.decode': { kind: 'sync', place: 'pure' },
  'url.parse': { kind: 'sync', place: 'pure' },
  'url.set': { kind: 'sync', place: 'pure' },
  'crypto.random': { kind: 'sync', place: 'pure' },
  'crypto.uuid': { kind: 'sync', place: 'pure' },
  'crypto.digest': { kind: 'async', place: 'pure' },
  'crypto.hmac': { kind: 'async', place: 'pure' },
  'kv.get': { kind: 'sync', place: 'app' },
  'kv.set': { kind: 'sync', place: 'app' },
  'kv.delete': { kind: 'sync', place: 'app' },
  'kv.list': { kind: 'sync', place: 'app' },
  'kv.increment': { kind: 'sync', place: 'app' },
  'docs.insert': { kind: 'sync', place: 'app' },
  'docs.get': { kind: 'sync', place: 'app' },
  'docs.find': { kind: 'sync', place: 'app' },
  'docs.update': { kind: 'sync', place: 'app' },
  'docs.delete': { kind: 'sync', place: 'app' },
  'docs.count': { kind: 'sync', place: 'app' },
  'blobs.head': { kind: 'sync', place: 'app' },
  'blobs.delete': { kind: 'sync', place: 'app' },
  'blobs.list': { kind: 'sync', place: 'app' },
  'blobs.read': { kind: 'async', place: 'app' },
  'blobs.put': { kind: 'async', place: 'request' },
  'events.emit': { kind: 'sync', place: 'app' },
  'realtime.publish': { kind: 'sync', place: 'app' },
  'schedule.after': { kind: 'sync', place: 'app' },
  'schedule.at': { kind: 'sync', place: 'app' },
  'schedule.cancel': { kind: 'sync', place: 'app' },
  'schedule.list': { kind: 'sync', place: 'app' },
  'net.fetch': { kind: 'async', place: 'app' },
  'ai.begin': { kind: 'sync', place: 'app' },
  'ai.result': { kind: 'async', place: 'app' },
  'ai.next': { kind: 'async', place: 'app' },
  'ai.tool': { kind: 'async', place: 'app' },
  'ai.toolResult': { kind: 'sync', place: 'app' },
  'notify.send': { kind: 'async', place: 'app' },
  'body.read': { kind: 'async', place: 'request' },
  'body.formData': { kind: 'async', place: 'request' },
  'body.formDataFiles': { kind: 'sync', place: 'request' },
  'net.body': { kind: 'sync', place: 'sandbox' },
  timer: { kind: 'async', place: 'sandbox' },
  'timer.clear': { kind: 'sync', place: 'sandbox' },
} as const satisfies { readonly [K in HostOpName]: { readonly kind: HostOpKind; readonly place: HostOpPlace } };

/** Is `op` a host operation (own key of {@link HOST_OPS})? */
export function isHostOp(op: string): op is HostOpName {
  return Object.hasOwn(HOST_OPS, op);
}

/** The ops a handler table implements (the sandbox runs its own). */
export type HandledOpName = { [K in HostOpName]: (typeof HOST_OPS)[K]['place'] extends 'sandbox' ? never : K }[HostOpName];

/** What the request being served lends to its invocation's ops (`body.*`, `blobs.put` of the request). */
export interface RequestIo {
  /** The body's bytes (read once, capped). @throws FaztError `LIMIT_EXCEEDED` */
  bytes(): Promise<Uint8Array>;
  /** The body as a multipart form (see {@link FormPart}); the files' bytes then come from {@link files}. */
  formData(): Promise<FormPart[]>;
  /** Files' bytes of the last {@link formData}. */
  files(): Uint8Array;
  /** Stores the request body as the app's blob `key` without entering the sandbox. */
  putBlob(key: string, contentType: string): Promise<BlobFacts>;
}

/** Per-invocation facts every op receives (the table itself is shared by all invocations of an app). */
export interface OpCall {
  /** What runs: `GET /api/x`, `schedule NAME`, `event TYPE` (the app log's `source`). */
  source: string;
  /** The request being served, for `fetch` invocations. */
  request?: RequestIo;
}

/** A handler: `(args, bytes, call) → result` (a promise for `async` ops). */
export type HostOpHandler<K extends HostOpName> = (
  args: HostOpSignatures[K]['args'],
  bytes: Uint8Array | undefined,
  call: OpCall,
) => (typeof HOST_OPS)[K]['kind'] extends 'async' ? Promise<HostOpSignatures[K]['result']> : HostOpSignatures[K]['result'];

/** The handlers of one app (built once per app version). */
export type HostOpTable = { readonly [K in HandledOpName]: HostOpHandler<K> };

/** The `pure` ops' handlers: the same for every app; a sandbox thread may run them itself. */
export type PureOpName = { [K in HandledOpName]: (typeof HOST_OPS)[K]['place'] extends 'pure' ? K : never }[HandledOpName];

/** Calls an op of `table` by name (a name from the sandbox is checked against {@link HOST_OPS} first). */
export function callOp(table: HostOpTable, op: HandledOpName, args: unknown, bytes: Uint8Array | undefined, call: OpCall): unknown {
  return (table[op] as (a: unknown, b: Uint8Array | undefined, c: OpCall) => unknown)(args, bytes, call);
}

/** The request ops, when the invocation serves no request. */
export function noRequest(op: string): never {
  throw new FaztError('INVALID_ARGUMENT', `${op}: this invocation serves no request`);
}

/** The parts of a URL the sandbox's `URL` class holds (WHATWG URL getters). */
export const URL_PARTS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'] as const;

/** The parts of a URL as the sandbox's `URL` class holds them. */
export function urlParts(u: URL): Record<(typeof URL_PARTS)[number], string> {
  return Object.fromEntries(URL_PARTS.map((k) => [k, u[k]])) as Record<(typeof URL_PARTS)[number], string>;
}

const HASHES = { 'SHA-1': sha1, 'SHA-256': sha256, 'SHA-384': sha384, 'SHA-512': sha512 } as const;

function hashFor(alg: string) {
  const h = HASHES[alg as keyof typeof HASHES];
  if (!h) throw new FaztError('INVALID_ARGUMENT', `crypto.subtle: unsupported hash "${alg}" (SHA-1, SHA-256, SHA-384, SHA-512)`);
  return h;
}

/** The `pure` ops: text (UTF-8, WHATWG Encoding), URL (WHATWG URL), randomness and hashes (FIPS 180-4, HMAC RFC 2104). */
export const PURE_OPS: { readonly [K in PureOpName]: HostOpHandler<K> } = {
  'utf8.encode': (a) => new TextEncoder().encode(a ?? ''),
  'utf8.decode': (a, b) => {
    try {
      return new TextDecoder('utf-8', { fatal: !!a?.fatal }).decode(b ?? new Uint8Array(0));
    } catch {
      throw new FaztError('INVALID_ARGUMENT', 'TextDecoder: the bytes are not valid UTF-8');
    }
  },
  'url.parse': (a) => {
    let u: URL;
    try {
      u = new URL(a.url, a.base);
    } catch {
      throw new FaztError('INVALID_ARGUMENT', `Invalid URL: ${a.url}`);
    }
    return urlParts(u);
  },
  'url.set': (a) => {
    const u = new URL(a.href);
    if ((URL_PARTS as readonly string[]).includes(a.part) && a.part !== 'origin') (u as unknown as Record<string, string>)[a.part] = a.value;
    return urlParts(u);
  },
  'crypto.random': (n) => crypto.getRandomValues(new Uint8Array(Math.max(0, Math.min(65536, n | 0)))),
  'crypto.uuid': () => crypto.randomUUID(),
  'crypto.digest': async (a, b) => hashFor(a.alg)(b ?? new Uint8Array(0)),
  'crypto.hmac': async (a, b) => {
    // key length (4 bytes, big-endian), key, data
    const buf = b ?? new Uint8Array(4);
    const keyLen = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getUint32(0);
    return hmac(hashFor(a.alg), buf.subarray(4, 4 + keyLen), buf.subarray(4 + keyLen));
  },
};
