/**
 * What the dashboard makes of `GET /api/sync/status` (docs/api.md "Sync", docs/sync-spec.md S37):
 * the progress of a catch-up, the two words guided mode may say, and how to show a conflict's values.
 * Pure functions, no DOM.
 */
import type { SyncPeerStatus } from './api-types.js';

/** A catch-up under way with one peer: the most changes seen pending at once since it began. */
export interface CatchUp {
  /** Largest `pendingIn + pendingOut` seen since the catch-up began (the bar's 100 %). */
  total: number;
  /** `pendingIn + pendingOut` now. */
  left: number;
}

/**
 * Follows catch-ups across polls: a peer that is connected and has changes pending either way is
 * catching up; its bar's total is the largest pending count seen since it started (the status has no
 * total of its own: it reports what is left). A peer caught up, or not connected, has none.
 * @param before the catch-ups of the previous poll, by node id.
 * @returns the catch-ups now, by node id.
 */
export function trackCatchUps(before: ReadonlyMap<string, CatchUp>, status: readonly SyncPeerStatus[]): Map<string, CatchUp> {
  const now = new Map<string, CatchUp>();
  for (const s of status) {
    const left = s.pendingIn + s.pendingOut;
    if (!s.connected || left === 0) continue;
    const prev = before.get(s.nodeId);
    now.set(s.nodeId, { total: Math.max(prev?.total ?? 0, left), left });
  }
  return now;
}

/** The share of a catch-up done, 0–1. */
export function catchUpDone(c: CatchUp): number {
  return c.total <= 0 ? 1 : Math.min(1, Math.max(0, (c.total - c.left) / c.total));
}

/**
 * The only thing guided mode says about sync (issue 12, item 5): `up-to-date` when every paired
 * device is connected (changes then travel within moments), `when-home` when one is not (what was
 * written here waits until the devices meet again, at home); `null` when nothing is paired (nothing
 * to say). Sync machinery (peers, counts, conflicts) is never shown there.
 */
export function guidedSync(status: readonly SyncPeerStatus[] | undefined): 'up-to-date' | 'when-home' | null {
  if (!status || status.length === 0) return null;
  return status.every((s) => s.connected) ? 'up-to-date' : 'when-home';
}

/**
 * A conflict's value (JSON text, `null`: deleted) in short readable form: strings without quotes,
 * other JSON compact, cut to `max` characters.
 */
export function conflictValue(text: string | null, max = 120): string {
  if (text === null) return '(deleted)';
  let shown = text;
  try {
    const v = JSON.parse(text) as unknown;
    shown = typeof v === 'string' ? v : JSON.stringify(v);
  } catch {
    // not JSON: as stored
  }
  return shown.length > max ? `${shown.slice(0, max - 1)}…` : shown;
}
