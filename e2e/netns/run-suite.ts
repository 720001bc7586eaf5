/**
 * Runs netns test files from a spec of the main Playwright run: WebRTC between Chromium and a Node
 * peer on one machine only finds its candidates in a loopback-only network namespace, and the
 * browser, the nodes and the test process must all be in the same one. So the calling spec spawns a
 * second Playwright run, of `e2e/netns/playwright.config.ts`, inside a new namespace
 * (`e2e/netns/run-in-netns.mjs`: `unshare --net` as root, `unshare --map-root-user --net` otherwise,
 * then `ip link set lo up`), and passes or fails with it, printing its output. A namespace that cannot
 * be made fails the calling test (it never skips).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect, REPO_ROOT } from '../fixtures.js';

/**
 * Runs the netns files matching `filter` (a Playwright file filter, e.g. `netns/mesh-`) and expects
 * them all to pass: none failed, skipped or flaky.
 * @throws the expectation's error with the last 20,000 characters of the run's output.
 */
export async function runNetnsSuite(filter: string): Promise<void> {
  const cli = path.join(REPO_ROOT, 'node_modules', '@playwright', 'test', 'cli.js');
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'e2e', 'netns', 'run-in-netns.mjs'), '--', process.execPath, cli, 'test', '--config', path.join(REPO_ROOT, 'e2e', 'netns', 'playwright.config.ts'), filter], {
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
}
