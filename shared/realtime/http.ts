import { FaztError } from '../errors.js';
import { errorJson, errorResponse } from '../http/responses.js';
import { parseChannelList } from './channels.js';
import { REALTIME_CLIENT_JS } from './client.js';
import type { RealtimeMessage, RealtimeService, RealtimeSubscriber } from './service.js';

/**
 * The node-provided paths on an app's origin (docs/realtime.md): `/_fazt/…` belongs to the node,
 * not to the app's files, on the app's subdomain (`/_fazt/realtime`) and under the node's path
 * (`/a/<name>/_fazt/realtime`). The app is always the one the request came in on (its host or its
 * path), never a parameter.
 *
 * - `GET /_fazt/realtime?channels=a,b` — one Server-Sent Events stream (WHATWG HTML §9.2) per page,
 *   multiplexing its channels. `Last-Event-ID` (header, or `lastEventId` in the query for a page
 *   that opens a new stream) resumes.
 * - `GET /_fazt/realtime.js` — the page client (`fazt.realtime.subscribe`).
 */

/** Path prefix reserved for the node on every app origin. */
export const NODE_PATH_PREFIX = '/_fazt/';

/** True for a path the node answers on an app's origin (`/_fazt` and below). */
export function isNodePath(path: string): boolean {
  return path === '/_fazt' || path.startsWith(NODE_PATH_PREFIX);
}

/** Where the request came in: its mount and the headers to add. */
export interface NodePathMount {
  /** `''` on the app's own origin, `/a/<name>` on the node's host. */
  basePath: string;
  /** Added to every answer (the sandbox CSP and CORS header under `/a/<name>/`). */
  headers: Record<string, string>;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' };

/**
 * Whether a request's `Origin` may follow this app's channels: no `Origin` (a same-origin GET, or a
 * client that is not a browser: as public as the app's API), or the origin the request came in on.
 * Under `/a/<name>/` the page is sandboxed (its origin is `null`), so `null` is accepted there.
 */
export function originAllowed(request: Request, url: URL, mount: NodePathMount): boolean {
  const origin = request.headers.get('origin');
  if (origin === null) return true;
  if (origin === 'null') return mount.basePath !== '';
  try {
    return new URL(origin).host === url.host;
  } catch {
    return false;
  }
}

/**
 * Answers a node path on an app's origin. Never throws: errors are JSON answers
 * (`FORBIDDEN` 403, `BAD_REQUEST` 400, `RATE_LIMITED` 429, `METHOD_NOT_ALLOWED` 405, `NOT_FOUND` 404).
 * @param realtime the kernel's realtime service.
 * @param request the request, `url` its parsed URL (the `Host` the client used).
 * @param app the app the request came in on (by host or `/a/<name>/` path).
 * @param path the path inside the app (`/_fazt/realtime`).
 * @param mount where the app is mounted and the headers to add.
 */
export function serveNodePath(realtime: RealtimeService, request: Request, url: URL, app: { id: string; name: string }, path: string, mount: NodePathMount): Response {
  try {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return errorJson(405, 'METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}.`, { allow: 'GET, HEAD', ...mount.headers });
    }
    if (path === '/_fazt/realtime.js') {
      return new Response(request.method === 'HEAD' ? null : REALTIME_CLIENT_JS, {
        headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', ...mount.headers },
      });
    }
    if (path === '/_fazt/realtime') return realtimeStream(realtime, request, url, app, mount);
    return errorJson(404, 'NOT_FOUND', `Nothing at ${path}: the node answers /_fazt/realtime and /_fazt/realtime.js on an app's origin.`, mount.headers);
  } catch (e) {
    const r = errorResponse(e);
    for (const [k, v] of Object.entries(mount.headers)) r.headers.set(k, v);
    return r;
  }
}

/**
 * One page's stream: the `ready` event (its `id` is the app's head, so a page that never got a
 * message still resumes from here), a `reset` event first when the resume cannot be complete, the
 * missed messages, then live ones; a comment every `heartbeatMs`. Ends when the client goes away,
 * the app is removed, the node stops, or the client falls `maxQueuedEvents` behind.
 * @throws FaztError `FORBIDDEN` (another origin), `BAD_REQUEST` (channels), `RATE_LIMITED` (stream cap).
 */
function realtimeStream(realtime: RealtimeService, request: Request, url: URL, app: { id: string; name: string }, mount: NodePathMount): Response {
  if (!originAllowed(request, url, mount)) {
    throw new FaztError('FORBIDDEN', `A page of ${request.headers.get('origin')} cannot follow the channels of "${app.name}": a page follows only its own app's channels.`);
  }
  const channels = parseChannelList(url.searchParams.get('channels'));
  const lastEventId = request.headers.get('last-event-id') ?? url.searchParams.get('lastEventId') ?? undefined;
  const headers = { ...SSE_HEADERS, ...mount.headers };
  if (request.method === 'HEAD') return new Response(null, { headers });
  const release = realtime.acquireStream(app.id, app.name);
  const encoder = new TextEncoder();
  const maxQueued = realtime.options.maxQueuedEvents;
  let cleanup = release;
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let open = true;
        const end = (why?: string) => {
          if (!open) return;
          if (why) controller.enqueue(encoder.encode(`: ${why}\n\n`));
          cleanup();
          try {
            controller.close();
          } catch {
            // already cancelled
          }
        };
        let backlog = 0;
        const subscriber: RealtimeSubscriber = {
          channels: new Set(channels),
          deliver(m: RealtimeMessage) {
            if (!open) return;
            controller.enqueue(m.wire);
            if ((controller.desiredSize ?? 0) < -backlog) end('too far behind; reconnect with Last-Event-ID');
          },
        };
        const sub = realtime.subscribe(app.id, subscriber, lastEventId);
        const untrack = realtime.track(
          app.id,
          () => {
            if (open) controller.enqueue(encoder.encode(': heartbeat\n\n'));
          },
          () => end('closed by the node'),
        );
        cleanup = () => {
          open = false;
          sub.unsubscribe();
          untrack();
          release();
        };
        controller.enqueue(encoder.encode(`retry: 1000\n: fazt realtime for ${app.name}\n\n`));
        if (sub.reset) controller.enqueue(encoder.encode(`event: reset\ndata: ${JSON.stringify(sub.reset)}\n\n`));
        for (const m of sub.replay) controller.enqueue(m.wire);
        backlog = sub.replay.length + 2;
        // after the replay the page is at the head: a resume from here misses nothing
        controller.enqueue(encoder.encode(`id: ${sub.head}\nevent: ready\ndata: ${JSON.stringify({ channels, id: sub.head, replayed: sub.replay.length })}\n\n`));
      },
      cancel() {
        cleanup();
      },
    },
    { highWaterMark: maxQueued },
  );
  return new Response(stream, { headers });
}
