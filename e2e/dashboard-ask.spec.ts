/**
 * Settings → AI and the Ask box (issue 13, item 5 and item 1's dashboard part) in Debian's Chromium
 * against a real headless node and the fake OpenAI-compatible provider (real chat-completions SSE on
 * 127.0.0.1, node/testing/fake-llm.ts, started in this test process), at 360×740 and 1280×800.
 * Without a provider the Ask box says how to add one; the owner adds a provider in Settings → AI (its
 * key is never shown again); a question makes the model call `list_apps` (the call is listed, its
 * result reaches the model); a question that makes it call `kv_set` waits for Approve. Screenshots:
 * e2e/.cache/screenshots/ask-<what>-<phone|desktop>.png; axe: no serious or critical violations.
 */
import { zipSync, strToU8 } from 'fflate';
import type { Browser, BrowserContext, Page } from '@playwright/test';
import { startFakeLlm, type FakeLlm } from '../node/testing/fake-llm.js';
import { createToken, expect, screenshot, startNode, test, type FaztNode } from './fixtures.js';
import { expectAccessible } from './screens.js';

const PASSWORD = 'correct horse battery';
const KEY = 'sk-e2e-ask-secret';

const VIEWPORTS = [
  ['phone', { width: 360, height: 740 }, true],
  ['desktop', { width: 1280, height: 800 }, false],
] as const;

for (const [label, viewport, touch] of VIEWPORTS) {
  test.describe(`${label} ${viewport.width}×${viewport.height}`, () => {
    test.describe.configure({ mode: 'serial' });
    let node: FaztNode;
    let fake: FakeLlm;
    let token: string;
    let context: BrowserContext;
    let page: Page;
    const shot = (name: string) => screenshot(page, `ask-${name}-${label}`);
    const askCard = () => page.locator('fazt-ask section');

    test.beforeAll(async ({ browser }: { browser: Browser }) => {
      fake = await startFakeLlm({ key: KEY });
      node = await startNode();
      const setup = await fetch(`${node.origin}/api/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
      expect(setup.status).toBe(201);
      token = await createToken(node, 'admin');
      const zip = zipSync({ 'app.json': strToU8(JSON.stringify({ name: 'notes', title: 'Notes' })), 'index.html': strToU8('<!doctype html><title>Notes</title><h1>Notes</h1>') });
      const r = await fetch(`${node.origin}/api/apps?name=notes`, { method: 'POST', headers: { 'content-type': 'application/zip', authorization: `Bearer ${token}` }, body: zip });
      expect(r.status, await r.clone().text()).toBeLessThan(300);
      context = await browser.newContext({ viewport, hasTouch: touch, isMobile: touch });
      page = await context.newPage();
    });

    test.afterAll(async () => {
      await context?.close();
      await node?.stop();
      await fake?.close();
    });

    test('without a provider, the Ask box says how to add one', async () => {
      await page.goto(`${node.origin}/`);
      await page.getByLabel('Owner password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect(page.getByRole('heading', { name: 'Apps', exact: true })).toBeVisible();
      await expect(askCard().getByRole('heading', { name: 'Ask your node' })).toBeVisible();
      await expect(askCard()).toContainText('add a provider');
      await expect(askCard()).toContainText('Settings → AI');
      await askCard().scrollIntoViewIfNeeded();
      await shot('no-provider');
      await expectAccessible(page, 'ask box without a provider');
      await askCard().getByRole('link', { name: 'Add an AI provider' }).click();
      await expect(page.getByRole('heading', { name: 'AI', exact: true })).toBeVisible();
    });

    test('Settings → AI: add a provider; its key is never shown again', async () => {
      const ai = page.locator('fazt-ai-settings');
      await expect(ai).toContainText('No provider yet');
      await ai.getByRole('button', { name: 'Add a provider' }).click();
      await ai.getByLabel('Name').fill('local');
      await ai.getByLabel('Kind').selectOption('openai-compatible');
      await ai.getByLabel(/Base URL/).fill(fake.baseUrl('openai-compatible'));
      await ai.getByLabel('Default model').fill('fake-gpt');
      await ai.getByLabel(/API key/).fill(KEY);
      await expect(ai.getByLabel(/API key/)).toHaveAttribute('type', 'password');
      await shot('settings-form');
      await expectAccessible(page, 'Settings → AI form');
      await ai.getByRole('button', { name: 'Save provider' }).click();
      await expect(ai.getByRole('status')).toHaveText('Saved local.');
      const row = ai.locator('[data-provider="local"]');
      await expect(row).toContainText('key stored');
      await expect(row).toContainText('model fake-gpt');
      await expect(row).toContainText('default');
      // editing shows the key field empty: the key never comes back
      await row.getByRole('button', { name: 'Edit local' }).click();
      await expect(ai.getByLabel(/API key/)).toHaveValue('');
      await expect(ai.getByLabel(/API key/)).toHaveAttribute('placeholder', /stored/);
      expect(await page.content()).not.toContain(KEY);
      expect(await ai.evaluate((el) => el.shadowRoot!.innerHTML)).not.toContain(KEY);
      await ai.getByRole('button', { name: 'Cancel' }).click();
      // the owner's switch for paired devices (docs/ai.md "Relay through a paired node"): on by default
      const relay = ai.getByLabel("Let paired devices use this node's AI");
      await expect(relay).toBeChecked();
      const relayState = async () => ((await (await fetch(`${node.origin}/api/ai/relay`, { headers: { authorization: `Bearer ${token}` } })).json()) as { serve: boolean }).serve;
      await relay.uncheck();
      await expect(ai.getByRole('status')).toHaveText('Paired devices may no longer use this node’s AI.');
      expect(await relayState()).toBe(false);
      await relay.check();
      await expect(ai.getByRole('status')).toHaveText('Paired devices may use this node’s AI.');
      expect(await relayState()).toBe(true);
      await ai.scrollIntoViewIfNeeded();
      await shot('settings-ai');
      await expectAccessible(page, 'Settings → AI');
      // the MCP token buttons
      await expect(page.getByRole('button', { name: 'Create MCP token' })).toBeVisible();
      await expect(page.getByRole('button', { name: 'Create read-only MCP token' })).toBeVisible();
    });

    test('a question that makes the model call list_apps: the call is shown, its result reaches the model', async () => {
      await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Apps' }).click();
      const q = askCard().getByLabel('Your question');
      await expect(q).toBeVisible();
      fake.script({ toolCalls: [{ id: 'call_apps', name: 'list_apps', input: {} }] }, { text: 'You have two apps: Hello and Notes.', delayMs: 40 });
      await q.fill('Which apps do I have?');
      await askCard().getByRole('button', { name: 'Ask' }).click();
      const call = askCard().locator('li[data-tool="list_apps"]');
      await expect(call).toContainText('done');
      await expect(call).toContainText('2 apps: hello, notes'); // the node's example app and ours
      await expect(askCard().getByLabel('Answer')).toHaveText('You have two apps: Hello and Notes.');
      const sent = fake.requests.filter((r) => r.api === 'openai').at(-1)!.body;
      expect(sent.model).toBe('fake-gpt');
      const toolMsg = sent.messages.find((m: { role: string }) => m.role === 'tool');
      expect(toolMsg.tool_call_id).toBe('call_apps');
      expect(String(toolMsg.content)).toContain('"name":"notes"');
      await askCard().scrollIntoViewIfNeeded();
      await shot('list-apps');
      await expectAccessible(page, 'ask box with a tool call');
    });

    test('a question that makes the model call kv_set waits for Approve', async () => {
      fake.script({ toolCalls: [{ id: 'call_kv', name: 'kv_set', input: { app: 'notes', key: 'title', value: 'Bigger' } }] }, { text: 'Done: the title is Bigger.' });
      await askCard().getByLabel('Your question').fill('Make the notes title Bigger');
      await askCard().getByRole('button', { name: 'Ask' }).click();
      const call = askCard().locator('li[data-tool="kv_set"]');
      await expect(call).toContainText('waits for you');
      const approve = call.getByRole('button', { name: 'Approve kv_set' });
      await expect(approve).toBeVisible();
      await expect(call.getByRole('button', { name: 'Refuse kv_set' })).toBeVisible();
      const before = fake.requests.length;
      await page.waitForTimeout(300);
      expect(fake.requests.length).toBe(before); // nothing runs while it waits
      const kv = async () => ((await (await fetch(`${node.origin}/api/apps/notes/kv?prefix=title`, { headers: { authorization: `Bearer ${token}` } })).json()) as { items: { key: string; value: string }[] }).items;
      expect(await kv()).toEqual([]);
      await call.scrollIntoViewIfNeeded();
      await shot('confirm');
      await expectAccessible(page, 'ask box waiting for approval');
      await approve.click();
      await expect(call).toContainText('done');
      await expect(askCard().getByLabel('Answer')).toHaveText('Done: the title is Bigger.');
      expect(await kv()).toMatchObject([{ key: 'title', value: '"Bigger"' }]);
      const toolMsg = fake.requests.at(-1)!.body.messages.find((m: { role: string }) => m.role === 'tool');
      expect(String(toolMsg.content)).toContain('"set":true');
      await askCard().scrollIntoViewIfNeeded();
      await shot('approved');
    });

    test('Settings → AI shows the usage per caller and sets an app\'s budget', async () => {
      await page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name: 'Settings' }).click();
      const ai = page.locator('fazt-ai-settings');
      const owner = ai.locator('[data-usage="owner"]');
      await expect(owner).toContainText('You (Ask, CLI)');
      await expect(owner).toContainText('2 calls'); // two questions (each with its model calls counted as one)
      const budget = ai.getByLabel('Tokens per month for notes');
      await budget.fill('5000');
      await ai.getByRole('button', { name: 'Save the budget of notes' }).click();
      await expect(ai.getByRole('status')).toHaveText('Budget of notes saved.');
      const r = await fetch(`${node.origin}/api/ai/budgets/notes`, { headers: { authorization: `Bearer ${token}` } });
      expect(((await r.json()) as { budget: { tokensPerMonth: number } }).budget.tokensPerMonth).toBe(5000);
      await budget.fill('lots');
      await ai.getByRole('button', { name: 'Save the budget of notes' }).click();
      await expect(ai.getByRole('alert').filter({ hasText: 'whole number' })).toBeVisible();
      await expect(ai.getByRole('status')).toHaveText('');
      await ai.getByRole('heading', { name: /Usage this month/ }).scrollIntoViewIfNeeded();
      await shot('usage');
      await expectAccessible(page, 'Settings → AI usage');
    });
  });
}
