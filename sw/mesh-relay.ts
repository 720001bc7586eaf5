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
import { isFaztError, type FaztError, type Kernel, type Logger } from '../shared/index.js';
import { MESH_SILENT_MS, type PageToWorker, type RelayPeer, type WorkerToPage } from './mesh-relay-api.js';

/** How often each open link is pinged, ms. */
export const LIVENESS_MS = 10_000;

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
      if (this.conns.size > 0 && Date.now() - this.lastSeen > MESH_SILENT_MS) this.end('the page went silent');
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
        return;
      }
      case 'closed': {
        const c = this.conns.get(m.conn);
        if (c) {
          this.conns.delete(m.conn);
          this.closeConn(c);
        }
        return;
      }
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
