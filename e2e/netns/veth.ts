/**
 * A veth pair inside the test's network namespace (both ends in it, so traffic to its address stays
 * on this machine), for tests that need the namespace to look like a device on a LAN rather than a
 * loopback-only box:
 * - libjuice (the headless node's ICE) gathers no loopback candidates, and a direct offer needs one;
 * - Chromium reports `navigator.onLine === false`, and fires no `offline`/`online` events for
 *   `context.setOffline`, while loopback is its only interface.
 */
import { execFileSync } from 'node:child_process';

/**
 * Adds veth `name` (peer `${name}p`) with address `cidr` (e.g. `10.213.0.1/24`) and brings both ends up.
 * @throws Error naming `why` when `ip` refuses (not in a namespace where this user may add links).
 */
export function addVeth(name: string, cidr: string, why: string): void {
  try {
    execFileSync('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
    execFileSync('ip', ['addr', 'add', cidr, 'dev', name]);
    execFileSync('ip', ['link', 'set', name, 'up']);
    execFileSync('ip', ['link', 'set', `${name}p`, 'up']);
  } catch (e) {
    throw new Error(`Could not add a veth pair in the namespace (${why}): ${(e as Error).message}`);
  }
}

/** Removes veth `name` (and its peer); nothing if it is gone (it goes with the namespace anyway). */
export function removeVeth(name: string): void {
  try {
    execFileSync('ip', ['link', 'del', name]);
  } catch {
    // gone with the namespace anyway
  }
}
