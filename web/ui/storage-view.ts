/**
 * `<fazt-storage>`: what an app's server code stored, read-only, as PocketBase's admin shows it: a
 * list of what there is (key-value entries, each document collection, files) and the chosen one as a
 * table (keys, fields, sizes), each record's JSON on demand. Two panes on wide screens, stacked on
 * phones. Loaded on demand.
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
    open: { state: true },
    shownJson: { state: true },
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
      .sources {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        margin: 0 0 0.75rem;
        padding: 0;
        list-style: none;
      }
      .sources button {
        text-align: left;
        justify-content: space-between;
        gap: 0.75rem;
      }
      .sources button[aria-pressed='true'] {
        background: var(--accent);
        color: var(--on-accent);
      }
      .sources .kind {
        font-size: 0.8rem;
        font-weight: 400;
      }
      @media (min-width: 64rem) {
        .panes {
          display: grid;
          grid-template-columns: 15rem minmax(0, 1fr);
          gap: 1.25rem;
          align-items: start;
        }
        .sources {
          flex-direction: column;
          flex-wrap: nowrap;
        }
        .sources button {
          width: 100%;
        }
        .pane > section {
          margin-top: 0;
        }
      }
      .fields {
        display: flex;
        flex-wrap: wrap;
        gap: 0.15rem 0.75rem;
        font-size: 0.875rem;
      }
      .fields .f {
        overflow-wrap: anywhere;
      }
      .fields .f b {
        font-weight: 600;
        color: var(--muted);
      }
      tr.json td {
        background: var(--code-bg);
      }
      td.size {
        white-space: nowrap;
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
  /** What the right pane shows: `kv`, `files`, or `docs:<collection>`. */
  private open = 'kv';
  /** Records whose JSON is shown (`kv:<key>`, `doc:<id>`). */
  private shownJson = new Set<string>();

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
      if (first) await this.openCollection(first, 0, false);
      // start on what holds something: documents first (what most apps keep), then keys, then files
      this.open = first ? `docs:${first}` : summary.kv.count || !summary.blobs.count ? 'kv' : 'files';
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  private async openCollection(name: string, offset: number, show = true) {
    this.error = '';
    try {
      this.docs = await this.api.documents(this.name, name, { offset, limit: DOCS_PAGE });
      this.collection = name;
      if (show) this.open = `docs:${name}`;
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

  private toggleJson(id: string) {
    const next = new Set(this.shownJson);
    if (!next.delete(id)) next.add(id);
    this.shownJson = next;
  }

  render() {
    const s = this.summary;
    if (this.error && !s) return html`<p class="error" role="alert">${this.error}</p>`;
    if (!s) return html`<p class="muted">Loading…</p>`;
    const source = (id: string, label: string, count: number, kind: string, pick: () => void) =>
      html`<li>
        <button class="secondary" aria-pressed=${this.open === id ? 'true' : 'false'} @click=${pick}>
          <span>${label} (${count})</span><span class="kind">${kind}</span>
        </button>
      </li>`;
    return html`<p class="muted small">
        Read-only: what ${this.name}'s server code stored with <code>fazt.kv</code>, <code>fazt.docs</code> and <code>fazt.blobs</code>.
      </p>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      <div class="panes">
        <nav aria-label="Stored data">
          <ul class="sources">
            ${source('kv', 'Keys and values', s.kv.count, 'keys', () => (this.open = 'kv'))}
            ${s.collections.map((c) => source(`docs:${c.name}`, c.name, c.count, 'documents', () => this.openCollection(c.name, 0)))}
            ${source('files', 'Files', s.blobs.count, formatBytes(s.blobs.bytes), () => (this.open = 'files'))}
          </ul>
        </nav>
        <div class="pane">
          ${this.open === 'kv'
            ? html`<section aria-labelledby="kv-h">
                <h3 id="kv-h">Keys and values (${s.kv.count})</h3>
                ${this.kvView()}
              </section>`
            : this.open === 'files'
            ? html`<section aria-labelledby="blobs-h">
                <h3 id="blobs-h">Files (${s.blobs.count}, ${formatBytes(s.blobs.bytes)})</h3>
                ${this.blobsView()}
              </section>`
            : html`<section aria-labelledby="docs-h">
                <h3 id="docs-h">${this.collection} (${plural(this.docs?.total ?? 0, 'document')})</h3>
                ${this.docsView()}
              </section>`}
        </div>
      </div>`;
  }

  /** The JSON toggle of one record, and its JSON row when shown. */
  private jsonButton(id: string, label: string) {
    const shown = this.shownJson.has(id);
    return html`<button class="secondary" aria-expanded=${shown ? 'true' : 'false'} aria-label="${shown ? 'Hide' : 'Show'} the JSON of ${label}" @click=${() => this.toggleJson(id)}>
      ${shown ? 'Hide JSON' : 'JSON'}
    </button>`;
  }

  private jsonRow(id: string, text: string, columns: number) {
    if (!this.shownJson.has(id)) return '';
    return html`<tr class="json">
      <td colspan=${columns}>${preview(text)}</td>
    </tr>`;
  }

  private kvView() {
    const items = this.kv?.items ?? [];
    if (items.length === 0) return html`<p class="muted">No keys.</p>`;
    return html`<div class="table-wrap">
        <table>
          <thead>
            <tr><th scope="col">Key</th><th scope="col">Value</th><th scope="col">Size</th><th scope="col">Expires</th><th scope="col"><span class="visually-hidden">JSON</span></th></tr>
          </thead>
          <tbody>
            ${items.map((i) => {
              const id = `kv:${i.key}`;
              return html`<tr>
                  <td class="key">${i.key}</td>
                  <td data-label="Value">${fieldsOf(i.value)}</td>
                  <td class="small size" data-label="Size">${formatBytes(byteLength(i.value))}</td>
                  <td class="small" data-label="Expires">${i.expiresAt ? formatTime(i.expiresAt) : 'never'}</td>
                  <td>${this.jsonButton(id, i.key)}</td>
                </tr>
                ${this.jsonRow(id, pretty(i.value), 5)}`;
            })}
          </tbody>
        </table>
      </div>
      ${this.kv?.cursor ? html`<button class="secondary" @click=${this.moreKv}>Show more keys</button>` : ''}`;
  }

  private docsView() {
    const d = this.docs;
    if (!d) return html`<p class="muted">Loading…</p>`;
    if (d.total === 0) return html`<p class="muted">No documents.</p>`;
    return html`<p class="muted small">${d.offset + 1}–${d.offset + d.documents.length} of ${d.total}</p>
      <div class="table-wrap">
        <table>
          <thead>
            <tr><th scope="col">Id</th><th scope="col">Fields</th><th scope="col">Size</th><th scope="col"><span class="visually-hidden">JSON</span></th></tr>
          </thead>
          <tbody>
            ${d.documents.map((doc) => {
              const id = `doc:${doc._id}`;
              const text = JSON.stringify(doc, null, 2);
              const { _id, ...fields } = doc;
              return html`<tr>
                  <td class="key">${_id}</td>
                  <td data-label="Fields">${fieldList(fields)}</td>
                  <td class="small size" data-label="Size">${formatBytes(byteLength(JSON.stringify(doc)))}</td>
                  <td>${this.jsonButton(id, `document ${_id}`)}</td>
                </tr>
                ${this.jsonRow(id, text, 4)}`;
            })}
          </tbody>
        </table>
      </div>
      <div class="row">
        ${d.offset > 0 ? html`<button class="secondary" @click=${() => this.openCollection(d.collection, Math.max(0, d.offset - DOCS_PAGE))}>Previous</button>` : ''}
        ${d.offset + d.documents.length < d.total ? html`<button class="secondary" @click=${() => this.openCollection(d.collection, d.offset + DOCS_PAGE)}>Next</button>` : ''}
      </div>`;
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

/** Bytes of a text in UTF-8. */
function byteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Longest shown value of one field, in characters. */
const FIELD_CHARS = 60;

/** One field's value in a table cell: strings as they are, the rest as short JSON. */
function short(v: unknown): string {
  const t = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  return t.length > FIELD_CHARS ? `${t.slice(0, FIELD_CHARS)}…` : t;
}

/** A record's top-level fields as `name value` pairs (at most 6, then "+ n more"). */
function fieldList(fields: Record<string, unknown>) {
  const entries = Object.entries(fields);
  if (entries.length === 0) return html`<span class="muted">no fields</span>`;
  return html`<span class="fields"
    >${entries.slice(0, 6).map(([k, v]) => html`<span class="f"><b>${k}</b> ${short(v)}</span>`)}${entries.length > 6
      ? html`<span class="f muted">+ ${entries.length - 6} more</span>`
      : ''}</span
  >`;
}

/** A kv value (JSON text) in a table cell: an object's fields, or the value itself. */
function fieldsOf(jsonText: string) {
  try {
    const v = JSON.parse(jsonText) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return fieldList(v as Record<string, unknown>);
    return html`<span class="f">${short(v)}</span>`;
  } catch {
    return html`<span class="f">${short(jsonText)}</span>`;
  }
}

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
