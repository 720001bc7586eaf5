import { defineConfig } from '@playwright/test';

/**
 * Browser tests: Debian's Chromium (apt-get install chromium), never a downloaded browser.
 * The specs start their own Fazt node on a free 127.0.0.1 port (see e2e/fixtures.ts); the only
 * network they use is loopback (*.localhost resolves to loopback inside Chromium).
 */
export default defineConfig({
  testDir: './e2e',
  testMatch: '**/*.spec.ts',
  outputDir: './e2e/.cache/test-results',
  // One worker: each spec file starts a node and deploys big sites; two cores is the budget.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  // Deploying 100+ MB of real sites and playing a 65 MB video takes a while on two cores.
  timeout: 10 * 60_000,
  globalTimeout: 45 * 60_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
    viewport: { width: 1280, height: 800 },
    // Every request must reach the node: no service worker may answer from its cache.
    serviceWorkers: 'block',
    actionTimeout: 30_000,
    navigationTimeout: 120_000,
    trace: 'off',
    screenshot: 'off',
    video: 'off',
  },
});
