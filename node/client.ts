import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { createFetch, FaztError, type FetchHandler, type Kernel } from '../shared/index.js';
import { configPath, defaultDbPath } from './paths.js';
import { openCartridgeFile, type FileCartridge } from './cartridge-file.js';
import { kernelForFile } from './kernel-file.js';
import { jsonLogger } from './ports.js';

/**
 * How the CLI reaches a node: over HTTP with a token (`--node URL|NAME`, `FAZT_NODE`), or directly
 * on a cartridge file (`--db PATH`, `FAZT_DB`, or the default path) through the same kernel
 * `fetch` in-process. Both speak the admin API, so every command has one implementation.
 */
export interface NodeClient {
  /** Where commands go, for messages: a URL or a file path. */
  readonly target: string;
  /**
   * `http`: a running node (live feeds such as `logs?follow=1` stream from it); `file`: the cartridge
   * opened in this process (another process may be writing it, so live data must be polled).
   */
  readonly kind: 'http' | 'file';
  /** Calls the admin API. `path` starts with `/api/`. */
  call(method: string, path: string, init?: { body?: BodyInit; headers?: Record<string, string> }): Promise<Response>;
  /** Releases the cartridge (local) or nothing (remote). */
  close(): void;
}

/** Named remotes kept in the CLI config file. */
export interface CliConfig {
  remotes: Record<string, { url: string; token?: string }>;
}

/** Reads the CLI config (empty when absent). @throws FaztError `BAD_REQUEST` when it is not valid JSON. */
export function readConfig(): CliConfig {
  const p = configPath();
  if (!existsSync(p)) return { remotes: {} };
  try {
    const c = JSON.parse(readFileSync(p, 'utf8')) as Partial<CliConfig>;
    return { remotes: c.remotes ?? {} };
  } catch (e) {
    throw new FaztError('BAD_REQUEST', `${p} is not valid JSON (${(e as Error).message}). Fix or delete it.`);
  }
}

/** Writes the CLI config, readable by the user only (it holds tokens). */
export function writeConfig(c: CliConfig): void {
  const p = configPath();
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, JSON.stringify(c, null, 2) + '\n', { mode: 0o600 });
  chmodSync(p, 0o600);
}

/** Options that pick a target. */
export interface TargetOptions {
  node?: string;
  token?: string;
  db?: string;
}

class HttpClient implements NodeClient {
  readonly kind = 'http' as const;
  constructor(
    readonly target: string,
    private readonly token: string | undefined,
  ) {}
  async call(method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    try {
      return await fetch(new URL(path, this.target), {
        method,
        headers,
        body: init.body,
        // @ts-expect-error streamed request bodies need duplex (https://github.com/whatwg/fetch/pull/1457)
        duplex: init.body instanceof ReadableStream ? 'half' : undefined,
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new FaztError('BAD_REQUEST', `Cannot reach the node at ${this.target}: ${cause?.code ?? cause?.message ?? (e as Error).message}. Is it running?`);
    }
  }
  close(): void {}
}

class LocalClient implements NodeClient {
  readonly kind = 'file' as const;
  readonly kernel: Kernel;
  /** The kernel's HTTP face: the CLI offline speaks the same admin API as over the network. */
  private readonly fetch: FetchHandler;
  constructor(
    readonly target: string,
    private readonly file: FileCartridge,
  ) {
    this.kernel = kernelForFile(file, { logger: jsonLogger(process.stderr, 'warn') });
    this.fetch = createFetch(this.kernel);
  }
  call(method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string> } = {}): Promise<Response> {
    const request = new Request(new URL(path, 'http://localhost'), {
      method,
      headers: init.headers,
      body: init.body,
      // @ts-expect-error streamed request bodies need duplex
      duplex: init.body instanceof ReadableStream ? 'half' : undefined,
    });
    return this.fetch(request, { principal: { kind: 'token', scope: 'admin' }, peer: 'local' });
  }
  close(): void {
    this.file.db.close();
  }
}

/**
 * Picks the target: `--node` (URL or remote name) / `FAZT_NODE` → HTTP with `--token` / `FAZT_TOKEN` /
 * the remote's token; otherwise the cartridge file `--db` / `FAZT_DB` / default path.
 * @throws FaztError when a named remote does not exist or the cartridge is missing/bad.
 */
export function connect(o: TargetOptions): NodeClient {
  const node = o.node ?? process.env.FAZT_NODE;
  if (node && !o.db) {
    let url = node;
    let token = o.token ?? process.env.FAZT_TOKEN;
    if (!/^https?:\/\//.test(node)) {
      const remote = readConfig().remotes[node];
      if (!remote) throw new FaztError('NOT_FOUND', `No remote named "${node}". Add it with \`fazt remote add ${node} URL --token T\`, or pass a URL.`);
      url = remote.url;
      token = o.token ?? remote.token ?? token;
    }
    return new HttpClient(url.replace(/\/+$/, '') + '/', token);
  }
  const db = o.db ?? defaultDbPath();
  return new LocalClient(db, openCartridgeFile(db, { mustExist: true }));
}

/**
 * Calls the API and returns the JSON body.
 * @throws FaztError carrying the node's error code and message for non-2xx answers.
 */
export async function callJson<T = Record<string, unknown>>(client: NodeClient, method: string, path: string, body?: unknown): Promise<T> {
  const res = await client.call(method, path, body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return readJson<T>(res);
}

/** Parses a JSON API response. @throws FaztError for error answers. */
export async function readJson<T>(res: Response): Promise<T> {
  const text = await res.text();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new FaztError('INTERNAL', `The node answered ${res.status} with something that is not JSON: ${text.slice(0, 120)}`);
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string } }).error;
    throw new FaztError((err?.code as never) ?? 'INTERNAL', err?.message ?? `HTTP ${res.status}`);
  }
  return data as T;
}
