/**
 * `<fazt-app-frame>` (web/frame) in Debian's Chromium, against a real Fazt node: apps deployed with
 * the real CLI, shown in a sandboxed frame by a host page on the node's own origin, with their
 * files and API calls carried over the frame's bridge.
 */
import { test, expect, startNode, createToken, deployApp, screenshot, REPO_ROOT, type FaztNode } from './fixtures.js';
import { appFrame, galleryApp, hostileApp, openApp, openHost, writeApp, hostScript } from './frames-fixtures.js';
import fs from 'node:fs';
import path from 'node:path';

let node: FaztNode;
const dirs: string[] = [];

test.beforeAll(async () => {
  test.setTimeout(300_000);
  const [n] = await Promise.all([startNode(), hostScript()]);
  node = n;
  const token = await createToken(node, 'admin');
  const gallery = writeApp(galleryApp());
  const hostile = writeApp(hostileApp(node.origin));
  dirs.push(gallery, hostile);
  await deployApp(node, token, gallery, 'gallery');
  await deployApp(node, token, hostile, 'hostile');
  await deployApp(node, token, path.join(REPO_ROOT, 'examples', 'notes'), 'notes');
});

test.afterAll(async () => {
  await node?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('a multi-file app renders and works in the frame: CSS, images, module graph, API, pages, forms', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await openHost(page, node.origin);
  await openApp(page, 'gallery');
  const f = appFrame(page);
  await expect(f.locator('#results')).toContainText('"done":true');
  const r = JSON.parse((await f.locator('#results').textContent()) ?? '{}');
  expect(r.greet).toBe('HELLO FRAME');
  expect(r.info).toBe('json module');
  expect(r.classic).toBe('loading'); // a classic script in <head> ran while the page was parsed
  expect(r.meta).toBe('https://gallery.fazt.invalid/js/main.js');
  expect(r.lazy).toBe('lazy loaded');
  expect(r.lazy2).toBe('COMPUTED');
  expect(r.rel).toMatchObject({ hello: 'world', path: '/api/hello', query: '?x=1', method: 'GET' });
  expect(r.abs).toMatchObject({ path: '/api/hello', method: 'POST', body: { a: 1 } });
  expect(r.loc).toMatchObject({ path: '/api/hello', method: 'GET' });
  expect(r.file).toEqual({ kind: 'json module' });
  expect(r.missing).toBe(404);
  expect(r.xhr).toMatchObject({ status: 200, body: { query: '?xhr=1' } });
  expect(r.baseURI).toBe('https://gallery.fazt.invalid/');

  // Stylesheets (with @import) and images (HTML, CSS url(), one added later by script) loaded.
  await expect(f.locator('#title')).toHaveCSS('color', 'rgb(10, 20, 30)');
  await expect(f.locator('#bg')).toHaveCSS('background-image', /^url\("blob:null\//);
  for (const id of ['#logo', '#photo', '#late']) {
    await expect.poll(() => f.locator(id).evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { message: id }).toBeGreaterThan(0);
  }
  const origin = await f.locator('body').evaluate(() => [self.origin, location.href]);
  expect(origin).toEqual(['null', 'about:srcdoc']);

  // A fragment link scrolls inside the page; a link to another page loads it in the frame. Clicks that
  // load another page replace the iframe, so they are made in the page, after the evaluate returned
  // (`navigate`): Playwright's click() may wait for a navigation of the frame it clicked in, which is
  // gone, and a click inside evaluate can remove the frame before the evaluate answers.
  const navigate = (selector: string) => f.locator(selector).evaluate((el: HTMLElement) => void setTimeout(() => el.click(), 0));
  await f.locator('#jump').click();
  await expect(f.locator('#results')).toBeVisible();
  await navigate('#about');
  await expect(f.locator('#about-title')).toHaveText('About the gallery');
  await expect(f.locator('#about-title')).toHaveCSS('color', 'rgb(10, 20, 30)');
  expect(await page.evaluate(() => (window as unknown as { navLog: string[] }).navLog)).toEqual(['about/']);
  // A GET form navigates with its query; a POST form to the API shows the answer.
  await navigate('#go');
  await expect(f.locator('#q')).toHaveText('cats');
  await openApp(page, 'gallery', 'about/');
  await expect(f.locator('#about-title')).toHaveText('About the gallery');
  await navigate('#send');
  await expect(f.locator('#posted')).toHaveText('posted');
  await openApp(page, 'gallery', 'about/');
  await expect(f.locator('#about-title')).toHaveText('About the gallery');
  await navigate('#home');
  await expect(f.locator('#results')).toContainText('"done":true');
  expect(page.url()).toBe(node.origin + '/__frames/host.html');
  expect(errors).toEqual([]);
});

test('examples/notes works in the frame: create a note through its UI, see it listed (phone size)', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await openHost(page, node.origin);
  await openApp(page, 'notes');
  const f = appFrame(page);
  await expect(f.locator('#empty')).toBeVisible();
  await f.locator('#text').fill('Buy milk from the frame');
  await f.locator('#add button[type=submit]').click();
  await expect(f.locator('#notes li')).toHaveCount(1);
  await expect(f.locator('#notes li label')).toHaveText('Buy milk from the frame');
  await f.locator('#text').fill('Call grandma');
  await f.locator('#text').press('Enter');
  await expect(f.locator('#notes li')).toHaveCount(2);
  await f.locator('#notes li input[type=checkbox]').first().check();
  await expect(f.locator('#notes li.done')).toHaveCount(1);
  // The note is in the app's own data: the hub's API for the app lists it.
  const listed = await (await fetch(`${node.origin}/a/notes/api/notes`)).json();
  expect(listed.notes.map((n: { text: string }) => n.text)).toEqual(['Buy milk from the frame', 'Call grandma']);
  await screenshot(page, 'frames-notes-phone');
});

test('isolation: app code cannot reach the dashboard, its session, or another app through the bridge', async ({ page }) => {
  await openHost(page, node.origin);
  // The dashboard's origin holds an owner session and data in every kind of storage.
  const setup = await page.evaluate(async () => {
    const r = await fetch('/api/setup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'correct horse battery staple 42' }) });
    localStorage.setItem('dash-secret', 'L');
    sessionStorage.setItem('dash-secret', 'S');
    document.cookie = 'dash-secret=C; path=/';
    await new Promise<void>((resolve, reject) => {
      const o = indexedDB.open('dash-db');
      o.onupgradeneeded = () => o.result.createObjectStore('secrets');
      o.onsuccess = () => { o.result.close(); resolve(); };
      o.onerror = () => reject(o.error);
    });
    const dir = await navigator.storage.getDirectory();
    const fh = await dir.getFileHandle('cartridge.db', { create: true });
    const w = await fh.createWritable();
    await w.write('secret cartridge');
    await w.close();
    const apps = await fetch('/api/apps');
    return { setup: r.status, apps: apps.status };
  });
  expect(setup).toEqual({ setup: 201, apps: 200 });

  const adminCalls: { cookie: string | undefined; status: number | undefined; failure?: string }[] = [];
  page.on('request', async (req) => {
    if (new URL(req.url()).pathname !== '/api/apps' || req.frame() === page.mainFrame()) return;
    const cookie = (await req.allHeaders())['cookie'];
    const res = await req.response().catch(() => null);
    adminCalls.push({ cookie, status: res?.status(), failure: req.failure()?.errorText });
  });
  await openApp(page, 'hostile');
  const f = appFrame(page);
  await expect(f.locator('#results')).toContainText('"done":true', { timeout: 60_000 });
  const r = JSON.parse((await f.locator('#results').textContent()) ?? '{}');
  for (const k of ['localStorage', 'sessionStorage', 'cookie', 'opfs', 'caches', 'parentDocument', 'parentStorage']) {
    expect(r[k], k).toMatchObject({ ok: false, error: 'SecurityError' });
  }
  expect(r.indexedDB.ok, 'indexedDB').toBe(false);
  expect(r.frameElement).toEqual({ ok: true, value: 'null' });
  expect(r.origin).toEqual({ ok: true, value: 'null' });
  expect(r.ownApi).toEqual({ ok: true, value: { mine: true, path: '/api/who' } });
  // Paths that climb or point elsewhere stay inside the hostile app or are refused.
  expect(r.traversalApi).toEqual({ ok: true, value: '404 https://hostile.fazt.invalid/notes/api/notes' });
  expect(r.pathToOtherApp).toEqual({ ok: true, value: 404 });
  expect(r.encodedTraversal.ok).toBe(false);
  expect(r.encodedDots).toEqual({ ok: true, value: '404 /notes/api/notes' });
  expect(r.otherAppOrigin.ok).toBe(false);
  expect(r.otherAppImport.ok).toBe(false);
  // The hub's admin API over the network: sent without the owner's cookie, and app code gets no
  // answer (Chromium fails these requests from the opaque origin: net::ERR_FAILED, or 401 at most).
  expect(r.adminApi).toEqual({ ok: false, error: 'TypeError' });
  await expect.poll(() => adminCalls.length).toBe(2);
  expect(adminCalls.every((c) => c.cookie === undefined), JSON.stringify(adminCalls)).toBe(true);
  for (const c of adminCalls) expect(c.status === 401 || c.status === undefined, JSON.stringify(c)).toBe(true);
  // A stolen bridge port: forged comlink messages are refused, other apps' URLs too.
  const forged = r.forged.value as { id: string; type: string; message?: string }[];
  expect(forged.map((a) => a.id).sort()).toEqual(['evil1', 'evil2', 'evil3', 'evil4', 'evil5', 'evil6', 'evil7', 'evil8']);
  for (const a of forged) expect(a.type, `${a.id}: ${a.message}`).toBe('HANDLER');
  expect(forged.find((a) => a.id === 'evil4')?.message).toMatch(/reaches only its own app/);
  expect(forged.find((a) => a.id === 'evil5')?.message).toMatch(/may not leave/);
  expect(forged.find((a) => a.id === 'evil8')?.message).toMatch(/reaches only its own app/);
  expect(await page.evaluate(() => ({}) as Record<string, unknown>)).not.toHaveProperty('polluted');
  // The dashboard's data is untouched.
  expect(await page.evaluate(() => [localStorage.getItem('dash-secret'), sessionStorage.getItem('dash-secret')])).toEqual(['L', 'S']);
});

test('the bridge refuses forged calls, traversal and other apps, whoever sends them', async ({ page }) => {
  await openHost(page, node.origin);
  const answers = await page.evaluate(() =>
    (window as unknown as { probeBridge(n: string, m: unknown[]): Promise<{ id: number; type: string; value: { value?: { message?: string; hello?: unknown } } }[]> }).probeBridge('gallery', [
      { id: 1, type: 'SET', path: ['__proto__', 'polluted'], value: { type: 'RAW', value: 1 } },
      { id: 2, type: 'APPLY', path: ['page', 'call'], argumentList: [] },
      { id: 3, type: 'APPLY', path: ['asset'], argumentList: [{ type: 'RAW', value: 'https://gallery.fazt.invalid/..%2Fhostile/probe.js' }, { type: 'RAW', value: 'raw' }] },
      { id: 4, type: 'APPLY', path: ['asset'], argumentList: [{ type: 'RAW', value: 'https://hostile.fazt.invalid/probe.js' }, { type: 'RAW', value: 'raw' }] },
      { id: 5, type: 'APPLY', path: ['fetch'], argumentList: [{ type: 'RAW', value: { url: 'https://gallery.fazt.invalid/api/hello', method: 'GET', headers: [], body: null } }] },
      { id: 6, type: 'APPLY', path: ['asset'], argumentList: [{ type: 'RAW', value: 'https://gallery.fazt.invalid/js/lib/greet.js' }, { type: 'RAW', value: 'module' }] },
    ]),
  );
  const byId = new Map(answers.map((a) => [a.id, a]));
  expect(byId.get(1)?.type).toBe('HANDLER');
  expect(byId.get(2)?.type).toBe('HANDLER');
  expect(byId.get(3)?.value.value?.message).toMatch(/may not leave/);
  expect(byId.get(4)?.value.value?.message).toMatch(/reaches only its own app/);
  expect(byId.get(5)?.type).toBe('RAW');
  const module = byId.get(6)?.value as unknown as { text: string; deps: { url: string }[] };
  expect(module.text).toContain("from 'https://gallery.fazt.invalid/js/util/shout.js'");
  expect(module.deps).toEqual([{ url: 'https://gallery.fazt.invalid/js/util/shout.js', kind: 'module' }]);
  expect(await page.evaluate(() => ({}) as Record<string, unknown>)).not.toHaveProperty('polluted');
});

test('a hostile app does not break out of its frame or freeze the host', async ({ page, context }) => {
  test.setTimeout(180_000);
  await openHost(page, node.origin);
  const host = node.origin + '/__frames/host.html';
  const f = appFrame(page);
  /** The host still answers quickly and can show another app. */
  const hostAlive = async (label: string) => {
    const t0 = Date.now();
    const ticks = await page.evaluate(() => new Promise<number>((resolve) => { let n = 0; const t = setInterval(() => { if (++n === 10) { clearInterval(t); resolve(n); } }, 10); }));
    expect(ticks, label).toBe(10);
    expect(Date.now() - t0, `${label}: host event loop latency`).toBeLessThan(5_000);
    expect(page.url(), label).toBe(host);
  };

  /**
   * A frame that spins forever (alert loop, flood) may hold the renderer process Chromium gives
   * this site's sandboxed frames, so the next app can wait on it (the element then fires
   * fazt-app-unresponsive); reloading the dashboard drops that process and apps open again.
   */
  const reloadAndOpen = async (name: string) => {
    await openApp(page, name);
    await page.waitForTimeout(2000);
    await page.reload();
    await page.waitForFunction(() => typeof (window as unknown as { openApp?: unknown }).openApp === 'function');
    await openApp(page, name);
  };

  // Top navigation: refused by the sandbox (no allow-top-navigation).
  await openApp(page, 'hostile', '?mode=top');
  await expect(f.locator('#results')).toContainText('"done":true');
  const top = JSON.parse((await f.locator('#results').textContent()) ?? '{}');
  expect(top.topAssign.ok).toBe(false);
  expect(top.parentAssign.ok).toBe(false);
  await page.waitForTimeout(500);
  await hostAlive('top navigation');

  // window.open without a user gesture: blocked; with one, the popup is sandboxed too.
  const popups: string[] = [];
  context.on('page', (p) => popups.push(p.url()));
  await openApp(page, 'hostile', '?mode=popup');
  await expect(f.locator('#results')).toContainText('"done":true');
  await page.waitForTimeout(500);
  for (const p of context.pages()) if (p !== page) {
    expect(await p.evaluate(() => self.origin)).toBe('null');
    await p.close();
  }
  await hostAlive('popup');

  // A postMessage flood (8 MiB messages, fake hellos and ports) at the host.
  await openApp(page, 'hostile', '?mode=flood');
  await expect(f.locator('#results')).toContainText('"done":true');
  await page.waitForTimeout(3000);
  await hostAlive('postMessage flood');
  await reloadAndOpen('notes');
  await expect(f.locator('h1')).toHaveText('Notes', { timeout: 60_000 });
  await hostAlive('after the flood');

  // An endless alert loop: a burst of 3 dialogs, then they are answered unseen; the frame spins,
  // the host does not.
  let dialogs = 0;
  page.on('dialog', (d) => {
    dialogs++;
    d.dismiss().catch(() => {});
  });
  await openApp(page, 'hostile', '?mode=alerts');
  await expect.poll(() => dialogs, { timeout: 30_000 }).toBeGreaterThan(0);
  await page.waitForTimeout(3000);
  expect(dialogs, 'dialogs shown by the alert loop').toBeLessThanOrEqual(3);
  await hostAlive('alert loop');
  await reloadAndOpen('gallery');
  await expect(f.locator('#results')).toContainText('"done":true', { timeout: 60_000 });
  await hostAlive('after the alert loop');

});
