/**
 * Looking at dashboard screens in the e2e specs: screenshots at the three sizes we check, and axe-core
 * at phone size (no serious or critical violations).
 */
import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { expect, screenshot } from './fixtures.js';

/** The viewports screens are checked at: phone (360×740), a larger phone, desktop. */
export const VIEWPORTS = [
  ['phone', { width: 360, height: 740 }],
  ['phone390', { width: 390, height: 800 }],
  ['desktop', { width: 1280, height: 800 }],
] as const;

/** Screenshots `<name>-<size>.png` of the current screen at each of {@link VIEWPORTS}; ends at phone size. */
export async function screenshotSizes(page: Page, name: string): Promise<void> {
  for (const [label, size] of VIEWPORTS) {
    await page.setViewportSize(size);
    await page.evaluate(() => scrollTo(0, 0));
    await page.waitForTimeout(100);
    await screenshot(page, `${name}-${label}`);
  }
  await page.setViewportSize(VIEWPORTS[0][1]);
}

/**
 * axe-core on the current screen: fails listing every serious or critical violation. The app inside
 * its frame is the app author's page, not the dashboard, so it is left out.
 */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const r = await new AxeBuilder({ page }).exclude({ fromShadowDom: ['fazt-shell', 'fazt-app-view', 'fazt-app-frame'] }).analyze();
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id} (${v.impact}): ${v.help} → ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`), `axe on ${what}`).toEqual([]);
}
