/**
 * `<fazt-devices>`: the mesh of the node acted on (docs/mesh.md). Its name (editable) and id
 * (never changes; copyable); the paired devices, live (polled every few seconds while the page is
 * visible), with unpair after a confirmation; and "Add a device", one ceremony in two directions:
 * this node invites (QR code, the 12 words, the code, its sound, a countdown to expiry) or it joins
 * another (scan the other's QR code with the camera, type its words or code, or listen for its
 * sound). Loaded on demand; the sound module (ggwave, `web/lib/chirp-audio.ts`) only when a sound
 * button is tapped.
 *
 * Sync (docs/sync-spec.md): per paired device, whether sync runs, the last sync, what is pending each
 * way and a progress bar during a catch-up (`/api/sync/status`, polled with the peers, every second
 * while a catch-up runs); and the conflicts list, where the owner keeps one value or the other
 * (`/api/conflicts`, `POST /api/conflicts/:id/resolve`).
 *
 * Everything goes through the admin API (`/api/mesh/*`, `/api/sync/*`) of the node acted on, so the
 * screen works the same against the hub and against this device's node in the service worker.
 */
import { LitElement, html, css, svg, nothing } from 'lit';
import { repeat } from 'lit/directives/repeat.js';
import { ApiError, type FaztApi } from '../lib/api.js';
import type { ConflictInfo, MeshIdentityInfo, MeshInvitationInfo, MeshPeerInfo, SyncPeerStatus } from '../lib/api-types.js';
import { catchUpDone, conflictValue, trackCatchUps, type CatchUp } from '../lib/sync-state.js';
import { formatAgo, formatCountdown, formatTime, plural } from '../lib/format.js';
import { qrPath, qrSymbol, QUIET_ZONE } from '../lib/qr.js';
import { scanQr, ScanError } from '../lib/qr-scan.js';
import { base } from './styles.js';

/**
 * Why a paired device has no link, in plain words, from the host's `transport` report
 * (`GET /api/mesh/peers`): what went wrong last (by its error code) and when the next try is.
 */
export function linkTrouble(t: NonNullable<MeshPeerInfo['transport']>, now: number): string {
  const code = t.error?.split(':')[0] ?? '';
  const why =
    code === 'PAIRING_FAILED'
      ? 'Something answered in its place but could not prove it is the device you paired with, so it was refused.'
      : code === 'NOT_PAIRED'
        ? 'It no longer knows this device: unpair it here and pair again.'
        : code === 'OFFLINE'
          ? 'This device is offline. It connects again by itself when it is back online.'
          : t.error
          ? 'It could not be reached.'
          : '';
  if (code === 'OFFLINE') return why;
  const next = t.retryAt && t.retryAt > now ? `Trying again in ${Math.max(1, Math.ceil((t.retryAt - now) / 1000))} s.` : 'Trying again.';
  return `${why} ${next}`.trim();
}
import { emit, UNREACHABLE } from './events.js';

/** How often the paired devices are read again while the screen is visible, ms. */
const POLL_MS = 3000;

/** Which way "Add a device" goes: this node shows an invitation, or it joins another's. */
type AddMode = 'none' | 'invite' | 'join';

/** The camera scan's state. */
type ScanState = 'off' | 'starting' | 'looking';

/** How the invitation of a join came. */
type JoinVia = 'typed' | 'scanned' | 'heard';

/** How long an invitation made here lives, ms (the API's default, asked for explicitly so the countdown needs no clock agreement). */
const INVITE_TTL_MS = 10 * 60_000;

/** How long "Listen" waits for a sound message, ms. */
const LISTEN_MS = 60_000;

/** The sound module and the invitation's sound codecs, loaded on the first tap of a sound button. */
const sound = () => Promise.all([import('../lib/chirp-audio.js'), import('../../shared/mesh/chirp.js')]).then(([audio, codec]) => ({ ...audio, ...codec }));

/** The Devices screen. */
export class FaztDevices extends LitElement {
  static properties = {
    api: { attribute: false },
    targetLabel: {},
    me: { state: true },
    meError: { state: true },
    nameError: { state: true },
    nameBusy: { state: true },
    copied: { state: true },
    codeCopied: { state: true },
    peers: { state: true },
    peersError: { state: true },
    confirming: { state: true },
    unpairBusy: { state: true },
    unpairError: { state: true },
    mode: { state: true },
    invitation: { state: true },
    inviteError: { state: true },
    inviteBusy: { state: true },
    now: { state: true },
    joinError: { state: true },
    joinDetail: { state: true },
    joining: { state: true },
    joinVia: { state: true },
    scan: { state: true },
    scanError: { state: true },
    playing: { state: true },
    playNote: { state: true },
    playError: { state: true },
    listening: { state: true },
    level: { state: true },
    listenError: { state: true },
    announce: { state: true },
    directAnswer: { state: true },
    acceptError: { state: true },
    acceptBusy: { state: true },
    answerCopied: { state: true },
    sync: { state: true },
    catchUps: { state: true },
    syncError: { state: true },
    conflicts: { state: true },
    conflictBusy: { state: true },
    conflictError: { state: true },
  };
  static styles = [
    base,
    css`
      dl {
        display: grid;
        grid-template-columns: max-content 1fr;
        gap: 0.25rem 1rem;
        margin: 0 0 0.5rem;
        align-items: center;
      }
      dt {
        color: var(--muted);
      }
      dd {
        margin: 0;
        min-width: 0;
      }
      .id {
        font-size: 1rem;
        letter-spacing: 0.04em;
      }
      .name-row {
        max-width: 30rem;
        display: flex;
        gap: 0.5rem;
        align-items: stretch;
      }
      .name-row input {
        flex: 1;
        min-width: 0;
      }
      li.peer {
        display: flex;
        flex-wrap: wrap;
        gap: 0.5rem 0.75rem;
        align-items: center;
        justify-content: space-between;
        padding: 0.75rem 0;
        border-top: 1px solid var(--line);
      }
      li.peer:first-child {
        border-top: 0;
        padding-top: 0.25rem;
      }
      li.peer .who {
        flex: 1 1 14rem;
        min-width: 0;
      }
      .state {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 0 0.35rem;
        font-size: 0.9rem;
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
      .confirm {
        flex: 1 1 100%;
        border: 2px solid var(--danger);
        border-radius: 10px;
        padding: 0.75rem;
        margin-top: 0.5rem;
      }
      .choose {
        display: grid;
        grid-template-columns: 1fr 1fr;
        gap: 0.5rem;
        margin: 0.5rem 0 1rem;
      }
      .choose button {
        flex-direction: column;
        gap: 0.1rem;
        padding: 0.6rem 0.5rem;
        line-height: 1.25;
      }
      .choose button[aria-expanded='false'] {
        background: var(--card);
        color: var(--fg);
        border-color: var(--line-strong);
      }
      .choose .sub {
        font-weight: 400;
        font-size: 0.85rem;
      }
      .qr {
        display: block;
        width: min(100%, 300px);
        height: auto;
        margin: 0 auto 0.75rem;
        background: #fff;
        border-radius: 8px;
        border: 1px solid var(--line);
      }
      ol.words {
        list-style: none;
        counter-reset: w;
        padding: 0;
        margin: 0 0 0.75rem;
        display: grid;
        grid-template-columns: repeat(2, minmax(0, 1fr));
        gap: 0.35rem 0.5rem;
      }
      @media (min-width: 40rem) {
        ol.words {
          grid-template-columns: repeat(3, minmax(0, 1fr));
        }
      }
      ol.words li {
        counter-increment: w;
        display: flex;
        align-items: baseline;
        gap: 0.25rem;
        font-size: clamp(1rem, 5vw, 1.3rem);
        font-weight: 600;
        padding: 0.2rem 0.35rem;
        background: var(--code-bg);
        border-radius: 8px;
        white-space: nowrap;
      }
      ol.words li::before {
        content: counter(w) '.';
        flex: none;
        min-width: 1.3rem;
        text-align: right;
        font-size: 0.85rem;
        font-weight: 400;
        color: var(--muted);
      }
      .countdown {
        font-size: 1.05rem;
      }
      .countdown strong {
        font-variant-numeric: tabular-nums;
      }
      meter {
        width: 100%;
        height: 1rem;
        margin-bottom: 0.5rem;
      }
      video {
        display: block;
        width: 100%;
        max-height: 50vh;
        background: #000;
        border-radius: 8px;
        margin: 0.5rem 0;
        object-fit: cover;
      }
      textarea {
        min-height: 5.5rem;
        resize: vertical;
      }
      textarea[aria-invalid='true'] {
        border: 2px solid var(--danger);
      }
      progress {
        width: 100%;
        height: 0.75rem;
      }
      .progress {
        margin: 0.5rem 0;
      }
      details {
        margin: 0.75rem 0;
      }
      summary {
        display: list-item;
        padding: 0.6rem 0;
        min-height: 44px;
        cursor: pointer;
        font-weight: 600;
      }
      h3 {
        margin-top: 1rem;
      }
      .panel > h3:first-child {
        margin-top: 0;
      }
      #scan-error,
      #listen-error,
      #play-error {
        margin-top: 0.5rem;
      }
      .note {
        background: var(--warn-bg);
        color: var(--warn-text);
        padding: 0.6rem 0.75rem;
        border-radius: 10px;
      }
      .sync {
        font-size: 0.9rem;
        margin-top: 0.15rem;
      }
      .sync progress {
        display: block;
        margin: 0.25rem 0;
      }
      .stalled {
        color: var(--danger);
      }
      li.conflict {
        padding: 0.75rem 0;
        border-top: 1px solid var(--line);
      }
      li.conflict:first-child {
        border-top: 0;
        padding-top: 0.25rem;
      }
      .values {
        display: grid;
        grid-template-columns: max-content minmax(0, 1fr);
        gap: 0.15rem 0.75rem;
        margin: 0.35rem 0 0.5rem;
      }
      .values dd code {
        overflow-wrap: anywhere;
      }
      .done {
        background: var(--ok-bg);
        color: var(--ok-text);
        padding: 0.6rem 0.75rem;
        border-radius: 10px;
        font-weight: 600;
      }
    `,
  ];

  /** Client of the node acted on. */
  api!: FaztApi;
  /** Name of the node acted on ("Hub", "This phone"). */
  targetLabel = '';
  private me: MeshIdentityInfo | undefined;
  private meError = '';
  private nameError = '';
  private nameBusy = false;
  private copied = '';
  private codeCopied = '';
  private peers: MeshPeerInfo[] | undefined;
  private peersError = '';
  /** The peer whose unpairing waits for a yes. */
  private confirming: MeshPeerInfo | undefined;
  private unpairBusy = false;
  private unpairError = '';
  private mode: AddMode = 'none';
  private invitation: MeshInvitationInfo | undefined;
  /** When the shown invitation stops working, on this device's clock (ms since the epoch). */
  private inviteEnds = 0;
  private inviteError = '';
  private inviteBusy = false;
  /** The clock of the countdown and of "last seen", ms since the epoch. */
  private now = Date.now();
  private joinError = '';
  /** What the node said when a join failed (the addresses it tried), shown small under the error. */
  private joinDetail = '';
  /** A join is under way: its progress text. */
  private joining = '';
  /** How the invitation of the join under way came: its progress is shown where that happened. */
  private joinVia: JoinVia = 'typed';
  /** The invitation is being played as sound. */
  private playing = false;
  /** What happened after playing (airtime, a hint). */
  private playNote = '';
  private playError = '';
  /** The microphone is listening for an invitation. */
  private listening = false;
  /** The microphone's input level, RMS 0–1, for the meter. */
  private level = 0;
  private listenError = '';
  private soundAbort: AbortController | undefined;
  private scan: ScanState = 'off';
  private scanError = '';
  /** The last thing said in the polite live region (paired, unpaired, expired). */
  private announce = '';
  /**
   * A direct join's answer code, shown until the inviting device takes it (the inviter appears in
   * the peers) or it expires (`ends`, on this device's clock).
   */
  private directAnswer: { answer: string; inviterId: string; ends: number } | undefined;
  private answerCopied = '';
  /** Taking the other device's answer to this node's direct invitation: under way, or why it failed. */
  private acceptBusy = false;
  private acceptError = '';
  /** Sync state per paired device, by node id (`undefined`: not read yet, or the node has no sync). */
  private sync: Map<string, SyncPeerStatus> | undefined;
  /** Catch-ups under way, by node id (see `trackCatchUps`). */
  private catchUps: Map<string, CatchUp> = new Map();
  private syncError = '';
  /** The open conflicts, newest first. */
  private conflicts: ConflictInfo[] | undefined;
  /** The id of the conflict being resolved. */
  private conflictBusy = '';
  private conflictError = '';

  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private tickTimer: ReturnType<typeof setInterval> | undefined;
  private scanAbort: AbortController | undefined;
  /** Node ids paired when the shown invitation was made: a new one means it was used. */
  private knownAtInvite: Set<string> | undefined;
  private readonly onVisibility = () => {
    if (document.visibilityState === 'visible') void this.loadPeers();
  };
  /** A sync read is under way (the faster poll during a catch-up does not stack calls). */
  private syncLoading = false;

  connectedCallback() {
    super.connectedCallback();
    document.addEventListener('visibilitychange', this.onVisibility);
    this.pollTimer = setInterval(() => {
      if (document.visibilityState === 'visible') void this.loadPeers();
    }, POLL_MS);
    this.tickTimer = setInterval(() => this.tick(), 1000);
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    document.removeEventListener('visibilitychange', this.onVisibility);
    clearInterval(this.pollTimer);
    clearInterval(this.tickTimer);
    this.stopScan();
    this.stopSound();
  }

  updated(changed: Map<string, unknown>) {
    if (changed.has('api') && this.api) {
      this.stopScan();
      this.stopSound();
      this.mode = 'none';
      this.invitation = undefined;
      this.directAnswer = undefined;
      this.confirming = undefined;
      this.sync = undefined;
      this.catchUps = new Map();
      this.conflicts = undefined;
      void this.loadMe();
      void this.loadPeers();
    }
    if (changed.has('confirming') && this.confirming) this.renderRoot.querySelector<HTMLElement>('.confirm button.secondary')?.focus();
  }

  // ------------------------------------------------------------------ loading

  private async loadMe() {
    this.meError = '';
    try {
      this.me = await this.api.meshId();
    } catch (e) {
      this.meError = `Could not read this node’s name and id: ${(e as Error).message}`;
      this.unreachable(e);
    }
  }

  private async loadPeers() {
    const api = this.api;
    if (!api) return;
    void this.loadSync();
    try {
      const peers = await api.peers();
      if (api !== this.api) return;
      this.peersError = '';
      this.noticeNewPeer(peers);
      const answered = this.directAnswer && peers.find((p) => p.nodeId === this.directAnswer!.inviterId);
      if (answered) {
        this.directAnswer = undefined;
        this.stopSound();
        this.say(`Paired with ${answered.name}. It is in the list of paired devices.`);
      }
      this.peers = peers;
      // the peer waiting for a yes was unpaired elsewhere (from its side): nothing left to confirm
      if (this.confirming && !peers.some((p) => p.nodeId === this.confirming!.nodeId)) this.confirming = undefined;
    } catch (e) {
      if (api !== this.api) return;
      this.peersError = `Could not load the paired devices: ${(e as Error).message}`;
      this.unreachable(e);
    }
  }

  /**
   * Reads the sync state and the open conflicts. A node without sync (an older build: 404) shows
   * neither, and no error.
   */
  private async loadSync() {
    const api = this.api;
    if (!api || this.syncLoading) return;
    this.syncLoading = true;
    try {
      const [status, conflicts] = await Promise.all([api.syncStatus(), api.conflicts({ limit: 200 })]);
      if (api !== this.api) return;
      this.syncError = '';
      this.sync = new Map(status.map((s) => [s.nodeId, s]));
      this.catchUps = trackCatchUps(this.catchUps, status);
      this.conflicts = conflicts;
    } catch (e) {
      if (api !== this.api) return;
      const err = e as ApiError;
      if (err.status === 404) {
        this.sync = undefined;
        this.conflicts = undefined;
      } else this.syncError = `Could not read the sync state: ${err.message}`;
    } finally {
      this.syncLoading = false;
    }
  }

  /** While an invitation is shown, a device that was not paired when it was made has used it. */
  private noticeNewPeer(peers: MeshPeerInfo[]) {
    if (!this.invitation || !this.knownAtInvite) return;
    const fresh = peers.find((p) => !this.knownAtInvite!.has(p.nodeId));
    if (!fresh) return;
    this.invitation = undefined;
    this.knownAtInvite = undefined;
    this.say(`Paired with ${fresh.name}. It is in the list of paired devices.`);
  }

  private unreachable(e: unknown) {
    if ((e as { code?: string }).code === 'NETWORK') emit(this, UNREACHABLE);
  }

  private tick() {
    this.now = Date.now();
    // a catch-up moves fast: its bar is read every second
    if (this.catchUps.size > 0 && document.visibilityState === 'visible') void this.loadSync();
    if (this.directAnswer && this.directAnswer.ends <= this.now) {
      this.directAnswer = undefined;
      this.stopSound();
      this.joinError = 'The inviting device did not take the answer in time: ask it for a new invitation and join again.';
      this.joinDetail = '';
    }
    if (this.invitation && this.inviteEnds <= this.now) {
      this.invitation = undefined;
      this.knownAtInvite = undefined;
      this.inviteError = 'This invitation has expired. Make a new one when the other device is ready.';
      this.say('The invitation expired.');
    }
  }

  /** Says `text` in the polite live region (and shows it). */
  private say(text: string) {
    this.announce = text;
  }

  // ------------------------------------------------------------------ render

  render() {
    return html`<section class="card" aria-labelledby="devices-h">
        <h2 id="devices-h">Devices</h2>
        <p class="muted">Paired devices trust each other and talk directly, even without internet.</p>
        ${this.identityView()}
      </section>
      ${this.peersView()} ${this.conflictsView()} ${this.addView()}
      <p class="visually-hidden" role="status" aria-live="polite">${this.announce}</p>`;
  }

  private identityView() {
    if (this.meError) return html`<p class="error" role="alert">${this.meError} <button class="link" @click=${this.loadMe}>Try again</button></p>`;
    if (!this.me) return html`<p class="muted">Loading…</p>`;
    return html`<label for="node-name">Name</label>
      <form class="name-row" @submit=${this.saveName}>
        <input id="node-name" name="name" .value=${this.me.name} maxlength="64" autocomplete="off" aria-describedby="name-error" aria-invalid=${this.nameError ? 'true' : 'false'} />
        <button type="submit" class="secondary" ?disabled=${this.nameBusy}>Save</button>
      </form>
      <p id="name-error" class="error" aria-live="polite">${this.nameError}</p>
      <dl>
        <dt>Id</dt>
        <dd class="row"><code class="id" id="node-id">${this.me.nodeId}</code> <button class="secondary" @click=${this.copyId} aria-describedby="copy-state">Copy</button></dd>
      </dl>
      <p class="muted small" id="copy-state" aria-live="polite">${this.copied || 'The id never changes; the name is yours to choose.'}</p>`;
  }

  private async saveName(e: Event) {
    e.preventDefault();
    const input = this.renderRoot.querySelector<HTMLInputElement>('#node-name')!;
    const name = input.value.trim();
    this.nameError = '';
    if (!name) {
      this.nameError = 'Give this node a name (1 to 64 characters), such as “kitchen pi”.';
      input.focus();
      return;
    }
    this.nameBusy = true;
    try {
      this.me = await this.api.renameNode(name);
      this.say(`Renamed to ${this.me.name}.`);
    } catch (err) {
      this.nameError = (err as Error).message;
      input.focus();
    } finally {
      this.nameBusy = false;
    }
  }

  private async copyId() {
    const id = this.me?.nodeId ?? '';
    this.copied = (await copyText(id)) ? 'Copied the id.' : 'This browser did not allow copying: select the id and copy it by hand.';
  }

  private peersView() {
    const list = this.peers;
    return html`<section class="card" aria-labelledby="peers-h">
      <h2 id="peers-h" tabindex="-1">Paired devices</h2>
      ${this.peersError ? html`<p class="error" role="alert">${this.peersError} <button class="link" @click=${this.loadPeers}>Try again</button></p>` : nothing}
      ${list === undefined && !this.peersError ? html`<p class="muted">Loading…</p>` : nothing}
      ${list?.length === 0 ? html`<p class="muted">No paired devices yet. Add one below.</p>` : nothing}
      ${list?.length
        ? html`<ul class="plain">
            ${repeat(
              list,
              (p) => p.nodeId,
              (p) => this.peerItem(p),
            )}
          </ul>`
        : nothing}
    </section>`;
  }

  private peerItem(p: MeshPeerInfo) {
    const confirming = this.confirming?.nodeId === p.nodeId;
    return html`<li class="peer" data-node=${p.nodeId}>
      <div class="who">
        <strong>${p.name}</strong>
        <div class="state">
          <span class="dot ${p.connected ? 'up' : ''}" aria-hidden="true"></span>${p.connected ? 'Connected' : p.transport?.state === 'connecting' ? 'Connecting…' : 'Not connected'}${p.lastSeen
            ? html`<span class="muted">· seen ${formatAgo(p.lastSeen - (this.api?.clockSkewMs ?? 0), this.now)}</span>`
            : html`<span class="muted">· not seen since pairing</span>`}
        </div>
        ${!p.connected && p.transport?.state === 'waiting' ? html`<div class="muted small link-trouble">${linkTrouble(p.transport, this.now + (this.api?.clockSkewMs ?? 0))}</div>` : nothing}
        ${this.syncLine(p)}
        <div class="muted small">Id <code>${p.nodeId}</code></div>
      </div>
      ${confirming ? nothing : html`<button class="secondary" aria-label="Unpair ${p.name}" @click=${() => this.askUnpair(p)}>Unpair…</button>`}
      ${confirming
        ? html`<div class="confirm" role="alertdialog" aria-labelledby="unpair-q" @keydown=${(e: KeyboardEvent) => e.key === 'Escape' && this.cancelUnpair()}>
            <p id="unpair-q">Unpair ${p.name}? The two devices stop trusting each other until you pair them again.</p>
            ${this.unpairError ? html`<p class="error" role="alert">${this.unpairError}</p>` : nothing}
            <div class="row">
              <button class="danger" ?disabled=${this.unpairBusy} @click=${this.unpairConfirmed}>Unpair</button>
              <button class="secondary" @click=${this.cancelUnpair}>Cancel</button>
            </div>
          </div>`
        : nothing}
    </li>`;
  }

  /** One paired device's sync: running or not, last sync, pending each way, a catch-up's bar. */
  private syncLine(p: MeshPeerInfo) {
    const s = this.sync?.get(p.nodeId);
    if (!s) return this.sync && !this.syncError ? html`<div class="sync muted" data-sync="none">Not synced yet.</div>` : nothing;
    const skew = this.api?.clockSkewMs ?? 0;
    const last = s.lastSyncAt ? html`last synced ${formatAgo(s.lastSyncAt - skew, this.now)}` : html`never synced`;
    const c = this.catchUps.get(p.nodeId);
    const state = s.stalled ? 'stalled' : !s.connected ? 'off' : c ? 'catching-up' : 'up-to-date';
    const pending =
      s.pendingOut || s.pendingIn
        ? html`<span class="pending">${plural(s.pendingOut, 'change')} to send, ${plural(s.pendingIn, 'change')} to receive</span>`
        : html`<span class="pending">nothing pending</span>`;
    return html`<div class="sync" data-sync=${state} data-pending-out=${s.pendingOut} data-pending-in=${s.pendingIn}>
      <div>
        <strong>${state === 'up-to-date' ? 'In sync' : state === 'catching-up' ? 'Catching up' : state === 'stalled' ? 'Sync stopped' : 'Sync waits for a link'}</strong>
        <span class="muted">· ${last} · ${pending}</span>
      </div>
      ${c
        ? html`<progress class="catch-up" max="100" .value=${Math.round(catchUpDone(c) * 100)} aria-label="Catching up with ${p.name}"></progress>
            <span class="muted small">${plural(c.left, 'change')} left of ${c.total}</span>`
        : nothing}
      ${s.stalled ? html`<div class="stalled small">${p.name} refuses this node’s changes: ${s.stalled}</div>` : nothing}
    </div>`;
  }

  /** The open conflicts: same field changed on two devices while apart; the owner keeps one value. */
  private conflictsView() {
    const list = this.conflicts;
    if (list === undefined && !this.syncError) return nothing;
    return html`<section class="card" aria-labelledby="conflicts-h">
      <h2 id="conflicts-h" tabindex="-1">Conflicts</h2>
      ${this.syncError ? html`<p class="error" role="alert">${this.syncError} <button class="link" @click=${this.loadSync}>Try again</button></p>` : nothing}
      ${list?.length === 0 ? html`<p class="muted" id="no-conflicts">No conflicts. When two devices change the same thing while apart, it shows here.</p>` : nothing}
      ${list?.length
        ? html`<p class="muted">These were changed on two devices while they were apart. The newer change was kept everywhere; the other one is here, so nothing is lost.</p>
            ${this.conflictError ? html`<p class="error" role="alert" id="conflict-error">${this.conflictError}</p>` : nothing}
            <ul class="plain">
              ${repeat(
                list,
                (c) => c.id,
                (c) => this.conflictItem(c),
              )}
            </ul>`
        : nothing}
    </section>`;
  }

  private conflictItem(c: ConflictInfo) {
    const busy = this.conflictBusy === c.id;
    const what = c.kind === 'kv' ? 'key' : c.kind === 'doc' ? 'document field' : 'file';
    return html`<li class="conflict" data-conflict=${c.id}>
      <div><strong>${c.appName ?? 'A removed app'}</strong> <span class="muted">· ${what}</span> <code class="key">${c.key}</code></div>
      <dl class="values">
        <dt>Kept</dt>
        <dd><code class="winner">${conflictValue(c.winner)}</code></dd>
        <dt>The other</dt>
        <dd><code class="loser">${conflictValue(c.loser)}</code></dd>
        <dt>When</dt>
        <dd>${formatTime(c.at - (this.api?.clockSkewMs ?? 0))}</dd>
      </dl>
      <div class="row">
        <button class="secondary keep-winner" ?disabled=${busy} @click=${() => this.resolve(c, 'winner')} aria-label="Keep this: ${conflictValue(c.winner, 40)}">Keep this</button>
        <button class="secondary keep-loser" ?disabled=${busy} @click=${() => this.resolve(c, 'loser')} aria-label="Keep the other: ${conflictValue(c.loser, 40)}">Keep the other</button>
      </div>
    </li>`;
  }

  /** Resolves a conflict on the node acted on; it is resolved everywhere as it syncs. */
  private async resolve(c: ConflictInfo, keep: 'winner' | 'loser') {
    this.conflictBusy = c.id;
    this.conflictError = '';
    try {
      await this.api.resolveConflict(c.id, keep);
      this.conflicts = this.conflicts?.filter((x) => x.id !== c.id);
      this.say(keep === 'winner' ? `Kept ${conflictValue(c.winner, 40)}.` : `Kept ${conflictValue(c.loser, 40)}; the other devices get it as they sync.`);
      await this.updateComplete;
      this.renderRoot.querySelector<HTMLElement>('#conflicts-h')?.focus();
      void this.loadSync();
    } catch (e) {
      const err = e as ApiError;
      this.conflictError =
        err.code === 'NOT_FOUND'
          ? 'This conflict is gone (resolved on another device meanwhile).'
          : err.code === 'CONFLICT'
            ? `The other value can no longer be restored: ${err.message}`
            : `Could not resolve the conflict: ${err.message}`;
      if (err.code === 'NOT_FOUND') void this.loadSync();
      this.unreachable(e);
    } finally {
      this.conflictBusy = '';
    }
  }

  private askUnpair(p: MeshPeerInfo) {
    this.unpairError = '';
    this.confirming = p;
  }

  private async cancelUnpair() {
    const id = this.confirming?.nodeId;
    this.confirming = undefined;
    await this.updateComplete;
    this.renderRoot.querySelector<HTMLElement>(`li.peer[data-node="${id}"] button`)?.focus();
  }

  private async unpairConfirmed() {
    const p = this.confirming;
    if (!p) return;
    this.unpairBusy = true;
    this.unpairError = '';
    try {
      await this.api.unpair(p.nodeId);
      this.peers = this.peers?.filter((x) => x.nodeId !== p.nodeId);
      this.confirming = undefined;
      this.say(`Unpaired ${p.name}.`);
      await this.updateComplete;
      this.renderRoot.querySelector<HTMLElement>('#peers-h')?.focus();
      void this.loadPeers();
    } catch (e) {
      // already gone (unpaired from the other side meanwhile): the list is what matters
      if ((e as ApiError).code === 'NOT_PAIRED') {
        this.confirming = undefined;
        void this.loadPeers();
      } else this.unpairError = `Could not unpair: ${(e as Error).message}`;
    } finally {
      this.unpairBusy = false;
    }
  }

  // ------------------------------------------------------------------ add a device

  private addView() {
    return html`<section class="card" aria-labelledby="add-h">
      <h2 id="add-h">Add a device</h2>
      <p class="muted">One device shows an invitation; the other one joins it. Either way works.</p>
      <div class="choose">
        <button aria-expanded=${this.mode === 'invite' ? 'true' : 'false'} aria-controls="add-panel" @click=${() => this.choose('invite')}>
          Invite <span class="sub">Show a code here</span>
        </button>
        <button aria-expanded=${this.mode === 'join' ? 'true' : 'false'} aria-controls="add-panel" @click=${() => this.choose('join')}>
          Join <span class="sub">Use the other’s code</span>
        </button>
      </div>
      ${this.announce && this.mode !== 'none' && /^Paired/.test(this.announce) ? html`<p class="done">${this.announce}</p>` : nothing}
      <div id="add-panel" class="panel">${this.mode === 'invite' ? this.inviteView() : this.mode === 'join' ? this.joinView() : nothing}</div>
    </section>`;
  }

  private choose(m: AddMode) {
    if (this.mode === m) {
      this.mode = 'none';
      this.stopScan();
      this.stopSound();
      return;
    }
    this.mode = m;
    this.announce = '';
    this.stopScan();
    this.stopSound();
    this.playError = '';
    this.playNote = '';
    this.listenError = '';
    // the panel opens below the buttons: bring it into view on a phone
    this.updateComplete.then(() => this.renderRoot.querySelector('.choose')?.scrollIntoView({ block: 'start' }));
    if (m === 'invite' && !this.invitation) void this.newInvitation();
    if (m === 'join') {
      this.joinError = '';
      this.joinDetail = '';
      this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>('#scan-button')?.focus());
    }
  }

  // -------------------------------- this node invites

  private async newInvitation(direct = false) {
    this.inviteBusy = true;
    this.inviteError = '';
    this.acceptError = '';
    this.announce = '';
    try {
      this.knownAtInvite = new Set((this.peers ?? []).map((p) => p.nodeId));
      // counted on this device's clock from the moment of asking: a phone whose clock is off still
      // shows the right countdown (the node's expiresAt is on the node's clock)
      const asked = Date.now();
      this.invitation = await this.api.invite(INVITE_TTL_MS, { direct: direct === true });
      this.inviteEnds = asked + INVITE_TTL_MS;
      this.now = Date.now();
    } catch (e) {
      this.invitation = undefined;
      this.inviteError = `Could not make an invitation: ${(e as Error).message}`;
      this.unreachable(e);
    } finally {
      this.inviteBusy = false;
    }
  }

  private inviteView() {
    const inv = this.invitation;
    if (!inv) {
      return html`${this.inviteBusy ? html`<p class="muted" role="status">Making an invitation…</p>` : nothing}
        ${this.inviteError ? html`<p class="error" role="alert">${this.inviteError}</p>` : nothing}
        ${this.inviteBusy ? nothing : html`<button @click=${this.newInvitation}>New invitation</button>`}`;
    }
    const sym = qrSymbol(inv.code);
    const side = sym.size + 2 * QUIET_ZONE;
    const words = inv.words.split(' ');
    return html`${inv.direct
        ? html`<p>On the other device, open Fazt’s <strong>Devices</strong> screen, tap <strong>Join</strong>, and scan this code or listen for the sound; on a headless node, run <code>fazt mesh join</code> with the code (or <code>--chirp</code> a recording of the sound).</p>`
        : html`<p>On the other device, open Fazt’s <strong>Devices</strong> screen, tap <strong>Join</strong>, and scan this code, type the words or listen for the sound.</p>`}
      <svg class="qr" id="invite-qr" viewBox="0 0 ${side} ${side}" role="img" aria-label="QR code of the invitation" shape-rendering="crispEdges">
        ${svg`<rect width=${side} height=${side} fill="#fff"></rect><path d=${qrPath(sym)} fill="#000"></path>`}
      </svg>
      <p class="countdown">Works for <strong>${formatCountdown(this.inviteEnds - this.now)}</strong> more, once.</p>
      ${inv.direct
        ? html`<p class="muted small">This invitation carries a connection offer, which the 12 words cannot: use the QR code, the code or the sound.</p>`
        : html`<h3 id="words-h">Or read out the words</h3>
            <ol class="words" aria-labelledby="words-h" lang="en">
              ${words.map((w) => html`<li>${w}</li>`)}
            </ol>`}
      <h3>Or play it as sound</h3>
      <p class="muted small">On the other device, tap <strong>Listen</strong> first, then play it here with the two devices close together.</p>
      <div class="row">
        ${this.playing
          ? html`<button class="secondary" @click=${this.stopSound}>Stop the sound</button>`
          : html`<button class="secondary" id="play-button" @click=${this.playSound}>Play sound</button>`}
      </div>
      ${this.playing ? html`<div class="progress" role="status"><progress aria-label="Playing"></progress> Playing the invitation as sound…</div>` : nothing}
      <p id="play-error" class="error" aria-live="assertive">${this.playError}</p>
      ${this.playNote ? html`<p class="muted small" role="status">${this.playNote}</p>` : nothing}
      ${inv.addresses.length === 0 && !inv.direct
        ? html`<p class="note">This invitation carries no network address of ${this.targetLabel || 'this node'}: the other device has to know where to find it. To pair a phone with a hub, show the invitation on the hub and join from the phone.</p>`
        : nothing}
      ${this.api.target === 'device' && !inv.direct
        ? html`<p class="muted small">Or let the other device connect to this one directly: the code then carries a connection offer, and the other device gives back an answer.</p>
            <button class="secondary" id="direct-invite" @click=${() => this.newInvitation(true)} ?disabled=${this.inviteBusy}>Invite with a connection offer</button>`
        : nothing}
      ${inv.direct ? this.acceptView() : nothing}
      <details>
        <summary>The invitation as one code</summary>
        <p><code id="invite-code">${inv.code}</code></p>
        <button class="secondary" @click=${this.copyCode}>Copy the code</button>
        <span class="muted small" aria-live="polite">${this.codeCopied}</span>
      </details>
      <div class="row">
        <button class="secondary" @click=${this.newInvitation} ?disabled=${this.inviteBusy}>New invitation</button>
      </div>`;
  }

  /** The field for the other device's answer to this node's direct invitation (`fazt mesh join` prints it). */
  private acceptView() {
    return html`<h3>Then enter the other device’s answer</h3>
      <label for="answer-input">The answer (FZA…) the other device shows</label>
      <p id="answer-hint" class="muted small">On a headless node, <code>fazt mesh join</code> with this invitation’s code prints it.</p>
      <textarea
        id="answer-input"
        rows="3"
        autocomplete="off"
        autocapitalize="characters"
        spellcheck="false"
        aria-describedby="answer-hint answer-error"
        aria-invalid=${this.acceptError ? 'true' : 'false'}
      ></textarea>
      <div class="row"><button id="accept-button" @click=${this.acceptAnswer} ?disabled=${this.acceptBusy}>Connect</button></div>
      ${this.acceptBusy ? html`<div class="progress" role="status"><progress aria-label="Connecting"></progress> Connecting to the other device…</div>` : nothing}
      <div id="answer-error" aria-live="assertive">${this.acceptError ? html`<p class="error">${this.acceptError}</p>` : nothing}</div>`;
  }

  private async acceptAnswer() {
    const field = this.renderRoot.querySelector<HTMLTextAreaElement>('#answer-input');
    const answer = field?.value.trim() ?? '';
    this.acceptError = '';
    if (!answer) {
      this.acceptError = 'Enter the answer code (FZA…) that the other device shows.';
      field?.focus();
      return;
    }
    this.acceptBusy = true;
    try {
      const r = await this.api.acceptAnswer(answer);
      this.invitation = undefined;
      this.knownAtInvite = undefined;
      this.say(`Paired with ${r.peer.name}. It is in the list of paired devices.`);
      void this.loadPeers();
    } catch (e) {
      this.acceptError = (e as Error).message;
      this.unreachable(e);
      await this.updateComplete;
      this.renderRoot.querySelector<HTMLElement>('#answer-input')?.focus();
    } finally {
      this.acceptBusy = false;
    }
  }

  /**
   * A direct join's answer (docs/mesh.md "Pairing with no reachable server"): the other device could
   * not be reached over the network, so its invitation carried a connection offer, and this device's
   * answer goes back by QR code, by the code itself or by sound.
   */
  private answerView(d: { answer: string; inviterId: string; ends: number }) {
    const sym = qrSymbol(d.answer);
    const side = sym.size + 2 * QUIET_ZONE;
    return html`<h3>Now give this answer to the inviting device</h3>
      <p>On the inviting device run <code>fazt mesh accept</code> with this code, or scan it. The two devices then connect directly, with no server between them.</p>
      <svg class="qr" id="answer-qr" viewBox="0 0 ${side} ${side}" role="img" aria-label="QR code of the answer" shape-rendering="crispEdges">
        ${svg`<rect width=${side} height=${side} fill="#fff"></rect><path d=${qrPath(sym)} fill="#000"></path>`}
      </svg>
      <div class="progress" role="status"><progress aria-label="Waiting for the inviting device"></progress> Waiting for the inviting device to take the answer (${formatCountdown(d.ends - this.now)} left)…</div>
      <h3>The answer as one code</h3>
      <p class="answer-code"><code id="answer-code">${d.answer}</code></p>
      <div class="row">
        <button class="secondary" @click=${this.copyAnswer}>Copy the answer</button>
        ${this.playing
          ? html`<button class="secondary" @click=${this.stopSound}>Stop the sound</button>`
          : html`<button class="secondary" id="play-answer-button" @click=${this.playAnswer}>Play sound</button>`}
      </div>
      <span class="muted small" aria-live="polite">${this.answerCopied}</span>
      ${this.playing ? html`<div class="progress" role="status"><progress aria-label="Playing"></progress> Playing the answer as sound…</div>` : nothing}
      <p id="play-error" class="error" aria-live="assertive">${this.playError}</p>
      ${this.playNote ? html`<p class="muted small" role="status">${this.playNote}</p>` : nothing}
      <p class="muted small">By sound: record it on the inviting device, then run <code>fazt mesh accept --chirp RECORDING.wav</code> there.</p>
      <div class="row">
        <button class="secondary" @click=${this.cancelAnswer}>Cancel</button>
      </div>`;
  }

  private async copyAnswer() {
    this.answerCopied = (await copyText(this.directAnswer?.answer ?? '')) ? 'Copied.' : 'Copying was not allowed: select the code and copy it by hand.';
  }

  /** Stops showing the answer (the join stays possible until the invitation expires on the node). */
  private cancelAnswer() {
    this.stopSound();
    this.directAnswer = undefined;
    this.answerCopied = '';
  }

  /** Plays the answer code as Chirp: its binary form (`answerChirpPayload`, ≤ 140 bytes). */
  private async playAnswer() {
    const d = this.directAnswer;
    if (!d) return;
    await this.play(async (s) => s.answerChirpPayload(d.answer), '#play-answer-button');
  }

  private async copyCode() {
    this.codeCopied = (await copyText(this.invitation?.code ?? '')) ? 'Copied.' : 'Copying was not allowed: select the code and copy it by hand.';
  }

  // -------------------------------- this node joins

  private joinView() {
    if (this.directAnswer) return this.answerView(this.directAnswer);
    const busy = !!this.joining;
    const progress = html`<div class="progress" role="status"><progress aria-label="Joining"></progress> ${this.joining}</div>`;
    return html`<h3>Scan the other device’s QR code</h3>
      ${this.scan === 'off'
        ? html`<button id="scan-button" @click=${this.startScan} ?disabled=${busy}>Scan a QR code</button>`
        : html`<video id="scan-video" aria-label="Camera picture" muted playsinline></video>
            <div class="progress" role="status">
              <progress aria-label="Scanning"></progress>
              ${this.scan === 'starting' ? 'Starting the camera…' : 'Looking for a QR code… Hold the other device’s screen in front of the camera.'}
            </div>
            <button class="secondary" @click=${this.stopCamera}>Stop the camera</button>`}
      ${busy && this.joinVia === 'scanned' ? progress : nothing}
      <p id="scan-error" class="error" aria-live="assertive">${this.scanError}</p>
      <h3>Or listen for its sound</h3>
      ${this.listening
        ? html`<div class="progress" role="status">
              <progress aria-label="Listening"></progress>
              Listening… Now tap <strong>Play sound</strong> on the other device and hold the two close together.
            </div>
            <label for="level" class="small">Sound the microphone hears</label>
            <meter id="level" min="0" max="0.3" low="0.02" optimum="0.1" .value=${this.level}></meter>
            <button class="secondary" @click=${this.stopListening}>Stop listening</button>`
        : html`<button id="listen-button" class="secondary" @click=${this.listen} ?disabled=${busy}>Listen</button>`}
      ${busy && this.joinVia === 'heard' ? progress : nothing}
      <p id="listen-error" class="error" aria-live="assertive">${this.listenError}</p>
      <h3>Or type the words</h3>
      <form @submit=${this.submitJoin} novalidate>
        <label for="join-input">The 12 words or the code</label>
        <p id="join-hint" class="muted small">Separate the words with spaces. The first four letters of each word are enough.</p>
        <textarea
          id="join-input"
          name="invitation"
          rows="3"
          autocomplete="off"
          autocapitalize="none"
          spellcheck="false"
          aria-describedby="join-hint join-error"
          aria-invalid=${this.joinError ? 'true' : 'false'}
          @input=${() => {
            if (this.joinError) this.joinError = '';
          }}
        ></textarea>
        <div id="join-error" aria-live="assertive">
          ${this.joinError ? html`<p class="error">${this.joinError}</p>${this.joinDetail ? html`<p class="muted small">${this.joinDetail}</p>` : nothing}` : nothing}
        </div>
        <details>
          <summary>If joining cannot find the other device</summary>
          <label for="join-peer">The other device’s address</label>
          <input id="join-peer" name="peer" type="url" inputmode="url" placeholder="http://192.168.1.20:8080" autocomplete="off" />
        </details>
        <button type="submit" ?disabled=${busy}>Join</button>
      </form>
      ${busy && this.joinVia === 'typed' ? progress : nothing}`;
  }

  private async submitJoin(e: Event) {
    e.preventDefault();
    const input = this.renderRoot.querySelector<HTMLTextAreaElement>('#join-input')!;
    const text = input.value.trim();
    if (!text) {
      this.joinError = 'Type the 12 words (or the code) that the other device shows.';
      this.joinDetail = '';
      input.focus();
      return;
    }
    await this.join(text, 'typed');
  }

  /**
   * Joins with an invitation (typed, scanned or heard); on failure the message goes next to the
   * field, which gets the focus.
   */
  private async join(invitation: string, how: JoinVia) {
    const peer = this.renderRoot.querySelector<HTMLInputElement>('#join-peer')?.value.trim() || undefined;
    this.joinError = '';
    this.joinDetail = '';
    this.announce = '';
    this.joinVia = how;
    this.joining =
      how === 'scanned' ? 'Found an invitation. Connecting to the other device…' : how === 'heard' ? 'Heard an invitation. Connecting to the other device…' : 'Connecting to the other device…';
    try {
      const r = await this.api.join(invitation, peer);
      const field = this.renderRoot.querySelector<HTMLTextAreaElement>('#join-input');
      if (field) field.value = '';
      if ('answer' in r) {
        // a direct invitation: the answer goes back to the inviter by hand; the pairing completes then
        this.stopScan();
        this.stopSound();
        this.answerCopied = '';
        this.playNote = '';
        this.playError = '';
        this.directAnswer = { answer: r.answer, inviterId: r.inviter.nodeId, ends: r.expiresAt - this.api.clockSkewMs };
        this.say('Joined with a connection offer. Give the answer shown to the inviting device.');
        return;
      }
      this.say(`Paired with ${r.peer.name}. It is in the list of paired devices.`);
      void this.loadPeers();
    } catch (e) {
      const { message, detail } = joinFailure(e as ApiError);
      this.joinError = message;
      this.joinDetail = detail;
      if (how !== 'typed') {
        const field = this.renderRoot.querySelector<HTMLTextAreaElement>('#join-input');
        if (field) field.value = invitation;
      }
      this.unreachable(e);
      await this.updateComplete;
      this.renderRoot.querySelector<HTMLElement>('#join-input')?.focus();
    } finally {
      this.joining = '';
    }
  }

  private async startScan() {
    this.stopSound();
    this.scanError = '';
    this.joinError = '';
    this.scanAbort?.abort();
    const ctl = new AbortController();
    this.scanAbort = ctl;
    this.scan = 'starting';
    await this.updateComplete;
    const video = this.renderRoot.querySelector<HTMLVideoElement>('#scan-video')!;
    let wrong = false;
    try {
      const code = await scanQr(video, {
        signal: ctl.signal,
        onStarted: () => (this.scan = 'looking'),
        accept: (t) => {
          const ok = /^FZ1[A-Z2-7]+$/i.test(t.replace(/[\s-]+/g, ''));
          if (!ok && !wrong) {
            wrong = true;
            this.scanError = 'That QR code is not a Fazt invitation. Scan the code shown on the other device’s Devices screen.';
          }
          return ok;
        },
      });
      this.scanError = '';
      this.scan = 'off';
      this.scanAbort = undefined;
      await this.join(code, 'scanned');
    } catch (e) {
      if (this.scanAbort === ctl) {
        this.scan = 'off';
        this.scanAbort = undefined;
      }
      if (e instanceof ScanError) {
        if (e.code !== 'ABORTED') {
          this.scanError = e.message;
          await this.updateComplete;
          this.renderRoot.querySelector<HTMLElement>('#scan-button')?.focus();
        }
      } else this.scanError = `The scan stopped: ${(e as Error).message}. Type the words instead.`;
    }
  }

  // -------------------------------- sound (Chirp, ggwave)

  /** Plays the shown invitation as Chirp sound (its binary form, `invitationChirpPayload`). */
  private async playSound() {
    const inv = this.invitation;
    if (!inv) return;
    await this.play(async (s) => s.invitationChirpPayload(inv.code), '#play-button');
  }

  /** Plays `payload` as Chirp; an error goes under the button `focusOnError`, which gets the focus. */
  private async play(payload: (s: Awaited<ReturnType<typeof sound>>) => Promise<Uint8Array>, focusOnError: string) {
    this.stopSound();
    const ctl = new AbortController();
    this.soundAbort = ctl;
    this.playError = '';
    this.playNote = '';
    this.playing = true;
    try {
      const s = await sound();
      const { airtimeMs } = await s.playChirp(await payload(s), { protocol: s.INVITATION_CHIRP_PROTOCOL, signal: ctl.signal });
      this.playNote = `Played (${(airtimeMs / 1000).toFixed(1)} s). If the other device did not hear it, hold them closer, turn the volume up and play it again.`;
    } catch (e) {
      if ((e as { code?: string }).code !== 'ABORTED') this.playError = (e as Error).message;
    } finally {
      if (this.soundAbort === ctl) {
        this.soundAbort = undefined;
        this.playing = false;
      }
    }
    if (this.playError) {
      await this.updateComplete;
      this.renderRoot.querySelector<HTMLElement>(focusOnError)?.focus();
    }
  }

  /** Listens on the microphone for an invitation played as sound, then joins with it. */
  private async listen() {
    this.stopSound();
    this.stopScan();
    const ctl = new AbortController();
    this.soundAbort = ctl;
    this.listenError = '';
    this.joinError = '';
    this.level = 0;
    this.listening = true;
    let code: string | undefined;
    try {
      const s = await sound();
      const bytes = await s.listenChirp({ signal: ctl.signal, timeoutMs: LISTEN_MS, onLevel: (rms) => (this.level = rms) });
      try {
        code = s.invitationFromChirp(bytes);
      } catch {
        this.listenError = 'The sound heard is not a Fazt invitation. Play the invitation on the other device’s Devices screen, then tap Listen again.';
      }
    } catch (e) {
      if ((e as { code?: string }).code !== 'ABORTED') this.listenError = (e as Error).message;
    } finally {
      if (this.soundAbort === ctl) {
        this.soundAbort = undefined;
        this.listening = false;
      }
    }
    if (code) await this.join(code, 'heard');
    else if (this.listenError) {
      await this.updateComplete;
      this.renderRoot.querySelector<HTMLElement>('#listen-button')?.focus();
    }
  }

  /** "Stop listening": ends it and puts the focus back on Listen. */
  private stopListening() {
    this.stopSound();
    this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>('#listen-button')?.focus());
  }

  /** Stops playing or listening. */
  private stopSound() {
    this.soundAbort?.abort();
    this.soundAbort = undefined;
    this.playing = false;
    this.listening = false;
  }

  /** "Stop the camera": ends the scan and its message. */
  private stopCamera() {
    this.stopScan();
    this.scanError = '';
    this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>('#scan-button')?.focus());
  }

  private stopScan() {
    this.scanAbort?.abort();
    this.scanAbort = undefined;
    this.scan = 'off';
  }
}
customElements.define('fazt-devices', FaztDevices);

/** What the screen says when a join fails: the node's message, put plainly, and any detail. */
export function joinFailure(e: ApiError): { message: string; detail: string } {
  switch (e.code) {
    case 'PEER_UNREACHABLE':
      return {
        message: 'The other device could not be reached. Check that both are on the same network (the same Wi-Fi), or type its address under “If joining cannot find the other device”.',
        detail: e.message.replace(/ ?Check that both.*$/, ''),
      };
    case 'INVITATION_EXPIRED':
      return { message: 'This invitation has expired. On the other device, make a new one and try again.', detail: '' };
    case 'INVITATION_USED':
      return { message: 'This invitation was used already (each works once). On the other device, make a new one.', detail: '' };
    default:
      return { message: e.message, detail: '' };
  }
}

/**
 * Copies `text` to the clipboard: the async Clipboard API, or, where the page may not use it (plain
 * http on a LAN address), a selected hidden textarea and `execCommand('copy')`.
 * @returns whether the browser said it copied.
 */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.append(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'fazt-devices': FaztDevices;
  }
}
