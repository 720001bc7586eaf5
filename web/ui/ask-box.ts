/**
 * `<fazt-ask>`: the owner asks the node a question in plain words (`POST /api/ai/ask`, docs/ai.md
 * "Ask"). The answer streams in; each tool call the model makes is listed as it happens, with its
 * outcome; a tool that changes the node waits for Approve / Refuse
 * (`POST /api/ai/ask/:id/confirm`). Without a provider it says how to add one (Settings → AI). Shown
 * on the Apps screen (never in guided mode); hidden for a session that may not use `/api/ai`.
 */
import { LitElement, html, css } from 'lit';
import type { FaztApi } from '../lib/api.js';
import { href } from '../lib/router.js';
import { base } from './styles.js';

/** One tool call as the box lists it. */
interface ToolRow {
  toolCallId: string;
  toolName: string;
  input: unknown;
  state: 'running' | 'waiting' | 'done' | 'failed' | 'refused';
  /** The confirmation id while `waiting`. */
  confirmId?: string;
  detail?: string;
}

/** A short one-line view of a JSON value (arguments, results). */
function brief(v: unknown, max = 140): string {
  const s = JSON.stringify(v ?? null);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/**
 * A tool result in a few words: a list (`{apps: [...]}`) as its count and the names in it
 * ("2 apps: hello, notes"); anything else as {@link brief}.
 */
export function summarize(output: unknown): string {
  if (output && typeof output === 'object' && !Array.isArray(output)) {
    const entries = Object.entries(output as Record<string, unknown>);
    const list = entries.find(([, v]) => Array.isArray(v));
    if (list) {
      const items = list[1] as unknown[];
      const names = items
        .map((i) => (i && typeof i === 'object' ? ((i as Record<string, unknown>).name ?? (i as Record<string, unknown>).key ?? (i as Record<string, unknown>).path ?? (i as Record<string, unknown>).id) : i))
        .filter((n) => typeof n === 'string' || typeof n === 'number')
        .slice(0, 10);
      return `${items.length} ${list[0]}${names.length ? `: ${names.join(', ')}${items.length > names.length ? ', …' : ''}` : ''}`;
    }
  }
  return brief(output);
}

/** The Ask box. */
export class FaztAsk extends LitElement {
  static properties = {
    api: { attribute: false },
    status: { state: true },
    answer: { state: true },
    tools: { state: true },
    error: { state: true },
    asking: { state: true },
  };
  static styles = [
    base,
    css`
      form .row {
        align-items: stretch;
        flex-wrap: nowrap;
      }
      form input {
        flex: 1 1 auto;
        min-width: 0;
      }
      form button {
        flex: 0 0 auto;
      }
      ol.tools {
        list-style: none;
        padding: 0;
        margin: 0.75rem 0 0;
      }
      ol.tools li {
        border: 1px solid var(--line);
        border-radius: 10px;
        padding: 0.5rem 0.75rem;
        margin-bottom: 0.5rem;
        overflow-wrap: anywhere;
      }
      ol.tools li.waiting {
        border: 2px solid var(--focus);
      }
      ol.tools code {
        font-size: 0.85rem;
      }
      .answer {
        white-space: pre-wrap;
        margin: 0.75rem 0 0;
      }
    `,
  ];

  declare api: FaztApi;
  /** `hidden` (no admin access or no /api/ai), `none` (no provider), `ready`, or undefined while loading. */
  declare status: 'hidden' | 'none' | 'ready' | undefined;
  declare answer: string;
  declare tools: ToolRow[];
  declare error: string;
  declare asking: boolean;
  private abort: AbortController | undefined;

  constructor() {
    super();
    this.status = undefined;
    this.answer = '';
    this.tools = [];
    this.error = '';
    this.asking = false;
  }

  updated(changed: Map<string, unknown>): void {
    if (changed.has('api') && this.api) void this.load();
  }

  disconnectedCallback(): void {
    super.disconnectedCallback();
    this.abort?.abort();
  }

  private async load() {
    try {
      const s = await this.api.call<{ configured: boolean }>('GET', '/ai');
      this.status = s.configured ? 'ready' : 'none';
    } catch {
      this.status = 'hidden';
    }
  }

  render() {
    if (this.status === undefined || this.status === 'hidden') return html``;
    return html`<section class="card" aria-labelledby="ask-h">
      <h2 id="ask-h">Ask your node</h2>
      ${this.status === 'none'
        ? html`<p>Ask questions like “which app failed last night?” once the node has an AI model: add a provider (OpenAI, Anthropic, Google, Ollama or a local server) and its key in Settings → AI.</p>
            <p><a class="button secondary" href=${href({ screen: 'settings' })}>Add an AI provider</a></p>`
        : html`<form @submit=${this.ask}>
              <label for="ask-q">Your question</label>
              <div class="row">
                <input id="ask-q" name="q" autocomplete="off" placeholder="Which app failed last night?" ?disabled=${this.asking} />
                <button type="submit" ?disabled=${this.asking}>${this.asking ? 'Asking…' : 'Ask'}</button>
              </div>
            </form>
            ${this.tools.length ? html`<ol class="tools" aria-label="Tool calls">${this.tools.map((t) => this.toolView(t))}</ol>` : ''}
            <div class="answer" role="region" aria-live="polite" aria-label="Answer">${this.answer}</div>
            <p class="error" role="alert">${this.error}</p>`}
    </section>`;
  }

  private toolView(t: ToolRow) {
    const label: Record<ToolRow['state'], string> = { running: 'running…', waiting: 'waits for you', done: 'done', failed: 'failed', refused: 'refused' };
    return html`<li class=${t.state} data-tool=${t.toolName}>
      <strong>${t.toolName}</strong> <span class="badge">${label[t.state]}</span>
      <div><code>${brief(t.input)}</code></div>
      ${t.detail ? html`<div class="muted small">${t.detail}</div>` : ''}
      ${t.state === 'waiting'
        ? html`<p class="small">This changes the node. Run it?</p>
            <div class="row">
              <button @click=${() => this.answerConfirm(t, true)} aria-label="Approve ${t.toolName}">Approve</button>
              <button class="secondary" @click=${() => this.answerConfirm(t, false)} aria-label="Refuse ${t.toolName}">Refuse</button>
            </div>`
        : ''}
    </li>`;
  }

  private update1(id: string, patch: Partial<ToolRow>, fallback?: Omit<ToolRow, 'state'>) {
    const i = this.tools.findIndex((t) => t.toolCallId === id);
    if (i < 0) {
      if (fallback) this.tools = [...this.tools, { state: 'running', ...fallback, ...patch }];
      return;
    }
    this.tools = this.tools.map((t, j) => (j === i ? { ...t, ...patch } : t));
  }

  private async answerConfirm(t: ToolRow, approve: boolean) {
    if (!t.confirmId) return;
    try {
      await this.api.call('POST', `/ai/ask/${encodeURIComponent(t.confirmId)}/confirm`, { approve });
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  private async ask(ev: SubmitEvent) {
    ev.preventDefault();
    const input = this.renderRoot.querySelector<HTMLInputElement>('#ask-q')!;
    const question = input.value.trim();
    if (!question) {
      this.error = 'Type a question first.';
      input.focus();
      return;
    }
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    this.answer = '';
    this.tools = [];
    this.error = '';
    this.asking = true;
    try {
      const res = await fetch(this.api.url('/ai/ask'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ question }), credentials: 'same-origin', signal: abort.signal });
      if (!res.ok) {
        let msg = `The node answered ${res.status}.`;
        try {
          const b = (await res.json()) as { error?: { code?: string; message?: string } };
          if (b.error?.code === 'AI_UNAVAILABLE') this.status = 'none';
          msg = b.error?.message ?? msg;
        } catch {
          // not JSON
        }
        this.error = msg;
        return;
      }
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        buf += r.value;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const line = buf.slice(0, i).replace(/^data: /, '');
          buf = buf.slice(i + 2);
          if (line && line !== '[DONE]') this.onEvent(JSON.parse(line));
        }
      }
    } catch (e) {
      if ((e as Error).name !== 'AbortError') this.error = `The answer stopped: ${(e as Error).message}`;
    } finally {
      if (this.abort === abort) this.asking = false;
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private onEvent(e: any) {
    switch (e.type) {
      case 'text-delta':
        this.answer += e.delta;
        break;
      case 'tool-input-available':
        this.update1(e.toolCallId, {}, { toolCallId: e.toolCallId, toolName: e.toolName, input: e.input });
        break;
      case 'tool-input-error':
        this.update1(e.toolCallId, { state: 'failed', detail: e.errorText }, { toolCallId: e.toolCallId, toolName: e.toolName, input: e.input });
        break;
      case 'data-confirm':
        this.update1(e.data.toolCallId, { state: 'waiting', confirmId: e.data.id }, { toolCallId: e.data.toolCallId, toolName: e.data.toolName, input: e.data.input });
        break;
      case 'data-confirmed':
        this.update1(e.data.toolCallId, e.data.approved ? { state: 'running', confirmId: undefined, detail: 'approved' } : { state: 'refused', confirmId: undefined, detail: 'not run' });
        break;
      case 'tool-output-available':
        this.update1(e.toolCallId, { state: 'done', detail: summarize(e.output) });
        break;
      case 'tool-output-error': {
        const refused = this.tools.find((t) => t.toolCallId === e.toolCallId)?.state === 'refused';
        this.update1(e.toolCallId, refused ? { detail: 'not run' } : { state: 'failed', detail: e.errorText });
        break;
      }
      case 'error':
        this.error = e.errorText;
        break;
    }
  }
}
customElements.define('fazt-ask', FaztAsk);

declare global {
  interface HTMLElementTagNameMap {
    'fazt-ask': FaztAsk;
  }
}
