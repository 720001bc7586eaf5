/**
 * A body the kernel can hand to a host without a `ReadableStream`: bytes already in memory, or a
 * synchronous sequence of chunks read on demand (a stored file's chunks). The Node adapter writes
 * these directly to the socket (with backpressure for chunk sequences), which costs a fraction of
 * draining a WHATWG stream per chunk; other hosts read `response.body` as usual.
 */
export type KnownBody = Uint8Array | KnownChunks;

/** A body as a lazy, synchronous sequence of chunks. */
export interface KnownChunks {
  /** Total length, bytes. */
  readonly length: number;
  /** Yields the body's chunks in order; each call starts over. May throw (a damaged cartridge). */
  chunks(): Iterable<Uint8Array>;
}

const knownBodies = new WeakMap<Response, KnownBody>();

/**
 * The body of a response the kernel built with {@link bytesResponse} or {@link chunksResponse}, so
 * a host can write it directly instead of draining the `Response` stream (`undefined` means: read
 * `response.body`). When a host uses it, the response's body stream must be left unread.
 */
export function knownBody(response: Response): KnownBody | undefined {
  return knownBodies.get(response);
}

/**
 * A response whose body is `bytes` (or none), registered for {@link knownBody}. The caller sets
 * `content-length` when it wants one (a HEAD response keeps the length of the GET body).
 */
export function bytesResponse(bytes: Uint8Array | null, init: ResponseInit): Response {
  const r = new Response(bytes as Uint8Array<ArrayBuffer> | null, init);
  if (bytes) knownBodies.set(r, bytes);
  return r;
}

/**
 * A response whose body is the chunks of `body`, registered for {@link knownBody}. Its
 * `response.body` (for hosts that do not use the known body) pulls the same chunks one at a time.
 */
export function chunksResponse(body: KnownChunks, init: ResponseInit): Response {
  let it: Iterator<Uint8Array> | undefined;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        it ??= body.chunks()[Symbol.iterator]();
        const n = it.next();
        if (n.done) controller.close();
        else controller.enqueue(n.value);
      },
      cancel() {
        it?.return?.();
      },
    },
    { highWaterMark: 1 },
  );
  const r = new Response(stream, init);
  knownBodies.set(r, body);
  return r;
}
