import { FaztError } from '../errors.js';
import type { Cartridge } from '../cartridge/index.js';
import type { BlobInfo, BlobStore } from '../vfs/blobs.js';
import { fromBase64Url, toBase64Url } from '../lib/encoding.js';

/**
 * `fazt.blobs`: an app's named binary objects (uploads, images, exports), stored in the cartridge's
 * content-addressed chunk store (`vfs/blobs.ts`) and indexed per app in `app_blobs`.
 *
 * Rows are replicated (LWW by HLC; deletes are tombstones). Bytes are content-addressed, so the same
 * upload under two keys or two apps is stored once. Overwritten and deleted bodies stay in the
 * chunk store until the kernel runs {@link BlobStore.collectGarbage}, which keeps every blob a live
 * `app_blobs` row references.
 */

/** Metadata of one app blob. */
export interface AppBlobInfo {
  /** The app's key (any UTF-8 text without NUL, e.g. `"avatars/ana.png"`). */
  key: string;
  /** Size, bytes. */
  size: number;
  /** MIME type given at upload (`application/octet-stream` when none). */
  contentType: string;
  /** SHA-256 of the content, 64 lowercase hex chars (what `sha256sum` prints; usable as an ETag). */
  hash: string;
  /** First write of this key (since its last delete), ms since epoch. */
  createdAt: number;
  /** Last write, ms since epoch. */
  updatedAt: number;
}

/** {@link AppBlobInfo} plus the stored blob's chunk layout (for {@link BlobStore.stream}). */
export type AppBlobHead = AppBlobInfo & { blob: BlobInfo };

/** Limits of an {@link AppBlobStore}. */
export interface AppBlobLimits {
  /** Largest body, bytes. Default 100 MiB. */
  maxBlobBytes?: number;
  /** Longest key, UTF-8 bytes. Default 1024. */
  maxKeyBytes?: number;
}

/** Options of {@link AppBlobStore.list}. */
export interface AppBlobListOptions {
  /** Only keys starting with this text (compared literally: `%` and `_` are ordinary characters). */
  prefix?: string;
  /** Page size: 1…1000, default 100; larger values are clamped to 1000. */
  limit?: number;
  /** The `cursor` of the previous page. */
  cursor?: string;
}

/** A page of {@link AppBlobStore.list}. */
export interface AppBlobPage {
  /** Blobs in ascending key order (UTF-8 byte order, i.e. code point order). */
  items: AppBlobInfo[];
  /** Opaque; present only when more items remain. Pass it back as `cursor` for the next page. */
  cursor?: string;
}

/** Default {@link AppBlobLimits.maxBlobBytes}: 100 MiB. */
export const DEFAULT_MAX_APP_BLOB_BYTES = 100 * 1024 * 1024;
/** Default {@link AppBlobLimits.maxKeyBytes}. */
export const DEFAULT_MAX_APP_BLOB_KEY_BYTES = 1024;
/** Default page size of {@link AppBlobStore.list}. */
const DEFAULT_LIST_LIMIT = 100;
/** Largest page size of {@link AppBlobStore.list}. */
const MAX_LIST_LIMIT = 1000;

const utf8 = new TextEncoder();

/** A lone UTF-16 surrogate (a `u`-mode class matches only unpaired halves). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

interface Row {
  key: string;
  size: number;
  content_type: string;
  blob_hash: string;
  created_at: number;
  updated_at: number;
}

interface HeadRow extends Row {
  chunk_size: number;
  chunk_count: number;
}

function toInfo(r: Row): AppBlobInfo {
  return { key: r.key, size: r.size, contentType: r.content_type, hash: r.blob_hash, createdAt: r.created_at, updatedAt: r.updated_at };
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/**
 * The smallest string greater than every string that starts with `prefix`, in SQLite's BINARY
 * order (memcmp of UTF-8, which is code point order), or `undefined` when no such bound exists
 * (the prefix is all U+10FFFF). Used to turn a prefix into an index range without LIKE.
 */
function prefixUpperBound(prefix: string): string | undefined {
  const cps = Array.from(prefix, (c) => c.codePointAt(0)!);
  while (cps.length > 0) {
    let last = cps.pop()!;
    if (last === 0x10ffff) continue;
    last++;
    if (last === 0xd800) last = 0xe000; // skip the surrogate block: not encodable in UTF-8
    cps.push(last);
    return String.fromCodePoint(...cps);
  }
  return undefined;
}

/** Encodes a list position (the last key returned) as an opaque base64url token. */
function encodeCursor(key: string): string {
  return toBase64Url(utf8.encode(key));
}

/**
 * Decodes a token of {@link encodeCursor}.
 * @throws FaztError `INVALID_ARGUMENT` for a token this store did not produce.
 */
function decodeCursor(cursor: string): string {
  try {
    if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('bad alphabet');
    return new TextDecoder('utf-8', { fatal: true }).decode(fromBase64Url(cursor));
  } catch {
    throw new FaztError('INVALID_ARGUMENT', 'The list cursor is not valid: pass back the `cursor` of the previous page unchanged.');
  }
}

/**
 * Normalizes a page size: `undefined` → `def`, above `max` → `max`.
 * @throws FaztError `INVALID_ARGUMENT` for a non-integer or a value below 1.
 */
function pageLimit(limit: number | undefined, def: number, max: number): number {
  if (limit === undefined) return def;
  if (!Number.isInteger(limit) || limit < 1) throw new FaztError('INVALID_ARGUMENT', `limit must be a whole number from 1 to ${max} (got ${String(limit)}).`);
  return Math.min(limit, max);
}

/**
 * Per-app blob storage (the host side of `fazt.blobs`). Every method takes the `appId` the kernel
 * resolved for the calling app; one app never sees another's keys.
 *
 * Key rules: a non-empty string of at most `maxKeyBytes` UTF-8 bytes, without NUL and without
 * unpaired UTF-16 surrogates. Keys are compared and listed in byte order, case-sensitively.
 */
export class AppBlobStore {
  private readonly maxBlobBytes: number;
  private readonly maxKeyBytes: number;

  /**
   * @param cart the open cartridge (rows are stamped with its HLC and node id).
   * @param blobs the cartridge's blob store (the same instance the kernel garbage-collects with).
   * @param limits size limits; see {@link AppBlobLimits}.
   */
  constructor(
    private readonly cart: Cartridge,
    private readonly blobs: BlobStore,
    limits: AppBlobLimits = {},
  ) {
    this.maxBlobBytes = limits.maxBlobBytes ?? DEFAULT_MAX_APP_BLOB_BYTES;
    this.maxKeyBytes = limits.maxKeyBytes ?? DEFAULT_MAX_APP_BLOB_KEY_BYTES;
  }

  private get db() {
    return this.cart.db;
  }

  /** @throws FaztError `INVALID_ARGUMENT` when `key` breaks the key rules. */
  private assertKey(key: string): void {
    if (typeof key !== 'string' || key.length === 0) throw new FaztError('INVALID_ARGUMENT', 'A blob key must be a non-empty string.');
    if (key.includes('\u0000')) throw new FaztError('INVALID_ARGUMENT', 'A blob key must not contain NUL characters.');
    if (LONE_SURROGATE.test(key)) throw new FaztError('INVALID_ARGUMENT', 'A blob key must be valid Unicode (it contains an unpaired surrogate).');
    const n = utf8.encode(key).length;
    if (n > this.maxKeyBytes) throw new FaztError('INVALID_ARGUMENT', `A blob key is at most ${this.maxKeyBytes} bytes of UTF-8 (got ${n}).`);
  }

  /**
   * Stores a body under `key`, replacing any previous one. The body is streamed into the chunk store
   * (one 256 KiB chunk in memory at a time); the row is written in one transaction only once every
   * byte arrived, so readers see the old body or the new one, never a mix. While the upload runs,
   * garbage collection is held off so the new chunks cannot be collected under it.
   *
   * @param appId the calling app's id.
   * @param key the blob's key (see the class for the rules).
   * @param body the bytes, whole or as a stream (a stream is read to its end, or cancelled on failure).
   * @param contentType MIME type returned by {@link head}; 1–255 printable ASCII characters.
   * @returns the stored blob's metadata.
   * @throws FaztError `INVALID_ARGUMENT` for a bad key or content type;
   *   `LIMIT_EXCEEDED` when the body is larger than `maxBlobBytes` (nothing is stored; chunks already
   *   written are unreferenced and go at the next garbage collection);
   *   the stream's own error when reading it fails (nothing is stored either);
   *   `DISK_FULL` while the disk guard is tripped (checked before the body is read; docs/safeguards.md).
   */
  async put(appId: string, key: string, body: Uint8Array | ReadableStream<Uint8Array>, contentType = 'application/octet-stream'): Promise<AppBlobInfo> {
    this.assertKey(key);
    if (typeof contentType !== 'string' || !/^[\x20-\x7e]{1,255}$/.test(contentType)) {
      throw new FaztError('INVALID_ARGUMENT', 'A content type must be 1–255 printable ASCII characters, like "image/png".');
    }
    this.cart.growth?.assertCanGrow(`storing the blob "${key}"`);
    const tooLarge = () =>
      new FaztError('LIMIT_EXCEEDED', `The blob "${key}" is larger than ${formatBytes(this.maxBlobBytes)} (the limit). Nothing was stored.`);
    const endWrite = this.blobs.beginWrite();
    try {
      const writer = this.blobs.writer();
      if (body instanceof Uint8Array) {
        if (body.length > this.maxBlobBytes) throw tooLarge();
        writer.write(body);
      } else {
        const reader = body.getReader();
        let finished = false;
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            if (!(value instanceof Uint8Array)) throw new FaztError('INVALID_ARGUMENT', 'A blob stream must yield Uint8Array chunks.');
            if (writer.bytesWritten + value.length > this.maxBlobBytes) throw tooLarge();
            writer.write(value);
          }
          finished = true;
        } finally {
          if (!finished) reader.cancel().catch(() => {});
        }
      }
      const blob = writer.finish();
      const now = this.cart.clock.now();
      const hlc = this.cart.hlc.now();
      this.db.transaction(() => {
        this.db.run(
          `INSERT INTO app_blobs (app_id, key, blob_hash, content_type, size, created_at, updated_at, deleted, hlc, node_id)
           VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)
           ON CONFLICT(app_id, key) DO UPDATE SET
             blob_hash = excluded.blob_hash, content_type = excluded.content_type, size = excluded.size,
             created_at = CASE WHEN app_blobs.deleted = 1 THEN excluded.created_at ELSE app_blobs.created_at END,
             updated_at = excluded.updated_at, deleted = 0, hlc = excluded.hlc, node_id = excluded.node_id,
             base = CASE WHEN app_blobs.node_id = excluded.node_id THEN app_blobs.base ELSE app_blobs.hlc END`,
          [appId, key, blob.hash, contentType, blob.size, now, now, hlc, this.cart.nodeId],
        );
      });
      return this.head(appId, key)!;
    } finally {
      endWrite();
    }
  }

  /**
   * Metadata of a live blob with its chunk layout, or `undefined` when the key does not exist.
   * @throws FaztError `INVALID_ARGUMENT` for a bad key.
   */
  head(appId: string, key: string): AppBlobHead | undefined {
    this.assertKey(key);
    const r = this.db.get<HeadRow>(
      `SELECT a.key AS key, a.size AS size, a.content_type AS content_type, a.blob_hash AS blob_hash, a.created_at AS created_at,
              a.updated_at AS updated_at, b.chunk_size AS chunk_size, b.chunk_count AS chunk_count
       FROM app_blobs a JOIN vfs_blobs b ON b.hash = a.blob_hash
       WHERE a.app_id = ? AND a.key = ? AND a.deleted = 0`,
      [appId, key],
    );
    if (!r) return undefined;
    return { ...toInfo(r), blob: { hash: r.blob_hash, size: r.size, chunkSize: r.chunk_size, chunkCount: r.chunk_count } };
  }

  /**
   * Streams a blob, one chunk read from the cartridge per pull (constant memory for any size).
   * Bytes are read lazily: if the key is overwritten or deleted *and* garbage collection runs while
   * the stream is still being read, the stream errors ("chunk … is missing") instead of mixing bodies.
   *
   * @param range optional inclusive byte range `[start, end]` (HTTP `Range` semantics).
   * @returns metadata and the body, or `undefined` when the key does not exist.
   * @throws FaztError `INVALID_ARGUMENT` for a bad key; `RANGE_NOT_SATISFIABLE` for a range outside the blob.
   */
  stream(appId: string, key: string, range?: { start: number; end: number }): { info: AppBlobHead; stream: ReadableStream<Uint8Array> } | undefined {
    const info = this.head(appId, key);
    if (!info) return undefined;
    if (!range) return { info, stream: this.blobs.stream(info.blob) };
    try {
      return { info, stream: this.blobs.stream(info.blob, range.start, range.end) };
    } catch (e) {
      if (e instanceof RangeError) throw new FaztError('RANGE_NOT_SATISFIABLE', `Bytes ${range.start}-${range.end} lie outside the blob "${key}" (${info.size} bytes).`);
      throw e;
    }
  }

  /**
   * The whole body in memory (a fresh array the caller may keep or modify), or `undefined` when the
   * key does not exist. Prefer {@link stream} for large blobs.
   * @throws FaztError `INVALID_ARGUMENT` for a bad key.
   */
  read(appId: string, key: string): Uint8Array | undefined {
    const info = this.head(appId, key);
    if (!info) return undefined;
    const data = this.blobs.readAll(info.blob);
    // Small bodies come from the blob store's shared cache (never hand that array out), a single chunk
    // may be the driver's own array (a Node Buffer): return a plain copy of those. Multi-chunk bodies
    // were assembled into a fresh Uint8Array already.
    return info.size <= 64 * 1024 || Object.getPrototypeOf(data) !== Uint8Array.prototype ? new Uint8Array(data) : data;
  }

  /**
   * Deletes a blob (a tombstone row, so the delete replicates). Its bytes are freed by the next
   * garbage collection unless another key or file still uses them.
   * @returns true when a live blob was deleted, false when the key did not exist.
   * @throws FaztError `INVALID_ARGUMENT` for a bad key.
   */
  delete(appId: string, key: string): boolean {
    this.assertKey(key);
    return (
      // base: the version this delete replaced (docs/sync-spec.md S13)
      this.db.run('UPDATE app_blobs SET deleted = 1, updated_at = ?, hlc = ?, node_id = ?, base = CASE WHEN node_id = ? THEN base ELSE hlc END WHERE app_id = ? AND key = ? AND deleted = 0', [
        this.cart.clock.now(),
        this.cart.hlc.now(),
        this.cart.nodeId,
        this.cart.nodeId,
        appId,
        key,
      ]).changes > 0
    );
  }

  /** How many live blobs the app has and their total size (bytes). */
  usage(appId: string): { count: number; bytes: number } {
    const r = this.db.get<{ n: number; bytes: number | null }>('SELECT COUNT(*) AS n, SUM(size) AS bytes FROM app_blobs WHERE app_id = ? AND deleted = 0', [appId]);
    return { count: r?.n ?? 0, bytes: r?.bytes ?? 0 };
  }

  /**
   * Lists live blobs in key order, a page at a time. Pages are keyset-paginated (the cursor holds
   * the last key returned), so writes between pages never repeat or skip other keys.
   * @returns at most `limit` items, and a `cursor` only when more remain.
   * @throws FaztError `INVALID_ARGUMENT` for a bad limit or cursor.
   */
  list(appId: string, options: AppBlobListOptions = {}): AppBlobPage {
    const limit = pageLimit(options.limit, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT);
    const where = ['app_id = ?', 'deleted = 0'];
    const params: (string | number)[] = [appId];
    const prefix = options.prefix ?? '';
    if (typeof prefix !== 'string' || LONE_SURROGATE.test(prefix)) throw new FaztError('INVALID_ARGUMENT', 'prefix must be a valid Unicode string.');
    if (prefix !== '') {
      where.push('key >= ?');
      params.push(prefix);
      const upper = prefixUpperBound(prefix);
      if (upper !== undefined) {
        where.push('key < ?');
        params.push(upper);
      }
    }
    if (options.cursor !== undefined) {
      where.push('key > ?');
      params.push(decodeCursor(options.cursor));
    }
    params.push(limit + 1);
    const rows = this.db.query<Row>(
      `SELECT key, size, content_type, blob_hash, created_at, updated_at FROM app_blobs WHERE ${where.join(' AND ')} ORDER BY key LIMIT ?`,
      params,
    );
    const more = rows.length > limit;
    const items = rows.slice(0, limit).map(toInfo);
    return more ? { items, cursor: encodeCursor(items[items.length - 1]!.key) } : { items };
  }
}
