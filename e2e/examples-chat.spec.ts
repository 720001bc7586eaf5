/**
 * The chat example (examples/chat) in Debian's Chromium on the headless node: the answer of a fake
 * OpenAI-compatible provider (real chat-completions SSE on 127.0.0.1, node/testing/fake-llm.ts)
 * streams into the page token by token through fazt.ai.streamText in the app's sandbox; a refused
 * key shows the node's message. Screenshots go to e2e/.cache/screenshots/ (examples-chat-*.png).
 */
import path from 'node:path';
import { startFakeLlm, type FakeLlm } from '../node/testing/fake-llm.js';
import { createToken, deployApp, expect, REPO_ROOT, screenshot, startNode, test, type FaztNode } from './fixtures.js';

let node: FaztNode;
let fake: FakeLlm;
let token: string;

const api = (method: string, p: string, body?: unknown) =>
  fetch(`${node.origin}${p}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

test.beforeAll(async () => {
  fake = await startFakeLlm({ key: 'sk-e2e' });
  node = await startNode();
  token = await createToken(node);
  await deployApp(node, token, path.join(REPO_ROOT, 'examples', 'chat'), 'chat');
  expect((await api('POST', '/api/apps/chat/permissions', { grant: 'all' })).status).toBe(200);
  const r = await api('PUT', '/api/ai/providers/local', { kind: 'openai-compatible', baseUrl: fake.baseUrl('openai-compatible'), key: 'sk-e2e', defaultModel: 'fake-gpt', default: true });
  expect(r.status).toBe(201);
});
test.afterAll(async () => {
  await node?.stop();
  await fake?.close();
});

test('chat: the answer streams into the page token by token; a refused key shows the node’s message', async ({ page, requests }) => {
  await page.setViewportSize({ width: 480, height: 760 });
  await page.goto(`${node.origin}/a/chat/`);
  await expect(page.getByRole('heading', { name: 'Chat' })).toBeVisible();

  const full = 'Fazt keeps every app and all its data in one cartridge file.';
  fake.script({ text: full, delayMs: 120 });
  const box = page.getByPlaceholder('Ask something…');
  await box.fill('What is Fazt?');
  await box.press('Enter');
  const answer = page.locator('#log li.assistant').last();
  // seen part-way: some text, not all of it, still streaming
  await expect
    .poll(async () => {
      const text = (await answer.textContent()) ?? '';
      return text.length > 0 && text.length < full.length && (await answer.getAttribute('class'))?.includes('streaming');
    }, { intervals: [20], timeout: 10_000 })
    .toBe(true);
  await screenshot(page, 'examples-chat-streaming');
  await expect(answer).toHaveText(full);
  await expect(answer).not.toHaveClass(/streaming/);
  const sent = fake.requests.at(-1)!.body;
  expect(sent.model).toBe('fake-gpt');
  expect(sent.messages.at(-1)).toEqual({ role: 'user', content: 'What is Fazt?' });
  expect(sent.tools[0].function.name).toBe('now');

  // the second turn carries the conversation
  fake.script({ text: 'Yes.' });
  await box.fill('Really?');
  await box.press('Enter');
  await expect(page.locator('#log li.assistant').last()).toHaveText('Yes.');
  expect(fake.requests.at(-1)!.body.messages.slice(-3)).toEqual([
    { role: 'user', content: 'What is Fazt?' },
    { role: 'assistant', content: full },
    { role: 'user', content: 'Really?' },
  ]);

  // a refused key: the page shows the node's message and keeps the conversation
  fake.key = 'another-key';
  await box.fill('Once more');
  await box.press('Enter');
  await expect(page.getByRole('alert')).toContainText('the provider refused the key');
  await expect(page.locator('#log li.assistant')).toHaveCount(2);
  await screenshot(page, 'examples-chat-error');
  requests.failures.splice(0, requests.failures.length, ...requests.failures.filter((f) => !/^HTTP 502 POST .*\/api\/chat$/.test(f)));
});
