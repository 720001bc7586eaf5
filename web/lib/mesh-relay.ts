/**
 * The page's side of the mesh relay (protocol: `sw/mesh-relay-api.ts`; docs/mesh.md, "The browser
 * node"): the device node's WebRTC data channels to its paired peers. A service worker has no
 * `RTCPeerConnection`, so the dashboard page opens them (PeerJS 1.5) and relays their messages to
 * the kernel in the worker, which runs the authenticated link over them; this module never sees a
 * key or a plaintext message.
 *
 * - **One owner.** Of several dashboard tabs, the one holding the Web Lock {@link MESH_RELAY_LOCK}
 *   owns the relay; when it closes or reloads the lock passes to another tab (or to the reloaded
 *   page), which connects anew.
 * - **Channels.** For each paired peer with an address (a headless node: it hosts the PeerJS
 *   signaling server at `/peerjs` on its HTTP port), the page registers on that server under a random
 *   single-use id and opens a data channel to the peer's node id (`reliable`, `serialization: 'raw'`
 *   like node/mesh-host.ts: strings for the handshake, bytes for frames, in order). ICE uses host
 *   candidates only (`iceServers: []`): no STUN, no TURN, no internet.
 * - **Reconnection.** A failed attempt is retried with backoff from 1 s to 30 s (as node/mesh-host.ts);
 *   a link that was open and closed is retried at once. When the worker restarts (it answers a beat
 *   with "unknown session", or announces its start), the page connects a new relay and opens every
 *   channel again. The `online` event and `navigator.connection` changes retry at once and have the
 *   worker check the open links.
 * - **Offline.** When the browser says the device went offline (the `offline` event: its last
 *   network interface went down, so no peer can be reached), every channel is closed at once (the
 *   link and its sync session end now, not at the next failed ping) and attempts pause until the
 *   `online` event, which opens them again at once; the peer's state says why. Only the events
 *   count, not `navigator.onLine` at start: Chromium says "offline" on a machine whose only
 *   interface is loopback, where links to a node on the same machine work. As the events can be
 *   wrong too, a paused peer is still tried every {@link MAX_BACKOFF_MS}.
 */
import type { DataConnection, Peer as PeerClient, PeerOptions } from 'peerjs';
import { MESH_BEAT_MS, MESH_RELAY_LOCK, type MeshRelayConnect, type MeshRelayStarted, type MeshRelayUnknown, type PageToWorker, type RelayPeer, type WorkerToPage } from '../../sw/mesh-relay-api.js';

/** Path of the signaling server on a headless node (node/mesh-host.ts `SIGNALING_PATH`). */
const SIGNALING_PATH = '/peerjs';
const MIN_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
/** A peer's state while the device is offline (`navigator.onLine === false`). */
const OFFLINE_ERROR = 'OFFLINE: this device is offline; its links open again when it is back online.';
/** Time for the signaling server to register us, and for a data channel to open, ms. */
const SIGNALING_TIMEOUT_MS = 5_000;
const CHANNEL_TIMEOUT_MS = 10_000;
/** Time for the worker to say how the link handshake went, ms (the link itself allows 10 s). */
const HANDSHAKE_TIMEOUT_MS = 12_000;
/** A relay whose beats get no answer for this long is connected anew, ms. */
const BEAT_TIMEOUT_MS = 3_000;

let peerjs: Promise<typeof import('peerjs')> | undefined;
/** PeerJS, loaded on the first connection (a device with no peers never loads it). */
function loadPeerJs(): Promise<typeof import('peerjs')> {
  peerjs ??= import('peerjs');
  peerjs.catch(() => (peerjs = undefined));
  return peerjs;
}

/** PeerJS options for a peer's signaling server at `baseUrl` (`http://host:port`). */
function signalingOptions(baseUrl: string): PeerOptions {
  const u = new URL(baseUrl);
  const secure = u.protocol === 'https:';
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: Number(u.port || (secure ? 443 : 80)),
    path: SIGNALING_PATH,
    secure,
    config: { iceServers: [] },
    debug: 0,
    pingInterval: 5_000,
  };
}

const randomId = (prefix: string) => prefix + Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');

/** One paired peer as the page tracks it. */
interface PeerState {
  peer: RelayPeer;
  /** The data channel carrying its link (or being set up). */
  channel: { conn: number; dc: DataConnection; client: PeerClient; linked: boolean } | undefined;
  connecting: boolean;
  delay: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** A direct pairing's peer connection in this page (sw/mesh-relay.ts `RelayDirectConnector`). */
interface DirectState {
  req: number;
  pc: RTCPeerConnection;
  /** The relay channel number once the data channel opened. */
  conn?: number;
  dc?: RTCDataChannel;
  done: boolean;
}

/** Time for ICE gathering in a direct pairing, ms. */
const GATHER_TIMEOUT_MS = 5_000;

/** The worker's verdict on a link handshake. */
interface Verdict {
  open: boolean;
  code?: string;
  message?: string;
}

/** What the relay reports, for tests and the bench (`window.__faztMesh`). */
export interface MeshRelayStats {
  /** Relay sessions connected so far (1 after the first). */
  sessions: number;
  /** Links that opened so far. */
  linksOpened: number;
  /** Peers with an open link now. */
  connected: string[];
  /** True while this page owns the relay. */
  owner: boolean;
}

/**
 * The relay of this page. Start it once with {@link startMeshRelay}; it runs until the page goes away.
 */
export class MeshRelayPage {
  private port: MessagePort | undefined;
  private session = '';
  private instance = '';
  private readonly peers = new Map<string, PeerState>();
  /** Attempts waiting for the worker's verdict on their handshake, by channel. */
  private readonly verdicts = new Map<number, (v: Verdict) => void>();
  /** Direct pairings' peer connections, by the worker's request number. */
  private readonly directs = new Map<number, DirectState>();
  private conns = 0;
  private beatTimer: ReturnType<typeof setInterval> | undefined;
  private lastBeatAnswer = 0;
  private beating = false;
  private reconnecting = false;
  /** A new worker version is installed and taking over: no relay session to the old one until it has. */
  private handingOver = false;
  /** The browser said `offline` and not `online` since: attempts pause (see the module's "Offline"). */
  private offline = false;
  private stopped = false;
  readonly stats: MeshRelayStats = { sessions: 0, linksOpened: 0, connected: [], owner: false };

  constructor(private readonly container: ServiceWorkerContainer = navigator.serviceWorker) {}

  /** Runs the relay (after this page got the lock). */
  async run(): Promise<void> {
    this.stats.owner = true;
    this.container.addEventListener('message', (e: MessageEvent) => this.onWorkerNotice(e.data as MeshRelayUnknown | MeshRelayStarted));
    this.container.addEventListener('controllerchange', () => {
      this.handingOver = false;
      void this.reconnect('a new worker version took over');
    });
    // A page's relay session with the active worker keeps Chromium from activating a new version
    // (skipWaiting waits until the old one has no work): once a new version is installed, let go of
    // the old one and stay away from it (a notice that the old worker restarted must not bring the
    // session back: that held the new version waiting for good, 1 run in 15 of the update e2e test);
    // `controllerchange` then connects to the new one. A new version that fails (redundant) ends the
    // handover and the page reconnects to the worker it has.
    void this.container.ready.then((reg) => {
      const watch = (w: ServiceWorker | null) => {
        if (!w) return;
        const check = () => {
          if (w.state === 'installed' || w.state === 'activating') {
            this.handingOver = true;
            this.release();
          } else if (w.state === 'redundant' && this.handingOver && !reg.waiting && !reg.installing) {
            this.handingOver = false;
            void this.reconnect('the new worker version failed');
          }
        };
        w.addEventListener('statechange', check);
        check();
      };
      watch(reg.installing ?? reg.waiting);
      reg.addEventListener('updatefound', () => watch(reg.installing));
    });
    addEventListener('online', () => this.networkChanged());
    addEventListener('offline', () => this.wentOffline());
    (navigator as Navigator & { connection?: EventTarget }).connection?.addEventListener?.('change', () => this.networkChanged());
    addEventListener('pagehide', () => this.stop());
    await this.connectRelay();
    this.beatTimer = setInterval(() => void this.beat(), MESH_BEAT_MS);
  }

  /** Ends every channel and the relay (the page goes away). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.beatTimer);
    this.send({ t: 'bye' });
    for (const s of this.peers.values()) this.dropChannel(s);
    for (const d of [...this.directs.values()]) this.endDirect(d, false);
  }

  /** Closes the relay port and every channel (a new worker version is about to take over). */
  private release(): void {
    for (const s of this.peers.values()) this.dropChannel(s);
    for (const d of [...this.directs.values()]) this.endDirect(d, false);
    try {
      this.port?.close();
    } catch {
      // closed already
    }
    this.port = undefined;
  }

  private async worker(): Promise<ServiceWorker> {
    const reg = await this.container.ready;
    const w = this.container.controller ?? reg.active;
    if (!w) throw new Error('no active service worker');
    return w;
  }

  /** Connects a new relay session to the worker; channels of the previous session are closed first. */
  private async connectRelay(): Promise<void> {
    for (const s of this.peers.values()) this.dropChannel(s);
    // a direct pairing's channel belongs to the old session (its worker is gone or replaced)
    for (const d of [...this.directs.values()]) this.endDirect(d, false);
    try {
      this.port?.close();
    } catch {
      // closed already
    }
    const channel = new MessageChannel();
    this.port = channel.port1;
    this.session = randomId('s');
    this.instance = '';
    this.beating = false;
    this.lastBeatAnswer = Date.now();
    channel.port1.onmessage = (e: MessageEvent<WorkerToPage>) => this.onMessage(e.data);
    const w = await this.worker();
    const m: MeshRelayConnect = { type: 'fazt:mesh', port: channel.port2, session: this.session };
    w.postMessage(m, [channel.port2]);
    this.stats.sessions++;
  }

  private async reconnect(why: string): Promise<void> {
    if (this.reconnecting || this.stopped) return;
    if (this.handingOver) return void console.info(`mesh relay: not reconnecting (${why}): a new worker version is taking over`);
    this.reconnecting = true;
    try {
      console.info(`mesh relay: reconnecting (${why})`);
      await this.connectRelay();
    } catch (e) {
      console.warn('mesh relay: reconnect failed', e);
    } finally {
      this.reconnecting = false;
    }
  }

  private onWorkerNotice(m: MeshRelayUnknown | MeshRelayStarted | undefined): void {
    if (!m || this.stopped) return;
    if (m.type === 'fazt:mesh-unknown' && m.session === this.session) void this.reconnect('the worker restarted');
    else if (m.type === 'fazt:mesh-started' && this.instance && m.instance !== this.instance) void this.reconnect('the worker restarted');
  }

  /**
   * Keeps the worker alive (and starts it again when it was stopped); notices a relay that died.
   * Only while there is a peer to keep a link to: otherwise the worker may sleep (a pairing wakes it,
   * and a starting worker tells the page).
   */
  private async beat(): Promise<void> {
    if (this.stopped || this.handingOver) return;
    if (![...this.peers.values()].some((s) => s.peer.addresses.length > 0) && this.directs.size === 0) {
      this.beating = false;
      return;
    }
    if (!this.beating) {
      this.beating = true;
      this.lastBeatAnswer = Date.now();
    }
    if (Date.now() - this.lastBeatAnswer > BEAT_TIMEOUT_MS) return void this.reconnect('the worker stopped answering');
    try {
      (await this.worker()).postMessage({ type: 'fazt:mesh-beat', session: this.session });
    } catch {
      // no worker now: the next beat tries again
    }
  }

  private send(m: PageToWorker, transfer: Transferable[] = []): void {
    this.port?.postMessage(m, transfer);
  }

  private onMessage(m: WorkerToPage): void {
    if (!m || typeof m !== 'object' || this.stopped) return;
    switch (m.t) {
      case 'hello':
        this.instance = m.instance;
        return;
      case 'beat':
        this.lastBeatAnswer = Date.now();
        return;
      case 'peers':
        this.lastBeatAnswer = Date.now();
        return this.reconcile(m.peers);
      case 'direct-answer':
      case 'direct-offer':
        void this.startDirect(m.req, m.t === 'direct-answer' ? m.sdp : undefined);
        return;
      case 'direct-connect': {
        const d = this.directs.get(m.req);
        if (!d) return this.send({ t: 'direct-failed', req: m.req, error: 'the peer connection is gone (was the page reloaded?)' });
        d.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp }).catch((e: unknown) => this.failDirect(d, `the answer could not be applied: ${String((e as Error)?.message ?? e)}`));
        return;
      }
      case 'direct-cancel': {
        const d = this.directs.get(m.req);
        if (d) this.endDirect(d, false);
        return;
      }
      case 'send': {
        const d = this.directByConn(m.conn);
        if (d) {
          try {
            if (typeof m.data === 'string') d.dc!.send(m.data);
            else d.dc!.send(m.data);
          } catch (e) {
            console.warn('mesh relay: direct send failed', e);
            this.endDirect(d, true);
          }
          return;
        }
        const s = this.byConn(m.conn);
        if (!s?.channel) return;
        try {
          s.channel.dc.send(m.data);
        } catch (e) {
          console.warn('mesh relay: send failed', e);
          this.dropChannel(s);
        }
        return;
      }
      case 'close': {
        const d = this.directByConn(m.conn);
        if (d) return this.endDirect(d, false);
        // a link that ended during its handshake: the worker's verdict (why) follows this message
        const s = this.byConn(m.conn);
        if (s) this.dropChannel(s, true);
        return;
      }
      case 'link':
        this.verdicts.get(m.conn)?.({ open: m.open, code: m.code, message: m.message });
        return;
    }
  }

  private directByConn(conn: number): DirectState | undefined {
    for (const d of this.directs.values()) if (d.conn === conn && d.dc) return d;
    return undefined;
  }

  /**
   * A direct pairing (docs/mesh.md "Pairing with no reachable server"): a peer connection with no
   * signaling server. With `offerSdp` this page answers that offer (the joiner: the inviter opens
   * the data channel); without, it offers one data channel (the inviter). Replies `direct-sdp` with
   * its description once ICE gathering completed, then `direct-open` when the channel opens.
   */
  private async startDirect(req: number, offerSdp: string | undefined): Promise<void> {
    let pc: RTCPeerConnection;
    try {
      pc = new RTCPeerConnection({ iceServers: [] });
    } catch (e) {
      return this.send({ t: 'direct-sdp', req, error: String((e as Error)?.message ?? e) });
    }
    const d: DirectState = { req, pc, done: false };
    this.directs.set(req, d);
    const opened = (dc: RTCDataChannel) => {
      if (d.done || d.dc) return;
      dc.binaryType = 'arraybuffer';
      const ready = () => {
        if (d.done || d.conn !== undefined) return;
        d.dc = dc;
        d.conn = ++this.conns;
        dc.onmessage = (e: MessageEvent<string | ArrayBuffer>) => {
          if (d.done) return;
          if (typeof e.data === 'string') this.send({ t: 'data', conn: d.conn!, data: e.data });
          else this.send({ t: 'data', conn: d.conn!, data: e.data }, [e.data]);
        };
        dc.onclose = () => this.endDirect(d, true);
        this.send({ t: 'direct-open', req, conn: d.conn });
      };
      if (dc.readyState === 'open') ready();
      else dc.onopen = ready;
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed') this.failDirect(d, 'no network path between the two devices (ICE failed)');
    };
    try {
      if (offerSdp === undefined) {
        opened(pc.createDataChannel('fazt'));
        await pc.setLocalDescription(await pc.createOffer());
      } else {
        pc.ondatachannel = (e) => opened(e.channel);
        await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
        await pc.setLocalDescription(await pc.createAnswer());
      }
      await timed(
        new Promise<void>((resolve) => {
          if (pc.iceGatheringState === 'complete') return resolve();
          pc.addEventListener('icegatheringstatechange', () => {
            if (pc.iceGatheringState === 'complete') resolve();
          });
        }),
        GATHER_TIMEOUT_MS,
        'ICE gathering did not complete',
      );
      if (d.done) return;
      this.send({ t: 'direct-sdp', req, sdp: pc.localDescription!.sdp });
    } catch (e) {
      if (d.done) return;
      this.send({ t: 'direct-sdp', req, error: String((e as Error)?.message ?? e) });
      this.endDirect(d, false);
    }
  }

  /** Tells the worker a direct pairing failed, and closes it. */
  private failDirect(d: DirectState, error: string): void {
    if (d.done) return;
    if (d.conn === undefined) this.send({ t: 'direct-failed', req: d.req, error });
    this.endDirect(d, true);
  }

  /** Closes a direct pairing's peer connection; `tell`: the worker learns the channel closed. */
  private endDirect(d: DirectState, tell: boolean): void {
    if (d.done) return;
    d.done = true;
    this.directs.delete(d.req);
    if (tell && d.conn !== undefined) this.send({ t: 'closed', conn: d.conn });
    try {
      d.dc?.close();
    } catch {
      // closed already
    }
    d.pc.close();
  }

  private byConn(conn: number): PeerState | undefined {
    for (const s of this.peers.values()) if (s.channel?.conn === conn) return s;
    return undefined;
  }

  /** Follows the worker's peer list: new peers are connected, unpaired ones dropped. */
  private reconcile(list: RelayPeer[]): void {
    const ids = new Set(list.map((p) => p.nodeId));
    for (const [id, s] of this.peers) {
      if (ids.has(id)) continue;
      clearTimeout(s.timer);
      this.dropChannel(s);
      this.peers.delete(id);
    }
    for (const p of list) {
      let s = this.peers.get(p.nodeId);
      if (!s) {
        s = { peer: p, channel: undefined, connecting: false, delay: MIN_BACKOFF_MS, timer: undefined };
        this.peers.set(p.nodeId, s);
      }
      s.peer = p;
      if (!s.channel && !s.connecting && s.timer === undefined && p.addresses.length) this.schedule(s, 0);
    }
    this.stats.connected = [...this.peers.values()].filter((x) => x.channel?.linked).map((x) => x.peer.nodeId);
  }

  private schedule(s: PeerState, ms: number): void {
    clearTimeout(s.timer);
    s.timer = setTimeout(() => {
      s.timer = undefined;
      void this.attempt(s);
    }, ms);
  }

  /** The device went offline: close every channel now and pause the attempts (see the module's "Offline"). */
  private wentOffline(): void {
    if (this.stopped) return;
    this.offline = true;
    for (const s of this.peers.values()) {
      this.dropChannel(s);
      if (!s.connecting) this.pauseOffline(s);
    }
  }

  /** Tells the worker that `s` waits for the device to be online, and tries again in {@link MAX_BACKOFF_MS} at the latest. */
  private pauseOffline(s: PeerState): void {
    s.delay = MIN_BACKOFF_MS;
    this.send({ t: 'attempt', peer: s.peer.nodeId, state: 'waiting', error: OFFLINE_ERROR, retryAt: Date.now() + MAX_BACKOFF_MS });
    this.schedule(s, MAX_BACKOFF_MS);
  }

  private networkChanged(): void {
    if (this.stopped) return;
    // a connection change may come with the `offline` event: only `online` (or a change while the browser says online) ends the pause
    if (navigator.onLine !== false) this.offline = false;
    this.send({ t: 'verify' });
    for (const s of this.peers.values()) {
      s.delay = MIN_BACKOFF_MS;
      if (!s.channel && !s.connecting) this.schedule(s, 0);
    }
  }

  /**
   * Closes a peer's channel (its link in the worker ends with it) and forgets it.
   * @param byWorker the worker closed it: its verdict on a pending handshake follows.
   */
  private dropChannel(s: PeerState, byWorker = false): void {
    const ch = s.channel;
    if (!ch) return;
    s.channel = undefined;
    if (!byWorker) this.verdicts.get(ch.conn)?.({ open: false, code: 'PEER_UNREACHABLE', message: 'The data channel closed.' });
    this.send({ t: 'closed', conn: ch.conn });
    try {
      ch.dc.close();
    } catch {
      // closed already
    }
    if (!ch.client.destroyed) ch.client.destroy();
    this.stats.connected = this.stats.connected.filter((id) => id !== s.peer.nodeId);
    if (ch.linked && !this.stopped && this.peers.get(s.peer.nodeId) === s) {
      // a link that was up went down: try again at once
      s.delay = MIN_BACKOFF_MS;
      if (!s.connecting) this.schedule(s, 0);
    }
  }

  /** One attempt to reach a peer: each of its addresses in turn, then backoff when none worked. */
  private async attempt(s: PeerState): Promise<void> {
    if (this.stopped || s.channel || s.connecting || this.peers.get(s.peer.nodeId) !== s) return;
    // between two worker versions (released, not yet reconnected): try again in a moment
    if (!this.port) return this.schedule(s, 200);
    if (this.offline) return this.pauseOffline(s);
    s.connecting = true;
    this.send({ t: 'attempt', peer: s.peer.nodeId, state: 'connecting' });
    const errors: string[] = [];
    try {
      for (const url of s.peer.addresses) {
        const result = await this.tryAddress(s, url);
        if (result === true) {
          s.delay = MIN_BACKOFF_MS;
          return;
        }
        errors.push(result);
        if (/^NOT_PAIRED\b/.test(result)) break;
      }
    } finally {
      s.connecting = false;
    }
    if (this.stopped || this.peers.get(s.peer.nodeId) !== s) return;
    if (this.offline) return this.pauseOffline(s);
    const delay = s.delay;
    s.delay = Math.min(delay * 2, MAX_BACKOFF_MS);
    const error = errors.join('; ') || 'no address known';
    this.send({ t: 'attempt', peer: s.peer.nodeId, state: 'waiting', error, retryAt: Date.now() + delay });
    this.schedule(s, delay);
  }

  /** @returns true when a link opened over a channel through `url`'s signaling server, else why not (`CODE: message`). */
  private async tryAddress(s: PeerState, url: string): Promise<true | string> {
    let client: PeerClient | undefined;
    let dc: DataConnection | undefined;
    try {
      const { Peer } = await loadPeerJs();
      client = new Peer(randomId('b'), signalingOptions(url));
      const c = client;
      await timed(
        new Promise<void>((resolve, reject) => {
          c.on('open', () => resolve());
          c.on('error', (e) => reject(new Error(`signaling: ${(e as { type?: string }).type ?? ''} ${e.message}`.trim())));
        }),
        SIGNALING_TIMEOUT_MS,
        'the signaling server did not answer',
      );
      const d = c.connect(s.peer.nodeId, { reliable: true, serialization: 'raw' });
      dc = d;
      await timed(
        new Promise<void>((resolve, reject) => {
          d.on('open', () => resolve());
          d.on('error', (e) => reject(e));
          c.on('error', (e) => reject(new Error(`${(e as { type?: string }).type ?? 'error'}: ${e.message}`)));
        }),
        CHANNEL_TIMEOUT_MS,
        'no data channel',
      );
      if (this.stopped || s.channel || this.peers.get(s.peer.nodeId) !== s) throw new Error('superseded');
      const conn = ++this.conns;
      const channel = { conn, dc: d, client: c, linked: false };
      s.channel = channel;
      d.on('data', (data) => {
        if (s.channel !== channel) return;
        if (typeof data === 'string') this.send({ t: 'data', conn, data });
        else if (data instanceof ArrayBuffer) this.send({ t: 'data', conn, data }, [data]);
        else if (ArrayBuffer.isView(data)) {
          const copy = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice().buffer;
          this.send({ t: 'data', conn, data: copy }, [copy]);
        }
      });
      d.on('close', () => {
        if (s.channel === channel) this.dropChannel(s);
      });
      const verdict = new Promise<Verdict>((r) => this.verdicts.set(conn, r));
      this.send({ t: 'open', conn, peer: s.peer.nodeId });
      const v = await timed(verdict, HANDSHAKE_TIMEOUT_MS, 'the link handshake did not finish').finally(() => this.verdicts.delete(conn));
      if (!v.open) {
        if (s.channel === channel) this.dropChannel(s);
        return `${v.code ?? 'PEER_UNREACHABLE'}: ${v.message ?? 'refused'}`;
      }
      if (s.channel !== channel) return 'PEER_UNREACHABLE: the data channel closed';
      channel.linked = true;
      this.stats.linksOpened++;
      this.stats.connected = [...new Set([...this.stats.connected, s.peer.nodeId])];
      return true;
    } catch (e) {
      if (s.channel && s.channel.dc === dc) this.dropChannel(s);
      try {
        dc?.close();
      } catch {
        // closed already
      }
      if (client && !client.destroyed) client.destroy();
      return `PEER_UNREACHABLE: ${url}: ${String((e as Error)?.message ?? e)}`;
    }
  }
}

/** Rejects after `ms` with `what`. */
function timed<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

let started: MeshRelayPage | undefined;

/**
 * Starts this page's part of the mesh: waits for the service worker, then for the Web Lock
 * {@link MESH_RELAY_LOCK} (held until the page goes away), then runs the relay. Safe to call more
 * than once. Does nothing without service workers or Web Locks.
 * @returns the relay (its `stats` show whether this page owns it yet).
 */
export function startMeshRelay(): MeshRelayPage | undefined {
  if (started) return started;
  if (!('serviceWorker' in navigator) || !navigator.locks || typeof RTCPeerConnection === 'undefined') return undefined;
  const relay = new MeshRelayPage();
  started = relay;
  (globalThis as { __faztMesh?: MeshRelayStats }).__faztMesh = relay.stats;
  void navigator.serviceWorker.ready.then(() =>
    navigator.locks.request(MESH_RELAY_LOCK, async () => {
      await relay.run().catch((e: unknown) => console.warn('mesh relay did not start', e));
      // hold the lock for the page's lifetime
      await new Promise<never>(() => {});
    }),
  );
  return relay;
}
