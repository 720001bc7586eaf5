/**
 * AI on the browser node: the same kernel in the service worker. With no provider and no paired node
 * connected, the chat example answers AI_UNAVAILABLE saying how to add one or to connect to the
 * paired node (the relay itself: e2e/ai-relay-browser.spec.ts); with a provider of the device's own (a fake OpenAI-compatible server on 127.0.0.1
 * that allows browser calls, node/testing/fake-llm.ts), the worker calls it with the device's key and
 * the answer streams back to the page.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startFakeLlm, type FakeLlm } from '../node/testing/fake-llm.js';
import { expect, REPO_ROOT, test } from './fixtures.js';
import { deployToDevice, device, openPwa } from './pwa-fixtures.js';

test.use({ serviceWorkers: 'allow' });

let fake: FakeLlm;
test.beforeAll(async () => {
  fake = await startFakeLlm({ key: 'sk-device', cors: true });
});
test.afterAll(async () => {
  await fake?.close();
});

const CHAT = Object.fromEntries(
  ['app.json', 'api/main.js', 'index.html', 'app.js', 'style.css'].map((p) => [p, fs.readFileSync(path.join(REPO_ROOT, 'examples', 'chat', p), 'utf8')]),
);
const json = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

test('the chat example in the service worker: AI_UNAVAILABLE without a provider, streamed tokens with one', async ({ fazt, page, requests }) => {
  await openPwa(page, fazt.origin);
  expect((await deployToDevice(page, 'chat', CHAT)).status).toBe(201);
  expect((await device(page, '/api/apps/chat/permissions', json({ grant: 'all' }))).status).toBe(200);
  expect((await device(page, '/api/ai')).json).toMatchObject({ configured: false, defaultModel: null });

  let r = await device(page, '/a/chat/api/chat', json({ messages: [{ role: 'user', content: 'hi' }] }));
  expect(r.status).toBe(503);
  expect(r.json.error.code).toBe('AI_UNAVAILABLE');
  expect(r.json.error.message).toMatch(/No AI provider is configured on this node\. The owner adds one in Settings → AI/);
  expect(r.json.error.message).toMatch(/connect to your paired node \(Devices\)/);

  // the device's own provider and key
  r = await device(page, '/api/ai/providers/local', { ...json({ kind: 'openai-compatible', baseUrl: fake.baseUrl('openai-compatible'), key: 'sk-device', defaultModel: 'fake-gpt', default: true }), method: 'PUT' });
  expect(r.status).toBe(201);
  expect(r.text).not.toContain('sk-device');

  fake.script({ text: 'Answered from the worker, token by token.', delayMs: 60 });
  const seen = await page.evaluate(async () => {
    const res = await fetch('/~device/a/chat/api/chat', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'hello' }] }) });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    const reads: string[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      reads.push(dec.decode(value));
    }
    return { status: res.status, type: res.headers.get('content-type'), reads };
  });
  expect(seen.status).toBe(200);
  expect(seen.type).toMatch(/^text\/event-stream/);
  expect(seen.reads.length).toBeGreaterThan(2); // arrived in pieces, not at the end
  const deltas = seen.reads.join('').split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6))).filter((e) => e.type === 'text-delta');
  expect(deltas.map((e) => e.delta).join('')).toBe('Answered from the worker, token by token.');
  const req = fake.requests.at(-1)!;
  expect(req.headers.authorization).toBe('Bearer sk-device');
  expect(req.body.messages.at(-1)).toEqual({ role: 'user', content: 'hello' });
  requests.failures.splice(0, requests.failures.length, ...requests.failures.filter((f) => !/^HTTP 503 POST .*\/api\/chat$/.test(f)));
});
