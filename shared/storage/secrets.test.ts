import { faztError as fazt } from '../testing/errors.js';
import { describe, expect, it } from 'vitest';
import { drivers } from '../testing/drivers.js';
import { getMeta, openCartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import { SecretStore, SECRET_KEY_META } from './secrets.js';


const bytesContain = (hay: Uint8Array, needle: Uint8Array): boolean => {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
};

for (const d of drivers) {
  describe(`SecretStore on ${d.name}`, () => {
    async function setup() {
      let now = 1_000;
      const db = await d.open();
      const cart = openCartridge(db, { clock: { now: () => now } });
      return { db, cart, setNow: (n: number) => (now = n) };
    }

    it('round-trips values, lists names without values, replaces and deletes', async () => {
      const { cart, setNow } = await setup();
      const s = new SecretStore(cart);
      expect(s.all('app')).toEqual({});
      s.set('app', 'API_KEY', 'sk-live-123');
      setNow(2_000);
      s.set('app', '_private', 'ünïcødé ✓ 😀');
      s.set('app', 'EMPTY', '');
      expect(s.all('app')).toEqual({ API_KEY: 'sk-live-123', _private: 'ünïcødé ✓ 😀', EMPTY: '' });
      expect(s.names('app')).toEqual([
        { name: 'API_KEY', updatedAt: 1_000 },
        { name: 'EMPTY', updatedAt: 2_000 },
        { name: '_private', updatedAt: 2_000 },
      ]);
      setNow(3_000);
      s.set('app', 'API_KEY', 'sk-live-456');
      expect(s.all('app').API_KEY).toBe('sk-live-456');
      expect(s.names('app')[0]).toEqual({ name: 'API_KEY', updatedAt: 3_000 });
      expect(s.delete('app', 'API_KEY')).toBe(true);
      expect(s.delete('app', 'API_KEY')).toBe(false);
      expect(s.delete('app', 'NEVER_SET')).toBe(false);
      expect(Object.keys(s.all('app'))).toEqual(['EMPTY', '_private']);
      s.set('app', 'API_KEY', 'back');
      expect(s.all('app').API_KEY).toBe('back');
    });

    it('stores only ciphertext: the plaintext is nowhere in the row, tombstones drop it', async () => {
      const { db, cart } = await setup();
      const s = new SecretStore(cart);
      const secret = 'correct horse battery staple';
      s.set('app', 'PASSWORD', secret);
      const row = db.get<{ ciphertext: Uint8Array; nonce: Uint8Array; hlc: string; node_id: string }>(
        'SELECT ciphertext, nonce, hlc, node_id FROM app_secrets WHERE app_id = ? AND name = ?',
        ['app', 'PASSWORD'],
      )!;
      const plain = new TextEncoder().encode(secret);
      expect(row.nonce.length).toBe(12);
      expect(row.ciphertext.length).toBe(plain.length + 16); // GCM tag
      expect(bytesContain(row.ciphertext, plain)).toBe(false);
      expect(bytesContain(row.ciphertext, plain.subarray(0, 8))).toBe(false);
      expect(row.node_id).toBe(cart.nodeId);
      // no text column or dump shows it either
      const dump = JSON.stringify(db.query('SELECT * FROM app_secrets'), (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v));
      expect(dump).not.toContain(secret);
      // the same value twice gives different ciphertexts (random nonce)
      s.set('app', 'PASSWORD2', secret);
      const row2 = db.get<{ ciphertext: Uint8Array }>('SELECT ciphertext FROM app_secrets WHERE name = ?', ['PASSWORD2'])!;
      expect(Array.from(row2.ciphertext)).not.toEqual(Array.from(row.ciphertext));
      s.delete('app', 'PASSWORD');
      const tomb = db.get<{ ciphertext: Uint8Array; deleted: number; hlc: string }>('SELECT ciphertext, deleted, hlc FROM app_secrets WHERE name = ?', ['PASSWORD'])!;
      expect(tomb.deleted).toBe(1);
      expect(tomb.ciphertext.length).toBe(0);
      expect(tomb.hlc > row.hlc).toBe(true);
    });

    it('generates one key per cartridge, lazily, and a second store on the same cartridge reads it', async () => {
      const { cart } = await setup();
      const s = new SecretStore(cart);
      s.all('app'); // no secrets: no key needed yet
      expect(getMeta(cart.db, SECRET_KEY_META)).toBeUndefined();
      s.set('app', 'A', '1');
      const hex = getMeta(cart.db, SECRET_KEY_META)!;
      expect(hex).toMatch(/^[0-9a-f]{64}$/);
      expect(new SecretStore(cart).all('app')).toEqual({ A: '1' });
      expect(getMeta(cart.db, SECRET_KEY_META)).toBe(hex);
    });

    it('uses a given host key, and the wrong key fails with the clear error', async () => {
      const { cart } = await setup();
      const hostKey = crypto.getRandomValues(new Uint8Array(32));
      const s = new SecretStore(cart, { key: hostKey });
      s.set('blog', 'TOKEN', 'abc');
      expect(getMeta(cart.db, SECRET_KEY_META)).toBeUndefined(); // a host key is never written to the cartridge
      expect(new SecretStore(cart, { key: hostKey.slice() }).all('blog')).toEqual({ TOKEN: 'abc' });
      // moved without the key: the cartridge's own (generated) key is not the host key
      const e1 = fazt(() => new SecretStore(cart).all('blog'));
      expect(e1.code).toBe('INTERNAL');
      expect(e1.message).toContain('secret TOKEN of app blog cannot be decrypted: was the cartridge moved without FAZT_SECRET_KEY?');
      const other = crypto.getRandomValues(new Uint8Array(32));
      expect(fazt(() => new SecretStore(cart, { key: other }).all('blog')).code).toBe('INTERNAL');
      // names stay readable without the key
      expect(new SecretStore(cart, { key: other }).names('blog').map((n) => n.name)).toEqual(['TOKEN']);
      expect(fazt(() => new SecretStore(cart, { key: new Uint8Array(16) })).code).toBe('INVALID_ARGUMENT');
    });

    it('a ciphertext moved to another app or another name does not decrypt (AAD binds app and name)', async () => {
      const { db, cart } = await setup();
      const s = new SecretStore(cart);
      s.set('app1', 'KEY', 'one');
      s.set('app2', 'KEY', 'two');
      s.set('app1', 'OTHER', 'other');
      const copy = (fromApp: string, fromName: string, toApp: string, toName: string) => {
        const r = db.get<{ ciphertext: Uint8Array; nonce: Uint8Array }>('SELECT ciphertext, nonce FROM app_secrets WHERE app_id = ? AND name = ?', [fromApp, fromName])!;
        db.run('UPDATE app_secrets SET ciphertext = ?, nonce = ? WHERE app_id = ? AND name = ?', [
          new Uint8Array(r.ciphertext),
          new Uint8Array(r.nonce),
          toApp,
          toName,
        ]);
      };
      copy('app1', 'KEY', 'app2', 'KEY');
      const e = fazt(() => s.all('app2'));
      expect(e.code).toBe('INTERNAL');
      expect(e.message).toContain('secret KEY of app app2');
      expect(s.all('app1')).toEqual({ KEY: 'one', OTHER: 'other' });
      copy('app1', 'KEY', 'app1', 'OTHER');
      expect(fazt(() => s.all('app1')).message).toContain('secret OTHER of app app1');
    });

    it('isolates apps', async () => {
      const { cart } = await setup();
      const s = new SecretStore(cart);
      s.set('app1', 'TOKEN', 'for-1');
      s.set('app2', 'TOKEN', 'for-2');
      s.set('app2', 'ONLY_2', 'x');
      expect(s.all('app1')).toEqual({ TOKEN: 'for-1' });
      expect(s.all('app2')).toEqual({ ONLY_2: 'x', TOKEN: 'for-2' });
      expect(s.names('app1').map((n) => n.name)).toEqual(['TOKEN']);
      expect(s.delete('app1', 'ONLY_2')).toBe(false);
      s.delete('app1', 'TOKEN');
      expect(s.all('app2').TOKEN).toBe('for-2');
    });

    it('validates names and sizes', async () => {
      const { cart } = await setup();
      const s = new SecretStore(cart);
      for (const bad of ['', '1ABC', 'A-B', 'A B', 'É', 'A'.repeat(65), 'a.b']) {
        expect(fazt(() => s.set('app', bad, 'v')).code, bad).toBe('INVALID_ARGUMENT');
      }
      s.set('app', 'A'.repeat(64), 'ok');
      s.set('app', '_', 'ok');
      s.set('app', 'MAX', 'x'.repeat(64 * 1024));
      expect(s.all('app').MAX!.length).toBe(64 * 1024);
      expect(fazt(() => s.set('app', 'BIG', 'x'.repeat(64 * 1024 + 1))).code).toBe('LIMIT_EXCEEDED');
      expect(fazt(() => s.set('app', 'BIG', 'é'.repeat(32 * 1024 + 1))).code).toBe('LIMIT_EXCEEDED'); // bytes, not characters
      expect(fazt(() => s.set('app', 'N', 42 as unknown as string)).code).toBe('INVALID_ARGUMENT');
      expect(fazt(() => s.delete('app', 'bad name')).code).toBe('INVALID_ARGUMENT');
    });

    it('a secret named __proto__ is an ordinary entry of all()', async () => {
      const { cart } = await setup();
      const s = new SecretStore(cart);
      s.set('app', '__proto__', 'sneaky');
      const env = s.all('app');
      expect(Object.getPrototypeOf(env)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(env, '__proto__')?.value).toBe('sneaky');
    });
  });
}
