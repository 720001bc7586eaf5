import { FaztError } from '../errors.js';
import type { Cartridge } from '../cartridge/index.js';

/**
 * Syntax of a permission string: `area` or `area:detail`. The same rule as `PermissionSchema` in
 * `manifest.ts` (duplicated so the runtime does not load zod, which is imported on first deploy only).
 */
export const PERMISSION_PATTERN = /^[a-z][a-z0-9-]*(:[a-zA-Z0-9.*_-]+)?$/;

/**
 * App permissions. An app *requests* permissions in `app.json` (`permissions: ["net:api.example.com",
 * "events:notes", "ai"]`); the owner *grants* them (at deploy or later). The runtime enforces
 * requested ∩ granted at every call, so a new version asking for more gets nothing extra until the
 * owner agrees, and a grant the manifest no longer requests is dormant.
 *
 * Grants live in `app_permissions` (replicated; revokes are tombstones). The pure helpers below
 * answer the runtime's questions for a given effective permission list.
 */

/** @throws FaztError `INVALID_ARGUMENT` unless `p` is a permission string (`ai`, `net:example.com`). */
export function checkPermission(p: unknown): string {
  if (typeof p !== 'string' || !PERMISSION_PATTERN.test(p)) {
    throw new FaztError('INVALID_ARGUMENT', `"${String(p).slice(0, 100)}" is not a permission; they look like "ai" or "net:example.com". Nothing was changed.`);
  }
  return p;
}

/** Grant state of an app's requested permissions. */
export interface PermissionStatus {
  /** What the manifest asks for (deduplicated, in manifest order). */
  requested: string[];
  /** Requested and granted: what the app may use now. */
  granted: string[];
  /** Requested but not (yet) granted: what the owner is asked about. */
  pending: string[];
}

/**
 * The owner's grants per app. Every method takes the app's id.
 */
export class PermissionStore {
  constructor(private readonly cart: Cartridge) {}

  private get db() {
    return this.cart.db;
  }

  /**
   * Grants permissions (idempotent: already granted ones are left untouched, keeping their grant time),
   * in one transaction.
   * @param permissions strings of the manifest's permission syntax (`area` or `area:detail`).
   * @throws FaztError `INVALID_ARGUMENT` when one is malformed (nothing is granted then).
   */
  grant(appId: string, permissions: readonly string[]): void {
    for (const p of permissions) {
      if (typeof p !== 'string' || !PERMISSION_PATTERN.test(p)) {
        throw new FaztError('INVALID_ARGUMENT', `"${String(p).slice(0, 100)}" is not a permission; they look like "ai" or "net:example.com". Nothing was granted.`);
      }
    }
    this.db.transaction(() => {
      const now = this.cart.clock.now();
      for (const p of new Set(permissions)) {
        const live = this.db.get('SELECT 1 FROM app_permissions WHERE app_id = ? AND permission = ? AND deleted = 0', [appId, p]);
        if (live) continue;
        this.db.run(
          `INSERT INTO app_permissions (app_id, permission, granted_at, deleted, hlc, node_id) VALUES (?, ?, ?, 0, ?, ?)
           ON CONFLICT(app_id, permission) DO UPDATE SET granted_at = excluded.granted_at, deleted = 0, hlc = excluded.hlc, node_id = excluded.node_id`,
          [appId, p, now, this.cart.hlc.now(), this.cart.nodeId],
        );
      }
    });
  }

  /**
   * Revokes one permission (a tombstone, so the revoke replicates).
   * @returns true when it was granted.
   */
  revoke(appId: string, permission: string): boolean {
    return (
      this.db.run('UPDATE app_permissions SET deleted = 1, hlc = ?, node_id = ? WHERE app_id = ? AND permission = ? AND deleted = 0', [
        this.cart.hlc.now(),
        this.cart.nodeId,
        appId,
        permission,
      ]).changes > 0
    );
  }

  /** Every permission granted to the app (requested or not), sorted. */
  granted(appId: string): string[] {
    return this.db
      .query<{ permission: string }>('SELECT permission FROM app_permissions WHERE app_id = ? AND deleted = 0 ORDER BY permission', [appId])
      .map((r) => r.permission);
  }

  /**
   * Splits the manifest's requested permissions into granted and pending (exact string match: a
   * grant of `net:*` does not satisfy a request for `net:example.com`).
   * @param requested the current version's `manifest.permissions`.
   */
  status(appId: string, requested: readonly string[]): PermissionStatus {
    const grants = new Set(this.granted(appId));
    const req = [...new Set(requested)];
    return { requested: req, granted: req.filter((p) => grants.has(p)), pending: req.filter((p) => !grants.has(p)) };
  }
}

/** Lowercases a host, strips `[…]` around IPv6, a port, and one trailing dot. */
function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const close = h.indexOf(']');
    h = close > 0 ? h.slice(1, close) : h.slice(1);
  } else if (h.indexOf(':') !== -1 && h.indexOf(':') === h.lastIndexOf(':')) {
    h = h.slice(0, h.indexOf(':')); // host:port (an IPv6 literal has at least two colons)
  }
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/**
 * May an app with these (effective) permissions open a connection to `host`?
 *
 * - `net:example.com` matches exactly that host, on any port → `'explicit'`;
 * - `net:*.example.com` matches any subdomain at any depth (`a.example.com`, `a.b.example.com`),
 *   not `example.com` itself → `'public'`;
 * - `net:*` matches any host → `'public'`.
 *
 * `'explicit'` wins over `'public'`. The caller must refuse private addresses (see
 * {@link isPrivateAddress}: loopback, LAN, link-local …), after DNS resolution, unless the answer
 * is `'explicit'`: only naming a host exactly lets an app reach, say, `net:192.168.1.20` or
 * `net:nas.local`.
 *
 * @param permissions the app's effective permissions (requested ∩ granted); non-`net:` ones are ignored.
 * @param host a host name or IP literal as in `URL.hostname` (case-insensitive; `[…]` around IPv6,
 *   a trailing `:port` and a trailing dot are ignored).
 * @returns `'explicit'`, `'public'` or `false`.
 */
export function allowsNetHost(permissions: readonly string[], host: string): 'public' | 'explicit' | false {
  const h = normalizeHost(host);
  if (h === '') return false;
  let result: 'public' | false = false;
  for (const p of permissions) {
    if (!p.toLowerCase().startsWith('net:')) continue;
    const pattern = normalizeHost(p.slice(4));
    if (pattern === '') continue;
    if (pattern === '*') {
      result = 'public';
    } else if (pattern.startsWith('*.')) {
      const apex = pattern.slice(2);
      if (apex !== '' && !apex.includes('*') && h.endsWith('.' + apex)) result = 'public';
    } else if (!pattern.includes('*') && pattern === h) {
      return 'explicit';
    }
  }
  return result;
}

/**
 * May an app with these (effective) permissions receive events of the app named `appName`?
 * True when `events:<appName>` is among them (its own events need no permission; that is the caller's
 * business).
 */
export function allowsEventsFrom(permissions: readonly string[], appName: string): boolean {
  return appName !== '' && permissions.includes(`events:${appName}`);
}

/**
 * Parses an IPv4 address the way the WHATWG URL standard does (so `127.1`, `0x7f.0.0.1`, `2130706433`
 * and `017700000001` are all 127.0.0.1): 1–4 dot-separated decimal, `0x` hex or `0` octal parts, the
 * last one filling the remaining bytes. Returns the 32-bit value, or `undefined` when not IPv4.
 */
function parseIpv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length < 1 || parts.length > 4) return undefined;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0x[0-9a-f]*$/i.test(p)) n = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]+$/.test(p)) n = parseInt(p.slice(1), 8);
    else if (/^(0|[1-9][0-9]*)$/.test(p)) n = parseInt(p, 10);
    else return undefined;
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255)) return undefined;
  if (last >= 256 ** (4 - nums.length)) return undefined;
  let v = last;
  nums.forEach((n, i) => (v += n * 256 ** (3 - i)));
  return v;
}

/** Strict dotted-quad (as embedded in IPv6: `::ffff:1.2.3.4`). */
function parseDottedQuad(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return undefined;
  return ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
}

/** Parses an IPv6 literal (RFC 4291 §2.2 text forms, optional `[…]` and `%zone`) into 8 groups. */
function parseIpv6(s: string): number[] | undefined {
  let str = s;
  if (str.startsWith('[') && str.endsWith(']')) str = str.slice(1, -1);
  const zone = str.indexOf('%');
  if (zone >= 0) str = str.slice(0, zone);
  if (!str.includes(':')) return undefined;
  const groups = (part: string, allowV4: boolean): number[] | undefined => {
    if (part === '') return [];
    const pieces = part.split(':');
    const out: number[] = [];
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (allowV4 && i === pieces.length - 1 && p.includes('.')) {
        const v4 = parseDottedQuad(p);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-f]{1,4}$/i.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const dbl = str.indexOf('::');
  if (dbl >= 0) {
    if (str.indexOf('::', dbl + 1) >= 0) return undefined;
    const head = groups(str.slice(0, dbl), false);
    const tail = groups(str.slice(dbl + 2), true);
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const all = groups(str, true);
  return all && all.length === 8 ? all : undefined;
}

/** IPv4 ranges that are not globally reachable unicast (IANA IPv4 special-purpose registry, multicast, reserved). */
const V4_PRIVATE: readonly [number, number][] = (
  [
    ['0.0.0.0', 8], // "this network"
    ['10.0.0.0', 8], // RFC 1918
    ['100.64.0.0', 10], // CGNAT, RFC 6598
    ['127.0.0.0', 8], // loopback
    ['169.254.0.0', 16], // link-local (cloud metadata lives here)
    ['172.16.0.0', 12], // RFC 1918
    ['192.0.0.0', 24], // IETF protocol assignments
    ['192.0.2.0', 24], // documentation
    ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
    ['192.168.0.0', 16], // RFC 1918
    ['198.18.0.0', 15], // benchmarking
    ['198.51.100.0', 24], // documentation
    ['203.0.113.0', 24], // documentation
    ['224.0.0.0', 4], // multicast
    ['240.0.0.0', 4], // reserved, and 255.255.255.255 broadcast
  ] as const
).map(([a, bits]) => [parseDottedQuad(a)!, bits]);

function isPrivateV4(v: number): boolean {
  return V4_PRIVATE.some(([base, bits]) => Math.floor(v / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits)));
}

function isPrivateV6(g: number[]): boolean {
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const v4At = (hi: number) => g[hi]! * 0x10000 + g[hi + 1]!;
  if (zero(0, 5) && g[5] === 0xffff) return isPrivateV4(v4At(6)); // IPv4-mapped ::ffff:a.b.c.d
  if (zero(0, 4) && g[4] === 0xffff && g[5] === 0) return isPrivateV4(v4At(6)); // IPv4-translated ::ffff:0:a.b.c.d
  if (zero(0, 6)) return true; // ::, ::1 and deprecated IPv4-compatible ::a.b.c.d
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return isPrivateV4(v4At(6)); // NAT64 64:ff9b::/96
  if (g[0] === 0x2002) return isPrivateV4(v4At(1)); // 6to4 2002:AABB:CCDD::/48
  if ((g[0]! & 0xe000) !== 0x2000) return true; // outside global unicast 2000::/3: ULA fc00::/7, link-local fe80::/10, multicast ff00::/8, 64:ff9b:1::/48, 100::/64 …
  if (g[0] === 0x2001 && g[1]! < 0x200) return true; // 2001::/23 IETF protocol assignments (Teredo, benchmarking, ORCHID)
  if (g[0] === 0x2001 && g[1] === 0xdb8) return true; // documentation
  if (g[0] === 0x3fff && g[1]! < 0x1000) return true; // documentation 3fff::/20 (RFC 9637)
  return false;
}

/**
 * True when an IP address is not a globally reachable unicast address, i.e. an outbound fetch to it
 * could reach this machine, its LAN or special infrastructure: loopback (127/8, ::1), RFC 1918
 * (10/8, 172.16/12, 192.168/16), link-local (169.254/16, fe80::/10), CGNAT (100.64/10), unique-local
 * (fc00::/7), 0.0.0.0/8, `::`, multicast (224/4, ff00::/8), broadcast and reserved (240/4),
 * documentation and benchmarking ranges, anything outside 2000::/3; IPv4 embedded in IPv6
 * (IPv4-mapped `::ffff:127.0.0.1`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is judged by its IPv4.
 *
 * IPv4 is parsed like the WHATWG URL parser does (`127.1` and `0x7f000001` are loopback); IPv6
 * may carry `[…]` and a `%zone`.
 *
 * @param ip an IPv4 or IPv6 literal, e.g. from DNS resolution.
 * @returns false for anything that is not an IP literal (a host name): resolve names first.
 */
export function isPrivateAddress(ip: string): boolean {
  const s = ip.trim();
  if (s.includes(':')) {
    const g = parseIpv6(s);
    return g !== undefined && isPrivateV6(g);
  }
  const v4 = parseIpv4(s);
  return v4 !== undefined && isPrivateV4(v4);
}
