/**
 * Issue 15.1 in Chromium: a hostile app cannot wipe the owner's browser storage or sign the owner
 * out. The node runs with `--domain home.localhost` (standing in for a wildcard-domain install), the
 * dashboard is open on `home.localhost` with the browser node's cartridge in OPFS, a localStorage
 * entry and the owner's session cookie. The hostile app's own page (on `hostile.home.localhost`)
 * loads its API as images, both on its subdomain and under `/a/hostile/` on the node's origin; the
 * API answers `Clear-Site-Data: "cookies", "storage", "cache"` and cookies aimed at the session
 * (`Domain=home.localhost; Path=/api/session`, a shadowing `fazt_session`).
 * Afterwards the OPFS cartridge, localStorage and the session must all be there.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createToken, deployApp, expect, startNode, test, type FaztNode } from './fixtures.js';
import { COUNTER_APP, deployToDevice, device, opfsFiles, openPwa, pageFetch } from './pwa-fixtures.js';

test.use({ serviceWorkers: 'allow' });

let node: FaztNode;
let appDir: string;

test.beforeAll(async () => {
  node = await startNode({ domain: 'home.localhost' });
  appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-hostile-'));
  const nodeOrigin = `http://home.localhost:${node.port}`;
  fs.writeFileSync(path.join(appDir, 'app.json'), JSON.stringify({ name: 'hostile', title: 'Free wallpapers' }));
  fs.writeFileSync(
    path.join(appDir, 'index.html'),
    `<!doctype html><title>Free wallpapers</title><h1>Wallpapers</h1>
<script>
  let left = 2;
  const done = () => { if (--left === 0) document.body.dataset.done = '1'; };
  for (const src of [${JSON.stringify(nodeOrigin + '/a/hostile/api/wipe')}, '/api/wipe']) {
    const img = new Image();
    img.onload = img.onerror = done;
    img.src = src + '?t=' + Date.now();
  }
</script>`,
  );
  fs.mkdirSync(path.join(appDir, 'api'));
  fs.writeFileSync(
    path.join(appDir, 'api', 'main.js'),
    `export default {
  fetch() {
    const h = new Headers({ 'content-type': 'image/gif', 'cache-control': 'no-store' });
    h.append('clear-site-data', '"cookies", "storage", "cache"');
    h.append('set-cookie', 'fazt_session=tossed; Domain=home.localhost; Path=/api/session');
    h.append('set-cookie', 'fazt_session=shadow; Path=/api');
    return new Response('GIF89a', { headers: h });
  },
};`,
  );
  const token = await createToken(node);
  await deployApp(node, token, appDir, 'hostile');
});

test.afterAll(async () => {
  await node?.stop();
  if (appDir) fs.rmSync(appDir, { recursive: true, force: true });
});

test("a hostile app's responses leave the dashboard's OPFS cartridge, localStorage and session alone", async ({ page, context }) => {
  const nodeOrigin = `http://home.localhost:${node.port}`;
  await openPwa(page, nodeOrigin);
  // the owner signs in on the dashboard's origin (first-run setup from this machine)
  const setup = await pageFetch(page, '/api/setup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'correct horse battery' }) });
  expect(setup.status, setup.text).toBe(201);
  expect((await pageFetch(page, '/api/session')).json.authenticated).toBe(true);
  // the browser node holds a cartridge in OPFS with an app in it
  const deployed = await deployToDevice(page, 'counter', COUNTER_APP);
  expect(deployed.status, deployed.text).toBeLessThan(300);
  await expect.poll(async () => Object.keys(await opfsFiles(page)).length).toBeGreaterThan(0);
  const before = await opfsFiles(page);
  await page.evaluate(() => localStorage.setItem('fazt-test-marker', 'kept'));

  // the hostile app's page, on its own subdomain, fires its requests
  const attacker = await context.newPage();
  const served: { url: string; headers: Record<string, string> }[] = [];
  attacker.on('response', async (r) => {
    if (r.url().includes('/api/wipe')) served.push({ url: r.url(), headers: await r.allHeaders() });
  });
  await attacker.goto(`http://hostile.home.localhost:${node.port}/`);
  await expect(attacker.locator('body')).toHaveAttribute('data-done', '1');
  expect(served.length).toBe(2);
  await attacker.close();

  // everything the owner had is still there
  expect(await page.evaluate(() => localStorage.getItem('fazt-test-marker'))).toBe('kept');
  expect(await opfsFiles(page)).toEqual(before);
  const session = await pageFetch(page, '/api/session');
  expect(session.json.authenticated, 'the owner is still signed in').toBe(true);
  const cookies = await context.cookies(nodeOrigin);
  expect(cookies.filter((c) => c.name === 'fazt_session').map((c) => c.value)).not.toContain('tossed');
  const counter = await device(page, '/a/counter/index.html');
  expect(counter.status).toBe(200);
  for (const s of served) expect(s.headers['clear-site-data'], s.url).toBeUndefined();
});
