/**
 * Which node the dashboard acts on, and whether each one answers. The choice is kept in
 * localStorage; the header always names the node (e.g. "This device" or "Hub · 192.168.1.5:8080").
 *
 * How the two nodes on one origin are told apart: the page's own `/api/…` is the hub that served
 * it; `/~device/api/…` is the kernel in this browser's service worker (the worker strips `/~device`
 * and answers itself, never the network). When no service worker controls the page, `/~device/…`
 * reaches the hub, which answers 404: the device is then "not available".
 */
import { FaztApi, type NodeTarget } from './api.js';

/** localStorage key of the chosen node. */
export const TARGET_KEY = 'fazt.target';

/** Reachability of one node. */
export type Reach = 'unknown' | 'up' | 'down';

/** The chosen node, as stored; `undefined` when none was chosen yet. */
export function storedTarget(): NodeTarget | undefined {
  try {
    const v = localStorage.getItem(TARGET_KEY);
    return v === 'hub' || v === 'device' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Remembers the chosen node. */
export function storeTarget(t: NodeTarget): void {
  try {
    localStorage.setItem(TARGET_KEY, t);
  } catch {
    // private mode: the choice lasts for this page only
  }
}

/** True on phones and tablets (for plain words: "This phone"). */
export function isPhone(): boolean {
  return /Android|iPhone|iPad|Mobile/i.test(navigator.userAgent);
}

/** The short name of a node in the header and the switcher: "This device" on every kind of device, the same word in every screen. */
export function targetLabel(t: NodeTarget): string {
  return t === 'device' ? 'This device' : `Hub · ${location.host}`;
}

/** One sentence on what the node is, for the switcher. */
export function targetHint(t: NodeTarget): string {
  return t === 'device' ? 'The node inside this browser. Works without a network.' : 'The node that served this page, reached over the network.';
}

/**
 * Checks whether a node answers its health route (`/~device/api/health` must come from the service
 * worker: a JSON body with `ok`).
 */
export async function probe(t: NodeTarget, timeoutMs = 4000): Promise<Reach> {
  if (t === 'device' && !navigator.serviceWorker?.controller) return 'down';
  try {
    const h = await new FaztApi(t).health(timeoutMs);
    return h && h.ok ? 'up' : 'down';
  } catch {
    return 'down';
  }
}

/**
 * The node to act on at start: the stored choice when it answers; otherwise the hub when it
 * answers, else this device when it answers, else the stored choice or the hub (shown as offline).
 */
export function pickTarget(stored: NodeTarget | undefined, hub: Reach, device: Reach): NodeTarget {
  if (stored === 'hub' && hub !== 'down') return 'hub';
  if (stored === 'device' && device !== 'down') return 'device';
  if (hub === 'up') return 'hub';
  if (device === 'up') return 'device';
  return stored ?? 'hub';
}
