/**
 * Direct pairing with real parts, in one process: two mesh services on real cartridges, each with the
 * headless node's WebRTC (node-datachannel) and no HTTP server or signaling server at all; the
 * invitation's offer and the answer code are the only things that pass between them. Also: real
 * offers and answers from libdatachannel survive the compact codec, and a joiner's answer brought
 * back after libjuice's 39.5 s timer still connects.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeSession, encodeSession, invitationFromCode, MeshService, openCartridge, sessionFromSdp, sessionToSdp, type Logger } from '../shared/index.js';
import { SecretStore } from '../shared/storage/index.js';
import { NodeDirectConnector } from './mesh-direct.js';
import { BetterSqliteDatabase } from './sqlite.js';
import { removeTempDirs, tempDir } from './test-helpers.js';

const quiet: Logger = { info() {}, warn() {}, error() {} };

interface Node {
  mesh: MeshService;
  close(): void;
}

function node(name: string): Node {
  const cart = openCartridge(BetterSqliteDatabase.open(join(tempDir('fazt-direct-'), 'data.db')));
  const mesh = new MeshService(cart, new SecretStore(cart), quiet, name);
  mesh.setDirectConnector(new NodeDirectConnector(quiet));
  return {
    mesh,
    close() {
      mesh.closeAll();
      cart.db.close();
    },
  };
}

const nodes: Node[] = [];
afterAll(() => {
  for (const n of nodes) n.close();
  removeTempDirs();
});

const waitFor = async (what: string, cond: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('real libdatachannel session descriptions through the compact codec', () => {
  it('an offer and an answer, compacted and rebuilt on both sides, connect a data channel', async () => {
    const { default: ndc } = (await import('node-datachannel')) as unknown as { default: typeof import('node-datachannel') };
    const a = new ndc.PeerConnection('a', { iceServers: [] });
    const b = new ndc.PeerConnection('b', { iceServers: [] });
    try {
      const gathered = (pc: InstanceType<typeof ndc.PeerConnection>) =>
        new Promise<void>((r) => (pc.gatheringState() === 'complete' ? r() : pc.onGatheringStateChange((s) => s === 'complete' && r())));
      const dc = a.createDataChannel('x');
      await gathered(a);
      const offerBytes = encodeSession(sessionFromSdp(a.localDescription()!.sdp));
      console.log(`libdatachannel offer: ${a.localDescription()!.sdp.length} characters of SDP → ${offerBytes.length} bytes`);
      b.setRemoteDescription(sessionToSdp(decodeSession(offerBytes).session, 'offer', { candidates: false }), 'offer');
      await gathered(b);
      const answerBytes = encodeSession(sessionFromSdp(b.localDescription()!.sdp));
      console.log(`libdatachannel answer: ${b.localDescription()!.sdp.length} characters → ${answerBytes.length} bytes`);
      const got = new Promise<string>((r) => b.onDataChannel((d) => d.onMessage((m) => r(String(m)))));
      a.setRemoteDescription(sessionToSdp(decodeSession(answerBytes).session, 'answer'), 'answer');
      await new Promise<void>((r) => dc.onOpen(() => r()));
      dc.sendMessage('hello');
      expect(await got).toBe('hello');
    } finally {
      a.close();
      b.close();
    }
  }, 20_000);
});

describe('direct pairing with no server', () => {
  it('invitation with offer → answer code → paired, linked, authenticated pings both ways', async () => {
    const pi = node('pi');
    const phone = node('phone');
    nodes.push(pi, phone);
    const t0 = performance.now();
    const inv = await pi.mesh.inviteDirect({ addresses: [] });
    const bytes = Math.floor(((inv.code.length - 3) * 5) / 8);
    expect(bytes).toBeLessThanOrEqual(140);
    expect(invitationFromCode(inv.code).offer).toBeDefined();
    const j = await phone.mesh.joinDirect(inv.code);
    expect(j.answer).toMatch(/^FZA[A-Z2-7]+$/);
    expect(j.inviterId).toBe(pi.mesh.id().nodeId);
    console.log(`direct invitation: ${bytes} bytes (${inv.code.length} characters); answer: ${Math.floor(((j.answer.length - 3) * 5) / 8)} bytes (${j.answer.length} characters)`);
    const peer = await pi.mesh.acceptAnswer(j.answer);
    expect(peer).toMatchObject({ nodeId: phone.mesh.id().nodeId, name: 'phone' });
    expect(await j.done).toMatchObject({ nodeId: pi.mesh.id().nodeId, name: 'pi', addresses: [] });
    await waitFor('the link on both sides', () => pi.mesh.connected(phone.mesh.id().nodeId) && phone.mesh.connected(pi.mesh.id().nodeId));
    expect(await phone.mesh.ping(pi.mesh.id().nodeId)).toBeGreaterThan(0);
    expect(await pi.mesh.ping(phone.mesh.id().nodeId)).toBeGreaterThan(0);
    console.log(`direct: invitation → first authenticated round trip ${(performance.now() - t0).toFixed(0)} ms`);
    // the same answer again: the invitation is spent
    await expect(pi.mesh.acceptAnswer(j.answer)).rejects.toMatchObject({ code: 'INVITATION_USED' });
  }, 30_000);

  it('two answers at once for one offer: one pairs, the other is INVITATION_USED', async () => {
    const pi = node('pi3');
    const a = node('a3');
    const b = node('b3');
    nodes.push(pi, a, b);
    const inv = await pi.mesh.inviteDirect({ addresses: [] });
    const [ja, jb] = await Promise.all([a.mesh.joinDirect(inv.code), b.mesh.joinDirect(inv.code)]);
    const results = await Promise.allSettled([pi.mesh.acceptAnswer(ja.answer), pi.mesh.acceptAnswer(jb.answer)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: 'INVITATION_USED' });
    expect(pi.mesh.status()).toHaveLength(1);
  }, 30_000);

  it('an answer brought back after the joiner’s ICE timer (39.5 s) still connects', async () => {
    const pi = node('pi2');
    const phone = node('phone2');
    nodes.push(pi, phone);
    const inv = await pi.mesh.inviteDirect({ addresses: [] });
    const j = await phone.mesh.joinDirect(inv.code);
    await new Promise((r) => setTimeout(r, 45_000));
    const peer = await pi.mesh.acceptAnswer(j.answer);
    expect(peer.name).toBe('phone2');
    await j.done;
    expect(await phone.mesh.ping(pi.mesh.id().nodeId)).toBeGreaterThan(0);
  }, 70_000);
});

describe('the joiner’s DTLS certificate', () => {
  it('is an X.509 certificate node:crypto parses and whose signature verifies with its own key', async () => {
    const { X509Certificate, createPrivateKey, createPublicKey } = await import('node:crypto');
    const { makeCertificate } = await import('./mesh-direct.js');
    const pem = makeCertificate(Date.UTC(2026, 11, 6));
    const x = new X509Certificate(pem.cert);
    expect(x.subject).toBe('CN=fazt');
    expect(x.validFrom).toBe('Dec  5 00:00:00 2026 GMT');
    expect(x.validTo).toBe('Jan  5 00:00:00 2027 GMT');
    expect(x.verify(x.publicKey)).toBe(true);
    expect(createPublicKey(createPrivateKey(pem.key)).export({ type: 'spki', format: 'der' })).toEqual(x.publicKey.export({ type: 'spki', format: 'der' }));
  });
});
