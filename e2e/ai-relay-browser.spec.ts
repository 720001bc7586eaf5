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
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect, REPO_ROOT, test } from './fixtures.js';

test('the browser node streams AI answers through a paired headless node over loopback WebRTC, in its own network namespace', async () => {
  test.setTimeout(5 * 60_000);
  const cli = path.join(REPO_ROOT, 'node_modules', '@playwright', 'test', 'cli.js');
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'e2e', 'netns', 'run-in-netns.mjs'), '--', process.execPath, cli, 'test', '--config', path.join(REPO_ROOT, 'e2e', 'netns', 'playwright.config.ts'), 'netns/ai-relay-browser'], {
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
