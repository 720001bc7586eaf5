/**
 * `<fazt-app-detail>`: one app: its versions with rollback, its live log and its stored data (both
 * loaded on demand), its addresses, and removal (asked twice).
 */
import { LitElement, html, css } from 'lit';
import type { FaztApi, NodeTarget } from '../lib/api.js';
import type { Reach } from '../lib/node-target.js';
import { COPIES_REFRESH_MS, copiesConverging, loadCopies, type Copies } from './copies-view.js';
import type { AppDetail, EgressInfo, VersionInfo } from '../lib/api-types.js';
import { formatBytes, formatTime, plural } from '../lib/format.js';
import { go, href } from '../lib/router.js';
import { base } from './styles.js';
import { emit, toast, APPS_CHANGED, UNREACHABLE } from './events.js';

/** The tabs of an app's page. */
export type AppTab = 'versions' | 'logs' | 'storage';

/** An app's page. */
export class FaztAppDetail extends LitElement {
  static properties = {
    api: { attribute: false },
    name: {},
    tab: {},
    reach: { attribute: false },
    copies: { state: true },
    app: { state: true },
    versions: { state: true },
    egress: { state: true },
    error: { state: true },
    confirmRemove: { state: true },
    busy: { state: true },
  };
  static styles = [
    base,
    css`
      nav[aria-label='App sections'] {
        display: flex;
        gap: 0.25rem;
        border-bottom: 1px solid var(--line);
        margin: 0.5rem 0 1rem;
        overflow-x: auto;
      }
      nav a {
        padding: 0.6rem 0.9rem;
        min-height: 44px;
        display: inline-flex;
        align-items: center;
        text-decoration: none;
        color: var(--fg);
        border-bottom: 3px solid transparent;
        font-weight: 600;
      }
      nav a[aria-current='page'] {
        border-bottom-color: var(--accent);
        color: var(--link);
      }
      li.version {
        display: flex;
        flex-wrap: wrap;
        justify-content: space-between;
        gap: 0.5rem;
        padding: 0.75rem 0;
        border-top: 1px solid var(--line);
      }
      li.version:first-child {
        border-top: 0;
      }
      .danger-zone {
        border-color: var(--danger);
      }
      .back {
        display: inline-flex;
        align-items: center;
        min-height: 44px;
      }
    `,
  ];

  /** Client of the node acted on. */
  api!: FaztApi;
  /** The app's name. */
  name = '';
  /** The open tab. */
  tab: AppTab = 'versions';
  /** Whether each node answers (the shell's link state). */
  reach: Record<NodeTarget, Reach> | undefined;
  /** This app on both nodes, when the other one answers. */
  private copies: Copies | undefined;
  private app: AppDetail | undefined;
  private versions: VersionInfo[] | undefined;
  /** Outbound `fazt.net.fetch` traffic this month and the quota (absent: not loaded, or the node does not tell). */
  private egress: EgressInfo | undefined;
  private error = '';
  private confirmRemove = false;
  private busy = false;
  /** Reads the copies again while they converge by sync (see {@link copiesConverging}). */
  private copiesTimer: ReturnType<typeof setTimeout> | undefined;

  disconnectedCallback() {
    super.disconnectedCallback();
    clearTimeout(this.copiesTimer);
  }

  updated(changed: Map<string, unknown>) {
    if (changed.has('api') || changed.has('name')) this.load();
    if (changed.has('copies')) this.watchCopies();
    if (changed.has('confirmRemove') && this.confirmRemove) this.renderRoot.querySelector<HTMLElement>('.danger-zone button.secondary')?.focus();
    if (changed.has('tab')) {
      if (this.tab === 'logs') import('./logs-view.js');
      if (this.tab === 'storage') import('./storage-view.js');
    }
  }

  /** While the copies differ and sync is bringing them together, reads them again every {@link COPIES_REFRESH_MS}. */
  private watchCopies() {
    clearTimeout(this.copiesTimer);
    if (!copiesConverging(this.copies)) return;
    const api = this.api;
    const name = this.name;
    this.copiesTimer = setTimeout(async () => {
      if (!this.isConnected) return;
      if (document.hidden) return void this.watchCopies();
      const copies = await loadCopies(api, name, { records: true }).catch(() => undefined);
      // the screen moved on to another app or node meanwhile: leave its copies alone
      if (api === this.api && name === this.name) this.copies = copies;
    }, COPIES_REFRESH_MS);
  }

  /** Reloads the app and its versions. */
  async load() {
    this.error = '';
    try {
      const [app, versions] = await Promise.all([this.api.app(this.name), this.api.versions(this.name)]);
      this.app = app;
      this.versions = versions;
      // the egress line is extra: a node without the route (older) or a token without admin just leaves it out
      this.egress = await this.api.egress(this.name).catch(() => undefined);
      const other: NodeTarget = this.api.target === 'hub' ? 'device' : 'hub';
      this.copies = this.reach?.[other] === 'up' ? await loadCopies(this.api, this.name, { records: true }) : undefined;
    } catch (e) {
      this.error = (e as Error).message;
      if ((e as { code?: string }).code === 'NETWORK') emit(this, UNREACHABLE);
    }
  }

  render() {
    const a = this.app;
    const title = a?.title || this.name;
    return html`<a class="back" href=${href({ screen: 'apps' })}>← All apps</a>
      <section class="card">
        <div class="spread">
          <div>
            <h2>${title}</h2>
            ${a
              ? html`<p class="muted small">
                  ${a.name} · ${a.currentVersion === null ? 'no live version' : `version ${a.currentVersion} live`} · ${plural(a.files, 'file')},
                  ${formatBytes(a.bytes)}
                </p>`
              : ''}
            ${this.egress && (this.egress.usedBytes > 0 || this.egress.quotaBytes !== null) ? this.egressLine(this.egress) : ''}
          </div>
          <div class="row">
            <a class="button" href=${href({ screen: 'open', name: this.name })}>Open</a>
            ${this.api?.target === 'hub' && a?.urls?.[0]
              ? html`<a class="button secondary" href=${a.urls[0]} target="_blank" rel="noopener">Open on its own address</a>`
              : ''}
          </div>
        </div>
        ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
        <nav aria-label="App sections">
          ${(['versions', 'logs', 'storage'] as const).map(
            (t) =>
              html`<a href=${href({ screen: 'app', name: this.name, tab: t })} aria-current=${this.tab === t ? 'page' : 'false'}
                >${t === 'versions' ? 'Versions' : t === 'logs' ? 'Logs' : 'Storage'}</a
              >`,
          )}
        </nav>
        ${this.tab === 'versions' && this.copies ? html`<fazt-copies name=${this.name} target=${this.api.target} .copies=${this.copies}></fazt-copies>` : ''}
        ${this.tab === 'versions' ? this.versionsView() : ''}
        ${this.tab === 'logs' && a ? html`<fazt-logs .api=${this.api} .app=${a}></fazt-logs>` : ''}
        ${this.tab === 'storage' ? html`<fazt-storage .api=${this.api} name=${this.name}></fazt-storage>` : ''}
      </section>
      ${this.tab === 'versions' && a ? this.removeView(a) : ''}`;
  }

  /** Outbound traffic this month against the owner's quota (docs/safeguards.md). */
  private egressLine(e: EgressInfo) {
    const over = e.quotaBytes !== null && e.usedBytes >= e.quotaBytes;
    return html`<p class="muted small egress" data-testid="egress">
      Outbound traffic (<code>fazt.net.fetch</code>) this month: ${formatBytes(e.usedBytes)}${e.quotaBytes === null ? ', no quota' : html` of ${formatBytes(e.quotaBytes)}`}${over
        ? html` — <strong>quota used</strong>, fetches are refused until ${e.resetsAt.slice(0, 10)}`
        : e.quotaBytes !== null
        ? html`, resets ${e.resetsAt.slice(0, 10)}`
        : ''}${e.usage?.refused ? html` · ${plural(e.usage.refused, 'fetch', 'fetches')} refused` : ''}
    </p>`;
  }

  private versionsView() {
    if (!this.versions) return html`<p class="muted">Loading…</p>`;
    return html`<h3>Versions</h3>
      <p class="muted small">Every deploy is kept. Making an earlier one live again changes the files, not the app's data.</p>
      <ul class="plain">
        ${this.versions.map(
          (v) => html`<li class="version">
            <div>
              <strong>Version ${v.version}</strong> ${v.current ? html`<span class="badge live">live</span>` : ''}
              ${v.pending ? html`<span class="badge">waiting for approval</span>` : ''}
              <div class="muted small">${formatTime(v.createdAt)} · ${plural(v.fileCount, 'file')}, ${formatBytes(v.totalBytes)}</div>
            </div>
            ${v.current
              ? ''
              : v.pending
              ? html`<button ?disabled=${this.busy} @click=${() => this.rollback(v.version, true)} aria-label="Approve version ${v.version} and make it live"
                  title="Deployed without the admin scope: it sees the app's secrets and permissions once you approve it">
                  Approve and make live
                </button>`
              : html`<button class="secondary" ?disabled=${this.busy} @click=${() => this.rollback(v.version)} aria-label="Make version ${v.version} live">
                  Make live
                </button>`}
          </li>`,
        )}
      </ul>`;
  }

  private removeView(a: AppDetail) {
    return html`<section class="card danger-zone">
      <h3>Remove this app</h3>
      ${this.confirmRemove
        ? html`<p role="alert">Remove <strong>${a.title || a.name}</strong> with all its versions and files? Its stored data goes too. This cannot be undone.</p>
            <div class="row">
              <button class="danger" ?disabled=${this.busy} @click=${this.removeApp}>Yes, remove ${a.name}</button>
              <button class="secondary" @click=${() => (this.confirmRemove = false)}>Keep it</button>
            </div>`
        : html`<p class="muted small">Removes every version and file of the app from ${this.api.target === 'hub' ? 'the hub' : 'this device'}.</p>
            <button class="danger" @click=${() => (this.confirmRemove = true)}>Remove…</button>`}
    </section>`;
  }

  private async rollback(version: number, approve = false) {
    this.busy = true;
    this.error = '';
    try {
      const r = approve ? await this.api.approve(this.name, version) : await this.api.rollback(this.name, version);
      toast(this, `Version ${r.to} of ${this.name} is live (was ${r.from ?? 'none'}).`);
      emit(this, APPS_CHANGED);
      await this.load();
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.busy = false;
    }
  }

  private async removeApp() {
    this.busy = true;
    this.error = '';
    try {
      await this.api.removeApp(this.name);
      toast(this, `${this.name} was removed.`);
      emit(this, APPS_CHANGED);
      go({ screen: 'apps' });
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.busy = false;
      this.confirmRemove = false;
    }
  }
}
customElements.define('fazt-app-detail', FaztAppDetail);

declare global {
  interface HTMLElementTagNameMap {
    'fazt-app-detail': FaztAppDetail;
  }
}
