import type { Principal } from '../auth/index.js';

/** Facts about one request that only the host knows, passed next to the `Request` to the kernel's fetch function. */
export interface RequestContext {
  /** TCP peer address (never a forwarded header). */
  peer?: string;
  /**
   * The client's address as the host computed it: the TCP peer, or — only when the host was told to
   * trust a proxy (`fazt start --trusted-proxy ADDR`) and the peer is that proxy — the nearest
   * untrusted address in `X-Forwarded-For`. The key of login rate limits. Default: `peer`.
   */
  source?: string;
  /**
   * True when the host knows the request came through a proxy (the peer is a trusted proxy). The
   * kernel also treats any `Forwarded` / `X-Forwarded-*` header as a sign of a proxy.
   */
  proxied?: boolean;
  /**
   * A principal the host vouches for, skipping HTTP authentication. Only in-process callers set it
   * (the CLI acting on a cartridge file it has opened); it never comes from the network.
   */
  principal?: Principal;
}
