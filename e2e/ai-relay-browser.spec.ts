/**
 * The browser node with no key calls models through a paired headless node (docs/ai.md "Relay
 * through a paired node"): real Chromium running the built PWA, a real headless node with a provider,
 * loopback WebRTC between them (e2e/netns/ai-relay-browser.netns.ts).
 *
 * As e2e/sync-browser.spec.ts: WebRTC between Chromium and a Node peer on one machine needs a
 * loopback-only network namespace, so this spec runs `e2e/netns/playwright.config.ts` on
 * `netns/ai-relay-browser` inside a new one (`e2e/netns/run-in-netns.mjs`) and passes or fails with
 * it, printing its output. A namespace that cannot be made fails this test (it never skips).
 */
import { test } from './fixtures.js';
import { runNetnsSuite } from './netns/run-suite.js';

test('the browser node streams AI answers through a paired headless node over loopback WebRTC, in its own network namespace', async () => {
  test.setTimeout(5 * 60_000);
  await runNetnsSuite('netns/ai-relay-browser');
});
