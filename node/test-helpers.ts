/**
 * Helpers for the node's integration tests: real cartridge files in temp folders, the real node on
 * 127.0.0.1 (port 0), a raw HTTP client (so `Host`, `Origin`, `Cookie` and streamed bodies are sent
 * exactly as written), and zip builders — fflate's `zipSync` for ordinary archives and a hand-made
 * writer for hostile ones (any entry name bytes, stored or deflated entries).
 *
 * Nothing here stands in for a component of Fazt: every helper drives the real thing.
 */
import type { RuntimeLimits } from '../shared/runtime/index.js';
import { createHash } from 'node:crypto';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import Database from 'better-sqlite3';
import http, { type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, zipSync } from 'fflate';
import { expect } from 'vitest';
import type { DeployLimits, Logger } from '../shared/index.js';
import { startNode, type NodeOptions, type RunningNode } from './node.js';

// ---------------------------------------------------------------------------------------------
// Temp folders

const made: string[] = [];

/** A new empty temp folder, removed by {@link removeTempDirs}. */
export function tempDir(prefix = 'fazt-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

/** Removes every folder {@link tempDir} made in this test file. */
export function removeTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// The node

/** A log line the node wrote. */
export interface LogLine {
  level: 'info' | 'warn' | 'error';
  msg: string;
  fields?: Record<string, unknown>;
}

/** A logger that keeps lines in memory (the node logs JSON lines to stderr otherwise). */
export function memoryLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (msg, fields) => void lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => void lines.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => void lines.push({ level: 'error', msg, fields }),
  };
}

/** A real node started in-process for a test file. */
export interface TestNode {
  node: RunningNode;
  /** `http://127.0.0.1:PORT` (no trailing slash): also the node's own `Origin`. */
  url: string;
  port: number;
  /** The cartridge file. */
  db: string;
  /** What the node logged. */
  logs: LogLine[];
  stop(): Promise<void>;
}

/** Starts the real node on a cartridge in a new temp folder (or on `db`), port 0, 127.0.0.1, no example app. */
export async function startTestNode(options: { db?: string; limits?: Partial<DeployLimits>; runtimeLimits?: Partial<RuntimeLimits>; notify?: NodeOptions['notify']; pulse?: NodeOptions['pulse'] } = {}): Promise<TestNode> {
  const db = options.db ?? join(tempDir(), 'data.db');
  const logger = memoryLogger();
  const node = await startNode({ db, port: 0, host: '127.0.0.1', domain: 'localhost', seedExample: false, limits: options.limits, runtimeLimits: options.runtimeLimits, logger, notify: options.notify, pulse: options.pulse });
  return { node, url: node.url, port: node.port, db, logs: logger.lines, stop: () => node.stop() };
}

/** Errors the node logged that are not typed Fazt errors (should never happen). */
export function internalErrors(t: TestNode): LogLine[] {
  return t.logs.filter((l) => l.level === 'error');
}

/** Creates a token directly on the node's kernel (the same service `POST /api/tokens` uses). */
export function createToken(t: TestNode, scope: 'admin' | 'deploy', name = 'test'): { id: string; token: string } {
  return t.node.kernel.auth.createToken(scope, name);
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP

/** An HTTP answer, body fully read. */
export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text(): string;
  json<T = any>(): T; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Request options of {@link request}. */
export interface RequestOptions {
  method?: string;
  headers?: Record<string, string | string[]>;
  /** A whole body (sent with `Content-Length`) or an async source of chunks (sent chunked, without it). */
  body?: string | Uint8Array | AsyncIterable<Uint8Array>;
  /** Bearer token. */
  token?: string;
  /** JSON body (sets `Content-Type`). */
  json?: unknown;
}

/**
 * One HTTP/1.1 request with `node:http` (no connection reuse, no automatic decompression). Resolves
 * with the answer once it is read, even when the server answered before the upload was finished
 * and dropped the rest (then `uploadAborted` is true).
 */
export function request(url: string, options: RequestOptions = {}): Promise<HttpResult & { uploadAborted: boolean; sentBytes: number }> {
  const u = new URL(url);
  const headers: Record<string, string | string[]> = { ...options.headers };
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  if (options.token) headers['authorization'] = `Bearer ${options.token}`;
  const streamed = body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array);
  if (body !== undefined && !streamed && headers['content-length'] === undefined) {
    headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : (body as Uint8Array).length);
  }
  return new Promise((resolve, reject) => {
    let answered = false;
    let uploadAborted = false;
    let sentBytes = 0;
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: options.method ?? 'GET', headers, agent: false },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: buf,
            text: () => buf.toString('utf8'),
            json: () => JSON.parse(buf.toString('utf8')),
            uploadAborted,
            sentBytes,
          });
        });
      },
    );
    req.on('error', (e) => {
      if (answered) uploadAborted = true;
      else reject(e);
    });
    if (body === undefined) return void req.end();
    if (!streamed) {
      sentBytes = typeof body === 'string' ? Buffer.byteLength(body) : (body as Uint8Array).length;
      req.end(body);
      return;
    }
    void (async () => {
      try {
        for await (const chunk of body as AsyncIterable<Uint8Array>) {
          if (answered || req.destroyed) {
            uploadAborted = true;
            break;
          }
          sentBytes += chunk.length;
          if (!req.write(chunk)) {
            await new Promise<void>((r) => {
              const done = () => {
                req.off('drain', done).off('close', done).off('response', done);
                r();
              };
              req.on('drain', done).on('close', done).on('response', done);
            });
          }
        }
        if (!req.destroyed) req.end();
      } catch (e) {
        req.destroy(e as Error);
      }
    })();
  });
}

/** Asserts a JSON error answer `{error: {code, message}}` with the status, code and (optionally) message. */
export function expectError(res: HttpResult, status: number, code: string, message?: RegExp | string): { code: string; message: string } {
  let parsed: { error?: { code?: string; message?: string } };
  try {
    parsed = res.json();
  } catch {
    throw new Error(`expected a JSON error ${status} ${code}, got ${res.status}: ${res.text().slice(0, 300)}`);
  }
  expect({ status: res.status, code: parsed.error?.code }, `body: ${res.text().slice(0, 300)}`).toEqual({ status, code });
  const error = parsed.error as { code: string; message: string };
  expect(typeof error.message).toBe('string');
  expect(error.message.length).toBeGreaterThan(10);
  if (message !== undefined) expect(error.message).toMatch(message);
  expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
  return error;
}

// ---------------------------------------------------------------------------------------------
// Uploads

/** File contents by path. */
export type FileSet = Record<string, string | Uint8Array>;

const bytes = (v: string | Uint8Array): Uint8Array => (typeof v === 'string' ? new TextEncoder().encode(v) : v);

/** A zip of the files made with fflate's `zipSync` (deflate level 6). */
export function zip(files: FileSet): Uint8Array {
  const input: Record<string, Uint8Array> = {};
  for (const [p, v] of Object.entries(files)) input[p] = bytes(v);
  return zipSync(input, { level: 6 });
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309, as in zip). */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One entry of a hand-made zip. */
export interface RawEntry {
  /** Entry name, written verbatim (UTF-8 flag set): may hold `..`, `\`, NUL, drive letters … */
  name: string;
  /** Content (compressed here unless `method` is 0). */
  data?: Uint8Array;
  /** 0 stored, 8 deflate (default 8). */
  method?: 0 | 8;
  /** An already deflated payload (then `size` is the declared uncompressed size; CRC written as 0). */
  deflated?: Uint8Array;
  /** Declared uncompressed size for `deflated`. */
  size?: number;
}

/**
 * A raw deflate stream (RFC 1951, one fixed-Huffman block) that inflates to `n` zero bytes: a literal
 * 0, then copies of 258 bytes at distance 1 (13 bits each, ≈ 160:1), written bit by bit. A zip bomb
 * built by hand, without ever holding the `n` bytes.
 */
export function deflatedZeros(n: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(((n / 258) * 13) / 8) + 300);
  let pos = 0;
  let bit = 0;
  let acc = 0;
  const put = (b: number) => {
    acc |= b << bit;
    if (++bit === 8) {
      out[pos++] = acc;
      acc = 0;
      bit = 0;
    }
  };
  const bits = (v: number, len: number) => {
    for (let i = 0; i < len; i++) put((v >>> i) & 1);
  };
  const huff = (code: number, len: number) => {
    for (let i = len - 1; i >= 0; i--) put((code >>> i) & 1);
  };
  bits(1, 1); // BFINAL
  bits(1, 2); // BTYPE = 01, fixed Huffman codes
  let left = n;
  if (left > 0) {
    huff(0x30, 8); // literal 0
    left--;
  }
  while (left >= 258) {
    huff(0xc5, 8); // length code 285 = 258 bytes, no extra bits
    huff(0, 5); // distance code 0 = distance 1
    left -= 258;
  }
  for (; left > 0; left--) huff(0x30, 8);
  huff(0, 7); // end of block (256)
  if (bit) out[pos++] = acc;
  return out.slice(0, pos);
}

/**
 * A zip written by hand (APPNOTE 6.3.x: local headers, central directory, end record) so entry
 * names are exactly what the test wants, with no normalization by a library.
 */
export function craftZip(entries: RawEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const data = e.data ?? new Uint8Array(0);
    const method = e.deflated ? 8 : e.method ?? 8;
    const payload = e.deflated ?? (method === 8 ? deflateSync(data, { level: 9 }) : data);
    const crc = e.deflated ? 0 : crc32(data);
    const size = e.deflated ? e.size ?? 0 : data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // flags: UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(0, 10); // time, date
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(payload.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    parts.push(local, name, payload);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(0x0800, 8);
    cd.writeUInt16LE(method, 10);
    cd.writeUInt32LE(0, 12);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(payload.length, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    offset += local.length + name.length + payload.length;
  }
  const cdSize = central.reduce((s, p) => s + p.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}

/**
 * A `multipart/form-data` body made by the platform's own `FormData` serializer, one `File` per
 * entry, named by its relative path.
 */
export async function multipart(files: FileSet): Promise<{ body: Uint8Array; contentType: string }> {
  const form = new FormData();
  for (const [p, v] of Object.entries(files)) form.append('file', new File([bytes(v) as Uint8Array<ArrayBuffer>], p));
  const r = new Request('http://127.0.0.1/', { method: 'POST', body: form });
  return { body: new Uint8Array(await r.arrayBuffer()), contentType: r.headers.get('content-type')! };
}

/** An app manifest as text. */
export const manifest = (o: Record<string, unknown>): string => JSON.stringify(o);

/** SHA-256 hex. */
export const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/** Deterministic pseudo-random bytes (incompressible, so chunking and streaming are exercised). */
export function randomish(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** `POST /api/apps` with a zip. */
export function deployZip(t: TestNode, token: string, archive: Uint8Array, name?: string) {
  return request(`${t.url}/api/apps${name ? `?name=${encodeURIComponent(name)}` : ''}`, {
    method: 'POST',
    token,
    headers: { 'content-type': 'application/zip' },
    body: archive,
  });
}

/** `GET` a path on the node's own host (apps are path-mounted there: `/a/NAME/…`). */
export function getFile(t: TestNode, path: string, headers: Record<string, string> = {}) {
  return request(`${t.url}${path}`, { headers });
}

/** `GET` on the app's own subdomain (`NAME.localhost`), i.e. with that `Host` header. */
export function getOnHost(t: TestNode, name: string, path: string, headers: Record<string, string> = {}) {
  return request(`${t.url}${path}`, { headers: { host: `${name}.localhost:${t.port}`, ...headers } });
}

// ---------------------------------------------------------------------------------------------
// Damaged cartridges

/**
 * Damages the b-tree page of a table in a closed cartridge file, the way a bad disk sector or a
 * stray write would (https://www.sqlite.org/fileformat2.html#b_tree_pages):
 * - `hide-rows`: the page's cell count (header offset 3) is set to 0, so its rows silently vanish
 *   from queries while the page still parses;
 * - `zero`: the whole page is overwritten with zeros, so reading it fails (`database disk image is malformed`).
 * @returns the damaged page's number.
 */
export function damageTablePage(dbPath: string, table: string, how: 'hide-rows' | 'zero'): number {
  const ro = new Database(dbPath, { readonly: true });
  const root = (ro.prepare('SELECT rootpage FROM sqlite_master WHERE name = ?').get(table) as { rootpage: number }).rootpage;
  const pageSize = ro.pragma('page_size', { simple: true }) as number;
  ro.close();
  const fd = openSync(dbPath, 'r+');
  try {
    const page = Buffer.alloc(pageSize);
    readSync(fd, page, 0, pageSize, (root - 1) * pageSize);
    if (how === 'zero') page.fill(0);
    else page.writeUInt16BE(0, (root === 1 ? 100 : 0) + 3);
    writeSync(fd, page, 0, pageSize, (root - 1) * pageSize);
  } finally {
    closeSync(fd);
  }
  return root;
}

/**
 * Builds `dist/fazt.mjs` (scripts/build.mjs) when it is missing or older than a source it bundles
 * (`shared/` and `node/` TypeScript, tests excluded, and package.json): tests that run the real
 * `bin/fazt.js` call it first.
 */
export function ensureBundle(): void {
  const root = join(import.meta.dirname, '..');
  const bundle = join(root, 'dist', 'fazt.mjs');
  let newest = statSync(join(root, 'package.json')).mtimeMs;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ts$/.test(e.name) && !/\.test\.ts$/.test(e.name) && e.name !== 'test-helpers.ts') newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(join(root, 'shared'));
  walk(join(root, 'node'));
  if (!existsSync(bundle) || statSync(bundle).mtimeMs < newest) {
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
  }
}

/** A node started as its own process by {@link spawnNode}. */
export interface SpawnedNode {
  proc: ChildProcess;
  /** `http://127.0.0.1:PORT`. */
  url: string;
}

/**
 * Starts `node bin/fazt.js start` on `db` in a child process (port 0, 127.0.0.1, no example apps) and
 * resolves when it prints its dashboard URL. The lean V8 flag is given, so bin/fazt.js runs the node
 * in that very process (no supervising parent): SIGKILL really kills the node, /proc/PID is the node's.
 * @throws Error with the node's output when it exits or says nothing within 20 s.
 */
export async function spawnNode(db: string): Promise<SpawnedNode> {
  const bin = join(import.meta.dirname, '..', 'bin', 'fazt.js');
  const proc = spawn(process.execPath, ['--max-semi-space-size=1', bin, 'start', '--port', '0', '--host', '127.0.0.1', '--db', db, '--no-example'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FAZT_NODE: '', FAZT_TOKEN: '', FAZT_DB: '' },
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('node did not start: ' + out)), 20_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /dashboard\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('exit', (code) => reject(new Error(`node exited ${code}: ${out}`)));
  });
  return { proc, url };
}
