/**
 * The owner's way in that nobody can block (issue 15, part 5), in Chromium against the real node:
 * strangers have rate-limited password sign-in from the owner's address, and the owner signs in on
 * the dashboard with a one-time code printed by `fazt owner login-code` on the machine. The code
 * works once. (The 401 and 429 answers are expected, so this spec does not use the request recorder.)
 */
import { expect, runCli, screenshot, startNode, test, type FaztNode } from './fixtures.js';

const PASSWORD = 'correct horse battery';
let node: FaztNode;

test.beforeAll(async () => {
  node = await startNode({ args: ['--no-example'] });
  const setup = await fetch(`${node.origin}/api/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
  expect(setup.status).toBe(201);
  // ten wrong passwords from 127.0.0.1, the address the browser signs in from too
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`${node.origin}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: `wrong ${i}` }) });
    expect(r.status).toBe(401);
  }
});
test.afterAll(async () => {
  await node?.stop();
});

test('rate-limited password sign-in; a one-time code from the CLI signs the owner in, once', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 800 });
  await page.goto(`${node.origin}/`);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await page.getByLabel('Owner password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('Too many failed sign-ins');
  await expect(page.getByRole('alert')).toContainText('fazt owner login-code');

  const cli = await runCli(['owner', 'login-code', '--db', node.dbPath]);
  expect(cli.code, cli.stderr).toBe(0);
  const code = cli.stdout.split('\n')[0]!;
  expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);

  await page.getByRole('button', { name: 'Locked out? Use a one-time code' }).click();
  await page.getByLabel(/One-time code/).fill(code);
  await screenshot(page, 'sign-in-one-time-code-phone');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();

  // signed out, the same code is spent
  await page.goto(`${node.origin}/#/settings`);
  await page.getByRole('button', { name: 'Account' }).click();
  await page.getByRole('button', { name: /Sign out/ }).click();
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await page.getByRole('button', { name: 'Locked out? Use a one-time code' }).click();
  await page.getByLabel(/One-time code/).fill(code);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('already used');
});
