import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { FaztError } from '../errors.js';
import { b64u, fromB64u, isNodeId, nodeIdOf, verifySignature, type MeshIdentity } from './identity.js';
import { transcript } from './pairing.js';
import type { PeerStore } from './peers.js';

/**
 * The authenticated peer link (docs/mesh.md, "The link"): what two paired nodes speak over any
 * ordered, reliable message transport (a WebRTC data channel through PeerJS, or an in-memory pipe in
 * tests). The transport is not trusted: a signaling server that swapped DTLS fingerprints, or
 * anything else in the middle, can neither read nor forge nor replay a message.
 *
 * Handshake (SIGMA-style: ephemeral X25519, RFC 7748, signed with the paired Ed25519 keys):
 *
 *   initiator → responder   hello   { v, from, to, eph, nonce }
 *   responder → initiator   accept  { v, from, eph, sig_R(T("fazt/link/v1/responder", from_I, from_R, eph_I, eph_R, nonce)) }
 *   initiator → responder   confirm { sig_I(T("fazt/link/v1/initiator", from_I, from_R, eph_I, eph_R, nonce)) }
 *
 * Each side checks that the other is a paired peer and that the signature verifies with the key it
 * paired with (not one the message carries). Keys: HKDF-SHA256 (RFC 5869) of the X25519 shared
 * secret, salt = SHA-256 of the transcript, one key per direction.
 *
 * After the handshake every message is a frame: 8-byte big-endian sequence number, then the
 * ChaCha20-Poly1305 (RFC 8439) ciphertext of [kind byte (0 JSON, 1 bytes)] + payload, nonce = the
 * sequence number, additional data = the direction label. The receiver requires exactly the next
 * sequence number: a replayed, reordered, dropped or tampered frame ends the link (the transport is
 * ordered and reliable, so that only happens under attack or after a cut; the nodes then connect anew).
 */

/** A message transport between two nodes: ordered, reliable, message-oriented. */
export interface LinkTransport {
  /** Sends one message (a JSON-safe value for handshake messages, bytes for frames). */
  send(message: string | Uint8Array): void;
  /** Closes the transport. */
  close(): void;
}

/** What the link tells its owner. */
export interface LinkEvents {
  /** The handshake succeeded: `peerId` is authenticated. */
  onOpen?(peerId: string): void;
  /** A message from the authenticated peer. */
  onMessage?(message: unknown): void;
  /** The link ended; `error` says why when it was not a clean close. */
  onClose?(error?: FaztError): void;
}

/**
 * Largest message, bytes: under the 256 KiB SCTP message size WebRTC peers advertise
 * (`a=max-message-size:262144`, RFC 8841), with room for the frame header and tag.
 */
export const MAX_FRAME_BYTES = 256 * 1024 - 64;
/** Time allowed for the handshake, ms. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
const VERSION = 1;
const utf8 = new TextEncoder();
const text = new TextDecoder();

type State = 'new' | 'hello-sent' | 'accept-sent' | 'open' | 'closed';

/**
 * One end of a link. Create it on both sides of a fresh transport, feed it every transport message
 * with {@link receive}; the initiator calls {@link start}.
 */
export class PeerLink {
  private state: State = 'new';
  private eph = x25519.utils.randomSecretKey();
  private ephPub = x25519.getPublicKey(this.eph);
  private otherEph: Uint8Array | undefined;
  private nonce: Uint8Array | undefined;
  private sendKey: Uint8Array | undefined;
  private recvKey: Uint8Array | undefined;
  private sendSeq = 0n;
  private recvSeq = 0n;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The authenticated peer's node id (after the handshake), or the one the initiator asked for. */
  peerId: string | undefined;
  /** True on the side that started the handshake. */
  readonly initiator: boolean;

  /**
   * @param identity this node's identity.
   * @param peers the paired nodes (the only ones a link is made with).
   * @param transport the message transport.
   * @param events callbacks.
   * @param initiatorOf for the initiator: the node id it wants to reach (checked in the handshake).
   */
  constructor(
    private readonly identity: MeshIdentity,
    private readonly peers: PeerStore,
    private readonly transport: LinkTransport,
    private readonly events: LinkEvents = {},
    initiatorOf?: string,
  ) {
    this.peerId = initiatorOf;
    this.initiator = initiatorOf !== undefined;
    this.timer = setTimeout(() => this.fail(new FaztError('PEER_UNREACHABLE', 'The peer link handshake timed out.')), HANDSHAKE_TIMEOUT_MS);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** True once the handshake succeeded and until the link ends. */
  get open(): boolean {
    return this.state === 'open';
  }

  /**
   * The initiator's first move.
   * @throws FaztError `NOT_PAIRED` when the target is not a paired peer.
   */
  start(): void {
    if (this.state !== 'new' || !this.peerId) throw new FaztError('INTERNAL', 'PeerLink.start: only a new initiator starts.');
    if (!this.peers.get(this.peerId)) throw new FaztError('NOT_PAIRED', `Node ${this.peerId} is not paired with this node.`);
    this.nonce = crypto.getRandomValues(new Uint8Array(16));
    this.state = 'hello-sent';
    this.transport.send(JSON.stringify({ t: 'hello', v: VERSION, from: this.identity.nodeId(), to: this.peerId, eph: b64u(this.ephPub), nonce: b64u(this.nonce) }));
  }

  /** Sends a JSON-safe value to the peer. @throws FaztError `PEER_UNREACHABLE` when the link is not open. */
  send(message: unknown): void {
    this.sendFrame(0, utf8.encode(JSON.stringify(message)));
  }

  /** Sends bytes to the peer (delivered to `onMessage` as a `Uint8Array`). */
  sendBytes(bytes: Uint8Array): void {
    this.sendFrame(1, bytes);
  }

  /** Ends the link (the peer sees the transport close). */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.timer);
    this.transport.close();
    this.events.onClose?.();
  }

  /** Feeds one message that arrived on the transport. Never throws: a bad message ends the link. */
  receive(message: string | Uint8Array | ArrayBuffer): void {
    try {
      if (this.state === 'closed') return;
      if (this.state === 'open') return this.receiveFrame(message);
      if (typeof message !== 'string' || message.length > 4096) throw refuse('a handshake message is malformed');
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(message) as Record<string, unknown>;
      } catch {
        throw refuse('a handshake message is not JSON');
      }
      if (!m || typeof m !== 'object' || m.v !== VERSION) throw refuse('the peer speaks another version of the link: update both nodes');
      if (m.t === 'hello' && this.state === 'new' && !this.peerId) return this.onHello(m);
      if (m.t === 'accept' && this.state === 'hello-sent') return this.onAccept(m);
      if (m.t === 'confirm' && this.state === 'accept-sent') return this.onConfirm(m);
      throw refuse(`an unexpected handshake message (${String(m.t).slice(0, 20)})`);
    } catch (e) {
      this.fail(e instanceof FaztError ? e : refuse(String((e as Error)?.message ?? e)));
    }
  }

  private pairedKey(id: unknown): Uint8Array {
    if (!isNodeId(id)) throw refuse('the peer gave no node id');
    const p = this.peers.get(id);
    if (!p) throw new FaztError('NOT_PAIRED', `Node ${id} is not paired with this node: refused.`);
    const key = fromB64u(p.publicKey, 'paired key', 32);
    if (nodeIdOf(key) !== id) throw refuse('the paired key does not match the node id');
    return key;
  }

  private onHello(m: Record<string, unknown>): void {
    if (m.to !== this.identity.nodeId()) throw refuse('the hello is addressed to another node');
    this.pairedKey(m.from);
    this.peerId = m.from as string;
    this.otherEph = fromB64u(m.eph, 'eph', 32);
    this.nonce = fromB64u(m.nonce, 'nonce', 16);
    const me = this.identity.nodeId();
    const t = transcript('fazt/link/v1/responder', this.peerId, me, this.otherEph, this.ephPub, this.nonce);
    this.state = 'accept-sent';
    this.transport.send(JSON.stringify({ t: 'accept', v: VERSION, from: me, eph: b64u(this.ephPub), sig: b64u(this.identity.sign(t)) }));
  }

  private onAccept(m: Record<string, unknown>): void {
    if (m.from !== this.peerId) throw refuse('another node answered the hello');
    const key = this.pairedKey(m.from);
    this.otherEph = fromB64u(m.eph, 'eph', 32);
    const me = this.identity.nodeId();
    const t = transcript('fazt/link/v1/responder', me, this.peerId!, this.ephPub, this.otherEph, this.nonce!);
    if (!verifySignature(key, t, fromB64u(m.sig, 'sig', 64))) throw new FaztError('PAIRING_FAILED', `Node ${this.peerId} did not prove its paired key: refused.`);
    const ti = transcript('fazt/link/v1/initiator', me, this.peerId!, this.ephPub, this.otherEph, this.nonce!);
    this.transport.send(JSON.stringify({ t: 'confirm', v: VERSION, sig: b64u(this.identity.sign(ti)) }));
    this.deriveKeys(true, t);
  }

  private onConfirm(m: Record<string, unknown>): void {
    const key = this.pairedKey(this.peerId);
    const ti = transcript('fazt/link/v1/initiator', this.peerId!, this.identity.nodeId(), this.otherEph!, this.ephPub, this.nonce!);
    if (!verifySignature(key, ti, fromB64u(m.sig, 'sig', 64))) throw new FaztError('PAIRING_FAILED', `Node ${this.peerId} did not prove its paired key: refused.`);
    const t = transcript('fazt/link/v1/responder', this.peerId!, this.identity.nodeId(), this.otherEph!, this.ephPub, this.nonce!);
    this.deriveKeys(false, t);
  }

  private deriveKeys(initiator: boolean, t: Uint8Array): void {
    const shared = x25519.getSharedSecret(this.eph, this.otherEph!);
    const okm = hkdf(sha256, shared, sha256(t), utf8.encode('fazt/link/v1/keys'), 64);
    const i2r = okm.slice(0, 32);
    const r2i = okm.slice(32);
    this.sendKey = initiator ? i2r : r2i;
    this.recvKey = initiator ? r2i : i2r;
    this.eph = new Uint8Array(32); // forget the ephemeral secret
    this.state = 'open';
    clearTimeout(this.timer);
    this.peers.touch(this.peerId!);
    this.events.onOpen?.(this.peerId!);
  }

  private sendFrame(kind: 0 | 1, payload: Uint8Array): void {
    if (this.state !== 'open') throw new FaztError('PEER_UNREACHABLE', 'The peer link is not open.');
    if (payload.length + 1 > MAX_FRAME_BYTES) throw new FaztError('LIMIT_EXCEEDED', `A link message is at most ${MAX_FRAME_BYTES} bytes.`);
    const plain = new Uint8Array(payload.length + 1);
    plain[0] = kind;
    plain.set(payload, 1);
    const seq = this.sendSeq++;
    const ct = chacha20poly1305(this.sendKey!, nonceOf(seq), utf8.encode('fazt/link/v1/frame')).encrypt(plain);
    const frame = new Uint8Array(8 + ct.length);
    new DataView(frame.buffer).setBigUint64(0, seq);
    frame.set(ct, 8);
    this.transport.send(frame);
  }

  private receiveFrame(message: string | Uint8Array | ArrayBuffer): void {
    const bytes = message instanceof ArrayBuffer ? new Uint8Array(message) : message;
    if (!(bytes instanceof Uint8Array) || bytes.length < 8 + 16 + 1 || bytes.length > MAX_FRAME_BYTES + 8 + 16) throw refuse('a frame is malformed');
    const seq = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0);
    if (seq !== this.recvSeq) throw refuse(`a frame arrived out of order (${seq}, expected ${this.recvSeq}): replayed or dropped`);
    let plain: Uint8Array;
    try {
      plain = chacha20poly1305(this.recvKey!, nonceOf(seq), utf8.encode('fazt/link/v1/frame')).decrypt(bytes.subarray(8));
    } catch {
      throw refuse('a frame failed authentication (tampered with, or not from the paired node)');
    }
    this.recvSeq++;
    const body = plain.subarray(1);
    if (plain[0] === 1) return void this.events.onMessage?.(body.slice());
    let value: unknown;
    try {
      value = JSON.parse(text.decode(body));
    } catch {
      throw refuse('a message is not JSON');
    }
    this.events.onMessage?.(value);
  }

  private fail(e: FaztError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.timer);
    try {
      this.transport.close();
    } catch {
      /* already closed */
    }
    this.events.onClose?.(e);
  }
}

function refuse(why: string): FaztError {
  return new FaztError('PAIRING_FAILED', `Peer link refused: ${why}.`);
}

/** The 12-byte ChaCha20-Poly1305 nonce of a sequence number (4 zero bytes, then 8 big-endian). */
function nonceOf(seq: bigint): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, seq);
  return n;
}
