/**
 * `<fazt-storage>`: what an app's server code stored, read-only: its key-value entries, its
 * document collections and documents, and its files (blobs, metadata only). Loaded on demand.
 */
import { LitElement, html, css } from 'lit';
import type { FaztApi } from '../lib/api.js';
import type { BlobsPage, DocsPage, KvPage, StorageSummary } from '../lib/api-types.js';
import { formatBytes, formatTime, plural } from '../lib/format.js';
import { base } from './styles.js';

/** Characters of a value shown before "Show all". */
const PREVIEW = 240;
const DOCS_PAGE = 20;

/** An app's stored data, read-only. */
export class FaztStorage extends LitElement {
  static properties = {
    api: { attribute: false },
    name: {},
    summary: { state: true },
    kv: { state: true },
    collection: { state: true },
    docs: { state: true },
    blobs: { state: true },
    error: { state: true },
  };
  static styles = [
    base,
    css`
      section {
        margin: 1.25rem 0 0;
      }
      .table-wrap {
        overflow-x: auto;
      }
      td pre {
        max-width: 40rem;
      }
      td.key {
        word-break: break-all;
        font-family: ui-monospace, Menlo, Consolas, monospace;
        font-size: 0.875rem;
      }
      details summary {
        cursor: pointer;
        color: var(--link);
        min-height: 24px;
      }
      .collections {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        margin-bottom: 0.75rem;
      }
      .collections button[aria-pressed='true'] {
        background: var(--accent);
        color: var(--on-accent);
      }
      .doc {
        margin: 0 0 0.5rem;
      }
      @media (max-width: 36rem) {
        /* rows become cards on phones */
        table,
        tbody,
        tr,
        td {
          display: block;
        }
        thead {
          position: absolute;
          width: 1px;
          height: 1px;
          overflow: hidden;
          clip: rect(0 0 0 0);
        }
        tr {
          border-bottom: 1px solid var(--line);
          padding: 0.5rem 0;
        }
        td {
          border: 0;
          padding: 0.15rem 0;
        }
        td.key {
          font-weight: 700;
        }
        td[data-label]::before {
          content: attr(data-label) ': ';
          color: var(--muted);
        }
      }
    `,
  ];

  /** Client of the node acted on. */
  api!: FaztApi;
  /** The app's name. */
  name = '';
  private summary: StorageSummary | undefined;
  private kv: KvPage | undefined;
  private collection = '';
  private docs: DocsPage | undefined;
  private blobs: BlobsPage | undefined;
  private error = '';

  updated(changed: Map<string, unknown>) {
    if (changed.has('api') || changed.has('name')) this.load();
  }

  private async load() {
    this.error = '';
    try {
      const [summary, kv, blobs] = await Promise.all([this.api.storage(this.name), this.api.kv(this.name), this.api.blobs(this.name)]);
      this.summary = summary;
      this.kv = kv;
      this.blobs = blobs;
      const first = summary.collections[0]?.name;
      if (first) await this.openCollection(first, 0);
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  private async openCollection(name: string, offset: number) {
    this.error = '';
    try {
      this.docs = await this.api.documents(this.name, name, { offset, limit: DOCS_PAGE });
      this.collection = name;
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  private async moreKv() {
    if (!this.kv?.cursor) return;
    try {
      const next = await this.api.kv(this.name, { cursor: this.kv.cursor });
      this.kv = { items: [...this.kv.items, ...next.items], cursor: next.cursor };
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  private async moreBlobs() {
    if (!this.blobs?.cursor) return;
    try {
      const next = await this.api.blobs(this.name, { cursor: this.blobs.cursor });
      this.blobs = { items: [...this.blobs.items, ...next.items], cursor: next.cursor };
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  render() {
    const s = this.summary;
    if (this.error && !s) return html`<p class="error" role="alert">${this.error}</p>`;
    if (!s) return html`<p class="muted">Loading…</p>`;
    return html`<p class="muted small">
        Read-only: what ${this.name}'s server code stored with <code>fazt.kv</code>, <code>fazt.docs</code> and <code>fazt.blobs</code>.
      </p>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      <section aria-labelledby="kv-h">
        <h3 id="kv-h">Keys and values (${s.kv.count})</h3>
        ${this.kvView()}
      </section>
      <section aria-labelledby="docs-h">
        <h3 id="docs-h">Documents (${plural(s.collections.length, 'collection')})</h3>
        ${this.docsView(s)}
      </section>
      <section aria-labelledby="blobs-h">
        <h3 id="blobs-h">Files (${s.blobs.count}, ${formatBytes(s.blobs.bytes)})</h3>
        ${this.blobsView()}
      </section>`;
  }

  private kvView() {
    const items = this.kv?.items ?? [];
    if (items.length === 0) return html`<p class="muted">No keys.</p>`;
    return html`<div class="table-wrap">
        <table>
          <thead>
            <tr><th scope="col">Key</th><th scope="col">Value</th><th scope="col">Expires</th></tr>
          </thead>
          <tbody>
            ${items.map(
              (i) => html`<tr>
                <td class="key">${i.key}</td>
                <td>${preview(pretty(i.value))}</td>
                <td class="small" data-label="Expires">${i.expiresAt ? formatTime(i.expiresAt) : 'never'}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${this.kv?.cursor ? html`<button class="secondary" @click=${this.moreKv}>Show more keys</button>` : ''}`;
  }

  private docsView(s: StorageSummary) {
    if (s.collections.length === 0) return html`<p class="muted">No documents.</p>`;
    const d = this.docs;
    return html`<div class="collections" role="group" aria-label="Collections">
        ${s.collections.map(
          (c) =>
            html`<button class="secondary" aria-pressed=${this.collection === c.name ? 'true' : 'false'} @click=${() => this.openCollection(c.name, 0)}>
              ${c.name} (${c.count})
            </button>`,
        )}
      </div>
      ${d
        ? html`<p class="muted small">${d.collection}: ${d.total === 0 ? 'empty' : `${d.offset + 1}–${d.offset + d.documents.length} of ${d.total}`}</p>
            ${d.documents.map((doc) => html`<div class="doc">${preview(JSON.stringify(doc, null, 2))}</div>`)}
            <div class="row">
              ${d.offset > 0
                ? html`<button class="secondary" @click=${() => this.openCollection(d.collection, Math.max(0, d.offset - DOCS_PAGE))}>Previous</button>`
                : ''}
              ${d.offset + d.documents.length < d.total
                ? html`<button class="secondary" @click=${() => this.openCollection(d.collection, d.offset + DOCS_PAGE)}>Next</button>`
                : ''}
            </div>`
        : ''}`;
  }

  private blobsView() {
    const items = this.blobs?.items ?? [];
    if (items.length === 0) return html`<p class="muted">No files.</p>`;
    return html`<div class="table-wrap">
        <table>
          <thead>
            <tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Size</th><th scope="col">Changed</th></tr>
          </thead>
          <tbody>
            ${items.map(
              (b) => html`<tr>
                <td class="key">${b.key}</td>
                <td class="small" data-label="Type">${b.contentType}</td>
                <td class="small" data-label="Size">${formatBytes(b.size)}</td>
                <td class="small" data-label="Changed">${formatTime(b.updatedAt)}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${this.blobs?.cursor ? html`<button class="secondary" @click=${this.moreBlobs}>Show more files</button>` : ''}`;
  }
}
customElements.define('fazt-storage', FaztStorage);

/** Indented JSON of a JSON text (the text itself if it does not parse). */
function pretty(jsonText: string): string {
  try {
    return JSON.stringify(JSON.parse(jsonText), null, 2);
  } catch {
    return jsonText;
  }
}

/** A value in a `<pre>`, long ones folded behind "Show all". */
function preview(text: string) {
  if (text.length <= PREVIEW) return html`<pre>${text}</pre>`;
  return html`<details>
    <summary><pre>${text.slice(0, PREVIEW)}…</pre>Show all (${formatBytes(new TextEncoder().encode(text).length)})</summary>
    <pre>${text}</pre>
  </details>`;
}

declare global {
  interface HTMLElementTagNameMap {
    'fazt-storage': FaztStorage;
  }
}
