/**
 * The Health screen (issue 14, Pulse) in Debian's Chromium against a real headless node taking
 * snapshots taken between rounds of traffic (`POST /api/pulse/snapshot`), at 360×740 and 1280×800: the latest figures,
 * the alert a burst of failing requests raises, five uPlot charts drawn from the history (canvas
 * with pixels on it), the span buttons, and the Ask line answered by the rules (no model here).
 * Screenshots: e2e/.cache/screenshots/health-<phone|desktop>.png; axe: no serious or critical violations.
 */
import { zipSync, strToU8 } from 'fflate';
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { createToken, expect, screenshot, startNode, test, type FaztNode } from './fixtures.js';
import { expectAccessible } from './screens.js';

const PASSWORD = 'correct horse battery';

const VIEWPORTS = [
  ['phone', { width: 360, height: 740 }, true],
  ['desktop', { width: 1280, height: 800 }, false],
] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const [label, viewport, touch] of VIEWPORTS) {
  test.describe(`${label} ${viewport.width}×${viewport.height}`, () => {
    test.describe.configure({ mode: 'serial' });
    let node: FaztNode;
    let context: BrowserContext;
    let page: Page;

    test.beforeAll(async ({ browser }: { browser: Browser }) => {
      // no snapshot on its own during the test (the first would come a minute after the start): the
      // test takes them between rounds of traffic, so each window's counts are known
      node = await startNode({ env: { FAZT_PULSE_INTERVAL_MS: '60000' } });
      const setup = await fetch(`${node.origin}/api/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
      expect(setup.status).toBe(201);
      const token = await createToken(node, 'admin');
      const zip = zipSync({
        'app.json': strToU8(JSON.stringify({ name: 'shop', title: 'Shop' })),
        'index.html': strToU8('<!doctype html><title>Shop</title><h1>Shop</h1>'),
        'api/main.js': strToU8(`export default { async fetch(request) {
          if (new URL(request.url).pathname === '/api/fail') return new Response('down', { status: 503 });
          return { ok: true };
        } };`),
      });
      const r = await fetch(`${node.origin}/api/apps`, { method: 'POST', headers: { 'content-type': 'application/zip', authorization: `Bearer ${token}` }, body: zip });
      expect(r.status, await r.clone().text()).toBeLessThan(300);
      // traffic over a few snapshots: some windows busy, the last with a burst of failures
      const snapshot = () => fetch(`${node.origin}/api/pulse/snapshot`, { method: 'POST', headers: { authorization: `Bearer ${token}` } }).then((x) => expect(x.status).toBe(201));
      await snapshot();
      for (let round = 0; round < 8; round++) {
        const n = 10 + round * 6;
        await Promise.all(Array.from({ length: n }, () => fetch(`${node.origin}/a/shop/api/ok`).then((x) => x.text())));
        if (round === 7) await Promise.all(Array.from({ length: 12 }, () => fetch(`${node.origin}/a/shop/api/fail`).then((x) => x.text())));
        await sleep(100);
        await snapshot();
      }
      context = await browser.newContext({ viewport, hasTouch: touch, isMobile: touch });
      page = await context.newPage();
    });

    test.afterAll(async () => {
      await context?.close();
      await node?.stop();
    });

    test('Health shows the figures, the alert, five charts and answers "how am I doing?"', async () => {
      await page.goto(`${node.origin}/`);
      await page.getByLabel('Owner password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
      await page.getByRole('link', { name: 'Health' }).click();
      const health = page.locator('fazt-health');
      await expect(health.getByRole('heading', { name: /^Health of / })).toBeVisible();
      await expect(health).toContainText('every 1 minute');
      await expect(health.locator('.figure').first()).toContainText('Memory');
      await expect(health.locator('.alert.critical').filter({ hasText: 'shop:' })).toBeVisible();
      // five uPlot charts, each a canvas with something drawn on it, and a legend
      await expect(health.locator('.plot canvas')).toHaveCount(5);
      await expect(health.locator('.plot .u-legend').first()).toContainText('RSS');
      const inked = await health.locator('.plot canvas').evaluateAll((canvases) =>
        (canvases as HTMLCanvasElement[]).map((c) => {
          const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
          return n;
        }),
      );
      expect(inked.every((n) => n > 200), `inked pixels per chart: ${inked}`).toBe(true);
      // charts fit the screen: no sideways scrolling
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      const width = await health.locator('.plot').first().evaluate((e) => e.getBoundingClientRect().width);
      expect(width).toBeLessThanOrEqual(viewport.width);
      await screenshot(page, `health-${label}`);
      await health.locator('.charts').scrollIntoViewIfNeeded();
      await screenshot(page, `health-charts-${label}`);
      await expectAccessible(page, 'Health screen');

      await health.getByRole('button', { name: '7d' }).click();
      await expect(health.getByRole('button', { name: '7d' })).toHaveAttribute('aria-pressed', 'true');
      await expect(health.locator('.plot canvas')).toHaveCount(5);

      await health.getByLabel("Ask about the node's health").fill('how am I doing?');
      await health.getByRole('button', { name: 'Ask' }).click();
      await expect(health.locator('.answer')).toContainText(/needs? attention/);
      await expect(health).toContainText('A summary from the rules');
      await health.locator('.answer').scrollIntoViewIfNeeded();
      await screenshot(page, `health-ask-${label}`);
    });
  });
}
