/**
 * The browser node's mesh (issue 11): real Chromium running the built PWA pairs its device node with
 * real headless nodes and keeps authenticated WebRTC links to them (e2e/netns/mesh-browser.netns.ts).
 *
 * How it enters the network namespace: WebRTC between Chromium and a Node peer on one machine only
 * finds its candidates in a loopback-only network namespace, and the browser, the nodes and the test
 * process must all be in the same one. So this spec spawns a second Playwright run, of
 * `e2e/netns/playwright.config.ts`, inside a new namespace (`e2e/netns/run-in-netns.mjs`: `unshare
 * --net` as root, `unshare --map-root-user --net` otherwise, then `ip link set lo up`), and passes or
 * fails with it, printing its output. A namespace that cannot be made fails this test (it never skips).
 * It runs the mesh files (`netns/mesh-*`); the browser node's sync runs from e2e/sync-browser.spec.ts.
 */
import { test } from './fixtures.js';
import { runNetnsSuite } from './netns/run-suite.js';

test('the browser node pairs with headless nodes over loopback WebRTC, in its own network namespace', async () => {
  test.setTimeout(8 * 60_000);
  await runNetnsSuite('netns/mesh-');
});
