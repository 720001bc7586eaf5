import type { SqlDatabase } from '../sql/index.js';
import type { KernelPorts } from '../ports.js';
import { LruCache } from '../lib/lru.js';
import { reclaimFreePages } from '../cartridge/index.js';

/**
 * Content-addressed blob store inside the cartridge.
 *
 * A blob (a file's bytes) is cut into fixed-size chunks; each chunk is stored once, keyed by its own
 * SHA-256, so identical files and identical chunks across versions cost nothing twice. A blob is
 * identified by the SHA-256 of its whole content (the same value `sha256sum` prints).
 * Reads stream one chunk at a time, so a 200 MB file is served with one chunk in memory.
 */

/** Chunks no blob refers to. */
const ORPHAN_CHUNKS = 'SELECT hash FROM vfs_chunks c WHERE NOT EXISTS (SELECT 1 FROM vfs_blob_chunks bc WHERE bc.chunk_hash = c.hash)';
/** Deletes one chunk unless a blob refers to it (params: hash, hash). */
const DELETE_CHUNK_IF_ORPHAN = 'DELETE FROM vfs_chunks WHERE hash = ? AND NOT EXISTS (SELECT 1 FROM vfs_blob_chunks bc WHERE bc.chunk_hash = ?)';
/** Chunks deleted per step of {@link BlobStore.tidy}: 8 MiB of 256 KiB chunks. */
const TIDY_BATCH = 32;

/** Chunk size in bytes (256 KiB). Blobs remember the size they were cut with. */
export const CHUNK_SIZE = 256 * 1024;

/** Bytes of recently served chunks of large blobs kept in memory (see `BlobStore.chunks`). */
export const HOT_CHUNK_BYTES = 16 * 1024 * 1024;

/** Stored blob metadata. */
export interface BlobInfo {
  /** SHA-256 of the content, hex. */
  hash: string;
  /** Size, bytes. */
  size: number;
  /** Chunk size the blob was cut with, bytes. */
  chunkSize: number;
  /** Number of chunks. */
  chunkCount: number;
}

/**
 * Writes one blob incrementally. Chunks are committed as they fill (each an autocommit insert, so a
 * crash leaves only unreferenced chunks that {@link BlobStore.collectGarbage} removes); the blob row
 * is written by {@link finish}.
 */
export class BlobWriter {
  /** Chunk buffer, grown on demand (most files are small) and reused after each flush. */
  private buf: Uint8Array = new Uint8Array(0);
  private fill = 0;
  private size = 0;
  private readonly chunkHashes: string[] = [];
  private readonly whole;
  private done = false;

  constructor(
    private readonly store: BlobStore,
    private readonly chunkSize = CHUNK_SIZE,
  ) {
    this.whole = store.ports.sha256();
  }

  /** Bytes written so far. */
  get bytesWritten(): number {
    return this.size;
  }

  /** Appends bytes. */
  write(data: Uint8Array): void {
    if (this.done) throw new Error('BlobWriter: write after finish');
    this.whole.update(data);
    this.size += data.length;
    let off = 0;
    while (off < data.length) {
      const n = Math.min(this.chunkSize - this.fill, data.length - off);
      if (this.fill + n > this.buf.length) {
        const grown = new Uint8Array(Math.min(this.chunkSize, Math.max(this.fill + n, this.buf.length * 2, 16 * 1024)));
        grown.set(this.buf.subarray(0, this.fill));
        this.buf = grown;
      }
      this.buf.set(data.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      if (this.fill === this.chunkSize) this.flushChunk();
    }
  }

  private flushChunk(): void {
    if (this.fill === 0) return;
    const chunk = this.buf.subarray(0, this.fill);
    const hash = this.store.ports.sha256().update(chunk).digestHex();
    this.store.db.run('INSERT OR IGNORE INTO vfs_chunks (hash, size, data) VALUES (?, ?, ?)', [hash, chunk.length, chunk]);
    this.chunkHashes.push(hash);
    this.fill = 0; // the driver copied the bytes: reuse the buffer
  }

  /** Stores the blob row and returns its metadata. Idempotent for content already stored. */
  finish(): BlobInfo {
    if (this.done) throw new Error('BlobWriter: finish called twice');
    this.done = true;
    this.flushChunk();
    const hash = this.whole.digestHex();
    const info: BlobInfo = { hash, size: this.size, chunkSize: this.chunkSize, chunkCount: this.chunkHashes.length };
    const db = this.store.db;
    db.transaction(() => {
      const exists = db.get('SELECT 1 FROM vfs_blobs WHERE hash = ?', [hash]);
      if (exists) return;
      db.run('INSERT INTO vfs_blobs (hash, size, chunk_size, chunk_count, created_at) VALUES (?, ?, ?, ?, ?)', [
        hash,
        info.size,
        info.chunkSize,
        info.chunkCount,
        this.store.now(),
      ]);
      this.chunkHashes.forEach((c, i) => db.run('INSERT INTO vfs_blob_chunks (blob_hash, idx, chunk_hash) VALUES (?, ?, ?)', [hash, i, c]));
    });
    return info;
  }
}

/** The blob store over a cartridge connection. */
export class BlobStore {
  /** Writers in progress; garbage collection waits while any is open. */
  private activeWriters = 0;
  /** A {@link tidy} was asked for while writers were open: it runs when the last one ends. */
  private tidyWanted = false;
  /** The tidy in progress, if any. */
  private tidying: Promise<unknown> | undefined;
  /** Bodies of small blobs (≤ 64 KiB each, 32 MiB in all), by hash: content-addressed, never stale. */
  private readonly small = new LruCache<string, Uint8Array>(10_000, 32 * 1024 * 1024);
  /**
   * Chunks of larger blobs recently served by {@link chunks}, by `blobHash:index` (16 MiB in all).
   * Reading a 256 KiB chunk from SQLite walks 64 overflow pages (~0.4–0.5 ms here, against ~0.07 ms
   * for the same bytes from a file), so a file served again and again is kept; content-addressed,
   * so never stale.
   */
  private readonly hot = new LruCache<string, Uint8Array>(256, HOT_CHUNK_BYTES);
  /** Encoded variants (`br`, `gzip` → hash) by blob hash; written before a version is committed. */
  private readonly variants_ = new LruCache<string, ReadonlyMap<string, string>>(20_000);

  constructor(
    readonly db: SqlDatabase,
    readonly ports: Pick<KernelPorts, 'sha256'>,
    readonly now: () => number = Date.now,
  ) {}

  /** Starts a blob. Call {@link BlobWriter.finish} (or {@link endWrite}) when done. */
  writer(): BlobWriter {
    return new BlobWriter(this);
  }

  /** Marks a multi-blob operation (a deploy) as running so GC leaves its chunks alone. Returns the end function. */
  beginWrite(): () => void {
    this.activeWriters++;
    let ended = false;
    return () => {
      if (!ended) {
        ended = true;
        this.activeWriters--;
        if (this.activeWriters === 0 && this.tidyWanted) void this.tidy().catch(() => {});
      }
    };
  }

  /** Stores bytes as a blob in one call. */
  put(data: Uint8Array): BlobInfo {
    const w = this.writer();
    w.write(data);
    return w.finish();
  }

  /** Blob metadata, or `undefined`. */
  info(hash: string): BlobInfo | undefined {
    const r = this.db.get<{ hash: string; size: number; chunk_size: number; chunk_count: number }>(
      'SELECT hash, size, chunk_size, chunk_count FROM vfs_blobs WHERE hash = ?',
      [hash],
    );
    return r && { hash: r.hash, size: r.size, chunkSize: r.chunk_size, chunkCount: r.chunk_count };
  }

  private chunk(blobHash: string, idx: number): Uint8Array {
    const r = this.db.get<{ data: Uint8Array }>(
      'SELECT c.data AS data FROM vfs_blob_chunks bc JOIN vfs_chunks c ON c.hash = bc.chunk_hash WHERE bc.blob_hash = ? AND bc.idx = ?',
      [blobHash, idx],
    );
    if (!r) throw new Error(`cartridge damaged: chunk ${idx} of blob ${blobHash} is missing`);
    return r.data;
  }

  /**
   * The encoded variants stored for a blob: encoding (`br`, `gzip`) → hash of the encoded blob.
   * Cached: variants are stored before the version that uses the blob is committed.
   */
  variants(hash: string): ReadonlyMap<string, string> {
    let v = this.variants_.get(hash);
    if (!v) {
      const m = new Map<string, string>();
      for (const r of this.db.query<{ encoding: string; encoded_hash: string }>('SELECT encoding, encoded_hash FROM vfs_encodings WHERE blob_hash = ?', [hash])) {
        m.set(r.encoding, r.encoded_hash);
      }
      v = m;
      this.variants_.set(hash, v);
    }
    return v;
  }

  /** Forgets cached variants (after GC removed some). */
  private forgetCaches(): void {
    this.variants_.clear();
    this.small.clear();
    this.hot.clear();
  }

  /** Whole content of a blob (use for small blobs only). Small bodies are cached in memory. */
  readAll(info: BlobInfo): Uint8Array {
    if (info.size <= 64 * 1024) {
      const hit = this.small.get(info.hash);
      if (hit) return hit;
      const data = info.chunkCount === 1 ? this.chunk(info.hash, 0) : this.readAllUncached(info);
      this.small.set(info.hash, data, data.length);
      return data;
    }
    return this.readAllUncached(info);
  }

  private readAllUncached(info: BlobInfo): Uint8Array {
    if (info.chunkCount === 1) return this.chunk(info.hash, 0);
    const out = new Uint8Array(info.size);
    for (let i = 0; i < info.chunkCount; i++) out.set(this.chunk(info.hash, i), i * info.chunkSize);
    return out;
  }

  /**
   * The chunks holding bytes `[start, end]` (inclusive, like HTTP ranges) of a blob, read one chunk
   * per step, the first and last cut to the range.
   * @throws RangeError (at once) when the range lies outside the blob; Error (while iterating) when a
   *   chunk is missing (damaged cartridge).
   */
  chunks(info: BlobInfo, start = 0, end = info.size - 1): Generator<Uint8Array, void, undefined> {
    if (info.size > 0 && (start < 0 || end >= info.size || start > end)) throw new RangeError(`range ${start}-${end} outside blob of ${info.size} bytes`);
    return this.readChunks(info, start, end);
  }

  private *readChunks(info: BlobInfo, start: number, end: number): Generator<Uint8Array, void, undefined> {
    if (info.size === 0) return;
    let pos = start;
    while (pos <= end) {
      const idx = Math.floor(pos / info.chunkSize);
      const chunkStart = idx * info.chunkSize;
      const key = `${info.hash}:${idx}`;
      let data = this.hot.get(key);
      if (!data) {
        data = this.chunk(info.hash, idx);
        this.hot.set(key, data, data.length);
      }
      const from = pos - chunkStart;
      const to = Math.min(data.length, end - chunkStart + 1);
      yield from === 0 && to === data.length ? data : data.subarray(from, to);
      pos = chunkStart + to;
    }
  }

  /**
   * Streams bytes `[start, end]` (inclusive, like HTTP ranges) of a blob, reading one chunk per pull.
   * @throws RangeError when the range lies outside the blob.
   */
  stream(info: BlobInfo, start = 0, end = info.size - 1): ReadableStream<Uint8Array> {
    if (info.size === 0) return new ReadableStream({ start: (c) => c.close() });
    const it = this.chunks(info, start, end);
    return new ReadableStream<Uint8Array>(
      {
        pull: (controller) => {
          const n = it.next();
          if (n.done) controller.close();
          else controller.enqueue(n.value);
        },
        cancel: () => {
          it.return();
        },
      },
      { highWaterMark: 1 },
    );
  }

  /**
   * Removes what nothing references and gives the freed pages back to the file system, in small
   * steps with the event loop running in between (a failed 300 MiB deploy is ~1,200 chunks: deleted
   * in one transaction they stall the node for seconds). Called after a failed or aborted deploy.
   * While another write is in progress it is postponed until the last one ends (their chunks are not
   * referenced yet); a write that starts meanwhile stops it, to be resumed when that write ends.
   * @returns what was removed and the pages freed, or `undefined` when postponed.
   */
  async tidy(pause: () => Promise<void> = () => new Promise((r) => setTimeout(r, 0))): Promise<{ blobs: number; chunks: number; pages: number } | undefined> {
    if (this.activeWriters > 0) {
      this.tidyWanted = true;
      return undefined;
    }
    this.tidyWanted = false;
    this.forgetCaches();
    const blobs = this.db.transaction(() => this.deleteOrphanBlobs());
    // orphan chunks, then deleted a batch at a time; each delete re-checks that nothing refers to it
    const orphans = this.db.query<{ hash: string }>(ORPHAN_CHUNKS).map((r) => r.hash);
    let chunks = 0;
    for (let i = 0; i < orphans.length; i += TIDY_BATCH) {
      if (this.activeWriters > 0) {
        this.tidyWanted = true; // a new write began: its chunks may be among these; finish after it
        break;
      }
      chunks += this.db.transaction(() => {
        let n = 0;
        for (const h of orphans.slice(i, i + TIDY_BATCH)) n += this.db.run(DELETE_CHUNK_IF_ORPHAN, [h, h]).changes;
        return n;
      });
      await pause();
    }
    const run = (this.tidying ?? Promise.resolve()).then(() => reclaimFreePages(this.db, pause));
    this.tidying = run;
    const pages = await run;
    if (this.tidying === run) this.tidying = undefined;
    return { blobs, chunks, pages };
  }

  /** Deletes unreferenced encodings and blobs (rows only, chunks stay). Run inside a transaction. @returns blobs deleted. */
  private deleteOrphanBlobs(): number {
    const orphanBlobs = `SELECT hash FROM vfs_blobs b WHERE NOT EXISTS (SELECT 1 FROM vfs_files f WHERE f.blob_hash = b.hash)
        AND NOT EXISTS (SELECT 1 FROM vfs_encodings e WHERE e.encoded_hash = b.hash)
        AND NOT EXISTS (SELECT 1 FROM app_blobs a WHERE a.blob_hash = b.hash AND a.deleted = 0)
        AND NOT EXISTS (SELECT 1 FROM sync_conflicts c WHERE c.kind = 'blob' AND c.resolution IS NULL AND c.deleted = 0 AND c.loser = '"' || b.hash || '"')`;
    this.db.run(`DELETE FROM vfs_encodings WHERE blob_hash NOT IN (SELECT blob_hash FROM vfs_files)`);
    const hashes = this.db.query<{ hash: string }>(orphanBlobs).map((r) => r.hash);
    for (const h of hashes) {
      this.db.run('DELETE FROM vfs_blob_chunks WHERE blob_hash = ?', [h]);
      this.db.run('DELETE FROM vfs_blobs WHERE hash = ?', [h]);
    }
    return hashes.length;
  }

  /**
   * Deletes blobs no file, encoding, live app blob (`fazt.blobs`) or open sync conflict (its losing
   * content, which "keep the loser" restores; docs/sync-spec.md S13) references, then chunks no blob references.
   * Skipped (returns `undefined`) while a write is in progress. When chunks were deleted, their pages
   * are given back to the file system afterwards, in the background ({@link reclaimFreePages}).
   * @returns counts of deleted rows.
   */
  collectGarbage(): { blobs: number; chunks: number } | undefined {
    if (this.activeWriters > 0) return undefined;
    this.forgetCaches();
    const r = this.db.transaction(() => {
      const blobs = this.deleteOrphanBlobs();
      const chunks = this.db.run('DELETE FROM vfs_chunks WHERE NOT EXISTS (SELECT 1 FROM vfs_blob_chunks bc WHERE bc.chunk_hash = vfs_chunks.hash)').changes;
      return { blobs, chunks };
    });
    // the pages of deleted chunks go back to the file system, in the background, in small steps
    if (r.chunks > 0 && !this.tidying) {
      const run = reclaimFreePages(this.db).catch(() => 0);
      this.tidying = run;
      void run.then(() => {
        if (this.tidying === run) this.tidying = undefined;
      });
    }
    return r;
  }
}
