import type { Server } from 'node:http';
import type { Express } from 'express';
import { FaztError, type Logger, type MeshService, type PeerRecord } from '../shared/index.js';

/**
 * The headless node's side of the mesh (docs/mesh.md "Transport"): it hosts the PeerJS signaling
 * server (the `peer` package) on its own HTTP server at `/peerjs`, so paired devices on a LAN need no
 * outside service, and it keeps WebRTC data channels (PeerJS over node-datachannel, a libdatachannel
 * binding) open to its paired peers, running the kernel's link protocol over them.
 *
 * - Its own PeerJS client registers on its own signaling server with its node id and takes incoming
 *   connections. Strangers' connections are dropped by the link handshake (`NOT_PAIRED`); to keep a
 *   flood from costing CPU, at most {@link MAX_PENDING_HANDSHAKES} handshakes run at once (signaling
 *   ids are not identities, so there is no per-id limit; more are dropped until one settles).
 * - For every paired peer with a known address (a node that hosts signaling), it connects through
 *   that peer's signaling server, with backoff from 1 s to 30 s, and again at once after a pairing.
 * - ICE uses host candidates only (`iceServers: []`): no STUN or TURN, so no internet is needed.
 *
 * PeerJS in Node needs the WebRTC globals (node-datachannel's polyfill) and a global `WebSocket`
 * (`ws`) before it is imported; both are loaded on the first use, so a node that never pairs pays
 * nothing for them.
 */

/** Handshakes allowed to run at once. */
export const MAX_PENDING_HANDSHAKES = 8;
const MIN_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
/** Path of the signaling server on the node's HTTP server. */
export const SIGNALING_PATH = '/peerjs';

/** The parts of a PeerJS 1.5 `DataConnection` used here. */
export interface DataConnection {
  peer: string;
  open: boolean;
  /** The connection's `RTCPeerConnection` (node-datachannel's polyfill here), once negotiation started. */
  peerConnection?: { connectionState: string; addEventListener(type: 'connectionstatechange', cb: () => void): void };
  send(data: unknown): void;
  close(): void;
  on(event: 'open' | 'close', cb: () => void): void;
  on(event: 'data', cb: (data: unknown) => void): void;
  on(event: 'error', cb: (e: Error) => void): void;
}
/** The parts of a PeerJS 1.5 `Peer` used here. */
export interface PeerClient {
  id: string;
  open: boolean;
  destroyed: boolean;
  disconnected: boolean;
  connect(id: string, options: Record<string, unknown>): DataConnection;
  reconnect(): void;
  destroy(): void;
  on(event: 'open', cb: (id: string) => void): void;
  on(event: 'connection', cb: (c: DataConnection) => void): void;
  on(event: 'error', cb: (e: Error & { type?: string }) => void): void;
  on(event: 'disconnected' | 'close', cb: () => void): void;
}
/** The PeerJS `Peer` constructor. */
export type PeerCtor = new (id: string, options: Record<string, unknown>) => PeerClient;

let peerCtor: Promise<PeerCtor> | undefined;

/** What the queuing shim uses of node-datachannel's RTCPeerConnection. */
interface RtcLike {
  addIceCandidate(c: unknown): Promise<void>;
  setRemoteDescription(d: unknown): Promise<void>;
  setLocalDescription(d?: unknown): Promise<void>;
}

/**
 * Loads PeerJS with the WebRTC and WebSocket globals it expects (once per process).
 * @returns the `Peer` constructor of peerjs 1.5 (`new Peer(id, peerOptions(url))`). Exported for tests
 *   that need a raw PeerJS client (a stranger flooding a node).
 */
export function loadPeerJs(): Promise<PeerCtor> {
  peerCtor ??= (async () => {
    const [{ default: polyfill }, { WebSocket }] = await Promise.all([import('node-datachannel/polyfill'), import('ws')]);
    const g = globalThis as Record<string, unknown>;
    // FAZT_WEBRTC_LOG=Warning (or Info, Debug, Verbose) prints libdatachannel's own log to stderr
    const level = process.env.FAZT_WEBRTC_LOG;
    if (level) {
      const ndc = (await import('node-datachannel')) as unknown as { default: { initLogger(level: string, cb: (level: string, message: string) => void): void } };
      ndc.default.initLogger(level, (l, m) => process.stderr.write(`libdatachannel ${l}: ${m}\n`));
    }
    for (const [k, v] of Object.entries(polyfill as Record<string, unknown>)) g[k] ??= v;
    // PeerJS trickles ICE candidates through the signaling server; one can arrive before the offer
    // and answer of its connection have both been applied, and libdatachannel then refuses it ("Got a
    // remote candidate without ICE transport": its ICE transport exists once both descriptions are
    // set), which can leave no usable candidate at all. Browsers queue such candidates; this does too.
    const Base = (polyfill as unknown as { RTCPeerConnection: new (...a: unknown[]) => RtcLike }).RTCPeerConnection;
    class QueuingRTCPeerConnection extends Base {
      private early: unknown[] = [];
      // the polyfill's remoteDescription/localDescription getters never return null: track them here
      private remoteSet = false;
      private localSet = false;
      private get ready(): boolean {
        return this.remoteSet && this.localSet;
      }
      private async flush(): Promise<void> {
        if (!this.ready) return;
        for (const c of this.early.splice(0)) await super.addIceCandidate(c).catch(() => undefined);
      }
      override async addIceCandidate(c: unknown): Promise<void> {
        if (!this.ready) {
          this.early.push(c);
          return;
        }
        return super.addIceCandidate(c);
      }
      override async setRemoteDescription(d: unknown): Promise<void> {
        await super.setRemoteDescription(d);
        this.remoteSet = true;
        await this.flush();
      }
      override async setLocalDescription(d?: unknown): Promise<void> {
        await super.setLocalDescription(d);
        this.localSet = true;
        await this.flush();
      }
    }
    g.RTCPeerConnection = QueuingRTCPeerConnection;
    // PeerJS sets no `onerror` on its signaling socket; `ws` then emits 'error' (ECONNRESET when the
    // node hosting the signaling server stops) with no listener, an uncaught exception that took the
    // whole node down. PeerJS still sees the 'close' that follows and reconnects.
    class QuietWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        this.on('error', () => undefined);
      }
    }
    g.WebSocket ??= QuietWebSocket;
    const mod = (await import('peerjs')) as unknown as { default?: { Peer: PeerCtor }; Peer?: PeerCtor };
    return (mod.Peer ?? mod.default!.Peer) as PeerCtor;
  })();
  return peerCtor;
}

/** PeerJS client options for the signaling server of the node at `baseUrl` (`http://host:port`): host, port, path, TLS, no ICE servers. */
export function peerOptions(baseUrl: string): Record<string, unknown> {
  const u = new URL(baseUrl);
  const secure = u.protocol === 'https:';
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: Number(u.port || (secure ? 443 : 80)),
    path: SIGNALING_PATH,
    secure,
    config: { iceServers: [] },
    debug: Number(process.env.FAZT_PEERJS_DEBUG ?? 0),
    pingInterval: 5_000,
  };
}

/**
 * How many times {@link MeshHost.connect} tries an address again at once when the WebRTC connection
 * failed after ICE connected (see {@link onFailedBeforeOpen}); other failures wait for the backoff.
 */
export const HANDSHAKE_FAILURE_RETRIES = 2;

/** An attempt whose `RTCPeerConnection` failed or closed before its data channel opened. */
class FailedBeforeOpen extends Error {
  constructor(readonly state: string) {
    super(`the WebRTC connection was ${state} before its data channel opened (ICE or DTLS failed)`);
  }
}

/**
 * Calls `onDead` once when the connection's `RTCPeerConnection` reaches `failed` or `closed` before its
 * data channel opened. PeerJS 1.5 only watches `iceConnectionState`, and node-datachannel's polyfill
 * does not fire `iceconnectionstatechange` when libdatachannel gives up after ICE connected (a failed
 * DTLS handshake): without this, the attempt would sit until its 10 s timer.
 *
 * The DTLS failure is real and load-dependent: libdatachannel 0.2x can start DTLS on the offering side
 * the moment ICE connects inside `setRemoteDescription(answer)`, before the answer's certificate
 * fingerprint is committed, and then refuses the peer's certificate ("DTLS alert: unknown CA";
 * upstream: paullouisageneau/libdatachannel pull request 1612, "Fix DTLS startup ordering", open).
 * Seen here in about 1 of 6 attempts with both cores busy; a fresh attempt almost always works.
 */
export function onFailedBeforeOpen(c: DataConnection, onDead: (state: string) => void): void {
  const pc = c.peerConnection;
  if (!pc) return;
  let fired = false;
  pc.addEventListener('connectionstatechange', () => {
    const state = pc.connectionState;
    if (!fired && !c.open && (state === 'failed' || state === 'closed')) {
      fired = true;
      onDead(state);
    }
  });
}

/** One node's WebRTC presence: its signaling server, its PeerJS clients and the links they carry. */
export class MeshHost {
  private own: PeerClient | undefined;
  private readonly backoff = new Map<string, { delay: number; at: number }>();
  /** Peers a connection attempt is under way to (one at a time per peer). */
  private readonly connecting = new Set<string>();
  private pendingHandshakes = 0;
  /** Incoming connections whose link handshake is still running (at most {@link MAX_PENDING_HANDSHAKES}). */
  get pendingHandshakeCount(): number {
    return this.pendingHandshakes;
  }
  /** Incoming connections dropped because {@link MAX_PENDING_HANDSHAKES} were already running. */
  droppedConnections = 0;
  /** PeerJS clients registered on other nodes' signaling servers, one per outgoing connection. */
  private readonly outgoing = new Set<PeerClient>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When {@link timer} fires (ms since the epoch). */
  private timerAt = 0;
  private stopped = false;
  private signaling: { close?: () => void } | undefined;
  private unsubscribe: (() => void) | undefined;

  /**
   * @param mesh the kernel's mesh service.
   * @param ownUrl this node's base URL as seen from this machine (`http://127.0.0.1:8080`).
   */
  constructor(
    private readonly mesh: MeshService,
    private readonly ownUrl: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Mounts the PeerJS signaling server on the node's express app and HTTP server (before the
   * kernel's catch-all handler). Clients connect to `ws(s)://HOST/peerjs/peerjs?id=…`.
   */
  static async mountSignaling(app: Express, server: Server, logger: Logger): Promise<{ close(): void }> {
    const { ExpressPeerServer } = await import('peer');
    const peerServer = ExpressPeerServer(server, {
      path: '/',
      allow_discovery: false,
      concurrent_limit: 256,
      alive_timeout: 30_000,
      expire_timeout: 10_000,
    });
    peerServer.on('error', (e: Error) => logger.warn('signaling error', { error: e.message }));
    app.use(SIGNALING_PATH, peerServer as unknown as Parameters<Express['use']>[1]);
    // upgraded sockets are not the HTTP server's to close (closeAllConnections skips them)
    const sockets = new Set<import('node:stream').Duplex>();
    server.on('upgrade', (_req, socket: import('node:stream').Duplex) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    return {
      close: () => {
        for (const s of sockets) s.destroy();
        // the `peer` package stops its heartbeat and expiry timers when the server emits 'close'
        server.emit('close');
      },
    };
  }

  /** Registers on the node's own signaling server and starts keeping links to the paired peers. */
  async start(): Promise<void> {
    this.unsubscribe = this.mesh.onLink((id, connected) => {
      if (connected) this.backoff.delete(id);
      else this.schedule(0);
    });
    await this.ensureOwn();
    this.schedule(0);
  }

  /** Tries the paired peers now (after a pairing, or when asked). */
  kick(): void {
    this.backoff.clear();
    this.schedule(0);
  }

  /** Closes every link and client. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.mesh.closeAll();
    this.own?.destroy();
    for (const p of this.outgoing) p.destroy();
    this.outgoing.clear();
    this.signaling?.close?.();
  }

  private async ensureOwn(): Promise<PeerClient> {
    if (this.own && !this.own.destroyed) {
      if (this.own.disconnected) this.own.reconnect();
      return this.own;
    }
    const Peer = await loadPeerJs();
    const own = new Peer(this.mesh.id().nodeId, peerOptions(this.ownUrl));
    own.on('connection', (c) => this.incoming(c));
    own.on('error', (e) => this.logger.warn('signaling client error', { type: e.type, error: e.message }));
    own.on('disconnected', () => {
      if (!this.stopped) setTimeout(() => !this.stopped && !own.destroyed && own.reconnect(), 1_000).unref();
    });
    this.own = own;
    await new Promise<void>((resolve) => {
      if (own.open) return resolve();
      own.on('open', () => resolve());
      own.on('error', () => resolve());
    });
    return own;
  }

  private incoming(c: DataConnection): void {
    if (this.pendingHandshakes >= MAX_PENDING_HANDSHAKES) {
      this.droppedConnections++;
      // closed before ICE and DTLS run: a dropped connection costs no handshake work, so a flood
      // cannot starve the links already up (libdatachannel's worker threads are shared)
      c.on('error', () => undefined);
      c.close();
      return;
    }
    this.pendingHandshakes++;
    let counted = true;
    const done = () => {
      if (counted) {
        counted = false;
        this.pendingHandshakes--;
      }
    };
    c.on('error', done);
    c.on('close', done);
    onFailedBeforeOpen(c, () => {
      done();
      c.close();
    });
    // a data channel that never opens (ICE stuck) holds its place no longer than a handshake could take
    setTimeout(done, 15_000).unref();
    c.on('open', () => {
      const link = this.wire(c);
      void link.handshake.then(done);
      c.on('close', () => link.closed());
    });
  }

  /** Runs the link protocol over an open data connection. */
  private wire(c: DataConnection, initiatorOf?: string): { closed: () => void; handshake: Promise<boolean> } {
    const link = this.mesh.attach(
      {
        send: (m) => c.send(m),
        close: () => c.close(),
      },
      initiatorOf,
    );
    c.on('data', (d) => link.receive(d as string | ArrayBuffer | Uint8Array));
    return link;
  }

  /** Runs {@link tick} in `ms` ms, unless a tick is already due sooner. */
  private schedule(ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + ms;
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick();
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    await this.ensureOwn().catch(() => undefined);
    let next = MAX_BACKOFF_MS;
    const now = Date.now();
    for (const peer of this.mesh.status()) {
      if (peer.connected || peer.addresses.length === 0 || this.connecting.has(peer.nodeId)) continue;
      const b = this.backoff.get(peer.nodeId) ?? { delay: MIN_BACKOFF_MS, at: 0 };
      if (b.at > now) {
        next = Math.min(next, b.at - now);
        continue;
      }
      this.backoff.set(peer.nodeId, { delay: Math.min(b.delay * 2, MAX_BACKOFF_MS), at: now + b.delay });
      next = Math.min(next, b.delay);
      this.connecting.add(peer.nodeId);
      void this.connect(peer)
        .catch((e) => this.logger.info('peer not reachable', { peer: peer.nodeId, error: (e as Error).message }))
        .finally(() => {
          this.connecting.delete(peer.nodeId);
          // a failed attempt is tried again when its backoff is up (the tick that came while it
          // was running skipped this peer)
          const due = this.backoff.get(peer.nodeId)?.at;
          if (due !== undefined && !this.mesh.connected(peer.nodeId)) this.schedule(Math.max(0, due - Date.now()));
        });
    }
    this.schedule(next);
  }

  /**
   * Opens a data channel to a paired peer through its signaling server and runs the link over it.
   * On another node's signaling server this node registers under a random, single-use id (the link
   * handshake, not the signaling id, says who it is), so attempts never collide with each other.
   * @throws FaztError `PEER_UNREACHABLE` when no address worked; `NOT_PAIRED` for an unpaired node.
   */
  async connect(peer: Pick<PeerRecord, 'nodeId' | 'addresses'>): Promise<void> {
    const errors: string[] = [];
    for (const url of peer.addresses) {
      for (let attempt = 1; attempt <= HANDSHAKE_FAILURE_RETRIES + 1; attempt++) {
        const own = url === this.ownUrl;
        let client: PeerClient | undefined;
        try {
          client = own ? await this.ensureOwn() : await this.openClient(url);
          const c = client.connect(peer.nodeId, { reliable: true, serialization: 'raw' });
          await new Promise<void>((resolve, reject) => {
            const t = setTimeout(() => {
              c.close();
              reject(new Error('no data channel within 10 s'));
            }, 10_000);
            t.unref();
            c.on('error', (e) => {
              clearTimeout(t);
              // PeerJS's own word for the same failure, when it saw the ICE state first
              const type = (e as Error & { type?: string }).type;
              reject(!c.open && (type === 'negotiation-failed' || type === 'connection-closed') ? new FailedBeforeOpen(type) : e);
            });
            onFailedBeforeOpen(c, (state) => {
              clearTimeout(t);
              c.close();
              reject(new FailedBeforeOpen(state));
            });
            c.on('open', () => {
              clearTimeout(t);
              try {
                const link = this.wire(c, peer.nodeId);
                c.on('close', () => {
                  link.closed();
                  if (!own) this.dropClient(client!);
                });
                resolve();
              } catch (e) {
                c.close();
                reject(e);
              }
            });
          });
          return;
        } catch (e) {
          if (client && !own) this.dropClient(client);
          if (e instanceof FaztError && e.code === 'NOT_PAIRED') throw e;
          if (e instanceof FailedBeforeOpen && attempt <= HANDSHAKE_FAILURE_RETRIES) {
            this.logger.info('WebRTC handshake failed, trying again at once', { peer: peer.nodeId, state: e.state, attempt });
            continue;
          }
          errors.push(`${url}: ${(e as Error).message}`);
          break;
        }
      }
    }
    throw new FaztError('PEER_UNREACHABLE', `Node ${peer.nodeId} could not be reached (${errors.join('; ') || 'no address known'}).`);
  }

  private dropClient(client: PeerClient): void {
    this.outgoing.delete(client);
    if (!client.destroyed) client.destroy();
  }

  /** A PeerJS client on another node's signaling server, under a random id, once it is registered. */
  private async openClient(url: string): Promise<PeerClient> {
    const Peer = await loadPeerJs();
    const id = 'c' + Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
    const client = new Peer(id, peerOptions(url));
    this.outgoing.add(client);
    client.on('connection', (c) => c.close()); // nothing connects to a single-use client
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('signaling server did not answer within 5 s')), 5_000);
      t.unref();
      client.on('open', () => {
        clearTimeout(t);
        resolve();
      });
      client.on('error', (e) => {
        clearTimeout(t);
        reject(new Error(`signaling: ${e.type ?? ''} ${e.message}`.trim()));
      });
    });
    return client;
  }
}
