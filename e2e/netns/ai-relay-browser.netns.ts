/**
 * AI relay through a paired node (docs/ai.md "Relay through a paired node"), with real parts only:
 * Debian's Chromium running the built PWA, whose device node has NO provider, paired with a real
 * headless node (`bin/fazt.js start`) that has one — a fake OpenAI-compatible server on 127.0.0.1
 * (node/testing/fake-llm.ts) with the hub's key. Loopback WebRTC, so it runs inside a loopback-only
 * network namespace: start it through `e2e/ai-relay-browser.spec.ts`.
 *
 * What it proves: before pairing, the chat example in the service worker answers AI_UNAVAILABLE
 * saying to connect to the paired node; once the link is open, the same request streams the answer
 * token by token through the headless node, whose provider saw the hub's key (the device has no
 * provider and never had the key), and the hub counts the call under `relay:<device id>`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { test } from '@playwright/test';
import { startFakeLlm } from '../../node/testing/fake-llm.js';
import { createToken, expect, REPO_ROOT, startNode } from '../fixtures.js';
import { deployToDevice, device, openPwa } from '../pwa-fixtures.js';

test.beforeAll(() => {
  if (process.env.FAZT_NETNS !== '1') throw new Error('These tests must run in a loopback-only network namespace: run e2e/ai-relay-browser.spec.ts (it starts them through e2e/netns/run-in-netns.mjs).');
});

const HUB_KEY = 'sk-hub-only-3b9e';
const CHAT = Object.fromEntries(
  ['app.json', 'api/main.js', 'index.html', 'app.js', 'style.css'].map((p) => [p, fs.readFileSync(path.join(REPO_ROOT, 'examples', 'chat', p), 'utf8')]),
);
const json = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

test("the browser node with no key streams the chat example's answer through the paired headless node", async ({ page }) => {
  const fake = await startFakeLlm({ key: HUB_KEY });
  const node = await startNode({ args: ['--no-example'] });
  const token = await createToken(node);
  const hubApi = async (method: string, p: string, body?: unknown) => {
    const r = await fetch(node.origin + p, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, json: (await r.json().catch(() => undefined)) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  try {
    expect((await hubApi('PUT', '/api/ai/providers/local', { kind: 'openai-compatible', baseUrl: fake.baseUrl('openai-compatible'), key: HUB_KEY, defaultModel: 'fake-gpt', default: true })).status).toBe(201);
    const hubId = (await hubApi('GET', '/api/mesh')).json.nodeId as string;

    await openPwa(page, node.origin);
    expect((await deployToDevice(page, 'chat', CHAT)).status).toBe(201);
    expect((await device(page, '/api/apps/chat/permissions', json({ grant: 'all' }))).status).toBe(200);
    expect((await device(page, '/api/ai')).json).toMatchObject({ configured: false, relay: { available: false } });

    await test.step('no link: AI_UNAVAILABLE at once, saying to connect to the paired node', async () => {
      const r = await device(page, '/a/chat/api/chat', json({ messages: [{ role: 'user', content: 'hi' }] }));
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe('AI_UNAVAILABLE');
      expect(r.json.error.message).toMatch(/connect to your paired node \(Devices\)/);
      expect(fake.requests).toHaveLength(0);
    });

    await test.step('paired and linked: the answer streams through the headless node with its key', async () => {
      const inv = await hubApi('POST', '/api/mesh/invitations', {});
      expect(inv.status).toBe(201);
      const joined = await device(page, '/api/mesh/join', json({ invitation: inv.json.code }));
      expect(joined.status, joined.text).toBe(201);
      const me = (await device(page, '/api/mesh')).json.nodeId as string;
      await expect.poll(async () => (await device(page, '/api/ai')).json?.relay?.available, { timeout: 60_000 }).toBe(true);

      fake.script({ text: 'Answered by the hub, token by token.', delayMs: 60 });
      const t0 = Date.now();
      const seen = await page.evaluate(async () => {
        const t = performance.now();
        const res = await fetch('/~device/a/chat/api/chat', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages: [{ role: 'user', content: 'hello hub' }] }) });
        const reader = res.body!.getReader();
        const dec = new TextDecoder();
        const reads: string[] = [];
        let first = 0;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const s = dec.decode(value);
          if (!first && s.includes('text-delta')) first = performance.now() - t;
          reads.push(s);
        }
        return { status: res.status, type: res.headers.get('content-type'), reads, first, total: performance.now() - t };
      });
      console.log(`relayed chat: first token after ${Math.round(seen.first)} ms, whole answer ${Math.round(seen.total)} ms (provider: 6 chunks 60 ms apart); ${Date.now() - t0} ms`);
      expect(seen.status).toBe(200);
      expect(seen.type).toMatch(/^text\/event-stream/);
      expect(seen.reads.length).toBeGreaterThan(2); // arrived in pieces, not at the end
      const deltas = seen.reads.join('').split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6))).filter((e) => e.type === 'text-delta');
      expect(deltas.map((e) => e.delta).join('')).toBe('Answered by the hub, token by token.');
      const req = fake.requests.at(-1)!;
      expect(req.headers.authorization).toBe(`Bearer ${HUB_KEY}`);
      expect(req.body.messages.at(-1)).toEqual({ role: 'user', content: 'hello hub' });
      // the device still has no provider; the hub counted the call for the device
      expect((await device(page, '/api/ai/providers')).json.providers).toEqual([]);
      const usage = (await hubApi('GET', '/api/ai/usage')).json.usage as { appId: string; calls: number }[];
      expect(usage).toEqual(expect.arrayContaining([expect.objectContaining({ appId: `relay:${me}`, calls: 1 })]));
      expect(hubId).toMatch(/\w/);
    });
  } finally {
    await node.stop();
    await fake.close();
  }
});
