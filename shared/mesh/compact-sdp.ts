import { FaztError } from '../errors.js';

/**
 * A compact form of a WebRTC session description for a data-channel-only session (docs/mesh.md,
 * "Pairing with no reachable server"), so an offer or an answer fits a QR code or one ggwave message
 * (≤ 140 bytes) together with the rest of an invitation.
 *
 * What a data-channel-only session needs from the other side, and nothing else:
 * - the ICE username fragment and password (RFC 8839 §5.4: `ice-char` = ALPHA / DIGIT / "+" / "/",
 *   so 6 bits a character);
 * - the DTLS certificate fingerprint (RFC 8122 §5; SHA-256 only: 32 bytes);
 * - the DTLS role (`a=setup`, RFC 8842 §5: `actpass` in offers, `active` or `passive` in answers);
 * - the media id (`a=mid`, RFC 9143), almost always `0`;
 * - the UDP candidates (address and port; RFC 8839 §5.1), rebuilt as host candidates. Chromium's
 *   mDNS host names (`<uuid>.local`, draft-ietf-mmusic-mdns-ice-candidates) are kept as their 16 bytes.
 *
 * The rest is the same for every peer Fazt talks to (libdatachannel, Chromium, Firefox):
 * `m=application 9 UDP/DTLS/SCTP webrtc-datachannel`, `a=sctp-port:5000` (RFC 8841 §5), and
 * `a=max-message-size:262144`.
 *
 * The binary form (big-endian):
 *
 * | bytes | field |
 * |---|---|
 * | 1 | head: bits 0–1 setup (0 actpass, 1 active, 2 passive), bit 2 a mid other than "0" follows; others 0 |
 * | 1 + ⌈6n/8⌉ | ICE ufrag: n characters (4–16), 6 bits each (index in the base64 alphabet) |
 * | 1 + ⌈6n/8⌉ | ICE pwd: n characters (22–32), 6 bits each |
 * | 32 | DTLS fingerprint, SHA-256 |
 * | (1 + n) | mid, n ASCII characters (1–16), only when head bit 2 is set |
 * | 1 | number of candidates, 1–8 |
 * | 7, 19 or 19 each | kind (4 IPv4, 6 IPv6, 16 mDNS name), address (4, 16 or 16 bytes), UDP port (2) |
 *
 * A libdatachannel offer with one IPv4 and one IPv6 candidate is 82 bytes; with one IPv4 candidate, 63.
 */

/** The DTLS role of a session description (RFC 8842). */
export type DtlsSetup = 'actpass' | 'active' | 'passive';

/** One ICE candidate as carried: a UDP transport address. */
export interface CompactCandidate {
  /** Dotted IPv4, IPv6 (no brackets, no zone), or an mDNS name `<uuid>.local`. */
  address: string;
  /** UDP port, 1–65535. */
  port: number;
}

/** What a data-channel-only session description holds that matters (see the module notes). */
export interface CompactSession {
  setup: DtlsSetup;
  /** ICE username fragment, 4–16 `ice-char`s. */
  ufrag: string;
  /** ICE password, 22–32 `ice-char`s. */
  pwd: string;
  /** SHA-256 fingerprint of the DTLS certificate, 32 bytes. */
  fingerprint: Uint8Array;
  /** The data channel's media id (`0` in practice). */
  mid: string;
  /** The UDP candidates, best first, 1–8. */
  candidates: CompactCandidate[];
}

/** Bounds of the carried fields (tighter than RFC 8839's 256, so an invitation with an offer fits 140 bytes). */
export const COMPACT_LIMITS = { ufrag: [4, 16], pwd: [22, 32], mid: 16, candidates: 8 } as const;
/** The SCTP port both sides use (RFC 8841; what libdatachannel and browsers use). */
export const SCTP_PORT = 5000;
/** The largest message a peer accepts, as announced (RFC 8841 §6). */
export const MAX_MESSAGE_SIZE = 262144;

const ICE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const SETUPS: DtlsSetup[] = ['actpass', 'active', 'passive'];
const FINGERPRINT_BYTES = 32;
const UUID_LOCAL = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\.local$/i;

/** The error for bytes that are not a compact session; `detail` says what is wrong. */
function bad(detail: string): FaztError {
  return new FaztError('INVALID_INVITATION', `The connection offer or answer it carries is malformed: ${detail}`);
}

/** The error for a session description that cannot be compacted. */
function unsupported(detail: string): FaztError {
  return new FaztError('INVALID_ARGUMENT', `This WebRTC session description cannot be carried in a code: ${detail}`);
}

function ipv4Bytes(s: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  return b.every((x) => x <= 255) ? Uint8Array.from(b) : undefined;
}

function ipv6Bytes(s: string): Uint8Array | undefined {
  if (!/^[0-9a-f:]+$/i.test(s) || !s.includes(':')) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const groups = [...head, ...Array<string>(fill).fill('0'), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

function ipv6Text(b: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((b[i * 2]! << 8) | b[i * 2 + 1]!).toString(16));
  // the longest run (≥ 2) of zero groups becomes "::" (RFC 5952 §4.2)
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** A candidate's kind byte and address bytes. @throws FaztError `INVALID_ARGUMENT` for another address. */
function addressBytes(address: string): [number, Uint8Array] {
  const v4 = ipv4Bytes(address);
  if (v4) return [4, v4];
  const v6 = ipv6Bytes(address);
  if (v6) return [6, v6];
  const m = UUID_LOCAL.exec(address);
  if (m) {
    const h = m.slice(1).join('');
    return [16, Uint8Array.from({ length: 16 }, (_, i) => parseInt(h.slice(i * 2, i * 2 + 2), 16))];
  }
  throw unsupported(`candidate address "${address}" is neither an IP address nor an mDNS name <uuid>.local.`);
}

function addressText(kind: number, b: Uint8Array): string {
  if (kind === 4) return Array.from(b).join('.');
  if (kind === 6) return ipv6Text(b);
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}.local`;
}

function packChars(s: string): Uint8Array {
  const out = new Uint8Array(1 + Math.ceil((s.length * 6) / 8));
  out[0] = s.length;
  let acc = 0;
  let bits = 0;
  let o = 1;
  for (const ch of s) {
    acc = (acc << 6) | ICE_CHARS.indexOf(ch);
    bits += 6;
    while (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out[o] = (acc << (8 - bits)) & 0xff;
  return out;
}

/** A cursor over the binary form that throws `INVALID_INVITATION` when it runs out. */
class Reader {
  constructor(
    private readonly b: Uint8Array,
    public o: number,
  ) {}
  byte(what: string): number {
    if (this.o >= this.b.length) throw bad(`it ends before its ${what}.`);
    return this.b[this.o++]!;
  }
  bytes(n: number, what: string): Uint8Array {
    if (this.o + n > this.b.length) throw bad(`it ends inside its ${what}.`);
    const out = this.b.slice(this.o, this.o + n);
    this.o += n;
    return out;
  }
  chars(what: string, [min, max]: readonly [number, number]): string {
    const n = this.byte(what);
    if (n < min || n > max) throw bad(`its ${what} is ${n} characters (${min}–${max} allowed).`);
    const packed = this.bytes(Math.ceil((n * 6) / 8), what);
    let acc = 0;
    let bits = 0;
    let s = '';
    for (const byte of packed) {
      acc = (acc << 8) | byte;
      bits += 8;
      while (bits >= 6 && s.length < n) {
        bits -= 6;
        s += ICE_CHARS[(acc >> bits) & 63];
      }
      acc &= (1 << bits) - 1;
    }
    if (acc !== 0) throw bad(`its ${what} has stray bits.`);
    return s;
  }
}

function checkChars(s: string, what: string, [min, max]: readonly [number, number]): void {
  if (typeof s !== 'string' || s.length < min || s.length > max || ![...s].every((c) => ICE_CHARS.includes(c))) {
    throw unsupported(`the ICE ${what} must be ${min}–${max} characters of A–Z, a–z, 0–9, + and / (RFC 8839).`);
  }
}

/**
 * Encodes a session to its binary form.
 * @throws FaztError `INVALID_ARGUMENT` for fields outside {@link COMPACT_LIMITS}, a fingerprint that is
 *   not 32 bytes, an address that is not an IP or mDNS name, or a port outside 1–65535.
 */
export function encodeSession(s: CompactSession): Uint8Array {
  const setup = SETUPS.indexOf(s.setup);
  if (setup < 0) throw unsupported(`DTLS setup "${String(s.setup)}" is not actpass, active or passive.`);
  checkChars(s.ufrag, 'ufrag', COMPACT_LIMITS.ufrag);
  checkChars(s.pwd, 'password', COMPACT_LIMITS.pwd);
  if (!(s.fingerprint instanceof Uint8Array) || s.fingerprint.length !== FINGERPRINT_BYTES) throw unsupported('the DTLS fingerprint must be a SHA-256 one (32 bytes).');
  if (typeof s.mid !== 'string' || !/^[\x21-\x7e]{1,16}$/.test(s.mid)) throw unsupported('the media id must be 1–16 printable ASCII characters.');
  if (!Array.isArray(s.candidates) || s.candidates.length < 1 || s.candidates.length > COMPACT_LIMITS.candidates) {
    throw unsupported(`it needs 1–${COMPACT_LIMITS.candidates} UDP candidates (it has ${s.candidates?.length ?? 0}).`);
  }
  const parts: Uint8Array[] = [Uint8Array.of(setup | (s.mid !== '0' ? 4 : 0)), packChars(s.ufrag), packChars(s.pwd), s.fingerprint];
  if (s.mid !== '0') parts.push(Uint8Array.of(s.mid.length, ...Array.from(s.mid, (c) => c.charCodeAt(0))));
  parts.push(Uint8Array.of(s.candidates.length));
  for (const c of s.candidates) {
    if (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535) throw unsupported(`candidate port ${c.port} is not 1–65535.`);
    const [kind, addr] = addressBytes(c.address);
    parts.push(Uint8Array.of(kind, ...addr, c.port >> 8, c.port & 0xff));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Decodes a session from `bytes` starting at `offset`.
 * @returns the session and the offset just after it (the caller checks for trailing bytes).
 * @throws FaztError `INVALID_INVITATION` saying what is malformed (truncated, an unknown setup or
 *   candidate kind, a field out of bounds, stray bits, port 0).
 */
export function decodeSession(bytes: Uint8Array, offset = 0): { session: CompactSession; end: number } {
  const r = new Reader(bytes, offset);
  const head = r.byte('header');
  if (head & 0xf8 || (head & 3) === 3) throw bad('its header is unknown (made by a newer Fazt?).');
  const setup = SETUPS[head & 3]!;
  const ufrag = r.chars('ICE ufrag', COMPACT_LIMITS.ufrag);
  const pwd = r.chars('ICE password', COMPACT_LIMITS.pwd);
  const fingerprint = r.bytes(FINGERPRINT_BYTES, 'DTLS fingerprint');
  let mid = '0';
  if (head & 4) {
    const n = r.byte('media id');
    if (n < 1 || n > COMPACT_LIMITS.mid) throw bad(`its media id is ${n} characters (1–${COMPACT_LIMITS.mid}).`);
    const b = r.bytes(n, 'media id');
    if (!b.every((x) => x >= 0x21 && x <= 0x7e)) throw bad('its media id is not printable ASCII.');
    mid = String.fromCharCode(...b);
    if (mid === '0') throw bad('its media id is written out although it is the default.');
  }
  const count = r.byte('candidate count');
  if (count < 1 || count > COMPACT_LIMITS.candidates) throw bad(`it lists ${count} candidates (1–${COMPACT_LIMITS.candidates}).`);
  const candidates: CompactCandidate[] = [];
  for (let i = 0; i < count; i++) {
    const kind = r.byte('candidate');
    const len = kind === 4 ? 4 : kind === 6 || kind === 16 ? 16 : -1;
    if (len < 0) throw bad(`candidate ${i + 1} is of an unknown kind (${kind}).`);
    const addr = r.bytes(len, 'candidate address');
    const p = r.bytes(2, 'candidate port');
    const port = (p[0]! << 8) | p[1]!;
    if (port === 0) throw bad(`candidate ${i + 1} has port 0.`);
    candidates.push({ address: addressText(kind, addr), port });
  }
  return { session: { setup, ufrag, pwd, fingerprint, mid, candidates }, end: r.o };
}

/**
 * Reads what matters from a data-channel-only SDP offer or answer (RFC 8866 syntax; attributes at the
 * media level override the session level). UDP candidates are kept in order, at most 8, without
 * duplicates; TCP candidates, zone-scoped IPv6 and candidates of other components are left out.
 * @throws FaztError `INVALID_ARGUMENT` when it is not a data-channel-only session, lacks ICE
 *   credentials, a SHA-256 fingerprint, a DTLS role or a usable candidate, or holds values outside
 *   {@link COMPACT_LIMITS}.
 */
export function sessionFromSdp(sdp: string): CompactSession {
  if (typeof sdp !== 'string' || !sdp.startsWith('v=0')) throw unsupported('it is not an SDP document (it starts with v=0).');
  const lines = sdp.split(/\r?\n/).filter(Boolean);
  const sessionAttrs = new Map<string, string[]>();
  const mediaAttrs = new Map<string, string[]>();
  let media = 0;
  let app = false;
  for (const line of lines) {
    if (line.startsWith('m=')) {
      media++;
      app = /^m=application \d+ UDP\/DTLS\/SCTP webrtc-datachannel$/.test(line.trim());
      if (!app) throw unsupported(`only a data channel can be carried, not "${line.slice(0, 60)}".`);
      continue;
    }
    if (!line.startsWith('a=')) continue;
    const i = line.indexOf(':');
    const key = i < 0 ? line.slice(2) : line.slice(2, i);
    const value = i < 0 ? '' : line.slice(i + 1).trim();
    const target = media ? mediaAttrs : sessionAttrs;
    target.set(key, [...(target.get(key) ?? []), value]);
  }
  if (media !== 1) throw unsupported(`it must have exactly one data-channel media section (it has ${media}).`);
  const attr = (k: string) => mediaAttrs.get(k)?.[0] ?? sessionAttrs.get(k)?.[0];
  const ufrag = attr('ice-ufrag');
  const pwd = attr('ice-pwd');
  if (!ufrag || !pwd) throw unsupported('it has no ICE ufrag or password.');
  const fp = [...(mediaAttrs.get('fingerprint') ?? []), ...(sessionAttrs.get('fingerprint') ?? [])].map((v) => /^sha-256 ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})$/i.exec(v)).find(Boolean);
  if (!fp) throw unsupported('it has no SHA-256 DTLS fingerprint.');
  const fingerprint = Uint8Array.from(fp[1]!.split(':'), (h) => parseInt(h, 16));
  const setup = attr('setup') as DtlsSetup | undefined;
  if (!setup || !SETUPS.includes(setup)) throw unsupported(`its DTLS setup is "${setup ?? 'missing'}".`);
  const mid = attr('mid') ?? '0';
  const candidates: CompactCandidate[] = [];
  for (const c of mediaAttrs.get('candidate') ?? []) {
    // foundation component transport priority address port "typ" type …  (RFC 8839 §5.1)
    const f = c.split(/\s+/);
    if (f.length < 8 || f[1] !== '1' || f[2]!.toLowerCase() !== 'udp' || f[6] !== 'typ') continue;
    const address = f[4]!;
    const port = Number(f[5]);
    if (address.includes('%') || !Number.isInteger(port) || port < 1 || port > 65535) continue;
    try {
      addressBytes(address);
    } catch {
      continue;
    }
    if (candidates.some((x) => x.address === address && x.port === port)) continue;
    if (candidates.length < COMPACT_LIMITS.candidates) candidates.push({ address, port });
  }
  if (!candidates.length) throw unsupported('it has no UDP candidate with an IP address or mDNS name (wait until ICE gathering completes).');
  const session: CompactSession = { setup, ufrag, pwd, fingerprint, mid, candidates };
  encodeSession(session); // checks the bounds
  return session;
}

/**
 * Rebuilds a full SDP offer or answer (RFC 8866, RFC 8841 for the data channel) that libdatachannel
 * and Chromium accept.
 * @param type `offer` (its setup must be `actpass`) or `answer` (`active` or `passive`).
 * @param options.candidates include the candidates (default true). An answering libdatachannel agent
 *   given an offer with candidates starts its checks at once, before the offerer has its answer, and
 *   gives up 39.5 s later (RFC 8863's timer); given none, it waits for the offerer's checks and learns
 *   the offerer's address from them (peer-reflexive candidates, RFC 8445 §7.3.1.3).
 * @throws FaztError `INVALID_ARGUMENT` for fields out of bounds (see {@link encodeSession});
 *   `INVALID_INVITATION` for a DTLS role that does not fit `type`.
 */
export function sessionToSdp(s: CompactSession, type: 'offer' | 'answer', options: { candidates?: boolean } = {}): string {
  encodeSession(s); // validates
  if ((type === 'offer') !== (s.setup === 'actpass')) {
    throw bad(type === 'offer' ? `an offer's DTLS role is actpass, not ${s.setup}.` : "an answer's DTLS role is active or passive, not actpass.");
  }
  const sessionId = BigInt('0x' + hex(s.fingerprint.subarray(0, 7))).toString();
  const lines = [
    'v=0',
    `o=- ${sessionId} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    `a=group:BUNDLE ${s.mid}`,
    'a=msid-semantic:WMS *',
    'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 0.0.0.0',
    `a=mid:${s.mid}`,
    `a=ice-ufrag:${s.ufrag}`,
    `a=ice-pwd:${s.pwd}`,
    'a=ice-options:trickle',
    `a=fingerprint:sha-256 ${Array.from(s.fingerprint, (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':')}`,
    `a=setup:${s.setup}`,
    `a=sctp-port:${SCTP_PORT}`,
    `a=max-message-size:${MAX_MESSAGE_SIZE}`,
  ];
  if (options.candidates ?? true) {
    s.candidates.forEach((c, i) => {
      // host type preference 126, local preference by order, component 1 (RFC 8445 §5.1.2.1)
      const priority = (126 << 24) + ((65535 - i) << 8) + 255;
      lines.push(`a=candidate:${i + 1} 1 udp ${priority} ${c.address} ${c.port} typ host`);
    });
    lines.push('a=end-of-candidates');
  }
  return lines.join('\r\n') + '\r\n';
}
