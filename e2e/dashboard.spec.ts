/**
 * The dashboard as a person uses it on a hub (the headless node serving the built PWA), in Debian's
 * Chromium: first-run owner setup, the app list, opening the example app on its own origin, sign
 * out, a wrong password, sign in, a deploy token. Screenshots at phone and desktop size go to
 * e2e/.cache/screenshots/. (The 400 and 401 answers are expected here, so this spec does not use
 * the failed-request recorder.)
 */
import { expect, screenshot, startNode, test, type FaztNode } from './fixtures.js';

let node: FaztNode;
test.beforeAll(async () => {
  node = await startNode();
});
test.afterAll(async () => {
  await node?.stop();
});

test('owner setup, app list, open the example app, sign out and back in', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 800 });
  await page.goto(`${node.origin}/`);
  await expect(page.locator('fazt-shell')).toBeAttached(); // the PWA dashboard, not the built-in page
  await expect(page.getByRole('heading', { name: 'Welcome: set up Fazt' })).toBeVisible();
  // the header names the node acted on
  await expect(page.getByRole('button', { name: new RegExp(`Acting on Hub · 127\\.0\\.0\\.1:${node.port}`) })).toBeVisible();
  await screenshot(page, 'dashboard-setup-phone');

  // too short a password: a clear message, nothing created
  await page.getByLabel('Owner password (at least 8 characters)').fill('short');
  await page.getByLabel('Owner password (at least 8 characters)').evaluate((el: HTMLInputElement) => el.removeAttribute('minlength'));
  await page.getByRole('button', { name: 'Create owner' }).click();
  await expect(page.getByRole('alert')).toContainText('at least 8 characters');

  await page.getByLabel('Owner password (at least 8 characters)').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create owner' }).click();
  await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
  const hello = page.locator('li.app', { hasText: 'Hello, Fazt' });
  await expect(hello).toContainText('hello · version 1');
  await screenshot(page, 'dashboard-home-phone');
  await page.setViewportSize({ width: 1280, height: 800 });
  await screenshot(page, 'dashboard-home-desktop');

  // the app's path link opens the app on its own origin
  const href = await hello.locator('a', { hasText: '/a/hello/' }).getAttribute('href');
  expect(href).toBe(`${node.origin}/a/hello/`);
  await page.goto(href!);
  expect(page.url()).toBe(`http://hello.localhost:${node.port}/`);
  await expect(page.getByRole('heading', { name: 'Hello from your Fazt node' })).toBeVisible();
  await screenshot(page, 'example-app-desktop');

  // sign out (in the account menu), a wrong password, then the right one
  await page.goto(`${node.origin}/#/settings`);
  await page.getByRole('button', { name: 'Account' }).click();
  await page.getByRole('button', { name: /Sign out/ }).click();
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await page.getByLabel('Owner password', { exact: true }).fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Wrong password.');
  await page.getByLabel('Owner password', { exact: true }).fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'API tokens' })).toBeVisible();

  // a deploy token from the dashboard works for the CLI contract (Bearer auth on the API)
  await page.getByRole('button', { name: 'Create deploy token' }).click();
  const token = (await page.locator('#token-out code').textContent())!;
  expect(token).toMatch(/^fazt_/);
  const res = await fetch(`${node.origin}/api/apps`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
});
