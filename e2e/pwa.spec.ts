/**
 * The browser node (issue 4): the PWA the headless node serves is installable, starts offline, and
 * its service worker runs the kernel on a sql.js cartridge persisted in OPFS: apps deploy into it and
 * their static files and `/api` code work with no network.
 *
 * Against the real node (`bin/fazt.js start`, serving dist/web) and Debian's Chromium.
 */
import { expect, test } from './fixtures.js';
import { COUNTER_APP, cdp, deployToDevice, device, deviceCall, launchPersistent, opfsFiles, opfsText, openPwa, pageFetch, stopWorkers } from './pwa-fixtures.js';

test.use({ serviceWorkers: 'allow' });

test('installable: the manifest, icons and service worker leave Chromium no installability errors', async ({ fazt }) => {
  // a real profile: Chromium never offers to install from an incognito-like context ("in-incognito")
  const browser = await launchPersistent();
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await openPwa(page, fazt.origin);
    const s = await cdp(page);
    const { installabilityErrors } = (await s.send('Page.getInstallabilityErrors')) as { installabilityErrors: { errorId: string }[] };
    expect(installabilityErrors).toEqual([]);
    const manifest = await pageFetch(page, '/manifest.webmanifest');
    expect(manifest.json.display).toBe('standalone');
    expect(manifest.json.icons.some((i: { purpose: string }) => i.purpose === 'maskable')).toBe(true);
  } finally {
    await browser.dispose();
  }
  // the worker is served fresh, hashed assets forever
  const sw = await fetch(`${fazt.origin}/sw.js`);
  expect(sw.headers.get('cache-control')).toBe('no-cache');
  expect(sw.headers.get('content-type')).toMatch(/javascript/);
});

test('offline: a reload shows the dashboard from the cache and the device node answers', async ({ fazt, page, context }) => {
  await openPwa(page, fazt.origin);
  const title = await page.title();
  const shell = await page.evaluate(() => document.body.innerHTML.length);
  expect(shell).toBeGreaterThan(0);

  await context.setOffline(true);
  try {
    await page.reload();
    expect(await page.title()).toBe(title);
    await page.waitForFunction(() => !!navigator.serviceWorker.controller);
    const health = await device(page, '/api/health');
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ ok: true });
    // the hub is unreachable offline: a plain /api request fails instead of being answered by the device
    const hub = await page.evaluate(() => fetch('/api/health').then((r) => r.status, (e) => `failed: ${String(e)}`));
    expect(String(hub)).toMatch(/^failed/);
    // a dashboard route (deep link) starts offline too
    await page.goto(`${fazt.origin}/some/deep/route`);
    expect(await page.title()).toBe(title);
  } finally {
    await context.setOffline(false);
  }
});

test('an app deployed into the device node serves its files and runs its /api code offline', async ({ fazt, page, context }) => {
  await openPwa(page, fazt.origin);
  await context.setOffline(true);
  try {
    const deployed = await deployToDevice(page, 'counter', COUNTER_APP);
    expect(deployed.status, deployed.text).toBe(201);
    expect(deployed.json).toMatchObject({ name: 'counter', version: 1 });

    const list = await device(page, '/api/apps');
    expect(list.json.apps.map((a: { name: string }) => a.name)).toContain('counter');

    const index = await device(page, '/a/counter/');
    expect(index.status).toBe(200);
    expect(index.text).toContain('<h1>Counter app</h1>');
    const js = await device(page, '/a/counter/app.js');
    expect(js.contentType).toMatch(/javascript/);

    const first = await device(page, '/a/counter/api/count');
    expect(first.status, first.text).toBe(200);
    expect(first.json).toEqual({ n: 1, words: ['works', 'without', 'a', 'network'] });
    const second = await device(page, '/a/counter/api/count');
    expect(second.json.n).toBe(2);

    // the app's log reached the device node's cartridge
    const logs = await device(page, '/api/apps/counter/logs');
    expect(logs.json.logs.map((l: { message: string }) => l.message)).toContain('counted 2');

    // a redirect stays on the device node
    const noSlash = await page.evaluate(() => fetch('/~device/a/counter', { redirect: 'manual' }).then((r) => r.type));
    expect(noSlash).toBe('opaqueredirect');
    const followed = await page.evaluate(() => fetch('/~device/a/counter').then((r) => r.url));
    expect(followed).toMatch(/\/~device\/a\/counter\/$/);

    // the hub does not know the app: the two nodes are separate
    const status = await deviceCall(page, 'status');
    expect(status).toMatchObject({ state: 'ready', locked: false });
    expect(status.cartridgeBytes).toBeGreaterThan(0);
  } finally {
    await context.setOffline(false);
  }
  const hubApps = await fetch(`${fazt.origin}/a/counter/`);
  expect(hubApps.status).toBe(404);
});

test('the cartridge survives a reload and a stopped worker (reloaded from OPFS)', async ({ fazt, page }) => {
  await openPwa(page, fazt.origin);
  const deployed = await deployToDevice(page, 'persist', { ...COUNTER_APP, 'app.json': JSON.stringify({ name: 'persist', title: 'Persist' }) });
  expect(deployed.status, deployed.text).toBe(201);
  expect((await device(page, '/a/persist/api/count')).json.n).toBe(1);

  await page.reload();
  await page.waitForFunction(() => !!navigator.serviceWorker.controller);
  expect((await device(page, '/a/persist/api/count')).json.n).toBe(2);

  const before = (await opfsFiles(page))['cartridge.db'];
  expect(before).toBeGreaterThan(0);
  const owner = await opfsText(page, 'owner');
  await stopWorkers(page);
  // the next request starts the worker cold: it reads the cartridge back from OPFS
  expect((await device(page, '/a/persist/api/count')).json.n).toBe(3);
  // a new worker instance opened it (each open writes its own owner mark)
  expect(await opfsText(page, 'owner')).not.toBe(owner);
  expect((await device(page, '/api/apps')).json.apps.map((a: { name: string }) => a.name)).toContain('persist');
  let files = await opfsFiles(page);
  expect(Object.keys(files)).toEqual(expect.arrayContaining(['cartridge.db', 'owner']));
  expect(files['cartridge.next.db']).toBeUndefined();

  // many small writes go to the page log, which is folded into a new base when it grows past 1 MiB
  const last = await page.evaluate(async () => {
    let n = 0;
    for (let i = 0; i < 120; i++) n = (await (await fetch('/~device/a/persist/api/count')).json()).n;
    return n;
  });
  expect(last).toBe(123);
  files = await opfsFiles(page);
  expect(files['cartridge.log'] ?? 0).toBeLessThan(1.2 * 1024 * 1024);
  expect(files['cartridge.prev.db']).toBeGreaterThan(0);
  await stopWorkers(page);
  expect((await device(page, '/a/persist/api/value')).json.n).toBe(123);
});

test('the cartridge survives a browser restart (persistent profile), offline', async ({ fazt }) => {
  const browser = await launchPersistent();
  try {
    let page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await openPwa(page, fazt.origin);
    expect((await deployToDevice(page, 'counter', COUNTER_APP)).status).toBe(201);
    expect((await device(page, '/a/counter/api/count')).json.n).toBe(1);
    expect((await device(page, '/a/counter/api/count')).json.n).toBe(2);

    const context = await browser.restart();
    page = context.pages()[0] ?? (await context.newPage());
    await context.setOffline(true);
    await page.goto(fazt.origin + '/');
    await page.waitForFunction(() => !!navigator.serviceWorker.controller, undefined, { timeout: 30_000 });
    expect((await device(page, '/a/counter/api/value')).json.n).toBe(2);
    expect((await device(page, '/a/counter/api/count')).json.n).toBe(3);
    expect((await device(page, '/a/counter/')).text).toContain('Counter app');
  } finally {
    await browser.dispose();
  }
});
