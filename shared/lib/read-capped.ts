import { FaztError } from '../errors.js';

/**
 * Reads a Fetch body whole, refusing more than `max` bytes: first by its declared
 * `Content-Length` (the body is then left unread), then while streaming (the reader is cancelled).
 * @param what names the body in the error (`'The request body'`, `'fazt.net.fetch https://x: the response'`).
 * @throws FaztError `LIMIT_EXCEEDED`; read errors of the stream pass through.
 */
export async function readCapped(message: { headers: Headers; body: ReadableStream<Uint8Array> | null }, max: number, what: string): Promise<Uint8Array> {
  const declared = Number(message.headers.get('content-length'));
  // refused before reading: the body is left to the caller (Node's Readable.toWeb stream throws
  // "Controller is already closed" when it is cancelled while data still arrives)
  if (declared > max) {
    throw new FaztError('LIMIT_EXCEEDED', `${what} (${declared} bytes) is larger than the ${max}-byte limit.`);
  }
  if (!message.body) return new Uint8Array(0);
  const reader = message.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      await reader.cancel().catch(() => {});
      throw new FaztError('LIMIT_EXCEEDED', `${what} is larger than the ${max}-byte limit.`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
