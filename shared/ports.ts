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

/**
 * How full the disk holding the cartridge is. The headless node answers with `fs.statfs` on the
 * cartridge's directory (node/ports.ts); the browser node with `navigator.storage.estimate()`
 * (quota and usage of the origin's storage, https://storage.spec.whatwg.org/#dom-storagemanager-estimate).
 * The kernel's disk guard (shared/guards/disk.ts) asks it every few seconds, never per write.
 */
export interface DiskSpacePort {
  /**
   * Free and total bytes of that disk (or of the storage quota).
   * @throws when the host cannot tell; the guard then keeps its last answer and logs a warning.
   */
  usage(): Promise<{ freeBytes: number; totalBytes: number }>;
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
  /** Free and total disk space where the cartridge lives (the disk guard's input). Absent: the guard never trips. */
  diskSpace?: DiskSpacePort;
  /** Structured logger. */
  logger: Logger;
  /**
   * Sends Web Push messages (RFC 8030, encrypted per RFC 8291, VAPID per RFC 8292). The Node host
   * implements it with `web-push` (node/push-sender.ts); absent on a host that cannot send (the
   * browser node), where `kernel.notify` uses {@link KernelPorts.notifier} for its own device.
   */
  push?: PushSender;
  /**
   * Shows a notification on this very device (the browser node: `registration.showNotification`).
   * Absent on the headless node.
   */
  notifier?: LocalNotifier;
  /** The host process's memory and CPU use (Pulse). Absent: unknown. */
  processStats?: ProcessStatsPort;
  /**
   * Resolves once every write committed so far is in durable storage. Absent: a commit is durable
   * when it returns (the headless node: SQLite in WAL mode). The browser node keeps its cartridge in
   * memory and persists the image to OPFS after commits, so it provides this: sync sends nothing
   * that tells a peer of state that lived only in memory (docs/sync-spec.md S39).
   * @throws (rejects) when the persist failed; the sync messages waiting for it are then dropped.
   */
  persisted?: () => Promise<void>;
}

/** Where one Web Push message goes: a browser's `PushSubscription` (W3C Push API), keys base64url. */
export interface PushTarget {
  /** The push service URL (https). */
  endpoint: string;
  /** The subscription's keys: `p256dh` (65-byte uncompressed P-256 point) and `auth` (16 bytes), base64url. */
  keys: { p256dh: string; auth: string };
}

/** How one Web Push message is sent. */
export interface PushSendOptions {
  /** The node's VAPID key pair (RFC 8292), base64url (public: 65-byte point; private: 32-byte scalar), and its contact. */
  vapid: { subject: string; publicKey: string; privateKey: string };
  /** How long the push service keeps the message for an offline device, seconds (RFC 8030 §5.2 `TTL`). */
  ttlSeconds: number;
  /** RFC 8030 §5.3 `Urgency`. */
  urgency?: 'very-low' | 'low' | 'normal' | 'high';
  /** RFC 8030 §5.4 `Topic`: a newer message with the same topic replaces an undelivered older one (≤ 32 base64url chars). */
  topic?: string;
  /** Give up on the request after this long, ms. */
  timeoutMs: number;
}

/** The push service's answer to one message. */
export interface PushResult {
  /** HTTP status (201 Created on success; 404/410: the subscription is gone; 429/5xx: try later). */
  statusCode: number;
  /** The response body, for logs (truncated by the sender to a few hundred chars). */
  body: string;
  /** The `Retry-After` header in seconds, when the service sent one. */
  retryAfterSeconds?: number;
}

/**
 * Sends one encrypted Web Push message (aes128gcm, RFC 8188/8291) with a VAPID JWT (RFC 8292).
 * Resolves with the push service's status for any HTTP answer; rejects only when no answer came
 * (network error, timeout), which the caller treats as retryable.
 */
export interface PushSender {
  send(target: PushTarget, payload: string, options: PushSendOptions): Promise<PushResult>;
}

/** A notification shown on this device (Notifications API `showNotification` options). */
export interface LocalNotification {
  title: string;
  body?: string;
  /** Icon URL (same origin). */
  icon?: string;
  /** Replaces an earlier notification with the same tag. */
  tag?: string;
  /** The URL a click opens (kept in the notification's `data.url`). */
  url?: string;
  /** The sending app's name, when an app sent it (kept in `data.app`). */
  app?: string;
}

/** Shows a notification on the device the kernel runs on (the browser node's service worker). */
export interface LocalNotifier {
  /** @throws when the page's notification permission is not granted. */
  show(n: LocalNotification): Promise<void>;
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
