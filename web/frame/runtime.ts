/**
 * The runtime that runs inside an app frame, before and around the app's own code. It is the only
 * script of the frame's bootstrap document (srcdoc) and is serialized with
 * `Function.prototype.toString`, so {@link frameRuntime} must stay self-contained: no imports, no
 * references to anything outside its body (constants come in {@link RuntimeConfig}).
 *
 * What it does, in order:
 * 1. Asks its parent for the bridge port (`{fazt: 'hello', nonce}`); accepts only the parent's
 *    answer carrying the same nonce.
 * 2. Asks the host for the page (`page`), fetches every asset it needs (`asset`, ≤ 16 calls at a
 *    time), turns them into blob URLs of the frame's own opaque origin (a frame cannot load blob
 *    URLs of the dashboard), substitutes the tokens, builds the import map (app URLs → blob URLs).
 * 3. Installs the app-facing shims on the window: `fetch` (app URLs go over the bridge, others to
 *    the network; an answer the host streams gets a `ReadableStream` body that pulls it with `read`
 *    and stops it with `cancel`, docs/app-frames.md "Streamed answers"), `URL` (a base of `about:srcdoc` means the page's app URL, so
 *    `new URL('api/x', location)` works), `XMLHttpRequest` for app URLs, `__faztImport` (dynamic
 *    imports), `faztApp` (name, base, url, navigate), `fazt.realtime` (over the bridge; docs/realtime.md).
 * 4. Writes the page with `document.open/write/close`, so scripts run in document order and
 *    `DOMContentLoaded`/`load` fire as usual; then turns clicks on app links and form submissions
 *    into page loads through the host, and loads files that app code points elements at later.
 */

/** What {@link frameRuntime} needs to know; written into the bootstrap document as JSON. */
export interface RuntimeConfig {
  /** Nonce of this bootstrap document; the host answers only a hello that carries it. */
  nonce: string;
  /** The app's virtual origin, `https://<name>.fazt.invalid`. */
  origin: string;
  /** The app URL of the page to show. */
  url: string;
  /** The app's name and title. */
  name: string;
  title: string;
  /** Token delimiters and the import-map marker (see protocol.ts). */
  tokenOpen: string;
  tokenClose: string;
  importMapMarker: string;
}

/** The frame runtime. Runs in the frame; see the module comment. Must not reference outer names. */
export function frameRuntime(cfg: RuntimeConfig): void {
  /* eslint-disable @typescript-eslint/no-explicit-any */
  type Ref = { url: string; kind: 'css' | 'module' | 'raw' };
  type Asset = { ref: Ref; res?: any; blob?: string | null; state?: 'visiting' | 'done' };
  const w = window as any;
  const NativeURL: typeof URL = w.URL;
  const nativeFetch: typeof fetch = w.fetch.bind(w);
  const NativeRequest: typeof Request = w.Request;
  const NativeResponse: typeof Response = w.Response;
  const createObjectURL = NativeURL.createObjectURL.bind(NativeURL);
  const origin = cfg.origin;
  const inApp = (u: string) => u.startsWith(`${origin}/`);
  let pageUrl = cfg.url;

  // ---------------------------------------------------------------- bridge (comlink wire format)
  let port: MessagePort | null = null;
  const waiting = new Map<string, { resolve: (v: any) => void; reject: (e: any) => void }>();
  const queue: (() => void)[] = [];
  let active = 0;
  let nextId = 0;
  /** Realtime events the host posts on the port (not answers: they carry `fazt: 'realtime'`). */
  let onRealtime: (r: any) => void = () => {};
  const portReady = new Promise<MessagePort>((resolve) => {
    const onPort = (e: MessageEvent) => {
      const d = e.data;
      if (e.source !== window.parent || !d || d.fazt !== 'port' || d.nonce !== cfg.nonce || !e.ports[0]) return;
      window.removeEventListener('message', onPort);
      const p = e.ports[0];
      p.onmessage = (m: MessageEvent) => {
        const r = m.data;
        if (r && r.fazt === 'realtime') return onRealtime(r);
        const wait = r && waiting.get(r.id);
        if (!wait) return;
        waiting.delete(r.id);
        if (r.type === 'RAW') wait.resolve(r.value);
        else {
          const v = r.value && r.value.value;
          const err = new Error((v && v.message) || 'app frame bridge error');
          if (v && v.name) err.name = v.name;
          wait.reject(err);
        }
      };
      port = p;
      resolve(p);
    };
    window.addEventListener('message', onPort);
    // Said again until answered: the host reads at most a few messages a second from its frame.
    const hello = () => {
      if (port) return;
      window.parent.postMessage({ fazt: 'hello', nonce: cfg.nonce }, '*');
      setTimeout(hello, 1000);
    };
    hello();
  });
  /** Calls the host. At most 16 wait at a time, except `free` ones (body reads, one per open stream). */
  const call = (method: string, args: unknown[], transfer: Transferable[] = [], free = false): Promise<any> =>
    new Promise((resolve, reject) => {
      const run = () => {
        if (!free) active++;
        const id = `f${++nextId}`;
        const done = () => {
          if (free) return;
          active--;
          const next = queue.shift();
          if (next) next();
        };
        waiting.set(id, {
          resolve: (v) => {
            done();
            resolve(v);
          },
          reject: (e) => {
            done();
            reject(e);
          },
        });
        portReady.then((p) => p.postMessage({ id, type: 'APPLY', path: [method], argumentList: args.map((value) => ({ type: 'RAW', value })) }, transfer));
      };
      if (free || active < 16) run();
      else queue.push(run);
    });

  // ---------------------------------------------------------------- assets → blob URLs
  const assets = new Map<string, Asset>();
  const blobByUrl = new Map<string, string>();
  const mapped = new Set<string>();
  const inflight = new Set<Promise<void>>();
  const want = (ref: Ref) => {
    const key = `${ref.kind} ${ref.url}`;
    if (assets.has(key)) return;
    const a: Asset = { ref };
    assets.set(key, a);
    const p: Promise<void> = call('asset', [ref.url, ref.kind])
      .then(
        (res) => {
          a.res = res;
          for (const d of res.deps || []) want(d);
        },
        (e) => {
          a.res = { ok: false, error: String(e && e.message) };
        },
      )
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };
  const drain = async () => {
    while (inflight.size) await Promise.all([...inflight]);
  };
  const tokenRe = new RegExp(`${cfg.tokenOpen}([^${cfg.tokenClose}]*)${cfg.tokenClose}`, 'g');
  const substitute = (text: string) => text.replace(tokenRe, (_m, u: string) => blobByUrl.get(u) || u);
  const materialize = (a: Asset): string | null => {
    if (a.blob !== undefined) return a.blob;
    const res = a.res;
    if (!res || !res.ok) return (a.blob = null);
    if (a.ref.kind === 'css') {
      if (a.state === 'visiting') return null; // an @import cycle: that edge stays unresolved
      a.state = 'visiting';
      for (const d of res.deps || []) {
        const dep = assets.get(`${d.kind} ${d.url}`);
        if (dep) materialize(dep);
      }
      a.state = 'done';
      a.blob = createObjectURL(new Blob([substitute(res.text || '')], { type: 'text/css' }));
    } else if (res.text !== undefined) {
      a.blob = createObjectURL(new Blob([res.text], { type: res.contentType || 'text/javascript' }));
    } else {
      a.blob = createObjectURL(new Blob([res.bytes], { type: res.contentType || 'application/octet-stream' }));
    }
    if (!blobByUrl.has(a.ref.url) || a.ref.kind !== 'module') blobByUrl.set(a.ref.url, a.blob);
    return a.blob;
  };
  /** Loads refs (and what they need), creates their blob URLs; returns new import-map entries. */
  const load = async (refs: Ref[]): Promise<Record<string, string>> => {
    for (const r of refs) want(r);
    await drain();
    const imports: Record<string, string> = {};
    for (const a of assets.values()) {
      const blob = materialize(a);
      if (blob && a.ref.kind === 'module' && !mapped.has(a.ref.url)) {
        mapped.add(a.ref.url);
        imports[a.ref.url] = blob;
      }
    }
    return imports;
  };
  const addImportMap = (imports: Record<string, string>) => {
    if (!Object.keys(imports).length) return;
    const s = document.createElement('script');
    s.type = 'importmap';
    s.textContent = JSON.stringify({ imports });
    (document.head || document.documentElement).append(s);
  };
  const blobFor = async (url: string, kind: Ref['kind']): Promise<string | null> => {
    addImportMap(await load([{ url, kind }]));
    const a = assets.get(`${kind} ${url}`);
    return a ? materialize(a) : null;
  };

  // ---------------------------------------------------------------- shims for app code
  const fixBase = (base: unknown) => {
    if (base === undefined) return base;
    const s = String(base);
    return s === 'about:srcdoc' || s.startsWith('about:srcdoc#') || s.startsWith('about:srcdoc?') ? document.baseURI : base;
  };
  class FaztURL extends NativeURL {
    constructor(url: string | URL, base?: string | URL) {
      super(url, fixBase(base) as string | undefined);
    }
    static canParse(url: string | URL, base?: string | URL): boolean {
      return NativeURL.canParse(url, fixBase(base) as string | undefined);
    }
    static parse(url: string | URL, base?: string | URL): URL | null {
      try {
        return new FaztURL(url, base);
      } catch {
        return null;
      }
    }
  }
  Object.defineProperty(FaztURL, 'name', { value: 'URL' });
  w.URL = FaztURL;
  w.webkitURL = FaztURL;

  /**
   * A Response for the host's answer. A streamed answer (`r.stream`) gets a body that pulls the rest
   * from the host piece by piece (one read waits at a time: backpressure); cancelling it, or
   * aborting the fetch's signal, cancels the host's stream.
   */
  const toResponse = (r: any, signal: AbortSignal | null) => {
    const nullBody = [101, 204, 205, 304].includes(r.status);
    let body: any = r.body;
    if (r.stream) {
      const id = r.stream;
      let open = true;
      const stop = () => {
        if (open) call('cancel', [id], [], true).catch(() => {});
        open = false;
      };
      body = new ReadableStream({
        start(c) {
          if (r.body && r.body.byteLength) c.enqueue(new Uint8Array(r.body));
          if (signal)
            signal.addEventListener('abort', () => {
              if (!open) return;
              stop();
              c.error(signal.reason);
            }, { once: true });
        },
        pull(c) {
          return call('read', [id], [], true).then(
            (x: any) => {
              if (x.chunk) c.enqueue(new Uint8Array(x.chunk));
              if (x.done) {
                open = false;
                c.close();
              }
            },
            (e: any) => {
              open = false;
              c.error(new TypeError((e && e.message) || 'the response body failed'));
            },
          );
        },
        cancel: stop,
      });
    }
    const res = new NativeResponse(nullBody ? null : body, { status: r.status < 200 || r.status > 599 ? 502 : r.status, statusText: r.statusText, headers: r.headers });
    Object.defineProperty(res, 'url', { value: r.url });
    return res;
  };
  const appFetch = async (req: Request): Promise<Response> => {
    const signal = req.signal;
    if (signal && signal.aborted) throw signal.reason;
    const body = req.method === 'GET' || req.method === 'HEAD' ? null : await req.arrayBuffer();
    const headers: [string, string][] = [];
    req.headers.forEach((v, k) => headers.push([k, v]));
    const answer = call('fetch', [{ url: req.url, method: req.method, headers, body: body && body.byteLength ? body : null }], body && body.byteLength ? [body] : []);
    if (!signal) return toResponse(await answer, null);
    // aborted before the answer: a stream it opens after all is cancelled at once
    answer.then((r) => signal.aborted && r.stream && call('cancel', [r.stream], [], true), () => {}).catch(() => {});
    const r = await Promise.race([answer, new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))]);
    return toResponse(r, signal);
  };
  w.fetch = function fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    let req: Request;
    try {
      req = new NativeRequest(input instanceof NativeURL ? input.href : input, init);
    } catch (e) {
      return Promise.reject(e);
    }
    return inApp(req.url) ? appFetch(req) : nativeFetch(req);
  };

  // XMLHttpRequest to app URLs: answered over the bridge (async only), others go to the network.
  const NativeXHR = w.XMLHttpRequest;
  class FaztXHR extends NativeXHR {
    private _app: { method: string; url: string; headers: [string, string][] } | null = null;
    private _res: Response | null = null;
    private _body: any = null;
    private _state = 0;
    private _status = 0;
    private _statusText = '';
    open(method: string, url: string | URL, async = true, user?: string, password?: string) {
      const abs = new NativeURL(String(url), document.baseURI).href;
      if (inApp(abs) && async !== false) {
        this._app = { method: method.toUpperCase(), url: abs, headers: [] };
        this._state = 1;
        this.dispatchEvent(new Event('readystatechange'));
        return;
      }
      this._app = null;
      return super.open(method, url, async, user, password);
    }
    setRequestHeader(k: string, v: string) {
      if (this._app) this._app.headers.push([k, v]);
      else super.setRequestHeader(k, v);
    }
    send(body?: any) {
      if (!this._app) return super.send(body);
      const app = this._app;
      const fire = (type: string) => this.dispatchEvent(new ProgressEvent(type));
      appFetch(new NativeRequest(app.url, { method: app.method, headers: app.headers, body: app.method === 'GET' || app.method === 'HEAD' ? null : body }))
        .then(async (res) => {
          this._res = res;
          this._status = res.status;
          this._statusText = res.statusText;
          const rt = (this as any).responseType;
          this._body = rt === 'arraybuffer' ? await res.arrayBuffer() : rt === 'blob' ? await res.blob() : rt === 'json' ? await res.json().catch(() => null) : await res.text();
          this._state = 4;
          fire('readystatechange');
          fire('load');
          fire('loadend');
        })
        .catch(() => {
          this._state = 4;
          fire('readystatechange');
          fire('error');
          fire('loadend');
        });
    }
    get readyState() {
      return this._app ? this._state : super.readyState;
    }
    get status() {
      return this._app ? this._status : super.status;
    }
    get statusText() {
      return this._app ? this._statusText : super.statusText;
    }
    get response() {
      return this._app ? this._body : super.response;
    }
    get responseText() {
      return this._app ? (typeof this._body === 'string' ? this._body : '') : super.responseText;
    }
    get responseURL() {
      return this._app ? (this._res ? this._res.url : '') : super.responseURL;
    }
    getResponseHeader(name: string) {
      return this._app ? (this._res ? this._res.headers.get(name) : null) : super.getResponseHeader(name);
    }
    getAllResponseHeaders() {
      if (!this._app) return super.getAllResponseHeaders();
      let out = '';
      this._res?.headers.forEach((v, k) => (out += `${k}: ${v}\r\n`));
      return out;
    }
  }
  w.XMLHttpRequest = FaztXHR;

  Object.defineProperty(w, '__faztImport', {
    value: async (spec: unknown, base: string, options?: ImportCallOptions) => {
      const s = String(spec);
      const urlLike = /^(\.{0,2}\/)/.test(s) || /^[a-z][a-z0-9+.-]*:/i.test(s);
      if (!urlLike) return import(/* @vite-ignore */ s);
      const abs = new NativeURL(s, base);
      if (!inApp(abs.href)) return import(/* @vite-ignore */ abs.href, options);
      abs.hash = '';
      addImportMap(await load([{ url: abs.href, kind: 'module' }]));
      return import(/* @vite-ignore */ abs.href, options);
    },
  });

  // Dialogs: a few are the app's business; a burst (an alert loop) would hold the person's whole
  // tab hostage, so after 3 within 10 s they are answered at once without being shown.
  const shown: number[] = [];
  let warned = false;
  const guard = <T>(name: 'alert' | 'confirm' | 'prompt', quiet: T) => {
    const native = w[name].bind(w);
    w[name] = function (...args: unknown[]) {
      const now = Date.now();
      while (shown.length && now - shown[0]! > 10_000) shown.shift();
      if (shown.length >= 3) {
        if (!warned) console.warn(`[fazt] ${name}() suppressed: this app shows dialogs too often.`);
        warned = true;
        return quiet;
      }
      shown.push(now);
      return native(...args);
    };
  };
  guard('alert', undefined);
  guard('confirm', false);
  guard('prompt', null);

  const navigate = (url: string, init?: { method: string; body: ArrayBuffer | null; contentType: string }) => {
    call('navigate', init ? [url, init] : [url], init && init.body ? [init.body] : []).catch((e) => console.error('[fazt] navigation failed:', e));
  };
  w.faztApp = Object.freeze({
    name: cfg.name,
    title: cfg.title,
    /** The app's root URL in the frame (`https://<name>.fazt.invalid/`). */
    base: `${origin}/`,
    /** The page's app URL (what `location.href` would be outside a frame). */
    get url() {
      return pageUrl;
    },
    /** Shows another page of the app (relative to the page). */
    navigate(to: string) {
      navigate(new NativeURL(to, pageUrl).href);
    },
  });

  // fazt.realtime in the frame (docs/realtime.md): the same API as /_fazt/realtime.js, carried by
  // the bridge: the host follows the app's channels and posts each event on the port.
  const rtHandlers = new Map<string, Set<{ fn: (data: unknown, meta: unknown) => void; onReset?: (info: unknown) => void }>>();
  const rtReset = new Set<(info: unknown) => void>();
  const rtStatus = new Set<(state: string) => void>();
  let rtLast: string | null = null;
  let rtState = 'closed';
  let rtTimer: ReturnType<typeof setTimeout> | undefined;
  const safely = (f: () => void) => {
    try {
      f();
    } catch (e) {
      console.error(e);
    }
  };
  const rtSync = () => {
    clearTimeout(rtTimer);
    rtTimer = setTimeout(() => {
      const channels = [...rtHandlers.keys()];
      if (!channels.length) rtState = 'closed';
      call('realtime', [channels, rtLast]).catch((e) => console.error('[fazt] realtime:', (e && e.message) || e));
    }, 0);
  };
  onRealtime = (r: any) => {
    if (r.id) rtLast = r.id;
    if (r.type === 'status') {
      rtState = String(r.data);
      rtStatus.forEach((f) => safely(() => f(rtState)));
    } else if (r.type === 'message') {
      let m: any;
      try {
        m = JSON.parse(r.data);
      } catch {
        return;
      }
      rtHandlers.get(m.channel)?.forEach((h) => safely(() => h.fn(m.data, { channel: m.channel, id: r.id })));
    } else if (r.type === 'reset') {
      let info: any;
      try {
        info = JSON.parse(r.data);
      } catch {
        info = { reason: 'unknown', channels: [...rtHandlers.keys()] };
      }
      rtReset.forEach((f) => safely(() => f(info)));
      for (const c of info.channels || []) rtHandlers.get(c)?.forEach((h) => h.onReset && safely(() => h.onReset!(info)));
    }
  };
  w.fazt = Object.freeze({
    realtime: Object.freeze({
      subscribe(channel: string, fn: (data: unknown, meta: unknown) => void, options?: { onReset?: (info: unknown) => void }) {
        if (typeof fn !== 'function') throw new TypeError('fazt.realtime.subscribe(channel, fn): fn must be a function');
        const name = String(channel);
        const h = { fn, onReset: options && options.onReset };
        let set = rtHandlers.get(name);
        const isNew = !set;
        if (!set) rtHandlers.set(name, (set = new Set()));
        set.add(h);
        if (isNew) rtSync();
        return () => {
          if (!set!.delete(h) || set!.size) return;
          rtHandlers.delete(name);
          rtSync();
        };
      },
      onReset(fn: (info: unknown) => void) {
        rtReset.add(fn);
        return () => rtReset.delete(fn);
      },
      onStatus(fn: (state: string) => void) {
        rtStatus.add(fn);
        return () => rtStatus.delete(fn);
      },
      get state() {
        return rtState;
      },
      get lastEventId() {
        return rtLast;
      },
    }),
  });

  // ---------------------------------------------------------------- after the page is written
  const samePage = (u: URL) => u.href.split('#')[0] === pageUrl.split('#')[0];
  const follow = (href: string, download: string | null): boolean => {
    const u = new NativeURL(href, document.baseURI);
    if (!inApp(u.href)) return false;
    if (download !== null) {
      blobFor(u.href.split('#')[0]!, 'raw').then((blob) => {
        if (!blob) return;
        const a = document.createElement('a');
        a.href = blob;
        a.download = download || decodeURIComponent(u.pathname.split('/').pop() || 'download');
        a.click();
      });
      return true;
    }
    if (samePage(u) && u.hash) {
      location.hash = u.hash;
      return true;
    }
    navigate(u.href);
    return true;
  };
  const afterWrite = () => {
    window.addEventListener('click', (e: MouseEvent) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const a = e.composedPath().find((n) => n instanceof HTMLAnchorElement || n instanceof HTMLAreaElement) as HTMLAnchorElement | undefined;
      if (!a || !a.hasAttribute('href')) return;
      if (follow(a.href, a.hasAttribute('download') ? a.getAttribute('download') : null)) e.preventDefault();
    });
    window.addEventListener('submit', async (e: SubmitEvent) => {
      if (e.defaultPrevented) return;
      const form = e.target as HTMLFormElement;
      const submitter = e.submitter as HTMLButtonElement | null;
      const action = new NativeURL((submitter && submitter.getAttribute('formaction')) || form.getAttribute('action') || pageUrl, document.baseURI);
      if (!inApp(action.href)) return;
      e.preventDefault();
      const method = ((submitter && submitter.getAttribute('formmethod')) || form.method || 'get').toUpperCase();
      const data = new FormData(form, submitter || undefined);
      if (method === 'GET') {
        action.search = new URLSearchParams(data as any).toString();
        navigate(action.href);
        return;
      }
      const enctype = ((submitter && submitter.getAttribute('formenctype')) || form.enctype || '').toLowerCase();
      const body = enctype === 'multipart/form-data' ? new NativeResponse(data) : new NativeResponse(new URLSearchParams(data as any));
      navigate(action.href, { method, body: await body.arrayBuffer(), contentType: body.headers.get('content-type') || '' });
    });
    // Elements app code points at app files later (innerHTML, img.src = …): load them through the bridge.
    const ATTRS: Record<string, string[]> = { IMG: ['src', 'srcset'], SOURCE: ['src', 'srcset'], VIDEO: ['src', 'poster'], AUDIO: ['src'], TRACK: ['src'], INPUT: ['src'], EMBED: ['src'], OBJECT: ['data'], LINK: ['href'] };
    const fix = (el: Element, attr: string) => {
      const v = el.getAttribute(attr);
      if (!v || /^(blob|data):/i.test(v)) return;
      if (el.tagName === 'LINK' && !/\b(stylesheet|icon)\b/i.test(el.getAttribute('rel') || '')) return;
      const kind: Ref['kind'] = el.tagName === 'LINK' && /stylesheet/i.test(el.getAttribute('rel') || '') ? 'css' : 'raw';
      if (attr === 'srcset') {
        const parts = v.split(',').map((c) => c.trim().split(/\s+/));
        const urls = parts.map((p) => new NativeURL(p[0] || '', document.baseURI));
        if (!urls.some((u) => inApp(u.href))) return;
        Promise.all(urls.map((u) => (inApp(u.href) ? blobFor(u.href.split('#')[0]!, 'raw') : Promise.resolve(u.href)))).then((blobs) => {
          if (el.getAttribute(attr) === v) el.setAttribute(attr, parts.map((p, i) => [blobs[i] || urls[i]!.href, ...p.slice(1)].join(' ')).join(', '));
        });
        return;
      }
      let u: URL;
      try {
        u = new NativeURL(v, document.baseURI);
      } catch {
        return;
      }
      if (!inApp(u.href)) return;
      const hash = u.hash;
      u.hash = '';
      blobFor(u.href, kind).then((blob) => {
        if (blob && el.getAttribute(attr) === v) el.setAttribute(attr, blob + hash);
      });
    };
    const scan = (el: Element) => {
      const attrs = ATTRS[el.tagName];
      if (attrs) for (const a of attrs) fix(el, a);
    };
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === 'attributes') scan(r.target as Element);
        else
          for (const n of Array.from(r.addedNodes)) {
            if (n.nodeType !== 1) continue;
            scan(n as Element);
            for (const el of Array.from((n as Element).querySelectorAll('img,source,video,audio,track,input,embed,object,link'))) scan(el);
          }
      }
    }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['src', 'srcset', 'poster', 'data', 'href'] });
  };

  // ---------------------------------------------------------------- the page
  const show = async () => {
    const page = await call('page', [pageUrl]);
    pageUrl = page.url;
    const imports = await load(page.deps);
    const map: any = { imports: {} };
    for (const [k, v] of Object.entries(page.importMap.imports || {})) map.imports[k] = substitute(String(v));
    Object.assign(map.imports, imports);
    if (page.importMap.scopes) {
      map.scopes = {};
      for (const [scope, entries] of Object.entries(page.importMap.scopes as Record<string, Record<string, string>>)) {
        map.scopes[scope] = {};
        for (const [k, v] of Object.entries(entries)) map.scopes[scope][k] = substitute(String(v));
      }
    }
    const mapTag = `<script type="importmap">${JSON.stringify(map).replace(/</g, '\\u003c')}</script>`;
    const html = substitute(String(page.html).replace(cfg.importMapMarker, mapTag));
    document.open();
    document.write(html);
    document.close();
    afterWrite();
  };
  show().catch((e) => {
    document.body.textContent = `This app could not be shown: ${(e && e.message) || e}`;
  });
}
