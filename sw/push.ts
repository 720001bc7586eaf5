/// <reference lib="webworker" />
/**
 * Notifications in the service worker (docs/notify.md):
 * - `push`: a Web Push message from a hub (its payload is JSON `{ v: 'fazt-notify/1', title, body,
 *   url, icon, tag, app }`, see shared/notify/message.ts) is shown with `showNotification`; the
 *   worker stays alive until it is shown (`waitUntil`). A push that is not Fazt's JSON is shown as a
 *   plain "Fazt" notification with its text (a push must always show something: browsers penalise
 *   silent pushes under `userVisibleOnly`).
 * - `notificationclick`: focuses a window of this app already on that URL, else navigates a window
 *   of the PWA there, else opens a new one.
 * - {@link localNotifier}: the browser node's own `fazt.notify` shows on this device directly.
 */
import type { LocalNotification, LocalNotifier } from '../shared/index.js';

/** The payload's marker (shared/notify/message.ts `PushPayload.v`). */
const PAYLOAD_VERSION = 'fazt-notify/1';
const DEFAULT_ICON = '/icons/icon-192.png';

/** What a notification's `data` carries. */
interface NotificationData {
  url: string;
  app?: string;
}

/** The `showNotification` options of a notification (icon, badge, tag, data.url). */
function options(n: LocalNotification): NotificationOptions {
  return {
    body: n.body,
    icon: n.icon || DEFAULT_ICON,
    badge: DEFAULT_ICON,
    tag: n.tag,
    data: { url: n.url || '/', app: n.app } satisfies NotificationData,
  };
}

/** Reads a push message: Fazt's JSON, or any text as a plain notification. */
export function parsePush(data: PushMessageData | null): LocalNotification {
  if (!data) return { title: 'Fazt', url: '/' };
  try {
    const p = data.json() as { v?: string; title?: unknown; body?: unknown; url?: unknown; icon?: unknown; tag?: unknown; app?: unknown };
    if (p && p.v === PAYLOAD_VERSION && typeof p.title === 'string') {
      const s = (v: unknown) => (typeof v === 'string' ? v : undefined);
      // only same-origin paths or https URLs are opened (the hub checks this too)
      const url = s(p.url) && (/^\/(?!\/)/.test(p.url as string) || /^https:\/\//.test(p.url as string)) ? (p.url as string) : '/';
      const icon = s(p.icon) && /^\/(?!\/)/.test(p.icon as string) ? (p.icon as string) : DEFAULT_ICON;
      return { title: p.title, body: s(p.body), url, icon, tag: s(p.tag), app: s(p.app) };
    }
  } catch {
    /* not JSON: shown as text */
  }
  return { title: 'Fazt', body: data.text().slice(0, 1000), url: '/' };
}

/** Installs the `push` and `notificationclick` handlers on the worker. */
export function installPushHandlers(self: ServiceWorkerGlobalScope): void {
  self.addEventListener('push', (event) => {
    const n = parsePush(event.data);
    event.waitUntil(self.registration.showNotification(n.title, options(n)));
  });

  self.addEventListener('notificationclick', (event) => {
    event.notification.close();
    const data = (event.notification.data ?? {}) as Partial<NotificationData>;
    const target = new URL(data.url || '/', self.location.origin);
    event.waitUntil(
      (async () => {
        const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
        const same = windows.find((w) => w.url === target.href);
        // focus() and openWindow() need the click's user activation: without one they fail, and the
        // navigation below still happened
        if (same) {
          await same.focus().catch(() => undefined);
          return;
        }
        // a window of the PWA (same origin) is reused: it moves to the app's route
        const ours = target.origin === self.location.origin ? windows.find((w) => new URL(w.url).origin === self.location.origin) : undefined;
        if (ours) {
          const moved = await ours.navigate(target.href).catch(() => null);
          await (moved ?? ours).focus().catch(() => undefined);
          return;
        }
        await self.clients.openWindow(target.href);
      })(),
    );
  });
}

/** The browser node's {@link LocalNotifier}: `registration.showNotification` on this device. */
export function localNotifier(self: ServiceWorkerGlobalScope): LocalNotifier {
  return {
    async show(n) {
      if (typeof Notification !== 'undefined' && Notification.permission !== 'granted') {
        throw new Error('Notifications are not allowed on this device: in Fazt, open Settings and press "Notify me on this device".');
      }
      await self.registration.showNotification(n.title, options(n));
    },
  };
}
