/**
 * `<fazt-logs>`: an app's log, live. The hub streams it as server-sent events; this device's node
 * sends it over the device link. Loaded on demand (only when the Logs tab opens).
 */
import { LitElement, html, css } from 'lit';
import type { FaztApi, FollowState } from '../lib/api.js';
import type { AppInfo, LogEntry } from '../lib/api-types.js';
import { formatClock } from '../lib/format.js';
import { base } from './styles.js';

/** Most entries kept on screen. */
const MAX_ENTRIES = 1000;
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** An app's live log. */
export class FaztLogs extends LitElement {
  static properties = {
    api: { attribute: false },
    app: { attribute: false },
    entries: { state: true },
    state: { state: true },
    level: { state: true },
  };
  static styles = [
    base,
    css`
      @media (min-width: 64rem) {
        /* two panes: what is shown on the left, the log itself fills the rest */
        .layout {
          display: grid;
          grid-template-columns: 15rem minmax(0, 1fr);
          gap: 1rem;
          align-items: start;
        }
        .layout .controls {
          flex-direction: column;
          align-items: stretch;
          position: sticky;
          top: 0.5rem;
        }
        .layout .controls .row {
          flex-direction: column;
          align-items: stretch;
        }
        .layout .log {
          max-height: calc(100vh - 16rem);
          min-height: 20rem;
        }
      }
      .log {
        max-height: min(60vh, 36rem);
        overflow: auto;
        border: 1px solid var(--line);
        border-radius: 8px;
        background: var(--code-bg);
        font-family: ui-monospace, Menlo, Consolas, monospace;
        font-size: 0.85rem;
      }
      .entry {
        display: grid;
        grid-template-columns: max-content max-content 1fr;
        gap: 0 0.6rem;
        padding: 0.3rem 0.6rem;
        border-bottom: 1px solid var(--line);
      }
      .entry .src {
        grid-column: 3;
        color: var(--muted);
      }
      .lvl {
        font-weight: 700;
        text-transform: uppercase;
        font-size: 0.75rem;
        padding-top: 0.1rem;
      }
      .lvl.warn {
        color: var(--warn-text);
      }
      .lvl.error {
        color: var(--danger-text);
      }
      .msg {
        white-space: pre-wrap;
        word-break: break-word;
      }
      select {
        width: auto;
      }
      .controls label {
        margin: 0;
      }
      @media (max-width: 30rem) {
        .entry {
          grid-template-columns: max-content 1fr;
        }
        .entry .time {
          grid-column: 1 / -1;
          color: var(--muted);
        }
        .entry .src {
          grid-column: 2;
        }
      }
    `,
  ];

  /** Client of the node acted on. */
  api!: FaztApi;
  /** The app whose log is shown. */
  app!: AppInfo;
  private entries: LogEntry[] = [];
  private state: FollowState = 'connecting';
  private level: (typeof LEVELS)[number] = 'debug';
  private stop: (() => void) | undefined;
  private seen = 0;

  updated(changed: Map<string, unknown>) {
    if (changed.has('api') || changed.has('app')) this.follow();
    if (changed.has('entries')) {
      const box = this.renderRoot.querySelector('.log');
      if (box && box.scrollHeight - box.scrollTop - box.clientHeight < 80) box.scrollTop = box.scrollHeight;
    }
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    this.stop?.();
    this.stop = undefined;
  }

  connectedCallback() {
    super.connectedCallback();
    if (this.hasUpdated && !this.stop) this.follow();
  }

  private follow() {
    this.stop?.();
    this.entries = [];
    this.seen = 0;
    if (!this.api || !this.app) return;
    this.stop = this.api.followLogs(
      this.app,
      (e) => {
        if (e.id <= this.seen) return;
        this.seen = e.id;
        const next = [...this.entries, e];
        this.entries = next.length > MAX_ENTRIES ? next.slice(-MAX_ENTRIES) : next;
      },
      (s) => (this.state = s),
    );
  }

  render() {
    const min = LEVELS.indexOf(this.level);
    const shown = this.entries.filter((e) => LEVELS.indexOf(e.level) >= min);
    const stateText = { connecting: 'Connecting…', live: 'Live: new lines appear as they are written.', reconnecting: 'Connection lost; reconnecting…', ended: 'Not following.' }[this.state];
    return html`<div class="layout"><div class="spread controls">
        <p class="muted small" role="status">${stateText}</p>
        <div class="row">
          <label for="level">Show</label>
          <select id="level" @change=${(e: Event) => (this.level = (e.target as HTMLSelectElement).value as (typeof LEVELS)[number])}>
            <option value="debug">everything</option>
            <option value="info">info and above</option>
            <option value="warn">warnings and errors</option>
            <option value="error">errors only</option>
          </select>
          <button class="secondary" @click=${() => (this.entries = [])}>Clear</button>
        </div>
      </div>
      <div class="log" role="log" aria-label="Log of ${this.app?.name}" tabindex="0">
        ${shown.length === 0
          ? html`<p class="muted" style="padding:0.75rem">No log lines yet. Server code writes here with <code>console.log</code>; requests and jobs that fail show up too.</p>`
          : shown.map(
              (e) => html`<div class="entry">
                <span class="time">${formatClock(e.ts)}</span>
                <span class="lvl ${e.level}">${e.level}</span>
                <span class="msg">${e.message}${e.data !== undefined ? ` ${safeJson(e.data)}` : ''}</span>
                ${e.source ? html`<span class="src small">${e.source}</span>` : ''}
              </div>`,
            )}
      </div></div>`;
  }
}
customElements.define('fazt-logs', FaztLogs);

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'fazt-logs': FaztLogs;
  }
}
