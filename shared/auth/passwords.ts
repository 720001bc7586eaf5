import { FaztError } from '../errors.js';
import type { KernelPorts, ScryptParams } from '../ports.js';
import { constantTimeEqual, fromBase64Url, randomBytes, toBase64Url } from '../lib/encoding.js';

/**
 * Password hashing with scrypt (RFC 7914). Stored form, self-describing so parameters can grow:
 * `scrypt$<N>$<r>$<p>$<salt base64url>$<key base64url>`.
 */

/** Parameters for new hashes: N=2^15, r=8, p=1 (32 MiB, ≈ 100 ms natively), 32-byte key, 16-byte salt. */
export const PASSWORD_PARAMS: ScryptParams = { N: 1 << 15, r: 8, p: 1, dkLen: 32 };

/** Shortest accepted password, characters. */
export const MIN_PASSWORD_LENGTH = 8;

/**
 * Checks password rules.
 * @throws FaztError `BAD_REQUEST` when too short or too long.
 */
export function assertPasswordAcceptable(password: unknown): asserts password is string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH) {
    throw new FaztError('BAD_REQUEST', `Choose a password of at least ${MIN_PASSWORD_LENGTH} characters.`);
  }
  if (password.length > 1024) throw new FaztError('BAD_REQUEST', 'That password is longer than 1024 characters.');
}

/** Hashes a password for storage. */
export async function hashPassword(ports: Pick<KernelPorts, 'scrypt'>, password: string, params: ScryptParams = PASSWORD_PARAMS): Promise<string> {
  const salt = randomBytes(16);
  const key = await ports.scrypt(new TextEncoder().encode(password.normalize('NFKC')), salt, params);
  return ['scrypt', params.N, params.r, params.p, toBase64Url(salt), toBase64Url(key)].join('$');
}

/** Verifies a password against a stored hash; `false` for a malformed hash. */
export async function verifyPassword(ports: Pick<KernelPorts, 'scrypt'>, password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const expected = fromBase64Url(parts[5]!);
  const key = await ports.scrypt(new TextEncoder().encode(password.normalize('NFKC')), fromBase64Url(parts[4]!), { N, r, p, dkLen: expected.length });
  return constantTimeEqual(key, expected);
}
