import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { base32nopad, base64urlnopad } from '@scure/base';
import { getMeta, setMeta, type Cartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';

/**
 * A node's identity in the mesh (docs/mesh.md, "Identity"): an Ed25519 key pair (RFC 8032) created
 * with the cartridge and kept in it, so copying or backing up the cartridge keeps the identity.
 *
 * - The **node id** is derived from the public key: the first 10 bytes of its SHA-256, in lower-case
 *   RFC 4648 base32 (16 characters, e.g. `k7q2m4xa9c3vb5tn`). It never changes; a peer presenting a
 *   key whose id differs from what was paired is refused.
 * - The **name** is the owner's label for the node ("kitchen pi"); editable.
 * - The private key is stored sealed (AES-256-GCM) with the same key as the apps' secrets
 *   (`SecretStore.seal`), in `cartridge_meta` (a local table: identity never replicates).
 *
 * Not to be confused with the cartridge's writer id (`Cartridge.nodeId`, the `node_id` column of
 * replicated rows and the tie-break of HLC stamps): a peer announces it in the authenticated pairing
 * handshake, and the peer record keeps both.
 */

/** What the mesh shows of a node. */
export interface NodeIdentity {
  /** 16 lower-case base32 characters derived from the public key (see {@link nodeIdOf}). */
  nodeId: string;
  /** Owner-given name, 1–64 characters. */
  name: string;
  /** The Ed25519 public key, 32 bytes, base64url without padding. */
  publicKey: string;
}

/** Seals and opens node-level secrets at rest (implemented by `SecretStore`). */
export interface Sealer {
  /** Encrypts `plain` bound to `purpose`. @returns opaque bytes. */
  seal(purpose: string, plain: Uint8Array): Uint8Array;
  /**
   * Decrypts what {@link seal} returned for the same purpose.
   * @throws FaztError when the bytes were tampered with or sealed under another key.
   */
  open(purpose: string, sealed: Uint8Array): Uint8Array;
}

/** Bytes of the public key hash that make a node id. */
export const NODE_ID_BYTES = 10;
/** `cartridge_meta` keys. */
const META_PUBLIC = 'mesh.public_key';
const META_PRIVATE = 'mesh.private_key';
const META_NAME = 'mesh.name';
const SEAL_PURPOSE = 'mesh.identity';
/** Longest node name, characters. */
export const MAX_NODE_NAME = 64;

/** The node id of an Ed25519 public key (32 bytes). */
export function nodeIdOf(publicKey: Uint8Array): string {
  return base32nopad.encode(nodeIdBytes(publicKey)).toLowerCase();
}

/** The raw 10 bytes behind a node id (carried by invitations). */
export function nodeIdBytes(publicKey: Uint8Array): Uint8Array {
  return sha256(publicKey).slice(0, NODE_ID_BYTES);
}

/** Node id ↔ its raw bytes. @throws FaztError `INVALID_ARGUMENT` for a string that is not a node id. */
export function nodeIdFromBytes(bytes: Uint8Array): string {
  if (bytes.length !== NODE_ID_BYTES) throw new FaztError('INVALID_ARGUMENT', `A node id is ${NODE_ID_BYTES} bytes, not ${bytes.length}.`);
  return base32nopad.encode(bytes).toLowerCase();
}

/** True for a well-formed node id (16 base32 characters, any case). */
export function isNodeId(s: unknown): s is string {
  return typeof s === 'string' && /^[a-z2-7]{16}$/i.test(s);
}

/**
 * Checks and normalises a node name: trimmed, 1–{@link MAX_NODE_NAME} characters, no control characters.
 * @throws FaztError `INVALID_ARGUMENT` naming what is wrong.
 */
export function normalizeNodeName(name: unknown): string {
  if (typeof name !== 'string') throw new FaztError('INVALID_ARGUMENT', 'A node name must be text.');
  const n = name.trim();
  if (!n) throw new FaztError('INVALID_ARGUMENT', 'A node name cannot be empty.');
  if ([...n].length > MAX_NODE_NAME) throw new FaztError('INVALID_ARGUMENT', `A node name has at most ${MAX_NODE_NAME} characters.`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(n)) throw new FaztError('INVALID_ARGUMENT', 'A node name cannot contain control characters.');
  return n;
}

/** Verifies an Ed25519 signature (RFC 8032 §5.1.7). Never throws: malformed input is `false`. */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return signature.length === 64 && publicKey.length === 32 && ed25519.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}

/** base64url (RFC 4648 §5, no padding) of bytes. */
export const b64u = (b: Uint8Array): string => base64urlnopad.encode(b);

/**
 * Decodes base64url without padding, checking the length.
 * @throws FaztError `INVALID_ARGUMENT` naming `what`.
 */
export function fromB64u(s: unknown, what: string, bytes?: number): Uint8Array {
  let out: Uint8Array;
  try {
    if (typeof s !== 'string') throw new Error('not text');
    out = base64urlnopad.decode(s);
  } catch {
    throw new FaztError('INVALID_ARGUMENT', `${what} is not base64url.`);
  }
  if (bytes !== undefined && out.length !== bytes) throw new FaztError('INVALID_ARGUMENT', `${what} must be ${bytes} bytes, not ${out.length}.`);
  return out;
}

/**
 * The node's identity, created on first use and kept in the cartridge. Reads are cached; the
 * private key is opened once per process.
 */
export class MeshIdentity {
  private secret: Uint8Array | undefined;
  private publicKey_: Uint8Array | undefined;

  /**
   * @param cart the open cartridge.
   * @param sealer seals the private key (the kernel's `SecretStore`).
   * @param defaultName the name given to a new identity (e.g. the host name); default `fazt node`.
   */
  constructor(
    private readonly cart: Cartridge,
    private readonly sealer: Sealer,
    private readonly defaultName = 'fazt node',
  ) {}

  /**
   * Creates the key pair when the cartridge has none (a new cartridge, or one from before the mesh).
   * Safe against another connection doing the same: the first stored key pair wins.
   * @returns the identity.
   * @throws FaztError `CARTRIDGE_CORRUPT` when a stored key is malformed; `INTERNAL` when the private
   *   key cannot be opened (the cartridge was moved without its `FAZT_SECRET_KEY`).
   */
  ensure(): NodeIdentity {
    if (!this.publicKey_) {
      const db = this.cart.db;
      if (getMeta(db, META_PUBLIC) === undefined) {
        const secret = ed25519.utils.randomSecretKey();
        const pub = ed25519.getPublicKey(secret);
        const sealed = this.sealer.seal(SEAL_PURPOSE, secret);
        db.transaction(() => {
          if (getMeta(db, META_PUBLIC) !== undefined) return;
          setMeta(db, META_PUBLIC, b64u(pub));
          setMeta(db, META_PRIVATE, b64u(sealed));
          if (getMeta(db, META_NAME) === undefined) setMeta(db, META_NAME, normalizeNodeName(this.defaultName));
        });
      }
      const stored = getMeta(db, META_PUBLIC)!;
      let pub: Uint8Array;
      try {
        pub = fromB64u(stored, 'The stored public key', 32);
      } catch {
        throw new FaztError('CARTRIDGE_CORRUPT', `The cartridge's node public key (cartridge_meta "${META_PUBLIC}") is malformed.`);
      }
      this.publicKey_ = pub;
    }
    return { nodeId: nodeIdOf(this.publicKey_), name: this.name(), publicKey: b64u(this.publicKey_) };
  }

  /** The public key, 32 bytes. */
  publicKey(): Uint8Array {
    this.ensure();
    return this.publicKey_!;
  }

  /** This node's id. */
  nodeId(): string {
    return nodeIdOf(this.publicKey());
  }

  /** The node's name. */
  name(): string {
    return getMeta(this.cart.db, META_NAME) ?? this.defaultName;
  }

  /**
   * Renames the node (its id never changes).
   * @throws FaztError `INVALID_ARGUMENT` for a bad name (see {@link normalizeNodeName}).
   */
  rename(name: unknown): NodeIdentity {
    setMeta(this.cart.db, META_NAME, normalizeNodeName(name));
    return this.ensure();
  }

  /**
   * Signs a message with the node's private key (Ed25519, RFC 8032 §5.1.6).
   * @returns the 64-byte signature.
   */
  sign(message: Uint8Array): Uint8Array {
    return ed25519.sign(message, this.privateKey());
  }

  private privateKey(): Uint8Array {
    if (this.secret) return this.secret;
    this.ensure();
    const sealed = fromB64u(getMeta(this.cart.db, META_PRIVATE), 'The stored private key');
    const secret = this.sealer.open(SEAL_PURPOSE, sealed);
    if (secret.length !== 32 || b64u(ed25519.getPublicKey(secret)) !== b64u(this.publicKey_!)) {
      throw new FaztError('CARTRIDGE_CORRUPT', "The cartridge's node private key does not match its public key.");
    }
    this.secret = secret;
    return secret;
  }
}
