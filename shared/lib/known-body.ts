const knownBodies = new WeakMap<Response, Uint8Array>();

/**
 * The body bytes of a response the kernel built from bytes already in memory, so a host can write
 * them directly instead of draining the `Response` stream (an optimization for the Node adapter;
 * `undefined` means: read `response.body`). The response's body stream must then be left unread.
 */
export function knownBody(response: Response): Uint8Array | undefined {
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
