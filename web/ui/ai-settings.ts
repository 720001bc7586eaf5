/**
 * `<fazt-ai-settings>`: the AI section of Settings (docs/ai.md): the node's model providers (name,
 * kind, model, whether a key is stored — never the key), adding or editing one with a write-only key
 * field, the default provider, and this month's usage per app (every app, and the owner's own use)
 * with its token budget. Talks to `/api/ai/*`.
 */
import { LitElement, html, css } from 'lit';
import type { FaztApi } from '../lib/api.js';
import { base } from './styles.js';

/** A provider as `/api/ai/providers` lists it (no key, ever). */
interface Provider {
  name: string;
  kind: string;
  baseUrl: string | null;
  hasKey: boolean;
  defaultModel: string | null;
  isDefault: boolean;
}

/** A kind as `GET /api/ai` describes it. */
interface Kind {
  kind: string;
  needsKey: boolean;
  needsBaseUrl: boolean;
  defaultBaseUrl: string | null;
}

interface UsageRow {
  appId: string;
  app: string | null;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  errors: number;
  budget: { tokensPerMonth: number | null; callsPerMonth: number | null } | null;
}

const KIND_LABEL: Record<string, string> = {
  openai: 'OpenAI',
  anthropic: 'Anthropic',
  google: 'Google',
  ollama: 'Ollama',
  'openai-compatible': 'OpenAI-compatible (llama.cpp, LM Studio…)',
};

/** The AI section of Settings. */
export class FaztAiSettings extends LitElement {
  static properties = {
    api: { attribute: false },
    providers: { state: true },
    kinds: { state: true },
    usage: { state: true },
    period: { state: true },
    loadError: { state: true },
    editing: { state: true },
    formError: { state: true },
    saved: { state: true },
    busy: { state: true },
    budgetError: { state: true },
    relayServe: { state: true },
  };
  static styles = [
    base,
    css`
      .provider {
        display: flex;
        flex-wrap: wrap;
        justify-content: space-between;
        gap: 0.5rem;
        padding: 0.6rem 0;
        border-top: 1px solid var(--line);
      }
      .provider:first-child {
        border-top: 0;
      }
      .provider .row {
        margin: 0;
      }
      form {
        margin-top: 0.75rem;
      }
      li.use {
        display: flex;
        flex-wrap: wrap;
        justify-content: space-between;
        align-items: center;
        gap: 0.35rem 1rem;
        padding: 0.5rem 0;
        border-top: 1px solid var(--line);
      }
      form.budget {
        flex-wrap: nowrap;
        align-items: center;
        gap: 0.35rem;
        margin: 0;
      }
      form.budget label {
        margin: 0;
        font-weight: 400;
      }
      .check {
        display: flex;
        align-items: center;
        gap: 0.6rem;
        min-height: 44px;
        margin-top: 0.75rem;
        font-weight: 600;
        cursor: pointer;
      }
      .check input {
        width: 1.4rem;
        height: 1.4rem;
        min-height: 0;
        margin: 0;
        flex: none;
      }
      .budget input {
        width: 6.5rem;
        min-height: 44px;
        padding: 0.5rem;
      }
    `,
  ];

  declare api: FaztApi;
  declare providers: Provider[] | undefined;
  declare kinds: Kind[];
  declare usage: UsageRow[];
  declare period: string;
  declare loadError: string;
  /** The form: `''` for a new provider, a name to edit, undefined when closed. */
  declare editing: string | undefined;
  declare formError: string;
  declare saved: string;
  declare busy: boolean;
  declare budgetError: string;
  /** The switch "Let paired devices use this node's AI" (`GET /api/ai` → `relay.serve`). */
  declare relayServe: boolean | undefined;

  constructor() {
    super();
    this.providers = undefined;
    this.kinds = [];
    this.usage = [];
    this.period = '';
    this.loadError = '';
    this.editing = undefined;
    this.formError = '';
    this.saved = '';
    this.busy = false;
    this.budgetError = '';
    this.relayServe = undefined;
  }

  updated(changed: Map<string, unknown>): void {
    if (changed.has('api') && this.api) void this.load();
  }

  private async load() {
    this.loadError = '';
    try {
      const s = await this.api.call<{ providers: Provider[]; kinds: Kind[]; relay?: { serve: boolean } }>('GET', '/ai');
      this.providers = s.providers;
      this.kinds = s.kinds;
      this.relayServe = s.relay?.serve;
      const [u, apps] = await Promise.all([this.api.call<{ period: string; usage: UsageRow[]; budgets: (UsageRow['budget'] & { appId: string })[] }>('GET', '/ai/usage'), this.api.apps()]);
      this.period = u.period;
      // every app gets a row (a budget can be set before its first call); the owner's own use first
      const byId = new Map(u.usage.map((r) => [r.appId, r]));
      const budgets = new Map(u.budgets.map((b) => [b.appId, b]));
      const owner = byId.get('');
      this.usage = [
        ...(owner ? [owner] : []),
        ...apps.map((a) => byId.get(a.id) ?? { appId: a.id, app: a.name, calls: 0, inputTokens: 0, outputTokens: 0, errors: 0, budget: budgets.get(a.id) ?? null }),
        // calls paired nodes relayed through this one (docs/ai.md "Relay through a paired node")
        ...u.usage.filter((r) => r.appId.startsWith('relay:')),
      ];
    } catch (e) {
      this.loadError = (e as Error).message;
    }
  }

  render() {
    return html`<section class="card" aria-labelledby="ai-h" id="ai">
      <h2 id="ai-h">AI</h2>
      <p class="muted">Models the node uses for the Ask box and for apps with the <code>ai</code> permission. Keys are stored encrypted on the node and never shown again.</p>
      ${this.loadError
        ? html`<p class="error" role="alert">Could not load the AI settings: ${this.loadError}</p>
            <button class="secondary" @click=${this.load}>Try again</button>`
        : this.providers === undefined
          ? html`<p class="muted">Loading…</p>`
          : html`${this.providerList()} ${this.editing === undefined ? html`<div class="row"><button @click=${() => this.open('')}>Add a provider</button></div>` : this.form()}
              <p class="ok" role="status">${this.saved}</p>
              ${this.relayView()} ${this.usageView()}`}
    </section>`;
  }

  private providerList() {
    const list = this.providers ?? [];
    if (!list.length) return html`<p>No provider yet: add one (OpenAI, Anthropic, Google, Ollama, or a local OpenAI-compatible server) to use the Ask box and AI in apps.</p>`;
    return html`<ul class="plain providers" aria-label="AI providers">
      ${list.map(
        (p) => html`<li class="provider" data-provider=${p.name}>
          <div>
            <strong>${p.name}</strong> ${p.isDefault ? html`<span class="badge live">default</span>` : ''}
            <div class="muted small">${KIND_LABEL[p.kind] ?? p.kind} · model ${p.defaultModel ?? 'none set'} · ${p.hasKey ? 'key stored' : 'no key'}${p.baseUrl ? html` · ${p.baseUrl}` : ''}</div>
          </div>
          <div class="row">
            <button class="secondary" @click=${() => this.open(p.name)} aria-label="Edit ${p.name}">Edit</button>
            ${p.isDefault ? '' : html`<button class="secondary" @click=${() => this.makeDefault(p.name)} aria-label="Make ${p.name} the default">Make default</button>`}
            <button class="secondary" @click=${() => this.removeProvider(p.name)} aria-label="Remove ${p.name}">Remove</button>
          </div>
        </li>`,
      )}
    </ul>`;
  }

  private open(name: string) {
    this.editing = name;
    this.formError = '';
    this.saved = '';
    void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(name ? '#ai-model' : '#ai-name')?.focus());
  }

  private form() {
    const p = this.providers?.find((x) => x.name === this.editing);
    const isNew = !p;
    return html`<form @submit=${this.save} aria-labelledby="ai-form-h" novalidate>
      <h3 id="ai-form-h">${isNew ? 'Add a provider' : `Edit ${p.name}`}</h3>
      ${isNew
        ? html`<label for="ai-name">Name</label>
            <input id="ai-name" name="name" required autocomplete="off" placeholder="openai" aria-describedby="ai-form-error" />`
        : ''}
      <label for="ai-kind">Kind</label>
      <select id="ai-kind" name="kind">
        ${this.kinds.map((k) => html`<option value=${k.kind} ?selected=${(p?.kind ?? 'openai') === k.kind}>${KIND_LABEL[k.kind] ?? k.kind}</option>`)}
      </select>
      <label for="ai-base">Base URL <span class="muted small">(needed for an OpenAI-compatible server; otherwise optional)</span></label>
      <input id="ai-base" name="baseUrl" type="url" autocomplete="off" placeholder="http://127.0.0.1:8080/v1" .value=${p?.baseUrl ?? ''} />
      <label for="ai-model">Default model</label>
      <input id="ai-model" name="defaultModel" autocomplete="off" placeholder="gpt-4o-mini" .value=${p?.defaultModel ?? ''} />
      <label for="ai-key">API key ${p?.hasKey ? html`<span class="muted small">(a key is stored; leave empty to keep it)</span>` : ''}</label>
      <input id="ai-key" name="key" type="password" autocomplete="new-password" spellcheck="false" placeholder=${p?.hasKey ? '•••••• (stored)' : 'sk-…'} />
      <label class="check"><input type="checkbox" name="default" ?checked=${p ? p.isDefault : !(this.providers ?? []).length} /> The node's default provider</label>
      <p id="ai-form-error" class="error" role="alert">${this.formError}</p>
      <div class="row">
        <button type="submit" ?disabled=${this.busy}>Save provider</button>
        <button type="button" class="secondary" @click=${() => (this.editing = undefined)}>Cancel</button>
      </div>
    </form>`;
  }

  private async save(ev: SubmitEvent) {
    ev.preventDefault();
    const form = ev.target as HTMLFormElement;
    const f = new FormData(form);
    const name = this.editing || String(f.get('name') ?? '').trim();
    if (!name) {
      this.formError = 'Give the provider a name (like "openai" or "local").';
      this.renderRoot.querySelector<HTMLElement>('#ai-name')?.focus();
      return;
    }
    const body: Record<string, unknown> = { kind: f.get('kind'), baseUrl: String(f.get('baseUrl') ?? '').trim() || null, defaultModel: String(f.get('defaultModel') ?? '').trim() || null };
    const key = String(f.get('key') ?? '');
    if (key) body.key = key;
    if (f.get('default') === 'on') body.default = true;
    this.busy = true;
    this.formError = '';
    try {
      await this.api.call('PUT', `/ai/providers/${encodeURIComponent(name)}`, body);
      form.reset(); // the key leaves the page
      this.editing = undefined;
      await this.load();
      this.saved = `Saved ${name}.`;
    } catch (e) {
      this.formError = (e as Error).message;
    } finally {
      this.busy = false;
    }
  }

  private async makeDefault(name: string) {
    try {
      await this.api.call('PUT', '/ai/default', { provider: name });
      this.saved = `${name} is the default provider.`;
      await this.load();
    } catch (e) {
      this.saved = '';
      this.loadError = (e as Error).message;
    }
  }

  private async removeProvider(name: string) {
    if (!confirm(`Remove the AI provider “${name}” and its key? Apps and the Ask box that use it stop working until another is set.`)) return;
    try {
      await this.api.call('DELETE', `/ai/providers/${encodeURIComponent(name)}`);
      this.saved = `Removed ${name}.`;
      await this.load();
    } catch (e) {
      this.loadError = (e as Error).message;
    }
  }

  private relayView() {
    if (this.relayServe === undefined) return '';
    return html`<label class="check" for="ai-relay">
        <input type="checkbox" id="ai-relay" .checked=${this.relayServe} @change=${(e: Event) => this.setRelay((e.target as HTMLInputElement).checked)} />
        <span>Let paired devices use this node's AI</span>
      </label>
      <p class="muted small">A paired device with no key of its own (your phone) calls models through this node while it is connected; this node's keys never leave it, and its calls count below as “Relayed for a paired node”.</p>`;
  }

  private async setRelay(on: boolean) {
    try {
      const r = await this.api.call<{ serve: boolean }>('PUT', '/ai/relay', { serve: on });
      this.relayServe = r.serve;
      this.saved = r.serve ? 'Paired devices may use this node’s AI.' : 'Paired devices may no longer use this node’s AI.';
    } catch (e) {
      this.loadError = (e as Error).message;
    }
  }

  private usageView() {
    const rows = this.usage;
    return html`<h3>Usage this month${this.period ? html` <span class="muted small">(${this.period}, UTC)</span>` : ''}</h3>
      ${rows.length
        ? html`<ul class="plain usage" aria-label="Usage and budgets">
              ${rows.map(
                (u) => html`<li class="use" data-usage=${u.appId === '' ? 'owner' : u.app!}>
                  <div>
                    <strong>${u.appId === '' ? 'You (Ask, CLI)' : u.appId.startsWith('relay:') ? `Relayed for a paired node (${u.appId.slice(6, 14)}…)` : u.app}</strong>
                    <div class="muted small">${u.calls} ${u.calls === 1 ? 'call' : 'calls'}${u.errors ? ` (${u.errors} failed)` : ''} · ${u.inputTokens + u.outputTokens} tokens</div>
                  </div>
                  ${u.appId === ''
                    ? html`<span class="muted small">no cap</span>`
                    : html`<form class="budget row" @submit=${(e: SubmitEvent) => this.setBudget(e, u.app!)}>
                        <label class="small" for="budget-${u.appId}">Cap, tokens/month</label>
                        <input id="budget-${u.appId}" name="tokens" inputmode="numeric" placeholder="no cap" aria-label="Tokens per month for ${u.app}" .value=${u.budget?.tokensPerMonth?.toString() ?? ''} />
                        <button class="secondary" type="submit" aria-label="Save the budget of ${u.app}">Save</button>
                      </form>`}
                </li>`,
              )}
            </ul>
            <p class="error" role="alert">${this.budgetError}</p>`
        : html`<p class="muted">No apps and no model calls yet.</p>`}
      <p class="muted small">An app over its budget gets the error <code>AI_BUDGET_EXCEEDED</code> until the next month or a higher budget.</p>`;
  }

  private async setBudget(e: SubmitEvent, app: string) {
    e.preventDefault();
    const raw = String(new FormData(e.target as HTMLFormElement).get('tokens') ?? '').trim();
    const n = raw === '' ? null : Number(raw);
    if (n !== null && (!Number.isSafeInteger(n) || n < 0)) {
      this.saved = '';
      this.budgetError = `The budget of ${app} must be a whole number of tokens, or empty for no cap.`;
      return;
    }
    this.budgetError = '';
    try {
      await this.api.call('PUT', `/ai/budgets/${encodeURIComponent(app)}`, { tokensPerMonth: n });
      await this.load(); // the table is fresh before it says so
      this.saved = `Budget of ${app} saved.`;
    } catch (err) {
      this.budgetError = (err as Error).message;
    }
  }
}
customElements.define('fazt-ai-settings', FaztAiSettings);

declare global {
  interface HTMLElementTagNameMap {
    'fazt-ai-settings': FaztAiSettings;
  }
}
