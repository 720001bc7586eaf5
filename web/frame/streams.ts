/**
 * The response bodies an app frame's host streams to its frame ({@link BodyStreams}): one table per
 * frame bridge, so a stream id means something only on the port of the frame that opened it. The
 * frame pulls: each `read` call of the runtime gets the next piece (≤ {@link MAX_BODY_CHUNK} bytes)
 * and the host reads its upstream body only when asked, so nothing piles up on the host (the
 * backpressure of the WHATWG Streams standard, https://streams.spec.whatwg.org/, carried over the
 * port one chunk at a time).
 *
 * Pure: it uses only `ReadableStream`, `Response` and timers, which Node and browsers both have.
 */
import type { BodyRead } from './protocol.js';

/** Largest piece of a body in one message to the frame (bytes); bigger upstream chunks are split. */
export const MAX_BODY_CHUNK = 64 * 1024;
/** Response bodies one frame may hold open at once; one more fails its fetch (see {@link BodyStreams.open}). */
export const MAX_OPEN_BODIES = 16;
/**
 * How long the host waits for a body to end before it answers with the headers and streams the rest
 * (ms). Bodies that are already there (a JSON answer, a file) end within it and travel whole in
 * the fetch answer, as before; a stream (SSE, a model's tokens) sends its headers after this.
 */
export const INLINE_WAIT_MS = 5;

/** What {@link BodyStreams.open} made of a response body. */
export type OpenedBody =
  /** The body ended in time (or was empty): all of it. */
  | { whole: ArrayBuffer }
  /** The body goes on: what arrived so far (may be empty) and the id to `read` the rest with. */
  | { head: ArrayBuffer; stream: number };

/** One open body: its reader, what is left of the last upstream chunk, and a read in progress. */
interface OpenBody {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** A read of the upstream started earlier and not yet taken (the inline wait ended first). */
  pending: Promise<ReadableStreamReadResult<Uint8Array>> | null;
  /** Bytes of an upstream chunk over {@link MAX_BODY_CHUNK} not yet sent. */
  rest: Uint8Array | null;
  /** A `read` of the frame is waiting (the runtime never sends two at once; a second is refused). */
  busy: boolean;
}

/** Thrown for a read or cancel of an id this frame has not open (never another frame's: ids are per table). */
export class BodyStreamError extends Error {
  override name = 'BodyStreamError';
}

/** A copy of `u`'s bytes as an ArrayBuffer of its own (transferable without detaching a shared buffer). */
function own(u: Uint8Array): ArrayBuffer {
  return u.slice().buffer as ArrayBuffer;
}

/** Joins chunks into one ArrayBuffer. */
function join(parts: Uint8Array[], size: number): ArrayBuffer {
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out.buffer;
}

/** The response bodies one frame reads in pieces. */
export class BodyStreams {
  private readonly open_ = new Map<number, OpenBody>();
  private nextId = 0;
  private closed = false;

  /**
   * @param limits `maxOpen`: bodies open at once (default {@link MAX_OPEN_BODIES}); `inlineWaitMs`:
   *   see {@link INLINE_WAIT_MS}; `maxInline`: the largest body sent whole (bytes, default
   *   {@link MAX_BODY_CHUNK}); `maxChunk`: the largest piece per read (bytes, default {@link MAX_BODY_CHUNK}).
   */
  constructor(private readonly limits: { maxOpen?: number; inlineWaitMs?: number; maxInline?: number; maxChunk?: number } = {}) {}

  /** How many bodies are open now. */
  get size(): number {
    return this.open_.size;
  }

  /**
   * Reads `body` for up to {@link INLINE_WAIT_MS} or until it holds more than `maxInline` bytes:
   * a body that ends by then comes back whole; otherwise it stays open under a new id and what was
   * read comes back as its head.
   * @throws BodyStreamError when this frame already holds `maxOpen` bodies open (the body is cancelled).
   */
  async open(body: ReadableStream<Uint8Array> | null): Promise<OpenedBody> {
    if (!body) return { whole: new ArrayBuffer(0) };
    const reader = body.getReader();
    const maxInline = this.limits.maxInline ?? MAX_BODY_CHUNK;
    const parts: Uint8Array[] = [];
    let size = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<'wait'>((resolve) => (timer = setTimeout(() => resolve('wait'), this.limits.inlineWaitMs ?? INLINE_WAIT_MS)));
    let pending: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;
    try {
      while (size <= maxInline) {
        pending = reader.read();
        const r = await Promise.race([pending, deadline]);
        if (r === 'wait') break;
        pending = null;
        if (r.done) return { whole: join(parts, size) };
        parts.push(r.value);
        size += r.value.byteLength;
      }
    } finally {
      clearTimeout(timer);
    }
    if (this.closed || this.open_.size >= (this.limits.maxOpen ?? MAX_OPEN_BODIES)) {
      reader.cancel().catch(() => {});
      throw new BodyStreamError(
        this.closed ? 'The app frame is closed.' : `This app frame already reads ${this.limits.maxOpen ?? MAX_OPEN_BODIES} response bodies; read them to the end or cancel them first.`,
      );
    }
    const id = ++this.nextId;
    // a head over one chunk's worth stays in `rest`, so no message carries more than maxChunk
    const maxChunk = this.limits.maxChunk ?? MAX_BODY_CHUNK;
    const all = new Uint8Array(join(parts, size));
    const head = all.subarray(0, Math.min(all.byteLength, maxChunk));
    this.open_.set(id, { reader, pending, rest: all.byteLength > maxChunk ? all.subarray(maxChunk) : null, busy: false });
    return { head: own(head), stream: id };
  }

  /**
   * The next piece of body `id` (≤ `maxChunk` bytes, never empty unless `done`). `done` ends it
   * (the id is then gone); an upstream error ends it and is thrown.
   * @throws BodyStreamError for an id that is not open here, or a second read while one waits.
   */
  async read(id: number): Promise<BodyRead> {
    const s = this.open_.get(id);
    if (!s) throw new BodyStreamError(`No open response body ${String(id)} in this app frame.`);
    if (s.busy) throw new BodyStreamError(`A read of response body ${id} is already waiting.`);
    const maxChunk = this.limits.maxChunk ?? MAX_BODY_CHUNK;
    s.busy = true;
    try {
      for (;;) {
        if (s.rest) {
          const piece = s.rest.subarray(0, maxChunk);
          s.rest = s.rest.byteLength > maxChunk ? s.rest.subarray(maxChunk) : null;
          return { chunk: own(piece), done: false };
        }
        const r = await (s.pending ?? s.reader.read());
        s.pending = null;
        if (r.done) {
          this.open_.delete(id);
          return { chunk: null, done: true };
        }
        if (r.value.byteLength) s.rest = r.value;
      }
    } catch (e) {
      this.open_.delete(id);
      s.reader.cancel().catch(() => {});
      throw e;
    } finally {
      s.busy = false;
    }
  }

  /** Cancels body `id` (its upstream sees the cancel). An id that is not open is a no-op. */
  async cancel(id: number): Promise<void> {
    const s = this.open_.get(id);
    if (!s) return;
    this.open_.delete(id);
    await s.reader.cancel().catch(() => {});
  }

  /** Cancels every open body and refuses new ones: the frame is gone. */
  close(): void {
    this.closed = true;
    for (const s of this.open_.values()) s.reader.cancel().catch(() => {});
    this.open_.clear();
  }
}
