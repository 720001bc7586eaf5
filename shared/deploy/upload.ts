import { Unzip, UnzipInflate } from 'fflate';
import {
  getMultipartBoundary,
  MaxFileSizeExceededError,
  MaxPartsExceededError,
  MaxTotalSizeExceededError,
  parseMultipartStream,
} from '@remix-run/multipart-parser';
import { FaztError } from '../errors.js';
import { normalizeUploadPath } from '../vfs/paths.js';
import type { BlobInfo, BlobStore, BlobWriter } from '../vfs/blobs.js';
import { formatBytes, type DeployLimits } from './limits.js';

/**
 * Receives an upload (zip or multipart file set) into the blob store, streaming, with every limit
 * enforced as bytes arrive. Returns the staged tree (path → blob); nothing is live yet.
 */

/** Progress of an upload being received. */
export interface UploadProgress {
  /** Request body bytes received so far. */
  receivedBytes: number;
  /** Files stored so far. */
  files: number;
}

/** Names that operating systems add to archives; skipped silently. */
function isJunk(path: string): boolean {
  return path.startsWith('__MACOSX/') || /(^|\/)(\.DS_Store|Thumbs\.db|desktop\.ini)$/.test(path);
}

/** Longest stretch of synchronous unpacking, hashing and chunk writing before other requests get a turn, ms. */
export const DEPLOY_SLICE_MS = 8;

/**
 * Lets the event loop run pending I/O and timers (a macrotask turn, not a microtask: other
 * requests' callbacks run in between). Uses `setTimeout`, present in Node and service workers.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

/** Cuts long synchronous work into slices of ≈ {@link DEPLOY_SLICE_MS}, yielding in between. */
export class Slicer {
  private started = Date.now();
  /** Number of times the work gave way. */
  yields = 0;
  /** Yields when the current slice has run for {@link DEPLOY_SLICE_MS} or more. */
  async maybeYield(): Promise<void> {
    if (Date.now() - this.started < DEPLOY_SLICE_MS) return;
    this.yields++;
    await yieldToEventLoop();
    this.started = Date.now();
  }
}

class Staging {
  readonly files = new Map<string, BlobInfo>();
  /** Unpacked bytes so far (what the files add up to). */
  total = 0;
  /** Sum of the uncompressed sizes the entries declared so far, bytes. */
  declared = 0;
  /** Packed (zip) bytes handed to the unpacker so far; the denominator of the ratio check. */
  fed = 0;
  /** Request body bytes received so far. */
  received = 0;
  constructor(
    readonly limits: DeployLimits,
    readonly store: BlobStore,
  ) {}

  /** A 413 carrying how far the upload got (`receivedBytes`, `unpackedBytes`) in its JSON details. */
  tooLarge(message: string): FaztError {
    return new FaztError('PAYLOAD_TOO_LARGE', message, { receivedBytes: this.received, unpackedBytes: this.total });
  }

  /** Validates a path and the file count before a file starts. */
  admit(rawPath: string): string | undefined {
    const path = normalizeUploadPath(rawPath);
    if (isJunk(path)) return undefined;
    if (this.files.has(path)) throw new FaztError('BAD_ARCHIVE', `The upload contains "${path}" twice. Nothing was deployed.`);
    if (this.files.size + 1 > this.limits.maxFiles) {
      throw new FaztError('TOO_MANY_FILES', `The upload has more than ${this.limits.maxFiles} files (the limit). Nothing was deployed.`);
    }
    return path;
  }

  /**
   * Refuses an entry on the sizes its zip header declares, before a byte of it is unpacked. The
   * declared sizes are never trusted to be true ({@link account} counts the real bytes); a liar
   * only skips this early refusal.
   * @param packed the entry's compressed size, bytes; `originalSize` its uncompressed size.
   */
  declare(path: string, packed: number | undefined, originalSize: number | undefined): void {
    if (originalSize === undefined || !(originalSize >= 0)) return;
    const { maxFileBytes, maxTotalBytes, maxRatio, ratioFloorBytes } = this.limits;
    if (originalSize > maxFileBytes) {
      throw this.tooLarge(`"${path}" is larger than ${formatBytes(maxFileBytes)} (the per-file limit; the zip says ${formatBytes(originalSize)}). Nothing was deployed.`);
    }
    this.declared += originalSize;
    if (this.declared > maxTotalBytes) {
      throw this.tooLarge(
        `The files add up to more than ${formatBytes(maxTotalBytes)} once unpacked (the limit; the zip declares ${formatBytes(this.declared)} so far — a zip bomb?). Nothing was deployed.`,
      );
    }
    if (packed !== undefined && originalSize > ratioFloorBytes && originalSize > maxRatio * Math.max(packed, 1)) {
      throw this.tooLarge(
        `"${path}" unpacks ${formatBytes(packed)} into ${formatBytes(originalSize)}, more than ${maxRatio}× (the limit; a zip bomb?). Nothing was deployed.`,
      );
    }
  }

  /** Counts decompressed bytes of a file against the per-file, total and ratio limits. */
  account(path: string, writer: BlobWriter, n: number): void {
    this.total += n;
    const { maxFileBytes, maxTotalBytes, maxRatio, ratioFloorBytes } = this.limits;
    if (writer.bytesWritten + n > maxFileBytes) {
      throw this.tooLarge(`"${path}" is larger than ${formatBytes(maxFileBytes)} (the per-file limit). Nothing was deployed.`);
    }
    if (this.total > maxTotalBytes) {
      throw this.tooLarge(`The files add up to more than ${formatBytes(maxTotalBytes)} once unpacked (the limit; a zip bomb?). Nothing was deployed.`);
    }
    if (this.fed > 0 && this.total > ratioFloorBytes && this.total > maxRatio * this.fed) {
      throw this.tooLarge(
        `The upload unpacks ${formatBytes(this.fed)} of zip into more than ${formatBytes(this.total)}, more than ${maxRatio}× (the limit; a zip bomb?). Nothing was deployed.`,
      );
    }
  }
}

/**
 * Reads a body stream, failing as soon as more than `max` bytes arrived.
 * @throws FaztError `PAYLOAD_TOO_LARGE`.
 */
export async function* limitedChunks(body: ReadableStream<Uint8Array>, max: number, onBytes?: (n: number) => void): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let received = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      received += value.length;
      if (received > max) throw new FaztError('PAYLOAD_TOO_LARGE', `The upload is larger than ${formatBytes(max)} (the limit). Nothing was deployed.`);
      onBytes?.(received);
      yield value;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** Largest piece of zip fed to the unpacker at once, bytes (data that barely expands: stored files, media). */
const FEED_MAX = 64 * 1024;
/** Smallest piece, bytes (deflate expands at most 1032×: ≤ 256 KiB out of one). */
const FEED_MIN = 256;
/**
 * Unpacked bytes one piece should produce at most: the pieces shrink as the data expands, so one
 * synchronous step (fflate inflates long runs at ≈ 50 MB/s here) stays a few ms even in a bomb.
 */
const FEED_OUTPUT = 256 * 1024;

/**
 * Stages a zip archive (PKWARE APPNOTE 6.3; stored and deflate entries, data descriptors, zip64) from a stream.
 *
 * Unpacking, hashing and chunk writes run in slices of ≈ {@link DEPLOY_SLICE_MS} with the event loop
 * running in between, so other requests are served during a big deploy. Limits trip as early as
 * they can: on an entry's declared sizes before it is unpacked, and on the bytes actually unpacked
 * (per file, in total, and as a ratio to the zip bytes fed) within one piece, whose size adapts so
 * that it unpacks to ≤ {@link FEED_OUTPUT} bytes.
 * @throws FaztError `UNSAFE_PATH`, `PAYLOAD_TOO_LARGE` (details `receivedBytes`, `unpackedBytes`),
 *   `TOO_MANY_FILES`, `BAD_ARCHIVE`.
 */
export async function stageZip(
  body: ReadableStream<Uint8Array>,
  store: BlobStore,
  limits: DeployLimits,
  onProgress?: (p: UploadProgress) => void,
): Promise<Map<string, BlobInfo>> {
  const staging = new Staging(limits, store);
  let failure: unknown;
  let open = 0;
  let sawEntry = false;
  const unzip = new Unzip((file) => {
    if (failure) return;
    sawEntry = true;
    try {
      if (file.name.endsWith('/')) return; // folder entry
      const path = staging.admit(file.name);
      if (path === undefined) return;
      staging.declare(path, file.size, file.originalSize);
      const writer = store.writer();
      open++;
      file.ondata = (err, data, final) => {
        if (failure) return;
        try {
          if (err) throw new FaztError('BAD_ARCHIVE', `The zip is damaged at "${path}": ${err.message}. Nothing was deployed.`);
          staging.account(path, writer, data.length);
          writer.write(data);
          if (final) {
            staging.files.set(path, writer.finish());
            open--;
            onProgress?.({ receivedBytes: staging.received, files: staging.files.size });
          }
        } catch (e) {
          failure = e;
          file.terminate();
        }
      };
      file.start();
    } catch (e) {
      failure = e;
    }
  });
  unzip.register(UnzipInflate);
  const push = (chunk: Uint8Array, final: boolean) => {
    staging.fed += chunk.length;
    try {
      unzip.push(chunk, final);
    } catch (e) {
      failure ??= new FaztError('BAD_ARCHIVE', `The upload is not a readable zip archive (${(e as Error).message}). Nothing was deployed.`);
    }
  };
  const slicer = new Slicer();
  let feed = FEED_MIN * 4; // grows while the data does not expand much
  for await (const chunk of limitedChunks(body, limits.maxUploadBytes, (n) => (staging.received = n))) {
    for (let off = 0; off < chunk.length && !failure; ) {
      const piece = chunk.subarray(off, off + feed);
      off += piece.length;
      const before = staging.total;
      push(piece, false);
      // the next piece is sized by how much this one expanded
      const ratio = (staging.total - before) / piece.length;
      feed = Math.max(FEED_MIN, Math.min(FEED_MAX, feed * 2, Math.floor(FEED_OUTPUT / Math.max(ratio, 1))));
      if (!failure) await slicer.maybeYield();
    }
    if (failure) throw failure;
  }
  push(new Uint8Array(0), true);
  if (failure) throw failure;
  if (!sawEntry) throw new FaztError('BAD_ARCHIVE', 'The upload is not a zip archive or holds no files. Nothing was deployed.');
  if (open > 0) throw new FaztError('BAD_ARCHIVE', 'The zip archive ends in the middle of a file (truncated upload?). Nothing was deployed.');
  return staging.files;
}

/**
 * Stages a `multipart/form-data` body (RFC 7578): every file part is a file of the app, its path
 * taken from the part's `filename` (which may contain `/`). Parsed as it streams by
 * @remix-run/multipart-parser (web streams, any runtime); one part at a time is held in memory,
 * so memory is bounded by the per-file limit, not the upload size.
 * @see https://github.com/remix-run/remix/tree/main/packages/multipart-parser
 * @throws FaztError `UNSAFE_PATH`, `PAYLOAD_TOO_LARGE`, `TOO_MANY_FILES`, `BAD_REQUEST`.
 */
export async function stageMultipart(
  body: ReadableStream<Uint8Array>,
  contentType: string,
  store: BlobStore,
  limits: DeployLimits,
  onProgress?: (p: UploadProgress) => void,
): Promise<Map<string, BlobInfo>> {
  const boundary = getMultipartBoundary(contentType);
  if (!boundary) throw new FaztError('BAD_REQUEST', 'The multipart upload has no boundary in its Content-Type. Nothing was deployed.');
  const staging = new Staging(limits, store);
  const gen = limitedChunks(body, limits.maxUploadBytes, (n) => (staging.received = n));
  const slicer = new Slicer();
  const limited = new ReadableStream<Uint8Array>({
    async pull(c) {
      const r = await gen.next();
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    async cancel() {
      await gen.return(undefined);
    },
  });
  try {
    const parts = parseMultipartStream(limited, {
      boundary,
      maxFileSize: limits.maxFileBytes,
      maxTotalSize: limits.maxTotalBytes,
      maxParts: limits.maxFiles * 2 + 100,
    });
    for await (const part of parts) {
      if (part.filename === undefined) continue; // a plain form field
      const path = staging.admit(part.filename);
      if (path === undefined) continue;
      const writer = store.writer();
      for (const data of part.content) {
        // a part is not compressed: its bytes were received, so they count as fed (no ratio)
        staging.fed += data.length;
        staging.account(path, writer, data.length);
        for (let off = 0; off < data.length; off += 256 * 1024) {
          writer.write(data.subarray(off, off + 256 * 1024));
          await slicer.maybeYield();
        }
      }
      staging.files.set(path, writer.finish());
      onProgress?.({ receivedBytes: staging.received, files: staging.files.size });
    }
  } catch (e) {
    if (e instanceof FaztError) throw e;
    if (e instanceof MaxFileSizeExceededError) {
      throw new FaztError('PAYLOAD_TOO_LARGE', `A file is larger than ${formatBytes(limits.maxFileBytes)} (the per-file limit). Nothing was deployed.`);
    }
    if (e instanceof MaxTotalSizeExceededError) {
      throw new FaztError('PAYLOAD_TOO_LARGE', `The files add up to more than ${formatBytes(limits.maxTotalBytes)} (the limit). Nothing was deployed.`);
    }
    if (e instanceof MaxPartsExceededError) {
      throw new FaztError('TOO_MANY_FILES', `The upload has more than ${limits.maxFiles} files (the limit). Nothing was deployed.`);
    }
    throw new FaztError('BAD_REQUEST', `The multipart upload could not be read (${(e as Error).message}). Nothing was deployed.`);
  }
  if (staging.files.size === 0) throw new FaztError('BAD_REQUEST', 'The upload holds no files. Nothing was deployed.');
  return staging.files;
}

/**
 * When every file sits under one top folder and that folder holds `app.json` or `index.html` (a
 * zipped folder, a GitHub archive), returns the tree with that folder stripped and the folder's
 * name; otherwise the tree unchanged.
 */
export function stripCommonFolder(files: Map<string, BlobInfo>): { files: Map<string, BlobInfo>; folder?: string } {
  if (files.has('app.json') || files.has('index.html')) return { files };
  const firsts = new Set([...files.keys()].map((p) => p.split('/')[0]));
  if (firsts.size !== 1) return { files };
  const top = [...firsts][0]!;
  if (!files.has(`${top}/app.json`) && !files.has(`${top}/index.html`)) return { files };
  return { files: new Map([...files].map(([p, b]) => [p.slice(top.length + 1), b])), folder: top };
}
