/**
 * `fazt.realtime` in the dashboard's sandboxed app frames (docs/realtime.md, "In app frames"), with
 * examples/live-list in Debian's Chromium: the frame runtime carries `subscribe` over the frame
 * bridge, the host follows the app's channels with an EventSource and posts each event down the
 * port. On the hub (`/a/live-list/…` on the headless node) and on the browser node (the same kernel
 * in the service worker, `/~device/a/live-list/…`).
 */
import esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { createToken, deployApp, expect, REPO_ROOT, screenshot, startNode, test, type FaztNode } from './fixtures.js';
import { appFrame, openApp, openHost } from './frames-fixtures.js';
import { deployToDevice, openPwa, stopWorkers } from './pwa-fixtures.js';

const LIVE_LIST = Object.fromEntries(
  ['app.json', 'api/main.js', 'index.html', 'app.js', 'style.css'].map((p) => [p, fs.readFileSync(path.join(REPO_ROOT, 'examples', 'live-list', p), 'utf8')]),
);

/** Adds an item through the app's API at `base` from the page (the hub's or the device's). */
const addFromPage = (page: Page, base: string, text: string) =>
  page.evaluate(
    async ([b, t]) => (await fetch(`${b}api/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: t }) })).status,
    [base, text],
  );

test.describe('on the hub', () => {
  let node: FaztNode;
  test.beforeAll(async () => {
    node = await startNode();
    await deployApp(node, await createToken(node), path.join(REPO_ROOT, 'examples', 'live-list'), 'live-list');
  });
  test.afterAll(async () => {
    await node?.stop();
  });

  test('a frame of the app receives what the app publishes', async ({ page }) => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await openHost(page, node.origin);
    await openApp(page, 'live-list');
    const f = appFrame(page);
    await expect(f.locator('#status')).toHaveText('live');
    await expect(f.locator('#empty')).toBeVisible();
    // published by the app's server code for a request that is not the frame's
    const r = await fetch(`${node.origin}/a/live-list/api/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'from elsewhere' }) });
    expect(r.status).toBe(201);
    await expect(f.locator('#list li')).toHaveText(['from elsewhere✕']);
    // the frame's own add goes through the bridge; the message for it is applied once
    await f.locator('#text').fill('from the frame');
    await f.locator('#text').press('Enter');
    await expect(f.locator('#list li')).toHaveCount(2);
    // a forged realtime call for too many channels is refused by the host
    const refused = await page.evaluate(() =>
      (window as any).probeBridge('live-list', [{ id: 1, type: 'APPLY', path: ['realtime'], argumentList: [{ type: 'RAW', value: Array.from({ length: 40 }, (_, i) => `c${i}`) }, { type: 'RAW', value: null }] }]),
    );
    expect(refused[0].value.value.message).toMatch(/at most 32 channel names/);
    expect(errors).toEqual([]);
  });
});

test.describe('on the browser node', () => {
  test.use({ serviceWorkers: 'allow' });

  /** web/frame bundled with a host whose frame reads apps from the device node (`/~device/a/NAME/`). */
  const deviceHost = () =>
    esbuild
      .build({
        stdin: {
          contents: `import { sourceFromBase } from './web/frame/index.ts';
            const frame = document.createElement('fazt-app-frame');
            frame.id = 'device-app';
            frame.style.cssText = 'position:fixed;inset:0;z-index:9999;background:#fff';
            document.body.append(frame);
            window.openDeviceApp = (name) => { frame.source = sourceFromBase('/~device/a/' + name + '/', { title: name }); frame.path = ''; };`,
          resolveDir: REPO_ROOT,
          sourcefile: 'device-host.ts',
          loader: 'ts',
        },
        bundle: true,
        write: false,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        tsconfig: path.join(REPO_ROOT, 'web', 'tsconfig.json'),
        logLevel: 'silent',
      })
      .then((r) => r.outputFiles[0]!.text);

  test('a frame of a device app receives what the app publishes in the service worker', async ({ fazt, page }) => {
    await openPwa(page, fazt.origin);
    expect((await deployToDevice(page, 'live-list', LIVE_LIST)).status).toBe(201);
    await page.addScriptTag({ type: 'module', content: await deviceHost() });
    await page.waitForFunction(() => typeof (window as any).openDeviceApp === 'function');
    await page.evaluate(() => (window as any).openDeviceApp('live-list'));
    const f = page.frameLocator('#device-app iframe');
    await expect(f.locator('#status')).toHaveText('live');
    // the app's server code runs in the service worker; its publish reaches the frame
    expect(await addFromPage(page, '/~device/a/live-list/', 'published in the worker')).toBe(201);
    await expect(f.locator('#list li')).toHaveText(['published in the worker✕']);
    await f.locator('#text').fill('added in the frame');
    await f.locator('#text').press('Enter');
    await expect(f.locator('#list li')).toHaveCount(2);
    await screenshot(page, 'realtime-device-frame');
    // the browser stops the worker (it does so when idle): the stream ends, EventSource reconnects to
    // the restarted worker, whose new epoch makes it a reset, and the page reloads its list
    await stopWorkers(page);
    expect(await addFromPage(page, '/~device/a/live-list/', 'after the worker restarted')).toBe(201);
    await expect(f.locator('#list li')).toHaveCount(3, { timeout: 20_000 });
    await expect(f.locator('#status')).toHaveText('live');
    expect(await addFromPage(page, '/~device/a/live-list/', 'live again')).toBe(201);
    await expect(f.locator('#list li')).toHaveCount(4);
  });
});
