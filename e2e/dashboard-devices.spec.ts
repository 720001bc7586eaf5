/**
 * The dashboard's Devices screen (issue 11 item 5) against two real headless nodes, in Debian's
 * Chromium at 360×740 with touch, tapping only:
 * - this node's name (renamed) and id (copied);
 * - "Invite": the QR code drawn on the screen, photographed and decoded with jsQR in Node, is exactly
 *   the code the node's API answered, and the words shown are that invitation's; a second node joins
 *   with it and the list shows it live; unpair from the screen, with a confirmation, on both sides;
 * - "Join" by typing: a mistyped word is named next to the field (focus moved there, announced); the
 *   right words pair the two nodes and both list each other;
 * - "Join" by scanning: Chromium's fake camera plays a YUV4MPEG2 file of the other node's QR code and
 *   the screen joins with what it read;
 * - sound (Chirp): "Listen" hears the other node's invitation played to Chromium's fake microphone
 *   (the WAV `fazt mesh invite --chirp` wrote) and joins with it; "Play sound" sends exactly the
 *   invitation (the samples handed to WebAudio, decoded by `fazt chirp decode`); a refused microphone
 *   is said plainly;
 * - a refused camera, and no camera at all, get a message in plain words.
 * Every state is photographed (e2e/.cache/screenshots/devices-*.png) and checked with axe-core.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from '@playwright/test';
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { invitationFromCode, invitationFromWords } from '../shared/mesh/invitation.js';
import wavefile from 'wavefile';
import { createToken, expect, runCli, SCREENSHOT_DIR, startNode, test, type FaztNode } from './fixtures.js';
import { expectAccessible, VIEWPORTS } from './screens.js';

/** jsQR's decoder: a CommonJS module whose default export TypeScript (NodeNext) and the loaders see differently. */
type Decode = typeof import('jsqr').default;
const jsQR: Decode = (jsQRModule as unknown as { default?: Decode }).default ?? (jsQRModule as unknown as Decode);

const PASSWORD = 'correct horse battery';
const PHONE = VIEWPORTS[0][1];
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const BASE_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The dashboard's node (A) and the other device (B). */
let hub: FaztNode;
let other: FaztNode;
let hubToken: string;
let otherToken: string;
let context: BrowserContext;
let page: Page;

interface Identity {
  nodeId: string;
  name: string;
}
interface Peer extends Identity {
  connected: boolean;
  lastSeen: number | null;
}
interface InvitationAnswer {
  code: string;
  words: string;
  expiresAt: number;
  addresses: { host: string; port: number }[];
}

/** One admin API call with a bearer token; fails the test on a non-2xx answer. */
async function api<T>(node: FaztNode, token: string, method: string, route: string, body?: unknown): Promise<T> {
  const r = await fetch(`${node.origin}/api${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  expect(r.ok, `${method} ${route} on ${node.origin}: ${r.status} ${text}`).toBe(true);
  return JSON.parse(text) as T;
}
const peersOf = async (node: FaztNode, token: string) => (await api<{ peers: Peer[] }>(node, token, 'GET', '/mesh/peers')).peers;

/** Signs in on the hub's dashboard and opens the Devices screen by tapping its tab. */
async function openDevices(p: Page): Promise<void> {
  await p.goto(`${hub.origin}/`);
  await p.getByLabel('Owner password', { exact: true }).fill(PASSWORD);
  await p.getByRole('button', { name: 'Sign in' }).tap();
  await p.getByRole('link', { name: 'Devices', exact: true }).tap();
  await expect(p.getByRole('heading', { name: 'Devices', exact: true })).toBeVisible();
  await expect(p.locator('#node-id')).toHaveText(/^[a-z2-7]{16}$/);
}

/** Full-page screenshot `devices-NAME.png` at the current (phone) size: the states of a flow. */
async function shot(p: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `devices-${name}.png`);
  await p.screenshot({ path: file, fullPage: true });
  return file;
}

/** {@link shot} at each of the three sizes (`devices-NAME-phone.png`…), ending at phone size. */
async function shots(p: Page, name: string): Promise<void> {
  for (const [label, size] of VIEWPORTS) {
    await p.setViewportSize(size);
    await p.waitForTimeout(100);
    await shot(p, `${name}-${label}`);
  }
  await p.setViewportSize(PHONE);
}

/**
 * A YUV4MPEG2 file (4:2:0, 8 bit) of `frames` identical 640×480 frames showing the QR code of
 * `text` (black on white, 8 px per module, quiet zone included), for Chromium's
 * `--use-file-for-fake-video-capture`.
 */
function qrY4m(text: string, file: string, frames = 4): void {
  const W = 640;
  const H = 480;
  const qr = QRCode.create([{ data: text, mode: 'alphanumeric' }], { errorCorrectionLevel: 'M' });
  const { size, data } = qr.modules;
  const scale = 8;
  const side = (size + 8) * scale;
  const x0 = Math.floor((W - side) / 2);
  const y0 = Math.floor((H - side) / 2);
  const y = Buffer.alloc(W * H, 235); // white (video range)
  for (let r = 0; r < size; r++)
    for (let c = 0; c < size; c++) {
      if (!data[r * size + c]) continue;
      for (let dy = 0; dy < scale; dy++) y.fill(16, (y0 + (r + 4) * scale + dy) * W + x0 + (c + 4) * scale, (y0 + (r + 4) * scale + dy) * W + x0 + (c + 5) * scale);
    }
  const chroma = Buffer.alloc((W / 2) * (H / 2) * 2, 128);
  const parts: Buffer[] = [Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`)];
  for (let i = 0; i < frames; i++) parts.push(Buffer.from('FRAME\n'), y, chroma);
  fs.writeFileSync(file, Buffer.concat(parts));
}

/** A typo of `word` that is neither a list word nor the start of one (so it cannot be read as a shortened word). */
function typo(word: string): string {
  for (let i = 1; i < word.length - 1; i++) {
    const t = word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2);
    if (t !== word && !wordlist.some((w) => w.startsWith(t))) return t;
  }
  return `${word}q`;
}

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }: { browser: Browser }) => {
  [hub, other] = await Promise.all([startNode(), startNode()]);
  const setup = await fetch(`${hub.origin}/api/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
  expect(setup.status).toBe(201);
  [hubToken, otherToken] = await Promise.all([createToken(hub), createToken(other)]);
  await api(other, otherToken, 'PUT', '/mesh', { name: 'Laptop' });
  context = await browser.newContext({ viewport: PHONE, hasTouch: true, isMobile: true });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: hub.origin });
  page = await context.newPage();
});

test.afterAll(async () => {
  await context?.close();
  await Promise.all([hub?.stop(), other?.stop()]);
});

test('this node: its id (copied) and its name (renamed); errors stay next to the field', async () => {
  await openDevices(page);
  const me = await api<Identity>(hub, hubToken, 'GET', '/mesh');
  await expect(page.locator('#node-id')).toHaveText(me.nodeId);
  await expect(page.getByLabel('Name')).toHaveValue(me.name);
  await expect(page.getByText('No paired devices yet.')).toBeVisible();
  await shots(page, 'start');
  await expectAccessible(page, 'devices');

  await page.getByRole('button', { name: 'Copy', exact: true }).tap();
  await expect(page.locator('#copy-state')).toHaveText('Copied the id.');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(me.nodeId);

  await page.getByLabel('Name').fill('   ');
  await page.getByRole('button', { name: 'Save', exact: true }).tap();
  await expect(page.locator('#name-error')).toContainText('Give this node a name');
  await expect(page.getByLabel('Name')).toBeFocused();
  await page.getByLabel('Name').fill('Kitchen hub');
  await page.getByRole('button', { name: 'Save', exact: true }).tap();
  await expect(page.getByRole('status').filter({ hasText: 'Renamed to Kitchen hub.' })).toBeAttached();
  expect((await api<Identity>(hub, hubToken, 'GET', '/mesh')).name).toBe('Kitchen hub');
  await expect(page.locator('#name-error')).toBeEmpty();
});

test('invite: the QR code decodes to exactly the code the API gave, the words are the invitation’s; the other node joins and shows up live; unpair from the screen on both sides', async () => {
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/mesh/invitations') && r.request().method() === 'POST');
  await page.getByRole('button', { name: /^Invite/ }).tap();
  const inv = (await (await answer).json()) as InvitationAnswer;
  const qr = page.getByRole('img', { name: 'QR code of the invitation' });
  await expect(qr).toBeVisible();
  await expect(page.getByText(/Works for \d+:\d\d more, once\./)).toBeVisible();

  // the QR code, as the screen drew it, read back from a photograph of the element
  const png = PNG.sync.read(await qr.screenshot({ path: path.join(SCREENSHOT_DIR, 'devices-qr-element.png') }));
  const read = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height);
  expect(read, 'jsQR found no QR code in the screenshot of the element').not.toBeNull();
  expect(read!.data).toBe(inv.code);
  // …which is an invitation of this hub
  const me = await api<Identity>(hub, hubToken, 'GET', '/mesh');
  const fromCode = invitationFromCode(read!.data);
  expect(fromCode.inviterId).toBe(me.nodeId);
  expect(fromCode.addresses).toEqual([{ host: '127.0.0.1', port: hub.port }]);

  // the words on the screen are the same invitation (same secret)
  const shown = await page.locator('ol.words li').allTextContents();
  expect(shown.join(' ')).toBe(inv.words);
  expect(shown).toHaveLength(12);
  expect(Buffer.from(invitationFromWords(shown).secret).toString('hex')).toBe(Buffer.from(fromCode.secret).toString('hex'));
  // every word fits its box at phone size, even the widest of the list
  const overflowing = await page.locator('ol.words li').evaluateAll((lis) => lis.filter((li) => li.scrollWidth > li.clientWidth).map((li) => li.textContent));
  expect(overflowing).toEqual([]);
  const widest = await page.locator('ol.words li').first().evaluate((li) => {
    const copy = li.cloneNode() as HTMLElement;
    copy.textContent = 'mushroom';
    li.after(copy);
    const fits = copy.scrollWidth <= copy.clientWidth;
    copy.remove();
    return fits;
  });
  expect(widest, '“mushroom” fits a word box at 360 px').toBe(true);
  await shots(page, 'invite');
  await expectAccessible(page, 'devices: invite');

  // the other node joins with the code: the screen sees it without a reload
  const joined = await api<{ peer: Identity }>(other, otherToken, 'POST', '/mesh/join', { invitation: read!.data });
  expect(joined.peer).toEqual({ nodeId: me.nodeId, name: 'Kitchen hub' });
  await expect(page.locator('.done')).toHaveText('Paired with Laptop. It is in the list of paired devices.');
  const otherId = (await api<Identity>(other, otherToken, 'GET', '/mesh')).nodeId;
  const item = page.locator(`li.peer[data-node="${otherId}"]`);
  await expect(item).toContainText('Laptop');
  await expect(page.getByRole('img', { name: 'QR code of the invitation' })).toHaveCount(0);
  // the nodes open their WebRTC link by themselves; the screen shows it live
  await expect(item).toContainText('Connected', { timeout: 45_000 });
  await expect(item).toContainText(/seen (just now|\d+ minutes? ago)/);
  await shot(page, 'paired-by-invite');
  await expectAccessible(page, 'devices: paired');

  // unpair from the screen, after a confirmation
  await item.getByRole('button', { name: 'Unpair Laptop' }).tap();
  const dialog = page.getByRole('alertdialog');
  await expect(dialog).toContainText('Unpair Laptop?');
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await shot(page, 'unpair-confirm');
  await expectAccessible(page, 'devices: unpair confirmation');
  await dialog.getByRole('button', { name: 'Cancel' }).tap();
  await expect(dialog).toHaveCount(0);
  await expect(item.getByRole('button', { name: 'Unpair Laptop' })).toBeFocused();
  expect((await peersOf(hub, hubToken)).map((p) => p.nodeId)).toEqual([otherId]);
  await item.getByRole('button', { name: 'Unpair Laptop' }).tap();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Unpair', exact: true }).tap();
  await expect(item).toHaveCount(0);
  await expect(page.getByText('No paired devices yet.')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Paired devices' })).toBeFocused();
  expect(await peersOf(hub, hubToken)).toEqual([]);
  // the other side was told over the open link and forgot the hub too
  await expect.poll(async () => (await peersOf(other, otherToken)).length, { timeout: 15_000 }).toBe(0);
});

test('the countdown and “last seen” run on this device’s clock, even one an hour off; an expired invitation is said and a new one made on a tap', async ({ browser }) => {
  // its own context: a Playwright clock belongs to the whole context
  const ctx = await browser.newContext({ viewport: PHONE, hasTouch: true, isMobile: true });
  try {
    const p = await ctx.newPage();
    // a phone whose clock is an hour fast: the node's expiresAt is already past on it
    await p.clock.install({ time: Date.now() + 60 * 60_000 });
    await openDevices(p);
    await p.getByRole('button', { name: /^Invite/ }).tap();
    await expect(p.getByText('Works for 10:00 more, once.')).toBeVisible();
    await p.clock.fastForward('02:00');
    await expect(p.getByText('Works for 8:00 more, once.')).toBeVisible();
    await p.clock.fastForward('08:01');
    await expect(p.getByRole('alert')).toHaveText('This invitation has expired. Make a new one when the other device is ready.');
    await expect(p.getByRole('img', { name: 'QR code of the invitation' })).toHaveCount(0);
    await shot(p, 'invite-expired');
    await expectAccessible(p, 'devices: invitation expired');
    const answer = p.waitForResponse((r) => r.url().endsWith('/api/mesh/invitations') && r.request().method() === 'POST');
    await p.getByRole('button', { name: 'New invitation' }).tap();
    const inv = (await (await answer).json()) as InvitationAnswer;
    await expect(p.getByRole('img', { name: 'QR code of the invitation' })).toBeVisible();
    await expect(p.getByRole('alert')).toHaveCount(0);
    // a device that joins now was seen "just now", not an hour ago, on the fast clock too
    await api(other, otherToken, 'POST', '/mesh/join', { invitation: inv.code });
    const otherId = (await api<Identity>(other, otherToken, 'GET', '/mesh')).nodeId;
    await expect(p.locator(`li.peer[data-node="${otherId}"]`)).toContainText(/seen just now/);
    // unpair over an open link: the notice reaches the other node only over the link (docs/mesh.md;
    // unpaired while apart, the other side is told NOT_PAIRED on its next try and unpairs by hand)
    await expect(p.locator(`li.peer[data-node="${otherId}"]`)).toContainText('Connected', { timeout: 45_000 });
    await api(hub, hubToken, 'DELETE', `/mesh/peers/${otherId}`);
    await expect.poll(async () => (await peersOf(other, otherToken)).length, { timeout: 15_000 }).toBe(0);
  } finally {
    await ctx.close();
  }
});

test('join by typing: a mistyped word is named next to the field; the right words pair; both list each other', async () => {
  const inv = await api<InvitationAnswer>(other, otherToken, 'POST', '/mesh/invitations', {});
  await page.getByRole('button', { name: /^Join/ }).tap();
  const field = page.getByLabel('The 12 words or the code');
  await expect(field).toBeVisible();

  // empty
  await page.getByRole('button', { name: 'Join', exact: true }).tap();
  await expect(page.locator('#join-error')).toContainText('Type the 12 words');
  await expect(field).toBeFocused();

  // word 5 mistyped: the node names it, next to the field
  const words = inv.words.split(' ');
  const wrong = typo(words[4]!);
  await field.fill([...words.slice(0, 4), wrong, ...words.slice(5)].join(' '));
  await page.getByRole('button', { name: 'Join', exact: true }).tap();
  const error = page.locator('#join-error');
  await expect(error).toContainText(`Word 5, “${wrong}”, is not one of the invitation words.`);
  await expect(error).toHaveAttribute('aria-live', 'assertive');
  await expect(field).toBeFocused();
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  // the error sits right under the field, in view without scrolling
  const fb = (await field.boundingBox())!;
  const eb = (await error.boundingBox())!;
  expect(eb.y - (fb.y + fb.height)).toBeLessThan(40);
  expect(eb.y + eb.height).toBeLessThanOrEqual(PHONE.height);
  await shots(page, 'join-mistyped');
  await expectAccessible(page, 'devices: join, mistyped word');

  // the right words (four letters each are enough)
  await field.fill(words.map((w) => w.slice(0, 4)).join(' '));
  await expect(field).toHaveAttribute('aria-invalid', 'false');
  await page.getByRole('button', { name: 'Join', exact: true }).tap();
  await expect(page.locator('.done')).toHaveText('Paired with Laptop. It is in the list of paired devices.');
  const hubId = (await api<Identity>(hub, hubToken, 'GET', '/mesh')).nodeId;
  const otherId = (await api<Identity>(other, otherToken, 'GET', '/mesh')).nodeId;
  await expect(page.locator(`li.peer[data-node="${otherId}"]`)).toContainText('Laptop');
  expect((await peersOf(hub, hubToken)).map((p) => p.nodeId)).toEqual([otherId]);
  expect((await peersOf(other, otherToken)).map((p) => [p.nodeId, p.name])).toEqual([[hubId, 'Kitchen hub']]);
  await expect(page.locator(`li.peer[data-node="${otherId}"]`)).toContainText('Connected', { timeout: 45_000 });
  await expect(page.locator(`li.peer[data-node="${otherId}"]`)).toContainText(/seen (just now|1 minute ago)/);
  await shot(page, 'paired-by-words');

  // the same invitation again: used
  await field.fill(inv.code);
  await page.getByRole('button', { name: 'Join', exact: true }).tap();
  await expect(page.locator('#join-error')).toContainText('This invitation was used already');
  await expect(field).toBeFocused();

  await api(hub, hubToken, 'DELETE', `/mesh/peers/${otherId}`);
  await expect.poll(async () => (await peersOf(other, otherToken)).length, { timeout: 15_000 }).toBe(0);
});

test('join by scanning: the fake camera shows the other node’s QR code and the screen joins with it', async () => {
  const inv = await api<InvitationAnswer>(other, otherToken, 'POST', '/mesh/invitations', {});
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-e2e-cam-'));
  const video = path.join(dir, 'qr.y4m');
  qrY4m(inv.code, video);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...BASE_ARGS, '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${video}`],
  });
  try {
    const ctx = await browser.newContext({ viewport: PHONE, hasTouch: true, isMobile: true, serviceWorkers: 'block' });
    const p = await ctx.newPage();
    await openDevices(p);
    await p.getByRole('button', { name: /^Join/ }).tap();
    // hold the scan at "looking" long enough to photograph it: the join request waits until the photo is taken
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    await p.route('**/api/mesh/join', async (route) => {
      await held;
      await route.continue();
    });
    await p.getByRole('button', { name: 'Scan a QR code' }).tap();
    await expect(p.getByText('Found an invitation. Connecting to the other device…')).toBeVisible();
    await shot(p, 'scan-connecting');
    await expectAccessible(p, 'devices: scanned, connecting');
    release();
    await expect(p.locator('.done')).toHaveText('Paired with Laptop. It is in the list of paired devices.');
    const otherId = (await api<Identity>(other, otherToken, 'GET', '/mesh')).nodeId;
    await expect(p.locator(`li.peer[data-node="${otherId}"]`)).toContainText('Laptop');
    expect((await peersOf(other, otherToken)).map((x) => x.name)).toEqual(['Kitchen hub']);
    // the camera was released
    expect(await p.locator('#scan-video').count()).toBe(0);
    await shot(p, 'paired-by-scan');

    await api(hub, hubToken, 'DELETE', `/mesh/peers/${otherId}`);
    await ctx.close();
  } finally {
    await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the camera refused, a QR code that is not an invitation, no camera: messages in plain words that say what to do', async () => {
  // a camera exists (fake device) but this site may not use it
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, '--use-fake-device-for-media-stream'] });
  try {
    const ctx = await browser.newContext({ viewport: PHONE, hasTouch: true, isMobile: true, serviceWorkers: 'block' });
    const p = await ctx.newPage();
    await openDevices(p);
    await p.getByRole('button', { name: /^Join/ }).tap();
    await p.getByRole('button', { name: 'Scan a QR code' }).tap();
    const msg = p.locator('#scan-error');
    await expect(msg).toContainText('The camera is blocked for this page.');
    await expect(msg).toContainText('allow the camera in the browser’s site settings');
    await expect(msg).toContainText('type the words instead');
    await expect(p.getByRole('button', { name: 'Scan a QR code' })).toBeFocused();
    await shot(p, 'camera-refused');
    await expectAccessible(p, 'devices: camera refused');
    await ctx.close();
  } finally {
    await browser.close();
  }
  // a QR code that is something else: said plainly, and the camera keeps looking until stopped
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-e2e-cam-'));
  const video = path.join(dir, 'menu.y4m');
  qrY4m('HTTPS://EXAMPLE.COM/MENU', video);
  const cam = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...BASE_ARGS, '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${video}`],
  });
  try {
    const ctx = await cam.newContext({ viewport: PHONE, hasTouch: true, isMobile: true, serviceWorkers: 'block' });
    const p = await ctx.newPage();
    let joins = 0;
    p.on('request', (r) => void (r.url().endsWith('/api/mesh/join') && joins++));
    await openDevices(p);
    await p.getByRole('button', { name: /^Join/ }).tap();
    await p.getByRole('button', { name: 'Scan a QR code' }).tap();
    await expect(p.locator('#scan-error')).toHaveText('That QR code is not a Fazt invitation. Scan the code shown on the other device’s Devices screen.');
    await expect(p.getByText('Looking for a QR code…')).toBeVisible();
    await expect(p.locator('#scan-video')).toBeVisible();
    await shot(p, 'scan-not-an-invitation');
    await expectAccessible(p, 'devices: scanning');
    await p.getByRole('button', { name: 'Stop the camera' }).tap();
    await expect(p.locator('#scan-video')).toHaveCount(0);
    await expect(p.locator('#scan-error')).toBeEmpty();
    expect(joins, 'no join was tried with a code that is not an invitation').toBe(0);
    await ctx.close();
  } finally {
    await cam.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  // no camera at all
  const bare = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, '--use-fake-ui-for-media-stream'] });
  try {
    const ctx = await bare.newContext({ viewport: PHONE, hasTouch: true, isMobile: true, serviceWorkers: 'block' });
    const p = await ctx.newPage();
    await openDevices(p);
    await p.getByRole('button', { name: /^Join/ }).tap();
    await p.getByRole('button', { name: 'Scan a QR code' }).tap();
    await expect(p.locator('#scan-error')).toContainText('Type the words or the code instead.');
    await shot(p, 'camera-missing');
    await ctx.close();
  } finally {
    await bare.close();
  }
});

test.describe('on this device (the browser node in the service worker)', () => {
  test.use({ serviceWorkers: 'allow' });

  test('the same screen acts on the browser node: its own id, an invitation without an address said plainly, and it joins the hub by its words', async ({ browser }) => {
    const ctx = await browser.newContext({ viewport: PHONE, hasTouch: true, isMobile: true, serviceWorkers: 'allow' });
    try {
      const p = await ctx.newPage();
      await p.goto(`${hub.origin}/`);
      await p.waitForFunction(() => !!navigator.serviceWorker.controller, null, { timeout: 60_000 });
      await p.getByRole('button', { name: /Acting on Hub/ }).tap();
      await p.getByRole('group', { name: 'Choose the node to act on' }).getByRole('button', { name: /This device/ }).tap();
      await expect(p.getByRole('button', { name: /^Acting on This device\. Change node$/ })).toBeVisible();
      await p.getByRole('link', { name: 'Devices', exact: true }).tap();
      const device = (await p.evaluate(async () => (await fetch('/~device/api/mesh')).json())) as Identity;
      const hubMe = await api<Identity>(hub, hubToken, 'GET', '/mesh');
      expect(device.nodeId).not.toBe(hubMe.nodeId);
      await expect(p.locator('#node-id')).toHaveText(device.nodeId);

      // the browser node has no address of its own to put in an invitation: the screen says so
      await p.getByRole('button', { name: /^Invite/ }).tap();
      await expect(p.getByRole('img', { name: 'QR code of the invitation' })).toBeVisible();
      await expect(p.locator('.note')).toContainText('carries no network address of This device');
      await shot(p, 'device-invite');
      await expectAccessible(p, 'devices on this device: invite');

      // it joins the hub with the hub's words
      const inv = await api<InvitationAnswer>(hub, hubToken, 'POST', '/mesh/invitations', {});
      await p.getByRole('button', { name: /^Join/ }).tap();
      await p.getByLabel('The 12 words or the code').fill(inv.words);
      await p.getByRole('button', { name: 'Join', exact: true }).tap();
      await expect(p.locator('.done')).toHaveText('Paired with Kitchen hub. It is in the list of paired devices.');
      await expect(p.locator(`li.peer[data-node="${hubMe.nodeId}"]`)).toContainText('Kitchen hub');
      expect((await peersOf(hub, hubToken)).map((x) => x.nodeId)).toEqual([device.nodeId]);
      await shot(p, 'device-paired');
      await expectAccessible(p, 'devices on this device: paired');
      await api(hub, hubToken, 'DELETE', `/mesh/peers/${device.nodeId}`);
    } finally {
      await ctx.close();
    }
  });
});

test.describe('sound', () => {
  test('listen: the fake microphone plays the other node’s invitation (fazt mesh invite --chirp) and the screen joins with it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-e2e-mic-'));
    const wav = path.join(dir, 'invitation.wav');
    const made = await runCli(['mesh', 'invite', '--node', other.origin, '--token', otherToken, '--chirp', wav, '--json']);
    expect(made.code, made.stderr).toBe(0);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [...BASE_ARGS, '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`],
    });
    try {
      const ctx = await browser.newContext({ viewport: PHONE, hasTouch: true, isMobile: true, serviceWorkers: 'block' });
      const p = await ctx.newPage();
      await openDevices(p);
      await p.getByRole('button', { name: /^Join/ }).tap();
      // hold the join until the listening state is photographed
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      await p.route('**/api/mesh/join', async (route) => {
        await held;
        await route.continue();
      });
      await p.getByRole('button', { name: 'Listen', exact: true }).tap();
      await expect(p.getByText('Listening… Now tap Play sound on the other device')).toBeVisible();
      await expect.poll(() => p.locator('#level').evaluate((m) => (m as HTMLMeterElement).value), { timeout: 15_000 }).toBeGreaterThan(0.005);
      await shot(p, 'listening');
      await expectAccessible(p, 'devices: listening');
      await expect(p.getByText('Heard an invitation. Connecting to the other device…')).toBeVisible({ timeout: 30_000 });
      release();
      await expect(p.locator('.done')).toHaveText('Paired with Laptop. It is in the list of paired devices.');
      const otherId = (await api<Identity>(other, otherToken, 'GET', '/mesh')).nodeId;
      await expect(p.locator(`li.peer[data-node="${otherId}"]`)).toContainText('Laptop');
      expect((await peersOf(other, otherToken)).map((x) => x.name)).toEqual(['Kitchen hub']);
      await shot(p, 'paired-by-sound');
      await api(hub, hubToken, 'DELETE', `/mesh/peers/${otherId}`);
      await ctx.close();
    } finally {
      await browser.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('play: the sound handed to the speaker is exactly the invitation shown (decoded by fazt chirp decode)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-e2e-play-'));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: BASE_ARGS });
    try {
      const ctx = await browser.newContext({ viewport: PHONE, hasTouch: true, isMobile: true, serviceWorkers: 'block' });
      // headless Chromium's speaker cannot be recorded: keep a copy of every buffer the page starts playing
      await ctx.addInitScript(() => {
        const start = AudioBufferSourceNode.prototype.start;
        (globalThis as { __played?: number[][] }).__played = [];
        AudioBufferSourceNode.prototype.start = function (...args: Parameters<typeof start>) {
          if (this.buffer) (globalThis as unknown as { __played: number[][] }).__played.push(Array.from(this.buffer.getChannelData(0)));
          return start.apply(this, args);
        };
      });
      const p = await ctx.newPage();
      await openDevices(p);
      const answer = p.waitForResponse((r) => r.url().endsWith('/api/mesh/invitations') && r.request().method() === 'POST');
      await p.getByRole('button', { name: /^Invite/ }).tap();
      const inv = (await (await answer).json()) as InvitationAnswer;
      await p.getByRole('button', { name: 'Play sound' }).tap();
      await expect(p.getByText('Playing the invitation as sound…')).toBeVisible();
      await expect(p.getByRole('button', { name: 'Stop the sound' })).toBeVisible();
      await shot(p, 'playing');
      await expectAccessible(p, 'devices: playing');
      await expect(p.getByText(/^Played \(\d+\.\d s\)\./)).toBeVisible({ timeout: 30_000 });
      await expect(p.locator('#play-error')).toBeEmpty();
      const played = await p.evaluate(() => (globalThis as unknown as { __played: number[][] }).__played);
      expect(played).toHaveLength(1);
      const w = new wavefile.WaveFile();
      w.fromScratch(1, 48_000, '32f', Float32Array.from(played[0]!));
      const f = path.join(dir, 'played.wav');
      fs.writeFileSync(f, w.toBuffer());
      const dec = await runCli(['chirp', 'decode', f, '--json']);
      expect(dec.code, dec.stderr).toBe(0);
      expect(JSON.parse(dec.stdout)).toEqual({ text: inv.code });
      await ctx.close();
    } finally {
      await browser.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the microphone refused: a message in plain words next to Listen, which gets the focus', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, '--use-fake-device-for-media-stream', '--deny-permission-prompts'] });
    try {
      const ctx = await browser.newContext({ viewport: PHONE, hasTouch: true, isMobile: true, serviceWorkers: 'block' });
      const p = await ctx.newPage();
      await openDevices(p);
      await p.getByRole('button', { name: /^Join/ }).tap();
      await p.getByRole('button', { name: 'Listen', exact: true }).tap();
      const msg = p.locator('#listen-error');
      await expect(msg).toContainText('The microphone is blocked for this page.');
      await expect(msg).toContainText('use the QR code or the words');
      await expect(msg).toHaveAttribute('aria-live', 'assertive');
      await expect(p.getByRole('button', { name: 'Listen', exact: true })).toBeFocused();
      await shot(p, 'microphone-refused');
      await expectAccessible(p, 'devices: microphone refused');
      await ctx.close();
    } finally {
      await browser.close();
    }
  });
});
