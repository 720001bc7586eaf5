/**
 * "Add to home screen": keeps the browser's install offer (`beforeinstallprompt`, Chromium) so a
 * button can show it later, and tells whether Fazt already runs as an installed app.
 */

/** The event Chromium fires when the page may be installed (not in lib.dom). */
interface InstallPromptEvent extends Event {
  prompt(): Promise<void>;
  userChoice: Promise<{ outcome: 'accepted' | 'dismissed' }>;
}

let offer: InstallPromptEvent | undefined;
const listeners = new Set<() => void>();

/** Starts listening for the browser's install offer (call once, early). */
export function watchInstallOffer(): void {
  addEventListener('beforeinstallprompt', (e) => {
    e.preventDefault();
    offer = e as InstallPromptEvent;
    listeners.forEach((l) => l());
  });
  addEventListener('appinstalled', () => {
    offer = undefined;
    listeners.forEach((l) => l());
  });
}

/** Calls `fn` when the offer appears or goes. @returns a function that stops. */
export function onInstallOfferChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** True when the browser offered to install (the button can do it in one tap). */
export function canOfferInstall(): boolean {
  return !!offer;
}

/** True when Fazt runs from the home screen (installed, standalone window). */
export function isInstalled(): boolean {
  return matchMedia('(display-mode: standalone)').matches || (navigator as Navigator & { standalone?: boolean }).standalone === true;
}

/**
 * What came of {@link offerInstall}: `accepted` (Fazt is being installed), `dismissed` (the person
 * closed the browser's install dialog), `unavailable` (no dialog appeared: the browser withdrew its
 * offer, or `prompt()` was refused; show the browser's own steps instead).
 */
export type InstallOutcome = 'accepted' | 'dismissed' | 'unavailable';

/**
 * Shows the browser's install dialog (`BeforeInstallPromptEvent.prompt()`, usable once per offer).
 * @returns what came of it; never throws.
 */
export async function offerInstall(): Promise<InstallOutcome> {
  if (!offer) return 'unavailable';
  const o = offer;
  offer = undefined;
  try {
    await o.prompt();
    const { outcome } = await o.userChoice;
    return outcome === 'accepted' ? 'accepted' : 'dismissed';
  } catch {
    return 'unavailable';
  } finally {
    listeners.forEach((l) => l());
  }
}

/** The platform, for install instructions in plain words. */
export function platform(): 'ios' | 'android' | 'desktop' {
  const ua = navigator.userAgent;
  if (/iPhone|iPad|iPod/i.test(ua)) return 'ios';
  if (/Android/i.test(ua)) return 'android';
  return 'desktop';
}
