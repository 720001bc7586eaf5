/**
 * The header policy for responses that an app's server code produced (docs/apps.md, "What an app's
 * responses may not say"). App code is untrusted: some response headers act beyond the response
 * that carries them — on the whole origin, or on the whole registrable site — and would let one
 * app wipe or hijack what the owner keeps on the node:
 *
 * - `Clear-Site-Data` (W3C Clear Site Data §3): `"storage"` wipes the origin's localStorage,
 *   IndexedDB, Cache Storage, service workers and OPFS (where the browser node's cartridge lives);
 *   `"cookies"` clears cookies of the whole registrable domain, so it reaches the node's origin even
 *   from an app's own subdomain. Stripped everywhere.
 * - `Set-Cookie` (RFC 6265 §5.3): on the node's own origin an app's cookie would be the owner's
 *   origin's cookie; with `Domain=` from a subdomain it is "tossed" onto the node's host (a
 *   `fazt_session` cookie with a narrower `Path` shadows the owner's session). Stripped on the node's
 *   origin; on an app's own subdomain only host-only cookies (no `Domain` attribute) that are not
 *   named like the session cookie pass.
 * - Origin-wide policies: `Alt-Svc` (RFC 7838: sends the origin's future traffic to another
 *   endpoint), `Strict-Transport-Security` (RFC 6797: the node or its proxy decides transport),
 *   `NEL` / `Report-To` (Network Error Logging: origin-wide, optionally every subdomain). Stripped
 *   everywhere. On the node's origin also `Service-Worker-Allowed` (widens a worker's scope),
 *   `Accept-CH` / `Critical-CH` (origin-wide client-hint preferences), `Origin-Agent-Cluster` and
 *   `Access-Control-Allow-Credentials`.
 *
 * One function, {@link applyAppHeaderPolicy}, is applied by the kernel's HTTP face to every app
 * response on both hosts (the Node host and the service worker run the same code).
 */

/** Where an app response is served. */
export type AppResponseOrigin =
  /** Under `/a/<name>/` on the node's own origin (the dashboard's origin). */
  | 'node'
  /** On the app's own subdomain (`<name>.<domain>`). */
  | 'app';

/** Headers no app response may carry, wherever it is served (lower case). */
export const ALWAYS_STRIPPED: readonly string[] = ['clear-site-data', 'alt-svc', 'strict-transport-security', 'nel', 'report-to'];

/** Headers an app response may not carry on the node's own origin, in addition to {@link ALWAYS_STRIPPED}. */
export const NODE_ORIGIN_STRIPPED: readonly string[] = [
  'set-cookie',
  'service-worker-allowed',
  'accept-ch',
  'critical-ch',
  'origin-agent-cluster',
  'access-control-allow-credentials',
];

/** What {@link applyAppHeaderPolicy} removed, for the app's log. */
export interface StrippedHeader {
  /** Lower-case header name. */
  name: string;
  /** Why, in words an app author can act on. */
  reason: string;
}

/**
 * Whether a `Set-Cookie` value may pass on an app's own subdomain: host-only (no `Domain`
 * attribute, RFC 6265 §5.3 step 6), and its name is not the session cookie's, with or without a
 * `__Host-` / `__Secure-` prefix (compared case-insensitively; browsers differ on prefix case).
 * @param setCookie one `Set-Cookie` header value.
 * @param sessionCookie the node's session cookie name (`fazt_session`).
 * @returns `undefined` when it may pass, else the reason it may not.
 */
export function refuseAppCookie(setCookie: string, sessionCookie: string): string | undefined {
  const [pair = '', ...attrs] = setCookie.split(';');
  const eq = pair.indexOf('=');
  const name = (eq < 0 ? '' : pair.slice(0, eq)).trim().toLowerCase();
  const bare = name.replace(/^__(host|secure)-/, '');
  if (bare === sessionCookie.toLowerCase()) return `a cookie may not be named “${sessionCookie}” (the owner's session)`;
  if (attrs.some((a) => a.split('=')[0]!.trim().toLowerCase() === 'domain')) return 'a cookie may not have a Domain attribute (only host-only cookies)';
  return undefined;
}

/**
 * Removes from `headers`, in place, what an app response may not say where it is served.
 * @param headers the app response's headers (a Fetch `Headers`, mutated).
 * @param origin `'node'` under `/a/<name>/` on the node's origin, `'app'` on the app's own subdomain.
 * @param sessionCookie the node's session cookie name.
 * @returns what was removed and why (empty when nothing was).
 */
export function applyAppHeaderPolicy(headers: Headers, origin: AppResponseOrigin, sessionCookie: string): StrippedHeader[] {
  const out: StrippedHeader[] = [];
  for (const name of ALWAYS_STRIPPED) {
    if (headers.has(name)) {
      headers.delete(name);
      out.push({ name, reason: 'it acts on more than this response (the node or its owner decides it)' });
    }
  }
  if (origin === 'node') {
    for (const name of NODE_ORIGIN_STRIPPED) {
      if (headers.has(name)) {
        headers.delete(name);
        out.push({ name, reason: "apps served under /a/<name>/ share the node's origin; serve the app on its own subdomain for this" });
      }
    }
    return out;
  }
  const cookies = headers.getSetCookie();
  if (cookies.length) {
    const kept: string[] = [];
    for (const c of cookies) {
      const why = refuseAppCookie(c, sessionCookie);
      if (why) out.push({ name: 'set-cookie', reason: why });
      else kept.push(c);
    }
    if (kept.length !== cookies.length) {
      headers.delete('set-cookie');
      for (const c of kept) headers.append('set-cookie', c);
    }
  }
  return out;
}
