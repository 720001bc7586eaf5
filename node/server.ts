import express, { type Express, type Request as ExpressRequest, type Response as ExpressResponse } from 'express';
import type { Server } from 'node:http';
import { Readable } from 'node:stream';
import { createFetch, errorBody, knownBody, normalizeAddress, type FetchHandler, type Kernel, type RequestContext } from '../shared/index.js';

/**
 * The Node host's HTTP face: an express app whose every request goes to the kernel's
 * `fetch(Request): Promise<Response>` through a thin adapter (the Hono pattern: one Fetch-API core,
 * thin adapters per runtime).
 */

/** Bodies up to this size are written in one `end()` call, bytes; larger ones stream with backpressure. */
const BUFFER_LIMIT = 1024 * 1024;

/**
 * The request body as a web stream with backpressure (pulls resume the socket). Written here rather
 * than `Readable.toWeb(req)`: on Node 20 that adapter throws "Controller is already closed" as an
 * uncaught exception when the consumer cancels (a deploy refused mid-upload) while the socket still
 * has data buffered. Cancel destroys the request; a client that goes away errors the stream.
 */
function requestBody(req: Readable): ReadableStream<Uint8Array> {
  let done = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        req.on('data', (chunk: Buffer) => {
          if (done) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        });
        req.once('end', () => {
          if (done) return;
          done = true;
          controller.close();
        });
        req.once('error', (e) => {
          if (done) return;
          done = true;
          controller.error(e);
        });
        req.once('close', () => {
          // closed before 'end': the client went away mid-upload
          if (done) return;
          done = true;
          controller.error(new Error('the client closed the connection before the body ended'));
        });
        req.pause();
      },
      pull() {
        req.resume();
      },
      cancel() {
        done = true;
        req.resume(); // drain what still comes, so the answer can be written
      },
    },
    { highWaterMark: 4 },
  );
}

/** Converts an incoming express request into a Fetch API `Request` (absolute URL from the `Host` header). */
export function toFetchRequest(req: ExpressRequest): Request {
  const host = req.headers.host ?? 'localhost';
  const url = `http://${host}${req.originalUrl}`;
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  return new Request(url, {
    method: req.method,
    headers,
    body: hasBody ? requestBody(req) : undefined,
    // @ts-expect-error Node's fetch needs duplex for streamed request bodies (https://github.com/whatwg/fetch/pull/1457)
    duplex: hasBody ? 'half' : undefined,
  });
}

/** Writes a Fetch API `Response` to an express response, streaming large bodies with backpressure. */
export async function sendFetchResponse(res: ExpressResponse, response: Response, head: boolean): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((v, k) => {
    if (k !== 'set-cookie') headers[k] = v;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers['set-cookie'] = cookies;
  res.writeHead(response.status, headers);
  const known = knownBody(response);
  if (known instanceof Uint8Array) {
    res.end(head ? undefined : known);
    return;
  }
  if (known) {
    if (head) return void res.end();
    await writeChunks(res, known.chunks());
    return;
  }
  if (!response.body || head) {
    res.end();
    if (response.body) await response.body.cancel();
    return;
  }
  const length = Number(response.headers.get('content-length') ?? NaN);
  if (length <= BUFFER_LIMIT) {
    res.end(Buffer.from(await response.arrayBuffer()));
    return;
  }
  const reader = response.body.getReader();
  let closed = false;
  res.on('close', () => {
    closed = true;
    // The client went away: cancel the body now (not at its next chunk), so live streams such as a
    // log follower unsubscribe at once.
    reader.cancel().catch(() => {});
  });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || closed) break;
      if (!res.write(value)) await new Promise<void>((r) => res.once('drain', r).once('close', r));
    }
  } catch {
    // a body that failed mid-way must not look complete: cut the response (no final chunk)
    res.destroy();
  } finally {
    reader.cancel().catch(() => {});
    if (!res.destroyed) res.end();
  }
}

/**
 * Writes a known body's chunks with backpressure: the next chunk is read (from the cartridge) only
 * when the socket took the last one, so a slow client holds at most about one chunk in memory.
 * Stops when the client goes away; a chunk that cannot be read (damaged cartridge) aborts the
 * connection, since the status line is already sent.
 */
async function writeChunks(res: ExpressResponse, chunks: Iterable<Uint8Array>): Promise<void> {
  let closed = false;
  const onClose = () => {
    closed = true;
  };
  res.on('close', onClose);
  const it = chunks[Symbol.iterator]();
  try {
    for (;;) {
      const n = it.next();
      if (n.done) break;
      if (!res.write(n.value) && !closed) await new Promise<void>((r) => res.once('drain', r).once('close', r));
      if (closed) return;
    }
    res.end();
  } catch (e) {
    res.destroy();
    throw e;
  } finally {
    it.return?.();
    res.off('close', onClose);
  }
}

/** Options of {@link createApp}. */
export interface AppOptions {
  /**
   * Addresses of reverse proxies whose `X-Forwarded-For` is believed (`fazt start --trusted-proxy`).
   * Exact addresses (IPv4-mapped IPv6 compares as IPv4); empty (default): no header is believed.
   */
  trustedProxies?: readonly string[];
}

/**
 * The request's source address and whether it came through a trusted proxy.
 *
 * Without trusted proxies, or when the TCP peer is not one, the source is the peer and headers are
 * ignored (a client can write any `X-Forwarded-For`). When the peer is a trusted proxy, the source is
 * the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy — the entry the nearest
 * trusted proxy wrote (entries further left come from the client and are not believed); the peer when
 * the header is absent or holds only trusted proxies. See MDN "X-Forwarded-For", security section.
 * @param peer the TCP peer address (`socket.remoteAddress`).
 * @param xff the `X-Forwarded-For` value (repeated headers joined by commas).
 */
export function clientSource(peer: string | undefined, xff: string | undefined, trusted: ReadonlySet<string>): Pick<RequestContext, 'source' | 'proxied'> {
  if (!peer || trusted.size === 0 || !trusted.has(normalizeAddress(peer))) return { source: peer, proxied: false };
  const hops = (xff ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeAddress(hops[i]!);
    if (!trusted.has(hop)) return { source: hop.slice(0, 100), proxied: true };
  }
  return { source: peer, proxied: true };
}

/**
 * Builds the express app around a kernel: a thin adapter from express to the kernel's HTTP face.
 * @param fetch the kernel's HTTP face (default `createFetch(kernel)`: the built-in dashboard).
 * @param options how the source address of a request is found (trusted proxies).
 */
export function createApp(kernel: Kernel, fetch: FetchHandler = createFetch(kernel), options: AppOptions = {}): Express {
  const trusted = new Set((options.trustedProxies ?? []).map(normalizeAddress));
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(async (req, res) => {
    let request: Request;
    try {
      request = toFetchRequest(req);
    } catch {
      // A Host header no URL can be made of (`Host: a b`): the client's fault, not a node failure.
      res.status(400).json(errorBody('BAD_REQUEST', 'Malformed Host header or request URL.'));
      return;
    }
    try {
      const peer = req.socket.remoteAddress;
      const xff = req.headers['x-forwarded-for'];
      const response = await fetch(request, { peer, ...clientSource(peer, Array.isArray(xff) ? xff.join(',') : xff, trusted) });
      await sendFetchResponse(res, response, req.method === 'HEAD');
    } catch (e) {
      kernel.ports.logger.error('adapter failure', { error: String((e as Error)?.stack ?? e) });
      if (!res.headersSent) res.status(500).json(errorBody('INTERNAL', 'The node failed to answer.'));
      else res.destroy();
    }
  });
  return app;
}

/**
 * Starts listening.
 * @returns the server and the bound port (useful with port 0).
 */
export function listen(app: Express, port: number, host: string): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (err?: Error) => {
      if (err) return reject(err);
      const addr = server.address();
      resolve({ server, port: typeof addr === 'object' && addr ? addr.port : port });
    });
    server.on('error', reject);
    server.keepAliveTimeout = 65_000;
  });
}
