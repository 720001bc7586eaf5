import { FaztError } from '../errors.js';
import type { Principal } from './index.js';

/**
 * App scopes of deploy tokens and the approval rule for their deploys (issue 15, part 4).
 *
 * - A deploy token may be limited to named apps (`fazt token create --scope deploy --app NAME`). It
 *   then sees and acts on only those apps: an app matches when its name or one of its aliases is in
 *   the token's list (a name not yet taken may be deployed to create that app).
 * - Secrets and permission grants are the owner's decisions. A version deployed by anyone but an
 *   admin to an app that holds secrets or grants is stored but not made live: it waits for the
 *   owner's approval (`fazt app approve APP VERSION`). Until then no code of it runs, so it can read
 *   neither the secrets nor anything its grants would open.
 */

/** The app names a deploy token is limited to (at most this many). */
export const MAX_TOKEN_APPS = 50;

/** An app as the scope check sees it: its name and every alias (the name included). */
export interface ScopedApp {
  name: string;
  aliases: readonly string[];
}

/** True when `principal` may act on `app` (or, for a name no app has yet, create it). */
export function mayUseApp(principal: Principal | undefined, app: ScopedApp | string): boolean {
  if (!principal?.apps) return true;
  const names = typeof app === 'string' ? [app] : [app.name, ...app.aliases];
  return names.some((n) => principal.apps!.includes(n));
}

/**
 * @throws FaztError `FORBIDDEN` unless `principal` may act on `app` ({@link mayUseApp}).
 */
export function assertMayUseApp(principal: Principal | undefined, app: ScopedApp | string): void {
  if (mayUseApp(principal, app)) return;
  const name = typeof app === 'string' ? app : app.name;
  throw new FaztError('FORBIDDEN', `This token is limited to the app${principal!.apps!.length === 1 ? '' : 's'} ${principal!.apps!.join(', ')}; it may not act on "${name}".`);
}

/**
 * True when a deploy by `principal` to an app that holds secrets or grants (`holdsOwnerDecisions`)
 * must wait for the owner's approval: every principal but an admin.
 */
export function deployNeedsApproval(principal: Principal | undefined, holdsOwnerDecisions: boolean): boolean {
  return holdsOwnerDecisions && principal?.scope !== 'admin';
}

/**
 * Checks the app list of a new token.
 * @returns the names (deduplicated), or `undefined` for an unlimited token.
 * @throws FaztError `BAD_REQUEST` for a list on an admin token, a non-array, or a malformed name.
 */
export function checkTokenApps(scope: string, apps: unknown, isName: (s: string) => boolean): string[] | undefined {
  if (apps === undefined || apps === null) return undefined;
  if (scope !== 'deploy') throw new FaztError('BAD_REQUEST', 'Only deploy tokens can be limited to apps; an admin token can do everything.');
  if (!Array.isArray(apps) || apps.length === 0 || apps.length > MAX_TOKEN_APPS) {
    throw new FaztError('BAD_REQUEST', `"apps" must be a list of 1–${MAX_TOKEN_APPS} app names, e.g. ["blog"].`);
  }
  for (const a of apps) {
    if (typeof a !== 'string' || !isName(a)) throw new FaztError('BAD_REQUEST', `"${String(a).slice(0, 80)}" is not an app name (lowercase letters, digits and dashes).`);
  }
  return [...new Set(apps as string[])];
}
