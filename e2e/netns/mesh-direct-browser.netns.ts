/**
 * Direct pairing of the browser node (docs/mesh.md "Pairing with no reachable server"), with real
 * parts only: Debian's Chromium running the built PWA (the page's RTCPeerConnection, relayed into the
 * service worker's kernel: sw/mesh-relay.ts `RelayDirectConnector`) and a real headless node
 * (`bin/fazt.js start`, node-datachannel). The codes carry the WebRTC offer and answer; the
 * invitation names no address, so no HTTP request and no signaling server joins the two.
 *
 * libjuice (the headless node's ICE) gathers no loopback candidates, and a direct offer needs one:
 * this file adds a veth pair with 10.213.0.1 to the loopback-only namespace (both ends in it; the
 * address is local, so traffic to it stays on this machine), and removes it after.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type Page } from '@playwright/test';
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import wavefile from 'wavefile';
import { decodeAnswer } from '../../shared/mesh/invitation.js';
import { createToken, expect, runCli, SCREENSHOT_DIR, startNode, type FaztNode } from '../fixtures.js';
import { device, openPwa } from '../pwa-fixtures.js';
import { expectAccessible } from '../screens.js';
import { addVeth, removeVeth } from './veth.js';

type Decode = typeof import('jsqr').default;
const jsQR: Decode = (jsQRModule as unknown as { default?: Decode }).default ?? (jsQRModule as unknown as Decode);

const VETH = 'fzdirect0';
/** How long the owner takes to carry the page's answer to the Pi in the Devices-screen step, ms. */
const CARRY_MS = 60_000;

test.beforeAll(() => {
  if (process.env.FAZT_NETNS !== '1') throw new Error('These tests must run in a loopback-only network namespace: run e2e/mesh-browser.spec.ts (it starts them through e2e/netns/run-in-netns.mjs).');
  addVeth(VETH, '10.213.0.1/24', 'the headless node needs a non-loopback address for a direct offer');
});

test.afterAll(() => removeVeth(VETH));

interface Hub {
  node: FaztNode;
  token: string;
  id: string;
}

async function hubApi(hub: Hub, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(hub.node.origin + path, {
    method,
    headers: { authorization: `Bearer ${hub.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json().catch(() => undefined) };
}

async function startHub(): Promise<Hub> {
  const node = await startNode({ args: ['--no-example'] });
  const token = await createToken(node);
  const hub: Hub = { node, token, id: '' };
  hub.id = (await hubApi(hub, 'GET', '/api/mesh')).json.nodeId;
  return hub;
}

const json = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

async function devicePeer(page: Page, id: string): Promise<any> {
  const r = await device(page, '/api/mesh/peers');
  return (r.json?.peers ?? []).find((p: { nodeId: string }) => p.nodeId === id);
}

/** Both sides list each other connected, and a ping crosses the link both ways. */
async function linkedBothWays(page: Page, me: string, hub: Hub): Promise<void> {
  await expect.poll(async () => (await devicePeer(page, hub.id))?.connected, { timeout: 20_000 }).toBe(true);
  await expect.poll(async () => (await hubApi(hub, 'GET', '/api/mesh/peers')).json.peers.find((p: { nodeId: string }) => p.nodeId === me)?.connected, { timeout: 20_000 }).toBe(true);
  const fromDevice = await device(page, `/api/mesh/peers/${hub.id}/ping`, json({}));
  expect(fromDevice.status, fromDevice.text).toBe(200);
  expect(fromDevice.json.ms).toBeGreaterThan(0);
  const fromHub = await hubApi(hub, 'POST', `/api/mesh/peers/${me}/ping`, {});
  expect(fromHub.status, JSON.stringify(fromHub.json)).toBe(200);
}

test('the browser node pairs directly with a headless node: the codes carry the offer and answer, no server joins them', async ({ page }) => {
  // the PWA comes from one node; the "Pi" is another, which the page never calls
  const web = await startHub();
  const pi = await startHub();
  page.on('console', (m) => {
    if (/mesh relay|direct/.test(m.text())) console.log(`[page] ${m.text()}`);
  });
  // headless Chromium's speaker cannot be recorded: keep a copy of every buffer the page starts playing
  await page.context().addInitScript(() => {
    const start = AudioBufferSourceNode.prototype.start;
    (globalThis as { __played?: number[][] }).__played = [];
    AudioBufferSourceNode.prototype.start = function (...args: Parameters<typeof start>) {
      if (this.buffer) (globalThis as unknown as { __played: number[][] }).__played.push(Array.from(this.buffer.getChannelData(0)));
      return start.apply(this, args);
    };
  });
  try {
    await openPwa(page, web.node.origin);
    await page.waitForFunction(() => (globalThis as any).__faztMesh?.owner === true, undefined, { timeout: 20_000 });
    const me = (await device(page, '/api/mesh')).json.nodeId as string;

    await test.step('the Pi invites with an offer and no address; the phone answers with an FZA… code; the Pi accepts it', async () => {
      const inv = await hubApi(pi, 'POST', '/api/mesh/invitations', { direct: true, addresses: [] });
      expect(inv.status, JSON.stringify(inv.json)).toBe(201);
      expect(inv.json.direct).toBe(true);
      expect(inv.json.addresses).toEqual([]);
      const t0 = Date.now();
      const joined = await device(page, '/api/mesh/join', json({ invitation: inv.json.code }));
      expect(joined.status, joined.text).toBe(202);
      expect(joined.json.answer).toMatch(/^FZA[A-Z2-7]+$/);
      expect(joined.json.inviter.nodeId).toBe(pi.id);
      console.log(`browser answer: ${joined.json.answer.length} characters, made in ${Date.now() - t0} ms`);
      const acc = await hubApi(pi, 'POST', '/api/mesh/invitations/answer', { answer: joined.json.answer });
      expect(acc.status, JSON.stringify(acc.json)).toBe(201);
      expect(acc.json.peer.nodeId).toBe(me);
      await linkedBothWays(page, me, pi);
      console.log(`direct pairing (join → linked both ways): ${Date.now() - t0} ms`);
      // the same answer a second time is refused: the invitation is used
      const again = await hubApi(pi, 'POST', '/api/mesh/invitations/answer', { answer: joined.json.answer });
      expect(again.json?.error?.code).toMatch(/^(INVITATION_USED|INVITATION_EXPIRED)$/);
    });

    await test.step('the phone invites with an offer (made by its page); the node answers; the phone accepts', async () => {
      const inv = await device(page, '/api/mesh/invitations', json({ direct: true }));
      expect(inv.status, inv.text).toBe(201);
      expect(inv.json.direct).toBe(true);
      const joined = await hubApi(web, 'POST', '/api/mesh/join', { invitation: inv.json.code });
      expect(joined.status, JSON.stringify(joined.json)).toBe(202);
      expect(joined.json.answer).toMatch(/^FZA/);
      const acc = await device(page, '/api/mesh/invitations/answer', json({ answer: joined.json.answer }));
      expect(acc.status, acc.text).toBe(201);
      expect(acc.json.peer.nodeId).toBe(web.id);
      await linkedBothWays(page, me, web);
      // the first direct link is still up
      expect((await devicePeer(page, pi.id)).connected).toBe(true);
    });

    await test.step('the Devices screen at 360×740: joining a direct code shows the answer as a QR code, the code and a sound; the Pi takes it', async () => {
      // pair afresh: unpair from the phone (the Pi is told over the link)
      const un = await device(page, `/api/mesh/peers/${pi.id}`, { method: 'DELETE' });
      expect(un.status, un.text).toBe(200);
      await expect.poll(async () => (await hubApi(pi, 'GET', '/api/mesh/peers')).json.peers.length, { timeout: 15_000 }).toBe(0);
      const inv = await hubApi(pi, 'POST', '/api/mesh/invitations', { direct: true, addresses: [] });
      expect(inv.status).toBe(201);

      await page.setViewportSize({ width: 360, height: 740 });
      await page.evaluate(() => (location.hash = '#/devices'));
      const chooser = page.getByRole('button', { name: /^Acting on .*Change node$/ });
      if (!/This device/.test((await chooser.getAttribute('aria-label')) ?? (await chooser.innerText()))) {
        await chooser.click();
        await page.getByRole('group', { name: 'Choose the node to act on' }).getByRole('button', { name: /This device/ }).click();
      }
      await page.getByRole('button', { name: /^Join/ }).click();
      await page.getByLabel('The 12 words or the code').fill(inv.json.code);
      await page.getByRole('button', { name: 'Join', exact: true }).click();
      await expect(page.getByRole('heading', { name: 'Now give this answer to the inviting device' })).toBeVisible({ timeout: 20_000 });
      await expect(page.getByText('On the inviting device run fazt mesh accept with this code, or scan it.', { exact: false })).toBeVisible();
      const answer = (await page.locator('#answer-code').innerText()).trim();
      expect(answer).toMatch(/^FZA[A-Z2-7]+$/);
      expect(decodeAnswer(answer).joinerId).toBe(me);
      const shown = Date.now();
      await expect(page.getByRole('button', { name: 'Copy the answer' })).toBeVisible();
      // the QR code as drawn, read back from a photograph of the element
      fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
      const png = PNG.sync.read(await page.locator('#answer-qr').screenshot());
      const read = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height);
      expect(read, 'jsQR found no QR code in the answer').not.toBeNull();
      expect(read!.data).toBe(answer);
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'devices-direct-answer-phone.png'), fullPage: true });
      await expectAccessible(page, 'devices: a direct answer');

      // the sound handed to the speaker is the answer (its binary form), as `fazt chirp decode` hears it
      await page.getByRole('button', { name: 'Play sound' }).click();
      await expect(page.getByText('Playing the answer as sound…')).toBeVisible();
      await expect(page.getByText(/^Played \(\d+\.\d s\)\./)).toBeVisible({ timeout: 30_000 });
      await expect(page.locator('#play-error')).toBeEmpty();
      const played = await page.evaluate(() => (globalThis as unknown as { __played: number[][] }).__played);
      expect(played).toHaveLength(1);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-e2e-answer-'));
      try {
        const w = new wavefile.WaveFile();
        w.fromScratch(1, 48_000, '32f', Float32Array.from(played[0]!));
        fs.writeFileSync(path.join(dir, 'answer.wav'), w.toBuffer());
        const dec = await runCli(['chirp', 'decode', path.join(dir, 'answer.wav'), '--json']);
        expect(dec.code, dec.stderr).toBe(0);
        expect(JSON.parse(dec.stdout)).toEqual({ text: answer });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      // carrying the answer by hand takes a while: Chromium's answering ICE agent must still be waiting
      // (libdatachannel's gives up after 39.5 s; the headless joiner re-arms, the page cannot)
      await page.waitForTimeout(Math.max(0, CARRY_MS - (Date.now() - shown)));
      const acc = await hubApi(pi, 'POST', '/api/mesh/invitations/answer', { answer });
      expect(acc.status, JSON.stringify(acc.json)).toBe(201);
      await expect(page.getByRole('heading', { name: 'Now give this answer to the inviting device' })).toHaveCount(0, { timeout: 15_000 });
      await expect(page.getByText(/Paired with /).first()).toBeVisible();
      await expect(page.locator(`li.peer[data-node="${pi.id}"]`)).toContainText(/Connected/, { timeout: 15_000 });
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'devices-direct-paired-phone.png'), fullPage: true });
      await linkedBothWays(page, me, pi);
    });

    await test.step('the Devices screen invites with a connection offer (made by the page) and takes the node’s answer', async () => {
      const un = await device(page, `/api/mesh/peers/${pi.id}`, { method: 'DELETE' });
      expect(un.status, un.text).toBe(200);
      await expect.poll(async () => (await hubApi(pi, 'GET', '/api/mesh/peers')).json.peers.length, { timeout: 15_000 }).toBe(0);
      await page.getByRole('button', { name: /^Invite/ }).click();
      await page.getByRole('button', { name: 'Invite with a connection offer' }).click();
      await expect(page.getByRole('heading', { name: 'Then enter the other device’s answer' })).toBeVisible({ timeout: 20_000 });
      const code = ((await page.locator('#invite-code').textContent()) ?? '').trim();
      expect(code).toMatch(/^FZ1[A-Z2-7]+$/);
      const joined = await hubApi(pi, 'POST', '/api/mesh/join', { invitation: code });
      expect(joined.status, JSON.stringify(joined.json)).toBe(202);
      // a wrong answer first: the node's error appears under the field
      await page.getByLabel('The answer (FZA…) the other device shows').fill('FZA' + 'A'.repeat(40));
      await page.getByRole('button', { name: 'Connect', exact: true }).click();
      await expect(page.locator('#answer-error')).toContainText('too short');
      await expect(page.getByLabel('The answer (FZA…) the other device shows')).toBeFocused();
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'devices-direct-invite-phone.png'), fullPage: true });
      await expectAccessible(page, 'devices: a direct invitation waiting for its answer');
      await page.getByLabel('The answer (FZA…) the other device shows').fill(joined.json.answer);
      await page.getByRole('button', { name: 'Connect', exact: true }).click();
      await expect(page.getByText(/Paired with /).first()).toBeVisible({ timeout: 30_000 });
      await expect(page.getByRole('heading', { name: 'Then enter the other device’s answer' })).toHaveCount(0);
      await expect(page.locator(`li.peer[data-node="${pi.id}"]`)).toContainText(/Connected/, { timeout: 15_000 });
      await linkedBothWays(page, me, pi);
    });

    await test.step('an answer code that was not made for the invitation is refused by the phone', async () => {
      const r = await device(page, '/api/mesh/invitations/answer', json({ answer: 'FZAAAAAAAAAAAAAAAAAAAAAAAAA' }));
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.json.error.code).toBe('INVALID_INVITATION');
    });
  } finally {
    await pi.node.stop();
    await web.node.stop();
  }
});
