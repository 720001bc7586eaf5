/**
 * Guided mode for family members, on a hub (the headless node serving the built PWA), at a
 * 360×740 phone viewport: the owner turns it on with a password lock; big app tiles in plain words;
 * every touch target ≥ 48 px; keyboard operable with a visible focus ring; the help wizards; an app
 * opens full screen with a big Home button; admin screens stay out of reach until the owner's
 * password is given. axe-core finds no serious or critical violations on any guided screen.
 */
import { expect, screenshot, startNode, test, type FaztNode } from './fixtures.js';
import { expectAccessible as checkAccessible, screenshotSizes } from './screens.js';
import type { Browser, BrowserContext, Page } from '@playwright/test';

const PASSWORD = 'correct horse battery';
const PHONE = { width: 360, height: 740 };
let node: FaztNode;
let context: BrowserContext;
let page: Page;

/** Screenshots of the current screen at phone, larger phone and desktop size. */
const shots = (name: string) => screenshotSizes(page, `guided-${name}`);
/** axe-core on the current screen: no serious or critical violations. */
const expectAccessible = (what: string) => checkAccessible(page, what);

/** Every visible link and button of the screen is at least 48×48 px (WCAG 2.5.5 / Material's touch target). */
async function expectBigTargets(what: string): Promise<void> {
  const small = await page.evaluate(() => {
    const out: string[] = [];
    const walk = (root: Document | ShadowRoot) => {
      for (const el of root.querySelectorAll<HTMLElement>('*')) {
        if (el.shadowRoot) walk(el.shadowRoot);
        if (!el.matches('a[href], button, input, select, textarea')) continue;
        const r = el.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        if (r.width < 48 || r.height < 48) out.push(`${el.tagName.toLowerCase()} "${(el.textContent ?? '').trim().slice(0, 40)}" ${Math.round(r.width)}×${Math.round(r.height)}`);
      }
    };
    walk(document);
    return out;
  });
  expect(small, `touch targets smaller than 48 px on ${what}`).toEqual([]);
}

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }: { browser: Browser }) => {
  node = await startNode();
  const setup = await fetch(`${node.origin}/api/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
  expect(setup.status).toBe(201);
  context = await browser.newContext({ viewport: PHONE });
  page = await context.newPage();
  await page.goto(`${node.origin}/`);
  await page.getByLabel('Owner password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
});

test.afterAll(async () => {
  await context?.close();
  await node?.stop();
});

test('the owner turns guided mode on with the password lock; family members see big tiles', async () => {
  await page.getByRole('link', { name: 'Settings' }).click();
  await expect(page.getByRole('radio', { name: "The hub's owner password" })).toBeChecked();
  await page.getByRole('button', { name: 'Turn on guided mode' }).click();
  await expect(page.getByRole('heading', { name: 'Your apps' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Dashboard' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: /Change node/ })).toHaveCount(0);
  await expect(page.locator('header')).toContainText('Home server'); // plain words in guided mode, not "Hub"
  await expect(page.locator('header')).toContainText(`127.0.0.1:${node.port}`);
  const tiles = page.getByRole('list', { name: 'Apps' }).getByRole('link');
  await expect(tiles).toHaveText(['Hello, Fazt', 'Notes'].map((t) => new RegExp(t)));
  await shots('home');
  await expectAccessible('guided home');
  await expectBigTargets('guided home');

  // admin screens are out of reach: their addresses land on the guided home
  await page.goto(`${node.origin}/#/settings`);
  await expect(page.getByRole('heading', { name: 'Your apps' })).toBeVisible();
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Your apps' })).toBeVisible();
});

test('keyboard only: Tab reaches the first tile with a visible focus ring, Enter opens the app, Home comes back', async () => {
  const first = page.getByRole('link', { name: 'Hello, Fazt' });
  for (let i = 0; i < 10 && !(await first.evaluate((el) => el.matches(':focus'))); i++) await page.keyboard.press('Tab');
  await expect(first).toBeFocused();
  const outline = await first.evaluate((el) => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth);
  expect(outline).toMatch(/^solid [3-9]/);
  await screenshot(page, 'guided-focus-phone');
  await page.keyboard.press('Enter');
  const home = page.getByRole('link', { name: 'Home' });
  await expect(home).toBeVisible();
  const box = (await home.boundingBox())!;
  expect(box.height).toBeGreaterThanOrEqual(48);
  await expect(page.getByRole('heading', { name: 'Hello, Fazt', level: 1 })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Open on its own address' })).toHaveCount(0);
  await expect(page.frameLocator('fazt-app-frame iframe').getByRole('heading', { name: 'Hello from your Fazt node' })).toBeVisible();
  await shots('open');
  await expectAccessible('an app open in guided mode');
  await home.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Your apps' })).toBeVisible();
});

for (const [wizard, label, steps, lastTitle] of [
  ['install', 'Put Fazt on your home screen', 3, 'Open it from there'],
  ['open', 'How to open an app', 3, 'Use the app'],
  ['home', 'How to come back here', 2, 'Tap Home'],
] as const) {
  test(`wizard "${label}": ${steps} steps, Next and Back, Done goes home`, async () => {
    await page.getByRole('link', { name: label }).click();
    await expect(page.getByText(`Step 1 of ${steps}`)).toBeVisible();
    await shots(`help-${wizard}`);
    await expectAccessible(`wizard ${wizard}`);
    await expectBigTargets(`wizard ${wizard}`);
    await page.getByRole('button', { name: 'Next' }).click();
    await expect(page.getByText(`Step 2 of ${steps}`)).toBeVisible();
    await expect(page.getByRole('heading', { level: 2 })).toBeFocused();
    await page.getByRole('button', { name: 'Back' }).click();
    await expect(page.getByText(`Step 1 of ${steps}`)).toBeVisible();
    for (let i = 1; i < steps; i++) await page.getByRole('button', { name: 'Next' }).click();
    await expect(page.getByRole('heading', { name: lastTitle })).toBeVisible();
    if (wizard === 'install') await screenshot(page, 'guided-help-install-last-phone');
    await page.getByRole('link', { name: 'Done' }).click();
    await expect(page.getByRole('heading', { name: 'Your apps' })).toBeVisible();
  });
}

test('leaving guided mode needs the owner password: a wrong one is refused in plain words', async () => {
  await page.getByRole('button', { name: 'For the owner: leave guided mode' }).click();
  const secret = page.getByLabel('Owner password');
  await expect(secret).toBeFocused();
  await secret.fill('not the password');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await expect(page.getByRole('alert')).toHaveText('That password is not right. Try again.');
  await shots('unlock');
  await expectAccessible('unlock');
  await secret.fill(PASSWORD);
  await page.getByRole('button', { name: 'Unlock' }).click();
  await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Dashboard' })).toBeVisible();
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
});

test('without a lock anyone can leave at once', async () => {
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('radio', { name: 'Nothing (anyone can leave)' }).check();
  await page.getByRole('button', { name: 'Turn on guided mode' }).click();
  await expect(page.getByRole('heading', { name: 'Your apps' })).toBeVisible();
  await page.getByRole('button', { name: 'For the owner: leave guided mode' }).click();
  await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
});
