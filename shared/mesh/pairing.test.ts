/**
 * Node identity and the pairing handshake (docs/mesh.md "Identity", "Pairing") on both SQLite
 * drivers: two real cartridges, the real crypto, every refusal of the bad-input list.
 */
import { describe, expect, it } from 'vitest';
import { openCartridge, type Cartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import { drivers } from '../testing/drivers.js';
import { SecretStore } from '../storage/secrets.js';
import { MeshIdentity, b64u, nodeIdOf, fromB64u } from './identity.js';
import { locatorOf, MAX_PROOF_FAILURES, Pairing, type JoinRequest } from './pairing.js';
import type { CompactSession } from './compact-sdp.js';
import { PeerStore } from './peers.js';
import { decodeAnswer, encodeAnswer, invitationFromCode, invitationFromWords } from './invitation.js';

function expectFazt(fn: () => unknown, code: string, message?: RegExp): FaztError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FaztError);
    expect((e as FaztError).code).toBe(code);
    if (message) expect((e as FaztError).message).toMatch(message);
    return e as FaztError;
  }
  throw new Error(`expected FaztError ${code}`);
}

interface TestNode {
  cart: Cartridge;
  identity: MeshIdentity;
  peers: PeerStore;
  pairing: Pairing;
  setNow(ms: number): void;
}

for (const d of drivers) {
  describe(`mesh identity and pairing on ${d.name}`, () => {
    async function node(name: string, key?: Uint8Array): Promise<TestNode> {
      let now = 1_700_000_000_000;
      const cart = openCartridge(await d.open(), { clock: { now: () => now } });
      const secrets = new SecretStore(cart, { key });
      const identity = new MeshIdentity(cart, secrets, name);
      const peers = new PeerStore(cart);
      return { cart, identity, peers, pairing: new Pairing(cart, identity, secrets, peers), setNow: (ms) => (now = ms) };
    }

    it('an identity is made once, its id comes from its key, its name can change and its id cannot', async () => {
      const a = await node('kitchen pi');
      const id = a.identity.ensure();
      expect(id.name).toBe('kitchen pi');
      expect(id.nodeId).toBe(nodeIdOf(fromB64u(id.publicKey, 'k', 32)));
      expect(id.nodeId).toMatch(/^[a-z2-7]{16}$/);
      expect(a.identity.ensure()).toEqual(id);
      const renamed = a.identity.rename('  hall pi ');
      expect(renamed).toEqual({ ...id, name: 'hall pi' });
      expect(new MeshIdentity(a.cart, new SecretStore(a.cart), 'other').ensure()).toEqual(renamed);
      expectFazt(() => a.identity.rename(''), 'INVALID_ARGUMENT', /empty/);
      expectFazt(() => a.identity.rename('x'.repeat(65)), 'INVALID_ARGUMENT', /64/);
      expectFazt(() => a.identity.rename('a\u0085b'), 'INVALID_ARGUMENT', /control/);
    });

    it('the private key is sealed in the cartridge; under another host key it cannot be used', async () => {
      const key = crypto.getRandomValues(new Uint8Array(32));
      const a = await node('a', key);
      a.identity.ensure();
      const stored = a.cart.db.get<{ value: string }>("SELECT value FROM cartridge_meta WHERE key = 'mesh.private_key'")!.value;
      expect(stored.length).toBeGreaterThan(60); // nonce + 32-byte key + tag, not the bare key
      const sig = a.identity.sign(new Uint8Array([1, 2, 3]));
      expect(sig.length).toBe(64);
      const moved = new MeshIdentity(a.cart, new SecretStore(a.cart, { key: new Uint8Array(32).fill(7) }));
      expect(moved.ensure().nodeId).toBe(a.identity.nodeId()); // the public half is readable
      expectFazt(() => moved.sign(new Uint8Array([1])), 'INTERNAL', /FAZT_SECRET_KEY/);
    });

    it('pairs by code and by words: each side lists the other with key, name and writer id', async () => {
      for (const carrier of ['code', 'words'] as const) {
        const a = await node('pi');
        const b = await node('phone');
        const inv = a.pairing.createInvitation({ addresses: [{ host: '192.168.1.20', port: 8080 }] });
        expect(inv.expiresAt).toBe(1_700_000_600_000);
        const invitation = carrier === 'code' ? invitationFromCode(inv.code) : invitationFromWords(inv.words);
        const j = b.pairing.join(invitation);
        const { response, peer } = a.pairing.accept(JSON.parse(JSON.stringify(j.request)));
        expect(peer).toMatchObject({ nodeId: b.identity.nodeId(), name: 'phone', writerId: b.cart.nodeId });
        const back = j.complete(JSON.parse(JSON.stringify(response)), 'http://192.168.1.20:8080');
        expect(back).toMatchObject({ nodeId: a.identity.nodeId(), name: 'pi', writerId: a.cart.nodeId, addresses: ['http://192.168.1.20:8080'] });
        expect(a.peers.list().map((p) => p.nodeId)).toEqual([b.identity.nodeId()]);
        expect(b.peers.list().map((p) => p.publicKey)).toEqual([a.identity.ensure().publicKey]);
        // unpairing forgets the other side
        expect(b.peers.remove(a.identity.nodeId())).toBe(true);
        expect(b.peers.list()).toEqual([]);
      }
    });

    it('an invitation is single-use: the same join replayed, or another joiner, is refused', async () => {
      const a = await node('pi');
      const b = await node('phone');
      const c = await node('laptop');
      const inv = a.pairing.createInvitation();
      const j = b.pairing.join(inv.invitation);
      a.pairing.accept(j.request);
      expectFazt(() => a.pairing.accept(j.request), 'INVITATION_USED', /work once/);
      expectFazt(() => a.pairing.accept(c.pairing.join(inv.invitation).request), 'INVITATION_USED');
      expect(a.peers.list()).toHaveLength(1);
    });

    it('an expired invitation is refused, an unknown one too', async () => {
      const a = await node('pi');
      const b = await node('phone');
      const inv = a.pairing.createInvitation({ ttlMs: 60_000 });
      a.setNow(1_700_000_000_000 + 61_000);
      expectFazt(() => a.pairing.accept(b.pairing.join(inv.invitation).request), 'INVITATION_EXPIRED', /expired/);
      const other = await node('elsewhere');
      expectFazt(() => a.pairing.accept(b.pairing.join(other.pairing.createInvitation().invitation).request), 'INVALID_INVITATION', /no such invitation/);
      expectFazt(() => a.pairing.createInvitation({ ttlMs: 2 * 3600_000 }), 'INVALID_ARGUMENT', /1 hour/);
    });

    it('a tampered join is refused, and after five the invitation is withdrawn', async () => {
      const a = await node('pi');
      const b = await node('phone');
      const inv = a.pairing.createInvitation();
      const good = b.pairing.join(inv.invitation).request;
      const tampered: JoinRequest[] = [
        { ...good, name: 'evil twin' }, // breaks the proof and the signature
        { ...good, writerId: 'ffffffffffffffff' },
        { ...good, proof: b64u(crypto.getRandomValues(new Uint8Array(32))) },
        { ...good, signature: b64u(b.identity.sign(new Uint8Array([1]))) }, // right proof, wrong signature
        { ...good, nonce: b64u(crypto.getRandomValues(new Uint8Array(16))) },
      ];
      for (const t of tampered) expectFazt(() => a.pairing.accept(t), 'PAIRING_FAILED');
      // a key that is not the node id's
      const c = await node('laptop');
      expectFazt(() => a.pairing.accept({ ...good, publicKey: c.identity.ensure().publicKey }), 'PAIRING_FAILED', /does not match its key/);
      // the fifth wrong proof withdrew it: even the genuine join fails now
      expect(tampered.length).toBe(MAX_PROOF_FAILURES);
      expectFazt(() => a.pairing.accept(good), 'INVITATION_USED');
      expect(a.peers.list()).toEqual([]);
    });

    it('malformed messages get BAD_REQUEST, a node cannot pair with itself', async () => {
      const a = await node('pi');
      for (const body of [null, 'x', {}, { v: 2 }, { v: 1, locator: 5 }]) expectFazt(() => a.pairing.accept(body), 'BAD_REQUEST');
      const good = (await node('phone')).pairing.join(a.pairing.createInvitation().invitation).request;
      expectFazt(() => a.pairing.accept({ ...good, nonce: 'not*base64' }), 'BAD_REQUEST', /malformed/);
      const inv = a.pairing.createInvitation();
      expectFazt(() => a.pairing.accept(a.pairing.join(inv.invitation).request), 'PAIRING_FAILED', /itself/);
    });

    it('the joiner refuses an answer from another node, or a forged or tampered one', async () => {
      const a = await node('pi');
      const b = await node('phone');
      const mallory = await node('mallory');
      const inv = a.pairing.createInvitation();
      const j = b.pairing.join(inv.invitation);
      const { response } = a.pairing.accept(j.request);
      // mallory answers in a's place with her own key
      const mInv = mallory.pairing.createInvitation();
      const forged = mallory.pairing.accept(b.pairing.join({ ...mInv.invitation }).request).response;
      expectFazt(() => j.complete(forged), 'PAIRING_FAILED', /not the one that made the invitation/);
      // from words (no inviter id): mallory's key passes the id check but not the proof
      const jw = b.pairing.join({ secret: inv.invitation.secret, addresses: [] });
      expectFazt(() => jw.complete(forged), 'PAIRING_FAILED', /could not prove/);
      expectFazt(() => j.complete({ ...response, name: 'pi!' }), 'PAIRING_FAILED', /could not prove/);
      expectFazt(() => j.complete({ ...response, signature: forged.signature }), 'PAIRING_FAILED', /signature/);
      expectFazt(() => j.complete({ ...response, v: 2 }), 'PAIRING_FAILED', /another version/);
      expectFazt(() => j.complete('<html>'), 'PAIRING_FAILED');
      expect(b.peers.list()).toEqual([]); // nothing was paired by a refused answer
      expect(j.complete(response).name).toBe('pi');
      expect(b.peers.list().map((p) => p.name)).toEqual(['pi']);
    });

    it('keeps at most eight live invitations: a ninth withdraws the oldest', async () => {
      const a = await node('pi');
      const b = await node('phone');
      const invs = Array.from({ length: 9 }, () => a.pairing.createInvitation());
      expectFazt(() => a.pairing.accept(b.pairing.join(invs[0]!.invitation).request), 'INVITATION_USED');
      expect(a.pairing.accept(b.pairing.join(invs[8]!.invitation).request).peer.name).toBe('phone');
      expect(a.pairing.withdrawAll()).toBe(7);
    });

    it('direct invitations: the answer code is tied to the invitation and the joiner; expiry, single use and five wrong tags hold', async () => {
      const pi = await node('pi');
      const phone = await node('phone');
      const offer: CompactSession = { setup: 'actpass', ufrag: 'abcd', pwd: 'p'.repeat(22), fingerprint: new Uint8Array(32).fill(1), mid: '0', candidates: [{ address: '192.168.1.20', port: 5000 }] };
      const answerSession: CompactSession = { ...offer, setup: 'active', ufrag: 'wxyz', candidates: [{ address: '192.168.1.30', port: 6000 }] };
      const inv = pi.pairing.createInvitation({ offer, addresses: [] });
      const decoded = invitationFromCode(inv.code);
      expect(decoded.offer).toEqual(offer);
      const code = phone.pairing.answerCode(decoded, answerSession);
      const read = pi.pairing.readAnswer(code);
      expect(read).toMatchObject({ joinerId: phone.identity.nodeId(), session: answerSession, expiresAt: inv.expiresAt });
      // the join on the channel is the HTTP one, and must come from the node the answer named
      const stranger = await node('stranger');
      const j = stranger.pairing.join(decoded);
      expectFazt(() => pi.pairing.accept(j.request, { joinerId: read.joinerId }), 'PAIRING_FAILED', /not the one the answer named/);
      const ok = phone.pairing.join(decoded);
      const { response } = pi.pairing.accept(ok.request, { joinerId: read.joinerId });
      expect(ok.complete(response).nodeId).toBe(pi.identity.nodeId());
      expectFazt(() => pi.pairing.readAnswer(code), 'INVITATION_USED');
      // expiry
      const late = pi.pairing.createInvitation({ offer, addresses: [], ttlMs: 10_000 });
      const lateCode = phone.pairing.answerCode(invitationFromCode(late.code), answerSession);
      pi.setNow(late.expiresAt + 1);
      expectFazt(() => pi.pairing.readAnswer(lateCode), 'INVITATION_EXPIRED');
      pi.setNow(1_700_000_000_000);
      // an answer made with another secret (a forged tag), five times: the invitation is withdrawn
      const inv2 = pi.pairing.createInvitation({ offer, addresses: [] });
      const d2 = invitationFromCode(inv2.code);
      const forged = phone.pairing.answerCode({ ...d2, secret: d2.secret.map((b, i) => (i === 0 ? b ^ 1 : b)) }, answerSession);
      expectFazt(() => pi.pairing.readAnswer(forged), 'INVALID_INVITATION', /no invitation this answer belongs to/); // another secret, another locator
      const a = decodeAnswer(phone.pairing.answerCode(d2, answerSession));
      for (let k = 0; k < MAX_PROOF_FAILURES; k++) {
        expectFazt(() => pi.pairing.readAnswer(encodeAnswer({ ...a, tag: a.tag.map((b, i) => (i === k ? b ^ 0x80 : b)) })), 'PAIRING_FAILED', /tag is wrong/);
      }
      expectFazt(() => pi.pairing.readAnswer(encodeAnswer(a)), 'INVITATION_USED');
      // withdraw
      const inv3 = pi.pairing.createInvitation({ offer, addresses: [] });
      expect(pi.pairing.withdraw(locatorOf(invitationFromCode(inv3.code).secret), 'test')).toBe(true);
      expectFazt(() => pi.pairing.readAnswer(phone.pairing.answerCode(invitationFromCode(inv3.code), answerSession)), 'INVITATION_USED');
    });
  });
}
