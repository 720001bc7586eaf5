/**
 * The worker's side of the mesh relay (protocol: `sw/mesh-relay-api.ts`; docs/mesh.md, "The browser
 * node"). The page holds the WebRTC data channels; here every channel becomes a `LinkTransport` whose
 * messages travel over the relay's `MessagePort`, and the device kernel's `MeshService.attach` runs
 * the link over it. The link's keys and handshake stay in this worker.
 *
 * One session at a time: the page that owns the relay (a Web Lock on the page side) connects; a new
 * connect ends the previous session and its links. A session with links whose page fell silent for
 * {@link MESH_SILENT_MS} (closed, crashed, frozen) is ended too, so `GET /api/mesh/peers` never says
 * `connected` for a link nobody carries. Every open link is pinged every {@link LIVENESS_MS} (and at
 * once after a network change): a link whose peer does not answer is closed, and the page connects
 * anew — a hub that restarted or vanished is noticed within seconds, not at the ICE timeout.
 */
import {
  FaztError,
  isFaztError,
  sessionFromSdp,
  sessionToSdp,
  type CompactSession,
  type DirectAnswer,
  type DirectChannel,
  type DirectConnector,
  type DirectOffer,
  type Kernel,
  type Logger,
} from '../shared/index.js';
import { MESH_SILENT_MS, type PageToWorker, type RelayPeer, type WorkerToPage } from './mesh-relay-api.js';

/** How often each open link is pinged, ms. */
export const LIVENESS_MS = 10_000;

/** Time for the page to make its offer or answer (ICE gathering included), ms. */
export const DIRECT_SDP_TIMEOUT_MS = 10_000;
/** Time to wait for a page to hold the relay before a direct pairing is refused, ms. */
const DIRECT_SESSION_WAIT_MS = 3_000;

/**
 * A direct pairing's data channel held by the page (`conn`), as shared/mesh/direct.ts sees it:
 * messages arrive through the relay's `data`, leave as `send`.
 */
class RelayChannel implements DirectChannel {
  private handler: ((m: string | Uint8Array | ArrayBuffer) => void) | undefined;
  private closeHandler: (() => void) | undefined;
  private readonly early: (string | ArrayBuffer)[] = [];
  closed = false;

  constructor(
    private readonly session: Session,
    readonly conn: number,
  ) {}

  send(m: string | Uint8Array): void {
    if (this.closed) throw new FaztError('PEER_UNREACHABLE', 'The data channel is closed.');
    this.session.sendData(this.conn, m);
  }

  close(): void {
    if (this.closed) return;
    this.session.post({ t: 'close', conn: this.conn });
    this.ended();
  }

  /** A message from the page. */
  deliver(m: string | ArrayBuffer): void {
    if (this.closed) return;
    if (this.handler) this.handler(m);
    else this.early.push(m);
  }

  /** The channel ended (either side, or the session). */
  ended(): void {
    if (this.closed) return;
    this.closed = true;
    this.session.forgetDirect(this.conn);
    this.closeHandler?.();
  }

  onMessage(cb: (m: string | Uint8Array | ArrayBuffer) => void): void {
    this.handler = cb;
    for (const m of this.early.splice(0)) cb(m);
  }

  onClose(cb: () => void): void {
    this.closeHandler = cb;
    if (this.closed) cb();
  }
}

/** One direct-pairing request to the page: its local SDP, then its channel. */
interface DirectRequest {
  req: number;
  /** The page's offer or answer (SDP, candidates gathered). */
  sdp: Promise<string>;
  /** The data channel, once open. */
  channel: Promise<RelayChannel>;
  /** Gives the request up (the page closes its peer connection); pending promises reject with `why`. */
  cancel(why?: FaztError): void;
}

/** One data channel of the page, as the worker's kernel sees it. */
interface Conn {
  peer: string;
  link: { receive: (m: string | Uint8Array | ArrayBuffer) => void; closed: () => void };
  open: boolean;
  /** True once the worker or the page closed it. */
  done: boolean;
}

/** A relay session: one page's port. */
class Session {
  private readonly conns = new Map<number, Conn>();
  private kernel: Kernel | undefined;
  private unsubscribe: (() => void)[] = [];
  private lastSeen = Date.now();
  private readonly watchdog: ReturnType<typeof setInterval>;
  private readonly liveness: ReturnType<typeof setInterval>;
  private queue: Promise<void> = Promise.resolve();
  private peersQueued = false;
  private reqs = 0;
  private readonly directReqs = new Map<number, { sdp: (r: { sdp?: string; error?: string }) => void; open: (conn: number) => void; fail: (e: FaztError) => void }>();
  private readonly directConns = new Map<number, RelayChannel>();
  ended = false;

  constructor(
    readonly id: string,
    private readonly port: MessagePort,
    private readonly kernelOf: { ready: () => Promise<Kernel | undefined>; current: () => Kernel | undefined },
    private readonly logger: Logger,
    instance: string,
  ) {
    port.onmessage = (e: MessageEvent<PageToWorker>) => {
      this.seen();
      const m = e.data;
      // in order: a channel's data must not overtake its `open`, which waits for the kernel
      this.queue = this.queue.then(() => this.handle(m)).catch((err: unknown) => this.logger.error('mesh relay message failed', { error: String((err as Error)?.stack ?? err) }));
    };
    port.start();
    this.post({ t: 'hello', instance });
    this.queue = this.queue.then(() => this.sendPeers());
    this.watchdog = setInterval(() => {
      // a page with links beats; one without any may be quiet (it beats again once it has peers)
      if (this.conns.size + this.directConns.size > 0 && Date.now() - this.lastSeen > MESH_SILENT_MS) this.end('the page went silent');
      else if (this.kernel && this.kernelOf.current() !== this.kernel) this.queue = this.queue.then(() => this.rebind());
    }, 1_000);
    this.liveness = setInterval(() => this.verify(), LIVENESS_MS);
  }

  /** The page is alive. */
  seen(): void {
    this.lastSeen = Date.now();
  }

  /** Posts to the page (a closed port drops it). */
  post(m: WorkerToPage, transfer: Transferable[] = []): void {
    if (this.ended) return;
    try {
      this.port.postMessage(m, transfer);
    } catch {
      // a detached buffer or a closed port: the page reconnects
    }
  }

  /** Ends the session: every link closes, the port too. */
  end(why: string): void {
    if (this.ended) return;
    for (const c of this.conns.values()) this.closeConn(c);
    this.conns.clear();
    for (const r of [...this.directReqs.values()]) r.fail(new FaztError('PEER_UNREACHABLE', 'The dashboard page that held the connection went away.'));
    for (const c of [...this.directConns.values()]) c.ended();
    this.ended = true;
    clearInterval(this.watchdog);
    clearInterval(this.liveness);
    for (const u of this.unsubscribe.splice(0)) u();
    try {
      this.port.close();
    } catch {
      // closed already
    }
    this.logger.info('mesh relay ended', { session: this.id, why });
  }

  private closeConn(c: Conn): void {
    if (c.done) return;
    c.done = true;
    c.link.closed();
  }

  /** The kernel, bound once per session (and again when the device node replaced it: import, restore). */
  private async bind(): Promise<Kernel | undefined> {
    const k = await this.kernelOf.ready();
    if (k !== this.kernel) await this.rebind(k);
    return k;
  }

  private async rebind(k?: Kernel): Promise<void> {
    k ??= await this.kernelOf.ready();
    if (k === this.kernel) return;
    for (const c of this.conns.values()) this.closeConn(c);
    this.conns.clear();
    for (const u of this.unsubscribe.splice(0)) u();
    this.kernel = k;
    if (k) {
      this.unsubscribe.push(
        k.mesh.onLink(() => this.queuePeers()),
        k.mesh.onPaired(() => this.queuePeers()),
      );
    }
    this.queuePeers();
  }

  private queuePeers(): void {
    if (this.peersQueued) return;
    this.peersQueued = true;
    queueMicrotask(() => {
      this.peersQueued = false;
      void this.sendPeers();
    });
  }

  private async sendPeers(): Promise<void> {
    const k = await this.bind();
    const peers: RelayPeer[] = k ? k.mesh.status().map((p) => ({ nodeId: p.nodeId, name: p.name, addresses: p.addresses, connected: p.connected })) : [];
    this.post({ t: 'peers', peers });
  }

  /** Pings every open link; one that does not answer is closed (the page connects anew). */
  verify(): void {
    const k = this.kernel;
    if (!k || this.ended) return;
    for (const c of this.conns.values()) {
      if (!c.open || c.done) continue;
      k.mesh.ping(c.peer).catch((e: unknown) => {
        if (c.done || this.ended) return;
        this.logger.warn('mesh link did not answer: closed', { peer: c.peer, error: String((e as Error)?.message ?? e) });
        this.closeConn(c);
      });
    }
  }

  private async handle(m: PageToWorker): Promise<void> {
    if (this.ended || !m || typeof m !== 'object') return;
    switch (m.t) {
      case 'peers?':
        return this.sendPeers();
      case 'open':
        return this.open(m.conn, m.peer);
      case 'data': {
        const c = this.conns.get(m.conn);
        if (c && !c.done) c.link.receive(m.data);
        else this.directConns.get(m.conn)?.deliver(m.data);
        return;
      }
      case 'closed': {
        const c = this.conns.get(m.conn);
        if (c) {
          this.conns.delete(m.conn);
          this.closeConn(c);
        } else this.directConns.get(m.conn)?.ended();
        return;
      }
      case 'direct-sdp':
        this.directReqs.get(m.req)?.sdp({ sdp: typeof m.sdp === 'string' ? m.sdp : undefined, error: m.error === undefined ? undefined : String(m.error).slice(0, 300) });
        return;
      case 'direct-open':
        this.directReqs.get(m.req)?.open(m.conn);
        return;
      case 'direct-failed':
        this.directReqs.get(m.req)?.fail(new FaztError('PEER_UNREACHABLE', `The direct connection failed: ${String(m.error).slice(0, 300)}`));
        return;
      case 'attempt': {
        const k = await this.bind();
        if (k && k.mesh.peers.get(m.peer)) k.mesh.setTransportState(m.peer, { state: m.state, ...(m.error ? { error: String(m.error).slice(0, 300) } : {}), ...(m.retryAt ? { retryAt: m.retryAt } : {}) });
        return;
      }
      case 'verify':
        return this.verify();
      case 'bye':
        return this.end('the page left');
    }
  }

  /** Sends a message on data channel `conn` of the page (bytes transferred, not copied twice). */
  sendData(conn: number, data: string | Uint8Array): void {
    if (typeof data === 'string') return this.post({ t: 'send', conn, data });
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? (data.buffer as ArrayBuffer) : (data.slice().buffer as ArrayBuffer);
    this.post({ t: 'send', conn, data: whole }, [whole]);
  }

  /** Forgets a direct channel that ended. */
  forgetDirect(conn: number): void {
    this.directConns.delete(conn);
  }

  /**
   * Asks the page for a peer connection for direct pairing: `direct-answer` (apply `sdp`, the offer,
   * and answer it) or `direct-offer` (make an offer).
   */
  startDirect(m: { t: 'direct-answer'; sdp: string } | { t: 'direct-offer' }): DirectRequest {
    const req = ++this.reqs;
    let sdpDone!: { resolve: (s: string) => void; reject: (e: Error) => void };
    let chDone!: { resolve: (c: RelayChannel) => void; reject: (e: Error) => void };
    const sdp = new Promise<string>((resolve, reject) => (sdpDone = { resolve, reject }));
    const channel = new Promise<RelayChannel>((resolve, reject) => (chDone = { resolve, reject }));
    sdp.catch(() => undefined);
    channel.catch(() => undefined);
    const fail = (e: FaztError) => {
      this.directReqs.delete(req);
      clearTimeout(sdpTimer);
      sdpDone.reject(e);
      chDone.reject(e);
    };
    const sdpTimer = setTimeout(() => cancel(new FaztError('PEER_UNREACHABLE', `The dashboard page did not make its WebRTC ${m.t === 'direct-offer' ? 'offer' : 'answer'} within ${DIRECT_SDP_TIMEOUT_MS / 1000} s (reload the dashboard and try again).`)), DIRECT_SDP_TIMEOUT_MS);
    const cancel = (why?: FaztError) => {
      if (!this.directReqs.has(req)) return;
      this.post({ t: 'direct-cancel', req });
      fail(why ?? new FaztError('PEER_UNREACHABLE', 'The direct connection was cancelled.'));
    };
    this.directReqs.set(req, {
      sdp: (r) => {
        clearTimeout(sdpTimer);
        if (r.sdp) sdpDone.resolve(r.sdp);
        else fail(new FaztError('PEER_UNREACHABLE', `This browser could not make a WebRTC ${m.t === 'direct-offer' ? 'offer' : 'answer'}: ${r.error ?? 'no reason given'}`));
      },
      open: (conn) => {
        this.directReqs.delete(req);
        clearTimeout(sdpTimer);
        const c = new RelayChannel(this, conn);
        this.directConns.set(conn, c);
        chDone.resolve(c);
      },
      fail,
    });
    this.post({ ...m, req });
    return { req, sdp, channel, cancel };
  }

  /** A data channel to `peer` opened in the page: run the link over it (this node initiates). */
  private async open(conn: number, peer: string): Promise<void> {
    const k = await this.bind();
    const refuse = (code: string, message: string) => {
      this.post({ t: 'link', conn, peer, open: false, code, message });
      this.post({ t: 'close', conn });
    };
    if (!k) return refuse('NOT_READY', 'The device node is not ready.');
    if (this.conns.has(conn)) return refuse('BAD_REQUEST', `Channel ${conn} is in use.`);
    let c!: Conn;
    let handle: ReturnType<Kernel['mesh']['attach']>;
    try {
      handle = k.mesh.attach(
        {
          send: (data) => {
            if (c?.done) return;
            if (typeof data === 'string') return this.post({ t: 'send', conn, data });
            // frames are fresh arrays of their own: hand the buffer over without a copy
            const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? (data.buffer as ArrayBuffer) : (data.slice().buffer as ArrayBuffer);
            this.post({ t: 'send', conn, data: whole }, [whole]);
          },
          close: () => {
            const mine = this.conns.get(conn) === c;
            if (mine) this.conns.delete(conn);
            if (c) c.done = true;
            this.post({ t: 'close', conn });
          },
        },
        peer,
      );
    } catch (e) {
      this.queuePeers();
      return refuse(isFaztError(e) ? e.code : 'INTERNAL', String((e as Error)?.message ?? e));
    }
    c = { peer, link: handle, open: false, done: false };
    this.conns.set(conn, c);
    void handle.handshake.then(async (open) => {
      if (open) {
        c.open = true;
        this.post({ t: 'link', conn, peer, open: true });
        return;
      }
      const error: FaztError | undefined = await handle.ended;
      this.post({ t: 'link', conn, peer, open: false, code: error?.code ?? 'PEER_UNREACHABLE', message: error?.message ?? 'The link closed during its handshake.' });
    });
  }
}

/**
 * The worker's relay endpoint: `connect` for every `fazt:mesh` message, `beat` for every
 * `fazt:mesh-beat`.
 */
export class MeshRelay {
  private session: Session | undefined;
  /** This worker instance's random id (a page that sees another one knows the worker restarted). */
  readonly instance = crypto.randomUUID();

  /**
   * @param kernelOf the device node's kernel: `ready` waits for it to open (`undefined` when it
   *   could not), `current` is the one open now.
   */
  constructor(
    private readonly kernelOf: { ready: () => Promise<Kernel | undefined>; current: () => Kernel | undefined },
    private readonly logger: Logger,
  ) {}

  /** The page's WebRTC for the device kernel's direct pairing (`kernel.mesh.setDirectConnector`). */
  readonly direct: DirectConnector = new RelayDirectConnector(() => this.liveSession());

  /**
   * The session of the page that holds the relay now; waits up to {@link DIRECT_SESSION_WAIT_MS} for
   * one (a page reconnects after a worker restart).
   * @throws FaztError `NOT_READY` when no dashboard page holds the relay.
   */
  async liveSession(): Promise<Session> {
    const until = Date.now() + DIRECT_SESSION_WAIT_MS;
    for (;;) {
      const s = this.session;
      if (s && !s.ended) return s;
      if (Date.now() > until) {
        throw new FaztError('NOT_READY', "Direct pairing needs this device's dashboard open: the page holds the WebRTC connection (a service worker has none). Open the dashboard in this browser and try again.");
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Opens a session on a page's port; the previous session (another page, or this one before a reload) ends. */
  connect(port: MessagePort, session: string): void {
    this.session?.end('another page took over the relay');
    this.session = new Session(String(session).slice(0, 64), port, this.kernelOf, this.logger, this.instance);
  }

  /**
   * A page's beat: keeps its session alive.
   * @returns false when this worker has no such session (it restarted, or another page took over).
   */
  beat(session: string): boolean {
    const s = this.session;
    if (!s || s.ended || s.id !== session) return false;
    s.seen();
    s.post({ t: 'beat' });
    return true;
  }
}

/** The page's local SDP in compact form, IPv4 candidates first (shorter, and what a LAN node reaches). */
function compact(sdp: string): CompactSession {
  const s = sessionFromSdp(sdp);
  const v4 = (a: string) => /^\d+\.\d+\.\d+\.\d+$/.test(a);
  s.candidates.sort((a, b) => Number(v4(b.address)) - Number(v4(a.address)));
  return s;
}

/**
 * Direct pairing's WebRTC on the browser node (shared/mesh/direct.ts; docs/mesh.md "Pairing with no
 * reachable server"): the worker has no `RTCPeerConnection`, so it asks the page that holds the
 * relay to make one (`iceServers: []`), and the data channel's messages travel over the relay port.
 * The codes' compact offer and answer are made and read here, in the worker.
 *
 * As on the headless node, the joiner applies the offer without the inviter's candidates: it answers
 * the inviter's checks (peer-reflexive candidates, RFC 8445 §7.3.1.3) and never checks first.
 * Unlike the headless node, the page cannot re-arm the same answer on a new peer connection
 * (Chromium does not let a page choose its ICE credentials), so the answer holds as long as
 * Chromium's ICE agent waits for the inviter.
 */
export class RelayDirectConnector implements DirectConnector {
  /** @param session the session of the page holding the relay (throws `NOT_READY` without one). */
  constructor(private readonly session: () => Promise<Session>) {}

  async offer(): Promise<DirectOffer> {
    const s = await this.session();
    const r = s.startDirect({ t: 'direct-offer' });
    let session: CompactSession;
    try {
      session = compact(await r.sdp);
    } catch (e) {
      r.cancel();
      throw e;
    }
    return {
      session,
      connect: (answer, timeoutMs) => {
        let sdp: string;
        try {
          sdp = sessionToSdp(answer, 'answer');
        } catch (e) {
          r.cancel();
          return Promise.reject(e);
        }
        s.post({ t: 'direct-connect', req: r.req, sdp });
        const t = setTimeout(() => r.cancel(new FaztError('PEER_UNREACHABLE', `The joining node did not connect within ${timeoutMs / 1000} s (is it still waiting, on the same network?).`)), timeoutMs);
        return r.channel.finally(() => clearTimeout(t));
      },
      cancel: () => r.cancel(),
    };
  }

  async answer(offer: CompactSession, until: number): Promise<DirectAnswer> {
    const s = await this.session();
    const r = s.startDirect({ t: 'direct-answer', sdp: sessionToSdp(offer, 'offer', { candidates: false }) });
    let session: CompactSession;
    try {
      session = compact(await r.sdp);
    } catch (e) {
      r.cancel();
      throw e;
    }
    const expiry = setTimeout(() => r.cancel(new FaztError('INVITATION_EXPIRED', 'The inviting node did not take the answer before the invitation expired.')), Math.max(0, until - Date.now()));
    void r.channel.then(
      () => clearTimeout(expiry),
      () => clearTimeout(expiry),
    );
    return { session, channel: r.channel, cancel: () => r.cancel() };
  }
}
