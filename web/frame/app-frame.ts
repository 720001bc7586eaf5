/**
 * `<fazt-app-frame>`: shows an app in a sandboxed iframe (scripts, forms, modals, popups and
 * downloads allowed; never `allow-same-origin`, so the app runs in an opaque origin with no access
 * to the dashboard's storage, cookies, OPFS or DOM). The frame gets its documents and files from
 * this element, over a MessagePort bridge bound to the element's {@link AppSource} alone.
 *
 *   const frame = document.createElement('fazt-app-frame');
 *   frame.source = sourceFromBase('/a/notes/');
 *   frame.path = '';                 // the app's index (default)
 *   frame.addEventListener('fazt-app-navigate', (e) => console.log(e.detail.path));
 */
import { css, html, LitElement, type PropertyValues } from 'lit';
import { keyed } from 'lit/directives/keyed.js';
import { FrameBridge, serveBridge, type NavigateRequest } from './bridge.js';
import { encodeAppPath, virtualOrigin } from './paths.js';
import type { HelloMessage } from './protocol.js';
import type { AppSource } from './source.js';
import { bootstrapSrcdoc, newNonce } from './srcdoc.js';

/** The sandbox flags of every app frame. Never `allow-same-origin`, never top navigation. */
export const FRAME_SANDBOX = 'allow-scripts allow-forms allow-modals allow-popups allow-downloads';

/** Messages per second the element looks at from its frame; more are dropped unread. */
const MESSAGES_PER_SECOND = 20;

/**
 * A page whose runtime has not asked for its bridge after this long fires `fazt-app-unresponsive`:
 * Chromium runs the sandboxed frames of one site in one renderer process, so an app spinning in an
 * endless loop can hold up the next app's frame (never the dashboard). Reloading the dashboard
 * drops that process.
 */
const UNRESPONSIVE_MS = 10_000;

/** Detail of the `fazt-app-navigate` event: the page the frame shows now. */
export interface AppNavigateDetail {
  /** App-relative path with query (`about/`, `search?q=x`); `''` is the app's index. */
  path: string;
  /** The page's app URL (`https://<name>.fazt.invalid/about/`). */
  url: string;
}

/**
 * Shows one app in a sandboxed frame.
 * @fires fazt-app-navigate when the app moves to another of its pages ({@link AppNavigateDetail}).
 * @fires fazt-app-unresponsive when a page did not start within 10 s (`detail.path`); offer a reload.
 */
export class FaztAppFrame extends LitElement {
  static override properties = {
    source: { attribute: false },
    path: { type: String, reflect: false },
  };

  static override styles = css`
    :host {
      display: block;
      position: relative;
      min-height: 12rem;
    }
    iframe {
      display: block;
      border: 0;
      width: 100%;
      height: 100%;
      background: #fff;
    }
  `;

  /** The app to show. Changing it loads the new app's page. */
  declare source: AppSource | undefined;
  /** App-relative start page, with query (`''` is the index: `index.html`, or the SPA fallback). */
  declare path: string;

  private srcdoc = '';
  private docNonce = '';
  private origin = '';
  private pending: { url: string; response: Response } | undefined;
  private closeBridge: (() => void) | undefined;
  /** Messages from the frame looked at in the current second (a flood is not even deserialized). */
  private budget = { second: 0, seen: 0 };
  private helloTimer: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    super();
    this.source = undefined;
    this.path = '';
  }

  /** The iframe, once rendered. */
  get frame(): HTMLIFrameElement | null {
    return this.renderRoot.querySelector('iframe');
  }

  /** The page's app URL (`https://<name>.fazt.invalid/<path>`). */
  get url(): string {
    return this.origin ? new URL(this.path || '', `${this.origin}/`).href : '';
  }

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('message', this.onMessage);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener('message', this.onMessage);
    clearTimeout(this.helloTimer);
    this.closeBridge?.();
    this.closeBridge = undefined;
  }

  /** Loads the current page again in a fresh document. */
  reload(): void {
    this.prepare();
    this.requestUpdate();
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('source') || changed.has('path')) this.prepare();
  }

  /** A new bootstrap document (and nonce) for the current source and path. */
  private prepare(): void {
    this.closeBridge?.();
    this.closeBridge = undefined;
    const source = this.source;
    if (!source) {
      this.srcdoc = '';
      this.docNonce = '';
      this.origin = '';
      return;
    }
    this.origin = virtualOrigin(source.app.name);
    this.docNonce = newNonce();
    clearTimeout(this.helloTimer);
    const path = this.path;
    this.helloTimer = setTimeout(() => {
      this.dispatchEvent(new CustomEvent('fazt-app-unresponsive', { detail: { path }, bubbles: true, composed: true }));
    }, UNRESPONSIVE_MS);
    this.srcdoc = bootstrapSrcdoc({ nonce: this.docNonce, origin: this.origin, url: this.url, name: source.app.name, title: source.app.title ?? source.app.name });
  }

  /** Hands the bridge port to the frame's runtime: only to this frame, only for this document's nonce. */
  private onMessage = (e: MessageEvent): void => {
    const frame = this.frame;
    const win = frame?.contentWindow;
    if (!win || e.source !== win || !this.source) return;
    const second = Math.floor(performance.now() / 1000);
    if (this.budget.second !== second) this.budget = { second, seen: 0 };
    if (++this.budget.seen > MESSAGES_PER_SECOND) return;
    const d = e.data as Partial<HelloMessage> | null;
    if (!d || typeof d !== 'object' || d.fazt !== 'hello' || d.nonce !== this.docNonce) return;
    this.closeBridge?.();
    clearTimeout(this.helloTimer);
    const { port1, port2 } = new MessageChannel();
    const pending = this.pending;
    this.pending = undefined;
    const bridge = new FrameBridge(this.source, this.origin, (nav) => this.onNavigate(nav), pending, (m) => port1.postMessage(m));
    const close = serveBridge(bridge, port1);
    this.closeBridge = () => {
      bridge.close(); // the frame's realtime stream ends with its document
      close();
    };
    // The frame's origin is opaque: '*' is the only target origin that reaches it. The port goes
    // to the window that said hello with this document's nonce.
    win.postMessage({ fazt: 'port', nonce: this.docNonce }, '*', [port2]);
  };

  private onNavigate(nav: NavigateRequest): void {
    const u = new URL(nav.url);
    const path = encodeAppPath(nav.location.path) + nav.location.search + u.hash;
    this.pending = nav.response ? { url: nav.url, response: nav.response } : undefined;
    if (path === this.path) this.reload();
    else this.path = path;
    this.dispatchEvent(new CustomEvent<AppNavigateDetail>('fazt-app-navigate', { detail: { path, url: nav.url }, bubbles: true, composed: true }));
  }

  protected override render() {
    const title = this.source ? (this.source.app.title ?? this.source.app.name) : 'No app';
    // A fresh iframe for every document: no frame history entries in the dashboard's history, and
    // a document stuck in a loop is dropped with its element instead of blocking the next page.
    return keyed(
      this.docNonce,
      html`<iframe
        sandbox="allow-scripts allow-forms allow-modals allow-popups allow-downloads"
        allow=""
        referrerpolicy="no-referrer"
        title=${title}
        .srcdoc=${this.srcdoc}
      ></iframe>`,
    );
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'fazt-app-frame': FaztAppFrame;
  }
  interface HTMLElementEventMap {
    'fazt-app-navigate': CustomEvent<AppNavigateDetail>;
    'fazt-app-unresponsive': CustomEvent<{ path: string }>;
  }
}

if (!customElements.get('fazt-app-frame')) customElements.define('fazt-app-frame', FaztAppFrame);
