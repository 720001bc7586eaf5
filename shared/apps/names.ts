import { z } from 'zod';
import { FaztError } from '../errors.js';

/**
 * App names and aliases are DNS labels (RFC 1035 §2.3.1, lowercase): they become subdomains
 * (`blog.example.com`) and path prefixes (`/a/blog/`).
 */

/** Names no app may take: they collide with the node's own routes or well-known hosts. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'a', 'admin', 'api', 'app', 'apps', 'assets', 'auth', 'dashboard', 'fazt', 'localhost', 'login', 'logout',
  'mail', 'ns', 'ns1', 'ns2', 'root', 'setup', 'smtp', 'static', 'system', 'www', 'mcp', 'peer', 'peerjs',
]);

/** Zod schema of an app name: 1–63 chars of `a-z 0-9 -`, not starting or ending with `-`. */
export const AppNameSchema = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'use 1–63 lowercase letters, digits or hyphens, not starting or ending with a hyphen');

/**
 * Checks a name or alias.
 * @throws FaztError `INVALID_NAME` or `RESERVED_NAME`.
 */
export function assertAppName(name: string): void {
  const r = AppNameSchema.safeParse(name);
  if (!r.success) throw new FaztError('INVALID_NAME', `Invalid app name ${JSON.stringify(name)}: ${r.error.issues[0]!.message}.`);
  if (RESERVED_NAMES.has(name)) throw new FaztError('RESERVED_NAME', `The name "${name}" is reserved by Fazt. Pick another name.`);
}
