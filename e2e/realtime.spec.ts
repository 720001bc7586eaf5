/**
 * Realtime in Debian's Chromium on the headless node (docs/realtime.md), with examples/live-list:
 * two tabs receive a publish within 100 ms of it; a dropped connection (every TCP connection of the
 * page cut by a proxy in between) resumes with Last-Event-ID without losing what was published
 * meanwhile; a page of another app cannot follow this app's channels. Screenshots go to
 * e2e/.cache/screenshots/ (realtime-*.png).
 */
import net from 'node:net';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { createToken, deployApp, expect, REPO_ROOT, screenshot, startNode, test, type FaztNode } from './fixtures.js';

let node: FaztNode;
let token: string;

/** A TCP proxy to the node on another port; `cut()` drops every connection it carries. */
interface Proxy {
  port: number;
  cut(): number;
  close(): Promise<void>;
}

function startProxy(target: number): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        cut() {
          const n = sockets.size;
          for (const s of sockets) s.destroy();
          sockets.clear();
          return n;
        },
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            for (const s of sockets) s.destroy(); // the browser keeps idle connections open
          }),
      });
    });
  });
}

const addItem = async (text: string) => {
  const r = await fetch(`${node.origin}/a/live-list/api/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
  expect(r.status).toBe(201);
  return (await r.json()) as { id: string; text: string; createdAt: number };
};

/** Records, in the page, when each message of "items" arrived (Date.now(), the machine's clock). */
const record = (page: Page) =>
  page.evaluate(() => {
    const w = window as unknown as { __got: { text: string; createdAt: number; at: number }[]; fazt: any };
    w.__got = [];
    w.fazt.realtime.subscribe('items', (m: any) => {
      if (m.op === 'add') w.__got.push({ text: m.item.text, createdAt: m.item.createdAt, at: Date.now() });
    });
  });
const got = (page: Page) => page.evaluate(() => (window as unknown as { __got: { text: string; createdAt: number; at: number }[] }).__got);

test.beforeAll(async () => {
  node = await startNode();
  token = await createToken(node);
  await deployApp(node, token, path.join(REPO_ROOT, 'examples', 'live-list'), 'live-list');
  await deployApp(node, token, path.join(REPO_ROOT, 'examples', 'live-list'), 'other');
});
test.afterAll(async () => {
  await node?.stop();
});

test('two tabs receive a publish within 100 ms; the list updates in both', async ({ context }) => {
  const url = `http://live-list.localhost:${node.port}/`;
  const [a, b] = [await context.newPage(), await context.newPage()];
  for (const p of [a, b]) {
    await p.setViewportSize({ width: 420, height: 640 });
    await p.goto(url);
    await expect(p.locator('#status')).toHaveText('live');
    await record(p);
  }
  // a person adds an item in tab A: tab B shows it
  await a.getByPlaceholder('Add to the list…').fill('milk');
  await a.getByRole('button', { name: 'Add' }).click();
  await expect(b.locator('#list li')).toHaveText(['milk✕']);
  await expect(a.locator('#list li')).toHaveText(['milk✕']);
  // latency: from the publish (the item's createdAt, set in the app just before it) to each page
  const lat: number[] = [];
  for (let i = 0; i < 5; i++) {
    const item = await addItem(`item ${i}`);
    for (const p of [a, b]) {
      await expect.poll(async () => (await got(p)).find((g) => g.text === item.text)?.at ?? 0).toBeGreaterThan(0);
      lat.push((await got(p)).find((g) => g.text === item.text)!.at - item.createdAt);
    }
  }
  console.log(`publish → page latency, ms: ${lat.join(', ')}`);
  expect(Math.max(...lat)).toBeLessThan(100);
  await screenshot(b, 'realtime-two-tabs');
  // a removal in B disappears from A
  await b.getByRole('button', { name: 'Remove milk' }).click();
  await expect(a.locator('#list li').first()).toHaveText('item 0✕');
  await a.close();
  await b.close();
});

test('a dropped connection resumes without losing what was published meanwhile', async ({ page }) => {
  const proxy = await startProxy(node.port);
  test.setTimeout(60_000);
  try {
    await page.goto(`http://live-list.localhost:${proxy.port}/`);
    await expect(page.locator('#status')).toHaveText('live');
    await record(page);
    await addItem('before');
    await expect.poll(async () => (await got(page)).map((g) => g.text)).toEqual(['before']);
    // cut every connection, then publish while the page is away (straight to the node, not through the proxy)
    const statuses: string[] = [];
    await page.exposeFunction('__status', (s: string) => statuses.push(s));
    await page.evaluate(() => (window as any).fazt.realtime.onStatus((s: string) => (window as any).__status(s)));
    expect(proxy.cut()).toBeGreaterThan(0);
    await expect.poll(() => statuses.includes('connecting')).toBe(true);
    await addItem('while away 1');
    await addItem('while away 2');
    // the browser reconnects by itself (retry: 1000) with Last-Event-ID and gets both, in order, once
    await expect.poll(async () => (await got(page)).map((g) => g.text), { timeout: 15_000 }).toEqual(['before', 'while away 1', 'while away 2']);
    await expect(page.locator('#status')).toHaveText('live');
    await addItem('after');
    await expect.poll(async () => (await got(page)).map((g) => g.text)).toEqual(['before', 'while away 1', 'while away 2', 'after']);
    await expect(page.locator('#list li', { hasText: 'while away 2' })).toHaveCount(1);
  } finally {
    await proxy.close();
  }
});

test("a page of another app cannot follow this app's channels", async ({ page }) => {
  await page.goto(`http://other.localhost:${node.port}/`);
  await expect(page.locator('#status')).toHaveText('live'); // its own stream works
  const result = await page.evaluate(async (target) => {
    const es = new EventSource(`${target}/_fazt/realtime?channels=items`);
    const seen: string[] = [];
    es.onmessage = (e) => seen.push(e.data);
    const outcome = await new Promise<string>((resolve) => {
      es.addEventListener('ready', () => resolve('ready'));
      es.onerror = () => resolve(es.readyState === EventSource.CLOSED ? 'closed' : 'error');
      setTimeout(() => resolve('timeout'), 5000);
    });
    es.close();
    const r = await fetch(`${target}/_fazt/realtime?channels=items`).then((x) => x.status, (e) => `refused: ${e}`);
    return { outcome, seen, fetch: r };
  }, `http://live-list.localhost:${node.port}`);
  expect(result.outcome).toBe('closed');
  expect(result.seen).toEqual([]);
  expect(result.fetch).toMatch(/^refused/); // the node answers 403 and sends no CORS header
  // what the node said to that request
  const onApp = await fetch(`${node.origin}/a/live-list/_fazt/realtime?channels=items`, { headers: { origin: `http://other.localhost:${node.port}` } });
  expect(onApp.status).toBe(403);
  expect((await onApp.json()).error.code).toBe('FORBIDDEN');
  // and the page's own list did not get live-list's items
  await addItem('not for other');
  await page.waitForTimeout(300);
  await expect(page.locator('#list li')).toHaveCount(0);
});
