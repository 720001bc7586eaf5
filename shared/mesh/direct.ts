import { FaztError, statusOf, type FaztErrorCode } from '../errors.js';
import type { Logger } from '../ports.js';
import type { CompactSession } from './compact-sdp.js';
import { parseInvitation, type Invitation, type InviteAddress } from './invitation.js';
import type { LinkTransport } from './link.js';
import { locatorOf, MAX_LIVE_INVITATIONS, type CreatedInvitation, type Pairing } from './pairing.js';
import type { PeerRecord } from './peers.js';

/**
 * Direct pairing (docs/mesh.md "Pairing with no reachable server"): when the joiner cannot reach the
 * inviter's HTTP API or signaling server (an HTTPS page and a plain-HTTP node; no route between
 * them but a QR code or a sound), the invitation carries the inviter's WebRTC offer and the joiner
 * answers with an answer code (`FZA…`) the owner brings back to the inviter. The two then connect
 * over a data channel and run, as its first messages, the same pairing as `POST /api/mesh/pair`
 * (pairing.ts: same transcript, same checks), then the link handshake (link.ts):
 *
 *   joiner  → inviter  {"t":"fazt-pair","request":JoinRequest}
 *   inviter → joiner   {"t":"fazt-paired","response":JoinResponse}  or  {"t":"fazt-pair-error","code","message"}
 *   joiner  → inviter  link hello …  (the joiner initiates the link; then frames)
 *
 * Guarantees kept from pairing.ts: an invitation is used once (an offer takes one answer; a second is
 * `INVITATION_USED`), it expires (the offer's peer connection is closed then), a wrong answer tag or
 * pairing proof counts toward the 5 that withdraw it, the joiner's key must hash to the id its answer
 * named, and the inviter's key to the id in the invitation. A direct connection that fails after
 * the answer withdraws the invitation (the offer is spent).
 *
 * The host brings the WebRTC side as a {@link DirectConnector} (node/mesh-direct.ts on the headless
 * node; the page's RTCPeerConnection for the browser node).
 */

/** A data channel as direct pairing uses it: ordered, reliable, message-oriented. */
export interface DirectChannel {
  send(message: string | Uint8Array): void;
  /** Closes the channel and its peer connection. */
  close(): void;
  /** Sets (replaces) the message handler; messages that arrived while none was set are delivered to it first. */
  onMessage(cb: (message: string | Uint8Array | ArrayBuffer) => void): void;
  /** Sets (replaces) the handler called once when the channel closes (by either side). */
  onClose(cb: () => void): void;
}

/** The inviter's side of one direct connection: its offer, waiting for an answer. */
export interface DirectOffer {
  /** The offer in compact form (DTLS role actpass, candidates gathered). */
  session: CompactSession;
  /**
   * Applies the joiner's answer and resolves when the data channel opens.
   * @throws FaztError `PEER_UNREACHABLE` when it does not open within `timeoutMs`.
   */
  connect(answer: CompactSession, timeoutMs: number): Promise<DirectChannel>;
  /** Closes the peer connection (expiry, shutdown). */
  cancel(): void;
}

/** The joiner's side of one direct connection: its answer, waiting for the inviter's checks. */
export interface DirectAnswer {
  /** The answer in compact form. */
  session: CompactSession;
  /** Resolves when the inviter's data channel opens; rejects when `until` passes first or on cancel. */
  channel: Promise<DirectChannel>;
  cancel(): void;
}

/** The host's WebRTC, as direct pairing needs it. */
export interface DirectConnector {
  /** A new peer connection with one data channel, its host candidates gathered. */
  offer(): Promise<DirectOffer>;
  /**
   * Answers an offer. The answer must stay usable until `until` (ms since the epoch): the owner
   * carries it to the inviter by hand, which can take minutes.
   */
  answer(offer: CompactSession, until: number): Promise<DirectAnswer>;
}

/** What a direct join gives back at once: the answer code for the inviter. */
export interface DirectJoin {
  /** The answer code, `FZA…`. */
  answer: string;
  /** The inviting node's id. */
  inviterId: string;
  /** Until when the inviter can take the answer, ms since the epoch. */
  expiresAt: number;
  /** Resolves with the inviter as a peer once paired and linked; rejects with why not. */
  done: Promise<PeerRecord>;
}

/** Time for the data channel to open once the inviter has the answer, ms. */
export const DIRECT_CONNECT_TIMEOUT_MS = 20_000;
/** Time for the pairing messages on an open channel, ms. */
const PAIR_MESSAGES_TIMEOUT_MS = 10_000;

/** What the direct pairing needs of the mesh service. */
export interface DirectHost {
  pairing: Pairing;
  logger: Logger;
  now(): number;
  /** `MeshService.attach`. */
  attach(transport: LinkTransport, initiatorOf?: string): { receive: (m: string | Uint8Array | ArrayBuffer) => void; closed: () => void; handshake: Promise<boolean> };
  /** Tells the mesh's listeners about a new peer. */
  paired(peer: PeerRecord): void;
  /** The HTTP addresses this node's invitations carry by default. */
  addresses(): InviteAddress[];
  /** This node's id. */
  selfId(): string;
}

const utf8 = new TextDecoder();

function parse(m: string | Uint8Array | ArrayBuffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(typeof m === 'string' ? m : utf8.decode(m instanceof ArrayBuffer ? new Uint8Array(m) : m));
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function unref(t: ReturnType<typeof setTimeout>): void {
  (t as { unref?: () => void }).unref?.();
}

/** Direct pairing on both sides (see the module notes). */
export class DirectPairing {
  private connector: DirectConnector | undefined;
  private readonly offers = new Map<string, { offer: DirectOffer; answered: boolean; timer: ReturnType<typeof setTimeout> }>();
  private readonly answers = new Set<DirectAnswer>();

  constructor(private readonly host: DirectHost) {}

  /** Gives the host's WebRTC. Without it, direct invitations and joins are refused. */
  setConnector(connector: DirectConnector | undefined): void {
    this.connector = connector;
  }

  private need(): DirectConnector {
    if (!this.connector) {
      throw new FaztError('BAD_REQUEST', 'Direct pairing needs a running node that holds the WebRTC connection (`fazt start`, then --node URL); or pair through the inviting node\'s address instead.');
    }
    return this.connector;
  }

  /**
   * Makes an invitation whose code carries a fresh WebRTC offer (trimmed to 140 bytes with its
   * addresses). The offer lives as long as the invitation.
   * @throws FaztError `BAD_REQUEST` without a connector; what `Pairing.createInvitation` throws.
   */
  async invite(options: { addresses?: InviteAddress[]; ttlMs?: number } = {}): Promise<CreatedInvitation> {
    const offer = await this.need().offer();
    // as many offers wait as invitations live (a ninth withdraws the oldest invitation: close its offer)
    for (const old of [...this.offers.keys()].slice(0, Math.max(0, this.offers.size - MAX_LIVE_INVITATIONS + 1))) this.drop(old);
    let created: CreatedInvitation;
    try {
      created = this.host.pairing.createInvitation({ ...options, addresses: options.addresses ?? this.host.addresses().slice(0, 4), offer: offer.session });
    } catch (e) {
      offer.cancel();
      throw e;
    }
    const locator = locatorOf(created.invitation.secret);
    const timer = setTimeout(() => this.drop(locator), Math.max(0, created.expiresAt - this.host.now()) + 1_000);
    unref(timer);
    this.offers.set(locator, { offer, answered: false, timer });
    return created;
  }

  private drop(locator: string): void {
    const o = this.offers.get(locator);
    if (!o) return;
    clearTimeout(o.timer);
    this.offers.delete(locator);
    if (!o.answered) o.offer.cancel();
  }

  /**
   * The joiner's side: answers a direct invitation (code or decoded). Returns the answer code at
   * once; `done` settles when the inviter has connected and both are paired and linked.
   * @throws FaztError `INVALID_INVITATION` (unreadable, or it carries no offer), `INVITATION_EXPIRED`,
   *   `PAIRING_FAILED` (the node's own invitation), `BAD_REQUEST` without a connector.
   */
  async join(input: string | Invitation): Promise<DirectJoin> {
    const invitation = typeof input === 'string' ? parseInvitation(input) : input;
    if (!invitation.offer || invitation.inviterId === undefined || invitation.expiresAt === undefined) {
      throw new FaztError('INVALID_INVITATION', 'This invitation carries no connection offer: join it through the inviting node\'s address instead.');
    }
    if (invitation.expiresAt < this.host.now()) throw new FaztError('INVITATION_EXPIRED', 'This invitation has expired: ask for a new one.');
    if (invitation.inviterId === this.host.selfId()) {
      throw new FaztError('PAIRING_FAILED', 'A node cannot pair with itself: use the invitation on the other device.');
    }
    const answer = await this.need().answer(invitation.offer, invitation.expiresAt);
    let code: string;
    try {
      code = this.host.pairing.answerCode(invitation, answer.session);
    } catch (e) {
      answer.cancel();
      throw e;
    }
    // at most as many answers wait as invitations may live; a new one cancels the oldest
    for (const old of [...this.answers].slice(0, Math.max(0, this.answers.size - MAX_LIVE_INVITATIONS + 1))) {
      old.cancel();
      this.answers.delete(old);
    }
    this.answers.add(answer);
    const done = answer.channel
      .then((channel) => this.runJoiner(channel, invitation))
      .finally(() => this.answers.delete(answer));
    done.catch((e: unknown) => this.host.logger.warn('direct pairing failed', { side: 'joiner', inviter: invitation.inviterId, error: (e as Error).message }));
    return { answer: code, inviterId: invitation.inviterId, expiresAt: invitation.expiresAt, done };
  }

  /**
   * The inviter's side: takes the joiner's answer code, connects, runs the pairing on the channel,
   * then the link. Resolves once the link is up.
   * @throws FaztError what `Pairing.readAnswer` throws; `INVITATION_EXPIRED` when the offer is gone
   *   (the node restarted since, or the invitation was made without one: `INVALID_INVITATION`);
   *   `INVITATION_USED` for a second answer; `PEER_UNREACHABLE` when the channel does not open;
   *   `PAIRING_FAILED` when the joiner fails the pairing or is not the node its answer named.
   */
  async accept(code: string): Promise<PeerRecord> {
    const r = this.host.pairing.readAnswer(code);
    const pending = this.offers.get(r.locator);
    if (!pending) {
      throw new FaztError('INVITATION_EXPIRED', "This invitation's connection offer is gone (this node restarted since, or the invitation carried none): make a new invitation with --direct.");
    }
    if (pending.answered) throw new FaztError('INVITATION_USED', 'This invitation was already answered: invitations work once. Make a new one.');
    pending.answered = true; // before any await: of two concurrent answers, one wins
    clearTimeout(pending.timer);
    try {
      const channel = await pending.offer.connect(r.session, DIRECT_CONNECT_TIMEOUT_MS);
      return await this.runInviter(channel, r.joinerId);
    } catch (e) {
      pending.offer.cancel();
      this.host.pairing.withdraw(r.locator, 'direct connection failed');
      this.host.logger.warn('direct pairing failed', { side: 'inviter', joiner: r.joinerId, error: (e as Error).message });
      throw e;
    } finally {
      // the invitation is now used or withdrawn: later answers are refused by readAnswer
      this.offers.delete(r.locator);
    }
  }

  /** Pending offers and answers (each holds a peer connection), for tests and the status. */
  pending(): { offers: number; answers: number } {
    return { offers: this.offers.size, answers: this.answers.size };
  }

  /** Closes every pending offer and answer (at shutdown). */
  closeAll(): void {
    for (const locator of [...this.offers.keys()]) this.drop(locator);
    for (const a of this.answers) a.cancel();
    this.answers.clear();
  }

  /** Runs the link over a channel whose pairing messages are done; resolves when its handshake does. */
  private link(channel: DirectChannel, initiatorOf?: string): Promise<boolean> {
    const link = this.host.attach({ send: (m) => channel.send(m), close: () => channel.close() }, initiatorOf);
    channel.onMessage((m) => link.receive(m));
    channel.onClose(() => link.closed());
    return link.handshake;
  }

  private runJoiner(channel: DirectChannel, invitation: Invitation): Promise<PeerRecord> {
    const j = this.host.pairing.join(invitation);
    return new Promise<PeerRecord>((resolve, reject) => {
      let settled = false;
      const fail = (e: FaztError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        channel.close();
        reject(e);
      };
      const timer = setTimeout(() => fail(new FaztError('PEER_UNREACHABLE', `The inviting node did not answer the pairing within ${PAIR_MESSAGES_TIMEOUT_MS / 1000} s.`)), PAIR_MESSAGES_TIMEOUT_MS);
      unref(timer);
      channel.onClose(() => fail(new FaztError('PEER_UNREACHABLE', 'The connection closed before the pairing finished.')));
      channel.onMessage((m) => {
        if (settled) return;
        const msg = parse(m);
        if (msg?.t === 'fazt-pair-error') {
          const code = typeof msg.code === 'string' && statusOf(msg.code as FaztErrorCode) !== undefined ? (msg.code as FaztErrorCode) : 'PAIRING_FAILED';
          fail(new FaztError(code, `The inviting node refused: ${String(msg.message ?? '').slice(0, 300)}`));
          return;
        }
        if (msg?.t !== 'fazt-paired') {
          fail(new FaztError('PAIRING_FAILED', 'The inviting node sent something other than a pairing answer.'));
          return;
        }
        let peer: PeerRecord;
        try {
          const a = invitation.addresses[0];
          peer = j.complete(msg.response, a ? `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}` : undefined);
        } catch (e) {
          fail(e instanceof FaztError ? e : new FaztError('PAIRING_FAILED', String(e)));
          return;
        }
        settled = true;
        clearTimeout(timer);
        this.host.logger.info('paired', { peer: peer.nodeId, name: peer.name, via: 'direct' });
        this.host.paired(peer);
        void this.link(channel, peer.nodeId).then((ok) =>
          ok ? resolve(peer) : reject(new FaztError('PEER_UNREACHABLE', 'Paired, but the link handshake did not complete; the nodes will connect again when they can reach each other.')),
        );
      });
      channel.send(JSON.stringify({ t: 'fazt-pair', request: j.request }));
    });
  }

  private runInviter(channel: DirectChannel, joinerId: string): Promise<PeerRecord> {
    return new Promise<PeerRecord>((resolve, reject) => {
      let settled = false;
      const refuse = (e: FaztError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        try {
          channel.send(JSON.stringify({ t: 'fazt-pair-error', code: e.code, message: e.message }));
        } catch {
          /* closed already */
        }
        // let the refusal reach the joiner before closing
        unref(setTimeout(() => channel.close(), 500));
        reject(e);
      };
      const timer = setTimeout(() => refuse(new FaztError('PEER_UNREACHABLE', `The joining node did not send its pairing within ${PAIR_MESSAGES_TIMEOUT_MS / 1000} s.`)), PAIR_MESSAGES_TIMEOUT_MS);
      unref(timer);
      channel.onClose(() => refuse(new FaztError('PEER_UNREACHABLE', 'The connection closed before the pairing finished.')));
      channel.onMessage((m) => {
        if (settled) return;
        const msg = parse(m);
        if (msg?.t !== 'fazt-pair') {
          refuse(new FaztError('BAD_REQUEST', 'The joining node sent something other than a pairing request.'));
          return;
        }
        let result: ReturnType<Pairing['accept']>;
        try {
          result = this.host.pairing.accept(msg.request, { joinerId });
        } catch (e) {
          refuse(e instanceof FaztError ? e : new FaztError('PAIRING_FAILED', String(e)));
          return;
        }
        settled = true;
        clearTimeout(timer);
        channel.send(JSON.stringify({ t: 'fazt-paired', response: result.response }));
        this.host.logger.info('paired', { peer: result.peer.nodeId, name: result.peer.name, via: 'direct' });
        this.host.paired(result.peer);
        void this.link(channel).then((ok) =>
          ok ? resolve(result.peer) : reject(new FaztError('PEER_UNREACHABLE', 'Paired, but the link handshake did not complete; the nodes will connect again when they can reach each other.')),
        );
      });
    });
  }
}
