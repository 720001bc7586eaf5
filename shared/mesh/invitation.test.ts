/**
 * Invitation carriers (docs/mesh.md "Invitations"): the binary form, the code and the words round
 * trip; damaged, foreign and mistyped input gets a clear INVALID_INVITATION naming what is wrong.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { FaztError } from '../errors.js';
import { COMPACT_LIMITS, type CompactSession } from './compact-sdp.js';
import { answerChirpPayload, answerFromChirp, chirpMessageText } from './chirp.js';
import {
  CODE_PREFIX,
  decodeAnswer,
  decodeInvitation,
  encodeAnswer,
  fitInvitation,
  MAX_INVITATION_BYTES,
  encodeInvitation,
  invitationFromCode,
  invitationFromWords,
  invitationToCode,
  invitationToWords,
  parseInvitation,
  type Answer,
  type Invitation,
} from './invitation.js';
import { base32nopad } from '@scure/base';

/** Asserts `fn` throws a FaztError with `code` and a message matching `message`; returns it. */
function faztError(fn: () => unknown, code: string, message: RegExp): FaztError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FaztError);
    expect((e as FaztError).code).toBe(code);
    expect((e as FaztError).message).toMatch(message);
    return e as FaztError;
  }
  throw new Error('expected a FaztError');
}

const sample: Invitation = {
  secret: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
  expiresAt: 1_800_000_000_000,
  inviterId: 'abcdefghijklmnop',
  addresses: [
    { host: '192.168.1.20', port: 8080 },
    { host: 'fe80::1ff:fe23:4567:890a', port: 443 },
  ],
};

const arbInvitation = fc.record({
  secret: fc.uint8Array({ minLength: 10, maxLength: 10 }),
  expiresAt: fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((s) => s * 1000),
  inviterId: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Array.from(b, (x) => 'abcdefghijklmnopqrstuvwxyz234567'[x & 31]).join('')),
  addresses: fc.array(
    fc.oneof(
      fc.record({ host: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) }),
      fc.record({
        host: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':')),
        port: fc.integer({ min: 1, max: 65535 }),
      }),
    ),
    { maxLength: 4 },
  ),
});

/** The same address written canonically (IPv6 compressed), for comparing round trips. */
const canonical = (inv: Invitation) => decodeInvitation(encodeInvitation(inv));

describe('the binary form and the code', () => {
  it('round-trips, and fits a ggwave message (≤ 140 bytes) with four IPv6 addresses', () => {
    const back = invitationFromCode(invitationToCode(sample));
    expect(back).toEqual({ ...sample, addresses: [sample.addresses[0], { host: 'fe80::1ff:fe23:4567:890a', port: 443 }] });
    const worst = encodeInvitation({ ...sample, addresses: Array(4).fill({ host: '2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff', port: 65535 }) });
    expect(worst.length).toBeLessThanOrEqual(140);
    expect(encodeInvitation(sample).length).toBe(2 + 10 + 4 + 10 + 1 + 7 + 19 + 4);
    expect(invitationToCode(sample)).toMatch(/^FZ1[A-Z2-7]+$/);
  });

  it('property: any invitation survives encode → code → decode', () => {
    fc.assert(
      fc.property(arbInvitation, (inv) => {
        const once = canonical(inv);
        expect(invitationFromCode(invitationToCode(inv))).toEqual(once);
        expect(canonical(once)).toEqual(once);
        expect(once.secret).toEqual(inv.secret);
        expect(once.inviterId).toBe(inv.inviterId);
      }),
      { numRuns: 300 },
    );
  });

  it('property: any single flipped bit is caught as damage (never a different invitation)', () => {
    const bytes = encodeInvitation(sample);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length * 8 - 1 }), (bit) => {
        const b = bytes.slice();
        b[bit >> 3]! ^= 1 << (bit & 7);
        expect(() => decodeInvitation(b)).toThrow(/damaged|newer|malformed|address/);
      }),
    );
  });

  it('a typed code survives case, spaces and dashes', () => {
    const code = invitationToCode(sample);
    const typed = code.toLowerCase().replace(/(.{5})/g, '$1 - ');
    expect(invitationFromCode(typed)).toEqual(invitationFromCode(code));
  });

  it.each([
    ['', /not a Fazt invitation/],
    ['https://example.com/', /not a Fazt invitation/],
    ['FZ1', /too short/],
    [`${CODE_PREFIX}0189`, /characters that do not belong/],
    [CODE_PREFIX + 'A'.repeat(60), /damaged/],
  ])('refuses %j', (code, message) => {
    faztError(() => invitationFromCode(code), 'INVALID_INVITATION', message);
  });

  it('names a newer version or unknown flags as such (checksum intact)', async () => {
    const { sha256 } = await import('@noble/hashes/sha2.js');
    for (const [at, value, message] of [
      [0, 2, /newer Fazt \(version 2\)/],
      [1, 2, /features of a newer Fazt/],
      [1, 0x81, /features of a newer Fazt/],
      // the offer flag on an invitation without one: the bytes after the addresses are not an offer
      [1, 1, /connection offer or answer it carries is malformed/],
    ] as const) {
      const b = encodeInvitation(sample);
      b[at] = value;
      b.set(sha256(b.subarray(0, b.length - 4)).subarray(0, 4), b.length - 4);
      faztError(() => decodeInvitation(b), 'INVALID_INVITATION', message);
    }
  });
});

describe('the words', () => {
  it('are 12 BIP-39 words carrying the secret and the first IPv4 address', () => {
    const words = invitationToWords(sample);
    expect(words).toHaveLength(12);
    for (const w of words) expect(wordlist).toContain(w);
    expect(invitationFromWords(words)).toEqual({ secret: sample.secret, addresses: [{ host: '192.168.1.20', port: 8080 }] });
    // no IPv4 address: the words carry the secret only
    const none = invitationFromWords(invitationToWords({ ...sample, addresses: [{ host: '::1', port: 80 }] }));
    expect(none.addresses).toEqual([]);
  });

  it('property: secret and address round-trip through the words', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 10, maxLength: 10 }), fc.ipV4(), fc.integer({ min: 1, max: 65535 }), (secret, host, port) => {
        const back = invitationFromWords(invitationToWords({ secret, addresses: [{ host, port }] }));
        expect(back.secret).toEqual(secret);
        expect(back.addresses).toEqual(host === '0.0.0.0' ? [] : [{ host, port }]);
      }),
    );
  });

  it('accept numbering, commas, capitals and four-letter abbreviations', () => {
    const words = invitationToWords(sample);
    const typed = words.map((w, i) => `${i + 1}. ${i % 2 ? w.toUpperCase() : w.slice(0, 4)}`).join(', ');
    expect(invitationFromWords(typed).secret).toEqual(sample.secret);
  });

  it('name a mistyped word, its place and what was probably meant', () => {
    const words = invitationToWords(sample);
    const wrong = [...words];
    wrong[4] = words[4]!.slice(0, 2) + 'q' + words[4]!.slice(3);
    const e = faztError(() => invitationFromWords(wrong), 'INVALID_INVITATION', /^Word 5, “/);
    expect(e.message).toContain(words[4]);
  });

  it('catch a wrong word that is still a list word (the checksum), and a wrong count', () => {
    const words = invitationToWords(sample);
    // find a replacement for the last word that breaks the checksum (15 in 16 do)
    const wrong = [...words];
    wrong[11] = wordlist.find((w) => w !== words[11] && (() => {
      try {
        invitationFromWords([...words.slice(0, 11), w]);
        return false;
      } catch {
        return true;
      }
    })())!;
    faztError(() => invitationFromWords(wrong), 'INVALID_INVITATION', /checksum fails/);
    faztError(() => invitationFromWords(words.slice(0, 11)), 'INVALID_INVITATION', /12 words; 11 were given/);
  });

  it('parseInvitation picks the carrier, and refuses something else', () => {
    expect(parseInvitation(invitationToCode(sample)).inviterId).toBe(sample.inviterId);
    expect(parseInvitation(invitationToWords(sample).join(' ')).secret).toEqual(sample.secret);
    faztError(() => parseInvitation('{"hello":1}'), 'INVALID_INVITATION', /neither an invitation code/);
  });
});

describe('direct invitations: an offer behind flag bit 0, and the FZA answer code', () => {
  const offer: CompactSession = {
    setup: 'actpass',
    ufrag: 'EYpw',
    pwd: 'y78oy6LHUjMHzz1ZhJo44X',
    fingerprint: Uint8Array.from({ length: 32 }, (_, i) => i * 7),
    mid: '0',
    candidates: [
      { address: '192.168.1.20', port: 40363 },
      { address: 'fd00::2', port: 40363 },
    ],
  };
  const direct: Invitation = { ...sample, addresses: [{ host: '192.168.1.20', port: 8080 }], offer };

  it('round trips; with a libdatachannel-sized offer, one IPv4 address and two candidates it is 120 bytes', () => {
    const bytes = encodeInvitation(direct);
    expect(bytes[1]).toBe(1);
    expect(bytes.length).toBe(120);
    expect(decodeInvitation(bytes)).toEqual(direct);
    expect(invitationFromCode(invitationToCode(direct))).toEqual(direct);
    expect(parseInvitation(invitationToCode(direct)).offer).toEqual(offer);
    // an invitation without an offer is what it was: flags 0, and v1 readers read it
    expect(encodeInvitation(sample)[1]).toBe(0);
  });

  it('worst case: the largest fields allowed and every address and candidate are trimmed to ≤ 140 bytes, keeping a candidate', () => {
    const worst: Invitation = {
      ...sample,
      addresses: Array.from({ length: 4 }, (_, i) => ({ host: `fe80::${i + 1}:ffff:ffff:ffff:ffff`, port: 65535 })),
      offer: {
        setup: 'actpass',
        ufrag: 'U'.repeat(COMPACT_LIMITS.ufrag[1]),
        pwd: 'P'.repeat(COMPACT_LIMITS.pwd[1]),
        fingerprint: new Uint8Array(32).fill(255),
        mid: 'm'.repeat(COMPACT_LIMITS.mid),
        candidates: Array.from({ length: COMPACT_LIMITS.candidates }, (_, i) => ({ address: `2001:db8::${i + 1}:ffff:ffff:ffff`, port: 65535 })),
      },
    };
    faztError(() => encodeInvitation(worst), 'INVALID_ARGUMENT', /more than one sound message/);
    const fitted = fitInvitation(worst);
    const bytes = encodeInvitation(fitted);
    expect(bytes.length).toBeLessThanOrEqual(MAX_INVITATION_BYTES);
    expect(bytes.length).toBe(139);
    expect(fitted.offer!.candidates).toHaveLength(1);
    expect(fitted.addresses).toHaveLength(0);
    expect(decodeInvitation(bytes)).toEqual(fitted);
    // what fits is kept: two candidates first, then addresses
    const roomy = fitInvitation({ ...direct, offer: { ...offer, candidates: [...offer.candidates, { address: '10.0.0.2', port: 1 }, { address: '10.0.0.3', port: 2 }] } });
    expect(roomy.offer!.candidates.length).toBeGreaterThanOrEqual(2);
    expect(encodeInvitation(roomy).length).toBeLessThanOrEqual(MAX_INVITATION_BYTES);
  });

  it('property: any offer within the limits and any addresses fit in 140 bytes, keeping a candidate', () => {
    const ice = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'abcXYZ019+/'), minLength: min, maxLength: max });
    const cand = fc.oneof(
      fc.record({ address: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) }),
      fc.record({ address: fc.uuid().map((u) => `${u}.local`), port: fc.integer({ min: 1, max: 65535 }) }),
    );
    fc.assert(
      fc.property(
        ice(...COMPACT_LIMITS.ufrag),
        ice(...COMPACT_LIMITS.pwd),
        fc.stringMatching(/^[a-z0-9]{1,16}$/),
        fc.array(cand, { minLength: 1, maxLength: COMPACT_LIMITS.candidates }),
        fc.array(fc.record({ host: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) }), { maxLength: 4 }),
        (ufrag, pwd, mid, candidates, addresses) => {
          const inv = fitInvitation({ ...sample, addresses, offer: { setup: 'actpass', ufrag, pwd, fingerprint: new Uint8Array(32), mid, candidates } });
          const bytes = encodeInvitation(inv);
          expect(bytes.length).toBeLessThanOrEqual(MAX_INVITATION_BYTES);
          expect(inv.offer!.candidates.length).toBeGreaterThanOrEqual(1);
          expect(decodeInvitation(bytes)).toEqual(inv);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: any direct invitation that encodes decodes to itself, and any flipped bit is caught', () => {
    const bytes = encodeInvitation(direct);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length * 8 - 1 }), (bit) => {
        const b = bytes.slice();
        b[bit >> 3]! ^= 1 << (bit & 7);
        faztError(() => decodeInvitation(b), 'INVALID_INVITATION', /damaged|newer|malformed|address/);
      }),
    );
  });

  const answer: Answer = {
    ref: Uint8Array.from([1, 2, 3, 4, 5, 6]),
    joinerId: 'qrstuvwxyz234567',
    tag: Uint8Array.from([9, 8, 7, 6, 5, 4, 3, 2]),
    session: { ...offer, setup: 'active', candidates: [{ address: '192.168.1.30', port: 51250 }] },
  };

  it('the answer code round trips and is short: FZA + 148 characters with one IPv4 candidate', () => {
    const code = encodeAnswer(answer);
    expect(code).toMatch(/^FZA[A-Z2-7]+$/);
    expect(code.length).toBe(3 + 148);
    expect(decodeAnswer(code)).toEqual(answer);
    expect(decodeAnswer(code.toLowerCase().replace(/(.{6})/g, '$1 '))).toEqual(answer);
  });

  it.each([
    ['', /not a Fazt answer/],
    ['FZ1ABC', /an invitation \(FZ1…\), not an answer/],
    ['FZA0189', /characters that do not belong/],
    ['FZA' + 'A'.repeat(40), /too short/],
    ['FZA' + 'A'.repeat(152), /damaged/],
  ])('refuses %j as an answer', (code, message) => {
    faztError(() => decodeAnswer(code), 'INVALID_INVITATION', message);
  });

  it('an answer travels by sound as its binary form, and is told from an invitation by its checksum', () => {
    const code = encodeAnswer(answer);
    const bin = answerChirpPayload(code);
    expect(bin.length).toBe(Math.floor((148 * 5) / 8));
    expect(bin.length).toBeLessThanOrEqual(140);
    expect(answerFromChirp(bin)).toBe(code);
    expect(answerFromChirp(new TextEncoder().encode(code.toLowerCase()))).toBe(code);
    expect(chirpMessageText(bin)).toBe(code); // what `fazt chirp decode` prints
    faztError(() => answerChirpPayload(invitationToCode(direct)), 'INVALID_INVITATION', /an invitation/);
    const damaged = bin.slice();
    damaged[20]! ^= 1;
    faztError(() => answerFromChirp(damaged), 'INVALID_INVITATION', /damaged/);
  });

  it('an answer given where an invitation is expected says what it is', () => {
    faztError(() => parseInvitation(encodeAnswer(answer)), 'INVALID_INVITATION', /answer code/);
  });

  it('property: any single flipped bit of an answer is caught', () => {
    const code = encodeAnswer(answer);
    const bytes = base32nopad.decode(code.slice(3));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length * 8 - 1 }), (bit) => {
        const b = bytes.slice();
        b[bit >> 3]! ^= 1 << (bit & 7);
        faztError(() => decodeAnswer('FZA' + base32nopad.encode(b)), 'INVALID_INVITATION', /damaged|newer|malformed/);
      }),
    );
  });

  it('an answer with the offer role, or too large, is refused when made', () => {
    faztError(() => encodeAnswer({ ...answer, session: { ...answer.session, setup: 'actpass' } }), 'INVALID_ARGUMENT', /active or passive/);
    const big = { ...answer, session: { ...answer.session, ufrag: 'U'.repeat(16), pwd: 'P'.repeat(32), mid: 'm'.repeat(16), candidates: Array.from({ length: 3 }, (_, i) => ({ address: `2001:db8::${i + 1}`, port: 9 })) } };
    faztError(() => encodeAnswer(big), 'INVALID_ARGUMENT', /at most 140/);
    // the worst case with one candidate fits
    expect(encodeAnswer({ ...big, session: { ...big.session, candidates: big.session.candidates.slice(0, 1) } }).length).toBeLessThanOrEqual(3 + Math.ceil((140 * 8) / 5));
  });
});
