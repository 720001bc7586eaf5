/**
 * Guided mode: the home screen of big app tiles for family members. Whether it is on, and how the
 * owner locked it, is kept in this browser's localStorage:
 * - `none`: anyone can go back to the owner dashboard;
 * - `pin`: the device node's PIN (`DeviceLink.lock/unlock`, checked by the service worker);
 * - `password`: the hub owner's password (checked by signing in again).
 * The lock keeps admin screens out of reach of someone tapping around; it is not a wall against a
 * person who can clear the browser's data (that person can also reset the device).
 */

/** How guided mode is locked. */
export type GuidedLock = 'none' | 'pin' | 'password';

/** Guided mode as stored. */
export interface GuidedState {
  on: boolean;
  lock: GuidedLock;
}

/** localStorage key of {@link GuidedState}. */
export const GUIDED_KEY = 'fazt.guided';

/** The stored state (off and unlocked when none). */
export function loadGuided(): GuidedState {
  try {
    const v = JSON.parse(localStorage.getItem(GUIDED_KEY) ?? 'null') as Partial<GuidedState> | null;
    if (v && typeof v.on === 'boolean') return { on: v.on, lock: v.lock === 'pin' || v.lock === 'password' ? v.lock : 'none' };
  } catch {
    // unreadable: off
  }
  return { on: false, lock: 'none' };
}

/** Stores the state. */
export function saveGuided(s: GuidedState): void {
  try {
    localStorage.setItem(GUIDED_KEY, JSON.stringify(s));
  } catch {
    // private mode: lasts for this page
  }
}

/** A PIN the device accepts: 4 to 64 characters (the dashboard suggests digits). */
export function validPin(pin: string): boolean {
  return pin.length >= 4 && pin.length <= 64;
}
