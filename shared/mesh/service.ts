import type { Cartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import type { Logger } from '../ports.js';
import { MeshIdentity, type NodeIdentity, type Sealer } from './identity.js';
import { DirectPairing, type DirectConnector, type DirectJoin } from './direct.js';
import { parseInvitation, type InviteAddress } from './invitation.js';
import { PeerLink, type LinkTransport } from './link.js';
import { Pairing, type CreatedInvitation, type JoinResponse } from './pairing.js';
import { PeerStore, type PeerRecord } from './peers.js';

/**
 * The mesh as the kernel offers it (docs/mesh.md): this node's identity, invitations and pairing,
 * the paired peers, and the live links to them. Host-neutral: a host brings the transports (PeerJS
 * data channels on the Node host, the page's WebRTC relayed into the service worker on the browser
 * node) and hands each to {@link MeshService.attach}.
 *
 * Messages on a link, after its handshake (JSON; later issues add sync):
 * - `{ t: "ping", id }` → `{ t: "pong", id }`: liveness and round-trip time.
 * - `{ t: "info", name }`: the sender's current name (sent when a link opens and after a rename).
 * - `{ t: "unpair" }`: the sender unpaired this node; the receiver forgets it too and closes.
 * - `{ t: "sync", m }`: cartridge sync (docs/sync-spec.md S36), routed to {@link MeshService.setSyncHandler}'s handler.
 * - `{ t: "ai", m }`: a model call relayed through this node or its answer (shared/ai/relay.ts,
 *   docs/ai.md "Relay through a paired node"), routed to {@link MeshService.setAiHandler}'s handler.
 */

/** A peer with its link state. */
export interface PeerStatus extends PeerRecord {
  /** A link to it is open now. */
  connected: boolean;
  /** What the host's transport is doing about it while no link is open, when the host says ({@link MeshService.setTransportState}). */
  transport?: TransportState;
}

/**
 * What a host's transport is doing about a peer that has no open link, for the dashboard:
 * - `connecting`: an attempt is under way;
 * - `waiting`: the last attempt failed (`error`), the next is due at `retryAt`.
 */
export interface TransportState {
  state: 'connecting' | 'waiting';
  /** Why the last attempt failed: `CODE: message` (a Fazt error code when the link refused, e.g. `PAIRING_FAILED`). */
  error?: string;
  /** When the next attempt is due, ms since the epoch. */
  retryAt?: number;
  /** When this state was reported, ms since the epoch. */
  at: number;
}

/** How a joiner reaches an inviter's `POST /api/mesh/pair`. */
export type PairRequester = (baseUrl: string, body: unknown) => Promise<unknown>;

/** Listens to link changes (the host's reconnect logic, the dashboard's live state). */
export type LinkListener = (nodeId: string, connected: boolean) => void;

const PING_TIMEOUT_MS = 5_000;

/** The kernel's mesh service. */
export class MeshService {
  readonly identity: MeshIdentity;
  readonly peers: PeerStore;
  readonly pairing: Pairing;
  private readonly links = new Map<string, PeerLink>();
  private readonly pending = new Map<string, { resolve: (ms: number) => void; reject: (e: Error) => void; at: number; timer: ReturnType<typeof setTimeout> }>();
  private readonly listeners = new Set<LinkListener>();
  private readonly pairedListeners = new Set<(peer: PeerRecord) => void>();
  private addresses: () => InviteAddress[] = () => [];
  private seq = 0;
  /** Direct pairing: the offer and answer carried by the codes (docs/mesh.md "Pairing with no reachable server"). */
  private readonly direct: DirectPairing;
  private readonly transports = new Map<string, TransportState>();

  constructor(
    cart: Cartridge,
    sealer: Sealer,
    private readonly logger: Logger,
    defaultName?: string,
  ) {
    this.identity = new MeshIdentity(cart, sealer, defaultName);
    this.peers = new PeerStore(cart);
    this.pairing = new Pairing(cart, this.identity, sealer, this.peers);
    this.direct = new DirectPairing({
      pairing: this.pairing,
      logger,
      now: () => cart.clock.now(),
      attach: (t, i) => this.attach(t, i),
      paired: (p) => this.paired(p),
      addresses: () => this.addresses(),
      selfId: () => this.identity.nodeId(),
    });
  }

  /** Gives the host's WebRTC for direct pairing (node/mesh-direct.ts; the page's on the browser node). */
  setDirectConnector(connector: DirectConnector | undefined): void {
    this.direct.setConnector(connector);
  }

  /**
   * Makes a direct invitation: its code carries a WebRTC offer, so the joiner needs no route to this
   * node's HTTP API (see shared/mesh/direct.ts).
   */
  async inviteDirect(options: { addresses?: InviteAddress[]; ttlMs?: number } = {}): Promise<CreatedInvitation> {
    const created = await this.direct.invite(options);
    for (const l of this.invitedListeners) l();
    return created;
  }

  /** The joiner's side of a direct invitation: the answer code at once, the pairing in `done` (see `DirectPairing.join`). */
  joinDirect(input: string): Promise<DirectJoin> {
    return this.direct.join(input);
  }

  /** The inviter's side: takes the answer code, connects and pairs (see `DirectPairing.accept`). */
  acceptAnswer(code: string): Promise<PeerRecord> {
    return this.direct.accept(code);
  }

  /** This node's id, name and public key (creating the identity on first use). */
  id(): NodeIdentity {
    return this.identity.ensure();
  }

  /** Renames this node and tells the connected peers. */
  rename(name: unknown): NodeIdentity {
    const id = this.identity.rename(name);
    for (const link of this.links.values()) if (link.open) link.send({ t: 'info', name: id.name });
    return id;
  }

  /** Every paired peer with whether a link to it is open. */
  status(): PeerStatus[] {
    return this.peers.list().map((p) => {
      const connected = this.links.get(p.nodeId)?.open ?? false;
      const transport = connected ? undefined : this.transports.get(p.nodeId);
      return { ...p, connected, ...(transport ? { transport } : {}) };
    });
  }

  /**
   * Records what the host's transport is doing about a peer (shown by {@link status} while no link
   * to it is open); `undefined` forgets it.
   */
  setTransportState(nodeId: string, state: Omit<TransportState, 'at'> | undefined): void {
    if (state) this.transports.set(nodeId, { ...state, at: Date.now() });
    else this.transports.delete(nodeId);
  }

  /** True when a link to the peer is open. */
  connected(nodeId: string): boolean {
    return this.links.get(nodeId)?.open ?? false;
  }

  /** Subscribes to link changes. @returns unsubscribe. */
  onLink(listener: LinkListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Tells the service where this node's HTTP API can be reached (the host knows its port and
   * network interfaces); invitations carry these addresses unless the caller names its own.
   */
  setAddresses(provider: () => InviteAddress[]): void {
    this.addresses = provider;
  }

  /** Subscribes to new pairings, on either side (the host connects to the new peer). @returns unsubscribe. */
  onPaired(listener: (peer: PeerRecord) => void): () => void {
    this.pairedListeners.add(listener);
    return () => this.pairedListeners.delete(listener);
  }

  private paired(peer: PeerRecord): void {
    for (const l of this.pairedListeners) {
      try {
        l(peer);
      } catch (e) {
        this.logger.error('mesh listener failed', { error: String(e) });
      }
    }
  }

  /**
   * Makes an invitation (see `Pairing.createInvitation`), carrying `options.addresses` or, by default,
   * the addresses the host gave ({@link setAddresses}).
   */
  invite(options: { addresses?: InviteAddress[]; ttlMs?: number } = {}): CreatedInvitation {
    const created = this.pairing.createInvitation({ ...options, addresses: options.addresses ?? this.addresses().slice(0, 4) });
    for (const l of this.invitedListeners) l();
    return created;
  }

  private readonly invitedListeners = new Set<() => void>();

  /** Subscribes to new invitations (the host starts serving signaling for the joiner). @returns unsubscribe. */
  onInvited(listener: () => void): () => void {
    this.invitedListeners.add(listener);
    return () => this.invitedListeners.delete(listener);
  }

  /** The inviter's side of `POST /api/mesh/pair` (see `Pairing.accept`). */
  acceptPairing(body: unknown): JoinResponse {
    const { response, peer } = this.pairing.accept(body);
    this.logger.info('paired', { peer: peer.nodeId, name: peer.name });
    this.paired(peer);
    return response;
  }

  /**
   * The joiner's side: reads the invitation (code or words), asks the inviter at each address it
   * carries (or at `peerUrl` first, when given), and pairs.
   * @param request performs the HTTP request (the host's `fetch`).
   * @returns the new peer.
   * @throws FaztError `INVALID_INVITATION` for unreadable input; `PEER_UNREACHABLE` when no address
   *   answered (with what each said); the inviter's refusal (`INVITATION_EXPIRED`, `INVITATION_USED`,
   *   `PAIRING_FAILED` …) as it sent it.
   */
  async join(input: string, request: PairRequester, peerUrl?: string): Promise<PeerRecord> {
    const invitation = parseInvitation(input);
    const urls = [...(peerUrl ? [normalizeBaseUrl(peerUrl)] : []), ...invitation.addresses.map((a) => `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`)];
    if (!urls.length) throw new FaztError('PEER_UNREACHABLE', 'This invitation names no address of the inviting node: give its address (for example --peer http://192.168.1.20:8080).');
    const j = this.pairing.join(invitation);
    const tried: string[] = [];
    for (const url of urls) {
      let answer: unknown;
      try {
        answer = await request(url, j.request);
      } catch (e) {
        if (e instanceof FaztError && e.code !== 'PEER_UNREACHABLE') throw e; // the inviter answered: its refusal stands
        tried.push(`${url}: ${(e as Error).message}`);
        continue;
      }
      const peer = j.complete(answer, url);
      this.logger.info('paired', { peer: peer.nodeId, name: peer.name, via: url });
      this.paired(peer);
      return peer;
    }
    throw new FaztError('PEER_UNREACHABLE', `The inviting node could not be reached (${tried.join('; ')}). Check that both are on the same network, or give its address with --peer.`);
  }

  /**
   * Unpairs a node: forgets it, tells it when a link is open, and closes the link.
   * @returns true when it was paired.
   */
  unpair(nodeId: string): boolean {
    const link = this.links.get(nodeId);
    if (link?.open) {
      try {
        link.send({ t: 'unpair' });
      } catch {
        /* the link just went away */
      }
    }
    const removed = this.peers.remove(nodeId);
    // the peer closes the link when it has the notice; close it here too if it does not in time
    if (link) setTimeout(() => link.close(), link.open ? 2_000 : 0);
    if (removed) this.logger.info('unpaired', { peer: nodeId });
    return removed;
  }

  /**
   * Runs the link protocol over a new transport.
   * @param transport the host's transport (a data channel).
   * @param initiatorOf for an outgoing connection: the node id it must reach.
   * @returns `receive`, to be called with every message the transport delivers; `closed`, for the
   *   host to call when the transport closes by itself; `handshake`, resolving `true` when the link
   *   opened and `false` when it ended before (refused, timed out, closed); `ended`, resolving when
   *   the link ends, with the error that ended it (`undefined` for a clean close).
   * @throws FaztError `NOT_PAIRED` for an outgoing connection to an unpaired node.
   */
  attach(
    transport: LinkTransport,
    initiatorOf?: string,
  ): { receive: (m: string | Uint8Array | ArrayBuffer) => void; closed: () => void; handshake: Promise<boolean>; ended: Promise<FaztError | undefined> } {
    let link: PeerLink;
    let settle!: (opened: boolean) => void;
    const handshake = new Promise<boolean>((r) => (settle = r));
    let end!: (error: FaztError | undefined) => void;
    const ended = new Promise<FaztError | undefined>((r) => (end = r));
    const onClose = (error?: FaztError) => {
      settle(false);
      end(error);
      const id = link.peerId;
      if (id && this.links.get(id) === link) {
        this.links.delete(id);
        this.emit(id, false);
      }
      if (error) this.logger.warn('peer link closed', { peer: id, code: error.code, reason: error.message });
    };
    link = new PeerLink(this.identity, this.peers, transport, {
      onOpen: (id) => {
        settle(true);
        const old = this.links.get(id);
        if (old && old !== link && old.open) {
          // both sides connected at once: both keep the link the smaller node id started (a
          // reconnection by the same side replaces the stale link)
          const me = this.identity.nodeId();
          const starter = (l: PeerLink) => (l.initiator ? me : id);
          if (starter(old) < starter(link)) {
            link.close();
            return;
          }
        }
        this.links.set(id, link);
        this.transports.delete(id);
        if (old && old !== link) old.close();
        link.send({ t: 'info', name: this.identity.name() });
        this.emit(id, true);
      },
      onMessage: (m) => this.onMessage(link, m),
      onClose,
    }, initiatorOf);
    if (initiatorOf) link.start();
    return { receive: (m) => link.receive(m), closed: () => link.close(), handshake, ended };
  }

  /**
   * Measures a round trip over the open link to a peer.
   * @returns milliseconds.
   * @throws FaztError `NOT_PAIRED`, `PEER_UNREACHABLE` (no open link, or no answer in 5 s).
   */
  ping(nodeId: string): Promise<number> {
    if (!this.peers.get(nodeId)) return Promise.reject(new FaztError('NOT_PAIRED', `Node ${nodeId} is not paired with this node.`));
    const link = this.links.get(nodeId);
    if (!link?.open) return Promise.reject(new FaztError('PEER_UNREACHABLE', `There is no open link to node ${nodeId} now.`));
    const id = `${Date.now().toString(36)}.${++this.seq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new FaztError('PEER_UNREACHABLE', `Node ${nodeId} did not answer within ${PING_TIMEOUT_MS / 1000} s.`));
      }, PING_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, at: performance.now(), timer });
      link.send({ t: 'ping', id });
    });
  }

  /** Closes every link and pending direct connection (at shutdown). */
  closeAll(): void {
    this.direct.closeAll();
    for (const link of [...this.links.values()]) link.close();
  }

  private emit(nodeId: string, connected: boolean): void {
    for (const l of this.listeners) {
      try {
        l(nodeId, connected);
      } catch (e) {
        this.logger.error('mesh listener failed', { error: String(e) });
      }
    }
  }

  private syncHandler: ((nodeId: string, message: unknown) => void) | undefined;

  /**
   * Routes the `sync` messages of every link to `handler` (the sync service, docs/sync-spec.md S36);
   * the node id is the link's authenticated peer.
   */
  setSyncHandler(handler: ((nodeId: string, message: unknown) => void) | undefined): void {
    this.syncHandler = handler;
  }

  /**
   * Sends a `sync` message over the open link to a peer.
   * @throws FaztError `PEER_UNREACHABLE` when no link to it is open; `LIMIT_EXCEEDED` over the frame limit.
   */
  sendSync(nodeId: string, message: unknown): void {
    const link = this.links.get(nodeId);
    if (!link?.open) throw new FaztError('PEER_UNREACHABLE', `There is no open link to node ${nodeId} now.`);
    link.send({ t: 'sync', m: message });
  }

  private aiHandler: ((nodeId: string, message: unknown) => void) | undefined;

  /**
   * Routes the `ai` messages of every link to `handler` (the AI relay, shared/ai/relay.ts); the node
   * id is the link's authenticated peer.
   */
  setAiHandler(handler: ((nodeId: string, message: unknown) => void) | undefined): void {
    this.aiHandler = handler;
  }

  /**
   * Sends an `ai` message over the open link to a peer.
   * @throws FaztError `PEER_UNREACHABLE` when no link to it is open; `LIMIT_EXCEEDED` over the frame limit.
   */
  sendAi(nodeId: string, message: unknown): void {
    const link = this.links.get(nodeId);
    if (!link?.open) throw new FaztError('PEER_UNREACHABLE', `There is no open link to node ${nodeId} now.`);
    link.send({ t: 'ai', m: message });
  }

  /** Node ids of the paired peers with an open link, in the order {@link status} lists them. */
  connectedIds(): string[] {
    return this.peers
      .list()
      .map((p) => p.nodeId)
      .filter((id) => this.links.get(id)?.open);
  }

  private onMessage(link: PeerLink, m: unknown): void {
    if (!m || typeof m !== 'object') return;
    const msg = m as Record<string, unknown>;
    const from = link.peerId!;
    switch (msg.t) {
      case 'ping':
        link.send({ t: 'pong', id: msg.id });
        return;
      case 'pong': {
        const p = typeof msg.id === 'string' ? this.pending.get(msg.id) : undefined;
        if (!p) return;
        this.pending.delete(msg.id as string);
        clearTimeout(p.timer);
        p.resolve(performance.now() - p.at);
        return;
      }
      case 'info':
        if (typeof msg.name === 'string') this.peers.setName(from, msg.name);
        return;
      case 'sync':
        // cartridge sync rides the authenticated link (docs/sync-spec.md S36)
        this.syncHandler?.(from, msg.m);
        return;
      case 'ai':
        // model calls relayed between paired nodes (shared/ai/relay.ts)
        this.aiHandler?.(from, msg.m);
        return;
      case 'unpair':
        this.peers.remove(from);
        this.logger.info('unpaired by the peer', { peer: from });
        link.close();
        return;
      default:
        // unknown message kinds are ignored: a newer peer may speak more
        return;
    }
  }
}

/** `http://host:port` without a trailing slash or path. @throws FaztError `INVALID_ARGUMENT`. */
export function normalizeBaseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FaztError('INVALID_ARGUMENT', `"${url}" is not a URL (like http://192.168.1.20:8080).`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new FaztError('INVALID_ARGUMENT', `"${url}" is not an http(s) URL.`);
  return `${u.protocol}//${u.host}`;
}
