/**
 * The browser node's mesh, with real parts only: Debian's Chromium running the built PWA (its
 * dashboard page carries the data channels, its service worker the device node's kernel and link
 * keys) and real headless nodes (`bin/fazt.js start`, separate processes and cartridges) on
 * loopback WebRTC. Runs inside a loopback-only network namespace: start it through
 * `e2e/mesh-browser.spec.ts` (or `node e2e/netns/run-in-netns.mjs -- npx playwright test --config e2e/netns/playwright.config.ts`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type Page } from '@playwright/test';
import { createToken, expect, REPO_ROOT, startNode, type FaztNode } from '../fixtures.js';
import { device, openPwa, stopWorkers } from '../pwa-fixtures.js';
import { startImpostor } from './impostor.js';

test.beforeAll(() => {
  if (process.env.FAZT_NETNS !== '1') throw new Error('These tests must run in a loopback-only network namespace: run e2e/mesh-browser.spec.ts (it starts them through e2e/netns/run-in-netns.mjs).');
});

interface Hub {
  node: FaztNode;
  token: string;
  id: string;
}

async function hubApi(hub: Hub, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(hub.node.origin + path, {
    method,
    headers: { authorization: `Bearer ${hub.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json().catch(() => undefined) };
}

async function startHub(opts: { port?: number; dbPath?: string; web?: string } = {}): Promise<Hub> {
  const node = await startNode({ port: opts.port, dbPath: opts.dbPath, args: ['--no-example'], env: opts.web ? { FAZT_WEB_DIR: opts.web } : {} });
  const token = await createToken(node);
  const hub: Hub = { node, token, id: '' };
  hub.id = (await hubApi(hub, 'GET', '/api/mesh')).json.nodeId;
  return hub;
}

const json = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

/** The device node's view of one peer. */
async function devicePeer(page: Page, id: string): Promise<any> {
  const r = await device(page, '/api/mesh/peers');
  return (r.json?.peers ?? []).find((p: { nodeId: string }) => p.nodeId === id);
}

/** The page's relay counters (reading them does not touch the service worker). */
const stats = (page: Page) => page.evaluate(() => (globalThis as any).__faztMesh as { sessions: number; linksOpened: number; connected: string[]; owner: boolean } | undefined);

/** Pairs the device node with a hub through an invitation from the hub's API. */
async function pair(page: Page, hub: Hub): Promise<void> {
  const inv = await hubApi(hub, 'POST', '/api/mesh/invitations', {});
  expect(inv.status).toBe(201);
  const joined = await device(page, '/api/mesh/join', json({ invitation: inv.json.code }));
  expect(joined.status, joined.text).toBe(201);
  expect(joined.json.peer.nodeId).toBe(hub.id);
}

test('the phone pairs with headless nodes and keeps authenticated WebRTC links through restarts', async ({ page }) => {
  // the hub serves its own copy of the build, so the test can ship a new worker version
  const web = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-web-'));
  fs.cpSync(path.join(REPO_ROOT, 'dist', 'web'), web, { recursive: true });
  const hub = await startHub({ web });
  let other: Hub | undefined;
  page.on('console', (m) => {
    if (/mesh relay/.test(m.text())) console.log(`[page] ${m.text()}`);
  });
  try {
    await openPwa(page, hub.node.origin);
    const me = (await device(page, '/api/mesh')).json;
    expect(me.nodeId).toMatch(/^[a-z2-7]{16}$/);

    await test.step('pair (same origin) and exchange authenticated pings both ways', async () => {
      // with no peers the page does not beat: the worker may sleep, and the join wakes it.
      // A worker stopped within a moment of its first start, while its start-up writes were being
      // persisted, left cartridge.log damaged for the next worker (CARTRIDGE_CORRUPT, about 1 run in 5
      // here). The likely cause, found afterwards in the quota test: a first append interrupted after
      // getFileHandle(create) left an empty log, read as damaged; read() now takes an empty log as
      // none. This mesh test still lets the start-up writes land first until a stress test of stops
      // during start-up confirms it (closing note of issue 11).
      await page.waitForTimeout(2_000);
      await stopWorkers(page);
      await page.waitForTimeout(1_000);
      await pair(page, hub);
      await expect.poll(async () => (await devicePeer(page, hub.id))?.connected, { timeout: 20_000 }).toBe(true);
      const seen = (await hubApi(hub, 'GET', '/api/mesh/peers')).json.peers;
      expect(seen).toEqual([expect.objectContaining({ nodeId: me.nodeId, connected: true })]);
      const fromDevice = await device(page, `/api/mesh/peers/${hub.id}/ping`, json({}));
      expect(fromDevice.status, fromDevice.text).toBe(200);
      expect(fromDevice.json.ms).toBeGreaterThan(0);
      const fromHub = await hubApi(hub, 'POST', `/api/mesh/peers/${me.nodeId}/ping`, {});
      expect(fromHub.status, JSON.stringify(fromHub.json)).toBe(200);
      expect((await stats(page))?.owner).toBe(true);
    });

    await test.step('the service worker is stopped mid-session: the link comes back by itself', async () => {
      const before = (await stats(page))!.linksOpened;
      const t0 = Date.now();
      await stopWorkers(page);
      // only the page's own counters are read here: nothing but the relay starts the worker again
      await expect.poll(async () => (await stats(page))!.linksOpened, { timeout: 20_000, intervals: [50] }).toBeGreaterThan(before);
      const ms = Date.now() - t0;
      console.log(`reconnect after a service worker stop: ${ms} ms`);
      const fromHub = await hubApi(hub, 'POST', `/api/mesh/peers/${me.nodeId}/ping`, {});
      expect(fromHub.status, JSON.stringify(fromHub.json)).toBe(200);
      expect((await devicePeer(page, hub.id)).connected).toBe(true);
    });

    await test.step('a page reload: the reloaded page takes the relay over', async () => {
      await page.reload();
      await page.waitForFunction(() => !!navigator.serviceWorker.controller);
      await expect.poll(async () => (await stats(page))?.linksOpened ?? 0, { timeout: 20_000 }).toBeGreaterThan(0);
      const fromDevice = await device(page, `/api/mesh/peers/${hub.id}/ping`, json({}));
      expect(fromDevice.status, fromDevice.text).toBe(200);
    });

    await test.step('a new worker version takes over: the link moves to it', async () => {
      const before = (await stats(page))!.linksOpened;
      await page.evaluate(() => {
        (globalThis as any).__changed = false;
        navigator.serviceWorker.addEventListener('controllerchange', () => ((globalThis as any).__changed = true));
      });
      fs.appendFileSync(path.join(web, 'sw.js'), '\n// v2\n');
      await page.evaluate(async () => (await navigator.serviceWorker.getRegistration('/'))!.update());
      await page.waitForFunction(() => (globalThis as any).__changed, undefined, { timeout: 30_000 });
      await expect.poll(async () => (await stats(page))!.linksOpened, { timeout: 20_000 }).toBeGreaterThan(before);
      const fromHub = await hubApi(hub, 'POST', `/api/mesh/peers/${me.nodeId}/ping`, {});
      expect(fromHub.status, JSON.stringify(fromHub.json)).toBe(200);
    });

    await test.step('a second tab does not take the relay while the first holds it', async () => {
      const tab = await page.context().newPage();
      await tab.goto(hub.node.origin + '/');
      await tab.waitForFunction(() => !!(globalThis as any).__faztMesh);
      await tab.waitForTimeout(1_500);
      expect((await stats(tab))!.owner).toBe(false);
      await tab.close();
      expect((await stats(page))!.owner).toBe(true);
    });

    await test.step('a peer presenting the wrong key in the hub’s place is refused', async () => {
      await hub.node.stop({ keepFiles: true });
      const impostor = await startImpostor(hub.node.port, hub.id);
      try {
        await expect
          .poll(async () => (await devicePeer(page, hub.id))?.transport?.error ?? '', { timeout: 40_000 })
          .toMatch(/^PAIRING_FAILED: .*did not prove its paired key/);
        expect(impostor.hellos()).toBeGreaterThan(0);
        expect((await devicePeer(page, hub.id)).connected).toBe(false);
        // the Devices screen, acting on this device, says it in plain words
        await page.evaluate(() => (location.hash = '#/devices'));
        const chooser = page.getByRole('button', { name: /^Acting on .*Change node$/ });
        if (!/This device/.test((await chooser.getAttribute('aria-label')) ?? (await chooser.innerText()))) {
          await chooser.click();
          await page.getByRole('group', { name: 'Choose the node to act on' }).getByRole('button', { name: /This device/ }).click();
        }
        const item = page.locator(`li.peer[data-node="${hub.id}"]`);
        await expect(item).toContainText('Not connected', { timeout: 10_000 });
        await expect(item.locator('.link-trouble')).toContainText('could not prove it is the device you paired with', { timeout: 10_000 });
        await page.screenshot({ path: path.join(REPO_ROOT, 'e2e/.cache/screenshots/devices-impostor-refused.png'), fullPage: true });
      } finally {
        await impostor.close();
      }
    });

    await test.step('the hub restarts (same cartridge, same port): the link comes back', async () => {
      const restarted = await startHub({ port: hub.node.port, dbPath: hub.node.dbPath, web });
      expect(restarted.id).toBe(hub.id);
      Object.assign(hub, restarted);
      await expect.poll(async () => (await devicePeer(page, hub.id))?.connected, { timeout: 60_000 }).toBe(true);
      const fromHub = await hubApi(hub, 'POST', `/api/mesh/peers/${me.nodeId}/ping`, {});
      expect(fromHub.status, JSON.stringify(fromHub.json)).toBe(200);
    });

    await test.step('the hub is killed (no goodbye): the device says so within seconds, and reconnects when it is back', async () => {
      const t0 = Date.now();
      hub.node.proc.kill('SIGKILL');
      await new Promise((r) => hub.node.proc.once('exit', r));
      // the worker pings its links every 10 s; one that does not answer in 5 s is closed
      await expect.poll(async () => (await devicePeer(page, hub.id))?.connected, { timeout: 30_000 }).toBe(false);
      console.log(`a killed hub was noticed after ${Date.now() - t0} ms`);
      const restarted = await startHub({ port: hub.node.port, dbPath: hub.node.dbPath, web });
      Object.assign(hub, restarted);
      await expect.poll(async () => (await devicePeer(page, hub.id))?.connected, { timeout: 60_000 }).toBe(true);
    });

    await test.step('a hub on another origin: pairing crosses origins (CORS) and a second link opens', async () => {
      other = await startHub();
      await pair(page, other);
      await expect.poll(async () => (await devicePeer(page, other!.id))?.connected, { timeout: 20_000 }).toBe(true);
      const r = await device(page, `/api/mesh/peers/${other.id}/ping`, json({}));
      expect(r.status, r.text).toBe(200);
      expect((await devicePeer(page, hub.id)).connected).toBe(true);
    });

    await test.step('unpair from the hub’s side: the device forgets it too', async () => {
      const r = await hubApi(other!, 'DELETE', `/api/mesh/peers/${me.nodeId}`);
      expect(r.status).toBe(200);
      await expect.poll(async () => await devicePeer(page, other!.id), { timeout: 15_000 }).toBeUndefined();
      expect((await hubApi(other!, 'GET', '/api/mesh/peers')).json.peers).toEqual([]);
    });

    await test.step('unpair from the device’s side: the hub forgets it too', async () => {
      const r = await device(page, `/api/mesh/peers/${hub.id}`, { method: 'DELETE' });
      expect(r.status, r.text).toBe(200);
      await expect.poll(async () => (await hubApi(hub, 'GET', '/api/mesh/peers')).json.peers, { timeout: 15_000 }).toEqual([]);
      expect((await device(page, '/api/mesh/peers')).json.peers).toEqual([]);
      await expect.poll(async () => (await stats(page))!.connected, { timeout: 10_000 }).toEqual([]);
    });
  } finally {
    await other?.node.stop();
    await hub.node.stop();
    fs.rmSync(web, { recursive: true, force: true });
  }
});
