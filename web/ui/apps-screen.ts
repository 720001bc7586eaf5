/**
 * `<fazt-apps>`: the app list of the node the dashboard acts on: open an app (in a sandboxed frame),
 * its details (versions, logs, storage), and for the hub its own addresses. A list on phones, a grid
 * of cards on wide screens. When the other node answers too, an app whose copy there differs says so
 * (`<fazt-copies compact>`).
 */
import { LitElement, html, css } from 'lit';
import type { FaztApi, NodeTarget } from '../lib/api.js';
import type { Reach } from '../lib/node-target.js';
import { loadCopies, pairedSync, type Copies } from './copies-view.js';
import './copies-view.js';
import './ask-box.js';
import type { AppInfo, HealthInfo } from '../lib/api-types.js';
import { href } from '../lib/router.js';
import { formatTime, plural } from '../lib/format.js';
import { base } from './styles.js';
import { emit, UNREACHABLE } from './events.js';

/** The app list screen. */
export class FaztApps extends LitElement {
  static properties = {
    api: { attribute: false },
    version: { type: Number },
    reach: { attribute: false },
    apps: { state: true },
    copies: { state: true },
    error: { state: true },
    integrity: { state: true },
  };
  static styles = [
    base,
    css`
      li.app {
        display: grid;
        grid-template-columns: auto 1fr;
        gap: 0.25rem 0.75rem;
        padding: 0.9rem 0;
        border-top: 1px solid var(--line);
      }
      li.app:first-child {
        border-top: 0;
        padding-top: 0.25rem;
      }
      li.app fazt-copies {
        grid-column: 1 / -1;
      }
      @media (min-width: 48rem) {
        ul.apps {
          margin-bottom: 1rem;
          display: grid;
          grid-template-columns: repeat(auto-fill, minmax(17rem, 1fr));
          gap: 1rem;
        }
        li.app,
        li.app:first-child {
          border: 1px solid var(--line);
          border-radius: 12px;
          padding: 0.9rem;
          align-content: start;
        }
      }
      .icon {
        grid-row: span 2;
        width: 44px;
        height: 44px;
        border-radius: 12px;
        display: grid;
        place-items: center;
        font-weight: 700;
        font-size: 1.2rem;
        color: #fff;
      }
      .name strong {
        font-size: 1.05rem;
      }
      .actions {
        grid-column: 2;
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        margin-top: 0.35rem;
      }
      .urls {
        grid-column: 2;
        font-size: 0.875rem;
        display: flex;
        flex-wrap: wrap;
        gap: 0 1rem;
      }
      .urls a {
        word-break: break-all;
        display: inline-block;
        min-height: 24px;
      }
    `,
  ];

  /** The client of the node acted on. */
  api!: FaztApi;
  /** Bumped by the shell when apps changed elsewhere: the list reloads. */
  version = 0;
  /** Whether each node answers (the shell's link state): the other node's copies are compared only when it does. */
  reach: Record<NodeTarget, Reach> | undefined;
  private apps: AppInfo[] | undefined;
  /** Both copies of each app, by name, when the other node answers. */
  private copies: Record<string, Copies> = {};
  private error = '';
  /** The node's cartridge check, when it found damage (`/api/health` → `integrity`). */
  private integrity: HealthInfo['integrity'] | undefined;

  /** Reloads the list. */
  async load() {
    this.error = '';
    // the start-up check of the cartridge: damage (an app may be missing) is said here, not hidden
    this.api
      .health()
      .then((h) => (this.integrity = h.integrity?.state === 'damaged' || h.integrity?.state === 'failed' ? h.integrity : undefined))
      .catch(() => {});
    try {
      this.apps = await this.api.apps();
    } catch (e) {
      this.apps = undefined;
      this.error = (e as Error).message;
      if ((e as { code?: string }).code === 'NETWORK') emit(this, UNREACHABLE);
      return;
    }
    this.loadCopies();
  }

  /** Compares each app with its copy on the other node, when that node answers. */
  private async loadCopies() {
    const api = this.api;
    const other: NodeTarget = api.target === 'hub' ? 'device' : 'hub';
    if (this.reach?.[other] !== 'up' || !this.apps?.length) {
      this.copies = {};
      return;
    }
    const sync = pairedSync(api);
    const pairs = await Promise.all(this.apps.map(async (a) => [a.name, await loadCopies(api, a.name, { sync })] as const));
    if (api === this.api) this.copies = Object.fromEntries(pairs);
  }

  updated(changed: Map<string, unknown>) {
    if (changed.has('api') || changed.has('version')) this.load();
    else if (changed.has('reach') && changed.get('reach') !== undefined) this.loadCopies();
  }

  render() {
    return html`<section class="card">
      <div class="spread">
        <h2>Apps</h2>
        <a class="button secondary" href=${href({ screen: 'deploy' })}>Deploy an app</a>
      </div>
      ${this.integrity
        ? html`<p class="error" role="alert">
            ${this.integrity.state === 'damaged'
              ? `This node’s cartridge is damaged (its start-up check found ${plural(this.integrity.problems ?? 1, 'problem')}): apps or data may be missing.`
              : 'This node’s cartridge could not be checked at start.'}
            On the node’s machine, run <code>fazt doctor</code> to see what is wrong, and restore a backup.
          </p>`
        : ''}
      ${this.error ? html`<p class="error">${this.error} <button class="link" @click=${this.load}>Try again</button></p>` : ''}
      ${this.apps === undefined && !this.error ? html`<p class="muted">Loading…</p>` : ''}
      ${this.apps?.length === 0
        ? html`<p class="muted">No apps yet. Deploy one: pick its folder or a zip on the <a href=${href({ screen: 'deploy' })}>Deploy</a> screen.</p>`
        : ''}
      ${this.apps?.length ? html`<ul class="plain apps">${this.apps.map((a) => this.item(a))}</ul>` : ''}
      ${this.api?.target === 'hub'
        ? html`<p class="muted small">From a terminal: <code>fazt app deploy ./my-site --token &lt;token&gt;</code> (tokens are in Settings).</p>`
        : ''}
    </section>
      <fazt-ask .api=${this.api}></fazt-ask>`;
  }

  private item(a: AppInfo) {
    const title = a.title || a.name;
    return html`<li class="app">
      <span class="icon" aria-hidden="true" style="background:${appColor(a.name)}">${initial(title)}</span>
      <div class="name">
        <strong>${title}</strong>
        <div class="muted small">${a.name} · ${a.currentVersion === null ? 'no live version' : `version ${a.currentVersion}`} · updated ${formatTime(a.updatedAt)}</div>
      </div>
      ${this.api.target === 'hub' && a.urls?.length
        ? html`<div class="urls">
            ${a.urls.map((u) => {
              const url = new URL(u);
              return html`<a href=${u} target="_blank" rel="noopener">${url.host}${url.pathname}</a>`;
            })}
          </div>`
        : ''}
      <div class="actions">
        <a class="button" href=${href({ screen: 'open', name: a.name })} aria-label="Open ${title}">Open</a>
        <a class="button secondary" href=${href({ screen: 'app', name: a.name, tab: 'versions' })} aria-label="Details of ${title}">Details</a>
      </div>
      ${this.copies[a.name] ? html`<fazt-copies compact name=${a.name} target=${this.api.target} .copies=${this.copies[a.name]}></fazt-copies>` : ''}
    </li>`;
  }
}
customElements.define('fazt-apps', FaztApps);

/** The first letter of an app's title, for its icon. */
export function initial(title: string): string {
  return (Array.from(title.trim())[0] ?? '?').toUpperCase();
}

/** A stable colour per app name (dark enough for white text, ≥ 4.5:1). */
export function appColor(name: string): string {
  const palette = ['#1f5fd6', '#0f766e', '#9333ea', '#b45309', '#be123c', '#4d7c0f', '#0e7490', '#6d28d9', '#a21caf', '#c2410c'];
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return palette[h % palette.length]!;
}

declare global {
  interface HTMLElementTagNameMap {
    'fazt-apps': FaztApps;
  }
}
