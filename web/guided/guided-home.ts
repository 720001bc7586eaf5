/**
 * `<fazt-guided-home>`: guided mode's home screen for family members: big app tiles in plain
 * words, help for the first steps, and (for the owner) a way out that needs the PIN or the owner's
 * password when guided mode is locked. When this node has paired devices, one line says "Up to date"
 * or "Will sync when home" (`guidedSync`), and nothing else of sync.
 */
import { LitElement, html, css } from 'lit';
import type { FaztApi } from '../lib/api.js';
import type { AppInfo } from '../lib/api-types.js';
import { guidedSync } from '../lib/sync-state.js';
import { deviceNode } from '../lib/device.js';
import { loadGuided, saveGuided } from '../lib/guided-state.js';
import { go, href } from '../lib/router.js';
import { appColor, initial } from '../ui/apps-screen.js';
import { base } from '../ui/styles.js';
import { guided } from './guided-styles.js';
import { emit, GUIDED_CHANGED, UNREACHABLE } from '../ui/events.js';

/** How often guided mode reads the sync state while it shows, ms. */
const SYNC_POLL_MS = 5000;

/** Guided mode's home screen. */
export class FaztGuidedHome extends LitElement {
  static properties = {
    api: { attribute: false },
    placeLabel: {},
    apps: { state: true },
    error: { state: true },
    leaving: { state: true },
    unlockError: { state: true },
    busy: { state: true },
    waitUntil: { state: true },
    now: { state: true },
    syncWords: { state: true },
  };
  static styles = [
    base,
    guided,
    css`
      .tiles {
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(9.5rem, 1fr));
        gap: 1rem;
        list-style: none;
        padding: 0;
        margin: 0 0 1.5rem;
      }
      .tile {
        display: flex;
        flex-direction: column;
        align-items: center;
        justify-content: center;
        gap: 0.6rem;
        min-height: 9.5rem;
        padding: 1rem 0.5rem;
        border-radius: 18px;
        background: var(--card);
        border: 2px solid var(--line);
        color: var(--fg);
        text-decoration: none;
        font-size: 1.2rem;
        font-weight: 700;
        text-align: center;
        line-height: 1.25;
      }
      .tile:hover {
        border-color: var(--accent);
      }
      .tile .pic {
        width: 4.25rem;
        height: 4.25rem;
        border-radius: 20px;
        display: grid;
        place-items: center;
        color: #fff;
        font-size: 2rem;
      }
      .help {
        display: grid;
        gap: 0.75rem;
      }
      .owner {
        margin-top: 2rem;
        border-top: 1px solid var(--line);
        padding-top: 1rem;
      }
    `,
  ];

  /** Client of the node whose apps are shown. */
  api!: FaztApi;
  /** Where the apps live, in plain words ("on this phone", "on the hub"). */
  placeLabel = '';
  private apps: AppInfo[] | undefined;
  private error = '';
  private leaving = false;
  private unlockError = '';
  private busy = false;
  /** The lock refuses every try until this time (ms since the epoch; 0: it takes tries). */
  private waitUntil = 0;
  /** The countdown's clock, ticked each second while the lock waits. */
  private now = Date.now();
  private tick: ReturnType<typeof setInterval> | undefined;
  /** What guided mode says of sync (`null`: nothing paired, or the state could not be read). */
  private syncWords: ReturnType<typeof guidedSync> = null;
  private syncTimer: ReturnType<typeof setInterval> | undefined;

  connectedCallback() {
    super.connectedCallback();
    this.syncTimer = setInterval(() => {
      if (document.visibilityState === 'visible') void this.loadSync();
    }, SYNC_POLL_MS);
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    clearInterval(this.tick);
    clearInterval(this.syncTimer);
  }

  /** Reads the sync state for the one line; any failure says nothing (no machinery in guided mode). */
  private async loadSync() {
    const api = this.api;
    if (!api) return;
    try {
      const status = await api.syncStatus();
      if (api === this.api) this.syncWords = guidedSync(status);
    } catch {
      if (api === this.api) this.syncWords = null;
    }
  }

  /** Seconds the lock still waits (0 when it takes tries). */
  private get waitSeconds(): number {
    return Math.max(0, Math.ceil((this.waitUntil - this.now) / 1000));
  }

  /** The lock waits `seconds`: count down, refuse tries until then, then focus the field again. */
  private startWait(seconds: number) {
    this.waitUntil = Date.now() + seconds * 1000;
    this.now = Date.now();
    clearInterval(this.tick);
    this.tick = setInterval(async () => {
      this.now = Date.now();
      if (this.waitSeconds > 0) return;
      clearInterval(this.tick);
      this.waitUntil = 0;
      this.unlockError = '';
      await this.updateComplete;
      this.renderRoot.querySelector<HTMLInputElement>('#secret')?.focus();
    }, 250);
  }

  updated(changed: Map<string, unknown>) {
    if (changed.has('api')) {
      this.load();
      void this.loadSync();
    }
  }

  private async load() {
    this.error = '';
    try {
      this.apps = (await this.api.apps()).filter((a) => a.currentVersion !== null);
    } catch (e) {
      this.error = (e as Error).message;
      if ((e as { code?: string }).code === 'NETWORK') emit(this, UNREACHABLE);
    }
  }

  render() {
    return html`<h1 class="big-title">Your apps</h1>
      <p class="lead">Tap an app to open it. ${this.placeLabel ? html`<span class="muted">They are ${this.placeLabel}.</span>` : ''}</p>
      ${this.syncWords
        ? html`<p class="lead sync-words" data-sync=${this.syncWords} role="status">
            ${this.syncWords === 'up-to-date' ? '✓ Up to date' : 'Will sync when home'}
          </p>`
        : ''}
      ${this.error
        ? html`<p class="error" role="alert">${this.error}</p>
            <button class="big" @click=${this.load}>Try again</button>`
        : ''}
      ${this.apps === undefined && !this.error ? html`<p class="lead">Loading your apps…</p>` : ''}
      ${this.apps?.length === 0 ? html`<p class="lead">There are no apps yet. Ask the person who set up Fazt to add some.</p>` : ''}
      ${this.apps?.length
        ? html`<ul class="tiles" aria-label="Apps">
            ${this.apps.map((a) => {
              const title = a.title || a.name;
              return html`<li>
                <a class="tile" href=${href({ screen: 'guided-open', name: a.name })}>
                  <span class="pic" aria-hidden="true" style="background:${appColor(a.name)}">${initial(title)}</span>
                  <span>${title}</span>
                </a>
              </li>`;
            })}
          </ul>`
        : ''}
      <h2 class="section-title">Help</h2>
      <div class="help">
        <a class="big secondary" href=${href({ screen: 'guided-help', wizard: 'install' })}>Put Fazt on your home screen</a>
        <a class="big secondary" href=${href({ screen: 'guided-help', wizard: 'open' })}>How to open an app</a>
        <a class="big secondary" href=${href({ screen: 'guided-help', wizard: 'home' })}>How to come back here</a>
      </div>
      <div class="owner">${this.leaving ? this.unlockView() : html`<button class="link" @click=${this.leave}>For the owner: leave guided mode</button>`}</div>`;
  }

  private unlockView() {
    const lock = loadGuided().lock;
    const what = lock === 'pin' ? 'Owner PIN' : 'Owner password';
    return html`<form @submit=${this.unlock}>
      <h2 class="section-title">Leave guided mode</h2>
      <label for="secret">${what}</label>
      <input
        id="secret"
        type="password"
        inputmode=${lock === 'pin' ? 'numeric' : 'text'}
        autocomplete=${lock === 'pin' ? 'off' : 'current-password'}
        required
      />
      ${this.unlockError ? html`<p class="error" role="alert" id="unlock-error">${this.unlockError}</p>` : ''}
      ${this.waitSeconds > 0
        ? html`<p class="lead" role="timer" aria-live="off" aria-atomic="true">
            You can try again in <strong>${formatWait(this.waitSeconds)}</strong>.
          </p>`
        : ''}
      <div class="row" style="margin-top:0.75rem">
        <button class="big" type="submit" ?disabled=${this.busy || this.waitSeconds > 0}>Unlock</button>
        <button class="big secondary" type="button" @click=${() => ((this.leaving = false), (this.unlockError = ''))}>Stay in guided mode</button>
      </div>
    </form>`;
  }

  private async leave() {
    if (loadGuided().lock === 'none') return this.exit();
    this.leaving = true;
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLInputElement>('#secret')?.focus();
  }

  private async unlock(e: SubmitEvent) {
    e.preventDefault();
    const secret = this.renderRoot.querySelector<HTMLInputElement>('#secret')!.value;
    const lock = loadGuided().lock;
    if (this.waitSeconds > 0) return; // the button is disabled; Enter in the field does nothing either
    this.busy = true;
    this.unlockError = '';
    try {
      if (lock === 'pin') await (await deviceNode()).unlock(secret);
      else await this.api.login(secret);
      this.exit();
    } catch (err) {
      const m = (err as Error).message;
      const word = lock === 'pin' ? 'PIN' : 'password';
      const wait = waitOf(err);
      if (wait !== undefined) {
        // too many wrong tries: the lock takes none (not even the right one) until the wait is over
        this.startWait(wait);
        this.unlockError = `Too many wrong tries. The lock is waiting and takes no ${word} for ${formatWait(wait)}, not even the right one.`;
      } else this.unlockError = /FORBIDDEN|UNAUTHORIZED|wrong/i.test(m) ? `That ${word} is not right. Try again.` : m.replace(/^[A-Z_]+: /, '');
    } finally {
      this.busy = false;
      await this.updateComplete;
      if (this.waitSeconds === 0) this.renderRoot.querySelector<HTMLInputElement>('#secret')?.select();
    }
  }

  private exit() {
    saveGuided({ on: false, lock: 'none' });
    this.leaving = false;
    emit(this, GUIDED_CHANGED);
    go({ screen: 'apps' });
  }
}
customElements.define('fazt-guided-home', FaztGuidedHome);

/**
 * Seconds a rate-limited lock waits, from its error: the device node's `RATE_LIMITED: … wait 30 s …`
 * (sw/device-node.ts) or the hub's 429 `RATE_LIMITED` (its message names the seconds; 60 s when it
 * does not). `undefined` when the error is not a rate limit.
 */
export function waitOf(err: unknown): number | undefined {
  const e = err as { code?: string; status?: number; message?: string };
  const m = String(e?.message ?? '');
  if (!(e?.code === 'RATE_LIMITED' || e?.status === 429 || /^RATE_LIMITED\b/.test(m))) return undefined;
  const n = /(\d+)\s*(s\b|sec|second)/i.exec(m);
  if (n) return Math.max(1, Number(n[1]));
  const min = /(\d+)\s*min/i.exec(m);
  return min ? Number(min[1]) * 60 : 60;
}

/** "27 s" or "2 min 5 s". */
function formatWait(seconds: number): string {
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min${seconds % 60 ? ` ${seconds % 60} s` : ''}`;
}

declare global {
  interface HTMLElementTagNameMap {
    'fazt-guided-home': FaztGuidedHome;
  }
}
