import { gcm } from '@noble/ciphers/aes.js';
import { FaztError } from '../errors.js';
import { getMeta, setMeta, type Cartridge } from '../cartridge/index.js';

/**
 * Owner-set secrets of an app (API keys, tokens), exposed read-only to the app as `fazt.env`.
 *
 * Each value is encrypted with AES-256-GCM (NIST SP 800-38D; @noble/ciphers) under a random 12-byte
 * nonce, with the additional authenticated data `appId + "\0" + name`: a ciphertext copied to another
 * app or name fails to decrypt instead of leaking there.
 *
 * What this protects, honestly:
 * - With a host key (the Node host derives one from `FAZT_SECRET_KEY`), the cartridge file alone does
 *   not reveal the secrets: someone holding a copy or backup also needs that key.
 * - Without one, a random key is generated once and stored in the cartridge itself
 *   (`cartridge_meta` `secrets.key`). That keeps values out of anything that shows or exports the app
 *   tables (logs, dumps, the admin API, an app's own data) but NOT from someone holding the whole
 *   cartridge file: the key sits next to the ciphertext.
 *
 * Sync: `app_secrets` rows replicate, `cartridge_meta` does not. Nodes that share secrets must be
 * given the same `FAZT_SECRET_KEY`; otherwise a synced secret fails to decrypt on the other node
 * with the error of {@link SecretStore.all}.
 */

/** Options of {@link SecretStore}. */
export interface SecretStoreOptions {
  /**
   * The 32-byte AES-256 key. When absent, a random key is created on first use and kept in the
   * cartridge (`cartridge_meta` `secrets.key`, hex); see the module notes for what that protects.
   */
  key?: Uint8Array;
}

/** A secret's name and last change, without its value. */
export interface SecretName {
  /** Matches {@link SECRET_NAME_PATTERN}. */
  name: string;
  /** Last `set`, ms since epoch. */
  updatedAt: number;
}

/** Names of secrets: a letter or `_`, then up to 63 letters, digits or `_` (like environment variables). */
export const SECRET_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Largest secret value, UTF-8 bytes (64 KiB). */
export const MAX_SECRET_BYTES = 64 * 1024;
/** `cartridge_meta` key of the generated key (hex). */
export const SECRET_KEY_META = 'secrets.key';

const NONCE_BYTES = 12;
const utf8 = new TextEncoder();

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function fromHex(s: string): Uint8Array | undefined {
  if (!/^(?:[0-9a-f]{2})+$/i.test(s)) return undefined;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Encrypted per-app secrets in `app_secrets`. Every method takes the `appId` the kernel resolved.
 */
export class SecretStore {
  private key_: Uint8Array | undefined;

  /**
   * @param cart the open cartridge.
   * @param options the encryption key; see {@link SecretStoreOptions}.
   * @throws FaztError `INVALID_ARGUMENT` when `options.key` is not 32 bytes.
   */
  constructor(
    private readonly cart: Cartridge,
    options: SecretStoreOptions = {},
  ) {
    if (options.key !== undefined) {
      if (!(options.key instanceof Uint8Array) || options.key.length !== 32) {
        throw new FaztError('INVALID_ARGUMENT', `The secrets key must be 32 bytes (AES-256); got ${options.key?.length ?? 0}.`);
      }
      this.key_ = options.key.slice();
    }
  }

  private get db() {
    return this.cart.db;
  }

  /** The AES key: given, stored in the cartridge, or created now and stored. */
  private key(): Uint8Array {
    if (this.key_) return this.key_;
    const stored = getMeta(this.db, SECRET_KEY_META);
    if (stored !== undefined) {
      const k = fromHex(stored);
      if (!k || k.length !== 32) {
        throw new FaztError('CARTRIDGE_CORRUPT', `The cartridge's stored secrets key (cartridge_meta "${SECRET_KEY_META}") is not 32 bytes of hex.`);
      }
      this.key_ = k;
      return k;
    }
    const k = crypto.getRandomValues(new Uint8Array(32));
    this.db.transaction(() => {
      // another connection may have created it first: keep theirs
      if (getMeta(this.db, SECRET_KEY_META) === undefined) setMeta(this.db, SECRET_KEY_META, toHex(k));
    });
    return this.key();
  }

  private static aad(appId: string, name: string): Uint8Array {
    return utf8.encode(`${appId}\u0000${name}`);
  }

  /** @throws FaztError `INVALID_ARGUMENT` when `name` does not match {@link SECRET_NAME_PATTERN}. */
  private static assertName(name: string): void {
    if (typeof name !== 'string' || !SECRET_NAME_PATTERN.test(name)) {
      throw new FaztError(
        'INVALID_ARGUMENT',
        `"${String(name).slice(0, 80)}" is not a valid secret name: use a letter or "_" then up to 63 letters, digits or "_" (like API_KEY).`,
      );
    }
  }

  /**
   * Encrypts a node-level secret (not an app's: e.g. the mesh identity's private key) under the
   * secrets key with AES-256-GCM, bound to `purpose` (additional data `"\0node\0" + purpose`, which no
   * app secret's `appId + "\0" + name` can equal, since app ids never start with NUL).
   * @returns nonce (12 bytes) followed by the ciphertext and tag.
   */
  seal(purpose: string, plain: Uint8Array): Uint8Array {
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const ct = gcm(this.key(), nonce, utf8.encode(`\u0000node\u0000${purpose}`)).encrypt(plain);
    const out = new Uint8Array(NONCE_BYTES + ct.length);
    out.set(nonce);
    out.set(ct, NONCE_BYTES);
    return out;
  }

  /**
   * Decrypts what {@link seal} returned for the same purpose.
   * @throws FaztError `INTERNAL` when it cannot be decrypted (another key: the cartridge was moved
   *   without its `FAZT_SECRET_KEY`; or the bytes were tampered with or sealed for another purpose).
   */
  open(purpose: string, sealed: Uint8Array): Uint8Array {
    try {
      if (sealed.length < NONCE_BYTES + 16) throw new Error('short');
      return gcm(this.key(), sealed.subarray(0, NONCE_BYTES), utf8.encode(`\u0000node\u0000${purpose}`)).decrypt(sealed.subarray(NONCE_BYTES));
    } catch {
      throw new FaztError(
        'INTERNAL',
        `The node's ${purpose} cannot be decrypted: was the cartridge moved without FAZT_SECRET_KEY? Start the node with the same FAZT_SECRET_KEY as where it was created.`,
      );
    }
  }

  /** Counts this store's writes (set, delete): caches of decrypted values compare it. */
  writes = 0;

  /**
   * Sets (creates or replaces) a secret.
   * @param appId the app's id.
   * @param name e.g. `OPENAI_API_KEY`; see {@link SECRET_NAME_PATTERN}.
   * @param value any text up to {@link MAX_SECRET_BYTES} UTF-8 bytes.
   * @throws FaztError `INVALID_ARGUMENT` for a bad name or a non-string value; `LIMIT_EXCEEDED` for a value over 64 KiB.
   */
  set(appId: string, name: string, value: string): void {
    SecretStore.assertName(name);
    this.writes++;
    if (typeof value !== 'string') throw new FaztError('INVALID_ARGUMENT', `The value of secret ${name} must be a string.`);
    const plain = utf8.encode(value);
    if (plain.length > MAX_SECRET_BYTES) {
      throw new FaztError('LIMIT_EXCEEDED', `The value of secret ${name} is ${plain.length} bytes; the limit is ${MAX_SECRET_BYTES} (64 KiB).`);
    }
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const ciphertext = gcm(this.key(), nonce, SecretStore.aad(appId, name)).encrypt(plain);
    this.db.run(
      `INSERT INTO app_secrets (app_id, name, ciphertext, nonce, updated_at, deleted, hlc, node_id) VALUES (?, ?, ?, ?, ?, 0, ?, ?)
       ON CONFLICT(app_id, name) DO UPDATE SET ciphertext = excluded.ciphertext, nonce = excluded.nonce, updated_at = excluded.updated_at,
         deleted = 0, hlc = excluded.hlc, node_id = excluded.node_id`,
      [appId, name, ciphertext, nonce, this.cart.clock.now(), this.cart.hlc.now(), this.cart.nodeId],
    );
  }

  /**
   * Deletes a secret: the row becomes a tombstone (for sync) and its ciphertext is wiped.
   * @returns true when the secret existed.
   * @throws FaztError `INVALID_ARGUMENT` for a bad name.
   */
  delete(appId: string, name: string): boolean {
    SecretStore.assertName(name);
    this.writes++;
    return (
      this.db.run(
        "UPDATE app_secrets SET deleted = 1, ciphertext = X'', nonce = X'', updated_at = ?, hlc = ?, node_id = ? WHERE app_id = ? AND name = ? AND deleted = 0",
        [this.cart.clock.now(), this.cart.hlc.now(), this.cart.nodeId, appId, name],
      ).changes > 0
    );
  }

  /** Names of the app's secrets with their last change, by name; never the values. */
  names(appId: string): SecretName[] {
    return this.db
      .query<{ name: string; updated_at: number }>('SELECT name, updated_at FROM app_secrets WHERE app_id = ? AND deleted = 0 ORDER BY name', [appId])
      .map((r) => ({ name: r.name, updatedAt: r.updated_at }));
  }

  /**
   * Every secret of the app, decrypted: name → value (what the app sees as `fazt.env`).
   * Creates the cartridge key on first use when no key was given.
   * @throws FaztError `INTERNAL` when a value cannot be decrypted (wrong key: the cartridge was moved
   *   or synced without the same `FAZT_SECRET_KEY`; or the row was tampered with or copied from
   *   another app or name).
   */
  all(appId: string): Record<string, string> {
    const rows = this.db.query<{ name: string; ciphertext: Uint8Array; nonce: Uint8Array }>(
      'SELECT name, ciphertext, nonce FROM app_secrets WHERE app_id = ? AND deleted = 0 ORDER BY name',
      [appId],
    );
    if (rows.length === 0) return {};
    const key = this.key();
    const dec = new TextDecoder();
    const entries: [string, string][] = rows.map((r) => {
      let plain: Uint8Array;
      try {
        plain = gcm(key, new Uint8Array(r.nonce), SecretStore.aad(appId, r.name)).decrypt(new Uint8Array(r.ciphertext));
      } catch {
        throw new FaztError(
          'INTERNAL',
          `secret ${r.name} of app ${appId} cannot be decrypted: was the cartridge moved without FAZT_SECRET_KEY? Set the same FAZT_SECRET_KEY as where it was created, or set the secret again.`,
        );
      }
      return [r.name, dec.decode(plain)];
    });
    // fromEntries defines own properties, so a secret named "__proto__" is kept as data
    return Object.fromEntries(entries);
  }
}
