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

/** An app name: 1–63 chars of `a-z 0-9 -`, not starting or ending with `-`. */
export const APP_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** What to tell a person whose name does not match {@link APP_NAME_PATTERN}. */
export const APP_NAME_RULE = 'use 1–63 lowercase letters, digits or hyphens, not starting or ending with a hyphen';

/**
 * Checks a name or alias.
 * @throws FaztError `INVALID_NAME` or `RESERVED_NAME`.
 */
export function assertAppName(name: string): void {
  if (!APP_NAME_PATTERN.test(name)) throw new FaztError('INVALID_NAME', `Invalid app name ${JSON.stringify(name)}: ${APP_NAME_RULE}.`);
  if (RESERVED_NAMES.has(name)) throw new FaztError('RESERVED_NAME', `The name "${name}" is reserved by Fazt. Pick another name.`);
}
