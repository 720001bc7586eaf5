/**
 * What travels between an app frame's runtime (inside the sandboxed iframe) and its host (the
 * `<fazt-app-frame>` element). Everything here is structured-clone data: the runtime cannot hand
 * the host a live object and the host never hands the runtime one.
 *
 * Calls go over a private MessagePort in comlink's wire format (`APPLY` of one method of
 * {@link FrameBridgeApi}); the host answers with comlink's `RAW` or `HANDLER/throw` values.
 */

/** How an asset is used, which decides how the host prepares it. */
export type AssetKind =
  /** A stylesheet: `url()` and `@import` references become tokens (see {@link TOKEN_OPEN}). */
  | 'css'
  /** An ES module: relative specifiers become absolute app URLs, `import()` goes through the runtime. */
  | 'module'
  /** Bytes as they are (images, fonts, classic scripts, media). */
  | 'raw';

/** A file another one refers to, by its absolute app URL (`https://<name>.fazt.invalid/…`). */
export interface AssetRef {
  url: string;
  kind: AssetKind;
}

/** A request from app code, as the runtime sends it. */
export interface WireRequest {
  /** Absolute app URL (the frame's virtual origin), with query. */
  url: string;
  method: string;
  headers: [string, string][];
  /** Request body; null for GET/HEAD and empty bodies. */
  body: ArrayBuffer | null;
}

/** A response handed to app code. */
export interface WireResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  /**
   * The whole body (no {@link stream}), or its first bytes (with {@link stream}; at most 64 KiB,
   * possibly empty); null for HEAD and null-body statuses.
   */
  body: ArrayBuffer | null;
  /**
   * Set when the body goes on: the id to pass to {@link FrameBridgeApi.read} for the rest, piece by
   * piece, or to {@link FrameBridgeApi.cancel}. Ids are per bridge port (per frame document).
   */
  stream?: number;
  /** The URL that answered (app URL), after the redirects the bridge followed. */
  url: string;
}

/** A page prepared by the host: the app's HTML with every asset reference turned into a token. */
export interface PageResult {
  /** The page's app URL (after `dir` → `dir/` and index resolution); the document's base URL. */
  url: string;
  /** HTTP status of the page (404 pages are shown too). */
  status: number;
  /** The HTML, with {@link IMPORT_MAP_MARKER} where the runtime puts the import map. */
  html: string;
  /** Every asset the HTML refers to. */
  deps: AssetRef[];
  /** The app's own import map (values already tokens or foreign URLs), merged into the frame's. */
  importMap: { imports: Record<string, string>; scopes?: Record<string, Record<string, string>> };
}

/** An asset prepared by the host. */
export interface AssetResult {
  url: string;
  /** False when the app has no such file (the reference then stays unresolved). */
  ok: boolean;
  status: number;
  contentType: string;
  /** Rewritten text for `css` and JavaScript `module` assets. */
  text?: string;
  /** The bytes for `raw` assets and non-JavaScript modules (JSON, CSS module scripts). */
  bytes?: ArrayBuffer;
  /** What this asset refers to in turn. */
  deps: AssetRef[];
}

/** One piece of a streamed response body ({@link FrameBridgeApi.read}). */
export interface BodyRead {
  /** The next bytes (1 B to 64 KiB), or null at the end. */
  chunk: ArrayBuffer | null;
  /** True at the end of the body: the stream id is closed. */
  done: boolean;
}

/** What the frame runtime may call on its host. Every method is bound to the frame's own app. */
export interface FrameBridgeApi {
  /** Prepares the page at an app URL (HTML with tokens and its asset list). */
  page(url: string): Promise<PageResult>;
  /** Prepares one asset at an app URL. */
  asset(url: string, kind: AssetKind): Promise<AssetResult>;
  /** Runs a request of app code against the app: `/api/…` reaches its server code, the rest its files. */
  fetch(request: WireRequest): Promise<WireResponse>;
  /** Asks the host to show another page of the app (a link, a form, `location.href = …`). */
  navigate(url: string, init?: { method?: string; body?: ArrayBuffer | null; contentType?: string }): Promise<void>;
  /**
   * Follows these channels of the frame's own app (`fazt.realtime.subscribe` in the frame;
   * docs/realtime.md), replacing what the frame followed before; `[]` stops. The host opens one
   * stream for the frame and posts its events on the bridge port as {@link RealtimePush}.
   * @param lastEventId the last id the frame saw (resume), or `null`.
   */
  realtime(channels: string[], lastEventId: string | null): Promise<void>;
  /**
   * The next piece of a response body that {@link fetch} answered with a `stream` id. The host reads
   * its upstream only when asked (backpressure); an upstream error rejects and closes the id.
   * At most one read per id waits at a time.
   */
  read(stream: number): Promise<BodyRead>;
  /** Cancels a streamed response body (the kernel-side stream is cancelled); an unknown id is a no-op. */
  cancel(stream: number): Promise<void>;
}

/** Names of {@link FrameBridgeApi} methods: the only calls the host accepts. */
export const BRIDGE_METHODS: readonly (keyof FrameBridgeApi)[] = ['page', 'asset', 'fetch', 'navigate', 'realtime', 'read', 'cancel'];

/** One event of a realtime stream, as an {@link AppSource} reports it (the SSE event's type, id and data). */
export interface RealtimeWireEvent {
  /** `ready` (subscribed; `id` is the head), `message` (data: `{"channel","data"}`), `reset` (data: `{"reason","channels"}`), `status` (data: `connecting`/`open`/`closed`). */
  type: 'ready' | 'message' | 'reset' | 'status';
  id?: string;
  data?: string;
}

/** What the host posts on the bridge port for each realtime event (not a comlink answer: no `id`). */
export interface RealtimePush extends RealtimeWireEvent {
  fazt: 'realtime';
}

/** Start of an asset token in prepared HTML and CSS: `TOKEN_OPEN + appUrl + TOKEN_CLOSE`. */
export const TOKEN_OPEN = '\uE000';
/** End of an asset token. Private-use characters never occur in a serialized URL. */
export const TOKEN_CLOSE = '\uE001';
/** Where the runtime inserts the frame's import map in a prepared page. */
export const IMPORT_MAP_MARKER = '<!--fazt:importmap-->';

/** The first message of a frame document to its parent: asks for the bridge port. */
export interface HelloMessage {
  fazt: 'hello';
  /** The nonce the host wrote into this document's bootstrap. */
  nonce: string;
}

/** The host's answer to {@link HelloMessage}; carries the bridge port as its transfer. */
export interface PortMessage {
  fazt: 'port';
  nonce: string;
}
