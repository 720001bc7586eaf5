import { FaztError } from '../errors.js';
import type { Cartridge } from '../cartridge/index.js';
import { randomBytes } from '../lib/encoding.js';

/**
 * One-time owner sign-in codes: the owner's path in that no stranger can block (issue 15, part 5).
 *
 * A code is made on the node's own machine (`fazt owner login-code`, which opens the cartridge file
 * directly: whoever can run it can read the cartridge anyway), printed once, stored only as its
 * SHA-256 in the local table `owner_login_codes`, valid for {@link LOGIN_CODE_TTL_MS} and spent by its
 * first use. Redeeming one is not subject to the password rate limit, so it works while strangers keep
 * the password route limited. 16 symbols of Crockford's base32 carry 80 random bits: at a million
 * guesses a second, finding a live code takes longer than the universe has existed, so the code path
 * needs no limiter of its own (and has none that a stranger could trip).
 */

/** How long a login code is valid, ms (10 minutes). */
export const LOGIN_CODE_TTL_MS = 10 * 60_000;

/** Crockford's base32 alphabet (no I, L, O, U), https://www.crockford.com/base32.html */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A code as typed, in canonical form: uppercase, without spaces and dashes, with the look-alikes
 * Crockford's decoding maps (O → 0, I and L → 1).
 */
export function normalizeLoginCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

/** Makes, stores and redeems one-time owner login codes in the cartridge. */
export class LoginCodes {
  constructor(
    private readonly cart: Cartridge,
    private readonly hash: (s: string) => string,
  ) {}

  /**
   * Creates a code (and forgets expired and used ones).
   * @returns the code as `XXXX-XXXX-XXXX-XXXX` (shown once, never stored) and its expiry, ms since epoch.
   */
  create(): { code: string; expiresAt: number } {
    const bytes = randomBytes(16);
    let raw = '';
    for (const b of bytes) raw += ALPHABET[b & 31];
    const now = this.cart.clock.now();
    const expiresAt = now + LOGIN_CODE_TTL_MS;
    this.cart.db.transaction(() => {
      this.cart.db.run('DELETE FROM owner_login_codes WHERE expires_at <= ? OR used_at IS NOT NULL', [now]);
      this.cart.db.run('INSERT INTO owner_login_codes (code_hash, created_at, expires_at, used_at) VALUES (?, ?, ?, NULL)', [this.hash(raw), now, expiresAt]);
    });
    return { code: raw.match(/.{4}/g)!.join('-'), expiresAt };
  }

  /**
   * Spends a code: true once for a live code, false for an unknown, expired or used one.
   * @throws FaztError `BAD_REQUEST` when `code` is not a string of a plausible length.
   */
  redeem(code: unknown): boolean {
    if (typeof code !== 'string' || code.length > 64) throw new FaztError('BAD_REQUEST', 'Send {"code": "XXXX-XXXX-XXXX-XXXX"}: the code `fazt owner login-code` printed.');
    const norm = normalizeLoginCode(code);
    if (norm.length !== 16) return false;
    const r = this.cart.db.run('UPDATE owner_login_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?', [
      this.cart.clock.now(),
      this.hash(norm),
      this.cart.clock.now(),
    ]);
    return r.changes === 1;
  }
}
