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
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect, REPO_ROOT, test } from './fixtures.js';

test('the browser node pairs with headless nodes over loopback WebRTC, in its own network namespace', async () => {
  test.setTimeout(8 * 60_000);
  const cli = path.join(REPO_ROOT, 'node_modules', '@playwright', 'test', 'cli.js');
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'e2e', 'netns', 'run-in-netns.mjs'), '--', process.execPath, cli, 'test', '--config', path.join(REPO_ROOT, 'e2e', 'netns', 'playwright.config.ts'), 'netns/mesh-'], {
    cwd: REPO_ROOT,
    env: { ...process.env, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    process.stdout.write(d);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(code, `the namespaced run failed:\n${out.slice(-20_000)}`).toBe(0);
  expect(out).toMatch(/\d+ passed/);
  expect(out).not.toMatch(/\d+ (skipped|failed|flaky)/);
});
