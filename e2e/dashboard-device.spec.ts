/**
 * The dashboard acting on "this device": the node in the browser's service worker, reached at
 * `/~device/api/…` on the hub's origin (service workers allowed here). Switching from the hub and
 * back, deploy with phases, open the app in its frame, versions, live logs over the device link,
 * the storage browser, settings (quota, export as a download, import with a confirm, backups), the
 * guided-mode PIN lock, and working offline while the hub is said to be unreachable.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, startNode, test, type FaztNode } from './fixtures.js';
import { expectAccessible as checkAccessible, screenshotSizes } from './screens.js';
import type { Browser, BrowserContext, Page } from '@playwright/test';

test.use({ serviceWorkers: 'allow' });

const PASSWORD = 'correct horse battery';
const PHONE = { width: 360, height: 740 };
let node: FaztNode;
let context: BrowserContext;
let page: Page;
let appDir: string;
let exported: string;

const APP_FILES: Record<string, string> = {
  'app.json': JSON.stringify({ name: 'pocket', title: 'Pocket' }),
  'index.html': '<!doctype html><html lang="en"><title>Pocket</title><h1>Pocket</h1><p id="n">…</p><script type="module" src="app.js"></script></html>',
  'app.js': "fetch('api/visit').then((r) => r.json()).then((j) => (document.getElementById('n').textContent = 'visits: ' + j.visits));",
  'api/main.js': `export default {
  async fetch(request) {
    const n = await fazt.kv.increment('visits');
    await fazt.docs.collection('moments').insert({ n });
    console.log('pocket visit ' + n);
    return { visits: n };
  },
};
`,
};

/** Screenshots of the current screen at phone, larger phone and desktop size. */
const shots = (name: string) => screenshotSizes(page, `device-${name}`);
/** axe-core on the current screen: no serious or critical violations. */
const expectAccessible = (what: string) => checkAccessible(page, what);

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }: { browser: Browser }) => {
  node = await startNode();
  const setup = await fetch(`${node.origin}/api/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
  expect(setup.status).toBe(201);
  appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-e2e-pocket-'));
  for (const [p, text] of Object.entries(APP_FILES)) {
    fs.mkdirSync(path.dirname(path.join(appDir, p)), { recursive: true });
    fs.writeFileSync(path.join(appDir, p), text);
  }
  context = await browser.newContext({ viewport: PHONE, serviceWorkers: 'allow', acceptDownloads: true });
  page = await context.newPage();
});

test.afterAll(async () => {
  await context?.close();
  await node?.stop();
  for (const p of [appDir, exported && path.dirname(exported)]) if (p) fs.rmSync(p, { recursive: true, force: true });
});

test('the device node starts in the service worker; the switcher moves from the hub to this device', async () => {
  await page.goto(`${node.origin}/`);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await page.waitForFunction(() => !!navigator.serviceWorker.controller, null, { timeout: 60_000 });
  const health = await page.evaluate(async () => (await fetch('/~device/api/health')).json());
  expect(health).toMatchObject({ ok: true });
  await page.getByRole('button', { name: /Acting on Hub/ }).click();
  const device = page.getByRole('group', { name: 'Choose the node to act on' }).getByRole('button', { name: /This device/ });
  await expect(device).toContainText('Connected.');
  await device.click();
  await expect(page.getByRole('button', { name: /^Acting on This device\. Change node$/ })).toBeVisible();
  // the device needs no sign-in: the dashboard is its owner
  await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
  await expect(page.getByText('No apps yet.')).toBeVisible();
  await shots('apps-empty');
  await expectAccessible('device apps');
});

test('deploy a folder to this device: phases instead of bytes, then the app opens in its frame', async () => {
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Deploy' }).click();
  await expect(page.getByText('goes live on This device')).toBeVisible();
  await page.getByLabel('Choose a folder').setInputFiles(appDir);
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Deployed pocket, version 1' })).toBeVisible({ timeout: 60_000 });
  await shots('deploy-done');
  await page.getByRole('link', { name: 'Open pocket' }).click();
  await expect(page.getByRole('heading', { name: 'Pocket', level: 1 })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Open on its own address' })).toHaveCount(0);
  const frame = page.frameLocator('fazt-app-frame iframe');
  await expect(frame.getByRole('heading', { name: 'Pocket' })).toBeVisible();
  await expect(frame.getByText('visits: 1')).toBeVisible();
  await shots('open');
  // the hub knows nothing of it
  expect((await fetch(`${node.origin}/a/pocket/`)).status).toBe(404);
});

test('versions, live logs over the device link, and the storage browser on this device', async () => {
  await page.goto(`${node.origin}/#/app/pocket/logs`);
  const log = page.getByRole('log', { name: 'Log of pocket' });
  await expect(log).toContainText('pocket visit 1');
  await expect(page.getByText('Live: new lines appear as they are written.')).toBeVisible();
  await page.evaluate(async () => (await fetch('/~device/a/pocket/api/visit')).json());
  await expect(log).toContainText('pocket visit 2');
  await shots('logs');
  await page.getByRole('link', { name: 'Storage' }).click();
  await expect(page.getByRole('button', { name: 'moments (2)' })).toHaveAttribute('aria-pressed', 'true');
  await page.getByRole('button', { name: 'Keys and values (1)' }).click();
  await expect(page.getByRole('heading', { name: 'Keys and values (1)' })).toBeVisible();
  await shots('storage');
  await page.getByRole('link', { name: 'Versions' }).click();
  await expect(page.locator('li.version', { hasText: 'Version 1' })).toContainText('live');
  await expectAccessible('device versions');
});

test('settings: quota, export as a download, import with a confirm, backups', async () => {
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Settings' }).click();
  await expect(page.getByRole('heading', { name: "This device's node" })).toBeVisible();
  await expect(page.locator('dd', { hasText: 'Ready' })).toBeVisible();
  await expect(page.getByText(/of .* available/)).toBeVisible();
  await shots('settings');
  await expectAccessible('device settings');

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the cartridge' }).click()]);
  expect(download.suggestedFilename()).toMatch(/^fazt-.*\.db$/);
  exported = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-e2e-export-')), download.suggestedFilename());
  await download.saveAs(exported);
  expect(fs.readFileSync(exported).subarray(0, 16).toString('latin1')).toBe('SQLite format 3\u0000');

  await page.getByLabel(/Replace this device's cartridge with a file/).setInputFiles(exported);
  await expect(page.getByRole('alertdialog')).toContainText('Replace everything on this device');
  await shots('import-confirm');
  await page.getByRole('button', { name: 'Replace with this file' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Imported' })).toBeVisible({ timeout: 60_000 });
  await expect(page.getByRole('heading', { name: 'Backups on this device' })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Restore before-import-/ })).toBeVisible();
  // the app came back with the imported cartridge
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Apps' }).click();
  await expect(page.locator('li.app', { hasText: 'Pocket' })).toBeVisible();
});

test('guided mode locked with a PIN kept by the device node', async () => {
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Settings' }).click();
  await expect(page.getByRole('radio', { name: /A PIN/ })).toBeChecked();
  await page.getByLabel('New PIN (4 or more digits)').fill('2468');
  await page.getByLabel('The same PIN again').fill('2468');
  await page.getByRole('button', { name: 'Turn on guided mode' }).click();
  await expect(page.getByRole('heading', { name: 'Your apps' })).toBeVisible();
  await expect(page.getByText('They are on this device.')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Pocket' })).toBeVisible();
  await shots('guided-home');
  await expectAccessible('device guided home');
  // admin writes are refused by the device node while locked
  const write = await page.evaluate(async () => (await fetch('/~device/api/apps/pocket', { method: 'DELETE' })).status);
  expect(write).toBe(423);
  await page.getByRole('button', { name: 'For the owner: leave guided mode' }).click();
  await page.getByLabel('Owner PIN').fill('1111');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await expect(page.getByRole('alert')).toHaveText('That PIN is not right. Try again.');
  await page.getByLabel('Owner PIN').fill('2468');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await expect(page.getByRole('navigation', { name: 'Dashboard' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
  expect(await page.evaluate(async () => (await fetch('/~device/api/apps/nothing', { method: 'DELETE' })).status)).toBe(404);
});

test('offline: the dashboard starts from the cache and keeps this device usable; the hub is said to be unreachable', async () => {
  await context.setOffline(true);
  await page.reload();
  await expect(page.getByRole('button', { name: /^Acting on This device\. Change node$/ })).toBeVisible();
  await expect(page.locator('li.app', { hasText: 'Pocket' })).toBeVisible();
  await page.getByRole('button', { name: /Acting on This device/ }).click();
  await expect(page.getByRole('group', { name: 'Choose the node to act on' }).getByRole('button', { name: /Hub/ })).toContainText('Cannot be reached');
  await shots('offline-switcher');
  await page.keyboard.press('Escape');
  await context.setOffline(false);
});
