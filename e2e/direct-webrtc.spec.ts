/**
 * The compact session codec between real Chromium and real libdatachannel (docs/mesh.md "Pairing
 * with no reachable server"): Chromium's RTCPeerConnection offer, compacted to bytes and rebuilt, is
 * answered by the headless node's direct connector (node-datachannel), whose compact answer Chromium
 * accepts; and the other way round (the node offers, Chromium answers). A data channel opens and
 * messages cross both ways. No signaling server: the compact bytes are all that passes.
 *
 * The page has the microphone (fake device), so Chromium hands out its real host addresses rather
 * than mDNS names. The machine needs a network interface other than loopback: libdatachannel
 * (libjuice) gathers no loopback candidates, so in a loopback-only network namespace the node has
 * nothing to offer (it says so: PEER_UNREACHABLE, "only loopback").
 */
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { decodeSession, encodeSession, sessionFromSdp, sessionToSdp, type DirectChannel } from '../shared/mesh/index.js';
import { NodeDirectConnector } from '../node/mesh-direct.js';

const quiet = { info() {}, warn() {}, error() {} };
let browser: Browser;
let page: Page;

test.beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--allow-loopback-in-peer-connection', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
  });
  const context = await browser.newContext();
  await context.grantPermissions(['microphone']);
  page = await context.newPage();
  // a secure context for getUserMedia; nothing is served, the page only runs WebRTC
  await page.route('https://fazt.test/', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>direct</title>' }));
  await page.goto('https://fazt.test/');
  await page.evaluate(async () => {
    const s = await navigator.mediaDevices.getUserMedia({ audio: true });
    s.getTracks().forEach((t) => t.stop());
  });
});

test.afterAll(async () => {
  await browser?.close();
});

/** A message from the node's side of the channel. */
const nextMessage = (c: DirectChannel) => new Promise<string>((r) => c.onMessage((m) => r(typeof m === 'string' ? m : new TextDecoder().decode(m as Uint8Array))));

test('Chromium offers, the node answers: both accept the rebuilt descriptions and a data channel opens', async () => {
  const offerSdp = await page.evaluate(async () => {
    const pc = new RTCPeerConnection({ iceServers: [] });
    const dc = pc.createDataChannel('fazt');
    const w = window as unknown as Record<string, unknown>;
    w.pc = pc;
    w.got = new Promise<string>((r) => (dc.onmessage = (e) => r(String(e.data))));
    w.open = new Promise<void>((r) => (dc.onopen = () => r()));
    w.dc = dc;
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise<void>((r) => (pc.iceGatheringState === 'complete' ? r() : pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r())));
    return pc.localDescription!.sdp;
  });
  const offerBytes = encodeSession(sessionFromSdp(offerSdp));
  console.log(`Chromium offer: ${offerSdp.length} characters of SDP → ${offerBytes.length} bytes (${sessionFromSdp(offerSdp).candidates.map((c) => c.address).join(', ')})`);
  const answer = await new NodeDirectConnector(quiet).answer(decodeSession(offerBytes).session, Date.now() + 60_000);
  try {
    const answerBytes = encodeSession(answer.session);
    await page.evaluate(async (sdp) => {
      const pc = (window as unknown as { pc: RTCPeerConnection }).pc;
      await pc.setRemoteDescription({ type: 'answer', sdp });
    }, sessionToSdp(decodeSession(answerBytes).session, 'answer'));
    const channel = await answer.channel;
    await page.evaluate(() => (window as unknown as { open: Promise<void> }).open);
    const fromPage = nextMessage(channel);
    await page.evaluate(() => (window as unknown as { dc: RTCDataChannel }).dc.send('hello from Chromium'));
    expect(await fromPage).toBe('hello from Chromium');
    channel.send('hello from the node');
    expect(await page.evaluate(() => (window as unknown as { got: Promise<string> }).got)).toBe('hello from the node');
    channel.close();
  } finally {
    answer.cancel();
  }
});

test('the node offers, Chromium answers: both accept the rebuilt descriptions and a data channel opens', async () => {
  const offer = await new NodeDirectConnector(quiet).offer();
  try {
    const offerSdp = sessionToSdp(decodeSession(encodeSession(offer.session)).session, 'offer', { candidates: false });
    const answerSdp = await page.evaluate(async (sdp) => {
      const pc = new RTCPeerConnection({ iceServers: [] });
      const w = window as unknown as Record<string, unknown>;
      w.pc2 = pc;
      w.channel2 = new Promise<RTCDataChannel>((r) => (pc.ondatachannel = (e) => r(e.channel)));
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await new Promise<void>((r) => (pc.iceGatheringState === 'complete' ? r() : pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && r())));
      return pc.localDescription!.sdp;
    }, offerSdp);
    const answerBytes = encodeSession(sessionFromSdp(answerSdp));
    console.log(`Chromium answer: ${answerSdp.length} characters of SDP → ${answerBytes.length} bytes`);
    const channel = await offer.connect(decodeSession(answerBytes).session, 20_000);
    const fromPage = nextMessage(channel);
    await page.evaluate(async () => {
      const dc = await (window as unknown as { channel2: Promise<RTCDataChannel> }).channel2;
      if (dc.readyState !== 'open') await new Promise((r) => (dc.onopen = r));
      dc.send('answered by Chromium');
    });
    expect(await fromPage).toBe('answered by Chromium');
    channel.close();
  } finally {
    offer.cancel();
  }
});
