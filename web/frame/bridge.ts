/**
 * The host side of an app frame's bridge: {@link FrameBridge} answers the frame runtime's calls
 * with the frame's own {@link AppSource} and nothing else, and {@link serveBridge} exposes it with
 * comlink on the frame's private MessagePort behind a gate that lets through only `APPLY` calls of
 * the bridge's methods with plain arguments, a bounded number at a time. Response bodies that do not
 * end at once are streamed to the frame piece by piece ({@link BodyStreams}, `read`/`cancel`).
 */
import * as Comlink from 'comlink';
import { appPathOf, encodeAppPath, FramePathError, isApiPath, type AppLocation } from './paths.js';
import { BRIDGE_METHODS, type AssetKind, type AssetResult, type BodyRead, type FrameBridgeApi, type PageResult, type RealtimePush, type WireRequest, type WireResponse } from './protocol.js';
import { filePage, rewriteCss, rewriteHtml, rewriteModule } from './rewrite.js';
import { errorJson, type AppSource } from './source.js';
import { BodyStreams } from './streams.js';

/** Largest request body the bridge carries, and largest page or asset it prepares (bytes). */
export const MAX_BRIDGE_BODY = 64 * 1024 * 1024;
/** Redirects an app request may take inside the app before it fails. */
const MAX_REDIRECTS = 5;

/** What the frame asked the host to show next (see {@link FrameBridgeApi.navigate}). */
export interface NavigateRequest {
  /** App URL of the page. */
  url: string;
  /** App-relative path and query of it. */
  location: AppLocation;
  /** For a form posted to the app: the answer to show as the page. */
  response?: Response;
}

/** Answers one frame's calls; every URL it is given must be in the frame's virtual origin. */
export class FrameBridge implements FrameBridgeApi {
  /**
   * @param source the frame's app
   * @param origin the frame's virtual origin (`https://<name>.fazt.invalid`)
   * @param onNavigate called when the frame asks for another page
   * @param pending a posted form's answer to show instead of loading `pending.url`
   * @param push posts a realtime event to the frame (on the bridge port); absent: no realtime
   */
  constructor(
    readonly source: AppSource,
    readonly origin: string,
    private readonly onNavigate: (nav: NavigateRequest) => void,
    private readonly pending?: { url: string; response: Response },
    private readonly push?: (message: RealtimePush) => void,
  ) {}

  /** Stops the frame's realtime stream, if any. */
  private stopRealtime: (() => void) | undefined;
  /** The response bodies this frame reads in pieces (ids valid on this bridge only). */
  readonly bodies = new BodyStreams();

  /** @inheritdoc */
  async realtime(channels: string[], lastEventId: string | null): Promise<void> {
    if (!Array.isArray(channels) || channels.length > 32 || !channels.every((c) => typeof c === 'string' && c.length <= 64)) {
      throw new TypeError('realtime: channels must be a list of at most 32 channel names');
    }
    const last = typeof lastEventId === 'string' && lastEventId.length <= 64 ? lastEventId : null;
    this.stopRealtime?.();
    this.stopRealtime = undefined;
    if (!channels.length) return;
    const push = this.push;
    if (!this.source.realtime || !push) throw new Error('fazt.realtime is not available for this app here.');
    // the source follows the frame's own app only: its base names the app, never the frame
    this.stopRealtime = this.source.realtime(channels, last, (e) => push({ fazt: 'realtime', type: e.type, ...(e.id !== undefined ? { id: e.id } : {}), ...(e.data !== undefined ? { data: e.data } : {}) }));
  }

  /** Ends what the frame holds open (its realtime stream, its streamed response bodies); the element calls it when the frame goes. */
  close(): void {
    this.stopRealtime?.();
    this.stopRealtime = undefined;
    this.bodies.close();
  }

  /** The request as the app's source sees it: files with getFile, `/api/…` with fetchApi. */
  private async send(loc: AppLocation, method: string, headers: HeadersInit, body: ArrayBuffer | null): Promise<Response> {
    if (isApiPath(loc.path)) {
      const req = new Request(`${this.origin}/${encodeAppPath(loc.path)}${loc.search}`, { method, headers, body: body && body.byteLength ? body : null });
      return this.source.fetchApi(req);
    }
    if (method !== 'GET' && method !== 'HEAD') {
      return errorJson(405, 'METHOD_NOT_ALLOWED', `${method} /${loc.path}: an app's files are read-only; send writes to its /api/.`);
    }
    return this.source.getFile(loc.path);
  }

  /** The path a file answer came from (a folder redirect `about` → `about/`), inside the app. */
  private answeredPath(res: Response, asked: string): string {
    if (!res.url || !res.redirected) return asked;
    const tail = /\/$/.test(res.url) && !asked.endsWith('/') && asked && res.url.endsWith(`${encodeAppPath(asked)}/`);
    return tail ? `${asked}/` : asked;
  }

  /** @inheritdoc */
  async page(url: string): Promise<PageResult> {
    const loc = appPathOf(url, this.origin);
    let res: Response;
    let path = loc.path;
    if (this.pending && this.pending.url === url) res = this.pending.response;
    else {
      res = await this.send(loc, 'GET', {}, null);
      path = this.answeredPath(res, loc.path);
      // `about` answered 404 while `about/` exists: show the folder's index at `about/`.
      if (res.status === 404 && path && !path.endsWith('/') && !/\.[a-z0-9]+$/i.test(path)) {
        const dir = await this.send({ path: `${path}/`, search: loc.search }, 'GET', {}, null);
        if (dir.ok) {
          res = dir;
          path = `${path}/`;
        }
      }
    }
    const pageUrl = `${this.origin}/${encodeAppPath(path)}${loc.search}${new URL(url).hash}`;
    const type = (res.headers.get('content-type') ?? '').toLowerCase();
    const bytes = await readCapped(res);
    const isHtml = type.includes('text/html') || type.includes('application/xhtml') || (!type && /\.html?$/.test(path));
    if (isHtml) return rewriteHtml(decode(bytes, type), pageUrl, this.origin, res.status);
    const textual = /^text\/|json|xml|javascript/.test(type);
    return filePage(pageUrl, res.status, type, textual ? decode(bytes, type).slice(0, 1_000_000) : null);
  }

  /** @inheritdoc */
  async asset(url: string, kind: AssetKind): Promise<AssetResult> {
    const loc = appPathOf(url, this.origin);
    if (kind !== 'css' && kind !== 'module' && kind !== 'raw') throw new TypeError(`unknown asset kind ${String(kind)}`);
    const res = await this.send(loc, 'GET', {}, null);
    const contentType = res.headers.get('content-type') ?? '';
    const bytes = await readCapped(res);
    if (!res.ok) return { url, ok: false, status: res.status, contentType, deps: [] };
    if (kind === 'css') {
      const r = rewriteCss(decode(bytes, contentType), url, this.origin);
      return { url, ok: true, status: res.status, contentType: 'text/css', text: r.text, deps: r.deps };
    }
    if (kind === 'module' && (/javascript|ecmascript/i.test(contentType) || (!contentType && /\.m?js$/.test(loc.path)))) {
      const r = rewriteModule(decode(bytes, contentType), url, this.origin);
      return { url, ok: true, status: res.status, contentType: 'text/javascript', text: r.text, deps: r.deps };
    }
    return Comlink.transfer({ url, ok: true, status: res.status, contentType, bytes, deps: [] }, [bytes]);
  }

  /** @inheritdoc */
  async fetch(request: WireRequest): Promise<WireResponse> {
    let url = String(request.url);
    let method = String(request.method || 'GET').toUpperCase();
    let body = request.body instanceof ArrayBuffer ? request.body : null;
    if (body && body.byteLength > MAX_BRIDGE_BODY) throw new RangeError(`request body over ${MAX_BRIDGE_BODY} bytes`);
    const headers = new Headers();
    for (const pair of Array.isArray(request.headers) ? request.headers : []) {
      try {
        if (Array.isArray(pair)) headers.append(String(pair[0]), String(pair[1]));
      } catch {
        // an invalid header name or value is dropped
      }
    }
    for (let hop = 0; ; hop++) {
      const res = await this.send(appPathOf(url, this.origin), method, headers, body);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location && hop < MAX_REDIRECTS) {
        const next = new URL(location, url);
        if (next.origin === this.origin) {
          url = next.href;
          if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
            method = 'GET';
            body = null;
          }
          continue;
        }
      }
      const wire: WireResponse = { status: res.status, statusText: res.statusText, headers: [...res.headers], body: null, url };
      if (method === 'HEAD' || [101, 204, 205, 304].includes(res.status)) {
        await res.body?.cancel().catch(() => {});
        return wire;
      }
      // a body that is there at once travels whole; one that goes on (SSE, a model's tokens, a big
      // file) is streamed: headers now, then the frame reads it piece by piece
      const opened = await this.bodies.open(res.body);
      if ('whole' in opened) wire.body = opened.whole;
      else {
        wire.body = opened.head;
        wire.stream = opened.stream;
      }
      return Comlink.transfer(wire, [wire.body]);
    }
  }

  /** @inheritdoc */
  async read(stream: number): Promise<BodyRead> {
    const r = await this.bodies.read(Number(stream));
    return r.chunk ? Comlink.transfer(r, [r.chunk]) : r;
  }

  /** @inheritdoc */
  async cancel(stream: number): Promise<void> {
    await this.bodies.cancel(Number(stream));
  }

  /** @inheritdoc */
  async navigate(url: string, init?: { method?: string; body?: ArrayBuffer | null; contentType?: string }): Promise<void> {
    const location = appPathOf(url, this.origin);
    const method = String(init?.method ?? 'GET').toUpperCase();
    if (method === 'GET') {
      this.onNavigate({ url, location });
      return;
    }
    const headers: Record<string, string> = init?.contentType ? { 'content-type': String(init.contentType) } : {};
    const body = init?.body instanceof ArrayBuffer ? init.body : null;
    const response = await this.send(location, method, headers, body);
    const next = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && next) {
      const target = new URL(next, url);
      if (target.origin === this.origin) {
        this.onNavigate({ url: target.href, location: appPathOf(target.href, this.origin) });
        return;
      }
    }
    this.onNavigate({ url, location, response });
  }
}

/** Reads a body, refusing one over {@link MAX_BRIDGE_BODY}. */
async function readCapped(res: Response): Promise<ArrayBuffer> {
  const length = Number(res.headers.get('content-length') ?? '0');
  if (length > MAX_BRIDGE_BODY) {
    await res.body?.cancel().catch(() => {});
    throw new RangeError(`The file is larger than ${MAX_BRIDGE_BODY} bytes, more than an app frame carries.`);
  }
  const buf = await res.arrayBuffer();
  if (buf.byteLength > MAX_BRIDGE_BODY) throw new RangeError(`The answer is larger than ${MAX_BRIDGE_BODY} bytes, more than an app frame carries.`);
  return buf;
}

/** Decodes text with the charset of its content type (UTF-8 when none or unknown). */
function decode(bytes: ArrayBuffer, contentType: string): string {
  const charset = /charset=([^;\s]+)/i.exec(contentType)?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder().decode(bytes);
  }
}

/** Options of {@link serveBridge}. */
export interface ServeBridgeOptions {
  /** Calls answered at once; more get a `busy` error (default 64; the frame runtime keeps ≤ 16). */
  maxInFlight?: number;
}

/** One comlink message as the gate accepts it. */
interface ApplyMessage {
  id: string | number;
  type: 'APPLY';
  path: [string];
  argumentList: { type: 'RAW'; value: unknown }[];
}

const ALLOWED = new Set<string>(BRIDGE_METHODS);

/** True for an `APPLY` of one bridge method with plain (`RAW`) arguments. */
function isAllowedCall(data: unknown): data is ApplyMessage {
  if (!data || typeof data !== 'object') return false;
  const m = data as Partial<ApplyMessage>;
  return (
    (typeof m.id === 'string' || typeof m.id === 'number') &&
    m.type === 'APPLY' &&
    Array.isArray(m.path) &&
    m.path.length === 1 &&
    typeof m.path[0] === 'string' &&
    ALLOWED.has(m.path[0]) &&
    Array.isArray(m.argumentList) &&
    m.argumentList.length <= 4 &&
    m.argumentList.every((a) => !!a && typeof a === 'object' && (a as { type?: unknown }).type === 'RAW')
  );
}

/** A comlink error answer for call `id`. */
function refusal(id: unknown, message: string): unknown {
  return { id, type: 'HANDLER', name: 'throw', value: { isError: true, value: { name: 'Error', message } } };
}

/**
 * Exposes `api` with comlink on `port`. Messages that are not an allowed call are answered with
 * an error (when they carry an id) and never reach comlink: no `GET`/`SET`/`CONSTRUCT`/`ENDPOINT`
 * on the host's objects, no property paths, no proxies or ports smuggled in as arguments.
 * @returns a function that closes the port.
 */
export function serveBridge(api: FrameBridgeApi, port: MessagePort, opts: ServeBridgeOptions = {}): () => void {
  const maxInFlight = opts.maxInFlight ?? 64;
  const inFlight = new Set<unknown>();
  const listeners = new Map<EventListenerOrEventListenerObject, EventListener>();
  const endpoint: Comlink.Endpoint = {
    postMessage(message: unknown, transfer?: Transferable[]) {
      inFlight.delete((message as { id?: unknown })?.id);
      port.postMessage(message, transfer ?? []);
    },
    addEventListener(type: string, listener: EventListenerOrEventListenerObject) {
      if (type !== 'message') return;
      const gated: EventListener = (ev) => {
        const data = (ev as MessageEvent).data as unknown;
        const id = data && typeof data === 'object' ? (data as { id?: unknown }).id : undefined;
        if (!isAllowedCall(data)) {
          if (typeof id === 'string' || typeof id === 'number') port.postMessage(refusal(id, `The app frame bridge accepts only calls of ${BRIDGE_METHODS.join(', ')}.`));
          return;
        }
        if (inFlight.size >= maxInFlight || inFlight.has(id)) {
          port.postMessage(refusal(id, `busy: more than ${maxInFlight} calls of this app frame are waiting`));
          return;
        }
        inFlight.add(id);
        if (typeof listener === 'function') listener(ev);
        else listener.handleEvent(ev);
      };
      listeners.set(listener, gated);
      port.addEventListener('message', gated);
    },
    removeEventListener(type: string, listener: EventListenerOrEventListenerObject) {
      const gated = listeners.get(listener);
      if (type === 'message' && gated) port.removeEventListener('message', gated);
    },
    start() {
      port.start();
    },
  };
  // Only own methods: comlink looks the name up on this object, never on a prototype chain.
  const target: Record<string, unknown> = Object.create(null);
  for (const m of BRIDGE_METHODS) target[m] = (...args: unknown[]) => (api[m] as (...a: unknown[]) => unknown).apply(api, args);
  Comlink.expose(target, endpoint);
  return () => {
    for (const gated of listeners.values()) port.removeEventListener('message', gated);
    listeners.clear();
    port.close();
  };
}

export { FramePathError };
