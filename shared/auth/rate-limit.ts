/**
 * Fixed-window failure counter for password sign-ins, kept in memory (local to the process by design:
 * it protects this node's login form).
 *
 * Keyed by the request's source address as the host computed it (the TCP peer, or — only with an
 * explicit trusted-proxy setting and only when the peer is that proxy — the client address the proxy
 * wrote in `X-Forwarded-For`). Never by a header the client controls.
 *
 * There is deliberately no node-wide limit: one would let anyone with a few addresses lock the owner
 * out of every address (issue 15, part 5). Many-address guessing is slowed by scrypt (≈ 100 ms of
 * CPU per try) and by {@link sourceKey} grouping an IPv6 client's whole /64 into one source. The owner
 * always has a path no stranger can block: a one-time code printed on the machine
 * (`fazt owner login-code`, see `login-codes.ts`).
 */
export class LoginRateLimiter {
  private readonly perKey = new Map<string, { count: number; resetAt: number }>();

  /**
   * @param maxPerKey failures allowed per source per window.
   * @param windowMs window length, ms.
   * @param now clock, ms.
   * @param maxKeys sources remembered at most; when full, expired entries go first, then the oldest.
   *   Forgetting can only free a source, never block one; to get its own entry forgotten an attacker
   *   must first fail from `maxKeys` other sources (100,000 scrypt checks, hours of CPU).
   */
  constructor(
    readonly maxPerKey = 10,
    readonly windowMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
    readonly maxKeys = 100_000,
  ) {}

  /** Seconds until the source `addr` may try again, or 0 when it may try now. */
  retryAfter(addr: string): number {
    const t = this.now();
    const k = this.perKey.get(sourceKey(addr));
    if (k && k.resetAt > t && k.count >= this.maxPerKey) return Math.ceil((k.resetAt - t) / 1000);
    return 0;
  }

  /** Records a failed attempt from the source `addr`. */
  fail(addr: string): void {
    const t = this.now();
    const key = sourceKey(addr);
    const k = this.perKey.get(key);
    if (!k || k.resetAt <= t) this.perKey.set(key, { count: 1, resetAt: t + this.windowMs });
    else k.count++;
    if (this.perKey.size > this.maxKeys) {
      for (const [key2, v] of this.perKey) if (v.resetAt <= t) this.perKey.delete(key2);
      // still full: drop the oldest insertions (Map keeps insertion order)
      for (const key2 of this.perKey.keys()) {
        if (this.perKey.size <= this.maxKeys) break;
        if (key2 !== key) this.perKey.delete(key2);
      }
    }
  }

  /** Forgets failures of the source `addr` after a success. */
  succeed(addr: string): void {
    this.perKey.delete(sourceKey(addr));
  }
}

/**
 * The rate-limit key of a source address: an IPv4 address as is (an IPv4-mapped IPv6 address
 * `::ffff:a.b.c.d` as `a.b.c.d`), an IPv6 address by its /64 prefix (one subscriber's LAN usually
 * holds a whole /64, RFC 6177), anything else (`unknown`) as is.
 */
export function sourceKey(addr: string): string {
  const a = normalizeAddress(addr);
  if (!a.includes(':')) return a;
  const groups = expandIPv6(a);
  return groups ? groups.slice(0, 4).join(':') + '::/64' : a;
}

/**
 * An address in a canonical text form for comparisons: lowercased, zone id and brackets removed,
 * IPv4-mapped IPv6 (`::ffff:127.0.0.1`) as plain IPv4.
 */
export function normalizeAddress(addr: string): string {
  let a = addr.trim().toLowerCase();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const pct = a.indexOf('%');
  if (pct >= 0) a = a.slice(0, pct);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  return mapped ? mapped[1]! : a;
}

/** The 8 groups of an IPv6 address (4 hex digits each), or `undefined` when it is not one. */
function expandIPv6(a: string): string[] | undefined {
  if (!/^[0-9a-f:.]+$/.test(a)) return undefined;
  const halves = a.split('::');
  if (halves.length > 2) return undefined;
  const part = (s: string) => (s === '' ? [] : s.split(':'));
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  // an embedded IPv4 tail (a.b.c.d) counts as two groups
  const last = tail.length ? tail : head;
  if (last.length && last[last.length - 1]!.includes('.')) {
    const v4 = last.pop()!.split('.').map(Number);
    if (v4.length !== 4 || v4.some((n) => !(n >= 0 && n <= 255))) return undefined;
    last.push(((v4[0]! << 8) | v4[1]!).toString(16), ((v4[2]! << 8) | v4[3]!).toString(16));
  }
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => g.padStart(4, '0'));
}
