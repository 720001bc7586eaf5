import { sha256 } from '@noble/hashes/sha2.js';
import { base32nopad } from '@scure/base';
import { entropyToMnemonic, mnemonicToEntropy } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { FaztError } from '../errors.js';
import { decodeSession, encodeSession, type CompactSession } from './compact-sdp.js';
import { NODE_ID_BYTES, nodeIdFromBytes } from './identity.js';

/**
 * Pairing invitations (docs/mesh.md, "Invitations"): what one node hands another, by QR code, by
 * words or by sound, so the other can find it and prove it was invited.
 *
 * The binary form, version 1 (big-endian; 45 bytes with two IPv4 addresses, so it fits a ggwave
 * message, ≤ 140 bytes, with room for a WebRTC offer later):
 *
 * | bytes | field |
 * |---|---|
 * | 1 | version (1) |
 * | 1 | flags: bit 0 = a WebRTC offer follows the addresses ({@link FLAG_OFFER}); the others must be 0 |
 * | 10 | secret: single-use, random (80 bits) |
 * | 4 | expiry, seconds since the Unix epoch |
 * | 10 | the inviter's node id (raw bytes of `nodeIdOf`) |
 * | 1 | number of addresses, 0–4 |
 * | 7 or 19 each | address: family (4 or 6), the IP (4 or 16 bytes), port (2) |
 * | (n) | with flag bit 0: the inviter's WebRTC offer in compact form (compact-sdp.ts) |
 * | 4 | checksum: the first 4 bytes of the SHA-256 of everything before |
 *
 * The whole is at most {@link MAX_INVITATION_BYTES} (140, one ggwave message). An offer is the
 * "direct" form (docs/mesh.md "Pairing with no reachable server"): the joiner answers it with an
 * answer code (`FZA…`, {@link encodeAnswer}) instead of calling the inviter's HTTP API. A reader
 * from before the offer (flags must be 0) refuses a direct invitation with "uses features of a newer
 * Fazt: update this node"; invitations without an offer are byte for byte what they were.
 *
 * Carriers:
 * - **code**: `FZ1` + the binary in upper-case RFC 4648 base32 without padding. Upper-case base32 is
 *   inside QR's alphanumeric mode (ISO/IEC 18004 §7.3.4), so QR codes stay small.
 * - **words**: 12 BIP-39 English words (the standard's 128-bit entropy with its 4-bit checksum)
 *   carrying the secret and the first IPv4 address with its port: the part of the invitation a person
 *   reads aloud. The inviter's id is not in the words; the secret authenticates both sides.
 * - **sound**: the binary form, played with ggwave (chirp.ts `invitationChirpPayload`).
 */

/** A decoded invitation. */
export interface Invitation {
  /** 10 random bytes, single-use. */
  secret: Uint8Array;
  /** Expiry, ms since epoch (carried in whole seconds). `undefined` when it came from words. */
  expiresAt?: number;
  /** The inviter's node id. `undefined` when it came from words. */
  inviterId?: string;
  /** Where the inviter listens (its HTTP API), best first. */
  addresses: InviteAddress[];
  /** The inviter's WebRTC offer (direct pairing), when the code carries one. */
  offer?: CompactSession;
}

/** An IP address and TCP port of the inviter's HTTP API. */
export interface InviteAddress {
  /** Dotted IPv4 (`192.168.1.20`) or an IPv6 address (`fe80::1`, no brackets, no zone). */
  host: string;
  port: number;
}

/** Secret length, bytes. */
export const INVITE_SECRET_BYTES = 10;
/** Most addresses an invitation carries. */
export const MAX_INVITE_ADDRESSES = 4;
/** The code's prefix: "Fazt", invitation version 1. */
export const CODE_PREFIX = 'FZ1';
/** The number of words. */
export const WORD_COUNT = 12;
/** Largest binary invitation or answer, bytes: one ggwave message. */
export const MAX_INVITATION_BYTES = 140;
/** Flag bit: the invitation carries a WebRTC offer. */
export const FLAG_OFFER = 1;
/** The answer code's prefix: "Fazt Answer". */
export const ANSWER_PREFIX = 'FZA';
const VERSION = 1;
const CHECK_BYTES = 4;

/** The error every malformed invitation gets; `detail` says what exactly. */
function bad(detail: string): FaztError {
  return new FaztError('INVALID_INVITATION', detail);
}

function ipv4Bytes(host: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  return b.every((x) => x <= 255) ? Uint8Array.from(b) : undefined;
}

function ipv6Bytes(host: string): Uint8Array | undefined {
  if (!/^[0-9a-f:.]+$/i.test(host) || !host.includes(':')) return undefined;
  const halves = host.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s ? s.split(':') : []);
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const groups: number[] = [];
  const push = (g: string[]) => {
    for (const x of g) {
      if (!/^[0-9a-f]{1,4}$/i.test(x)) return false;
      groups.push(parseInt(x, 16));
    }
    return true;
  };
  if (!push(head)) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  for (let i = 0; i < fill; i++) groups.push(0);
  if (!push(tail)) return undefined;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

function ipv6Text(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  // the longest run of zero groups becomes "::" (RFC 5952 §4.2)
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/**
 * Encodes an invitation to its binary form.
 * @throws FaztError `INVALID_ARGUMENT` for a secret that is not 10 bytes, a missing expiry or
 *   inviter id, more than 4 addresses, an address that is not an IP or a port outside 1–65535.
 */
export function encodeInvitation(inv: Invitation): Uint8Array {
  if (inv.secret.length !== INVITE_SECRET_BYTES) throw new FaztError('INVALID_ARGUMENT', `An invitation secret is ${INVITE_SECRET_BYTES} bytes.`);
  if (inv.expiresAt === undefined || inv.inviterId === undefined) throw new FaztError('INVALID_ARGUMENT', 'A full invitation needs its expiry and the inviter id.');
  if (inv.addresses.length > MAX_INVITE_ADDRESSES) throw new FaztError('INVALID_ARGUMENT', `An invitation carries at most ${MAX_INVITE_ADDRESSES} addresses.`);
  const idBytes = base32nopad.decode(inv.inviterId.toUpperCase());
  if (idBytes.length !== NODE_ID_BYTES) throw new FaztError('INVALID_ARGUMENT', 'The inviter id is not a node id.');
  const addr: Uint8Array[] = inv.addresses.map((a) => {
    if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) throw new FaztError('INVALID_ARGUMENT', `Port ${a.port} is not 1–65535.`);
    const v4 = ipv4Bytes(a.host);
    const ip = v4 ?? ipv6Bytes(a.host);
    if (!ip) throw new FaztError('INVALID_ARGUMENT', `"${a.host}" is not an IPv4 or IPv6 address.`);
    const out = new Uint8Array(1 + ip.length + 2);
    out[0] = v4 ? 4 : 6;
    out.set(ip, 1);
    out[1 + ip.length] = a.port >> 8;
    out[2 + ip.length] = a.port & 0xff;
    return out;
  });
  const offer = inv.offer ? encodeSession(inv.offer) : undefined;
  if (inv.offer && inv.offer.setup !== 'actpass') throw new FaztError('INVALID_ARGUMENT', "An invitation's offer has the DTLS role actpass.");
  const bodyLen = 2 + INVITE_SECRET_BYTES + 4 + NODE_ID_BYTES + 1 + addr.reduce((n, a) => n + a.length, 0) + (offer?.length ?? 0);
  if (bodyLen + CHECK_BYTES > MAX_INVITATION_BYTES) {
    throw new FaztError('INVALID_ARGUMENT', `This invitation would be ${bodyLen + CHECK_BYTES} bytes, more than one sound message holds (${MAX_INVITATION_BYTES}): carry fewer addresses or candidates (see fitInvitation).`);
  }
  const out = new Uint8Array(bodyLen + CHECK_BYTES);
  const view = new DataView(out.buffer);
  let o = 0;
  out[o++] = VERSION;
  out[o++] = offer ? FLAG_OFFER : 0;
  out.set(inv.secret, o);
  o += INVITE_SECRET_BYTES;
  view.setUint32(o, Math.floor(inv.expiresAt / 1000));
  o += 4;
  out.set(idBytes, o);
  o += NODE_ID_BYTES;
  out[o++] = addr.length;
  for (const a of addr) {
    out.set(a, o);
    o += a.length;
  }
  if (offer) out.set(offer, o);
  out.set(sha256(out.subarray(0, bodyLen)).subarray(0, CHECK_BYTES), bodyLen);
  return out;
}

/**
 * Trims an invitation that carries an offer until it fits {@link MAX_INVITATION_BYTES}: candidates
 * beyond the first two go first, then addresses from the last, then candidates down to one.
 * @returns the invitation as it will be encoded (unchanged when it fits).
 * @throws FaztError `INVALID_ARGUMENT` when even one candidate and no address do not fit.
 */
export function fitInvitation(inv: Invitation): Invitation {
  const out: Invitation = { ...inv, addresses: [...inv.addresses], offer: inv.offer ? { ...inv.offer, candidates: [...inv.offer.candidates] } : undefined };
  for (;;) {
    try {
      encodeInvitation(out);
      return out;
    } catch (e) {
      if (!(e instanceof FaztError) || !/more than one sound message/.test(e.message) || !out.offer) throw e;
    }
    const c = out.offer.candidates;
    if (c.length > 2) c.pop();
    else if (out.addresses.length) out.addresses.pop();
    else if (c.length > 1) c.pop();
    else throw new FaztError('INVALID_ARGUMENT', `Even with one candidate and no address, this offer does not fit in ${MAX_INVITATION_BYTES} bytes.`);
  }
}

/**
 * Decodes the binary form.
 * @throws FaztError `INVALID_INVITATION` saying what is wrong: too short, damaged (checksum), from a
 *   newer Fazt (version, flags), or malformed addresses.
 */
export function decodeInvitation(bytes: Uint8Array): Invitation {
  const min = 2 + INVITE_SECRET_BYTES + 4 + NODE_ID_BYTES + 1 + CHECK_BYTES;
  if (bytes.length < min) throw bad('This is not a Fazt invitation (too short).');
  const body = bytes.subarray(0, bytes.length - CHECK_BYTES);
  const check = sha256(body).subarray(0, CHECK_BYTES);
  if (!check.every((b, i) => b === bytes[body.length + i])) throw bad('This invitation is damaged (its checksum does not match): ask for a new one.');
  if (bytes[0] !== VERSION) throw bad(`This invitation was made by a newer Fazt (version ${bytes[0]}): update this node.`);
  if ((bytes[1]! & ~FLAG_OFFER) !== 0) throw bad('This invitation uses features of a newer Fazt: update this node.');
  if (bytes.length > MAX_INVITATION_BYTES) throw bad(`This invitation is ${bytes.length} bytes (at most ${MAX_INVITATION_BYTES}).`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 2;
  const secret = bytes.slice(o, o + INVITE_SECRET_BYTES);
  o += INVITE_SECRET_BYTES;
  const expiresAt = view.getUint32(o) * 1000;
  o += 4;
  const inviterId = nodeIdFromBytes(bytes.slice(o, o + NODE_ID_BYTES));
  o += NODE_ID_BYTES;
  const n = bytes[o++]!;
  if (n > MAX_INVITE_ADDRESSES) throw bad(`This invitation lists ${n} addresses (at most ${MAX_INVITE_ADDRESSES}).`);
  const addresses: InviteAddress[] = [];
  for (let i = 0; i < n; i++) {
    const family = bytes[o++];
    const len = family === 4 ? 4 : family === 6 ? 16 : -1;
    if (len < 0 || o + len + 2 > body.length) throw bad('This invitation has a malformed address.');
    const ip = bytes.subarray(o, o + len);
    o += len;
    const port = view.getUint16(o);
    o += 2;
    if (port === 0) throw bad('This invitation has an address with port 0.');
    addresses.push({ host: family === 4 ? Array.from(ip).join('.') : ipv6Text(ip), port });
  }
  let offer: CompactSession | undefined;
  if (bytes[1]! & FLAG_OFFER) {
    const d = decodeSession(body, o);
    if (d.session.setup !== 'actpass') throw bad("This invitation's connection offer has the wrong DTLS role.");
    offer = d.session;
    o = d.end;
  }
  if (o !== body.length) throw bad('This invitation has trailing bytes.');
  return offer ? { secret, expiresAt, inviterId, addresses, offer } : { secret, expiresAt, inviterId, addresses };
}

/** The invitation as one string: `FZ1` + upper-case base32 (see the module notes). */
export function invitationToCode(inv: Invitation): string {
  return CODE_PREFIX + base32nopad.encode(encodeInvitation(inv));
}

/**
 * Reads a code (case, spaces, dashes and line breaks are ignored, so it survives being typed).
 * @throws FaztError `INVALID_INVITATION`: not a Fazt code, not base32, or what {@link decodeInvitation} says.
 */
export function invitationFromCode(code: string): Invitation {
  const s = String(code).replace(/[\s-]+/g, '').toUpperCase();
  if (!s.startsWith(CODE_PREFIX)) throw bad(`This is not a Fazt invitation (a code starts with ${CODE_PREFIX}).`);
  let bytes: Uint8Array;
  try {
    bytes = base32nopad.decode(s.slice(CODE_PREFIX.length));
  } catch {
    throw bad('This invitation code has characters that do not belong in it (only A–Z and 2–7 after FZ1): check it.');
  }
  return decodeInvitation(bytes);
}

/**
 * The invitation as 12 BIP-39 English words: the secret, the first IPv4 address and its port
 * (`0.0.0.0:0` when there is none: the joiner then names the inviter's URL itself).
 * @throws FaztError `INVALID_ARGUMENT` when the secret is not 10 bytes.
 */
export function invitationToWords(inv: Invitation): string[] {
  if (inv.secret.length !== INVITE_SECRET_BYTES) throw new FaztError('INVALID_ARGUMENT', `An invitation secret is ${INVITE_SECRET_BYTES} bytes.`);
  const entropy = new Uint8Array(16);
  entropy.set(inv.secret);
  const v4 = inv.addresses.map((a) => ({ ip: ipv4Bytes(a.host), port: a.port })).find((a) => a.ip);
  if (v4) {
    entropy.set(v4.ip!, INVITE_SECRET_BYTES);
    entropy[14] = v4.port >> 8;
    entropy[15] = v4.port & 0xff;
  }
  return entropyToMnemonic(entropy, wordlist).split(' ');
}

/** Levenshtein distance, for suggesting the word that was meant. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

/** Up to three list words closest to `typed`. */
export function suggestWords(typed: string): string[] {
  return wordlist
    .map((w) => ({ w, d: distance(typed, w) }))
    .filter((x) => x.d <= 2)
    .sort((a, b) => a.d - b.d || a.w.localeCompare(b.w))
    .slice(0, 3)
    .map((x) => x.w);
}

/**
 * Reads 12 typed words. As BIP-39 allows, a word may be shortened to its first four letters (unique
 * in the list); case, extra spaces, commas and numbering (`1. apple`) are ignored.
 * @throws FaztError `INVALID_INVITATION` naming the first word not in the list (with its position and
 *   the closest list words), a wrong count, or a checksum that fails (one word is wrong).
 */
export function invitationFromWords(input: string | string[]): Invitation {
  const raw = Array.isArray(input) ? input.join(' ') : String(input);
  const typed = raw
    .toLowerCase()
    .replace(/\d+[.)]/g, ' ')
    .split(/[\s,;]+/)
    .filter(Boolean);
  if (typed.length !== WORD_COUNT) throw bad(`An invitation is ${WORD_COUNT} words; ${typed.length === 1 ? 'one was' : `${typed.length} were`} given.`);
  const words = typed.map((t, i) => {
    if (wordlist.includes(t)) return t;
    const byPrefix = t.length >= 4 ? wordlist.filter((w) => w.startsWith(t.slice(0, 4)) && w.startsWith(t)) : [];
    if (byPrefix.length === 1) return byPrefix[0]!;
    const near = suggestWords(t);
    throw bad(`Word ${i + 1}, “${t}”, is not one of the invitation words.${near.length ? ` Did you mean ${near.map((w) => `“${w}”`).join(' or ')}?` : ''}`);
  });
  let entropy: Uint8Array;
  try {
    entropy = mnemonicToEntropy(words.join(' '), wordlist);
  } catch {
    throw bad('These words do not check out: one of them is wrong (every word is in the list, but the checksum fails). Compare them again, word by word.');
  }
  const secret = entropy.slice(0, INVITE_SECRET_BYTES);
  const ip = entropy.subarray(INVITE_SECRET_BYTES, INVITE_SECRET_BYTES + 4);
  const port = (entropy[14]! << 8) | entropy[15]!;
  const addresses = port === 0 || ip.every((b) => b === 0) ? [] : [{ host: Array.from(ip).join('.'), port }];
  return { secret, addresses };
}

/**
 * Reads an invitation in whichever carrier form the person pasted: a code (`FZ1…`) or words.
 * @throws FaztError `INVALID_INVITATION` from the matching reader.
 */
export function parseInvitation(input: string): Invitation {
  const s = String(input).trim();
  if (/^fza/i.test(s.replace(/[\s-]+/g, ''))) throw bad(`This is an answer code (${ANSWER_PREFIX}…), not an invitation: give it to the inviting node (fazt mesh accept ${ANSWER_PREFIX}…).`);
  if (/^fz1/i.test(s.replace(/[\s-]+/g, ''))) return invitationFromCode(s);
  if (/^[a-z0-9.,;)\s-]+$/i.test(s) && /[a-z]{3}/i.test(s) && s.split(/[\s,;]+/).filter(Boolean).length > 1) return invitationFromWords(s);
  throw bad(`This is neither an invitation code (it starts with ${CODE_PREFIX}) nor ${WORD_COUNT} invitation words.`);
}

/**
 * The joiner's answer to a direct invitation (docs/mesh.md "Pairing with no reachable server"): what
 * the inviter needs to complete the WebRTC connection, bound to the invitation by a tag only a holder
 * of its secret can make. Binary form (at most {@link MAX_INVITATION_BYTES}):
 *
 * | bytes | field |
 * |---|---|
 * | 1 | version (1) |
 * | 6 | which invitation: the first 6 bytes of its locator (pairing.ts `locatorOf`) |
 * | 10 | the joiner's node id: the node that connects must hold the key behind it |
 * | 8 | tag: HMAC-SHA256(secret, T("fazt/pair/v1/answer", locator, joiner id, session))[0..8] |
 * | n | the joiner's WebRTC answer in compact form (compact-sdp.ts) |
 * | 4 | checksum: the first 4 bytes of the SHA-256 of everything before |
 *
 * As a string: `FZA` + upper-case base32 (case, spaces and dashes ignored when typed).
 */
export interface Answer {
  /** The first 6 bytes of the invitation's locator. */
  ref: Uint8Array;
  /** The joiner's node id. */
  joinerId: string;
  /** 8 bytes (see above). */
  tag: Uint8Array;
  /** The joiner's answer (DTLS role active or passive). */
  session: CompactSession;
}

/** Bytes of an answer's invitation reference. */
export const ANSWER_REF_BYTES = 6;
/** Bytes of an answer's tag. */
export const ANSWER_TAG_BYTES = 8;

/**
 * Encodes an answer as its code (`FZA…`).
 * @throws FaztError `INVALID_ARGUMENT` for a reference, id or tag of the wrong length, an answer whose
 *   DTLS role is actpass, or more than {@link MAX_INVITATION_BYTES} (fit the candidates first).
 */
export function encodeAnswer(a: Answer): string {
  const id = base32nopad.decode(a.joinerId.toUpperCase());
  if (a.ref.length !== ANSWER_REF_BYTES || a.tag.length !== ANSWER_TAG_BYTES || id.length !== NODE_ID_BYTES) throw new FaztError('INVALID_ARGUMENT', 'An answer needs a 6-byte reference, a node id and an 8-byte tag.');
  if (a.session.setup === 'actpass') throw new FaztError('INVALID_ARGUMENT', "An answer's DTLS role is active or passive.");
  const session = encodeSession(a.session);
  const bodyLen = 1 + ANSWER_REF_BYTES + NODE_ID_BYTES + ANSWER_TAG_BYTES + session.length;
  if (bodyLen + CHECK_BYTES > MAX_INVITATION_BYTES) throw new FaztError('INVALID_ARGUMENT', `This answer would be ${bodyLen + CHECK_BYTES} bytes (at most ${MAX_INVITATION_BYTES}): carry fewer candidates.`);
  const out = new Uint8Array(bodyLen + CHECK_BYTES);
  out[0] = VERSION;
  out.set(a.ref, 1);
  out.set(id, 1 + ANSWER_REF_BYTES);
  out.set(a.tag, 1 + ANSWER_REF_BYTES + NODE_ID_BYTES);
  out.set(session, 1 + ANSWER_REF_BYTES + NODE_ID_BYTES + ANSWER_TAG_BYTES);
  out.set(sha256(out.subarray(0, bodyLen)).subarray(0, CHECK_BYTES), bodyLen);
  return ANSWER_PREFIX + base32nopad.encode(out);
}

/**
 * Reads an answer code. Checks its form only; the tag is checked by the inviter, which holds the secret.
 * @throws FaztError `INVALID_INVITATION`: not an answer code, damaged (checksum), from a newer Fazt,
 *   or a malformed connection answer.
 */
export function decodeAnswer(code: string): Answer {
  const s = String(code).replace(/[\s-]+/g, '').toUpperCase();
  if (s.startsWith(CODE_PREFIX)) throw bad(`This is an invitation (${CODE_PREFIX}…), not an answer: the other device joins with it and gives back an answer (${ANSWER_PREFIX}…).`);
  if (!s.startsWith(ANSWER_PREFIX)) throw bad(`This is not a Fazt answer (an answer code starts with ${ANSWER_PREFIX}).`);
  let bytes: Uint8Array;
  try {
    bytes = base32nopad.decode(s.slice(ANSWER_PREFIX.length));
  } catch {
    throw bad(`This answer code has characters that do not belong in it (only A–Z and 2–7 after ${ANSWER_PREFIX}): check it.`);
  }
  const head = 1 + ANSWER_REF_BYTES + NODE_ID_BYTES + ANSWER_TAG_BYTES;
  if (bytes.length < head + CHECK_BYTES + 1) throw bad('This answer code is too short.');
  const body = bytes.subarray(0, bytes.length - CHECK_BYTES);
  if (!sha256(body).subarray(0, CHECK_BYTES).every((b, i) => b === bytes[body.length + i])) throw bad('This answer code is damaged (its checksum does not match): copy it again.');
  if (bytes[0] !== VERSION) throw bad(`This answer was made by a newer Fazt (version ${bytes[0]}): update this node.`);
  const { session, end } = decodeSession(body, head);
  if (end !== body.length) throw bad('This answer code has trailing bytes.');
  if (session.setup === 'actpass') throw bad("This answer's connection answer has the wrong DTLS role.");
  return {
    ref: bytes.slice(1, 1 + ANSWER_REF_BYTES),
    joinerId: nodeIdFromBytes(bytes.slice(1 + ANSWER_REF_BYTES, 1 + ANSWER_REF_BYTES + NODE_ID_BYTES)),
    tag: bytes.slice(1 + ANSWER_REF_BYTES + NODE_ID_BYTES, head),
    session,
  };
}
