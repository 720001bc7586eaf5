/**
 * Where an app frame gets an app from: {@link AppSource}, and {@link sourceFromBase}, the source
 * that reads an app over HTTP from a base URL (`/a/<name>/` on the hub that served the dashboard,
 * `/~device/a/<name>/` for the browser node's service worker).
 */
import { appPathOf, encodeAppPath, FramePathError, isApiPath, normalizeAppPath } from './paths.js';
import { errorBody } from '../../shared/errors.js';
import type { RealtimeWireEvent } from './protocol.js';

/**
 * One app, as an app frame sees it. The frame calls nothing else: whatever the source can reach,
 * the app can reach, so a source must be bound to exactly one app.
 */
export interface AppSource {
  /** The app's name (its virtual origin is `https://<name>.fazt.invalid`) and title (the frame's label). */
  app: { name: string; title?: string };
  /**
   * A static file of the app. `path` is relative to the app's root, decoded and normalized
   * (`index.html`, `css/app.css`, `about/` for a folder's index, `''` for the root). A missing file
   * answers 404 (its body may be the app's not-found page). When the answer comes from another
   * path (a folder redirect `about` → `about/`), set `Response.url` to it.
   */
  getFile(path: string): Promise<Response>;
  /**
   * A request of app code to its server code. `new URL(request.url).pathname` is `/api` or below
   * (the origin is the frame's virtual origin); the query is kept.
   */
  fetchApi(request: Request): Promise<Response>;
  /**
   * Follows channels of the app (docs/realtime.md) until the returned function is called: `on` gets
   * the stream's events, and reconnection with resume is the source's business. Absent: the frame's
   * `fazt.realtime.subscribe` reports it is not available.
   * @param lastEventId where to resume (`null`: from now).
   */
  realtime?(channels: string[], lastEventId: string | null, on: (event: RealtimeWireEvent) => void): () => void;
}

/** Options of {@link sourceFromBase}. */
export interface SourceFromBaseInit {
  /** The app's name (default: the last segment of `base`, `notes` for `/a/notes/`). */
  name?: string;
  /** The app's title. */
  title?: string;
  /** The fetch to use (default: the page's `fetch`). */
  fetch?: typeof fetch;
}

/**
 * An {@link AppSource} that reads the app over HTTP below `base`: files with `GET base + path`,
 * API calls with `base + api/…`. Requests go without credentials (the app must not act with the
 * owner's session) and API redirects are not followed (a redirect could point the dashboard's
 * fetch at another app): they answer 502.
 *
 * @param base the app's root URL, absolute or relative to the page, e.g. `/a/notes/` or
 *   `/~device/a/notes/`; a missing trailing slash is added.
 */
export function sourceFromBase(base: string, init: SourceFromBaseInit = {}): AppSource {
  const doFetch = init.fetch ?? ((input: RequestInfo | URL, i?: RequestInit) => fetch(input, i));
  const root = new URL(base.endsWith('/') ? base : `${base}/`, globalThis.location?.href ?? 'http://localhost/').href;
  const name = init.name ?? (decodeURIComponent(new URL(root).pathname.split('/').filter(Boolean).pop() ?? 'app'));
  return {
    app: { name, ...(init.title !== undefined ? { title: init.title } : {}) },
    async getFile(path: string): Promise<Response> {
      const target = root + encodeAppPath(normalizeAppPath(path));
      const res = await doFetch(target, { credentials: 'omit', redirect: 'follow', cache: 'no-cache' });
      // A redirect that left the app (a folder redirect stays inside) is not the app's file.
      if (res.url && !res.url.startsWith(root)) return notFound(path);
      return res;
    },
    async fetchApi(request: Request): Promise<Response> {
      let path: string;
      let search: string;
      try {
        ({ path, search } = appPathOf(request.url, new URL(request.url).origin));
      } catch (e) {
        if (e instanceof FramePathError) return errorJson(400, 'UNSAFE_PATH', e.message);
        throw e;
      }
      if (!isApiPath(path)) return errorJson(400, 'BAD_REQUEST', `fetchApi is for the app's /api/ paths, not /${path}.`);
      const body = request.method === 'GET' || request.method === 'HEAD' ? null : await request.arrayBuffer();
      const res = await doFetch(root + encodeAppPath(path) + search, {
        method: request.method,
        headers: request.headers,
        body: body && body.byteLength ? body : null,
        credentials: 'omit',
        redirect: 'manual',
        cache: 'no-store',
      });
      if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400 && res.status !== 304)) {
        return errorJson(502, 'UPSTREAM_FAILED', `The app's API answered ${request.method} /${path} with a redirect; the frame does not follow redirects of API calls.`);
      }
      return res;
    },
    realtime(channels, lastEventId, on) {
      return followRealtime(`${root}_fazt/realtime`, channels, lastEventId, on);
    },
  };
}

/**
 * Follows `endpoint?channels=…` with an `EventSource` (the page's; through the service worker for
 * `/~device/…`): the browser reconnects with `Last-Event-ID` by itself after a dropped connection;
 * after an HTTP error (which closes an EventSource for good) this tries again after 1, 2, 4 … 30 s
 * from the last id seen.
 * @returns a function that stops following.
 */
export function followRealtime(endpoint: string, channels: string[], lastEventId: string | null, on: (event: RealtimeWireEvent) => void): () => void {
  let last = lastEventId;
  let es: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let retryMs = 1000;
  let stopped = false;
  const open = () => {
    if (stopped) return;
    const url = `${endpoint}?channels=${encodeURIComponent(channels.join(','))}${last ? `&lastEventId=${encodeURIComponent(last)}` : ''}`;
    on({ type: 'status', data: 'connecting' });
    const source = (es = new EventSource(url));
    const forward = (type: 'ready' | 'message' | 'reset') => (e: MessageEvent) => {
      if (stopped || es !== source) return;
      if (e.lastEventId) last = e.lastEventId;
      if (type === 'ready') {
        retryMs = 1000;
        on({ type: 'status', data: 'open' });
      }
      on({ type, id: e.lastEventId, data: String(e.data) });
    };
    source.addEventListener('ready', forward('ready') as EventListener);
    source.addEventListener('message', forward('message'));
    source.addEventListener('reset', forward('reset') as EventListener);
    source.onerror = () => {
      if (stopped || es !== source) return;
      if (source.readyState === EventSource.CLOSED) {
        es = null;
        on({ type: 'status', data: 'closed' });
        timer = setTimeout(open, retryMs);
        retryMs = Math.min(retryMs * 2, 30_000);
      } else on({ type: 'status', data: 'connecting' });
    };
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    es?.close();
    es = null;
  };
}

/** A JSON error answer in Fazt's shape. */
export function errorJson(status: number, code: string, message: string): Response {
  return new Response(JSON.stringify(errorBody(code, message)), { status, headers: { 'content-type': 'application/json' } });
}

function notFound(path: string): Response {
  return errorJson(404, 'NOT_FOUND', `The app has no file /${path}.`);
}
