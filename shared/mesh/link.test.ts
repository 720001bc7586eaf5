/**
 * The authenticated peer link (docs/mesh.md "The link") over an in-memory ordered transport with a
 * hostile middle: paired nodes open it and exchange JSON and bytes; strangers, unpaired and impostor
 * nodes are refused; tampered, replayed, dropped and reordered frames end the link.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import initSqlJs from 'sql.js';
import { openCartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import { SqlJsDatabase } from '../sql/sqljs.js';
import { SecretStore } from '../storage/secrets.js';
import { MeshIdentity } from './identity.js';
import { HANDSHAKE_TIMEOUT_MS, PeerLink, type LinkTransport } from './link.js';
import { Pairing } from './pairing.js';
import { PeerStore } from './peers.js';

const SQL = await initSqlJs();

function makeNode(name: string) {
  const cart = openCartridge(SqlJsDatabase.open(SQL));
  const secrets = new SecretStore(cart);
  const identity = new MeshIdentity(cart, secrets, name);
  const peers = new PeerStore(cart);
  return { cart, identity, peers, pairing: new Pairing(cart, identity, secrets, peers) };
}
type Node = ReturnType<typeof makeNode>;

function pair(a: Node, b: Node): void {
  const j = b.pairing.join(a.pairing.createInvitation().invitation);
  j.complete(a.pairing.accept(j.request).response);
}

type Wire = string | Uint8Array;
/** What the middle does with a message going one way: pass it, change it, or drop it. */
type Middle = (m: Wire, index: number) => Wire[];

/** Two PeerLinks on a pipe whose messages are delivered asynchronously, in order, through `middle`. */
function connect(a: Node, b: Node, opts: { middle?: Middle; to?: string } = {}) {
  const log = { a: [] as unknown[], b: [] as unknown[], aClosed: undefined as FaztError | undefined | null, bClosed: undefined as FaztError | undefined | null, aOpen: '', bOpen: '' };
  let linkA!: PeerLink;
  let linkB!: PeerLink;
  let closed = false;
  let n = 0;
  const deliver = (to: () => PeerLink, m: Wire, viaMiddle: boolean) => {
    const out = viaMiddle && opts.middle ? opts.middle(m, n++) : [m];
    for (const x of out) queueMicrotask(() => !closed && to().receive(x));
  };
  const ta: LinkTransport = { send: (m) => deliver(() => linkB, m, true), close: () => void (closed = true) };
  const tb: LinkTransport = { send: (m) => deliver(() => linkA, m, false), close: () => void (closed = true) };
  linkA = new PeerLink(a.identity, a.peers, ta, { onOpen: (id) => (log.aOpen = id), onMessage: (m) => log.a.push(m), onClose: (e) => (log.aClosed = e ?? null) }, opts.to ?? b.identity.nodeId());
  linkB = new PeerLink(b.identity, b.peers, tb, { onOpen: (id) => (log.bOpen = id), onMessage: (m) => log.b.push(m), onClose: (e) => (log.bClosed = e ?? null) });
  return { linkA, linkB, log };
}

const settle = () => new Promise((r) => setTimeout(r, 10));

afterEach(() => {
  vi.useRealTimers();
});

describe('the peer link', () => {
  it('opens between paired nodes and carries JSON and bytes both ways, in order', async () => {
    const a = makeNode('pi');
    const b = makeNode('phone');
    pair(a, b);
    const { linkA, linkB, log } = connect(a, b);
    linkA.start();
    await settle();
    expect(log.aOpen).toBe(b.identity.nodeId());
    expect(log.bOpen).toBe(a.identity.nodeId());
    for (let i = 0; i < 50; i++) linkA.send({ i, text: 'ünïcødé' });
    linkB.sendBytes(new Uint8Array([1, 2, 3]));
    linkB.send(null);
    await settle();
    expect(log.b).toEqual(Array.from({ length: 50 }, (_, i) => ({ i, text: 'ünïcødé' })));
    expect(log.a).toEqual([new Uint8Array([1, 2, 3]), null]);
    expect(b.peers.get(a.identity.nodeId())!.lastSeen).not.toBeNull();
    linkA.close();
    expect(log.aClosed).toBeNull();
  });

  it('a node that is not paired (never, or unpaired since) is refused by the other side', async () => {
    const a = makeNode('pi');
    const b = makeNode('phone');
    pair(a, b);
    b.peers.remove(a.identity.nodeId()); // b unpaired a; a still lists b
    const { linkA, log } = connect(a, b);
    linkA.start();
    await settle();
    expect(log.bClosed?.code).toBe('NOT_PAIRED');
    expect(log.aOpen).toBe('');
    const stranger = makeNode('stranger');
    expect(() => new PeerLink(stranger.identity, stranger.peers, { send() {}, close() {} }, {}, a.identity.nodeId()).start()).toThrow(/not paired/);
  });

  it('an impostor claiming a paired node id cannot prove its key', async () => {
    const a = makeNode('pi');
    const b = makeNode('phone');
    const mallory = makeNode('mallory');
    pair(a, b);
    // mallory speaks to b directly, claiming to be a, and signs the confirm with her own key
    const { x25519 } = await import('@noble/curves/ed25519.js');
    const { b64u, fromB64u } = await import('./identity.js');
    const { transcript } = await import('./pairing.js');
    const sent: string[] = [];
    let closed: FaztError | undefined;
    let opened = '';
    const linkB = new PeerLink(b.identity, b.peers, { send: (m) => void sent.push(m as string), close() {} }, { onClose: (e) => (closed = e), onOpen: (id) => (opened = id) });
    const eph = x25519.utils.randomSecretKey();
    const ephPub = x25519.getPublicKey(eph);
    const nonce = crypto.getRandomValues(new Uint8Array(16));
    const aId = a.identity.nodeId();
    linkB.receive(JSON.stringify({ t: 'hello', v: 1, from: aId, to: b.identity.nodeId(), eph: b64u(ephPub), nonce: b64u(nonce) }));
    const accept = JSON.parse(sent[0]!);
    const ti = transcript('fazt/link/v1/initiator', aId, b.identity.nodeId(), ephPub, fromB64u(accept.eph, 'eph', 32), nonce);
    linkB.receive(JSON.stringify({ t: 'confirm', v: 1, sig: b64u(mallory.identity.sign(ti)) }));
    expect(closed?.code).toBe('PAIRING_FAILED');
    expect(closed?.message).toMatch(/did not prove its paired key/);
    expect(opened).toBe('');
    expect(linkB.open).toBe(false);
  });

  it('an initiator that rewrites its id is refused by its own check of the answer', async () => {
    const a = makeNode('pi');
    const b = makeNode('phone');
    const mallory = makeNode('mallory');
    pair(a, b);
    pair(mallory, b);
    const aId = a.identity.nodeId();
    const { linkA: linkM, log } = connect(mallory, b, {
      middle: (m) => [typeof m === 'string' ? m.replace(mallory.identity.nodeId(), aId) : m],
    });
    linkM.start();
    await settle();
    expect(log.aClosed?.code).toBe('PAIRING_FAILED');
    expect(log.bOpen).toBe('');
  });

  it('a responder that is not who the initiator asked for is refused', async () => {
    const a = makeNode('pi');
    const b = makeNode('phone');
    const c = makeNode('laptop');
    pair(a, b);
    pair(a, c);
    pair(c, b);
    // a wants b, but c answers: c's hello goes to c... simulate by a asking for c while talking to b
    const { linkA, log } = connect(a, b, { to: c.identity.nodeId() });
    linkA.start();
    await settle();
    expect(log.bClosed?.message).toMatch(/addressed to another node/);
    expect(log.aOpen).toBe('');
  });

  for (const [what, delivered, middle] of [
    ['tampered', 3, (m: Wire, i: number) => [i === 5 && m instanceof Uint8Array ? (m[m.length - 1]! ^= 1, m) : m]],
    ['replayed', 4, (m: Wire, i: number) => (i === 5 ? [m, m] : [m])],
    ['dropped', 3, (m: Wire, i: number) => (i === 5 ? [] : [m])],
    ['reordered', 3, (() => {
      let held: Wire | undefined;
      return (m: Wire, i: number) => {
        if (i === 5) {
          held = m;
          return [];
        }
        if (i === 6) return [m, held!];
        return [m];
      };
    })()],
  ] as [string, number, Middle][]) {
    it(`a ${what} frame ends the link; nothing after it is delivered`, async () => {
      const a = makeNode('pi');
      const b = makeNode('phone');
      pair(a, b);
      const { linkA, log } = connect(a, b, { middle });
      linkA.start(); // messages 0 (hello), 1 (confirm) pass through the middle
      await settle();
      for (let i = 0; i < 10; i++) {
        if (linkA.open) linkA.send({ i }); // frames are middle messages 2..11; message 5 is frame 3
      }
      await settle();
      expect(log.bClosed?.code).toBe('PAIRING_FAILED');
      // frames 0–2 pass; frame 3 is the one the middle touched (a replay delivers it once, then again)
      expect(log.b).toEqual(Array.from({ length: delivered }, (_, i) => ({ i })));
    });
  }

  it('garbage and out-of-step handshake messages end the link with a reason', async () => {
    const a = makeNode('pi');
    const b = makeNode('phone');
    pair(a, b);
    for (const junk of ['not json', '{"t":"confirm","v":1}', JSON.stringify({ t: 'hello', v: 9 }), 'x'.repeat(5000), new Uint8Array(40)]) {
      const log: (FaztError | undefined)[] = [];
      const link = new PeerLink(b.identity, b.peers, { send() {}, close() {} }, { onClose: (e) => log.push(e) });
      link.receive(junk);
      expect(log[0]).toBeInstanceOf(FaztError);
      expect(log[0]!.message).toMatch(/Peer link refused/);
    }
  });

  it('a handshake that never completes times out', async () => {
    vi.useFakeTimers();
    const a = makeNode('pi');
    const b = makeNode('phone');
    pair(a, b);
    let closed: FaztError | undefined;
    const link = new PeerLink(a.identity, a.peers, { send() {}, close() {} }, { onClose: (e) => (closed = e) }, b.identity.nodeId());
    link.start();
    vi.advanceTimersByTime(HANDSHAKE_TIMEOUT_MS + 1);
    expect(closed?.code).toBe('PEER_UNREACHABLE');
  });
});
