import type { Principal } from '../auth/index.js';

/** Facts about one request that only the host knows, passed next to the `Request` to the kernel's fetch function. */
export interface RequestContext {
  /** TCP peer address (never a forwarded header): the key of login rate limits. */
  peer?: string;
  /**
   * A principal the host vouches for, skipping HTTP authentication. Only in-process callers set it
   * (the CLI acting on a cartridge file it has opened); it never comes from the network.
   */
  principal?: Principal;
}
