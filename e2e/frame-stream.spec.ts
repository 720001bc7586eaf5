/**
 * Streamed answers inside the dashboard's sandboxed app frames (docs/app-frames.md, "Streamed
 * answers"), with examples/chat in Debian's Chromium and the fake OpenAI-compatible provider of
 * node/testing/fake-llm.ts (real chat-completions SSE on 127.0.0.1) streaming one token per 150 ms
 * and holding the last one until the test lets it go:
 * - on the browser node (the kernel in the service worker, the real dashboard acting on "This
 *   device", the app opened at `#/open/chat`), tokens appear in the frame while the provider has
 *   provably not sent the last one; a reader's cancel, an abort, and the frame going away each close
 *   the provider's connection; a plain JSON answer still works;
 * - on the hub (the headless node; its dashboard frames read `/a/chat/` over HTTP), the same.
 * Screenshots: e2e/.cache/screenshots/frame-stream-*.png.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Frame, Page } from '@playwright/test';
import { startFakeLlm, type FakeLlm } from '../node/testing/fake-llm.js';
import { createToken, deployApp, expect, REPO_ROOT, screenshot, startNode, test, type FaztNode } from './fixtures.js';
import { appFrame, openApp, openHost } from './frames-fixtures.js';
import { deployToDevice, device, openPwa } from './pwa-fixtures.js';

const CHAT = Object.fromEntries(
  ['app.json', 'api/main.js', 'index.html', 'app.js', 'style.css'].map((p) => [p, fs.readFileSync(path.join(REPO_ROOT, 'examples', 'chat', p), 'utf8')]),
);
const json = (body: unknown, method = 'POST') => ({ method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const FULL = 'Tokens arrive in the frame one by one while the model is still writing.';

let fake: FakeLlm;
test.beforeAll(async () => {
  fake = await startFakeLlm({ key: 'sk-frame', cors: true });
});
test.afterAll(async () => {
  await fake?.close();
});

/** A promise and the function that settles it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** The sandboxed frame of `<fazt-app-frame>` as a Playwright Frame (to run app code in it). */
async function chatFrame(page: Page): Promise<Frame> {
  await expect(appFrame(page).getByRole('heading', { name: 'Chat' })).toBeVisible();
  const el = await page.locator('fazt-app-frame iframe').elementHandle();
  return (await el!.contentFrame())!;
}

/**
 * Asks in the frame's chat with the last token held: checks that tokens show while the provider has
 * not sent the last one, takes the screenshot, then lets it go and waits for the whole answer.
 */
async function streamsProgressively(page: Page, shot: string): Promise<void> {
  const held = gate();
  fake.script({ text: FULL, delayMs: 150, holdLast: held.promise });
  const f = appFrame(page);
  const box = f.getByPlaceholder('Ask something…');
  await box.fill('How do tokens arrive?');
  await box.press('Enter');
  const answer = f.locator('#log li.assistant').last();
  // several tokens, not all: the last is still held by the provider, so these came as a stream
  await expect.poll(async () => ((await answer.textContent()) ?? '').split(' ').length, { intervals: [30], timeout: 15_000 }).toBeGreaterThanOrEqual(4);
  const mid = (await answer.textContent()) ?? '';
  expect(FULL.startsWith(mid)).toBe(true);
  expect(mid.length).toBeLessThan(FULL.length);
  await expect(answer).toHaveClass(/streaming/);
  expect(fake.requests.at(-1)!.closedEarly).toBe(false);
  await screenshot(page, shot);
  held.open();
  await expect(answer).toHaveText(FULL);
  await expect(answer).not.toHaveClass(/streaming/);
}

/**
 * In the app's frame: a plain JSON answer (GET api/chat → 405 with a JSON error), then two streams
 * stopped part-way, one by `reader.cancel()`, one by aborting the fetch; after each, the provider's
 * connection must close.
 */
async function cancelsUpstream(frame: Frame): Promise<void> {
  const plain = await frame.evaluate(async () => {
    const res = await fetch('api/chat');
    return { status: res.status, body: await res.json() };
  });
  expect(plain.status).toBe(405);
  expect(plain.body.error.code).toBe('METHOD_NOT_ALLOWED');

  for (const how of ['cancel', 'abort'] as const) {
    const held = gate();
    const before = fake.requests.length;
    fake.script({ text: 'one two three four five six seven eight nine ten', delayMs: 150, holdLast: held.promise });
    const got = await frame.evaluate(async (how) => {
      const ac = new AbortController();
      const res = await fetch('api/chat', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'count' }] }), signal: ac.signal });
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      let text = '';
      while (!text.includes('"delta":"two ')) text += dec.decode((await reader.read()).value);
      if (how === 'cancel') await reader.cancel();
      else {
        ac.abort();
        try {
          await reader.read();
          return { text, after: 'read went on' };
        } catch (e) {
          return { text, after: (e as Error).name };
        }
      }
      return { text, after: 'cancelled' };
    }, how);
    expect(got.text).toContain('"delta":"one "');
    expect(got.after).toBe(how === 'cancel' ? 'cancelled' : 'AbortError');
    await expect.poll(() => fake.requests.length, { timeout: 10_000 }).toBe(before + 1);
    await expect.poll(() => fake.requests.at(-1)!.closedEarly, { timeout: 10_000 }).toBe(true);
    held.open();
  }
}

test.describe('on the browser node', () => {
  test.use({ serviceWorkers: 'allow' });

  test('the chat example streams into its frame in the dashboard; cancel, abort and closing the app close the provider’s connection', async ({ fazt, page }) => {
    // (no request log here: the real dashboard's own calls to the hub, where nobody signed in, answer 401)
    await page.setViewportSize({ width: 480, height: 760 });
    await openPwa(page, fazt.origin);
    expect((await deployToDevice(page, 'chat', CHAT)).status).toBe(201);
    expect((await device(page, '/api/apps/chat/permissions', json({ grant: 'all' }))).status).toBe(200);
    const r = await device(page, '/api/ai/providers/local', json({ kind: 'openai-compatible', baseUrl: fake.baseUrl('openai-compatible'), key: 'sk-frame', defaultModel: 'fake-gpt', default: true }, 'PUT'));
    expect(r.status).toBe(201);
    // the dashboard acts on this device and opens the app in its frame
    await page.evaluate(() => localStorage.setItem('fazt.target', 'device'));
    await page.goto(`${fazt.origin}/#/open/chat`);
    await page.reload(); // the shell picks its node at start
    await expect(page.getByRole('button', { name: /^Acting on This device/ })).toBeVisible();
    const frame = await chatFrame(page);

    await streamsProgressively(page, 'frame-stream-device-midway');
    expect(fake.requests.at(-1)!.headers.authorization).toBe('Bearer sk-frame');
    await cancelsUpstream(frame);

    // the app's frame goes away mid-stream (the owner leaves the app): the stream ends there too
    const held = gate();
    const before = fake.requests.length;
    fake.script({ text: 'a b c d e f g h i j k l', delayMs: 150, holdLast: held.promise });
    const f = appFrame(page);
    await f.getByPlaceholder('Ask something…').fill('Leave soon');
    await f.getByPlaceholder('Ask something…').press('Enter');
    await expect.poll(async () => ((await f.locator('#log li.assistant').last().textContent()) ?? '').length, { timeout: 10_000 }).toBeGreaterThan(2);
    await page.evaluate(() => (location.hash = '#/'));
    await expect(page.locator('fazt-app-frame')).toHaveCount(0);
    expect(fake.requests.length).toBe(before + 1);
    await expect.poll(() => fake.requests.at(-1)!.closedEarly, { timeout: 10_000 }).toBe(true);
    held.open();
  });
});

test.describe('on the hub', () => {
  let node: FaztNode;
  test.beforeAll(async () => {
    node = await startNode();
    const token = await createToken(node);
    await deployApp(node, token, path.join(REPO_ROOT, 'examples', 'chat'), 'chat');
    const api = (method: string, p: string, body: unknown) => fetch(`${node.origin}${p}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await api('POST', '/api/apps/chat/permissions', { grant: 'all' })).status).toBe(200);
    expect((await api('PUT', '/api/ai/providers/local', { kind: 'openai-compatible', baseUrl: fake.baseUrl('openai-compatible'), key: 'sk-frame', defaultModel: 'fake-gpt', default: true })).status).toBe(201);
  });
  test.afterAll(async () => {
    await node?.stop();
  });

  test('the chat example streams into a frame reading the hub’s /a/chat/; cancel and abort close the provider’s connection', async ({ page, requests }) => {
    await page.setViewportSize({ width: 480, height: 760 });
    await openHost(page, node.origin);
    await openApp(page, 'chat');
    const frame = await chatFrame(page);
    await streamsProgressively(page, 'frame-stream-hub-midway');
    await cancelsUpstream(frame);

    // another bridge of the same app (what a second frame, or a hostile one, holds) cannot read or
    // cancel this frame's open stream: ids mean something only on the port that opened them
    const held = gate();
    fake.script({ text: 'kept for its own frame only', delayMs: 50, holdLast: held.promise });
    await frame.evaluate(() => {
      const w = window as unknown as { answer: Promise<string> };
      w.answer = fetch('api/chat', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'mine' }] }) }).then((r) => r.text());
    });
    await expect.poll(() => fake.requests.at(-1)!.body?.messages?.at(-1)?.content, { timeout: 10_000 }).toBe('mine');
    const ids = Array.from({ length: 8 }, (_, i) => i + 1);
    const probe = await page.evaluate(
      (ids) =>
        (window as unknown as { probeBridge(n: string, m: unknown[]): Promise<{ id: string; type: string; value: any }[]> }).probeBridge('chat', [
          ...ids.map((i) => ({ id: `r${i}`, type: 'APPLY', path: ['read'], argumentList: [{ type: 'RAW', value: i }] })),
          ...ids.map((i) => ({ id: `c${i}`, type: 'APPLY', path: ['cancel'], argumentList: [{ type: 'RAW', value: i }] })),
        ]),
      ids,
    );
    for (const a of probe.filter((x) => x.id.startsWith('r'))) expect(a.value.value.message).toMatch(/No open response body/);
    expect(probe.filter((x) => x.id.startsWith('c')).every((x) => x.type === 'RAW')).toBe(true);
    expect(fake.requests.at(-1)!.closedEarly).toBe(false);
    held.open();
    const text = await frame.evaluate(() => (window as unknown as { answer: Promise<string> }).answer);
    expect(text).toContain('"delta":"only"');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    requests.failures.splice(0, requests.failures.length, ...requests.failures.filter((x) => !/ (GET|POST) .*\/a\/chat\/api\/chat\b/.test(x)));
  });
});
