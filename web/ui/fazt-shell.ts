/**
 * `<fazt-shell>`: the dashboard's frame. It decides which node to act on (the hub that served the
 * page, or this device's node in the service worker; see lib/node-target.ts), always names it in
 * the header with a switcher, says plainly when the chosen node cannot be reached, gates the hub
 * behind owner setup and sign-in, and shows the screen of the current hash route. Rarely used
 * screens (settings, devices, logs, storage, guided help, the app frame) are loaded on demand.
 */
import { LitElement, html, css, nothing } from 'lit';
import { FaztApi, type NodeTarget } from '../lib/api.js';
import { deviceLogs } from '../lib/device.js';
import { loadGuided, type GuidedState } from '../lib/guided-state.js';
import { pickTarget, probe, storeTarget, storedTarget, targetHint, targetLabel, type Reach } from '../lib/node-target.js';
import { go, href, parseRoute, type Route } from '../lib/router.js';
import { base } from './styles.js';
import { APPS_CHANGED, GUIDED_CHANGED, SESSION_CHANGED, TOAST, UNREACHABLE, type ToastDetail } from './events.js';
import './sign-in.js';
import './apps-screen.js';

/** Whether the dashboard may act on the node: checked, needs setup or sign-in, cannot be reached. */
type Access = 'checking' | 'setup' | 'login' | 'ok' | 'unreachable' | 'refused';

/** The dashboard shell. */
export class FaztShell extends LitElement {
  static properties = {
    target: { state: true },
    reach: { state: true },
    access: { state: true },
    accessMessage: { state: true },
    codeRequired: { state: true },
    route: { state: true },
    guided: { state: true },
    toastMsg: { state: true },
    menuOpen: { state: true },
    appsVersion: { state: true },
    autoSwitched: { state: true },
    accountOpen: { state: true },
  };
  static styles = [
    base,
    css`
      :host {
        min-height: 100vh;
        min-height: 100dvh;
        display: flex;
        flex-direction: column;
      }
      :host([full]) {
        height: 100vh;
        height: 100dvh;
      }
      header {
        display: flex;
        align-items: center;
        justify-content: space-between;
        gap: 0.5rem;
        padding: 0.4rem 0.75rem;
        border-bottom: 1px solid var(--line);
        background: var(--card);
        position: relative;
      }
      .brand {
        font-weight: 800;
        font-size: 1.2rem;
        color: var(--fg);
        text-decoration: none;
        min-height: 48px;
        min-width: 48px;
        padding: 0 0.25rem;
        display: inline-flex;
        align-items: center;
      }
      .node-button {
        margin-left: auto;
        background: var(--bg);
        color: var(--fg);
        border: 1px solid var(--line-strong);
        font-weight: 400;
        max-width: 70vw;
        padding: 0.35rem 0.75rem;
      }
      .node-label {
        display: inline-flex;
        gap: 0 0.4rem;
        align-items: center;
        min-width: 0;
        text-align: left;
      }
      .node-name {
        display: inline-flex;
        flex-wrap: wrap;
        column-gap: 0.35rem;
        line-height: 1.2;
      }
      .node-name .where {
        overflow-wrap: anywhere;
      }
      @media (max-width: 26rem) {
        .node-name {
          flex-direction: column;
        }
        .node-name .where {
          font-size: 0.8rem;
          font-weight: 400;
        }
        .node-name .sep {
          display: none;
        }
      }
      .dot {
        width: 0.7rem;
        height: 0.7rem;
        border-radius: 50%;
        flex: none;
        background: var(--muted);
      }
      .dot.up {
        background: #1e8e4e;
      }
      .dot.down {
        background: var(--danger);
      }
      .menu {
        position: absolute;
        right: 0.5rem;
        top: calc(100% + 0.25rem);
        z-index: 10;
        width: min(22rem, calc(100vw - 1rem));
        background: var(--card);
        border: 1px solid var(--line-strong);
        border-radius: 12px;
        padding: 0.5rem;
        box-shadow: 0 8px 24px rgb(0 0 0 / 0.18);
      }
      .menu h2 {
        font-size: 0.9rem;
        color: var(--muted);
        margin: 0.25rem 0.5rem 0.5rem;
      }
      .menu button {
        width: 100%;
        justify-content: flex-start;
        text-align: left;
        background: none;
        color: var(--fg);
        border: 1px solid transparent;
        flex-direction: column;
        align-items: flex-start;
        gap: 0.1rem;
        font-weight: 400;
      }
      .menu button[aria-current='true'] {
        border-color: var(--accent);
        background: var(--bg);
      }
      .menu button:disabled {
        opacity: 1;
        cursor: default;
      }
      .menu .state {
        font-size: 0.85rem;
        color: var(--muted);
      }
      nav.tabs {
        display: flex;
        gap: 0.25rem;
        padding: 0 0.5rem;
        border-bottom: 1px solid var(--line);
        background: var(--card);
        overflow-x: auto;
      }
      nav.tabs a {
        min-height: 44px;
        display: inline-flex;
        align-items: center;
        flex: none;
        padding: 0 clamp(0.2rem, 1vw, 0.9rem);
        font-size: clamp(0.85rem, 4vw, 1rem);
        color: var(--fg);
        text-decoration: none;
        font-weight: 600;
        border-bottom: 3px solid transparent;
      }
      nav.tabs a[aria-current='page'] {
        border-bottom-color: var(--accent);
        color: var(--link);
      }
      main {
        flex: 1;
        width: 100%;
        max-width: 56rem;
        margin: 0 auto;
        padding: 1rem 0.75rem 3rem;
      }
      main.full {
        max-width: none;
        padding: 0;
        display: flex;
        flex-direction: column;
        min-height: 0;
      }
      main.full > * {
        flex: 1 1 0;
        min-height: 0;
      }
      main[tabindex]:focus {
        /* focus moves here after a route change for screen readers; no ring for a programmatic focus */
        outline: none;
      }
      @media (min-width: 64rem) {
        main {
          max-width: 80rem;
          padding: 1.25rem 1.5rem 3rem;
        }
      }
      .linkbar {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 0.25rem 0.75rem;
        padding: 0.3rem 0.75rem;
        border-bottom: 1px solid var(--line);
        background: var(--card);
        font-size: 0.9rem;
      }
      .linkbar .what {
        display: inline-flex;
        align-items: center;
        gap: 0.45rem;
        flex: 1 1 14rem;
        min-width: 0;
      }
      .linkbar.down,
      .linkbar.switched {
        background: var(--warn-bg);
        color: var(--warn-text);
      }
      .linkbar button {
        min-height: 44px;
        padding: 0.3rem 0.75rem;
        background: var(--card);
        color: var(--fg);
        border-color: var(--line-strong);
      }
      .account-button {
        background: var(--bg);
        color: var(--fg);
        border: 1px solid var(--line-strong);
        padding: 0.35rem;
        width: 44px;
      }
      .account-button svg {
        width: 24px;
        height: 24px;
      }
      .header-end {
        display: flex;
        align-items: center;
        gap: 0.4rem;
        min-width: 0;
      }
      .banner {
        background: var(--warn-bg);
        color: var(--warn-text);
        padding: 0.6rem 0.9rem;
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem 1rem;
        align-items: center;
        justify-content: space-between;
      }
      .banner button {
        background: var(--card);
        color: var(--fg);
        border-color: var(--line-strong);
      }
      .toast {
        position: fixed;
        left: 50%;
        bottom: 1rem;
        transform: translateX(-50%);
        max-width: min(32rem, calc(100vw - 2rem));
        background: var(--fg);
        color: var(--bg);
        padding: 0.75rem 1rem;
        border-radius: 10px;
        box-shadow: 0 6px 20px rgb(0 0 0 / 0.25);
        z-index: 20;
      }
      .toast:empty {
        display: none;
      }
      .toast.error {
        background: var(--danger);
        color: #fff;
      }
    `,
  ];

  private target: NodeTarget = 'hub';
  private reach: Record<NodeTarget, Reach> = { hub: 'unknown', device: 'unknown' };
  private access: Access = 'checking';
  private accessMessage = '';
  private codeRequired = false;
  private route: Route = parseRoute(location.hash);
  private guided: GuidedState = loadGuided();
  private toastMsg: ToastDetail | undefined;
  private menuOpen = false;
  /** Bumped when apps change, so lists reload. */
  private appsVersion = 0;
  private api = new FaztApi('hub', { deviceLogs });
  /**
   * True when the dashboard started on this device's node because the chosen hub did not answer:
   * the connection bar says so until the person chooses (it is never switched silently).
   */
  private autoSwitched = false;
  private accountOpen = false;
  private toastTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setInterval> | undefined;

  constructor() {
    super();
    this.addEventListener(TOAST, (e) => this.showToast((e as CustomEvent<ToastDetail>).detail));
    this.addEventListener(SESSION_CHANGED, () => this.checkAccess());
    this.addEventListener(APPS_CHANGED, () => this.appsVersion++);
    this.addEventListener(UNREACHABLE, () => this.probeAll());
    this.addEventListener(GUIDED_CHANGED, () => (this.guided = loadGuided()));
    addEventListener('hashchange', () => this.onRoute());
    addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.menuOpen) this.closeMenu(true);
      if (e.key === 'Escape' && this.accountOpen) this.closeAccount(true);
    });
    navigator.serviceWorker?.addEventListener('controllerchange', () => this.probeAll());
  }

  connectedCallback() {
    super.connectedCallback();
    this.start();
  }

  private async start() {
    this.onRoute();
    await this.probeAll(true);
  }

  /** Probes both nodes; at start also picks the node to act on. */
  private async probeAll(initial = false) {
    const [hub, device] = await Promise.all([probe('hub'), probe('device')]);
    this.reach = { hub, device };
    if (initial) {
      const stored = storedTarget() ?? 'hub';
      const picked = pickTarget(storedTarget(), hub, device);
      // the chosen node is down and the other answers: use it, and say so in the connection bar
      this.autoSwitched = picked !== stored && this.reach[stored] === 'down';
      this.useTarget(picked, false);
    } else await this.checkAccess();
    // While the chosen node (or the one we were moved away from) is down, look again every 10 s.
    clearInterval(this.retryTimer);
    if (this.reach[this.target] === 'down' || (this.autoSwitched && this.reach[this.other] === 'down')) this.retryTimer = setInterval(() => this.probeAll(), 10_000);
  }

  /** The node not acted on. */
  private get other(): NodeTarget {
    return this.target === 'hub' ? 'device' : 'hub';
  }

  private useTarget(t: NodeTarget, remember = true) {
    this.target = t;
    if (remember) {
      storeTarget(t);
      this.autoSwitched = false;
    }
    this.api = new FaztApi(t, { deviceLogs });
    this.checkAccess();
  }

  /** Asks the node who we are: setup, sign-in, or in. */
  private async checkAccess() {
    const api = this.api;
    if (this.reach[api.target] === 'down') {
      this.access = 'unreachable';
      return;
    }
    try {
      const s = await api.session();
      if (api !== this.api) return;
      if (s.authenticated) this.access = 'ok';
      else if (!s.setUp && api.target === 'hub') {
        this.codeRequired = (await api.setupInfo()).codeRequired;
        this.access = 'setup';
      } else if (api.target === 'hub') this.access = 'login';
      else {
        this.access = 'refused';
        this.accessMessage = 'This device’s node did not accept this page as its owner. Reload the page; if it keeps happening, the service worker needs an update.';
      }
    } catch (e) {
      if (api !== this.api) return;
      if ((e as { code?: string }).code === 'NETWORK') {
        this.reach = { ...this.reach, [api.target]: 'down' };
        this.access = 'unreachable';
      } else {
        this.access = 'refused';
        this.accessMessage = (e as Error).message;
      }
    }
  }

  private onRoute() {
    const before = this.route;
    const r = parseRoute(location.hash);
    this.guided = loadGuided();
    if (this.guided.on && !r.screen.startsWith('guided')) {
      // guided mode keeps family members on their screens
      history.replaceState(null, '', href({ screen: 'guided' }));
      this.route = { screen: 'guided' };
    } else this.route = r;
    this.menuOpen = false;
    this.accountOpen = false;
    if (this.route.screen === 'settings') import('./settings-screen.js');
    if (this.route.screen === 'deploy') import('./deploy-screen.js');
    if (this.route.screen === 'devices') import('./devices-screen.js');
    if (this.route.screen === 'health') import('./health-screen.js');
    if (this.route.screen === 'app') import('./app-screen.js');
    if (this.route.screen === 'open' || this.route.screen === 'guided-open') import('./app-view.js');
    if (this.route.screen === 'guided') import('../guided/guided-home.js');
    if (this.route.screen === 'guided-help') import('../guided/guided-help.js');
    // a page change inside an open app (its history): the app keeps focus
    if ((before.screen === 'open' || before.screen === 'guided-open') && before.screen === this.route.screen && before.name === (this.route as { name: string }).name) return;
    // move focus to the new screen's heading for keyboard and screen-reader users
    this.updateComplete.then(() => requestAnimationFrame(() => this.renderRoot.querySelector<HTMLElement>('main')?.focus({ preventScroll: true })));
  }

  private showToast(d: ToastDetail) {
    this.toastMsg = d;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (this.toastMsg = undefined), 6000);
  }

  private closeAccount(focusButton = false) {
    this.accountOpen = false;
    if (focusButton) this.renderRoot.querySelector<HTMLElement>('.account-button')?.focus();
  }

  private async signOut() {
    this.accountOpen = false;
    try {
      await this.api.logout();
    } catch (e) {
      this.showToast({ text: `Could not sign out: ${(e as Error).message}`, kind: 'error' });
    } finally {
      await this.checkAccess();
    }
  }

  private closeMenu(focusButton = false) {
    this.menuOpen = false;
    if (focusButton) this.renderRoot.querySelector<HTMLElement>('.node-button')?.focus();
  }

  private async switchTo(t: NodeTarget) {
    this.closeMenu(true);
    if (t === this.target) {
      // confirming the node the dashboard moved to
      if (this.autoSwitched) {
        storeTarget(t);
        this.autoSwitched = false;
      }
      return;
    }
    this.useTarget(t);
    this.showToast({ text: `Now acting on ${targetLabel(t)}.` });
    if (this.route.screen !== 'apps' && this.route.screen !== 'deploy' && this.route.screen !== 'settings' && this.route.screen !== 'devices' && this.route.screen !== 'health' && !this.guided.on) go({ screen: 'apps' });
  }

  render() {
    const full = this.route.screen === 'open' || this.route.screen === 'guided-open';
    this.toggleAttribute('full', full);
    return html`${this.header()} ${this.linkBar(full)} ${this.guided.on || this.access !== 'ok' || full ? nothing : this.tabs()}
      <main class=${full ? 'full' : ''} tabindex="-1">${this.screen()}</main>
      <div class="toast ${this.toastMsg?.kind === 'error' ? 'error' : ''}" role="status" aria-live="polite">${this.toastMsg?.text ?? ''}</div>`;
  }

  private header() {
    const up = this.reach[this.target];
    const dot = html`<span class="dot ${up}" aria-hidden="true"></span>`;
    if (this.guided.on) {
      return html`<header>
        <a class="brand" href=${href({ screen: 'guided' })}>Fazt</a>
        <span class="node-label">${dot}<span class="visually-hidden">Apps on</span>${this.nodeLabel(this.target)}</span>
      </header>`;
    }
    return html`<header>
      <a class="brand" href=${href({ screen: 'apps' })}>Fazt</a>
      <button
        class="node-button"
        aria-expanded=${this.menuOpen ? 'true' : 'false'}
        aria-controls="node-menu"
        aria-label="Acting on ${targetLabel(this.target)}${up === 'down' ? ' (cannot be reached)' : ''}. Change node"
        @click=${() => ((this.menuOpen = !this.menuOpen), (this.accountOpen = false))}
      >
        <span class="node-label">${dot}${this.nodeLabel(this.target)}</span><span aria-hidden="true">▾</span>
      </button>
      ${this.menuOpen ? this.menu() : nothing}
      ${this.target === 'hub' && this.access === 'ok'
        ? html`<div class="header-end">
            <button
              class="account-button"
              aria-expanded=${this.accountOpen ? 'true' : 'false'}
              aria-controls="account-menu"
              aria-label="Account"
              @click=${() => ((this.accountOpen = !this.accountOpen), (this.menuOpen = false))}
            >
              <svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2"><circle cx="12" cy="8" r="4" /><path d="M4 21c1.5-4 4.5-6 8-6s6.5 2 8 6" /></svg>
            </button>
            ${this.accountOpen
              ? html`<div class="menu" id="account-menu" role="group" aria-label="Account">
                  <h2>Signed in as the owner of ${location.host}</h2>
                  <button @click=${this.signOut}><strong>Sign out</strong><span class="state">Signs this browser out of the hub. Apps on this device stay usable.</span></button>
                </div>`
              : nothing}
          </div>`
        : nothing}
    </header>`;
  }

  /**
   * The node's name in the header: "This device", or "Hub" and its address (which wraps under it on
   * phones). Guided mode says where the apps are in plain words ("Home server").
   */
  private nodeLabel(t: NodeTarget) {
    if (t === 'device') return html`<strong>${targetLabel(t)}</strong>`;
    const name = this.guided.on ? 'Home server' : 'Hub';
    return html`<span class="node-name"><strong>${name}</strong><strong class="where"><span class="sep" aria-hidden="true">· </span>${location.host}</strong></span>`;
  }

  private menu() {
    const opt = (t: NodeTarget) => {
      const r = this.reach[t];
      const state = r === 'up' ? 'Connected' : r === 'down' ? (t === 'device' ? 'Not available in this browser yet' : 'Cannot be reached') : 'Checking…';
      return html`<button aria-current=${this.target === t ? 'true' : 'false'} ?disabled=${r === 'down' && this.target !== t} @click=${() => this.switchTo(t)}>
        <strong>${targetLabel(t)}${this.target === t ? ' (acting on)' : ''}</strong>
        <span class="state">${targetHint(t)} ${state}.</span>
      </button>`;
    };
    return html`<div class="menu" id="node-menu" role="group" aria-label="Choose the node to act on">
      <h2>Show the apps of</h2>
      ${opt('device')} ${opt('hub')}
    </div>`;
  }

  private tabs() {
    const s = this.route.screen;
    const tab = (label: string, r: Route, active: boolean) => html`<a href=${href(r)} aria-current=${active ? 'page' : 'false'}>${label}</a>`;
    return html`<nav class="tabs" aria-label="Dashboard">
      ${tab('Apps', { screen: 'apps' }, s === 'apps' || s === 'app')} ${tab('Deploy', { screen: 'deploy' }, s === 'deploy')}
      ${tab('Devices', { screen: 'devices' }, s === 'devices')} ${tab('Health', { screen: 'health' }, s === 'health')} ${tab('Settings', { screen: 'settings' }, s === 'settings')}
    </nav>`;
  }

  /**
   * The connection bar, always shown under the header: which copy of the apps is in use, whether it
   * answers, and (when the dashboard moved to this device because the hub did not answer) that it
   * did so, with the way back. One source of truth: the shell's `reach`, which every screen updates
   * by sending {@link UNREACHABLE} when a call fails on the network.
   */
  private linkBar(compact = false) {
    const t = this.target;
    const other = this.other;
    const reach = this.reach[t];
    const guided = this.guided.on;
    const hubName = guided ? 'The home server' : 'The hub';
    let tone = '';
    let text: string;
    const actions: unknown[] = [];
    if (this.access === 'unreachable' || reach === 'down') {
      tone = 'down';
      text = t === 'hub' ? `${hubName} at ${location.host} cannot be reached right now. Fazt keeps trying.` : 'The node on this device is not running in this browser yet.';
      if (this.reach[other] === 'up') actions.push(html`<button @click=${() => this.switchTo(other)}>Use ${targetLabel(other)}</button>`);
      actions.push(html`<button @click=${() => this.probeAll()}>Try again</button>`);
    } else if (this.autoSwitched && t === 'device') {
      tone = 'switched';
      text =
        this.reach.hub === 'up'
          ? `${hubName} answers again. You are still using the apps on this device: changes made here stay on this device.`
          : `${hubName} cannot be reached, so you are using the apps on this device. Changes made here stay on this device.`;
      if (this.reach.hub === 'up') actions.push(html`<button @click=${() => this.switchTo('hub')}>Back to ${guided ? 'the home server' : 'the hub'}</button>`);
      actions.push(html`<button @click=${() => this.switchTo('device')}>Keep using this device</button>`);
    } else if (reach === 'up') {
      text = t === 'hub' ? `Connected to ${hubName.toLowerCase()} at ${location.host}.` : 'Using the apps on this device. They work without a network.';
    } else text = `Connecting to ${t === 'hub' ? hubName.toLowerCase() : 'this device'}…`;
    // an open app fills the screen: the header's dot and node name say where it runs; the bar shows only a problem
    if (compact && !tone) return nothing;
    const dot = html`<span class="dot ${reach}" aria-hidden="true"></span>`;
    return html`<div class="linkbar ${tone}" role=${tone ? 'alert' : 'status'} aria-label="Connection">
      <span class="what">${dot}<span>${text}</span></span>${actions.length ? html`<span class="row">${actions}</span>` : nothing}
    </div>`;
  }

  private screen() {
    const hubLabel = targetLabel('hub');
    switch (this.access) {
      case 'checking':
        return html`<p class="muted">Connecting to ${targetLabel(this.target)}…</p>`;
      case 'unreachable':
        return html`<section class="card">
          <h2>${this.target === 'hub' && this.guided.on ? 'The home server' : targetLabel(this.target)} cannot be reached</h2>
          <p>
            ${this.target === 'hub'
              ? 'Check that the hub is running and that this device is on the same network.'
              : 'Open this page once while online so the browser can install Fazt’s node, then it works offline too.'}
          </p>
        </section>`;
      case 'refused':
        if (this.target === 'device') {
          // a damaged or too-new cartridge: Settings offers export, restore and start fresh
          import('./settings-screen.js');
          return html`<section class="card" role="alert"><h2>This device's node is not ready</h2><p>${this.accessMessage}</p></section>
            <fazt-settings .api=${this.api} ?deviceAvailable=${true} targetLabel=${targetLabel('device')}></fazt-settings>`;
        }
        return html`<section class="card"><h2>${targetLabel(this.target)} refused</h2><p class="error">${this.accessMessage}</p></section>`;
      case 'setup':
      case 'login':
        return html`${this.guided.on ? html`<p class="card">Fazt needs the owner to sign in again on this device.</p>` : nothing}
          <fazt-sign-in .api=${this.api} mode=${this.access} ?codeRequired=${this.codeRequired} hubLabel=${hubLabel}></fazt-sign-in>`;
    }
    const r = this.route;
    const label = targetLabel(this.target);
    switch (r.screen) {
      case 'apps':
        return html`<fazt-apps .api=${this.api} version=${this.appsVersion} .reach=${this.reach}></fazt-apps>`;
      case 'deploy':
        return html`<fazt-deploy .api=${this.api} targetLabel=${label}></fazt-deploy>`;
      case 'settings':
        return html`<fazt-settings .api=${this.api} ?deviceAvailable=${this.reach.device === 'up'} targetLabel=${label}></fazt-settings>`;
      case 'devices':
        return html`<fazt-devices .api=${this.api} targetLabel=${label}></fazt-devices>`;
      case 'health':
        return html`<fazt-health .api=${this.api} targetLabel=${label}></fazt-health>`;
      case 'app':
        return html`<fazt-app-detail .api=${this.api} name=${r.name} tab=${r.tab} .reach=${this.reach}></fazt-app-detail>`;
      case 'open':
        return html`<fazt-app-view .api=${this.api} name=${r.name} path=${r.path ?? ''}></fazt-app-view>`;
      case 'guided':
        return html`<fazt-guided-home .api=${this.api} placeLabel=${this.target === 'device' ? 'on this device' : 'on your home server'}></fazt-guided-home>`;
      case 'guided-open':
        return html`<fazt-app-view .api=${this.api} name=${r.name} path=${r.path ?? ''} guided></fazt-app-view>`;
      case 'guided-help':
        return html`<fazt-guided-help wizard=${r.wizard}></fazt-guided-help>`;
    }
  }
}
customElements.define('fazt-shell', FaztShell);

declare global {
  interface HTMLElementTagNameMap {
    'fazt-shell': FaztShell;
  }
}
