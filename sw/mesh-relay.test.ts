/**
 * The worker side of the browser node's direct pairing (sw/mesh-relay.ts `RelayDirectConnector`):
 * what it does when no dashboard page holds the relay, and when the page leaves mid-request. The
 * page's side with a real RTCPeerConnection is tested in Chromium (e2e/netns/mesh-direct-browser.netns.ts).
 */
import { describe, expect, it } from 'vitest';
import type { CompactSession, Logger } from '../shared/index.js';
import type { WorkerToPage } from './mesh-relay-api.js';
import { MeshRelay } from './mesh-relay.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} } as unknown as Logger;
const offer: CompactSession = {
  setup: 'actpass',
  ufrag: 'abcd',
  pwd: 'abcdefghijklmnopqrstuv',
  fingerprint: new Uint8Array(32).fill(7),
  mid: '0',
  candidates: [{ address: '192.168.1.20', port: 50000 }],
};
const noKernel = { ready: async () => undefined, current: () => undefined };

describe('the browser node’s direct connector', () => {
  it('without a dashboard page holding the relay, a direct join is refused with NOT_READY after 3 s', async () => {
    const relay = new MeshRelay(noKernel, quiet);
    const t0 = Date.now();
    await expect(relay.direct.answer(offer, Date.now() + 60_000)).rejects.toMatchObject({ code: 'NOT_READY', message: expect.stringMatching(/dashboard open/) });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2_900);
    await expect(relay.direct.offer()).rejects.toMatchObject({ code: 'NOT_READY' });
  });

  it('asks the page for an answer to the offer without its candidates; a page that leaves fails the request with PEER_UNREACHABLE', async () => {
    const relay = new MeshRelay(noKernel, quiet);
    const { port1, port2 } = new MessageChannel();
    const seen: WorkerToPage[] = [];
    const asked = new Promise<WorkerToPage>((resolve) => {
      port2.onmessage = (e: MessageEvent<WorkerToPage>) => {
        seen.push(e.data);
        if (e.data.t === 'direct-answer') resolve(e.data);
      };
    });
    relay.connect(port1, 'page-1');
    const pending = relay.direct.answer(offer, Date.now() + 60_000);
    const m = await asked;
    expect(m.t === 'direct-answer' && m.sdp).toMatch(/a=ice-ufrag:abcd\r\n/);
    expect(m.t === 'direct-answer' && m.sdp).not.toMatch(/a=candidate/);
    // another page takes the relay over: the first one's pending request fails
    const other = new MessageChannel();
    relay.connect(other.port1, 'page-2');
    await expect(pending).rejects.toMatchObject({ code: 'PEER_UNREACHABLE', message: expect.stringMatching(/went away/) });
    port2.close();
    other.port2.close();
    expect(seen.some((x) => x.t === 'hello')).toBe(true);
  });

  it('a page that cannot make an answer says why', async () => {
    const relay = new MeshRelay(noKernel, quiet);
    const { port1, port2 } = new MessageChannel();
    port2.onmessage = (e: MessageEvent<WorkerToPage>) => {
      if (e.data.t === 'direct-answer') port2.postMessage({ t: 'direct-sdp', req: e.data.req, error: 'RTCPeerConnection is not defined' });
    };
    relay.connect(port1, 'page-1');
    await expect(relay.direct.answer(offer, Date.now() + 60_000)).rejects.toMatchObject({ code: 'PEER_UNREACHABLE', message: expect.stringMatching(/could not make a WebRTC answer: RTCPeerConnection is not defined/) });
    port2.close();
  });
});
