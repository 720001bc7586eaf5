/**
 * `<fazt-app-view>`: one app, open in a sandboxed `<fazt-app-frame>` (web/frame) that fills the
 * screen under a slim bar: back (or a big Home button in guided mode), the app's title, and for hub
 * apps a link to open the app on its own address.
 */
import { LitElement, html, css } from 'lit';
import { appPath, type FaztApi } from '../lib/api.js';
import type { AppInfo } from '../lib/api-types.js';
import { href } from '../lib/router.js';
import { base } from './styles.js';
import { emit, UNREACHABLE } from './events.js';

/** What the dashboard uses of web/frame's public face (index.ts): the source helper; importing it defines `<fazt-app-frame>`. */
interface FrameModule {
  sourceFromBase(base: string, init?: { name?: string; title?: string }): unknown;
}
// A glob import: the build does not break while web/frame/index.ts is not there yet.
const frameLoaders = import.meta.glob<FrameModule>('../frame/index.ts');
let frameModule: Promise<FrameModule> | undefined;
/** Loads the app frame component (on first use). @throws Error when this build has no app frame. */
const loadFrame = () => {
  const load = frameLoaders['../frame/index.ts'];
  if (!load) return Promise.reject(new Error('This dashboard build cannot open apps inside it (no app frame).'));
  return (frameModule ??= load());
};

/** An open app. */
export class FaztAppView extends LitElement {
  static properties = {
    api: { attribute: false },
    name: {},
    path: {},
    guided: { type: Boolean },
    app: { state: true },
    source: { state: true },
    error: { state: true },
  };
  static styles = [
    base,
    css`
      :host {
        display: flex;
        flex-direction: column;
        height: 100%;
        min-height: 0;
      }
      .bar {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 0.5rem;
        padding: 0.4rem 0.5rem;
        border-bottom: 1px solid var(--line);
        background: var(--card);
      }
      .bar .button {
        white-space: nowrap;
      }
      .bar h1 {
        font-size: 1.05rem;
        margin: 0;
        flex: 1 1 6rem;
        min-width: 0;
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
      }
      :host([guided]) .bar h1 {
        font-size: 1.25rem;
      }
      .home {
        min-height: 52px;
        font-size: 1.15rem;
        padding: 0.5rem 1.1rem;
        border-radius: 14px;
      }
      fazt-app-frame {
        flex: 1 1 0;
        min-height: 0;
        display: block;
        width: 100%;
      }
      .msg {
        padding: 1rem;
      }
    `,
  ];

  /** Client of the node the app is on. */
  api!: FaztApi;
  /** The app's name. */
  name = '';
  /**
   * The app page shown (app-relative, with query: `about/?q=x`; `''` is its index). It comes from the
   * route, so each page the app moves to is a history entry: the browser's Back goes back a page
   * inside the app before it leaves the app.
   */
  path = '';
  /** Guided mode: a big Home button instead of the owner's back link. */
  guided = false;
  private app: AppInfo | undefined;
  private source: unknown;
  private error = '';

  updated(changed: Map<string, unknown>) {
    if (changed.has('api') || changed.has('name')) this.load();
  }

  private async load() {
    this.error = '';
    this.source = undefined;
    try {
      const [frame, app] = await Promise.all([loadFrame(), this.api.app(this.name)]);
      this.app = app;
      this.source = frame.sourceFromBase(appPath(this.api.target, app.name), { name: app.name, title: app.title || app.name });
    } catch (e) {
      this.error = (e as Error).message;
      if ((e as { code?: string }).code === 'NETWORK') emit(this, UNREACHABLE);
    }
  }

  /** The app moved to another of its pages: a new history entry (the route carries the page). */
  private onNavigate(e: CustomEvent<{ path: string }>) {
    const path = e.detail.path;
    if (path === this.path) return;
    this.path = path;
    location.hash = href(this.guided ? { screen: 'guided-open', name: this.name, path } : { screen: 'open', name: this.name, path });
  }

  render() {
    const title = this.app?.title || this.name;
    const own = this.api?.target === 'hub' && !this.guided ? this.app?.urls?.[0] : undefined;
    return html`<div class="bar">
        ${this.guided
          ? html`<a class="button home" href=${href({ screen: 'guided' })}><span aria-hidden="true">⌂</span> Home</a>`
          : html`<a class="button secondary" href=${href({ screen: 'apps' })}><span aria-hidden="true">←</span> Apps</a>`}
        <h1>${title}</h1>
        ${own ? html`<a class="button secondary" href=${own} target="_blank" rel="noopener">Open on its own address</a>` : ''}
      </div>
      ${this.error ? html`<p class="error msg" role="alert">${this.error}</p>` : ''}
      ${this.source && this.app ? html`<fazt-app-frame .source=${this.source} .path=${this.path} @fazt-app-navigate=${this.onNavigate}></fazt-app-frame>` : ''}
      ${!this.source && !this.error ? html`<p class="muted msg">Opening ${title}…</p>` : ''}`;
  }
}
customElements.define('fazt-app-view', FaztAppView);

declare global {
  interface HTMLElementTagNameMap {
    'fazt-app-view': FaztAppView;
  }
}
