/**
 * Invitation carriers (docs/mesh.md "Invitations"): the binary form, the code and the words round
 * trip; damaged, foreign and mistyped input gets a clear INVALID_INVITATION naming what is wrong.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { FaztError } from '../errors.js';
import {
  CODE_PREFIX,
  decodeInvitation,
  encodeInvitation,
  invitationFromCode,
  invitationFromWords,
  invitationToCode,
  invitationToWords,
  parseInvitation,
  type Invitation,
} from './invitation.js';

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
      [1, 1, /features of a newer Fazt/],
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
