import type { Cartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import { fromB64u, isNodeId, nodeIdOf } from './identity.js';

/** A paired node, as this node knows it (table `mesh_peers`, local). */
export interface PeerRecord {
  /** The peer's node id (derived from {@link publicKey}). */
  nodeId: string;
  /** The peer's name when it was last heard from. */
  name: string;
  /** Its Ed25519 public key, base64url: every later message from it is checked against this. */
  publicKey: string;
  /** Its cartridge's writer id (`node_id` of the rows it writes, the HLC tie-break). */
  writerId: string;
  /** Base URLs it was last reached at (`http://192.168.1.20:8080`), best first. */
  addresses: string[];
  /** When the pairing was made, ms since epoch. */
  pairedAt: number;
  /** When it was last heard from, ms since epoch; `null` if never since pairing. */
  lastSeen: number | null;
}

interface Row {
  node_id: string;
  name: string;
  public_key: string;
  writer_id: string;
  addresses: string;
  paired_at: number;
  last_seen: number | null;
}

const toRecord = (r: Row): PeerRecord => ({
  nodeId: r.node_id,
  name: r.name,
  publicKey: r.public_key,
  writerId: r.writer_id,
  addresses: safeList(r.addresses),
  pairedAt: r.paired_at,
  lastSeen: r.last_seen,
});

function safeList(json: string): string[] {
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** Most addresses kept per peer. */
const MAX_ADDRESSES = 8;

/** The paired nodes. A removed (unpaired) node is forgotten: it is refused like a stranger. */
export class PeerStore {
  constructor(private readonly cart: Cartridge) {}

  /** Every paired node, by name. */
  list(): PeerRecord[] {
    return this.cart.db.query<Row>('SELECT * FROM mesh_peers ORDER BY name, node_id').map(toRecord);
  }

  /** One paired node, or `undefined`. */
  get(nodeId: string): PeerRecord | undefined {
    const r = this.cart.db.get<Row>('SELECT * FROM mesh_peers WHERE node_id = ?', [String(nodeId).toLowerCase()]);
    return r && toRecord(r);
  }

  /**
   * Adds or refreshes a paired node (pairing again with the same key keeps `pairedAt`).
   * @throws FaztError `INVALID_ARGUMENT` when the node id does not match the public key.
   */
  upsert(p: Omit<PeerRecord, 'pairedAt' | 'lastSeen'> & { pairedAt?: number }): PeerRecord {
    const key = fromB64u(p.publicKey, 'The peer public key', 32);
    if (!isNodeId(p.nodeId) || nodeIdOf(key) !== p.nodeId) throw new FaztError('INVALID_ARGUMENT', "The peer's node id does not match its public key.");
    const now = this.cart.clock.now();
    this.cart.db.run(
      `INSERT INTO mesh_peers (node_id, name, public_key, writer_id, addresses, paired_at, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(node_id) DO UPDATE SET name = excluded.name, writer_id = excluded.writer_id, addresses = excluded.addresses, last_seen = excluded.last_seen`,
      [p.nodeId, p.name, p.publicKey, p.writerId, JSON.stringify(p.addresses.slice(0, MAX_ADDRESSES)), p.pairedAt ?? now, now],
    );
    return this.get(p.nodeId)!;
  }

  /** Records that the peer was heard from now (and, when given, at which address). */
  touch(nodeId: string, address?: string): void {
    const p = this.get(nodeId);
    if (!p) return;
    const addresses = address ? [address, ...p.addresses.filter((a) => a !== address)].slice(0, MAX_ADDRESSES) : p.addresses;
    this.cart.db.run('UPDATE mesh_peers SET last_seen = ?, addresses = ? WHERE node_id = ?', [this.cart.clock.now(), JSON.stringify(addresses), p.nodeId]);
  }

  /** Records the name a peer announced (1–64 characters; anything else is ignored). */
  setName(nodeId: string, name: string): void {
    const n = String(name).trim();
    if (!n || [...n].length > 64) return;
    this.cart.db.run('UPDATE mesh_peers SET name = ? WHERE node_id = ? AND name <> ?', [n, nodeId, n]);
  }

  /**
   * Unpairs a node: it is forgotten, and refused from now on.
   * @returns true when it was paired.
   */
  remove(nodeId: string): boolean {
    return this.cart.db.run('DELETE FROM mesh_peers WHERE node_id = ?', [String(nodeId).toLowerCase()]).changes > 0;
  }
}
