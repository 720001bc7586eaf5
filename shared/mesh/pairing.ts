import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { Cartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import { b64u, fromB64u, isNodeId, nodeIdOf, normalizeNodeName, verifySignature, type MeshIdentity, type Sealer } from './identity.js';
import { encodeSession, type CompactSession } from './compact-sdp.js';
import {
  ANSWER_REF_BYTES,
  ANSWER_TAG_BYTES,
  decodeAnswer,
  encodeAnswer,
  fitInvitation,
  INVITE_SECRET_BYTES,
  invitationToCode,
  invitationToWords,
  type Invitation,
  type InviteAddress,
} from './invitation.js';
import type { PeerRecord, PeerStore } from './peers.js';

/**
 * The pairing ceremony (docs/mesh.md, "Pairing"). The inviter makes a single-use invitation; the
 * joiner, holding its secret, sends one HTTP request; both end up holding each other's Ed25519
 * public key. Both prove they hold the invitation's secret (HMAC-SHA256, RFC 2104, over a transcript
 * binding both public keys and both nonces) and their own private key (an Ed25519 signature over the
 * same transcript), so neither a bystander without the secret nor a replay can pair:
 *
 *   locator   = HMAC(secret, "fazt/pair/v1/locator")[0..12]        (finds the invitation, reveals nothing)
 *   join      = T("fazt/pair/v1/join", locator, joinerKey, joinerWriter, joinerName, nonceJ)
 *   accept    = T("fazt/pair/v1/accept", locator, inviterKey, joinerKey, inviterWriter, inviterName, nonceJ, nonceI)
 *   proof(x)  = HMAC(secret, x);  sig(x) = Ed25519 signature of x by the sender
 *
 * T() concatenates its fields, each as a 4-byte big-endian length and the bytes (UTF-8 for text).
 * The inviter refuses an unknown locator, an expired or used invitation, a wrong proof (after
 * {@link MAX_PROOF_FAILURES} wrong proofs the invitation is withdrawn) or signature; the joiner
 * refuses an answer whose key does not hash to the inviter id the invitation named, or whose proof or
 * signature is wrong.
 */

/** How long an invitation lives by default, ms (10 minutes). */
export const DEFAULT_INVITE_TTL_MS = 10 * 60_000;
/** Longest invitation lifetime accepted, ms (1 hour). */
export const MAX_INVITE_TTL_MS = 60 * 60_000;
/** Wrong proofs after which an invitation is withdrawn. */
export const MAX_PROOF_FAILURES = 5;
/** Live invitations kept at once; creating one more withdraws the oldest. */
export const MAX_LIVE_INVITATIONS = 8;
const SEAL_PURPOSE = 'mesh.invitation';
const NONCE_BYTES = 16;
const utf8 = new TextEncoder();

/** A new invitation in its three carrier forms. */
export interface CreatedInvitation {
  /** The decoded invitation. */
  invitation: Invitation;
  /** The invitation as one string (`FZ1…`, upper-case base32). */
  code: string;
  /** The same invitation as 12 BIP-39 words. */
  words: string[];
  /** Expiry, ms since epoch. */
  expiresAt: number;
}

/** What each side of the pairing sends (see the module notes). All binary fields base64url. */
export interface PairingMessage {
  v: 1;
  /** The sender's node id (must be the hash of `publicKey`). */
  nodeId: string;
  /** The sender's Ed25519 public key, 32 bytes. */
  publicKey: string;
  /** The sender cartridge's writer id. */
  writerId: string;
  /** The sender's name. */
  name: string;
  /** 16 random bytes. */
  nonce: string;
  /** HMAC-SHA256 of the transcript under the invitation secret, 32 bytes. */
  proof: string;
  /** The sender's Ed25519 signature of the transcript, 64 bytes. */
  signature: string;
}

/** What the joiner sends the inviter (`POST /api/mesh/pair`): a message and the invitation's locator. */
export interface JoinRequest extends PairingMessage {
  /** Which invitation, 12 bytes (see {@link locatorOf}). */
  locator: string;
}

/** What the inviter answers. */
export type JoinResponse = PairingMessage;

/** Transcript encoding: each field as a 4-byte big-endian length, then its bytes. */
export function transcript(...fields: (string | Uint8Array)[]): Uint8Array {
  const parts = fields.map((f) => (typeof f === 'string' ? utf8.encode(f) : f));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  let o = 0;
  for (const p of parts) {
    view.setUint32(o, p.length);
    out.set(p, o + 4);
    o += 4 + p.length;
  }
  return out;
}

/** The invitation's locator (base64url of 12 bytes). */
export function locatorOf(secret: Uint8Array): string {
  return b64u(hmac(sha256, secret, utf8.encode('fazt/pair/v1/locator')).slice(0, 12));
}

/** An answer's tag (invitation.ts `encodeAnswer`): binds the joiner's id and WebRTC answer to the invitation. */
function answerTag(secret: Uint8Array, locator: string, joinerId: string, session: CompactSession): Uint8Array {
  return hmac(sha256, secret, transcript('fazt/pair/v1/answer', locator, joinerId, encodeSession(session))).slice(0, ANSWER_TAG_BYTES);
}

/** Constant-time comparison of two byte arrays. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** A string field of a message, bounded. @throws FaztError `BAD_REQUEST`. */
function field(o: Record<string, unknown>, k: string, max = 200): string {
  const v = o[k];
  if (typeof v !== 'string' || !v || v.length > max) throw new FaztError('BAD_REQUEST', `The pairing message's "${k}" is missing or malformed.`);
  return v;
}

interface InviteRow {
  locator: string;
  secret: Uint8Array;
  expires_at: number;
  used_at: number | null;
  failures: number;
}

/** Creates invitations, answers joins (the inviter side) and makes joins (the joiner side). */
export class Pairing {
  constructor(
    private readonly cart: Cartridge,
    private readonly identity: MeshIdentity,
    private readonly sealer: Sealer,
    private readonly peers: PeerStore,
  ) {}

  /**
   * Makes a single-use invitation.
   * @param options.addresses where this node's HTTP API can be reached (best first, at most 4 kept).
   * @param options.ttlMs lifetime, ms (default 10 minutes, at most 1 hour).
   * @param options.offer the inviter's WebRTC offer (direct pairing): the code carries it, trimmed
   *   with its addresses to 140 bytes (`fitInvitation`).
   * @throws FaztError `INVALID_ARGUMENT` for a lifetime outside 10 s – 1 h, a bad address or an offer
   *   that cannot fit.
   */
  createInvitation(options: { addresses?: InviteAddress[]; ttlMs?: number; offer?: CompactSession } = {}): CreatedInvitation {
    const ttl = options.ttlMs ?? DEFAULT_INVITE_TTL_MS;
    if (!Number.isFinite(ttl) || ttl < 10_000 || ttl > MAX_INVITE_TTL_MS) throw new FaztError('INVALID_ARGUMENT', 'An invitation lives between 10 seconds and 1 hour.');
    const now = this.cart.clock.now();
    // whole seconds, as the binary form carries them
    const expiresAt = Math.floor((now + ttl) / 1000) * 1000;
    const secret = crypto.getRandomValues(new Uint8Array(INVITE_SECRET_BYTES));
    let invitation: Invitation = { secret, expiresAt, inviterId: this.identity.nodeId(), addresses: (options.addresses ?? []).slice(0, 4) };
    if (options.offer) invitation = fitInvitation({ ...invitation, offer: options.offer });
    const code = invitationToCode(invitation); // validates the addresses
    const db = this.cart.db;
    db.transaction(() => {
      db.run('DELETE FROM mesh_invitations WHERE expires_at < ? OR used_at IS NOT NULL', [now - 86_400_000]);
      const live = db.query<{ locator: string }>('SELECT locator FROM mesh_invitations WHERE used_at IS NULL AND expires_at >= ? ORDER BY seq', [now]);
      for (const old of live.slice(0, Math.max(0, live.length - MAX_LIVE_INVITATIONS + 1))) {
        db.run('UPDATE mesh_invitations SET used_at = ?, used_by = ? WHERE locator = ?', [now, 'withdrawn', old.locator]);
      }
      db.run('INSERT INTO mesh_invitations (locator, seq, secret, created_at, expires_at, failures) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM mesh_invitations), ?, ?, ?, 0)', [
        locatorOf(secret),
        this.sealer.seal(SEAL_PURPOSE, secret),
        now,
        expiresAt,
      ]);
    });
    return { invitation, code, words: invitationToWords(invitation), expiresAt };
  }

  /** Withdraws every live invitation. @returns how many were live. */
  withdrawAll(): number {
    const now = this.cart.clock.now();
    return this.cart.db.run("UPDATE mesh_invitations SET used_at = ?, used_by = 'withdrawn' WHERE used_at IS NULL", [now]).changes;
  }

  /**
   * The inviter's side: checks a join and, when it holds, pairs with the joiner (single-use: of two
   * concurrent joins with the same invitation, one wins).
   * @param body the parsed JSON body of `POST /api/mesh/pair`.
   * @param options.joinerId the node the joiner must be (direct pairing: the id its answer named).
   * @throws FaztError `BAD_REQUEST` (malformed), `INVALID_INVITATION` (unknown locator),
   *   `INVITATION_EXPIRED`, `INVITATION_USED`, `PAIRING_FAILED` (wrong proof or signature, a key that
   *   does not match its id, or the node itself).
   */
  accept(body: unknown, options: { joinerId?: string } = {}): { response: JoinResponse; peer: PeerRecord } {
    if (!body || typeof body !== 'object') throw new FaztError('BAD_REQUEST', 'A pairing message is a JSON object.');
    const m = body as Record<string, unknown>;
    if (m.v !== 1) throw new FaztError('BAD_REQUEST', 'This pairing message is from another version of Fazt: update both nodes.');
    let locator: string, joinerKey: Uint8Array, joinerId: string, writerId: string, name: string, nonceJ: Uint8Array, proof: Uint8Array, signature: Uint8Array;
    try {
      locator = field(m, 'locator', 32);
      joinerKey = fromB64u(field(m, 'publicKey', 64), 'publicKey', 32);
      joinerId = field(m, 'nodeId', 16);
      writerId = field(m, 'writerId', 64);
      name = normalizeNodeName(field(m, 'name', 400));
      nonceJ = fromB64u(field(m, 'nonce', 64), 'nonce', NONCE_BYTES);
      proof = fromB64u(field(m, 'proof', 64), 'proof', 32);
      signature = fromB64u(field(m, 'signature', 100), 'signature', 64);
    } catch (e) {
      throw new FaztError('BAD_REQUEST', `The pairing message is malformed: ${(e as Error).message}`);
    }
    if (!isNodeId(joinerId) || nodeIdOf(joinerKey) !== joinerId) throw new FaztError('PAIRING_FAILED', "The joining node's id does not match its key.");
    if (joinerId === this.identity.nodeId()) throw new FaztError('PAIRING_FAILED', 'A node cannot pair with itself: use the invitation on the other device.');
    if (options.joinerId !== undefined && joinerId !== options.joinerId) {
      throw new FaztError('PAIRING_FAILED', `The node that connected (${joinerId}) is not the one the answer named (${options.joinerId}): its key does not match.`);
    }

    const db = this.cart.db;
    const now = this.cart.clock.now();
    const row = db.get<InviteRow>('SELECT locator, secret, expires_at, used_at, failures FROM mesh_invitations WHERE locator = ?', [locator]);
    if (!row) throw new FaztError('INVALID_INVITATION', 'This node made no such invitation (or it was already cleaned up): ask for a new one.');
    if (row.used_at !== null) throw new FaztError('INVITATION_USED', 'This invitation was already used or withdrawn: invitations work once. Ask for a new one.');
    if (row.expires_at < now) throw new FaztError('INVITATION_EXPIRED', 'This invitation has expired: ask for a new one.');
    const secret = this.sealer.open(SEAL_PURPOSE, new Uint8Array(row.secret));
    const joinT = transcript('fazt/pair/v1/join', locator, joinerKey, writerId, name, nonceJ);
    const proofOk = equalBytes(hmac(sha256, secret, joinT), proof);
    if (!proofOk || !verifySignature(joinerKey, joinT, signature)) {
      this.countFailure(locator, now);
      throw new FaztError('PAIRING_FAILED', proofOk ? "The joining node's signature is wrong." : 'The joining node could not prove it holds this invitation.');
    }
    const nonceI = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const me = this.identity.ensure();
    const myKey = this.identity.publicKey();
    const acceptT = transcript('fazt/pair/v1/accept', locator, myKey, joinerKey, this.cart.nodeId, me.name, nonceJ, nonceI);
    const peer = db.transaction(() => {
      // single use, even against a concurrent join on another connection
      const won = db.run('UPDATE mesh_invitations SET used_at = ?, used_by = ? WHERE locator = ? AND used_at IS NULL', [now, joinerId, locator]).changes === 1;
      if (!won) throw new FaztError('INVITATION_USED', 'This invitation was already used: invitations work once. Ask for a new one.');
      return this.peers.upsert({ nodeId: joinerId, name, publicKey: b64u(joinerKey), writerId, addresses: [] });
    });
    return {
      peer,
      response: {
        v: 1,
        nodeId: me.nodeId,
        publicKey: me.publicKey,
        writerId: this.cart.nodeId,
        name: me.name,
        nonce: b64u(nonceI),
        proof: b64u(hmac(sha256, secret, acceptT)),
        signature: b64u(this.identity.sign(acceptT)),
      },
    };
  }

  /** Counts a wrong proof; the {@link MAX_PROOF_FAILURES}th withdraws the invitation. */
  private countFailure(locator: string, now: number): void {
    this.cart.db.run(
      `UPDATE mesh_invitations SET failures = failures + 1,
         used_at = CASE WHEN failures + 1 >= ? THEN ? ELSE used_at END,
         used_by = CASE WHEN failures + 1 >= ? THEN 'too many failures' ELSE used_by END
       WHERE locator = ?`,
      [MAX_PROOF_FAILURES, now, MAX_PROOF_FAILURES, locator],
    );
  }

  /** Withdraws one invitation (a direct pairing whose connection failed). @returns true when it was live. */
  withdraw(locator: string, reason: string): boolean {
    return this.cart.db.run('UPDATE mesh_invitations SET used_at = ?, used_by = ? WHERE locator = ? AND used_at IS NULL', [this.cart.clock.now(), reason.slice(0, 100), locator]).changes === 1;
  }

  /**
   * The joiner's side of a direct invitation: its answer code (`FZA…`), carrying its WebRTC answer,
   * its node id, and a tag made with the invitation's secret (see invitation.ts `encodeAnswer`).
   * Candidates are dropped from the end until it fits 140 bytes.
   * @throws FaztError `INVALID_ARGUMENT` for an answer that cannot fit even with one candidate.
   */
  answerCode(invitation: Invitation, session: CompactSession): string {
    const locator = locatorOf(invitation.secret);
    const ref = fromB64u(locator, 'locator', 12).slice(0, ANSWER_REF_BYTES);
    const joinerId = this.identity.nodeId();
    const s: CompactSession = { ...session, candidates: [...session.candidates] };
    for (;;) {
      try {
        return encodeAnswer({ ref, joinerId, tag: answerTag(invitation.secret, locator, joinerId, s), session: s });
      } catch (e) {
        if (!(e instanceof FaztError) || !/at most/.test(e.message) || s.candidates.length <= 1) throw e;
        s.candidates.pop();
      }
    }
  }

  /**
   * The inviter's side of an answer code: finds the live invitation it answers and checks its tag.
   * @returns the invitation's locator and expiry, the node the joiner claims to be, and its WebRTC answer.
   * @throws FaztError `INVALID_INVITATION` (unreadable, or no such invitation), `INVITATION_USED`,
   *   `INVITATION_EXPIRED`, `PAIRING_FAILED` (a tag not made with the secret: counted like a wrong
   *   proof, the 5th withdraws the invitation).
   */
  readAnswer(code: string): { locator: string; expiresAt: number; joinerId: string; session: CompactSession } {
    const a = decodeAnswer(code);
    const db = this.cart.db;
    const now = this.cart.clock.now();
    const rows = db.query<InviteRow>('SELECT locator, secret, expires_at, used_at, failures FROM mesh_invitations WHERE substr(locator, 1, 8) = ?', [b64u(a.ref)]);
    if (rows.length !== 1) throw new FaztError('INVALID_INVITATION', 'This node made no invitation this answer belongs to (or it was cleaned up): make a new invitation.');
    const row = rows[0]!;
    if (row.used_at !== null) throw new FaztError('INVITATION_USED', 'The invitation this answer belongs to was already used or withdrawn: invitations work once. Make a new one.');
    if (row.expires_at < now) throw new FaztError('INVITATION_EXPIRED', 'The invitation this answer belongs to has expired: make a new one.');
    const secret = this.sealer.open(SEAL_PURPOSE, new Uint8Array(row.secret));
    if (!equalBytes(answerTag(secret, row.locator, a.joinerId, a.session), a.tag)) {
      this.countFailure(row.locator, now);
      throw new FaztError('PAIRING_FAILED', 'This answer was not made with the invitation (its tag is wrong): was it altered? Join again with the invitation.');
    }
    return { locator: row.locator, expiresAt: row.expires_at, joinerId: a.joinerId, session: a.session };
  }

  /**
   * The joiner's side, step 1: the request to send the inviter.
   * @returns the request and `complete`, which checks the inviter's answer and pairs.
   */
  join(invitation: Invitation): { request: JoinRequest; complete: (answer: unknown, address?: string) => PeerRecord } {
    const me = this.identity.ensure();
    const myKey = this.identity.publicKey();
    const locator = locatorOf(invitation.secret);
    const nonceJ = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const joinT = transcript('fazt/pair/v1/join', locator, myKey, this.cart.nodeId, me.name, nonceJ);
    const request: JoinRequest = {
      v: 1,
      locator,
      nodeId: me.nodeId,
      publicKey: me.publicKey,
      writerId: this.cart.nodeId,
      name: me.name,
      nonce: b64u(nonceJ),
      proof: b64u(hmac(sha256, invitation.secret, joinT)),
      signature: b64u(this.identity.sign(joinT)),
    };
    const complete = (answer: unknown, address?: string): PeerRecord => {
      if (!answer || typeof answer !== 'object') throw new FaztError('PAIRING_FAILED', 'The inviting node gave no pairing answer.');
      const a = answer as Record<string, unknown>;
      if (a.v !== 1) throw new FaztError('PAIRING_FAILED', 'The inviting node speaks another version of the pairing: update both nodes.');
      let key: Uint8Array, nonceI: Uint8Array, proof: Uint8Array, sig: Uint8Array, name: string, writerId: string;
      try {
        key = fromB64u(field(a, 'publicKey', 64), 'publicKey', 32);
        nonceI = fromB64u(field(a, 'nonce', 64), 'nonce', NONCE_BYTES);
        proof = fromB64u(field(a, 'proof', 64), 'proof', 32);
        sig = fromB64u(field(a, 'signature', 100), 'signature', 64);
        name = normalizeNodeName(field(a, 'name', 400));
        writerId = field(a, 'writerId', 64);
      } catch (e) {
        throw new FaztError('PAIRING_FAILED', `The inviting node's answer is malformed (${(e as Error).message})`);
      }
      const id = nodeIdOf(key);
      if (invitation.inviterId !== undefined && id !== invitation.inviterId) {
        throw new FaztError('PAIRING_FAILED', 'The node that answered is not the one that made the invitation (its key does not match the invitation).');
      }
      if (a.nodeId !== id) throw new FaztError('PAIRING_FAILED', "The inviting node's id does not match its key.");
      const acceptT = transcript('fazt/pair/v1/accept', locator, key, myKey, writerId, name, nonceJ, nonceI);
      if (!equalBytes(hmac(sha256, invitation.secret, acceptT), proof)) {
        throw new FaztError('PAIRING_FAILED', 'The inviting node could not prove it made this invitation.');
      }
      if (!verifySignature(key, acceptT, sig)) throw new FaztError('PAIRING_FAILED', "The inviting node's signature is wrong.");
      return this.peers.upsert({ nodeId: id, name, publicKey: b64u(key), writerId, addresses: address ? [address] : [] });
    };
    return { request, complete };
  }
}
