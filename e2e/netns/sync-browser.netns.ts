/**
 * The browser node syncs (issue 12; docs/sync-spec.md, docs/browser-node.md), with real parts only:
 * Debian's Chromium running the built PWA (the page carries the WebRTC data channel, the service
 * worker the device kernel with its sync engine) and a real headless node (`bin/fazt.js start`) on
 * loopback WebRTC. Runs inside a loopback-only network namespace: start it through
 * `e2e/sync-browser.spec.ts` (or `node e2e/netns/run-in-netns.mjs -- npx playwright test --config
 * e2e/netns/playwright.config.ts sync-browser`).
 *
 * What it proves: an app and its kv written on the node appear on the device (S21, S22, S11); a write
 * on the device appears on the node; both write the same key while apart (the node stopped, then the
 * device's page closed so no link can open) → on reconnect both converge on the later write, the
 * earlier one is kept as a conflict (S13) that the dashboard's Devices screen lists, and "Keep the
 * other" there makes the losing value win on both nodes; the service worker stopped during a
 * catch-up resumes it (S34).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type Page } from '@playwright/test';
import { createToken, deployApp, expect, REPO_ROOT, startNode, type FaztNode } from '../fixtures.js';
import { device, openPwa, stopWorkers } from '../pwa-fixtures.js';
import { addVeth, removeVeth } from './veth.js';

const VETH = 'fzsync0';

test.beforeAll(() => {
  if (process.env.FAZT_NETNS !== '1') throw new Error('These tests must run in a loopback-only network namespace: run e2e/sync-browser.spec.ts (it starts them through e2e/netns/run-in-netns.mjs).');
  addVeth(VETH, '10.214.0.1/24', 'Chromium is "offline" with only loopback, and context.setOffline then fires no offline event');
});

test.afterAll(() => removeVeth(VETH));

interface Hub {
  node: FaztNode;
  token: string;
  id: string;
}

async function hubApi(hub: Hub, method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(hub.node.origin + p, {
    method,
    headers: { authorization: `Bearer ${hub.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json().catch(() => undefined) };
}

async function startHub(opts: { port?: number; dbPath?: string } = {}): Promise<Hub> {
  const node = await startNode({ port: opts.port, dbPath: opts.dbPath, args: ['--no-example'] });
  const token = await createToken(node);
  const hub: Hub = { node, token, id: '' };
  hub.id = (await hubApi(hub, 'GET', '/api/mesh')).json.nodeId;
  return hub;
}

const OWNER_PASSWORD = 'correct horse battery staple';
const json = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

/** A notes app: `GET /api/set?k=&v=` stores a kv string, `GET /api/get?k=` reads it. */
const NOTES_APP: Record<string, string> = {
  'app.json': JSON.stringify({ name: 'notes', title: 'Notes' }),
  'index.html': '<!doctype html><title>Notes</title><h1>Notes app</h1>',
  'api/main.js': `export default {
  async fetch(request) {
    const url = new URL(request.url);
    const k = url.searchParams.get('k');
    if (url.pathname === '/api/set') {
      await fazt.kv.set(k, url.searchParams.get('v'));
      return { ok: true };
    }
    if (url.pathname === '/api/get') return { v: (await fazt.kv.get(k)) ?? null };
    if (url.pathname === '/api/fill') {
      const from = Number(url.searchParams.get('from'));
      const n = Number(url.searchParams.get('n'));
      for (let i = from; i < from + n; i++) await fazt.kv.set('row-' + i, 'value ' + i + ' ' + 'x'.repeat(200));
      return { n };
    }
    return Response.json({ error: { code: 'NOT_FOUND', message: 'no route ' + url.pathname } }, { status: 404 });
  },
};
`,
};

/** The value of kv key `k` of app notes on the hub, through the app's own API. */
async function hubGet(hub: Hub, k: string): Promise<string | null> {
  const r = await fetch(`${hub.node.origin}/a/notes/api/get?k=${encodeURIComponent(k)}`);
  return r.ok ? ((await r.json()) as { v: string | null }).v : null;
}

async function hubSet(hub: Hub, k: string, v: string): Promise<void> {
  const r = await fetch(`${hub.node.origin}/a/notes/api/set?k=${encodeURIComponent(k)}&v=${encodeURIComponent(v)}`);
  expect(r.status, await r.text()).toBe(200);
}

/** The value of kv key `k` of app notes on the device, through the app's API in the service worker. */
async function deviceGet(page: Page, k: string): Promise<string | null> {
  const r = await device(page, `/a/notes/api/get?k=${encodeURIComponent(k)}`);
  return r.status === 200 ? r.json.v : null;
}

async function deviceSet(page: Page, k: string, v: string): Promise<void> {
  const r = await device(page, `/a/notes/api/set?k=${encodeURIComponent(k)}&v=${encodeURIComponent(v)}`);
  expect(r.status, r.text).toBe(200);
}

/** The device node's sync state with one peer. */
async function deviceSync(page: Page, id: string): Promise<any> {
  const r = await device(page, '/api/sync/status');
  return (r.json ?? []).find((p: { nodeId: string }) => p.nodeId === id);
}

/** Opens the dashboard's Devices screen, acting on this device's node. */
/** RSS of this test process's Chromium (every descendant process), bytes: the total and the largest one. */
function chromiumRss(): { total: number; largest: number } {
  const parent = new Map<number, number>();
  const rss = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), Number(fields[1]));
      // field 24 of stat (rss, in pages); fields[] starts at field 3
      rss.set(Number(d), Number(fields[21]) * 4096);
    } catch {
      // the process ended meanwhile
    }
  }
  const mine = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  let total = 0;
  let largest = 0;
  for (const [pid, bytes] of rss) {
    if (!mine(pid)) continue;
    total += bytes;
    largest = Math.max(largest, bytes);
  }
  return { total, largest };
}

const MiB = (n: number) => `${(n / 1048576).toFixed(0)} MiB`;

async function devicesScreen(page: Page): Promise<void> {
  await actOnDevice(page, '#/devices');
}

/** Opens dashboard route `hash` acting on this device (the browser node), not the hub. */
async function actOnDevice(page: Page, hash: string): Promise<void> {
  await page.evaluate((h) => (location.hash = h), hash);
  const chooser = page.getByRole('button', { name: /^Acting on .*Change node$/ });
  await expect(chooser).toBeVisible();
  if (!/This device/.test((await chooser.getAttribute('aria-label')) ?? (await chooser.innerText()))) {
    await chooser.click();
    await page.getByRole('group', { name: 'Choose the node to act on' }).getByRole('button', { name: /This device/ }).click();
  }
}

test('the browser node syncs with a headless node: apps and kv both ways, a conflict while apart shown and resolved in the dashboard', async ({ page, context }) => {
  const hub = await startHub();
  const appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-notes-'));
  for (const [p, text] of Object.entries(NOTES_APP)) {
    fs.mkdirSync(path.dirname(path.join(appDir, p)), { recursive: true });
    fs.writeFileSync(path.join(appDir, p), text);
  }
  page.on('console', (m) => {
    if (/sync|mesh relay/.test(m.text())) console.log(`[page] ${m.text()}`);
  });
  let current = page;
  try {
    // the owner's password: the dashboard compares the copies of an app only when signed in to the hub too
    const setup = await fetch(`${hub.node.origin}/api/setup`, json({ password: OWNER_PASSWORD }));
    expect(setup.status, await setup.text()).toBe(201);
    await deployApp(hub.node, hub.token, appDir, 'notes');
    await hubSet(hub, 'greeting', 'hello from the node');
    expect(await hubGet(hub, 'greeting')).toBe('hello from the node');

    await openPwa(page, hub.node.origin);
    const me = (await device(page, '/api/mesh')).json;
    // as e2e/netns/mesh-browser.netns.ts: let the first start's writes land before the worker is stopped
    await page.waitForTimeout(2_000);
    await stopWorkers(page);
    await page.waitForTimeout(1_000);

    await test.step('pair: the app and its kv written on the node appear on the device', async () => {
      const inv = await hubApi(hub, 'POST', '/api/mesh/invitations', {});
      expect(inv.status).toBe(201);
      const joined = await device(page, '/api/mesh/join', json({ invitation: inv.json.code }));
      expect(joined.status, joined.text).toBe(201);
      const t0 = Date.now();
      await expect.poll(() => deviceGet(page, 'greeting'), { timeout: 60_000 }).toBe('hello from the node');
      console.log(`pairing → the app and its kv run on the device: ${Date.now() - t0} ms`);
      // the same app: same id, its page served by the device node
      const hubApp = (await hubApi(hub, 'GET', '/api/apps/notes')).json;
      const devApp = (await device(page, '/api/apps/notes')).json;
      expect(devApp.id).toBe(hubApp.id);
      expect((await device(page, '/a/notes/')).text).toContain('Notes app');
      await expect.poll(async () => (await deviceSync(page, hub.id))?.connected, { timeout: 20_000 }).toBe(true);
    });

    await test.step('a write on the device appears on the node', async () => {
      const t0 = Date.now();
      await deviceSet(page, 'from-phone', 'written on the phone');
      await expect.poll(() => hubGet(hub, 'from-phone'), { timeout: 20_000, intervals: [50, 100, 250] }).toBe('written on the phone');
      console.log(`a device write visible on the node: ${Date.now() - t0} ms`);
    });

    await test.step('both write the same key while apart; after reconnecting they converge and keep the conflict', async () => {
      // apart: the node stops, the device writes; the device's page closes (no page, no link), the node
      // comes back and writes the same key later
      await hub.node.stop({ keepFiles: true });
      await expect.poll(async () => (await deviceSync(page, hub.id))?.connected, { timeout: 30_000 }).toBe(false);
      await deviceSet(page, 'shared', 'phone');
      const pending = await deviceSync(page, hub.id);
      expect(pending.pendingOut).toBeGreaterThan(0);
      await page.close();
      const restarted = await startHub({ port: hub.node.port, dbPath: hub.node.dbPath });
      Object.assign(hub, restarted);
      expect((await hubApi(hub, 'GET', '/api/sync/status')).json).toEqual([expect.objectContaining({ nodeId: me.nodeId, connected: false })]);
      await hubSet(hub, 'shared', 'node');

      // a new page: the relay opens the link again, and sync runs by itself
      current = await context.newPage();
      await openPwa(current, hub.node.origin);
      await expect.poll(() => deviceGet(current, 'shared'), { timeout: 60_000 }).toBe('node');
      await expect.poll(() => hubGet(hub, 'shared'), { timeout: 20_000 }).toBe('node');
      // the later write won on both; the earlier one is a conflict on both
      const conflicts = (await device(current, '/api/conflicts')).json;
      expect(conflicts).toEqual([expect.objectContaining({ appName: 'notes', kind: 'kv', key: 'shared', winner: '"node"', loser: '"phone"', resolution: null })]);
      await expect.poll(async () => (await hubApi(hub, 'GET', '/api/conflicts')).json.map((c: { id: string }) => c.id), { timeout: 20_000 }).toEqual([conflicts[0].id]);
    });

    await test.step('the Devices screen shows the sync state and the conflict; "Keep the other" makes the losing value win everywhere', async () => {
      await devicesScreen(current);
      const peer = current.locator(`li.peer[data-node="${hub.id}"]`);
      await expect(peer.locator('.sync')).toHaveAttribute('data-sync', 'up-to-date', { timeout: 20_000 });
      await expect(peer.locator('.sync')).toContainText('In sync');
      await expect(peer.locator('.sync')).toContainText('last synced');
      const item = current.locator('li.conflict').filter({ hasText: 'shared' });
      await expect(item).toBeVisible({ timeout: 10_000 });
      await expect(item.locator('.winner')).toHaveText('node');
      await expect(item.locator('.loser')).toHaveText('phone');
      await expect(item).toContainText('notes');
      fs.mkdirSync(path.join(REPO_ROOT, 'e2e/.cache/screenshots'), { recursive: true });
      await current.screenshot({ path: path.join(REPO_ROOT, 'e2e/.cache/screenshots/devices-sync-conflict.png'), fullPage: true });
      await item.getByRole('button', { name: /^Keep the other/ }).click();
      await expect(current.locator('li.conflict')).toHaveCount(0);
      await expect(current.locator('#no-conflicts')).toBeVisible();
      expect(await deviceGet(current, 'shared')).toBe('phone');
      await expect.poll(() => hubGet(hub, 'shared'), { timeout: 20_000 }).toBe('phone');
      // resolved on the device, resolved on the node too (conflicts replicate)
      await expect.poll(async () => (await hubApi(hub, 'GET', '/api/conflicts')).json, { timeout: 20_000 }).toEqual([]);
    });

    await test.step('offline (context.setOffline): the link closes at once, both write while apart, and they converge when the device is back online', async () => {
      await devicesScreen(current);
      const peer = current.locator(`li.peer[data-node="${hub.id}"]`);
      await expect(peer.locator('.sync')).toHaveAttribute('data-sync', 'up-to-date', { timeout: 20_000 });
      expect(await current.evaluate(() => navigator.onLine), 'Chromium sees a network (the veth)').toBe(true);
      await context.setOffline(true);
      const t0 = Date.now();
      await expect.poll(async () => (await deviceSync(current, hub.id))?.connected, { timeout: 5_000, intervals: [50, 100, 250] }).toBe(false);
      console.log(`offline → the link is down: ${Date.now() - t0} ms`);
      await expect(peer.locator('.link-trouble')).toHaveText('This device is offline. It connects again by itself when it is back online.', { timeout: 10_000 });
      await expect(peer.locator('.sync')).toHaveAttribute('data-sync', 'off');
      // the device works offline; the node goes on too; the same key is written on both, the node later
      await deviceSet(current, 'offline-phone', 'written on the phone while offline');
      await deviceSet(current, 'apart', 'phone');
      await hubSet(hub, 'offline-node', 'written on the node meanwhile');
      await current.waitForTimeout(20);
      await hubSet(hub, 'apart', 'node');
      expect(await hubGet(hub, 'offline-phone')).toBeNull();
      expect((await deviceSync(current, hub.id)).pendingOut).toBeGreaterThan(0);
      await current.waitForTimeout(2_000);
      expect(await deviceGet(current, 'offline-node')).toBeNull();
      await context.setOffline(false);
      const t1 = Date.now();
      await expect.poll(() => deviceGet(current, 'offline-node'), { timeout: 30_000 }).toBe('written on the node meanwhile');
      console.log(`online → the node's write on the device: ${Date.now() - t1} ms`);
      await expect.poll(() => hubGet(hub, 'offline-phone'), { timeout: 20_000 }).toBe('written on the phone while offline');
      await expect.poll(() => deviceGet(current, 'apart'), { timeout: 20_000 }).toBe('node');
      expect(await hubGet(hub, 'apart')).toBe('node');
      await expect(current.locator('li.conflict').filter({ hasText: 'apart' })).toBeVisible({ timeout: 10_000 });
      await expect(peer.locator('.sync')).toHaveAttribute('data-sync', 'up-to-date', { timeout: 20_000 });
      // resolved as the owner would leave it: the later write stays
      await current.locator('li.conflict').filter({ hasText: 'apart' }).getByRole('button', { name: /^Keep this/ }).click();
      await expect(current.locator('li.conflict')).toHaveCount(0);
    });

    await test.step('a catch-up shows its progress bar on the Devices screen and in the copies view; the browser\'s RSS meanwhile', async () => {
      const ROWS = 30_000;
      await current.close();
      await expect.poll(async () => (await hubApi(hub, 'GET', '/api/sync/status')).json[0]?.connected, { timeout: 30_000 }).toBe(false);
      for (let from = 0; from < ROWS; from += 250) {
        const fill = await fetch(`${hub.node.origin}/a/notes/api/fill?from=${100_000 + from}&n=250`);
        expect(fill.status, await fill.text()).toBe(200);
      }
      const before = chromiumRss();
      let peak = before;
      const sampler = setInterval(() => {
        const now = chromiumRss();
        peak = { total: Math.max(peak.total, now.total), largest: Math.max(peak.largest, now.largest) };
      }, 100);
      try {
        current = await context.newPage();
        await openPwa(current, hub.node.origin);
        const t0 = Date.now();
        // signed in to the hub as well (its session cookie), so the dashboard can read both copies
        const login = await current.evaluate(async (password) => (await fetch('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password }) })).status, OWNER_PASSWORD);
        expect(login).toBe(200);
        await current.reload();
        // the copies view on the app's page: the device's copy holds fewer records than the node's while
        // they sync, and the view says that sync is bringing them together (not how to do it by hand)
        await actOnDevice(current, '#/app/notes');
        const copies = current.locator('fazt-copies section.copies');
        await expect(copies).toBeVisible({ timeout: 20_000 });
        // the screen reads the copies again every 3 s while they converge: the link is open by then
        await expect(copies.locator('.sync')).toHaveText(/^(Syncing with the hub: [\d,]+ changes? to go\.|Synced with the hub; the last changes are arriving\.)$/, { timeout: 15_000 });
        console.log(`copies view: "${await copies.locator('.sync').textContent()}" (${Date.now() - t0} ms)`);
        await expect(copies).not.toContainText('To bring them together');
        await current.screenshot({ path: path.join(REPO_ROOT, 'e2e/.cache/screenshots/apps-copies-syncing.png'), fullPage: true });
        await devicesScreen(current);
        const peer = current.locator(`li.peer[data-node="${hub.id}"]`);
        const bar = peer.locator('progress.catch-up');
        await expect(peer.locator('.sync')).toHaveAttribute('data-sync', 'catching-up', { timeout: 30_000 });
        await expect(peer.locator('.sync')).toContainText('Catching up');
        await expect(bar).toBeVisible();
        const value = await bar.evaluate((e) => (e as HTMLProgressElement).value);
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThan(100);
        // and it moves (the screen reads the state every second; the catch-up takes several)
        let moved = value;
        await expect
          .poll(async () => (moved = await bar.evaluate((e) => (e as HTMLProgressElement).value, undefined, { timeout: 1_000 })), { timeout: 30_000, intervals: [100] })
          .toBeGreaterThan(value);
        console.log(`progress bar at ${value} % (${Date.now() - t0} ms), then ${moved} %`);
        await current.screenshot({ path: path.join(REPO_ROOT, 'e2e/.cache/screenshots/devices-sync-catching-up.png'), fullPage: true });
        // back on the app's page while the catch-up goes on: the copies still differ there ...
        await actOnDevice(current, '#/app/notes');
        await expect(current.locator('fazt-copies section.copies')).toBeVisible();
        await expect.poll(() => deviceGet(current, `row-${100_000 + ROWS - 1}`), { timeout: 90_000 }).toBe(`value ${100_000 + ROWS - 1} ` + 'x'.repeat(200));
        console.log(`catch-up of ${ROWS} rows (~${MiB(ROWS * 230)} of values) into the browser node: ${Date.now() - t0} ms`);
        // ... and once caught up the view goes by itself (the copies are the same)
        await expect.poll(async () => (await deviceSync(current, hub.id))?.caughtUp, { timeout: 30_000 }).toBe(true);
        await expect(current.locator('fazt-copies section.copies')).toHaveCount(0, { timeout: 20_000 });
      } finally {
        clearInterval(sampler);
      }
      const after = chromiumRss();
      console.log(`Chromium RSS (all its processes) before ${MiB(before.total)}, peak during the catch-up ${MiB(peak.total)}, after ${MiB(after.total)}; largest process before ${MiB(before.largest)}, peak ${MiB(peak.largest)}, after ${MiB(after.largest)}`);
      expect(peak.total).toBeGreaterThan(0);
    });

    await test.step('the service worker stopped during a catch-up resumes it', async () => {
      const ROWS = 10_000;
      // the node writes 10000 rows while the device's page is away (no link), then the page comes back
      // and the worker is stopped once some of them, not all, have arrived
      await current.close();
      await expect.poll(async () => (await hubApi(hub, 'GET', '/api/sync/status')).json[0]?.connected, { timeout: 30_000 }).toBe(false);
      // what both hold before (the earlier steps' keys)
      const baseline = (await hubApi(hub, 'GET', '/api/apps/notes/storage')).json.kv.count as number;
      // in requests of 250 rows (an app request has 1 s of CPU time)
      for (let from = 0; from < ROWS; from += 250) {
        const fill = await fetch(`${hub.node.origin}/a/notes/api/fill?from=${from}&n=250`);
        expect(fill.status, await fill.text()).toBe(200);
      }
      current = await context.newPage();
      await openPwa(current, hub.node.origin);
      const t0 = Date.now();
      // under way: some rows arrived, not all
      const count = async () => (await device(current, '/api/apps/notes/storage')).json?.kv?.count ?? 0;
      await expect.poll(count, { timeout: 60_000, intervals: [20] }).toBeGreaterThan(baseline);
      await stopWorkers(current);
      const atStop = await count();
      console.log(`the worker was stopped with ${atStop - baseline} of ${ROWS} rows applied`);
      // the stop landed mid catch-up (a count read after it restarts the worker: it can only be higher than at the stop)
      expect(atStop).toBeLessThan(ROWS + baseline);
      await expect.poll(() => deviceGet(current, `row-${ROWS - 1}`), { timeout: 90_000 }).toBe(`value ${ROWS - 1} ` + 'x'.repeat(200));
      console.log(`catch-up of ${ROWS} rows with a worker stop in it: ${Date.now() - t0} ms`);
      expect(await count()).toBe(ROWS + baseline);
      let last: unknown;
      await expect
        .poll(async () => ((last = { device: await deviceSync(current, hub.id), hub: (await hubApi(hub, 'GET', '/api/sync/status')).json[0] }) as any).device?.caughtUp, { timeout: 30_000 })
        .toBe(true)
        .catch((e: Error) => {
          throw new Error(`${e.message}\nlast status: ${JSON.stringify(last)}`);
        });
      const integrity = (await hubApi(hub, 'GET', '/api/sync/status')).json[0];
      expect(integrity).toEqual(expect.objectContaining({ nodeId: me.nodeId, connected: true, pendingOut: 0 }));
    });

    await test.step('guided mode says only "Up to date", then "Will sync when home" when the node is gone', async () => {
      await devicesScreen(current);
      await current.evaluate(() => localStorage.setItem('fazt.guided', JSON.stringify({ on: true, lock: 'none' })));
      await current.evaluate(() => (location.hash = '#/guided'));
      await current.reload();
      const words = current.locator('.sync-words');
      await expect(words).toHaveAttribute('data-sync', 'up-to-date', { timeout: 20_000 });
      await expect(words).toHaveText('✓ Up to date');
      await hub.node.stop({ keepFiles: true });
      await expect(words).toHaveAttribute('data-sync', 'when-home', { timeout: 40_000 });
      await expect(words).toHaveText('Will sync when home');
      // no sync machinery in guided mode
      await expect(current.getByText(/conflict|pending|catching up|to send|to receive/i)).toHaveCount(0);
    });
  } finally {
    await hub.node.stop();
    fs.rmSync(appDir, { recursive: true, force: true });
  }
});
