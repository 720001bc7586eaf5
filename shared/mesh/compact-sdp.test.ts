/**
 * The compact session description codec (docs/mesh.md "Pairing with no reachable server"): real
 * offers and answers in libdatachannel's and Chromium's forms compact to a few dozen bytes and come
 * back whole; any byte string either decodes or is a clear INVALID_INVITATION; SDPs that cannot be
 * carried are a clear INVALID_ARGUMENT. (node/compact-sdp.test.ts connects real peers through it.)
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FaztError } from '../errors.js';
import { COMPACT_LIMITS, decodeSession, encodeSession, sessionFromSdp, sessionToSdp, type CompactSession } from './compact-sdp.js';

function faztError(fn: () => unknown, code: string, message?: RegExp): FaztError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FaztError);
    expect((e as FaztError).code).toBe(code);
    if (message) expect((e as FaztError).message).toMatch(message);
    return e as FaztError;
  }
  throw new Error('expected a FaztError');
}

/** An offer as node-datachannel 0.33 (libdatachannel) wrote it on this machine. */
const LIBDATACHANNEL_OFFER = [
  'v=0',
  'o=rtc 1775611408 0 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=msid-semantic:WMS *',
  'a=ice-options:ice2,trickle',
  'a=fingerprint:sha-256 A4:F8:6F:54:AA:A8:08:B5:E6:CA:D4:43:76:15:84:FD:20:3D:8C:0B:B2:71:E7:E4:B1:A2:57:34:C5:15:80:44',
  'm=application 40363 UDP/DTLS/SCTP webrtc-datachannel',
  'c=IN IP4 192.0.2.2',
  'a=mid:0',
  'a=sendrecv',
  'a=sctp-port:5000',
  'a=max-message-size:262144',
  'a=setup:actpass',
  'a=ice-ufrag:EYpw',
  'a=ice-pwd:y78oy6LHUjMHzz1ZhJo44X',
  'a=candidate:2 1 UDP 2116026111 fd00::2 40363 typ host',
  'a=candidate:1 1 UDP 2114977791 192.0.2.2 40363 typ host',
  'a=end-of-candidates',
  '',
].join('\r\n');

/** An answer in Chromium's form: an mDNS host name, a TCP candidate, attributes at the media level. */
const CHROMIUM_ANSWER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'c=IN IP4 0.0.0.0',
  'a=candidate:1467250027 1 udp 2122260223 2dfa9c0e-7f4b-4a59-a7a1-3c8e1c1f5a6b.local 54321 typ host generation 0 network-id 1',
  'a=candidate:2 1 tcp 1518280447 192.168.1.20 9 typ host tcptype active generation 0 network-id 1',
  'a=candidate:3 1 udp 2122194687 192.168.1.20 54322 typ host generation 0 network-id 2',
  'a=candidate:4 1 udp 2122194687 fe80::1%eth0 54323 typ host generation 0 network-id 3',
  'a=ice-ufrag:Xk3q',
  'a=ice-pwd:ab12cd34ef56gh78ij90kl+/',
  'a=ice-options:trickle',
  'a=fingerprint:sha-256 2F:9A:C2:C7:17:66:91:FB:C0:2F:32:C8:80:27:8F:FB:35:D0:35:88:0E:F6:8F:99:C6:93:9E:2F:3E:68:B5:8F',
  'a=setup:active',
  'a=mid:0',
  'a=sctp-port:5000',
  'a=max-message-size:262144',
  '',
].join('\r\n');

describe('real session descriptions', () => {
  it("libdatachannel's offer: 82 bytes, and the rebuilt SDP carries the same ICE, DTLS and candidates", () => {
    const s = sessionFromSdp(LIBDATACHANNEL_OFFER);
    expect(s).toMatchObject({
      setup: 'actpass',
      ufrag: 'EYpw',
      pwd: 'y78oy6LHUjMHzz1ZhJo44X',
      mid: '0',
      candidates: [
        { address: 'fd00::2', port: 40363 },
        { address: '192.0.2.2', port: 40363 },
      ],
    });
    const bytes = encodeSession(s);
    expect(bytes.length).toBe(82);
    const back = decodeSession(bytes);
    expect(back.end).toBe(82);
    expect(back.session).toEqual(s);
    const sdp = sessionToSdp(back.session, 'offer');
    expect(sdp).toContain('a=fingerprint:sha-256 A4:F8:6F:54:AA:A8:08:B5:E6:CA:D4:43:76:15:84:FD:20:3D:8C:0B:B2:71:E7:E4:B1:A2:57:34:C5:15:80:44\r\n');
    expect(sdp).toContain('a=ice-ufrag:EYpw\r\n');
    expect(sdp).toContain('a=ice-pwd:y78oy6LHUjMHzz1ZhJo44X\r\n');
    expect(sdp).toContain('a=setup:actpass\r\n');
    expect(sdp).toMatch(/a=candidate:1 1 udp \d+ fd00::2 40363 typ host\r\na=candidate:2 1 udp \d+ 192\.0\.2\.2 40363 typ host\r\n/);
    expect(sessionFromSdp(sdp)).toEqual(s);
    expect(sessionToSdp(s, 'offer', { candidates: false })).not.toContain('a=candidate');
  });

  it("Chromium's answer: the mDNS name is kept as 16 bytes, TCP and zone-scoped candidates are left out", () => {
    const s = sessionFromSdp(CHROMIUM_ANSWER);
    expect(s.setup).toBe('active');
    expect(s.pwd).toBe('ab12cd34ef56gh78ij90kl+/');
    expect(s.candidates).toEqual([
      { address: '2dfa9c0e-7f4b-4a59-a7a1-3c8e1c1f5a6b.local', port: 54321 },
      { address: '192.168.1.20', port: 54322 },
    ]);
    const bytes = encodeSession(s);
    expect(bytes.length).toBe(1 + 4 + 19 + 32 + 1 + 19 + 7);
    expect(decodeSession(bytes).session).toEqual(s);
    expect(sessionFromSdp(sessionToSdp(s, 'answer'))).toEqual(s);
  });

  it('a DTLS role that does not fit the description type is refused', () => {
    const offer = sessionFromSdp(LIBDATACHANNEL_OFFER);
    faztError(() => sessionToSdp(offer, 'answer'), 'INVALID_INVITATION', /actpass/);
    faztError(() => sessionToSdp({ ...offer, setup: 'active' }, 'offer'), 'INVALID_INVITATION', /actpass/);
  });
});

describe('SDPs that cannot be carried: INVALID_ARGUMENT naming why', () => {
  const cases: [string, (s: string) => string, RegExp][] = [
    ['not SDP', () => 'hello', /not an SDP/],
    ['an audio section', (s) => s.replace('m=application 40363 UDP/DTLS/SCTP webrtc-datachannel', 'm=audio 9 UDP/TLS/RTP/SAVPF 111'), /only a data channel/],
    ['no fingerprint', (s) => s.replace(/a=fingerprint.*\r\n/, ''), /SHA-256 DTLS fingerprint/],
    ['a SHA-1 fingerprint', (s) => s.replace(/a=fingerprint:sha-256 (\S+)/, (_, h: string) => `a=fingerprint:sha-1 ${h.slice(0, 59)}`), /SHA-256/],
    ['no ICE password', (s) => s.replace(/a=ice-pwd.*\r\n/, ''), /ICE ufrag or password/],
    ['no candidates yet', (s) => s.replace(/a=candidate.*\r\n/g, ''), /no UDP candidate/],
    ['no DTLS role', (s) => s.replace(/a=setup.*\r\n/, ''), /setup/],
    ['a 17-character ufrag', (s) => s.replace('ice-ufrag:EYpw', 'ice-ufrag:EYpwEYpwEYpwEYpwE'), /ufrag/],
    ['a password with a character outside ice-char', (s) => s.replace('ice-pwd:y78oy6', 'ice-pwd:y78oy-'), /password/],
  ];
  for (const [name, change, message] of cases) {
    it(name, () => {
      faztError(() => sessionFromSdp(change(LIBDATACHANNEL_OFFER)), 'INVALID_ARGUMENT', message);
    });
  }
});

const iceChars = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'), minLength: min, maxLength: max });
const candidate = fc.oneof(
  fc.record({ address: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) }),
  fc.record({
    address: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':')),
    port: fc.integer({ min: 1, max: 65535 }),
  }),
  fc.record({ address: fc.uuid().map((u) => `${u}.local`), port: fc.integer({ min: 1, max: 65535 }) }),
);
const session: fc.Arbitrary<CompactSession> = fc.record({
  setup: fc.constantFrom('actpass' as const, 'active' as const, 'passive' as const),
  ufrag: iceChars(...COMPACT_LIMITS.ufrag),
  pwd: iceChars(...COMPACT_LIMITS.pwd),
  fingerprint: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  mid: fc.oneof(fc.constant('0'), fc.stringMatching(/^[a-z0-9_]{1,16}$/)),
  candidates: fc.array(candidate, { minLength: 1, maxLength: COMPACT_LIMITS.candidates }),
});

describe('properties', () => {
  it('encode → decode → encode gives the same bytes, and the fields come back', () => {
    fc.assert(
      fc.property(session, (s) => {
        const bytes = encodeSession(s);
        const { session: back, end } = decodeSession(bytes);
        expect(end).toBe(bytes.length);
        expect(encodeSession(back)).toEqual(bytes);
        expect({ ...back, candidates: back.candidates.map((c) => c.port) }).toEqual({ ...s, candidates: s.candidates.map((c) => c.port) });
        // IPv4 and mDNS names come back as they were written; IPv6 in its canonical (RFC 5952) form
        s.candidates.forEach((c, i) => {
          if (!c.address.includes(':')) expect(back.candidates[i]!.address.toLowerCase()).toBe(c.address.toLowerCase());
        });
      }),
      { numRuns: 300 },
    );
  });

  it('SDP → compact → SDP → compact is stable', () => {
    fc.assert(
      fc.property(session, (s) => {
        const type = s.setup === 'actpass' ? 'offer' : 'answer';
        const once = sessionFromSdp(sessionToSdp(s, type));
        expect(encodeSession(once)).toEqual(encodeSession(s));
        expect(sessionToSdp(once, type)).toBe(sessionToSdp(s, type));
      }),
      { numRuns: 200 },
    );
  });

  it('any bytes either decode or are INVALID_INVITATION; every truncation of a valid one is INVALID_INVITATION', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        try {
          const { session: s } = decodeSession(b);
          encodeSession(s); // what decodes is within bounds
        } catch (e) {
          expect(e).toBeInstanceOf(FaztError);
          expect((e as FaztError).code).toBe('INVALID_INVITATION');
        }
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(session, fc.nat(), (s, cut) => {
        const bytes = encodeSession(s);
        faztError(() => decodeSession(bytes.subarray(0, cut % bytes.length)), 'INVALID_INVITATION');
      }),
      { numRuns: 300 },
    );
  });

  it('specific damage is named', () => {
    const bytes = encodeSession(sessionFromSdp(LIBDATACHANNEL_OFFER));
    const with_ = (i: number, v: number) => Uint8Array.from(bytes, (x, j) => (j === i ? v : x));
    faztError(() => decodeSession(with_(0, 0x80)), 'INVALID_INVITATION', /header is unknown/);
    faztError(() => decodeSession(with_(0, 3)), 'INVALID_INVITATION', /header is unknown/);
    faztError(() => decodeSession(with_(1, 2)), 'INVALID_INVITATION', /ufrag is 2 characters/);
    faztError(() => decodeSession(with_(bytes.length - 27, 0)), 'INVALID_INVITATION', /candidates \(1–8\)|0 candidates/);
    faztError(() => decodeSession(with_(bytes.length - 26, 5)), 'INVALID_INVITATION', /unknown kind/);
    faztError(() => decodeSession(Uint8Array.from([...bytes.subarray(0, -2), 0, 0])), 'INVALID_INVITATION', /port 0/);
  });
});
