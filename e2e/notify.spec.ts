/**
 * Notifications in the browser (docs/notify.md), against the real node and Debian's Chromium:
 * - a Web Push message, delivered to the PWA's service worker with CDP
 *   `ServiceWorker.deliverPushMessage` (headless Chromium cannot subscribe to a vendor push service;
 *   the sending side is tested against a local push-service stand-in in node/notify.test.ts), is
 *   shown with its title, body, icon and URL; a click on it brings the PWA to the app's route;
 * - the browser node, offline, shows an app's `fazt.notify` on its own device
 *   (`registration.showNotification`).
 */
import type { Page } from '@playwright/test';
import path from 'node:path';
import { expect, SCREENSHOT_DIR, startNode, test } from './fixtures.js';
import { expectAccessible, screenshotSizes } from './screens.js';
import { deployToDevice, device, openPwa } from './pwa-fixtures.js';

test.use({ serviceWorkers: 'allow' });

interface Shown {
  title: string;
  body: string;
  icon: string;
  tag: string;
  data: { url?: string; app?: string } | null;
}

/** The notifications the service worker's registration shows now. */
function shown(page: Page): Promise<Shown[]> {
  return page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    return (await reg.getNotifications()).map((n) => ({ title: n.title, body: n.body, icon: n.icon, tag: n.tag, data: n.data as Shown['data'] }));
  });
}

test('a Web Push message is shown by the service worker (title, body, icon, URL), and a click opens the app', async ({ fazt, page, context }) => {
  await context.grantPermissions(['notifications'], { origin: fazt.origin });
  await openPwa(page, fazt.origin);
  const s = await page.context().newCDPSession(page);
  const registrationId = new Promise<string>((resolve) =>
    s.on('ServiceWorker.workerRegistrationUpdated', (e: { registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] }) => {
      const r = e.registrations.find((x) => !x.isDeleted && x.scopeURL === fazt.origin + '/');
      if (r) resolve(r.registrationId);
    }),
  );
  await s.send('ServiceWorker.enable');
  // exactly what the hub sends for fazt.notify({ title, body, url: 'notes/42', tag }) of the app "notes" (shared/notify/message.ts)
  const payload = { v: 'fazt-notify/1', title: 'New note', body: 'Buy milk', url: '/#/open/notes/notes%2F42', icon: '/a/notes/icon.png', tag: 'note-42', app: 'notes' };
  await s.send('ServiceWorker.deliverPushMessage', { origin: fazt.origin, registrationId: await registrationId, data: JSON.stringify(payload) });
  await expect.poll(async () => (await shown(page)).length, { timeout: 10_000 }).toBe(1);
  const [n] = await shown(page);
  expect(n).toMatchObject({ title: 'New note', body: 'Buy milk', icon: `${fazt.origin}/a/notes/icon.png`, tag: 'note-42', data: { url: '/#/open/notes/notes%2F42', app: 'notes' } });

  // something that is not Fazt's JSON is still shown (a push must show something), as text
  await s.send('ServiceWorker.deliverPushMessage', { origin: fazt.origin, registrationId: await registrationId, data: 'plain words' });
  await expect.poll(async () => (await shown(page)).map((x) => [x.title, x.body]), { timeout: 10_000 }).toContainEqual(['Fazt', 'plain words']);
  // a payload pointing elsewhere is not followed: its URL falls back to the dashboard
  await s.send('ServiceWorker.deliverPushMessage', { origin: fazt.origin, registrationId: await registrationId, data: JSON.stringify({ ...payload, tag: 'evil', url: '//evil.example/', icon: 'https://evil.example/i.png' }) });
  await expect.poll(async () => (await shown(page)).find((x) => x.tag === 'evil')?.data?.url, { timeout: 10_000 }).toBe('/');

  // a click: the service worker's notificationclick handler gets the shown notification. Headless
  // Chromium has no notification UI to click, so the event is dispatched in the worker (without the
  // user activation a real click brings, focus() is refused; the navigation is not)
  const worker = context.serviceWorkers().find((w) => w.url().startsWith(fazt.origin));
  expect(worker, 'the PWA service worker').toBeTruthy();
  await worker!.evaluate(async () => {
    // worker-scope globals (this file is type-checked with the DOM library)
    const sw = self as unknown as { registration: ServiceWorkerRegistration; dispatchEvent(e: Event): boolean };
    const NotificationEventCtor = (globalThis as unknown as { NotificationEvent: new (type: string, init: { notification: Notification }) => Event }).NotificationEvent;
    const [note] = (await sw.registration.getNotifications()).filter((x: Notification) => x.tag === 'note-42');
    try {
      sw.dispatchEvent(new NotificationEventCtor('notificationclick', { notification: note! }));
    } catch {
      /* waitUntil refuses an untrusted event after starting the work */
    }
  });
  await expect.poll(() => new URL(page.url()).hash, { timeout: 10_000 }).toBe('#/open/notes/notes%2F42');
  await expect.poll(async () => (await shown(page)).some((x) => x.tag === 'note-42'), { timeout: 10_000 }).toBe(false); // closed by the click
  await s.detach();
});

test('the browser node, offline, shows an app\'s fazt.notify on its own device', async ({ fazt, page, context }) => {
  await context.grantPermissions(['notifications'], { origin: fazt.origin });
  await openPwa(page, fazt.origin);
  const app = {
    'app.json': JSON.stringify({ name: 'pinger', title: 'Pinger', icon: 'icon.png', permissions: ['notify'] }),
    'index.html': '<!doctype html><title>Pinger</title>',
    'icon.png': 'png',
    'api/main.js': `export default {
  async fetch(request) {
    try {
      return Response.json({ deliveries: await fazt.notify({ title: 'Ping', body: 'from the device node', url: 'pings', tag: 'ping' }) });
    } catch (e) {
      return Response.json({ code: e.code, message: e.message }, { status: 400 });
    }
  },
};`,
  };
  expect((await deployToDevice(page, 'pinger', app)).status).toBe(201);
  await context.setOffline(true);
  try {
    const denied = await device(page, '/a/pinger/api/ping', { method: 'POST' });
    expect(denied.json).toMatchObject({ code: 'PERMISSION_DENIED' });
    const granted = await device(page, '/api/apps/pinger/permissions', { method: 'POST', body: JSON.stringify({ grant: ['notify'] }), headers: { 'content-type': 'application/json' } });
    expect(granted.status, granted.text).toBe(200);
    const r = await device(page, '/a/pinger/api/ping', { method: 'POST' });
    expect(r.json.deliveries, r.text).toMatchObject([{ subscriptionId: 'local', device: 'this device', status: 'shown' }]);
    const n = (await shown(page)).find((x) => x.tag === 'ping');
    expect(n).toMatchObject({ title: 'Ping', body: 'from the device node', icon: `${fazt.origin}/~device/a/pinger/icon.png`, data: { url: '/#/open/pinger/pings', app: 'pinger' } });
  } finally {
    await context.setOffline(false);
  }
});

test('Settings → Notifications: "Notify me on this device" asks permission and subscribes, or says why it cannot', async ({ page, context }) => {
  // its own node: the owner set up here must not leak into other spec files sharing the worker's node
  const fazt = await startNode();
  try {
  await context.grantPermissions(['notifications'], { origin: fazt.origin });
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto(`${fazt.origin}/`);
  // the owner is set up from 127.0.0.1 (no code); the session cookie lands in this browser
  const setup = await page.evaluate(async () => (await fetch('/api/setup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'correct horse battery' }) })).status);
  expect(setup).toBe(201);
  await page.goto(`${fazt.origin}/#/settings`);
  const section = page.locator('fazt-notify-settings');
  await expect(section.getByRole('heading', { name: 'Notifications' })).toBeVisible();
  await section.getByRole('button', { name: 'Notify me on this device' }).click();
  // headless Chromium has no vendor push service: the subscription fails, and the page says why
  await expect(section.getByRole('alert')).toContainText('could not subscribe to its push service', { timeout: 30_000 });
  await screenshotSizes(page, 'notify-settings');
  await section.screenshot({ path: path.join(SCREENSHOT_DIR, 'notify-settings-section-phone.png') });
  await expectAccessible(page, 'notify settings');
  // the hub's key was made for it, and "Send a test" reports that no device is subscribed
  expect((await (await fetch(`${fazt.origin}/api/push/vapid-public-key`)).json()).publicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
  await section.getByRole('button', { name: 'Send a test' }).click();
  await expect(section.getByRole('status')).toHaveText('No device is subscribed yet.');
  } finally {
    await fazt.stop();
  }
});
