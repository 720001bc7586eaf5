/**
 * The egress quota in the dashboard (docs/safeguards.md): an app on a real hub fetches from a real
 * HTTP server on 127.0.0.1 through `fazt.net.fetch` until its quota is used; its page shows this
 * month's traffic against the quota, and that fetches are refused until the month ends. Phone size
 * (360×740); screenshot in e2e/.cache/screenshots/.
 */
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createToken, deployApp, expect, screenshot, startNode, test, type FaztNode } from './fixtures.js';
import { device, openPwa } from './pwa-fixtures.js';

const PASSWORD = 'correct horse battery';
let node: FaztNode;
let upstream: Server;
let dir: string;

test.beforeAll(async () => {
  upstream = createServer((_req, res) => res.writeHead(200, { 'content-length': '40000' }).end(Buffer.alloc(40_000, 97)));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  node = await startNode();
  expect((await fetch(`${node.origin}/api/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) })).status).toBe(201);
  const token = await createToken(node, 'admin');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-e2e-egress-'));
  fs.mkdirSync(path.join(dir, 'api'));
  fs.writeFileSync(path.join(dir, 'app.json'), JSON.stringify({ name: 'fetcher', title: 'Fetcher', permissions: ['net:127.0.0.1'] }));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>Fetcher</title><h1>Fetcher</h1>');
  fs.writeFileSync(
    path.join(dir, 'api', 'main.js'),
    `export default { async fetch(req) { const r = await fazt.net.fetch(new URL(req.url).searchParams.get('url')); return Response.json({ bytes: (await r.arrayBuffer()).byteLength }); } };`,
  );
  await deployApp(node, token, dir, 'fetcher');
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  expect((await fetch(`${node.origin}/api/apps/fetcher/permissions`, { method: 'POST', headers: auth, body: JSON.stringify({ grant: 'all' }) })).status).toBe(200);
  expect((await fetch(`${node.origin}/api/apps/fetcher/egress`, { method: 'PUT', headers: auth, body: JSON.stringify({ bytesPerMonth: 100_000 }) })).status).toBe(200);
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/data`;
  const call = () => fetch(`${node.origin}/a/fetcher/api/get?url=${encodeURIComponent(url)}`);
  for (let i = 0; i < 2; i++) expect((await call()).status).toBe(200); // 80,000 of 100,000 bytes
  const refused = await call(); // 40,000 more would pass the quota: refused before the body is read
  expect(refused.status).toBe(429);
  expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('EGRESS_QUOTA_EXCEEDED');
});

test.afterAll(async () => {
  await node?.stop();
  await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test("the app's page shows its outbound traffic against the quota", async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto(`${node.origin}/`);
  await page.getByLabel('Owner password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
  await page.goto(`${node.origin}/#/app/fetcher`);
  const line = page.getByTestId('egress');
  await expect(line).toHaveText(/^\s*Outbound traffic \(fazt\.net\.fetch\) this month: 78 KB of 98 KB, resets \d{4}-\d{2}-01 · 1 fetch refused\s*$/);
  await screenshot(page, 'app-egress-phone');
  // the hello example has no quota and fetched nothing: no line
  await page.goto(`${node.origin}/#/app/hello`);
  await expect(page.getByRole('heading', { name: 'Hello, Fazt' })).toBeVisible();
  await expect(page.getByTestId('egress')).toHaveCount(0);
});

test.describe('the browser node', () => {
  test.use({ serviceWorkers: 'allow' });

  test("measures its disk with navigator.storage.estimate() and keeps its limit in its cartridge", async ({ page }) => {
    await openPwa(page, node.origin);
    const estimate = await page.evaluate(async () => {
      const e = await navigator.storage.estimate();
      return { quota: e.quota ?? 0, usage: e.usage ?? 0 };
    });
    let r = await device(page, '/api/disk');
    expect(r.status, r.text).toBe(200);
    const disk = (r.json as { disk: { known: boolean; tripped: boolean; totalBytes: number; limitFraction: number } }).disk;
    expect(disk).toMatchObject({ known: true, tripped: false, limitFraction: 0.8 });
    // the origin's quota is the browser node's "disk" (Chromium moves it a little as the disk changes)
    expect(Math.abs(disk.totalBytes - estimate.quota) / estimate.quota).toBeLessThan(0.01);
    r = await device(page, '/api/disk', { method: 'PUT', body: JSON.stringify({ limit: '90%' }), headers: { 'content-type': 'application/json' } });
    expect(r.status, r.text).toBe(200);
    expect((r.json as { disk: { limitFraction: number } }).disk.limitFraction).toBe(0.9);
  });
});
