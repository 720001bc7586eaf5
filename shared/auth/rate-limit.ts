/**
 * Fixed-window failure counter for logins, kept in memory (local to the process by design: it
 * protects this node's login form). Keyed by the TCP peer address the host reports, never by
 * `X-Forwarded-For`, which a client can write. A global window caps guesses from many addresses.
 */
export class LoginRateLimiter {
  private readonly perKey = new Map<string, { count: number; resetAt: number }>();
  private global = { count: 0, resetAt: 0 };

  /**
   * @param maxPerKey failures allowed per address per window.
   * @param maxGlobal failures allowed from all addresses together per window.
   * @param windowMs window length, ms.
   * @param now clock, ms.
   */
  constructor(
    readonly maxPerKey = 10,
    readonly maxGlobal = 100,
    readonly windowMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `key` may try again, or 0 when it may try now. */
  retryAfter(key: string): number {
    const t = this.now();
    const k = this.perKey.get(key);
    if (k && k.resetAt > t && k.count >= this.maxPerKey) return Math.ceil((k.resetAt - t) / 1000);
    if (this.global.resetAt > t && this.global.count >= this.maxGlobal) return Math.ceil((this.global.resetAt - t) / 1000);
    return 0;
  }

  /** Records a failed attempt from `key`. */
  fail(key: string): void {
    const t = this.now();
    const k = this.perKey.get(key);
    if (!k || k.resetAt <= t) this.perKey.set(key, { count: 1, resetAt: t + this.windowMs });
    else k.count++;
    if (this.global.resetAt <= t) this.global = { count: 1, resetAt: t + this.windowMs };
    else this.global.count++;
    if (this.perKey.size > 10_000) for (const [key2, v] of this.perKey) if (v.resetAt <= t) this.perKey.delete(key2);
  }

  /** Forgets failures of `key` after a success. */
  succeed(key: string): void {
    this.perKey.delete(key);
  }
}
