/**
 * One cartridge file everywhere (issue 4, item 8), against the real built PWA in Chromium and real
 * headless nodes: the phone's cartridge, taken from the browser node, runs on a headless node started
 * with `fazt start --db <file>`; a headless node's backup (`GET /api/backup`), imported on the phone
 * through the dashboard's Settings, runs in the browser node. Apps and their data survive both trips.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { createToken, expect, startNode, test, type FaztNode } from './fixtures.js';
import { deployToDevice, device, openPwa } from './pwa-fixtures.js';

test.use({ serviceWorkers: 'allow' });

const PASSWORD = 'correct horse battery';

/** A small app with server code and data in kv and docs. */
const TRIP_APP: Record<string, string> = {
  'app.json': JSON.stringify({ name: 'trip', title: 'Trip log' }),
  'index.html': '<!doctype html><html lang="en"><title>Trip log</title><h1>Trip log</h1></html>',
  'api/main.js': `export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === 'POST') {
      const text = url.searchParams.get('text');
      await fazt.docs.collection('entries').insert({ text });
      return { count: await fazt.kv.increment('count') };
    }
    const entries = await fazt.docs.collection('entries').find({ sort: { text: 1 } });
    return { count: await fazt.kv.get('count'), entries: entries.map((e) => e.text) };
  },
};
`,
};

/** Opens the dashboard and waits until the service worker controls it and its device node answers. */
async function deviceReady(page: Page, origin: string): Promise<void> {
  await openPwa(page, origin);
  await expect.poll(async () => (await device(page, '/api/health')).status, { timeout: 60_000 }).toBe(200);
}

let hub: FaztNode | undefined;
let laptop: FaztNode | undefined;
let dir: string;

test.beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-e2e-trip-'));
});

test.afterAll(async () => {
  await laptop?.stop();
  await hub?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('phone → headless node: the exported cartridge runs with `fazt start --db`, apps and data intact', async ({ browser }) => {
  hub = await startNode();
  const context = await browser.newContext({ serviceWorkers: 'allow' });
  const page = await context.newPage();
  await deviceReady(page, hub.origin);

  // deploy an app into the phone and write data through its API, all inside the browser node
  const deployed = await deployToDevice(page, 'trip', TRIP_APP);
  expect(deployed.status, deployed.text).toBe(201);
  for (const text of ['bus to the coast', 'ferry at 9']) {
    expect((await device(page, `/a/trip/api/add?text=${encodeURIComponent(text)}`, { method: 'POST' })).json.count).toBeGreaterThan(0);
  }
  expect((await device(page, '/a/trip/api/')).json).toEqual({ count: 2, entries: ['bus to the coast', 'ferry at 9'] });
  // the hub never saw it
  expect((await fetch(`${hub.origin}/a/trip/api/`)).status).toBe(404);

  // the cartridge as the dashboard's download gets it: one whole SQLite file
  const bytes = await page.evaluate(async () => {
    const r = await fetch('/~device/api/backup');
    if (!r.ok) throw new Error(`backup: ${r.status} ${await r.text()}`);
    return Array.from(new Uint8Array(await r.arrayBuffer()));
  });
  const file = path.join(dir, 'phone.db');
  fs.writeFileSync(file, Buffer.from(bytes));
  expect(fs.readFileSync(file).subarray(0, 16).toString('latin1')).toBe('SQLite format 3\u0000');
  await context.close();

  laptop = await startNode({ dbPath: file });
  const served = await fetch(`${laptop.origin}/a/trip/api/`);
  expect(served.status).toBe(200);
  expect(await served.json()).toEqual({ count: 2, entries: ['bus to the coast', 'ferry at 9'] });
  const page1 = await fetch(`${laptop.origin}/a/trip/`, { headers: { 'sec-fetch-mode': 'cors' } });
  expect(await page1.text()).toContain('<h1>Trip log</h1>');
  // and it keeps working there
  expect(await (await fetch(`${laptop.origin}/a/trip/api/add?text=train`, { method: 'POST' })).json()).toEqual({ count: 3 });
});

test("headless node → phone: a hub's backup imported in Settings runs in the browser node", async ({ browser }) => {
  expect(laptop, 'runs after the first test').toBeTruthy();
  // the laptop node's cartridge now holds trip (3 entries) and its seeded example apps
  const token = await createToken(laptop!);
  const backup = await fetch(`${laptop!.origin}/api/backup`, { headers: { authorization: `Bearer ${token}` } });
  expect(backup.status).toBe(200);
  const file = path.join(dir, 'laptop-backup.db');
  fs.writeFileSync(file, Buffer.from(await backup.arrayBuffer()));

  const context = await browser.newContext({ serviceWorkers: 'allow' });
  const page = await context.newPage();
  const setup = await fetch(`${hub!.origin}/api/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
  expect([201, 409]).toContain(setup.status);
  await deviceReady(page, hub!.origin);
  // act on this device, then Settings → replace the cartridge with the backup file
  await page.getByRole('button', { name: /Acting on Hub/ }).click();
  await page.getByRole('group', { name: 'Choose the node to act on' }).getByRole('button', { name: /This device/ }).click();
  await expect(page.getByRole('button', { name: /^Acting on This device\. Change node$/ })).toBeVisible();
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Settings' }).click();
  await page.getByLabel(/Replace this device's cartridge with a file/).setInputFiles(file);
  await expect(page.getByRole('alertdialog')).toContainText('Replace everything on this device');
  await page.getByRole('button', { name: 'Replace with this file' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Imported' })).toBeVisible({ timeout: 60_000 });

  const onPhone = (await device(page, '/a/trip/api/')).json;
  expect(onPhone).toEqual({ count: 3, entries: ['bus to the coast', 'ferry at 9', 'train'] });
  await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Apps' }).click();
  await expect(page.locator('li.app', { hasText: 'Trip log' })).toBeVisible();
  // the imported cartridge survives a reload (it was persisted to OPFS, not only loaded)
  await page.reload();
  await expect.poll(async () => (await device(page, '/a/trip/api/')).json, { timeout: 60_000 }).toEqual(onPhone);
  await context.close();
});
