/**
 * `<fazt-settings>`: settings of the node acted on, in sections (see {@link FaztSettings.sections}:
 * a new section, such as AI or sync, is one more entry there). For this device: storage persistence
 * and quota, the cartridge (export as a download, import a file), its backups, and starting fresh
 * when it is damaged; the technical facts sit in an "Advanced" part. For the hub: API tokens (with a
 * copy button) and a backup download; signing out is in the header's account menu. For both: guided
 * mode and its lock. An error is shown next to the control that caused it, announced, and focus
 * moves there. Loaded on demand.
 */
import { LitElement, html, css } from 'lit';
import type { FaztApi } from '../lib/api.js';
import type { TokenInfo } from '../lib/api-types.js';
import { deviceNode, type DeviceStatus } from '../lib/device.js';
import { formatBytes, formatTime } from '../lib/format.js';
import { loadGuided, saveGuided, validPin, type GuidedLock } from '../lib/guided-state.js';
import { go } from '../lib/router.js';
import { base } from './styles.js';
import './ai-settings.js';
import './notify-settings.js';
import { emit, toast, GUIDED_CHANGED, SESSION_CHANGED, UNREACHABLE } from './events.js';

interface StorageFacts {
  persisted?: boolean;
  usage?: number;
  quota?: number;
}

/** Settings screen. */
export class FaztSettings extends LitElement {
  static properties = {
    api: { attribute: false },
    deviceAvailable: { type: Boolean },
    targetLabel: {},
    storage: { state: true },
    device: { state: true },
    tokens: { state: true },
    tokensError: { state: true },
    newToken: { state: true },
    copied: { state: true },
    error: { state: true },
    errors: { state: true },
    confirm: { state: true },
    busy: { state: true },
    lockChoice: { state: true },
  };
  static styles = [
    base,
    css`
      meter {
        width: 100%;
        height: 1rem;
      }
      dl {
        display: grid;
        grid-template-columns: max-content 1fr;
        gap: 0.25rem 1rem;
        margin: 0 0 1rem;
      }
      dt {
        color: var(--muted);
      }
      dd {
        margin: 0;
        /* long ids may break anywhere, words only when they cannot fit ("availa ble" never) */
        overflow-wrap: anywhere;
      }
      details.advanced {
        margin: 0.75rem 0;
      }
      details.advanced summary {
        cursor: pointer;
        min-height: 44px;
        display: flex;
        align-items: center;
        font-weight: 600;
        color: var(--link);
      }
      .field-error {
        margin: 0.35rem 0 0;
      }
      input[aria-invalid='true'] {
        border-color: var(--danger);
        border-width: 2px;
      }
      .token {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem;
        align-items: center;
      }
      .token code {
        flex: 1 1 16rem;
        padding: 0.5rem;
      }
      .file-pick {
        position: relative;
        margin: 0.5rem 0;
      }
      /* the native file input stays in the page (keyboard, screen readers, tests) but is drawn as a button */
      .file-pick input[type='file'] {
        position: absolute;
        inset: 0;
        width: 100%;
        height: 100%;
        opacity: 0;
        cursor: pointer;
      }
      .file-pick .button {
        width: 100%;
        pointer-events: none;
      }
      .file-pick input[type='file']:focus-visible + .button {
        outline: 3px solid var(--focus);
        outline-offset: 2px;
      }
      @media (min-width: 64rem) {
        .sections {
          display: grid;
          grid-template-columns: repeat(2, minmax(0, 1fr));
          gap: 0 1rem;
          align-items: start;
        }
      }
      li.item {
        display: flex;
        flex-wrap: wrap;
        justify-content: space-between;
        gap: 0.5rem;
        align-items: center;
        padding: 0.6rem 0;
        border-top: 1px solid var(--line);
      }
      li.item:first-child {
        border-top: 0;
      }
      .confirm {
        border: 2px solid var(--danger);
        border-radius: 10px;
        padding: 0.75rem;
        margin: 0.75rem 0;
      }
      fieldset {
        border: 0;
        padding: 0;
        margin: 0.5rem 0;
      }
      legend {
        font-weight: 600;
      }
      .radio {
        display: flex;
        gap: 0.6rem;
        align-items: center;
        font-weight: 400;
        margin: 0.25rem 0;
        min-height: 44px;
      }
      .radio input {
        width: 22px;
        min-height: 22px;
        height: 22px;
      }
      .warn {
        background: var(--warn-bg);
        color: var(--warn-text);
        padding: 0.75rem;
        border-radius: 10px;
      }
    `,
  ];

  /** Client of the node acted on. */
  api!: FaztApi;
  /** Whether this device's node answers (its section is shown then, even when acting on the hub). */
  deviceAvailable = false;
  /** Name of the node acted on. */
  targetLabel = '';
  private storage: StorageFacts = {};
  private device: DeviceStatus | undefined;
  private tokens: TokenInfo[] | undefined;
  /** Why the token list could not be loaded (never shown as "No tokens."). */
  private tokensError = '';
  private newToken = '';
  /** The copy button just copied the new token. */
  private copied = false;
  /** An error of the whole screen (the node cannot be read at all). */
  private error = '';
  /** Errors shown next to the control that caused them, by field or section id. */
  private errors: Record<string, string> = {};
  /** The pending confirmation: what will happen if the person says yes. */
  private confirm: { text: string; yes: string; run: () => Promise<void>; at?: string } | undefined;
  private busy = false;
  private lockChoice: GuidedLock = 'none';

  updated(changed: Map<string, unknown>) {
    if (changed.has('api') || changed.has('deviceAvailable')) this.load();
    // a question appears at the top: bring it into view, focus on the safe answer
    if (changed.has('confirm') && this.confirm) this.renderRoot.querySelector<HTMLElement>('.confirm button.secondary')?.focus();
  }

  private get onDevice() {
    return this.api?.target === 'device';
  }

  /**
   * Shows `message` next to the control `id` (a field or a section's buttons), announces it
   * (`role="alert"`) and moves focus to the field. An empty message clears it.
   */
  private async fieldError(id: string, message: string, focus?: string) {
    this.errors = { ...this.errors, [id]: message };
    if (!message) return;
    await this.updateComplete;
    const el = this.renderRoot.querySelector<HTMLElement>(focus ? `#${focus}` : `#${id}-error`);
    el?.focus();
    (el ?? this.renderRoot.querySelector(`#${id}-error`))?.scrollIntoView({ block: 'center', behavior: 'smooth' });
  }

  /** The error of `id`, drawn where it is called. */
  private errorAt(id: string) {
    const m = this.errors[id];
    return html`<p id="${id}-error" class="error field-error" role="alert" tabindex="-1">${m ?? ''}</p>`;
  }

  private async load() {
    this.error = '';
    this.errors = {};
    this.newToken = '';
    this.storage = await storageFacts();
    this.lockChoice = this.onDevice ? 'pin' : 'password';
    if (this.onDevice || this.deviceAvailable) {
      try {
        this.device = await (await deviceNode()).status();
      } catch (e) {
        this.device = undefined;
        if (this.onDevice) this.error = `This device's node does not answer: ${(e as Error).message}`;
      }
    }
    if (!this.onDevice) await this.loadTokens();
  }

  private async loadTokens() {
    this.tokensError = '';
    try {
      this.tokens = await this.api.tokens();
    } catch (e) {
      this.tokens = undefined;
      this.tokensError = (e as Error).message;
      // the shell owns the link state: it probes and says so in the connection bar
      if ((e as { code?: string }).code === 'NETWORK') emit(this, UNREACHABLE);
    }
  }

  /**
   * The screen's sections, in order. Each is one card (or a few) with its own heading; a new part
   * of Settings (AI, sync and conflicts…) is one more entry here.
   */
  protected sections() {
    return [
      ...(this.onDevice ? [{ id: 'device', view: () => this.deviceView() }] : [{ id: 'hub', view: () => this.hubView() }]),
      { id: 'ai', view: () => html`<fazt-ai-settings .api=${this.api}></fazt-ai-settings>` },
      { id: 'notify', view: () => html`<fazt-notify-settings .api=${this.api} ?onDevice=${this.onDevice}></fazt-notify-settings>` },
      { id: 'guided', view: () => this.guidedView() },
      { id: 'storage', view: () => this.storageView() },
    ];
  }

  render() {
    return html`${this.error ? html`<p class="error card" role="alert">${this.error}</p>` : ''} ${this.confirm ? this.confirmView() : ''}
      <div class="sections">${this.sections().map((s) => html`<div class="section" data-section=${s.id}>${s.view()}</div>`)}</div>`;
  }

  private confirmView() {
    const c = this.confirm!;
    return html`<div class="confirm card" role="alertdialog" aria-labelledby="confirm-text">
      <p id="confirm-text">${c.text}</p>
      <div class="row">
        <button class="danger" ?disabled=${this.busy} @click=${this.runConfirmed}>${c.yes}</button>
        <button class="secondary" @click=${() => (this.confirm = undefined)}>Cancel</button>
      </div>
    </div>`;
  }

  private async runConfirmed() {
    const c = this.confirm;
    if (!c) return;
    this.busy = true;
    this.error = '';
    try {
      await c.run();
      this.confirm = undefined;
    } catch (e) {
      this.confirm = undefined;
      await this.fieldError(c.at ?? 'device', (e as Error).message);
    } finally {
      this.busy = false;
    }
  }

  // ------------------------------------------------------------------ guided mode

  private guidedView() {
    const canPin = this.onDevice || this.deviceAvailable;
    return html`<section class="card" aria-labelledby="guided-h">
      <h2 id="guided-h">Guided mode</h2>
      <p>A simple home screen with big app buttons, for family members who only tap. Admin screens are hidden.</p>
      <fieldset>
        <legend>Lock it so leaving guided mode needs</legend>
        <label class="radio"><input type="radio" name="lock" value="none" .checked=${this.lockChoice === 'none'} @change=${() => (this.lockChoice = 'none')} /> Nothing (anyone can leave)</label>
        ${canPin
          ? html`<label class="radio"><input type="radio" name="lock" value="pin" .checked=${this.lockChoice === 'pin'} @change=${() => (this.lockChoice = 'pin')} /> A PIN (kept by this device's node)</label>`
          : ''}
        ${!this.onDevice
          ? html`<label class="radio"
              ><input type="radio" name="lock" value="password" .checked=${this.lockChoice === 'password'} @change=${() => (this.lockChoice = 'password')} /> The hub's owner
              password</label
            >`
          : ''}
      </fieldset>
      ${this.lockChoice === 'pin'
        ? html`<label for="pin">New PIN (4 or more digits)</label>
            <input
              id="pin"
              type="password"
              inputmode="numeric"
              autocomplete="new-password"
              aria-invalid=${this.errors.pin ? 'true' : 'false'}
              aria-describedby="pin-error"
              @input=${() => this.errors.pin && this.fieldError('pin', '')}
            />
            ${this.errorAt('pin')}
            <label for="pin2">The same PIN again</label>
            <input
              id="pin2"
              type="password"
              inputmode="numeric"
              autocomplete="new-password"
              aria-invalid=${this.errors.pin2 ? 'true' : 'false'}
              aria-describedby="pin2-error"
              @input=${() => this.errors.pin2 && this.fieldError('pin2', '')}
            />
            ${this.errorAt('pin2')}`
        : ''}
      <p><button @click=${this.startGuided} ?disabled=${this.busy}>Turn on guided mode</button></p>
      ${this.errorAt('guided')}
    </section>`;
  }

  private async startGuided() {
    this.errors = {};
    const lock = this.lockChoice;
    if (lock === 'pin') {
      const pin = this.renderRoot.querySelector<HTMLInputElement>('#pin')!.value;
      const again = this.renderRoot.querySelector<HTMLInputElement>('#pin2')!.value;
      if (!validPin(pin)) {
        await this.fieldError('pin', 'The PIN needs at least 4 characters (digits are easiest to type).', 'pin');
        return;
      }
      if (pin !== again) {
        await this.fieldError('pin2', 'The two PINs differ. Type the same PIN again here.', 'pin2');
        return;
      }
      this.busy = true;
      try {
        const node = await deviceNode();
        if (await node.isLocked()) throw new Error('This device is locked already. Unlock it with its PIN first (leave guided mode).');
        await node.lock(pin);
      } catch (e) {
        this.busy = false;
        await this.fieldError('guided', `Could not lock this device: ${(e as Error).message}`);
        return;
      } finally {
        this.busy = false;
      }
    }
    saveGuided({ on: true, lock });
    emit(this, GUIDED_CHANGED);
    go({ screen: 'guided' });
  }

  // ------------------------------------------------------------------ this device

  private deviceView() {
    const d = this.device;
    if (!d) return html`<section class="card"><h2>This device's node</h2><p class="muted">Loading…</p></section>`;
    return html`<section class="card" aria-labelledby="device-h">
        <h2 id="device-h">This device's node</h2>
        ${d.state !== 'ready' ? html`<p class="warn" role="alert"><strong>${stateWords(d.state)}.</strong> ${d.message ?? ''}</p>` : ''}
        <dl>
          <dt>State</dt>
          <dd>${stateWords(d.state)}</dd>
          <dt>Apps and data</dt>
          <dd>${formatBytes(d.cartridgeBytes)}</dd>
        </dl>
        <h3>Move it</h3>
        <p class="muted small">Everything on this device (every app and all its data) is kept in one file, the cartridge. Download it to keep a copy or to move it.</p>
        <div class="row">
          <button @click=${this.exportCartridge} ?disabled=${this.busy}>Download the cartridge</button>
        </div>
        <p class="small" id="import-help" style="margin-top:0.75rem">Or replace what is on this device with a file: a hub's backup or an earlier download. What is here now is kept as a backup.</p>
        <div class="file-pick">
          <input
            id="import"
            type="file"
            aria-label="Replace this device's cartridge with a file"
            aria-describedby="import-help"
            accept=".db,.sqlite,.sqlite3,application/vnd.sqlite3,application/octet-stream"
            @change=${this.pickImport}
          />
          <span class="button secondary" aria-hidden="true">Choose a file…</span>
        </div>
        ${this.errorAt('device')}
        <details class="advanced">
          <summary>Advanced</summary>
          <dl>
            <dt>Cartridge</dt>
            <dd>${formatBytes(d.cartridgeBytes)}${d.schemaVersion ? `, schema ${d.schemaVersion}` : ''}</dd>
            ${d.nodeId ? html`<dt>Node id</dt><dd><code>${d.nodeId}</code></dd>` : ''}
            <dt>Fazt</dt>
            <dd>${d.version}</dd>
          </dl>
          <p class="muted small">A downloaded cartridge opens on a hub: <code>npm start -- --db fazt.db</code>.</p>
        </details>
        ${d.state === 'corrupt' || d.state === 'error'
          ? html`<h3>Start over</h3>
              <p class="muted small">Starts with an empty cartridge. The current file is kept as a backup, never deleted.</p>
              <button class="danger" @click=${this.askStartFresh}>Start fresh…</button>`
          : ''}
      </section>
      <section class="card" aria-labelledby="backups-h">
        <h2 id="backups-h">Backups on this device</h2>
        ${d.backups.length === 0
          ? html`<p class="muted">No backups yet. One is kept before every import or restore.</p>`
          : html`<ul class="plain">
              ${d.backups.map(
                (b) => html`<li class="item">
                  <div><strong>${b.name}</strong><div class="muted small">${formatTime(b.savedAt)} · ${formatBytes(b.bytes)}</div></div>
                  <div class="row">
                    <button class="secondary" @click=${() => this.askRestore(b.name)} aria-label="Restore ${b.name}">Restore…</button>
                    <button class="secondary" @click=${() => this.askDeleteBackup(b.name)} aria-label="Delete ${b.name}">Delete…</button>
                  </div>
                </li>`,
              )}
            </ul>`}
      </section>`;
  }

  private async exportCartridge() {
    this.busy = true;
    this.errors = {};
    try {
      const bytes = await (await deviceNode()).exportCartridge();
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
      download(new Blob([bytes as BlobPart], { type: 'application/vnd.sqlite3' }), `fazt-${stamp}.db`);
      toast(this, `Downloaded the cartridge (${formatBytes(bytes.byteLength)}).`);
    } catch (e) {
      await this.fieldError('device', `Could not export the cartridge: ${(e as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  private pickImport(e: Event) {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    this.confirm = {
      text: `Replace everything on this device with “${file.name}” (${formatBytes(file.size)})? The apps and data now on this device are kept as a backup you can restore.`,
      yes: 'Replace with this file',
      run: async () => {
        this.device = await (await deviceNode()).importCartridge(new Uint8Array(await file.arrayBuffer()));
        toast(this, `Imported ${file.name}.`);
        emit(this, SESSION_CHANGED);
      },
    };
  }

  private askRestore(name: string) {
    this.confirm = {
      text: `Make the backup “${name}” this device's cartridge? The current one is kept as a backup first.`,
      yes: 'Restore this backup',
      run: async () => {
        this.device = await (await deviceNode()).restoreBackup(name);
        toast(this, `Restored ${name}.`);
        emit(this, SESSION_CHANGED);
      },
    };
  }

  private askDeleteBackup(name: string) {
    this.confirm = {
      text: `Delete the backup “${name}” for good? This cannot be undone.`,
      yes: 'Delete this backup',
      run: async () => {
        this.device = await (await deviceNode()).deleteBackup(name);
      },
    };
  }

  private askStartFresh() {
    this.confirm = {
      text: 'Start this device over with an empty cartridge? The current file is kept as a backup.',
      yes: 'Start fresh',
      run: async () => {
        this.device = await (await deviceNode()).startFresh();
        emit(this, SESSION_CHANGED);
      },
    };
  }

  // ------------------------------------------------------------------ the hub

  private hubView() {
    return html`<section class="card" aria-labelledby="tokens-h">
        <h2 id="tokens-h">API tokens</h2>
        <p class="muted">For the command line and scripts: <code>fazt app deploy ./site --node ${location.origin} --token …</code></p>
        <div class="row">
          <button @click=${() => this.createToken('deploy')} ?disabled=${this.busy}>Create deploy token</button>
          <button class="secondary" @click=${() => this.createToken('admin')} ?disabled=${this.busy}>Create admin token</button>
        </div>
        <p class="muted small">For AI agents (MCP at <code>${location.origin}/mcp</code>): a token that may use every tool, or only the read-only ones.</p>
        <div class="row">
          <button class="secondary" @click=${() => this.createToken('mcp')} ?disabled=${this.busy}>Create MCP token</button>
          <button class="secondary" @click=${() => this.createToken('mcp-read')} ?disabled=${this.busy}>Create read-only MCP token</button>
        </div>
        ${this.errorAt('tokens')}
        <div id="token-out" aria-live="polite">
          ${this.newToken
            ? html`<p>New token (shown once, copy it now):</p>
                <div class="token">
                  <code>${this.newToken}</code>
                  <button class="secondary" @click=${this.copyToken} aria-label=${this.copied ? 'Copied' : 'Copy the token'}>${this.copied ? 'Copied' : 'Copy'}</button>
                </div>`
            : ''}
        </div>
        ${this.tokensError
          ? html`<p class="error" role="alert">Could not load the tokens: ${this.tokensError}</p>
              <button class="secondary" @click=${this.loadTokens}>Try again</button>`
          : this.tokens === undefined
          ? html`<p class="muted">Loading the tokens…</p>`
          : this.tokens.length
          ? html`<ul class="plain">
              ${this.tokens.map(
                (t) => html`<li class="item">
                  <div><strong>${t.name}</strong> <span class="badge">${t.scope}</span>${t.createdAt ? html`<div class="muted small">created ${formatTime(t.createdAt)}</div>` : ''}</div>
                  <button class="secondary" @click=${() => this.askRevoke(t)} aria-label="Revoke ${t.name}">Revoke…</button>
                </li>`,
              )}
            </ul>`
          : html`<p class="muted">No tokens.</p>`}
      </section>
      <section class="card" aria-labelledby="hub-h">
        <h2 id="hub-h">Backup of the hub</h2>
        <p class="muted">A consistent copy of the hub's cartridge (every app and all data). Import it on a phone or laptop under Settings of "This device".</p>
        <div class="row">
          <a class="button secondary" href="/api/backup" download>Download a backup</a>
        </div>
        <p class="muted small">To sign out, use the account button at the top right.</p>
      </section>`;
  }

  /** Copies the new token; the button says "Copied" for a few seconds. */
  private async copyToken() {
    try {
      await navigator.clipboard.writeText(this.newToken);
    } catch {
      // no clipboard permission (an http:// hub on the LAN is not a secure context): select the text instead
      const code = this.renderRoot.querySelector('#token-out code');
      if (code) getSelection()?.selectAllChildren(code);
      const ok = document.execCommand?.('copy');
      if (!ok) {
        await this.fieldError('tokens', 'This browser did not let the page copy. The token is selected: copy it with the keyboard or a long press.');
        return;
      }
    }
    this.copied = true;
    setTimeout(() => (this.copied = false), 4000);
  }

  private async createToken(scope: 'deploy' | 'admin' | 'mcp' | 'mcp-read') {
    this.busy = true;
    this.errors = {};
    this.copied = false;
    try {
      const t = await this.api.call<{ token: string }>('POST', '/tokens', { scope, name: `dashboard ${scope}` });
      this.newToken = t.token;
      await this.loadTokens();
    } catch (e) {
      await this.fieldError('tokens', (e as Error).message);
    } finally {
      this.busy = false;
    }
  }

  private askRevoke(t: TokenInfo) {
    this.confirm = {
      text: `Revoke the token “${t.name}” (${t.scope})? Scripts using it stop working.`,
      yes: 'Revoke',
      at: 'tokens',
      run: async () => {
        await this.api.revokeToken(t.id);
        this.tokens = await this.api.tokens();
      },
    };
  }

  // ------------------------------------------------------------------ browser storage

  private storageView() {
    const s = this.storage;
    const hasApi = 'storage' in navigator;
    return html`<section class="card" aria-labelledby="storage-h">
      <h2 id="storage-h">Storage in this browser</h2>
      ${!hasApi
        ? html`<p class="muted">This browser does not say how much it stores.</p>`
        : html`<dl>
              <dt>Kept for sure</dt>
              <dd>
                ${s.persisted
                  ? html`<span class="ok">Yes</span>: the browser will not clear it to free space.`
                  : 'Not yet: the browser may clear it when the disk is full.'}
              </dd>
              <dt>In use</dt>
              <dd>
                ${s.usage !== undefined && s.quota
                  ? html`${formatBytes(s.usage)} of ${formatBytes(s.quota)} available
                      <meter min="0" max=${s.quota} value=${s.usage} aria-label="Storage used"></meter>`
                  : 'unknown'}
              </dd>
            </dl>
            ${s.persisted ? '' : html`<button @click=${this.persist}>Keep my data</button>`}`}
    </section>`;
  }

  private async persist() {
    const ok = await navigator.storage.persist().catch(() => false);
    this.storage = await storageFacts();
    toast(
      this,
      ok ? 'The browser will keep this data.' : 'The browser said no for now. Installing Fazt on the home screen (or bookmarking it) usually makes it agree.',
      ok ? 'info' : 'error',
    );
  }
}
customElements.define('fazt-settings', FaztSettings);

/** What `navigator.storage` says about this origin's storage. */
async function storageFacts(): Promise<StorageFacts> {
  if (!('storage' in navigator)) return {};
  const [persisted, est] = await Promise.all([navigator.storage.persisted?.().catch(() => undefined), navigator.storage.estimate?.().catch(() => undefined)]);
  return { persisted, usage: est?.usage, quota: est?.quota };
}

/** Plain words for a device state. */
function stateWords(s: DeviceStatus['state']): string {
  return { starting: 'Starting', ready: 'Ready', corrupt: 'The cartridge is damaged', 'too-new': 'The cartridge is from a newer Fazt', error: 'Not working' }[s];
}

/** Saves a Blob as a download named `name`. */
function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

declare global {
  interface HTMLElementTagNameMap {
    'fazt-settings': FaztSettings;
  }
}
