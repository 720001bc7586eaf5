/**
 * `<fazt-notify-settings>`: the Notifications section of Settings (docs/notify.md). "Notify me on this
 * device" asks the browser's notification permission and then:
 * - for a hub (a headless node): subscribes this browser to Web Push with the hub's VAPID key
 *   (`GET /api/push/vapid-public-key`, `PushManager.subscribe`) and stores the subscription on the
 *   hub (`POST /api/push/subscriptions`), so the hub's notifications reach this device even when the
 *   PWA is closed (the service worker's `push` handler shows them, sw/push.ts);
 * - for this device's own node: nothing more — it shows its notifications on this device directly.
 * Also lists the node's subscribed devices, each with a "Forget" button, and "Send a test".
 */
import { LitElement, html, css } from 'lit';
import type { FaztApi } from '../lib/api.js';
import { formatTime } from '../lib/format.js';
import { base } from './styles.js';

/** A subscribed device as `GET /api/push/subscriptions` lists it. */
interface Sub {
  id: string;
  device: string;
  service: string;
  lastSuccessAt: number | null;
  lastError: string | null;
}

/** A delivery as `POST /api/push/test` reports it. */
interface Delivery {
  device: string;
  status: string;
  statusCode: number | null;
  error?: string;
}

/** base64url → bytes (a VAPID key for `applicationServerKey`). */
function fromB64Url(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A short label for this device ("Android — Chrome"), from the user agent. */
function deviceLabel(): string {
  const ua = navigator.userAgent;
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS/.test(ua) ? 'Mac' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : 'Device';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'browser';
  return `${os} — ${browser}`;
}

/** The Notifications section of Settings. */
export class FaztNotifySettings extends LitElement {
  static properties = {
    api: { attribute: false },
    onDevice: { type: Boolean },
    subs: { state: true },
    status: { state: true },
    error: { state: true },
    busy: { state: true },
    deliveries: { state: true },
  };
  static styles = [
    base,
    css`
      ul {
        list-style: none;
        padding: 0;
        margin: 0.5rem 0;
      }
      li {
        display: flex;
        flex-wrap: wrap;
        justify-content: space-between;
        align-items: center;
        gap: 0.5rem;
        padding: 0.4rem 0;
        border-top: 1px solid var(--line);
      }
      li:first-child {
        border-top: 0;
      }
      .muted {
        color: var(--muted);
      }
    `,
  ];

  declare api: FaztApi;
  /** True when the node acted on is this device's own node. */
  declare onDevice: boolean;
  declare subs: Sub[] | undefined;
  declare status: string;
  declare error: string;
  declare busy: boolean;
  declare deliveries: Delivery[] | undefined;

  constructor() {
    super();
    this.onDevice = false;
    this.status = '';
    this.error = '';
    this.busy = false;
  }

  connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load() {
    if (this.onDevice) return;
    try {
      this.subs = (await this.api.call<{ subscriptions: Sub[] }>('GET', '/push/subscriptions')).subscriptions;
    } catch (e) {
      this.subs = undefined;
      this.error = (e as Error).message;
    }
  }

  /** Permission, then (for a hub) a Web Push subscription stored on the hub. */
  private async enable() {
    this.busy = true;
    this.error = '';
    this.status = '';
    try {
      if (typeof Notification === 'undefined' || !('serviceWorker' in navigator)) throw new Error('This browser cannot show notifications from a web app. On iPhone and iPad, add Fazt to the home screen first.');
      const permission = await Notification.requestPermission();
      if (permission !== 'granted') throw new Error('Notifications are blocked for this site: allow them in the browser\'s site settings, then try again.');
      if (this.onDevice) {
        this.status = 'Done: this device\'s own node will show its notifications here.';
        return;
      }
      const { publicKey } = await this.api.call<{ publicKey: string }>('GET', '/push/vapid-public-key');
      const reg = await navigator.serviceWorker.ready;
      let sub = await reg.pushManager.getSubscription();
      // a subscription made with another node's key cannot carry this node's messages
      const current = sub?.options.applicationServerKey;
      if (sub && current && btoa(String.fromCharCode(...new Uint8Array(current))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') !== publicKey) {
        await sub.unsubscribe();
        sub = null;
      }
      try {
        sub ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: fromB64Url(publicKey) });
      } catch (e) {
        throw new Error(`The browser could not subscribe to its push service (${(e as Error).message}). It needs to reach its vendor's push service over the internet.`);
      }
      await this.api.call('POST', '/push/subscriptions', { subscription: sub.toJSON(), device: deviceLabel() });
      this.status = 'Done: this device gets the node\'s notifications, even when Fazt is closed.';
      await this.load();
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.busy = false;
    }
  }

  private async test() {
    this.busy = true;
    this.error = '';
    try {
      this.deliveries = (await this.api.call<{ deliveries: Delivery[] }>('POST', '/push/test', {})).deliveries;
      if (!this.deliveries.length) this.status = 'No device is subscribed yet.';
      await this.load();
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.busy = false;
    }
  }

  private async forget(id: string) {
    this.error = '';
    try {
      await this.api.call('DELETE', `/push/subscriptions/${encodeURIComponent(id)}`);
      await this.load();
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  render() {
    return html`<section class="card" aria-labelledby="notify-h">
      <h2 id="notify-h">Notifications</h2>
      <p class="muted">Apps and the node can tell you things on this device${this.onDevice ? '' : ', even when Fazt is closed'}.</p>
      <div class="row">
        <button ?disabled=${this.busy} @click=${this.enable} data-action="notify-enable">Notify me on this device</button>
        ${this.onDevice ? '' : html`<button class="secondary" ?disabled=${this.busy} @click=${this.test} data-action="notify-test">Send a test</button>`}
      </div>
      ${this.status ? html`<p role="status">${this.status}</p>` : ''} ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      ${this.deliveries?.length
        ? html`<ul aria-label="Test deliveries">
            ${this.deliveries.map((d) => html`<li><span>${d.device}</span><span>${d.status}${d.statusCode ? ` (${d.statusCode})` : ''}${d.error ? ` — ${d.error}` : ''}</span></li>`)}
          </ul>`
        : ''}
      ${this.subs?.length
        ? html`<h3>Subscribed devices</h3>
            <ul aria-label="Subscribed devices">
              ${this.subs.map(
                (s) => html`<li>
                  <span>${s.device} <span class="muted">${s.lastSuccessAt ? `last delivered ${formatTime(s.lastSuccessAt)}` : 'nothing delivered yet'}${s.lastError ? ` · last error: ${s.lastError}` : ''}</span></span>
                  <button class="secondary" @click=${() => this.forget(s.id)} aria-label=${`Forget ${s.device}`}>Forget</button>
                </li>`,
              )}
            </ul>`
        : ''}
    </section>`;
  }
}

customElements.define('fazt-notify-settings', FaztNotifySettings);
