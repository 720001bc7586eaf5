import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { scryptAsync } from '@noble/hashes/scrypt.js';
import { bytesToHex } from '@noble/hashes/utils.js';

/**
 * Ports the kernel asks its host for, beyond the `SqlDatabase` (docs/architecture.md §1). Each has a portable
 * default here (pure JS, works in Node and in a service worker); a host may pass a faster native one
 * that gives the same bytes.
 */

/** An incremental SHA-256 (FIPS 180-4). */
export interface Sha256 {
  /** Feeds bytes. Returns itself. */
  update(data: Uint8Array): Sha256;
  /** Finishes and returns the digest as 64 lowercase hex chars. The hash cannot be reused. */
  digestHex(): string;
}

/** scrypt parameters (RFC 7914). */
export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
  /** Derived key length, bytes. */
  dkLen: number;
}

/** Content-encodings the kernel precompresses text files into. */
export type ContentEncoding = 'gzip' | 'br';

/** A structured logger. Each call writes one JSON line on the Node host. */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** What the host provides. All optional: missing ones fall back to {@link defaultPorts}. */
export interface KernelPorts {
  /** New incremental SHA-256. */
  sha256: () => Sha256;
  /** scrypt KDF (RFC 7914). */
  scrypt: (password: Uint8Array, salt: Uint8Array, params: ScryptParams) => Promise<Uint8Array>;
  /**
   * Compresses bytes for HTTP `Content-Encoding` (RFC 9110 §8.4). Returns `undefined` when the host
   * cannot produce that encoding (the browser host has no brotli encoder); the file is then served
   * without it.
   */
  compress: (data: Uint8Array, encoding: ContentEncoding) => Promise<Uint8Array | undefined>;
  /**
   * Produces a consistent single-file copy of the cartridge while it keeps serving (SQLite backup API
   * or `VACUUM INTO`). Absent when the host cannot.
   */
  backup?: () => Promise<{ stream: ReadableStream<Uint8Array>; size: number }>;
  /** Structured logger. */
  logger: Logger;
  /** Free and total space of the disk the cartridge lives on (Pulse, the disk guard). Absent: unknown. */
  diskSpace?: DiskSpacePort;
  /** The host process's memory and CPU use (Pulse). Absent: unknown. */
  processStats?: ProcessStatsPort;
}

/**
 * Free and total space of the disk (or browser storage quota) the cartridge lives on. The Node host
 * reads `fs.statfs` on the cartridge's folder; the browser host `navigator.storage.estimate()`
 * (https://storage.spec.whatwg.org/#dom-storagemanager-estimate: `quota` − `usage` as free).
 */
export interface DiskSpacePort {
  /**
   * @returns bytes free for this process and the disk's total size, bytes.
   * @throws whatever the host's call throws (callers treat it as "unknown").
   */
  usage(): Promise<{ freeBytes: number; totalBytes: number }>;
}

/** One reading of the host process's resource use; a field is `null` where the host cannot tell. */
export interface ProcessStats {
  /** Resident set size, bytes (Node `process.memoryUsage().rss`; `null` in a browser). */
  rssBytes: number | null;
  /** JS heap in use, bytes (Node `heapUsed`; Chromium's non-standard `performance.memory.usedJSHeapSize` where present). */
  heapUsedBytes: number | null;
  /** CPU time used since the process started (user + system), ms (Node `process.cpuUsage()`; `null` in a browser). */
  cpuMs: number | null;
}

/** The host process's memory and CPU use (Pulse samples it at each snapshot). */
export interface ProcessStatsPort {
  /** Reads the current figures; cheap (no I/O) and synchronous. */
  read(): ProcessStats;
}

/** Portable implementations: @noble/hashes for SHA-256 and scrypt, `CompressionStream` for gzip. */
export const defaultPorts: KernelPorts = {
  sha256: () => {
    const h = nobleSha256.create();
    const wrap: Sha256 = {
      update(data) {
        h.update(data);
        return wrap;
      },
      digestHex: () => bytesToHex(h.digest()),
    };
    return wrap;
  },
  scrypt: (password, salt, { N, r, p, dkLen }) => scryptAsync(password, salt, { N, r, p, dkLen, maxmem: 256 * N * r + 1024 * 1024 }),
  compress: async (data, encoding) => {
    if (encoding !== 'gzip' || typeof CompressionStream === 'undefined') return undefined;
    const stream = new Blob([data as BlobPart]).stream().pipeThrough(new CompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  },
  logger: {
    info: () => {},
    warn: () => {},
    error: () => {},
  },
};

/** SHA-256 of bytes as hex, with the given port. */
export function sha256Hex(ports: Pick<KernelPorts, 'sha256'>, data: Uint8Array): string {
  return ports.sha256().update(data).digestHex();
}
