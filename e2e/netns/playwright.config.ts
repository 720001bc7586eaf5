import { defineConfig } from '@playwright/test';

/**
 * Browser tests that must run inside a loopback-only network namespace (WebRTC between Chromium and
 * a headless node on one machine). They are not run by the main config: `e2e/mesh-browser.spec.ts`
 * runs this config through `e2e/netns/run-in-netns.mjs` and fails with its output when it fails.
 * By hand: `node e2e/netns/run-in-netns.mjs -- npx playwright test --config e2e/netns/playwright.config.ts`.
 */
export default defineConfig({
  testDir: '.',
  testMatch: '**/*.netns.ts',
  outputDir: '../.cache/netns-results',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 5 * 60_000,
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
        // WebRTC on loopback: Chromium gathers no loopback candidates without it
        '--allow-loopback-in-peer-connection',
      ],
    },
    // with a microphone permission Chromium puts real IPs in its host candidates, not mDNS names
    permissions: ['microphone'],
    viewport: { width: 1280, height: 800 },
    serviceWorkers: 'allow',
    actionTimeout: 30_000,
    navigationTimeout: 60_000,
    trace: 'off',
    screenshot: 'off',
    video: 'off',
  },
});
