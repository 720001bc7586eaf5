/**
 * Every owner screen of the dashboard against a real hub (the headless node serving the built PWA),
 * in Debian's Chromium: deploy a folder and a zip with a progress bar and clear errors, versions and
 * rollback, the live log, the storage browser, opening an app in its frame, settings (tokens, sign
 * out), the node switcher, the hub going offline, and removing an app. Each screen is photographed
 * at 360×740, 390×800 and 1280×800 (e2e/.cache/screenshots/) and checked with axe-core at phone
 * size: no serious or critical violations.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { expect, startNode, test, type FaztNode } from './fixtures.js';
import { expectAccessible as checkAccessible, screenshotSizes, VIEWPORTS } from './screens.js';
import type { Browser, BrowserContext, Page } from '@playwright/test';

const PASSWORD = 'correct horse battery';
let node: FaztNode;
let context: BrowserContext;
let page: Page;
let appDir: string;

/** The test app: static page + server code that writes to kv, docs and blobs and logs a line. */
const APP_FILES: Record<string, string> = {
  'app.json': JSON.stringify({ name: 'shelf', title: 'Shelf' }),
  'index.html': '<!doctype html><html lang="en"><title>Shelf</title><h1>Shelf</h1><p id="n">…</p><script type="module" src="app.js"></script></html>',
  'app.js': "fetch('api/visit').then((r) => r.json()).then((j) => (document.getElementById('n').textContent = 'visits: ' + j.visits));",
  'api/main.js': `export default {
  async fetch(request) {
    const n = await fazt.kv.increment('visits');
    await fazt.kv.set('last-visit', { n, note: 'kept by the storage browser test' });
    await fazt.docs.collection('books').insert({ title: 'Book ' + n, n });
    await fazt.blobs.put('notes/' + n + '.txt', 'note number ' + n, { contentType: 'text/plain' });
    console.log('visit number ' + n);
    return { visits: n };
  },
};
`,
};


/** Screenshots of the current screen at phone, larger phone and desktop size. */
const shots = (name: string) => screenshotSizes(page, `dashboard-${name}`);
/** axe-core at phone size: no serious or critical violations. */
const expectAccessible = async (what: string) => {
  await page.setViewportSize(VIEWPORTS[0][1]);
  await checkAccessible(page, what);
};

/** Visits the test app's API from outside the browser (what a user of the app would do). */
async function visit(): Promise<number> {
  const r = await fetch(`${node.origin}/a/shelf/api/visit`);
  expect(r.status).toBe(200);
  return ((await r.json()) as { visits: number }).visits;
}

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }: { browser: Browser }) => {
  node = await startNode();
  const setup = await fetch(`${node.origin}/api/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
  expect(setup.status).toBe(201);
  appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-e2e-shelf-'));
  for (const [p, text] of Object.entries(APP_FILES)) {
    fs.mkdirSync(path.dirname(path.join(appDir, p)), { recursive: true });
    fs.writeFileSync(path.join(appDir, p), text);
  }
  context = await browser.newContext({ viewport: VIEWPORTS[0][1] });
  page = await context.newPage();
});

test.afterAll(async () => {
  await context?.close();
  await node?.stop();
  if (appDir) fs.rmSync(appDir, { recursive: true, force: true });
});

test('sign in on the hub; the header names it; the switcher shows this device as not available', async () => {
  await page.goto(`${node.origin}/`);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await shots('signin');
  await expectAccessible('sign in');
  await page.getByLabel('Owner password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
  await expect(page.locator('li.app', { hasText: 'Hello, Fazt' })).toBeVisible();
  await shots('apps');
  await expectAccessible('apps');

  const switcher = page.getByRole('button', { name: /^Acting on Hub · 127\.0\.0\.1:\d+\. Change node$/ });
  await switcher.click();
  const menu = page.getByRole('group', { name: 'Choose the node to act on' });
  await expect(menu).toBeVisible();
  // service workers are blocked in these tests: the device node is not there
  await expect(menu.getByRole('button', { name: /This device/ })).toBeDisabled();
  await expect(menu.getByRole('button', { name: /This device/ })).toContainText('Not available in this browser yet');
  await expect(menu.getByRole('button', { name: /Hub · .*\(acting on\)/ })).toBeVisible();
  await shots('switcher');
  await page.keyboard.press('Escape');
  await expect(menu).toBeHidden();
  await expect(switcher).toBeFocused();
});

test('deploy: a folder without app.json deploys under its folder’s name (or asks for one); a broken zip gets a clear error; a folder deploys with progress', async () => {
  await page.getByRole('link', { name: 'Deploy', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Deploy an app' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Deploy', exact: true })).toBeDisabled();
  await shots('deploy');
  await expectAccessible('deploy');

  // a built folder without app.json: named by its folder; one whose name is not an app name is refused before any upload
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-e2e-plain-'));
  const badName = path.join(parent, 'Not An App');
  fs.mkdirSync(badName);
  fs.writeFileSync(path.join(badName, 'index.html'), '<p>plain</p>');
  await page.getByLabel('Choose a folder').setInputFiles(badName);
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText('would take its name from the folder “Not An App”');
  const plain = path.join(parent, 'plain-site');
  fs.mkdirSync(plain);
  fs.writeFileSync(path.join(plain, 'index.html'), '<p>a plain built site</p>');
  await page.getByLabel('Choose a folder').setInputFiles(plain);
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Deployed plain-site, version 1' })).toBeVisible();
  expect(await (await fetch(`${node.origin}/a/plain-site/`)).text()).toBe('<p>a plain built site</p>');
  fs.rmSync(parent, { recursive: true, force: true });

  // a broken zip: the node's own message
  await page.getByLabel('Choose a zip file').setInputFiles({ name: 'broken.zip', mimeType: 'application/zip', buffer: Buffer.from('this is not a zip file at all') });
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  const err = page.getByRole('alert');
  await expect(err).toBeVisible();
  expect((await err.textContent())!.length).toBeGreaterThan(20);
  await shots('deploy-error');

  // a zip dropped on the drop zone is picked like a chosen one
  await page.locator('.drop').evaluate((zone) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array([80, 75, 5, 6])], 'dropped.zip', { type: 'application/zip' }));
    for (const type of ['dragover', 'drop']) zone.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  await expect(page.getByText('Selected: dropped.zip')).toBeVisible();

  // the real app folder: packed in the browser, uploaded with a progress bar
  await page.getByLabel('Choose a folder').setInputFiles(appDir);
  await expect(page.getByText(/Selected: .*4 files/)).toBeVisible();
  // the bar may come and go within one frame on an idle machine: record every one the screen adds
  await page.locator('fazt-deploy').evaluate((el) => {
    const seen: string[] = [];
    (el as unknown as { seenProgress: string[] }).seenProgress = seen;
    new MutationObserver((records) => {
      for (const r of records) {
        for (const n of r.addedNodes) {
          const bars = n instanceof Element ? [...(n.matches('progress') ? [n] : []), ...n.querySelectorAll('progress')] : [];
          for (const b of bars) seen.push(b.getAttribute('aria-label') ?? '');
        }
      }
    }).observe(el.shadowRoot!, { subtree: true, childList: true });
  });
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Deployed shelf, version 1' })).toBeVisible();
  expect(await page.locator('fazt-deploy').evaluate((el) => (el as unknown as { seenProgress: string[] }).seenProgress)).toContain('Deploy progress');
  await expect(page.getByRole('status').filter({ hasText: 'Deployed shelf' })).toContainText('4 files');
  await shots('deploy-done');
  expect(await visit()).toBe(1);
});

test('versions: a zip deploys version 2; version 1 is made live again', async () => {
  const v2 = zipSync({ ...Object.fromEntries(Object.entries(APP_FILES).map(([k, v]) => [k, strToU8(v)])), 'index.html': strToU8('<!doctype html><title>Shelf</title><h1>Shelf two</h1>') });
  await page.getByLabel('Choose a zip file').setInputFiles({ name: 'shelf-v2.zip', mimeType: 'application/zip', buffer: Buffer.from(v2) });
  await page.getByRole('button', { name: 'Deploy', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Deployed shelf, version 2' })).toBeVisible();
  await page.getByRole('link', { name: 'Versions' }).click();
  await expect(page.getByRole('heading', { name: 'Shelf', exact: true })).toBeVisible();
  const v2row = page.locator('li.version', { hasText: 'Version 2' });
  await expect(v2row).toContainText('live');
  await shots('versions');
  await expectAccessible('versions');
  await page.getByRole('button', { name: 'Make version 1 live' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Version 1 of shelf is live (was 2).' })).toBeVisible();
  await expect(page.locator('li.version', { hasText: 'Version 1' })).toContainText('live');
  await expect(page.getByRole('button', { name: 'Make version 2 live' })).toBeVisible();
  const served = await (await fetch(`${node.origin}/a/shelf/`)).text();
  expect(served).toContain('<h1>Shelf</h1>');
});

test('logs: entries written by the app appear live', async () => {
  await page.getByRole('link', { name: 'Logs' }).click();
  const log = page.getByRole('log', { name: 'Log of shelf' });
  await expect(log).toContainText('visit number 1');
  await expect(page.getByText('Live: new lines appear as they are written.')).toBeVisible();
  await visit();
  await expect(log).toContainText('visit number 2');
  await page.getByLabel('Show').selectOption('error');
  await expect(log).not.toContainText('visit number 2');
  await page.getByLabel('Show').selectOption('debug');
  await shots('logs');
  await expectAccessible('logs');
});

test('storage browser: kv keys, documents and blobs of the app, read-only', async () => {
  await page.getByRole('link', { name: 'Storage' }).click();
  // documents first, as a table; a record's JSON on demand
  await expect(page.getByRole('button', { name: 'books (2)' })).toHaveAttribute('aria-pressed', 'true');
  await expect(page.locator('fazt-storage tr', { hasText: 'Book 2' })).toContainText('title');
  // documents are listed by id (random UUIDs): pick Book 2's row, not a position
  await page.locator('fazt-storage tr', { hasText: 'Book 2' }).getByRole('button', { name: /^Show the JSON of document / }).click();
  await expect(page.getByText('"title": "Book 2"')).toBeVisible();
  await page.getByRole('button', { name: /^Keys and values \(2\)/ }).click();
  await expect(page.getByRole('heading', { name: 'Keys and values (2)' })).toBeVisible();
  const kv = page.locator('section', { has: page.getByRole('heading', { name: /Keys and values/ }) });
  await expect(kv.locator('tr', { hasText: 'visits' })).toContainText('2');
  await expect(kv.locator('tr', { hasText: 'last-visit' })).toContainText('kept by the storage browser test');
  await page.getByRole('button', { name: /^Files \(2\)/ }).click();
  const files = page.locator('section', { has: page.getByRole('heading', { name: /^Files/ }) });
  await expect(files.locator('tr', { hasText: 'notes/1.txt' })).toContainText('text/plain');
  await expect(files.locator('tr', { hasText: 'notes/2.txt' })).toBeVisible();
  await shots('storage');
  await expectAccessible('storage');
});

test('open: the app runs in its frame; the hub app can also open on its own address', async () => {
  await page.getByRole('link', { name: 'Open', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Shelf', level: 1 })).toBeVisible();
  const own = page.getByRole('link', { name: 'Open on its own address' });
  await expect(own).toHaveAttribute('href', `http://shelf.localhost:${node.port}/`);
  await expect(page.locator('fazt-app-frame')).toBeAttached();
  const frame = page.frameLocator('fazt-app-frame iframe');
  await expect(frame.getByRole('heading', { name: 'Shelf' })).toBeVisible();
  await expect(frame.getByText(/visits: \d+/)).toBeVisible();
  await shots('open');
  await expectAccessible('an open app');
  await page.getByRole('link', { name: 'Apps', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
});

test('settings: tokens are created and revoked; the backup link; guided mode and storage facts', async () => {
  await page.getByRole('link', { name: 'Settings' }).click();
  await expect(page.getByRole('heading', { name: 'API tokens' })).toBeVisible();
  await page.getByRole('button', { name: 'Create deploy token' }).click();
  const token = (await page.locator('#token-out code').textContent())!;
  expect(token).toMatch(/^fazt_/);
  expect((await fetch(`${node.origin}/api/apps`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  await expect(page.getByRole('link', { name: 'Download a backup' })).toHaveAttribute('href', '/api/backup');
  await expect(page.getByRole('heading', { name: 'Guided mode' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Storage in this browser' })).toBeVisible();
  await shots('settings');
  await expectAccessible('settings');
  await page.getByRole('button', { name: 'Revoke dashboard deploy' }).click();
  await page.getByRole('button', { name: 'Revoke', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Revoke dashboard deploy' })).toHaveCount(0);
  expect((await fetch(`${node.origin}/api/apps`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
});

test('offline hub: said plainly, and the dashboard comes back when it answers again', async () => {
  await page.getByRole('link', { name: 'Apps', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
  await context.setOffline(true);
  await page.getByRole('link', { name: 'Deploy an app' }).click();
  await page.getByRole('link', { name: 'Apps', exact: true }).click();
  const banner = page.getByRole('alert').filter({ hasText: 'cannot be reached right now' });
  await expect(banner).toContainText(`The hub at 127.0.0.1:${node.port} cannot be reached right now.`);
  await expect(page.getByRole('button', { name: /Acting on Hub .* \(cannot be reached\)/ })).toBeVisible();
  await shots('offline');
  await context.setOffline(false);
  await banner.getByRole('button', { name: 'Try again' }).click();
  await expect(banner).toBeHidden();
  await expect(page.locator('li.app', { hasText: 'Shelf' })).toBeVisible();
});

test('remove: asked twice, then the app is gone', async () => {
  await page.getByRole('link', { name: 'Details of Shelf' }).click();
  await page.getByRole('button', { name: 'Remove…' }).click();
  await expect(page.getByText('This cannot be undone.')).toBeVisible();
  await shots('remove');
  await page.getByRole('button', { name: 'Yes, remove shelf' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'shelf was removed.' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
  await expect(page.locator('li.app', { hasText: 'Shelf' })).toHaveCount(0);
  expect((await fetch(`${node.origin}/api/apps/shelf`, { headers: { authorization: `Bearer ${'x'}` } })).status).toBe(401);
});
