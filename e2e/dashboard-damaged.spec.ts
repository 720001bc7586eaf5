/**
 * A damaged cartridge is said on the dashboard (issue 15, "Smaller"): a hub whose `apps` b-tree page
 * was damaged on disk (its cell count zeroed, so the apps silently vanish from queries) starts, its
 * start-up quick_check finds the damage, and the apps screen says so and points to `fazt doctor`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect, screenshot, startNode, test, type FaztNode } from './fixtures.js';

const PASSWORD = 'correct horse battery';
let node: FaztNode | undefined;
let dir: string;

test.afterAll(async () => {
  await node?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Zeroes the cell count of a table's root page (https://www.sqlite.org/fileformat2.html#b_tree_pages). */
function hideRowsOf(dbPath: string, table: string): void {
  const ro = new Database(dbPath, { readonly: true });
  const root = (ro.prepare('SELECT rootpage FROM sqlite_master WHERE name = ?').get(table) as { rootpage: number }).rootpage;
  const pageSize = ro.pragma('page_size', { simple: true }) as number;
  ro.close();
  const fd = fs.openSync(dbPath, 'r+');
  const header = Buffer.alloc(2);
  fs.writeSync(fd, header, 0, 2, (root - 1) * pageSize + 3);
  fs.closeSync(fd);
}

test('the apps screen says the cartridge is damaged and points to fazt doctor', async ({ page }) => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-e2e-damaged-'));
  const dbPath = path.join(dir, 'cartridge.db');
  const first = await startNode({ dbPath });
  const setup = await fetch(`${first.origin}/api/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
  expect(setup.status).toBe(201);
  expect((await (await fetch(`${first.origin}/api/health`)).json()).integrity).toMatchObject({ state: 'ok' });
  await first.stop({ keepFiles: true });

  hideRowsOf(dbPath, 'apps');
  node = await startNode({ dbPath });
  await expect.poll(async () => (await (await fetch(`${node!.origin}/api/health`)).json()).integrity.state).toBe('damaged');

  await page.goto(`${node.origin}/`);
  await page.getByLabel('Owner password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
  const alert = page.getByRole('alert').filter({ hasText: 'cartridge is damaged' });
  await expect(alert).toContainText('apps or data may be missing');
  await expect(alert).toContainText('fazt doctor');
  await screenshot(page, 'dashboard-damaged-cartridge');
});
