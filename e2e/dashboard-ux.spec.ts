/**
 * The dashboard as a family member and a newcomer meet it (issue 16), at 360×740 (touch, an Android
 * phone's user agent) and at 1280×800, against a real hub serving the built PWA with its service
 * worker (this device's node) running. Each test checks one finding of the issue; every screen it
 * touches is photographed (e2e/.cache/screenshots/ux-<what>-<phone|desktop>.png) and checked with
 * axe-core (no serious or critical violations).
 *
 * Honest state: the connection bar names the copy in use and says when the dashboard moved to this
 * device because the hub did not answer; a screen whose data cannot be loaded says so (Settings never
 * claims "No tokens."); copies of an app that differ between this device and the hub are shown with
 * the way to bring them together. Errors where the eye is: PIN errors next to their field, focused and
 * announced; the PIN lock's wait as a countdown; the install step never says "Not added". Words:
 * "This device" everywhere, technical facts under "Advanced", the hello example names the real
 * address. Small things: the token's copy button, the deploy result in view, Back inside an app
 * frame, Sign out in the account menu, focus rings for the keyboard only, no word broken in two, a
 * styled import control, the width used (a grid of apps, two panes for logs and storage, storage as
 * tables with the JSON on demand).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { createToken, expect, screenshot, startNode, test, type FaztNode } from './fixtures.js';
import { expectAccessible } from './screens.js';
import { deployToDevice } from './pwa-fixtures.js';
import type { Browser, BrowserContext, Locator, Page } from '@playwright/test';

test.use({ serviceWorkers: 'allow' });

const PASSWORD = 'correct horse battery';
const ANDROID_UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';

/** The shelf app: its server code writes kv, documents and a file and logs a line on each visit. */
const SHELF: Record<string, string> = {
  'app.json': JSON.stringify({ name: 'shelf', title: 'Shelf' }),
  'index.html': '<!doctype html><html lang="en"><title>Shelf</title><h1>Shelf</h1></html>',
  'api/main.js': `export default {
  async fetch(request) {
    const n = await fazt.kv.increment('visits');
    await fazt.kv.set('last-visit', { n, note: 'kept by the storage test' });
    await fazt.docs.collection('books').insert({ title: 'Book ' + n, n, tags: ['a', 'b'] });
    await fazt.blobs.put('notes/' + n + '.txt', 'note number ' + n, { contentType: 'text/plain' });
    console.log('visit number ' + n);
    return { visits: n };
  },
};
`,
};

/** The drift app, deployed with other files to the hub and to this device. */
const drift = (words: string): Record<string, string> => ({
  'app.json': JSON.stringify({ name: 'drift', title: 'Drift' }),
  'index.html': `<!doctype html><html lang="en"><title>Drift</title><h1>${words}</h1></html>`,
});

/** Deploys files to the hub over its API (`POST /api/apps`, a zip, the admin token). */
async function deployToHub(node: FaztNode, token: string, name: string, files: Record<string, string>): Promise<void> {
  const zip = zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, strToU8(v)])));
  const r = await fetch(`${node.origin}/api/apps?name=${name}`, { method: 'POST', headers: { 'content-type': 'application/zip', authorization: `Bearer ${token}` }, body: zip });
  expect(r.status, await r.clone().text()).toBeLessThan(300);
}

const VIEWPORTS = [
  ['phone', { width: 360, height: 740 }, true],
  ['desktop', { width: 1280, height: 800 }, false],
] as const;

for (const [label, viewport, touch] of VIEWPORTS) {
  test.describe(`${label} ${viewport.width}×${viewport.height}`, () => {
    test.describe.configure({ mode: 'serial' });
    let node: FaztNode;
    let token: string;
    let context: BrowserContext;
    let page: Page;
    let appDir: string;

    /** Screenshot ux-NAME-<label>.png of the current viewport. */
    const shot = (name: string) => screenshot(page, `ux-${name}-${label}`);
    const nav = () => page.getByRole('navigation', { name: 'Dashboard' });
    const bar = () => page.locator('.linkbar');
    /** Px from the bottom of field `a` to the top of `b`, read in one frame (a smooth scroll may be under way). */
    const gap = async (a: Locator, b: Locator) => {
      const other = await b.elementHandle();
      return a.evaluate((x, y) => y!.getBoundingClientRect().top - x.getBoundingClientRect().bottom, other);
    };

    test.beforeAll(async ({ browser }: { browser: Browser }) => {
      node = await startNode();
      const setup = await fetch(`${node.origin}/api/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
      expect(setup.status).toBe(201);
      token = await createToken(node, 'admin');
      await deployToHub(node, token, 'shelf', SHELF);
      await deployToHub(node, token, 'drift', drift('Drift on the hub'));
      for (let i = 0; i < 2; i++) expect((await fetch(`${node.origin}/a/shelf/api/visit`)).status).toBe(200);
      appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-e2e-ux-'));
      fs.writeFileSync(path.join(appDir, 'app.json'), JSON.stringify({ name: 'folder-app', title: 'Folder app' }));
      fs.writeFileSync(path.join(appDir, 'index.html'), '<!doctype html><title>Folder app</title><h1>From a folder</h1>');
      context = await browser.newContext({
        viewport,
        hasTouch: touch,
        isMobile: touch,
        ...(touch ? { userAgent: ANDROID_UA } : {}),
        serviceWorkers: 'allow',
      });
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: node.origin });
      page = await context.newPage();
    });

    test.afterAll(async () => {
      await context?.close();
      await node?.stop();
      if (appDir) fs.rmSync(appDir, { recursive: true, force: true });
    });

    test('the connection bar names the copy in use; Sign out is in the account menu, not in a card', async () => {
      await page.goto(`${node.origin}/`);
      await page.getByLabel('Owner password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
      await expect(bar()).toHaveText(`Connected to the hub at 127.0.0.1:${node.port}.`);
      await expect(bar()).toHaveAttribute('role', 'status');
      await page.waitForFunction(() => !!navigator.serviceWorker.controller, null, { timeout: 60_000 });
      // the switcher in plain words
      await page.getByRole('button', { name: /Acting on Hub/ }).click();
      const menu = page.getByRole('group', { name: 'Choose the node to act on' });
      await expect(menu).toContainText('Show the apps of');
      await expect(menu).not.toContainText('Act on');
      await expect(menu.getByRole('button', { name: /This device/ })).toContainText('Connected.');
      await page.keyboard.press('Escape');
      // Sign out: in the account menu
      await page.getByRole('button', { name: 'Account' }).click();
      const account = page.getByRole('group', { name: 'Account' });
      await expect(account.getByRole('button', { name: /Sign out/ })).toBeVisible();
      await shot('account-menu');
      await expectAccessible(page, 'account menu');
      await page.keyboard.press('Escape');
      await expect(account).toBeHidden();
      await nav().getByRole('link', { name: 'Settings' }).click();
      await expect(page.getByRole('heading', { name: 'API tokens' })).toBeVisible();
      await expect(page.locator('fazt-settings').getByRole('button', { name: 'Sign out' })).toHaveCount(0);
      // signing out from the menu works
      await page.getByRole('button', { name: 'Account' }).click();
      await page.getByRole('group', { name: 'Account' }).getByRole('button', { name: /Sign out/ }).click();
      await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
      await page.getByLabel('Owner password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect(page.getByRole('heading', { name: 'API tokens' })).toBeVisible();
    });

    test('a new token has a copy button that says "Copied"; tokens that cannot be loaded are said, never "No tokens."', async () => {
      await page.getByRole('button', { name: 'Create deploy token' }).click();
      const code = page.locator('#token-out code');
      await expect(code).toHaveText(/^fazt_/);
      const copy = page.getByRole('button', { name: 'Copy the token' });
      await copy.click();
      await expect(page.locator('#token-out button')).toHaveText('Copied');
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(await code.textContent());
      await shot('token-copied');
      await expectAccessible(page, 'settings with a new token');

      // the token list does not load: said in its card, with Try again; the tokens that exist are not denied
      await page.route('**/api/tokens', (r) => r.abort('connectionrefused'));
      await nav().getByRole('link', { name: 'Apps' }).click();
      await nav().getByRole('link', { name: 'Settings' }).click();
      const tokens = page.locator('section', { has: page.getByRole('heading', { name: 'API tokens' }) });
      await expect(tokens.getByRole('alert').filter({ hasText: 'Could not load the tokens' })).toBeVisible();
      await expect(tokens.getByText('No tokens.')).toHaveCount(0);
      await shot('tokens-unloaded');
      await page.unroute('**/api/tokens');
      await tokens.getByRole('button', { name: 'Try again' }).click();
      await expect(tokens.getByRole('button', { name: /^Revoke / }).first()).toBeVisible();

      // the hub goes away: the connection bar and the header say so; Settings shows no list at all
      await context.setOffline(true);
      await nav().getByRole('link', { name: 'Apps' }).click();
      await expect(bar()).toContainText(`The hub at 127.0.0.1:${node.port} cannot be reached right now.`);
      await expect(bar()).toHaveAttribute('role', 'alert');
      await expect(page.locator('header .dot')).toHaveClass(/down/);
      await expect(page.getByText('No tokens.')).toHaveCount(0);
      await expect(page.getByText('No apps yet.')).toHaveCount(0);
      await shot('hub-unreachable');
      await expectAccessible(page, 'hub unreachable');
      await context.setOffline(false);
      await bar().getByRole('button', { name: 'Try again' }).click();
      await expect(bar()).toHaveText(`Connected to the hub at 127.0.0.1:${node.port}.`);
    });

    test('focus rings show for the keyboard only: no ring on the page after a route change, one on a tabbed-to button', async () => {
      await nav().getByRole('link', { name: 'Deploy' }).click();
      await nav().getByRole('link', { name: 'Apps' }).focus();
      await page.keyboard.press('Enter');
      await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
      await page.waitForFunction(() => document.querySelector('fazt-shell')!.shadowRoot!.activeElement?.tagName === 'MAIN');
      const mainOutline = await page.evaluate(() => {
        const main = document.querySelector('fazt-shell')!.shadowRoot!.querySelector('main')!;
        const cs = getComputedStyle(main);
        return { style: cs.outlineStyle, width: cs.outlineWidth };
      });
      expect(mainOutline.style === 'none' || mainOutline.width === '0px', JSON.stringify(mainOutline)).toBe(true);
      await shot('focus-after-route');
      // Tab from the page reaches the first control with a visible ring
      await page.keyboard.press('Tab');
      const ring = await page.evaluate(() => {
        let el: Element | null = document.activeElement;
        while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
        return el ? getComputedStyle(el).outlineStyle : 'none';
      });
      expect(ring).toBe('solid');
    });

    test('wide screens use the width: apps in a grid; copies that differ between this device and the hub are shown', async () => {
      // the same app, other files on this device
      const r = await deployToDevice(page, 'drift', drift('Drift on this device'));
      expect(r.status, r.text).toBeLessThan(300);
      await nav().getByRole('link', { name: 'Deploy' }).click();
      await nav().getByRole('link', { name: 'Apps' }).click();
      const item = page.locator('li.app', { hasText: 'Drift' });
      await expect(item.getByRole('note')).toContainText('The copy on this device runs other files than the one on the hub.');
      await expect(page.locator('li.app', { hasText: 'Shelf' }).getByRole('note')).toHaveCount(0);
      const boxes = await page.locator('li.app').evaluateAll((els) => els.map((e) => e.getBoundingClientRect()).map((b) => ({ x: b.x, y: b.y, w: b.width })));
      const main = (await page.locator('main').boundingBox())!;
      if (label === 'desktop') {
        expect(main.width).toBeGreaterThan(1000);
        expect(new Set(boxes.map((b) => b.y)).size, JSON.stringify(boxes)).toBeLessThan(boxes.length); // several apps share a row
      } else expect(new Set(boxes.map((b) => b.x)).size, JSON.stringify(boxes)).toBe(1); // one column
      await shot('apps-grid');
      await expectAccessible(page, 'apps with a copy that differs');
      await item.getByRole('link', { name: 'Compare the copies of drift' }).click();
      const copies = page.locator('fazt-copies');
      await expect(copies.getByRole('heading', { name: 'Two copies that differ' })).toBeVisible();
      await expect(copies.locator('tr', { hasText: 'Here (the hub)' })).toContainText('version 1');
      await expect(copies.locator('tr', { hasText: 'There (this device)' })).toContainText('version 1');
      await expect(copies).toContainText('Deploy the same folder to both');
      await shot('copies-differ');
      await expectAccessible(page, 'app with two copies');
    });

    test('storage: records as tables (keys, fields, sizes), the JSON on demand; two panes on wide screens', async () => {
      await page.goto(`${node.origin}/#/app/shelf/storage`);
      const books = page.getByRole('button', { name: /^books \(2\)/ });
      await expect(books).toHaveAttribute('aria-pressed', 'true');
      const table = page.locator('fazt-storage table');
      await expect(table.locator('tr', { hasText: 'Book 2' })).toContainText('title');
      await expect(page.getByText('"title": "Book 2"')).toHaveCount(0); // no raw JSON until asked
      await page.getByRole('button', { name: /^Show the JSON of document / }).first().click();
      await expect(page.getByText(/"title": "Book \d"/)).toBeVisible();
      const nav = page.getByRole('navigation', { name: 'Stored data' });
      const [navBox, tableBox] = [(await nav.boundingBox())!, (await table.boundingBox())!];
      if (label === 'desktop') expect(navBox.x + navBox.width, 'the list of what is stored sits left of the table').toBeLessThanOrEqual(tableBox.x + 1);
      else expect(navBox.y + navBox.height).toBeLessThanOrEqual(tableBox.y + 1);
      await shot('storage-table');
      await expectAccessible(page, 'storage as tables');
      await page.getByRole('button', { name: /^Keys and values \(2\)/ }).click();
      await expect(page.locator('fazt-storage tr', { hasText: 'last-visit' })).toContainText('note');
      await page.getByRole('button', { name: /^Files \(2\)/ }).click();
      await expect(page.locator('fazt-storage tr', { hasText: 'notes/1.txt' })).toContainText('text/plain');

      await page.getByRole('link', { name: 'Logs' }).click();
      const log = page.getByRole('log', { name: 'Log of shelf' });
      await expect(log).toContainText('visit number 2');
      const [controls, logBox] = [(await page.locator('fazt-logs .controls').boundingBox())!, (await log.boundingBox())!];
      if (label === 'desktop') expect(controls.x + controls.width).toBeLessThanOrEqual(logBox.x + 1);
      await shot('logs-panes');
      await expectAccessible(page, 'logs');
    });

    test('deploy: the result is scrolled into view and focused', async () => {
      await nav().getByRole('link', { name: 'Deploy' }).click();
      await page.getByLabel('Choose a folder').setInputFiles(appDir);
      await page.getByRole('button', { name: 'Deploy', exact: true }).click();
      const done = page.getByRole('heading', { name: /^Deployed folder-app, version \d+$/ });
      await expect(done).toBeInViewport({ ratio: 1 });
      await expect(done).toBeFocused();
      await expect(page.getByRole('link', { name: 'Open folder-app' })).toBeInViewport({ ratio: 1 }); // the whole result, with its buttons
      await shot('deploy-done');
    });

    test('inside an app frame, Back goes back a page; the hello example names the real address', async () => {
      await page.goto(`${node.origin}/#/open/hello`);
      const frame = page.frameLocator('fazt-app-frame iframe');
      await expect(frame.getByRole('heading', { name: 'Hello from your Fazt node' })).toBeVisible();
      await expect(frame.locator('#node')).toHaveText(node.origin);
      await expect(frame.getByText('8080')).toHaveCount(0);
      await shot('hello-origin');
      await frame.getByRole('link', { name: 'About this example' }).click();
      await expect(frame.getByRole('heading', { name: 'About' })).toBeVisible();
      expect(new URL(page.url()).hash).toBe('#/open/hello/about%2F');
      await page.goBack();
      await expect(frame.getByRole('heading', { name: 'Hello from your Fazt node' })).toBeVisible();
      expect(new URL(page.url()).hash).toBe('#/open/hello');
      await page.goForward();
      await expect(frame.getByRole('heading', { name: 'About' })).toBeVisible();
      await page.goBack();
      await page.goBack(); // and only then out of the app
      await expect(page.locator('fazt-app-view')).toHaveCount(0);
    });

    test('this device: its name everywhere, technical facts under Advanced, a styled import control, no word broken in two', async () => {
      await page.goto(`${node.origin}/#/settings`);
      await page.getByRole('button', { name: /Acting on/ }).click();
      await page.getByRole('group', { name: 'Choose the node to act on' }).getByRole('button', { name: /This device/ }).click();
      await expect(page.getByRole('heading', { name: "This device's node" })).toBeVisible();
      await expect(page.locator('body')).not.toContainText('This phone');
      const shadowText = await page.locator('fazt-shell').evaluate((el) => {
        const walk = (n: Element | ShadowRoot): string => [...n.children].map((c) => (c.shadowRoot ? walk(c.shadowRoot) : '') + ((c as HTMLElement).innerText ?? '')).join(' ');
        return walk(el.shadowRoot!);
      });
      expect(shadowText).not.toContain('This phone');
      const advanced = page.locator('details.advanced');
      await expect(advanced.getByText('Node id')).toBeHidden();
      await expect(page.getByText(/schema \d/)).toBeHidden();
      await expect(page.getByText('npm start')).toBeHidden();
      await advanced.getByText('Advanced').click();
      await expect(advanced.getByText('Node id')).toBeVisible();
      // the import control looks like the other buttons; the file input under it still works
      const pick = page.locator('.file-pick .button');
      await expect(pick).toHaveText('Choose a file…');
      const box = (await pick.boundingBox())!;
      expect(box.height).toBeGreaterThanOrEqual(44);
      expect(await page.locator('#import').evaluate((i) => getComputedStyle(i).opacity)).toBe('0');
      await page.getByLabel("Replace this device's cartridge with a file").setInputFiles({ name: 'x.db', mimeType: 'application/octet-stream', buffer: Buffer.from('not sqlite') });
      await expect(page.getByRole('alertdialog')).toContainText('Replace everything on this device');
      await page.getByRole('button', { name: 'Cancel' }).click();
      // "… of … available" keeps its words whole
      const lines = await page.locator('fazt-settings').evaluate((el) => {
        const dd = [...el.shadowRoot!.querySelectorAll('dd')].find((d) => d.textContent!.includes('available'))!;
        const walker = document.createTreeWalker(dd, NodeFilter.SHOW_TEXT);
        for (let t = walker.nextNode(); t; t = walker.nextNode()) {
          const i = t.textContent!.indexOf('available');
          if (i < 0) continue;
          const r = document.createRange();
          r.setStart(t, i);
          r.setEnd(t, i + 'available'.length);
          return new Set([...r.getClientRects()].map((c) => Math.round(c.top))).size;
        }
        return -1;
      });
      expect(lines, 'the word "available" on one line').toBe(1);
      await page.evaluate(() => scrollTo(0, 0));
      await shot('device-settings');
      await expectAccessible(page, 'device settings');
    });

    test('PIN mistakes are said next to the PIN field, announced, with focus there', async () => {
      const guided = page.locator('section', { has: page.getByRole('heading', { name: 'Guided mode' }) });
      await guided.getByRole('radio', { name: /A PIN/ }).check();
      await page.getByLabel('New PIN (4 or more digits)').fill('12');
      await page.getByRole('button', { name: 'Turn on guided mode' }).click();
      const pin = page.getByLabel('New PIN (4 or more digits)');
      const err = page.locator('#pin-error');
      await expect(err).toHaveText('The PIN needs at least 4 characters (digits are easiest to type).');
      await expect(err).toHaveAttribute('role', 'alert');
      await expect(pin).toBeFocused();
      await expect(pin).toHaveAttribute('aria-invalid', 'true');
      await expect(err).toBeInViewport();
      const below = await gap(pin, err);
      expect(below, 'error right under its field').toBeGreaterThanOrEqual(0);
      expect(below, 'error right under its field').toBeLessThan(24);
      await shot('pin-too-short');
      await expectAccessible(page, 'PIN too short');
      await pin.fill('2468');
      await page.getByLabel('The same PIN again').fill('2469');
      await page.getByRole('button', { name: 'Turn on guided mode' }).click();
      const again = page.getByLabel('The same PIN again');
      await expect(page.locator('#pin2-error')).toHaveText('The two PINs differ. Type the same PIN again here.');
      await expect(again).toBeFocused();
      expect(await gap(again, page.locator('#pin2-error'))).toBeLessThan(24);
      await expect(err).toBeHidden();
      await shot('pin-differs');
    });

    test('after 5 wrong PINs the lock says it is waiting, counts down and takes nothing until then, then the right PIN opens it', async () => {
      test.setTimeout(150_000);
      await page.getByLabel('The same PIN again').fill('2468');
      await page.getByRole('button', { name: 'Turn on guided mode' }).click();
      await expect(page.getByRole('heading', { name: 'Your apps' })).toBeVisible();
      // plain words on the guided home: where the apps are, no "Hub"
      await expect(page.getByText('They are on this device.')).toBeVisible();
      await page.getByRole('button', { name: 'For the owner: leave guided mode' }).click();
      const secret = page.getByLabel('Owner PIN');
      for (let i = 0; i < 5; i++) {
        await secret.fill(`000${i}`);
        await page.getByRole('button', { name: 'Unlock' }).click();
        await expect(page.getByRole('alert').filter({ hasText: 'That PIN is not right' })).toBeVisible();
      }
      await secret.fill('2468'); // the right PIN, while the lock waits
      await page.getByRole('button', { name: 'Unlock' }).click();
      await expect(page.getByRole('alert')).toContainText('Too many wrong tries. The lock is waiting');
      await expect(page.getByRole('alert')).not.toContainText('not right');
      const timer = page.getByRole('timer');
      await expect(timer).toHaveText(/You can try again in \d+ s\./);
      const first = Number(/(\d+) s/.exec((await timer.textContent())!)![1]);
      await expect(timer).not.toHaveText(`You can try again in ${first} s.`); // it counts down
      await expect(page.getByRole('button', { name: 'Unlock' })).toBeDisabled();
      await secret.press('Enter');
      await expect(page.getByRole('heading', { name: 'Your apps' })).toBeVisible();
      await shot('pin-countdown');
      await expectAccessible(page, 'PIN lock waiting');
      await expect(page.getByRole('button', { name: 'Unlock' })).toBeEnabled({ timeout: 45_000 });
      await expect(timer).toHaveCount(0);
      await secret.fill('2468');
      await page.getByRole('button', { name: 'Unlock' }).click();
      await expect(nav()).toBeVisible();
    });

    test('"Add Fazt to the home screen": the browser’s own dialog when it offers one, else its menu steps, never "Not added"', async () => {
      await page.evaluate(() => localStorage.setItem('fazt.guided', JSON.stringify({ on: true, lock: 'none' })));
      await page.goto(`${node.origin}/#/guided/help/install`);
      await page.getByRole('button', { name: 'Next' }).click();
      await expect(page.getByRole('heading', { name: 'Add it' })).toBeVisible();
      // no offer from the browser: its menu's steps, per platform
      await expect(page.getByText(label === 'phone' ? 'Add to Home screen' : 'Install Fazt')).toBeVisible();
      // an offer whose dialog never appears (the browser refused prompt())
      const fire = (outcome: 'refused' | 'accepted') =>
        page.evaluate((outcome) => {
          const e = new Event('beforeinstallprompt', { cancelable: true }) as Event & { prompt(): Promise<void>; userChoice: Promise<{ outcome: string }> };
          e.prompt = () => (outcome === 'refused' ? Promise.reject(new DOMException('not allowed', 'NotAllowedError')) : Promise.resolve());
          e.userChoice = Promise.resolve({ outcome: 'accepted' });
          dispatchEvent(e);
        }, outcome);
      await fire('refused');
      await page.getByRole('button', { name: 'Add Fazt to the home screen' }).click();
      await expect(page.getByText('Not added')).toHaveCount(0);
      await expect(page.getByRole('status').filter({ hasText: 'This browser adds Fazt from its own menu' })).toBeVisible();
      await expect(page.getByText(label === 'phone' ? 'Add to Home screen' : 'Install Fazt')).toBeVisible();
      await shot('install-steps');
      await expectAccessible(page, 'install steps');
      await fire('accepted');
      await page.getByRole('button', { name: 'Add Fazt to the home screen' }).click();
      await expect(page.getByRole('status').filter({ hasText: 'Fazt is on your home screen' })).toBeVisible();
      await page.evaluate(() => localStorage.setItem('fazt.guided', JSON.stringify({ on: false, lock: 'none' })));
    });

    test('offline reload: the dashboard says it moved to this device and offers the way back when the hub answers', async () => {
      await page.evaluate(() => localStorage.setItem('fazt.target', 'hub'));
      await page.goto(`${node.origin}/#/apps`);
      await page.reload();
      await expect(bar()).toHaveText(`Connected to the hub at 127.0.0.1:${node.port}.`);
      await context.setOffline(true);
      await page.reload();
      await expect(page.getByRole('button', { name: /^Acting on This device\. Change node$/ })).toBeVisible();
      await expect(bar()).toContainText('The hub cannot be reached, so you are using the apps on this device. Changes made here stay on this device.');
      await expect(bar()).toHaveAttribute('role', 'alert');
      await expect(page.locator('li.app', { hasText: 'Drift' })).toBeVisible();
      await shot('moved-to-device');
      await expectAccessible(page, 'moved to this device');
      // the bar stays while the person moves around
      await nav().getByRole('link', { name: 'Settings' }).click();
      await expect(bar()).toContainText('you are using the apps on this device');
      await context.setOffline(false);
      await expect(bar().getByRole('button', { name: 'Back to the hub' })).toBeVisible({ timeout: 30_000 });
      await expect(bar()).toContainText('The hub answers again.');
      await shot('hub-back');
      await bar().getByRole('button', { name: 'Back to the hub' }).click();
      await expect(page.getByRole('button', { name: /^Acting on Hub/ })).toBeVisible();
      await expect(bar()).toHaveText(`Connected to the hub at 127.0.0.1:${node.port}.`);
    });
  });
}
