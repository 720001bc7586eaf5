/**
 * The notes example in Debian's Chromium, as a person uses it: a new cartridge comes with the app, the
 * page on its own origin lists, adds, ticks off, filters and deletes notes through the app's API, and
 * shows the API's error message for a note that is only spaces. Screenshots go to
 * e2e/.cache/screenshots/ (examples-notes-*.png).
 */
import { expect, screenshot, startNode, test, type FaztNode } from './fixtures.js';

let node: FaztNode;
test.beforeAll(async () => {
  node = await startNode(); // a new cartridge: seeded with hello and notes
  // The first API call primes a sandbox with the app's code, zod included (≈200 ms in QuickJS on an
  // idle machine). That time counts against the request's 1 s CPU budget, measured as wall time in
  // QuickJS, so while Chromium starts up it can end in 504 APP_TIMEOUT (reported as a runtime issue).
  // Prime it before the browser test, which is about the page.
  for (let i = 0; i < 5; i++) if ((await fetch(`${node.origin}/a/notes/api/notes`)).ok) break;
});
test.afterAll(async () => {
  await node?.stop();
});

test('notes: add, tick off, filter and delete notes on its own origin', async ({ page, requests }) => {
  await page.setViewportSize({ width: 420, height: 760 });
  await page.goto(`${node.origin}/a/notes/`);
  expect(page.url()).toBe(`http://notes.localhost:${node.port}/`); // a browser opening /a/notes/ lands on the app's origin
  await expect(page.getByRole('heading', { name: 'Notes' })).toBeVisible();
  await expect(page.getByText('Nothing here yet.')).toBeVisible();

  const input = page.getByPlaceholder('Write a note or a todo…');
  for (const text of ['Buy oat milk', 'Call the plumber', 'Water the plants']) {
    await input.fill(text);
    await input.press('Enter');
    await expect(page.locator('#notes li', { hasText: text })).toBeVisible();
  }
  await expect(input).toHaveValue('');
  const items = page.locator('#notes li');
  await expect(items).toHaveText(['Buy oat milk✕', 'Call the plumber✕', 'Water the plants✕']);

  await page.getByRole('checkbox', { name: 'Call the plumber' }).check();
  await expect(page.locator('#notes li.done')).toHaveText(['Call the plumber✕']);
  await screenshot(page, 'examples-notes-list');

  await page.getByRole('button', { name: 'Done', exact: true }).click();
  await expect(items).toHaveText(['Call the plumber✕']);
  await page.getByRole('button', { name: 'Open', exact: true }).click();
  await expect(items).toHaveText(['Buy oat milk✕', 'Water the plants✕']);
  await page.getByRole('button', { name: 'All', exact: true }).click();
  await expect(items).toHaveCount(3);

  await page.getByRole('button', { name: 'Delete “Water the plants”' }).click();
  await expect(items).toHaveText(['Buy oat milk✕', 'Call the plumber✕']);

  // the page's own check lets "   " through; the API refuses it and the page shows why
  await input.fill('   ');
  await page.getByRole('button', { name: 'Add' }).click();
  await expect(page.getByRole('alert')).toHaveText('text: text must not be empty');
  await expect(items).toHaveCount(2);
  await screenshot(page, 'examples-notes-error');
  requests.failures.splice(0, requests.failures.length, ...requests.failures.filter((f) => !/^HTTP 400 POST .*\/api\/notes$/.test(f)));

  // a reload shows what the API stored
  await page.reload();
  await expect(items).toHaveText(['Buy oat milk✕', 'Call the plumber✕']);
  await expect(page.getByRole('checkbox', { name: 'Call the plumber' })).toBeChecked();
  await page.setViewportSize({ width: 1280, height: 800 });
  await screenshot(page, 'examples-notes-desktop');
});
