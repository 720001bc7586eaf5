/**
 * The sync engine: reads this node's changes from the change log as wire rows, and merges a peer's
 * rows into the cartridge (docs/sync-spec.md). Synchronous, over the `SqlDatabase` port, so it runs
 * the same on better-sqlite3 (headless node) and sql.js (browser node). Transport-neutral: see
 * `SyncSession` for the protocol over a message channel.
 */
import type { AppChange } from '../apps/index.js';
import { SYSTEM_EMITTER } from '../events/index.js';
import { getMeta, LOGGED_TABLES, setMeta, type Cartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import type { Logger, Sha256 } from '../ports.js';
import type { SqlValue } from '../sql/index.js';
import type { BlobStore } from '../vfs/blobs.js';
import {
  appOf,
  checkRow,
  SyncRefused,
  type AliasRow,
  type AppRow,
  type BlobRow,
  type ConflictRow,
  type DocField,
  type DocRow,
  type EventRow,
  type HomeRow,
  type KvRow,
  type PermRow,
  type VersionRow,
  type WireBlob,
  type WireRow,
} from './rows.js';
import { descends, MAX_DRIFT_MS, maxStamp, msOf, writerOf, type FieldVersion } from './stamps.js';

/** Most bytes of JSON rows in one batch (S32). */
export const MAX_BATCH_BYTES = 128 * 1024;
/** Most rows in one batch (S32). */
export const MAX_BATCH_ROWS = 500;

/** A batch of the sender's log range `(from, to]` (S32). */
export interface Batch {
  from: number;
  to: number;
  rows: WireRow[];
  /** The sender's log head when it read the batch (for pendingIn, S37). */
  head: number;
}

/** What applying a batch did. */
export interface ApplyResult {
  /** Rows that changed something here. */
  changed: number;
  /** Rows kept waiting for content or a version (S23). */
  waiting: number;
  /** Chunk hashes this node now needs from that peer (S22). */
  needs: string[];
  /** Whether `received` moved (the batch was contiguous, S32/S33). */
  advanced: boolean;
}

/** One conflict as the API and the CLI show it (S13). */
export interface Conflict {
  id: string;
  /** App id. */
  app: string;
  kind: 'kv' | 'doc' | 'blob';
  /** kv key, blob key, or `collection/id.field` for a document field. */
  key: string;
  /** The value applied everywhere (JSON text; `null` = deleted). */
  winner: string | null;
  /** The value that lost (JSON text; `null` = deleted). */
  loser: string | null;
  /** When it was detected, ms since the epoch. */
  at: number;
  /** `winner` or `loser` once the owner resolved it. */
  resolution: 'winner' | 'loser' | null;
}

/** Per-peer bookkeeping (S31). */
export interface PeerSyncState {
  /** Peer writer id. */
  peer: string;
  /** Highest seq of the peer's log applied here. */
  received: number;
  /** Highest seq of this node's log the peer confirmed. */
  acked: number;
  /** The peer's log head as last announced. */
  peerHead: number;
  /** Last batch exchanged, ms since the epoch. */
  lastSyncAt: number | null;
}

/** Dependencies of {@link SyncEngine}. */
export interface SyncEngineDeps {
  /** The kernel's blob store (GC is held while content is in transfer). */
  blobs: BlobStore;
  sha256: () => Sha256;
  logger: Logger;
  /** Called after a committed batch changed an app's live state (S21); the kernel's use-case effects. */
  onAppChanged?: (change: AppChange) => void;
  /** Called after a committed batch moved an app's home node (S17): its cron jobs follow. */
  onHomeChanged?: (appId: string) => void;
  /** Largest lead of a peer stamp over our wall clock, ms (S3). Default {@link MAX_DRIFT_MS}. */
  maxDriftMs?: number;
}

type Json = Record<string, unknown>;
const utf8 = new TextEncoder();

function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Json;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

/**
 * Change capture is done by triggers (migration 6); this class reads and applies. One per cartridge.
 */
export class SyncEngine {
  private readonly maxDrift: number;
  /** Partly received chunks (S22): hash → parts. */
  private readonly incoming = new Map<string, { total: number; buf: Uint8Array; got: number; offs: Set<number> }>();
  private gcHold: (() => void) | undefined;
  private readonly changeListeners = new Set<() => void>();

  constructor(
    readonly cart: Cartridge,
    private readonly deps: SyncEngineDeps,
  ) {
    this.maxDrift = deps.maxDriftMs ?? MAX_DRIFT_MS;
    this.seedClock();
    this.installCapture();
    this.recover();
    this.holdGcIfPending();
  }

  private get db() {
    return this.cart.db;
  }

  /**
   * After a restart the HLC starts from the wall clock; stamps in the cartridge (its own, or a peer's
   * it merged) may be ahead of it. The clock is moved past the newest stored stamp (S1, S2).
   */
  private seedClock(): void {
    let newest: string | null = null;
    for (const t of ['apps', 'app_aliases', 'app_versions', 'app_kv', 'app_docs', 'app_blobs', 'app_permissions', 'events', 'app_homes', 'sync_conflicts']) {
      newest = maxStamp(newest, this.db.get<{ h: string | null }>(`SELECT MAX(hlc) AS h FROM ${t}`)?.h ?? null);
    }
    newest = maxStamp(newest, this.db.get<{ h: string | null }>('SELECT MAX(hlc) AS h FROM sync_doc_fields')?.h ?? null);
    if (newest) this.cart.hlc.seed(newest);
  }

  /**
   * Change capture (S30): TEMP triggers on this connection append `(table, key)` to an in-memory
   * table in the writer's own transaction (rolled back with it); {@link flush} moves them to
   * `sync_log` in batches. A persisted log row per write doubled the cost of a kv write (an extra WAL
   * page per commit); a captured row costs ~1.5 µs.
   */
  private installCapture(): void {
    this.db.exec('CREATE TEMP TABLE IF NOT EXISTS sync_capture (tbl TEXT NOT NULL, k1 TEXT NOT NULL, k2 TEXT, k3 TEXT)');
    for (const t of LOGGED_TABLES) {
      const vals = [0, 1, 2].map((i) => (t.keys[i] ? `NEW.${t.keys[i]}` : 'NULL')).join(', ');
      const body = `BEGIN INSERT INTO sync_capture (tbl, k1, k2, k3) VALUES ('${t.table}', ${vals}); END`;
      this.db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS sync_cap_${t.table}_ai AFTER INSERT ON main.${t.table} ${body}`);
      if (t.update) this.db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS sync_cap_${t.table}_au AFTER UPDATE ON main.${t.table} ${body}`);
    }
  }

  /**
   * Local writes committed but not flushed before a crash (or by another process) carry stamps past
   * the last flush's: they are logged now. A cartridge that never flushed (new, or older than sync)
   * logs every replicated row once.
   */
  private recover(): void {
    const since = getMeta(this.db, 'sync.flushed_hlc') ?? '';
    this.db.transaction(() => {
      for (const t of LOGGED_TABLES) {
        const keys = [0, 1, 2].map((i) => t.keys[i] ?? 'NULL').join(', ');
        this.db.run(`INSERT INTO sync_log (tbl, k1, k2, k3) SELECT '${t.table}', ${keys} FROM ${t.table} WHERE hlc > ? ORDER BY hlc`, [since]);
      }
      this.db.run('DELETE FROM sync_capture');
      setMeta(this.db, 'sync.flushed_hlc', this.cart.hlc.now());
    });
  }

  /** Moves captured changes to `sync_log` (S30). Runs inside the caller's transaction when there is one. */
  flush(): void {
    if (!this.db.get('SELECT 1 AS x FROM sync_capture LIMIT 1')) return;
    this.db.transaction(() => {
      this.db.run('INSERT INTO sync_log (tbl, k1, k2, k3) SELECT tbl, k1, k2, k3 FROM sync_capture ORDER BY rowid');
      this.db.run('DELETE FROM sync_capture');
      setMeta(this.db, 'sync.flushed_hlc', this.cart.hlc.now());
    });
  }

  /** This node's writer id. */
  get writer(): string {
    return this.cart.nodeId;
  }

  /** The newest seq of this node's change log (0 when empty). */
  head(): number {
    this.flush();
    return this.db.get<{ s: number | null }>('SELECT MAX(seq) AS s FROM sync_log')?.s ?? 0;
  }

  /**
   * Moves this node's log head to `seq` when a peer has seen more of our log than we still hold
   * (sync-spec S38): our cartridge lost entries it had told that peer of, e.g. a browser node's image
   * saved before its last writes. Without this our next entries would take numbers the peer already
   * counts as received, and its acks would look malformed. A marker entry (table `-`, which no
   * reader sends) takes the seq, so the numbers after it are new, and our entries past the peer's
   * last confirmation move after it (they may be writes made since the loss); the peer keeps the
   * rows it got.
   * @param peer the peer's writer id (for the log line).
   * @param seq the peer's `received` of our log.
   * @returns how many seqs were skipped (0 when `seq` is not past our head).
   * @see docs/sync-spec.md S38.
   */
  skipPast(peer: string, seq: number): number {
    const head = this.head();
    if (!Number.isSafeInteger(seq) || seq <= head) return 0;
    const { acked } = this.peerState(peer);
    this.db.transaction(() => {
      this.db.run("INSERT INTO sync_log (seq, tbl, k1, k2, k3, src) VALUES (?, '-', '', NULL, NULL, NULL)", [seq]);
      // our entries past what the peer confirmed (as this cartridge knows it) may be writes made
      // after the loss, under numbers the peer counts as received: they move past the marker (the
      // peer may get some rows again, which changes nothing: S33)
      this.db.run('INSERT INTO sync_log (tbl, k1, k2, k3, src) SELECT tbl, k1, k2, k3, src FROM sync_log WHERE seq > ? AND seq <= ? ORDER BY seq', [acked, head]);
      this.db.run('DELETE FROM sync_log WHERE seq > ? AND seq <= ?', [acked, head]);
    });
    this.deps.logger.warn('sync: a peer has seen more of our log than we hold; numbering goes on past it', { peer, ourHead: head, peerReceived: seq });
    return seq - head;
  }

  /** Calls `listener` after every batch that changed something here (for live pushes to other peers). */
  onApplied(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  // ------------------------------------------------------------------ per-peer state (S31)

  /** The bookkeeping of one peer (zeros before the first sync). */
  peerState(peer: string): PeerSyncState {
    const r = this.db.get<{ received: number; acked: number; peer_head: number; last_sync_at: number | null }>(
      'SELECT received, acked, peer_head, last_sync_at FROM sync_peers WHERE peer = ?',
      [peer],
    );
    return { peer, received: r?.received ?? 0, acked: r?.acked ?? 0, peerHead: r?.peer_head ?? 0, lastSyncAt: r?.last_sync_at ?? null };
  }

  /** Every peer this node has synced with. */
  peers(): PeerSyncState[] {
    return this.db.query<{ peer: string }>('SELECT peer FROM sync_peers ORDER BY peer').map((r) => this.peerState(r.peer));
  }

  private touchPeer(peer: string, set: { received?: number; acked?: number; peerHead?: number }): void {
    this.db.run('INSERT OR IGNORE INTO sync_peers (peer) VALUES (?)', [peer]);
    if (set.received !== undefined) this.db.run('UPDATE sync_peers SET received = MAX(received, ?) WHERE peer = ?', [set.received, peer]);
    if (set.acked !== undefined) this.db.run('UPDATE sync_peers SET acked = MAX(acked, ?) WHERE peer = ?', [set.acked, peer]);
    if (set.peerHead !== undefined) this.db.run('UPDATE sync_peers SET peer_head = MAX(peer_head, ?) WHERE peer = ?', [set.peerHead, peer]);
    this.db.run('UPDATE sync_peers SET last_sync_at = ? WHERE peer = ?', [this.cart.clock.now(), peer]);
  }

  /** Records that `peer` confirmed our log up to `to` (S31). */
  acked(peer: string, to: number): void {
    this.touchPeer(peer, { acked: to });
  }

  /** Log entries past the peer's ack that it would be sent (S37). */
  pendingOut(peer: string): number {
    this.flush();
    const acked = this.peerState(peer).acked;
    return this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM sync_log WHERE seq > ? AND (src IS NULL OR src <> ?)', [acked, peer])!.n;
  }

  // ------------------------------------------------------------------ reading changes (S30, S32)

  /** True when the app is kept on this node only (S6). */
  isLocalApp(appId: string): boolean {
    return this.db.get('SELECT 1 AS x FROM sync_local_apps WHERE app_id = ?', [appId]) !== undefined;
  }

  /** Keeps an app on this node only (`true`) or lets it replicate again (S6). */
  setLocalApp(appId: string, local: boolean): void {
    if (local) this.db.run('INSERT OR IGNORE INTO sync_local_apps (app_id) VALUES (?)', [appId]);
    else this.db.run('DELETE FROM sync_local_apps WHERE app_id = ?', [appId]);
  }

  /**
   * The rows of this node's log after `after`, for `peer` (rows it sent us are skipped, S30), at most
   * `maxBytes` of JSON and `maxRows` rows; a row over `maxBytes` travels alone.
   */
  readBatch(peer: string, after: number, maxBytes = MAX_BATCH_BYTES, maxRows = MAX_BATCH_ROWS): Batch {
    const head = this.head();
    const rows: WireRow[] = [];
    let to = after;
    let bytes = 0;
    const seen = new Set<string>();
    const local = new Set(this.db.query<{ app_id: string }>('SELECT app_id FROM sync_local_apps').map((r) => r.app_id));
    let cursor = after;
    outer: while (cursor < head) {
      const entries = this.db.query<{ seq: number; tbl: string; k1: string; k2: string | null; k3: string | null }>(
        'SELECT seq, tbl, k1, k2, k3 FROM sync_log WHERE seq > ? AND seq <= ? AND (src IS NULL OR src <> ?) ORDER BY seq LIMIT 200',
        [cursor, head, peer],
      );
      if (entries.length === 0) {
        to = head;
        break;
      }
      for (const e of entries) {
        const id = `${e.tbl}\u0000${e.k1}\u0000${e.k2 ?? ''}\u0000${e.k3 ?? ''}`;
        if (!seen.has(id)) {
          seen.add(id);
          const row = this.readRow(e.tbl, e.k1, e.k2, e.k3);
          if (row && !local.has(appOf(row))) {
            const size = JSON.stringify(row).length;
            if (rows.length > 0 && (bytes + size > maxBytes || rows.length >= maxRows)) break outer;
            rows.push(row);
            bytes += size;
          }
        }
        to = e.seq;
      }
      cursor = entries[entries.length - 1]!.seq;
      if (entries.length < 200) {
        to = head;
        break;
      }
    }
    return { from: after, to, rows, head };
  }

  /** The current state of one logged row as a wire row (`undefined`: gone, e.g. a removed app's version). */
  readRow(tbl: string, k1: string, k2: string | null, k3: string | null): WireRow | undefined {
    const db = this.db;
    switch (tbl) {
      case 'app_kv': {
        const r = db.get<{ value: string; expires_at: number | null; deleted: number; hlc: string; base: string | null }>(
          'SELECT value, expires_at, deleted, hlc, base FROM app_kv WHERE app_id = ? AND key = ?',
          [k1, k2],
        );
        return r && { t: 'kv', app: k1, key: k2!, v: r.deleted ? null : r.value, exp: r.expires_at, h: r.hlc, b: r.base };
      }
      case 'app_docs':
        return this.loadDoc(k1, k2!, k3!) ?? undefined;
      case 'app_blobs': {
        const r = db.get<{ blob_hash: string; content_type: string; created_at: number; updated_at: number; deleted: number; hlc: string; base: string | null }>(
          'SELECT blob_hash, content_type, created_at, updated_at, deleted, hlc, base FROM app_blobs WHERE app_id = ? AND key = ?',
          [k1, k2],
        );
        if (!r) return undefined;
        const blob = r.deleted ? null : (this.wireBlob(r.blob_hash) ?? null);
        if (!r.deleted && !blob) return undefined;
        return { t: 'blob', app: k1, key: k2!, blob, ct: r.content_type, created: r.created_at, updated: r.updated_at, h: r.hlc, b: r.base };
      }
      case 'apps': {
        const r = db.get<{ name: string; title: string; current_version: number | null; created_at: number; updated_at: number; deleted: number; hlc: string }>(
          'SELECT name, title, current_version, created_at, updated_at, deleted, hlc FROM apps WHERE id = ?',
          [k1],
        );
        if (!r) return undefined;
        // a live pointer still waiting for its version is what this row means (S21), not the old version it shows meanwhile
        const waiting = this.waitingLive(k1, r.hlc);
        const live =
          waiting ?? (r.current_version === null ? null : (db.get<{ hlc: string }>('SELECT hlc FROM app_versions WHERE app_id = ? AND version = ?', [k1, r.current_version])?.hlc ?? null));
        const home = db.get<{ home: string; hlc: string }>('SELECT home, hlc FROM app_homes WHERE app_id = ?', [k1]);
        return { t: 'app', id: k1, name: r.name, title: r.title, live, created: r.created_at, updated: r.updated_at, del: r.deleted === 1, h: r.hlc, home: home ? { home: home.home, h: home.hlc } : null };
      }
      case 'app_versions': {
        const r = db.get<{ manifest: string; tree_hash: string; file_count: number; total_bytes: number; created_at: number; hlc: string }>(
          'SELECT manifest, tree_hash, file_count, total_bytes, created_at, hlc FROM app_versions WHERE app_id = ? AND version = ?',
          [k1, Number(k2)],
        );
        if (!r) return undefined;
        const files = db
          .query<{ path: string; blob_hash: string }>('SELECT path, blob_hash FROM vfs_files WHERE app_id = ? AND version = ? ORDER BY path', [k1, Number(k2)])
          .map((f): [string, string] => [f.path, f.blob_hash]);
        const blobs: WireBlob[] = [];
        for (const h of new Set(files.map((f) => f[1]))) {
          const b = this.wireBlob(h);
          if (!b) return undefined;
          blobs.push(b);
        }
        return { t: 'version', app: k1, n: Number(k2), manifest: r.manifest, tree: r.tree_hash, count: r.file_count, bytes: r.total_bytes, created: r.created_at, h: r.hlc, files, blobs };
      }
      case 'app_aliases': {
        const r = db.get<{ app_id: string; is_name: number; deleted: number; hlc: string }>('SELECT app_id, is_name, deleted, hlc FROM app_aliases WHERE alias = ?', [k1]);
        return r && { t: 'alias', alias: k1, app: r.app_id, isName: r.is_name === 1, del: r.deleted === 1, h: r.hlc };
      }
      case 'app_permissions': {
        const r = db.get<{ granted_at: number; deleted: number; hlc: string }>('SELECT granted_at, deleted, hlc FROM app_permissions WHERE app_id = ? AND permission = ?', [k1, k2]);
        return r && { t: 'perm', app: k1, p: k2!, granted: r.granted_at, del: r.deleted === 1, h: r.hlc };
      }
      case 'app_homes': {
        const r = db.get<{ home: string; hlc: string }>('SELECT home, hlc FROM app_homes WHERE app_id = ?', [k1]);
        return r && { t: 'home', app: k1, home: r.home, h: r.hlc };
      }
      case 'events': {
        const r = db.get<{ app_id: string; type: string; payload: string; created_at: number; hlc: string }>('SELECT app_id, type, payload, created_at, hlc FROM events WHERE id = ?', [k1]);
        if (r?.app_id === SYSTEM_EMITTER) return undefined; // the node's own events stay here (S16)
        return r && { t: 'event', id: k1, app: r.app_id, type: r.type, payload: r.payload, created: r.created_at, h: r.hlc };
      }
      case 'sync_conflicts': {
        const r = db.get<ConflictDbRow>('SELECT * FROM sync_conflicts WHERE id = ?', [k1]);
        return r && conflictToWire(r);
      }
      default:
        return undefined;
    }
  }

  /** The live version stamp an app row (of stamp `h`) waits for, if any (S21, S23). */
  private waitingLive(appId: string, h: string): string | undefined {
    for (const p of this.db.query<{ row: string }>(`SELECT row FROM sync_pending WHERE row LIKE '{"t":"live"%'`)) {
      const w = JSON.parse(p.row) as { app: string; live: string; h: string };
      if (w.app === appId && w.h === h) return w.live;
    }
    return undefined;
  }

  private wireBlob(hash: string): WireBlob | undefined {
    const info = this.deps.blobs.info(hash);
    if (!info) return undefined;
    const chunks = this.db.query<{ chunk_hash: string }>('SELECT chunk_hash FROM vfs_blob_chunks WHERE blob_hash = ? ORDER BY idx', [hash]).map((c) => c.chunk_hash);
    return { hash, size: info.size, chunkSize: info.chunkSize, chunks };
  }

  private loadDoc(app: string, col: string, id: string): DocRow | null {
    const r = this.db.get<{ data: string; deleted: number; created_at: number; updated_at: number }>(
      'SELECT data, deleted, created_at, updated_at FROM app_docs WHERE app_id = ? AND collection = ? AND id = ?',
      [app, col, id],
    );
    if (!r) return null;
    const meta = this.db.get<{ born: string | null; del: string | null; seen: string | null }>('SELECT born, del, seen FROM sync_docs WHERE app_id = ? AND collection = ? AND id = ?', [
      app,
      col,
      id,
    ]);
    const data = r.deleted ? {} : (JSON.parse(r.data) as Json);
    const fields: Record<string, DocField> = {};
    for (const f of this.db.query<{ field: string; hlc: string; base: string | null }>(
      'SELECT field, hlc, base FROM sync_doc_fields WHERE app_id = ? AND collection = ? AND id = ?',
      [app, col, id],
    )) {
      const e: DocField = { h: f.hlc, b: f.base };
      if (Object.hasOwn(data, f.field)) e.v = data[f.field];
      fields[f.field] = e;
    }
    const del = meta?.del ? { h: meta.del, seen: (meta.seen ? JSON.parse(meta.seen) : {}) as Record<string, string> } : null;
    return { t: 'doc', app, col, id, born: meta?.born ?? null, del, fields, created: r.created_at, updated: r.updated_at };
  }

  /** True when a chunk is stored here. */
  hasChunk(hash: string): boolean {
    return this.db.get('SELECT 1 AS x FROM vfs_chunks WHERE hash = ?', [hash]) !== undefined;
  }

  /** Bytes of a stored chunk (for a peer's `need`), or `undefined`. */
  readChunk(hash: string): Uint8Array | undefined {
    return this.db.get<{ data: Uint8Array }>('SELECT data FROM vfs_chunks WHERE hash = ?', [hash])?.data;
  }

  // ------------------------------------------------------------------ applying (S10–S23, S33, S40)

  /**
   * Checks a batch whole, then merges it in one transaction and advances `received` when contiguous.
   * @throws SyncRefused (nothing applied) for a malformed row, a stamp past the drift bound, a row of a
   *   local app, or a row impersonating this node (S40).
   */
  apply(peer: string, batch: { from: number; to: number; rows: unknown[]; head?: number }): ApplyResult {
    if (!Number.isSafeInteger(batch.from) || !Number.isSafeInteger(batch.to) || batch.from < 0 || batch.to < batch.from || !Array.isArray(batch.rows)) {
      throw new SyncRefused('malformed batch range');
    }
    const wall = this.cart.clock.now();
    let newest: string | null = null;
    const local = new Set(this.db.query<{ app_id: string }>('SELECT app_id FROM sync_local_apps').map((r) => r.app_id));
    const myLast = this.cart.hlc.now(); // a stamp greater than every one this node issued
    for (const r of batch.rows) {
      for (const s of checkRow(r)) {
        if (msOf(s) - wall > this.maxDrift) throw new SyncRefused(`a stamp is ${msOf(s) - wall} ms ahead of this node's clock (the bound is ${this.maxDrift} ms)`);
        if (writerOf(s) === this.writer && s >= myLast) throw new SyncRefused('a row claims to be written by this node with a stamp it never issued');
        newest = maxStamp(newest, s);
      }
      if (local.has(appOf(r as WireRow))) throw new SyncRefused(`a row for app ${appOf(r as WireRow)}, which this node keeps to itself`);
    }
    const rows = batch.rows as WireRow[];
    const effects: AppChange[] = [];
    this.homesMoved.clear(); // what a refused (rolled back) batch left here
    const res = this.db.transaction((): ApplyResult => {
      const before = this.head();
      let changed = 0;
      let waiting = 0;
      for (const row of rows) {
        const r = this.applyRow(row, peer, effects);
        if (r === 'changed') changed++;
        else if (r !== 'same') {
          const text = JSON.stringify(row);
          if (!this.db.get('SELECT 1 AS x FROM sync_pending WHERE row = ?', [text])) this.db.run('INSERT INTO sync_pending (peer, row, created_at) VALUES (?, ?, ?)', [peer, text, wall]);
          waiting++;
        }
      }
      changed += this.retryPendingInTx(effects);
      if (newest) this.cart.hlc.receive(newest);
      this.flush();
      this.db.run('UPDATE sync_log SET src = ? WHERE seq > ?', [peer, before]);
      const st = this.peerState(peer);
      const advanced = batch.from <= st.received;
      this.touchPeer(peer, { ...(advanced ? { received: batch.to } : {}), ...(batch.head !== undefined && Number.isSafeInteger(batch.head) ? { peerHead: batch.head } : {}) });
      return { changed, waiting, needs: [], advanced };
    });
    res.needs = this.missingChunks(peer);
    this.holdGcIfPending();
    this.emitEffects(effects);
    this.emitHomeMoves();
    if (res.changed > 0) for (const l of this.changeListeners) l();
    return res;
  }

  /** Apps whose home row a batch changed (S17), reported after its commit. */
  private readonly homesMoved = new Set<string>();

  private emitHomeMoves(): void {
    const apps = [...this.homesMoved];
    this.homesMoved.clear();
    for (const app of apps) {
      try {
        this.deps.onHomeChanged?.(app);
      } catch (err) {
        this.deps.logger.error('sync: moving an app home failed', { appId: app, error: String(err) });
      }
    }
  }

  private emitEffects(effects: AppChange[]): void {
    const seen = new Set<string>();
    for (const e of effects.reverse()) {
      if (seen.has(e.appId)) continue;
      seen.add(e.appId);
      try {
        this.deps.onAppChanged?.(e);
      } catch (err) {
        this.deps.logger.error('sync: applying an app change failed', { appId: e.appId, error: String(err) });
      }
    }
  }

  /** 'changed' | 'same' (nothing to do) | 'wait' (keep in sync_pending). */
  private applyRow(row: WireRow, peer: string, effects: AppChange[]): 'changed' | 'same' | 'wait' {
    switch (row.t) {
      case 'kv':
        return this.applyKv(row);
      case 'doc':
        return this.applyDoc(row);
      case 'blob':
        return this.applyBlob(row);
      case 'app':
        return this.applyApp(row, peer, effects);
      case 'version':
        return this.applyVersion(row, effects);
      case 'alias':
        return this.applyAlias(row);
      case 'perm':
        return this.applyLww('app_permissions', 'app_id = ? AND permission = ?', [row.app, row.p], row.h, () =>
          this.db.run(
            `INSERT INTO app_permissions (app_id, permission, granted_at, deleted, hlc, node_id) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT(app_id, permission) DO UPDATE SET granted_at = excluded.granted_at, deleted = excluded.deleted, hlc = excluded.hlc, node_id = excluded.node_id`,
            [row.app, row.p, row.granted, row.del ? 1 : 0, row.h, writerOf(row.h)],
          ),
        );
      case 'home': {
        const r = this.applyLww('app_homes', 'app_id = ?', [row.app], row.h, () =>
          this.db.run(
            `INSERT INTO app_homes (app_id, home, deleted, hlc, node_id) VALUES (?, ?, 0, ?, ?)
             ON CONFLICT(app_id) DO UPDATE SET home = excluded.home, hlc = excluded.hlc, node_id = excluded.node_id`,
            [row.app, row.home, row.h, writerOf(row.h)],
          ),
        );
        if (r === 'changed') this.homesMoved.add(row.app);
        return r;
      }
      case 'event':
        return this.applyEvent(row);
      case 'conflict':
        return this.applyConflict(row);
    }
  }

  private applyLww(table: string, where: string, key: SqlValue[], h: string, write: () => void): 'changed' | 'same' {
    const l = this.db.get<{ hlc: string }>(`SELECT hlc FROM ${table} WHERE ${where}`, key);
    if (l && l.hlc >= h) return 'same';
    write();
    return 'changed';
  }

  private applyKv(r: KvRow): 'changed' | 'same' {
    const l = this.db.get<{ value: string; deleted: number; hlc: string; base: string | null }>('SELECT value, deleted, hlc, base FROM app_kv WHERE app_id = ? AND key = ?', [
      r.app,
      r.key,
    ]);
    const remote = { h: r.h, b: r.b, v: r.v };
    if (l) {
      if (l.hlc === r.h) return 'same';
      const mine = { h: l.hlc, b: l.base, v: l.deleted ? null : l.value };
      const [win, lose] = r.h > l.hlc ? [remote, mine] : [mine, remote];
      this.maybeConflict(r.app, 'kv', r.key, win, lose);
      if (win === mine) return 'same';
    }
    this.db.run(
      `INSERT INTO app_kv (app_id, key, value, expires_at, deleted, hlc, node_id, base) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(app_id, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, deleted = excluded.deleted,
         hlc = excluded.hlc, node_id = excluded.node_id, base = excluded.base`,
      [r.app, r.key, r.v ?? 'null', r.v === null ? null : r.exp, r.v === null ? 1 : 0, r.h, writerOf(r.h), r.b],
    );
    return 'changed';
  }

  private applyBlob(r: BlobRow): 'changed' | 'same' | 'wait' {
    const l = this.db.get<{ blob_hash: string; deleted: number; hlc: string; base: string | null }>('SELECT blob_hash, deleted, hlc, base FROM app_blobs WHERE app_id = ? AND key = ?', [
      r.app,
      r.key,
    ]);
    if (l && l.hlc >= r.h) {
      if (l.hlc !== r.h) this.maybeConflict(r.app, 'blob', r.key, { h: l.hlc, b: l.base, v: l.deleted ? null : JSON.stringify(l.blob_hash) }, { h: r.h, b: r.b, v: r.blob ? JSON.stringify(r.blob.hash) : null });
      return 'same';
    }
    if (r.blob && !this.ensureBlob(r.blob)) return 'wait';
    if (l) this.maybeConflict(r.app, 'blob', r.key, { h: r.h, b: r.b, v: r.blob ? JSON.stringify(r.blob.hash) : null }, { h: l.hlc, b: l.base, v: l.deleted ? null : JSON.stringify(l.blob_hash) });
    this.db.run(
      `INSERT INTO app_blobs (app_id, key, blob_hash, content_type, size, created_at, updated_at, deleted, hlc, node_id, base) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(app_id, key) DO UPDATE SET blob_hash = CASE WHEN excluded.deleted = 1 THEN app_blobs.blob_hash ELSE excluded.blob_hash END,
         content_type = excluded.content_type, size = CASE WHEN excluded.deleted = 1 THEN app_blobs.size ELSE excluded.size END,
         created_at = excluded.created_at, updated_at = excluded.updated_at, deleted = excluded.deleted, hlc = excluded.hlc, node_id = excluded.node_id, base = excluded.base`,
      [r.app, r.key, r.blob?.hash ?? '', r.ct, r.blob?.size ?? 0, r.created, r.updated, r.blob ? 0 : 1, r.h, writerOf(r.h), r.b],
    );
    return 'changed';
  }

  /**
   * True when the blob is stored here, rebuilding its row from chunks that all arrived (checking the
   * whole blob's hash, S22); false when chunks are missing.
   * @throws SyncRefused when the chunks do not make the named blob.
   */
  private ensureBlob(b: WireBlob): boolean {
    if (this.deps.blobs.info(b.hash)) return true;
    const unique = [...new Set(b.chunks)];
    for (const c of unique) if (!this.db.get('SELECT 1 AS x FROM vfs_chunks WHERE hash = ?', [c])) return false;
    const whole = this.deps.sha256();
    let size = 0;
    for (const c of b.chunks) {
      const data = this.readChunk(c)!;
      whole.update(data);
      size += data.length;
    }
    if (size !== b.size || whole.digestHex() !== b.hash) throw new SyncRefused(`the chunks of blob ${b.hash.slice(0, 12)}… do not make that blob`);
    this.db.run('INSERT INTO vfs_blobs (hash, size, chunk_size, chunk_count, created_at) VALUES (?, ?, ?, ?, ?)', [b.hash, b.size, b.chunkSize, b.chunks.length, this.cart.clock.now()]);
    b.chunks.forEach((c, i) => this.db.run('INSERT INTO vfs_blob_chunks (blob_hash, idx, chunk_hash) VALUES (?, ?, ?)', [b.hash, i, c]));
    return true;
  }

  /** The chunk hashes that rows waiting for `peer` (or any peer) still need. */
  missingChunks(peer?: string): string[] {
    const need = new Set<string>();
    const rows = this.db.query<{ row: string }>(peer ? 'SELECT row FROM sync_pending WHERE peer = ?' : 'SELECT row FROM sync_pending', peer ? [peer] : []);
    for (const { row } of rows) {
      const r = JSON.parse(row) as WireRow;
      const blobs = r.t === 'blob' ? (r.blob ? [r.blob] : []) : r.t === 'version' ? r.blobs : [];
      for (const b of blobs) {
        if (this.deps.blobs.info(b.hash)) continue;
        for (const c of b.chunks) if (!need.has(c) && !this.db.get('SELECT 1 AS x FROM vfs_chunks WHERE hash = ?', [c])) need.add(c);
      }
    }
    return [...need];
  }

  /**
   * Takes one part of a chunk a peer sent (S22). When the chunk is whole and hashes to its name it is
   * stored and waiting rows are retried.
   * @returns true when this part completed a chunk.
   * @throws SyncRefused for a part that does not fit or a chunk whose bytes do not match its hash.
   */
  receiveChunkPart(hash: string, off: number, total: number, data: Uint8Array): boolean {
    if (!/^[0-9a-f]{64}$/.test(hash) || !Number.isSafeInteger(off) || !Number.isSafeInteger(total) || total <= 0 || total > 4 * 1024 * 1024 || off < 0 || off + data.length > total) {
      throw new SyncRefused('malformed chunk part');
    }
    let e = this.incoming.get(hash);
    if (!e || e.total !== total) this.incoming.set(hash, (e = { total, buf: new Uint8Array(total), got: 0, offs: new Set() }));
    if (e.offs.has(off)) return false; // a duplicate part
    e.offs.add(off);
    e.buf.set(data, off);
    e.got += data.length;
    if (e.got < total) return false;
    this.incoming.delete(hash);
    if (this.deps.sha256().update(e.buf).digestHex() !== hash) throw new SyncRefused(`chunk ${hash.slice(0, 12)}… does not hash to its name`);
    this.db.run('INSERT OR IGNORE INTO vfs_chunks (hash, size, data) VALUES (?, ?, ?)', [hash, total, e.buf]);
    return true;
  }

  /** Retries every waiting row (S23); returns how many changed something. */
  retryPending(): number {
    const effects: AppChange[] = [];
    this.homesMoved.clear();
    const n = this.db.transaction(() => this.retryPendingInTx(effects));
    this.holdGcIfPending();
    this.emitEffects(effects);
    this.emitHomeMoves();
    if (n > 0) for (const l of this.changeListeners) l();
    return n;
  }

  private retryPendingInTx(effects: AppChange[]): number {
    let changed = 0;
    for (let progress = true; progress; ) {
      progress = false;
      for (const p of this.db.query<{ id: number; peer: string; row: string }>('SELECT id, peer, row FROM sync_pending ORDER BY id')) {
        const row = JSON.parse(p.row) as WireRow | { t: 'live' };
        if (row.t === 'live') continue; // settled by its version (applyVersion)
        const r = this.applyRow(row, p.peer, effects);
        if (r === 'wait') continue;
        this.db.run('DELETE FROM sync_pending WHERE id = ?', [p.id]);
        progress = true;
        if (r === 'changed') changed++;
      }
    }
    return changed;
  }

  /** Rows waiting for content or a version (S23). */
  waitingRows(): number {
    return this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM sync_pending')!.n;
  }

  private holdGcIfPending(): void {
    const waiting = this.waitingRows() > 0 || this.incoming.size > 0;
    if (waiting && !this.gcHold) this.gcHold = this.deps.blobs.beginWrite();
    else if (!waiting && this.gcHold) {
      this.gcHold();
      this.gcHold = undefined;
    }
  }

  private applyApp(r: AppRow, peer: string, effects: AppChange[]): 'changed' | 'same' {
    const l = this.db.get<{ name: string; current_version: number | null; deleted: number; hlc: string }>('SELECT name, current_version, deleted, hlc FROM apps WHERE id = ?', [r.id]);
    if (l && l.hlc >= r.h) return 'same';
    let version: number | null = null;
    if (!r.del && r.live) {
      const v = this.versionByStamp(r.id, r.live);
      if (v === undefined) {
        version = l?.current_version ?? null;
        // the live pointer waits for its version (S21, S23)
        this.db.run('INSERT INTO sync_pending (peer, row, created_at) VALUES (?, ?, ?)', [peer, JSON.stringify({ t: 'live', app: r.id, live: r.live, h: r.h }), this.cart.clock.now()]);
      } else version = v;
    }
    this.db.run(
      `INSERT INTO apps (id, name, title, current_version, created_at, updated_at, deleted, hlc, node_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET name = excluded.name, title = excluded.title, current_version = excluded.current_version,
         updated_at = excluded.updated_at, deleted = excluded.deleted, hlc = excluded.hlc, node_id = excluded.node_id`,
      [r.id, r.name, r.title, r.del ? null : version, r.created, r.updated, r.del ? 1 : 0, r.h, writerOf(r.h)],
    );
    if (!l) {
      // the insert trigger gave the new app this node's view of a home; the sender's row replaces it (S17)
      this.db.run('DELETE FROM app_homes WHERE app_id = ?', [r.id]);
      if (r.home) this.db.run('INSERT INTO app_homes (app_id, home, deleted, hlc, node_id) VALUES (?, ?, 0, ?, ?)', [r.id, r.home.home, r.home.h, writerOf(r.home.h)]);
    }
    if (r.del) {
      if (!l || l.deleted === 0) {
        this.db.run('DELETE FROM vfs_files WHERE app_id = ?', [r.id]);
        this.db.run('DELETE FROM app_versions WHERE app_id = ?', [r.id]);
        this.db.run('DELETE FROM app_version_approvals WHERE app_id = ?', [r.id]);
        if (l) effects.push({ kind: 'remove', appId: r.id, version: null });
      }
    } else if (!l || l.current_version !== version || l.deleted === 1) effects.push({ kind: 'deploy', appId: r.id, version });
    else if (l.name !== r.name) effects.push({ kind: 'rename', appId: r.id, version });
    return 'changed';
  }

  private versionByStamp(appId: string, stamp: string): number | undefined {
    return this.db.get<{ version: number }>('SELECT version FROM app_versions WHERE app_id = ? AND hlc = ?', [appId, stamp])?.version;
  }

  private applyVersion(r: VersionRow, effects: AppChange[]): 'changed' | 'same' | 'wait' {
    const app = this.db.get<{ deleted: number; hlc: string }>('SELECT deleted, hlc FROM apps WHERE id = ?', [r.app]);
    if (!app) return 'wait';
    if (app.deleted === 1) return 'same'; // a removed app keeps no versions (S20)
    if (this.versionByStamp(r.app, r.h) !== undefined) return 'same';
    for (const b of r.blobs) if (!this.ensureBlob(b)) return 'wait';
    const taken = this.db.get('SELECT 1 AS x FROM app_versions WHERE app_id = ? AND version = ?', [r.app, r.n]) !== undefined;
    const n = taken ? (this.db.get<{ v: number }>('SELECT MAX(version) AS v FROM app_versions WHERE app_id = ?', [r.app])!.v ?? 0) + 1 : r.n;
    this.db.run('INSERT INTO app_versions (app_id, version, manifest, tree_hash, file_count, total_bytes, created_at, hlc, node_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [
      r.app,
      n,
      r.manifest,
      r.tree,
      r.count,
      r.bytes,
      r.created,
      r.h,
      writerOf(r.h),
    ]);
    for (const [path, hash] of r.files) this.db.run('INSERT INTO vfs_files (app_id, version, path, blob_hash) VALUES (?, ?, ?, ?)', [r.app, n, path, hash]);
    // a live pointer that waited for this version (S21)
    for (const p of this.db.query<{ id: number; row: string }>("SELECT id, row FROM sync_pending WHERE row LIKE '{\"t\":\"live\"%'")) {
      const w = JSON.parse(p.row) as { app: string; live: string; h: string };
      if (w.app !== r.app || w.live !== r.h) continue;
      const cur = this.db.get<{ hlc: string; deleted: number }>('SELECT hlc, deleted FROM apps WHERE id = ?', [r.app]);
      if (cur && cur.hlc === w.h && cur.deleted === 0) {
        this.db.run('UPDATE apps SET current_version = ? WHERE id = ?', [n, r.app]);
        effects.push({ kind: 'deploy', appId: r.app, version: n });
      }
      this.db.run('DELETE FROM sync_pending WHERE id = ?', [p.id]);
    }
    return 'changed';
  }

  private applyAlias(r: AliasRow): 'changed' | 'same' | 'wait' {
    if (!this.db.get('SELECT 1 AS x FROM apps WHERE id = ?', [r.app])) return 'wait';
    return this.applyLww('app_aliases', 'alias = ?', [r.alias], r.h, () =>
      this.db.run(
        `INSERT INTO app_aliases (alias, app_id, is_name, deleted, hlc, node_id) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(alias) DO UPDATE SET app_id = excluded.app_id, is_name = excluded.is_name, deleted = excluded.deleted, hlc = excluded.hlc, node_id = excluded.node_id`,
        [r.alias, r.app, r.isName ? 1 : 0, r.del ? 1 : 0, r.h, writerOf(r.h)],
      ),
    );
  }

  private applyEvent(r: EventRow): 'changed' | 'same' {
    // append-only union: no deliveries for a replicated event (S16)
    return this.db.run('INSERT OR IGNORE INTO events (id, app_id, type, payload, created_at, deleted, hlc, node_id) VALUES (?, ?, ?, ?, ?, 0, ?, ?)', [
      r.id,
      r.app,
      r.type,
      r.payload,
      r.created,
      r.h,
      writerOf(r.h),
    ]).changes > 0
      ? 'changed'
      : 'same';
  }

  // ------------------------------------------------------------------ documents (S12, S14)

  private applyDoc(r: DocRow): 'changed' | 'same' {
    const l = this.loadDoc(r.app, r.col, r.id);
    const merged = this.mergeDoc(l, r);
    if (l && docKey(l) === docKey(merged)) return 'same';
    this.writeDoc(merged, l !== null);
    return 'changed';
  }

  /** The merge of two versions of a document (S12, S14), recording conflicts (S13). */
  private mergeDoc(l: DocRow | null, r: DocRow): DocRow {
    if (!l) return r;
    const del = !l.del ? r.del : !r.del ? l.del : l.del.h >= r.del.h ? l.del : r.del;
    const born = maxStamp(l.born, r.born);
    const fields: Record<string, DocField> = {};
    const names = new Set([...Object.keys(l.fields), ...Object.keys(r.fields)]);
    const key = (f: string) => `${r.col}/${r.id}.${f}`;
    const val = (f: DocField | undefined) => (f && Object.hasOwn(f, 'v') ? canonical(f.v) : null);
    for (const name of names) {
      const a = l.fields[name];
      const b = r.fields[name];
      if (!a || !b) {
        fields[name] = (a ?? b)!;
        continue;
      }
      const [win, lose] = a.h >= b.h ? [a, b] : [b, a];
      if (a.h !== b.h) this.maybeConflict(r.app, 'doc', key(name), { h: win.h, b: win.b, v: val(win) }, { h: lose.h, b: lose.b, v: val(lose) });
      fields[name] = win;
    }
    if (del) {
      for (const [name, f] of Object.entries(fields)) {
        if (f.h > del.h) continue;
        delete fields[name];
        // an edit the deleter had not seen, dropped by the delete: kept as a conflict (S14)
        const seen = del.seen[name];
        const known = seen !== undefined && (seen === f.h || (writerOf(seen) === writerOf(f.h) && f.h < seen));
        if (!known && Object.hasOwn(f, 'v')) this.maybeConflict(r.app, 'doc', key(name), { h: del.h, b: null, v: null }, { h: f.h, b: f.b, v: val(f) }, true);
      }
    }
    return { ...r, born, del, fields, created: Math.min(l.created, r.created), updated: Math.max(l.updated, r.updated) };
  }

  private writeDoc(d: DocRow, exists: boolean): void {
    const live = (d.born !== null && (!d.del || d.born > d.del.h)) || Object.keys(d.fields).length > 0;
    const data: Json = {};
    for (const name of Object.keys(d.fields).sort()) if (Object.hasOwn(d.fields[name]!, 'v')) data[name] = d.fields[name]!.v;
    let h: string | null = maxStamp(d.born, d.del?.h);
    for (const f of Object.values(d.fields)) h = maxStamp(h, f.h);
    const args = [live ? JSON.stringify(data) : '{}', d.created, d.updated, live ? 0 : 1, h!, writerOf(h!), d.app, d.col, d.id];
    if (exists) this.db.run('UPDATE app_docs SET data = ?, created_at = ?, updated_at = ?, deleted = ?, hlc = ?, node_id = ? WHERE app_id = ? AND collection = ? AND id = ?', args);
    else this.db.run('INSERT INTO app_docs (data, created_at, updated_at, deleted, hlc, node_id, app_id, collection, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', args);
    // the triggers stamped the fields with this node's view; the merge's stamps replace them
    this.db.run('DELETE FROM sync_doc_fields WHERE app_id = ? AND collection = ? AND id = ?', [d.app, d.col, d.id]);
    for (const [name, f] of Object.entries(d.fields)) {
      this.db.run('INSERT INTO sync_doc_fields (app_id, collection, id, field, hlc, base) VALUES (?, ?, ?, ?, ?, ?)', [d.app, d.col, d.id, name, f.h, f.b ?? null]);
    }
    this.db.run('INSERT OR REPLACE INTO sync_docs (app_id, collection, id, born, del, seen) VALUES (?, ?, ?, ?, ?, ?)', [
      d.app,
      d.col,
      d.id,
      d.born,
      d.del?.h ?? null,
      d.del ? JSON.stringify(d.del.seen) : null,
    ]);
  }

  // ------------------------------------------------------------------ conflicts (S13)

  /**
   * Records `lose` as a conflict when it is concurrent with `win` (neither descends from the other)
   * and the values differ. `force`: concurrency was decided by the caller (S14).
   */
  private maybeConflict(app: string, kind: 'kv' | 'doc' | 'blob', key: string, win: FieldVersion & { v: string | null }, lose: FieldVersion & { v: string | null }, force = false): void {
    if (win.v === lose.v) return;
    if (!force && (descends(lose, win) || descends(win, lose))) return;
    const id = this.deps.sha256().update(utf8.encode(`${app}\u0000${kind}\u0000${key}\u0000${lose.h}`)).digestHex().slice(0, 32);
    this.applyConflict({ t: 'conflict', id, app, kind, key, winner: win.v, wh: win.h, loser: lose.v, lh: lose.h, at: this.cart.clock.now(), res: null, h: lose.h });
  }

  private applyConflict(r: ConflictRow): 'changed' | 'same' {
    const l = this.db.get<ConflictDbRow>('SELECT * FROM sync_conflicts WHERE id = ?', [r.id]);
    if (!l) {
      this.db.run(
        'INSERT INTO sync_conflicts (id, app_id, kind, key, winner, winner_hlc, loser, loser_hlc, at, resolution, deleted, hlc, node_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)',
        [r.id, r.app, r.kind, r.key, r.winner, r.wh, r.loser, r.lh, r.at, r.res, r.h, writerOf(r.h)],
      );
      return 'changed';
    }
    const winnerNewer = r.wh > l.winner_hlc;
    const resNewer = r.h > l.hlc;
    const at = Math.min(l.at, r.at);
    if (!winnerNewer && !resNewer && at === l.at) return 'same';
    this.db.run('UPDATE sync_conflicts SET winner = ?, winner_hlc = ?, resolution = ?, hlc = ?, node_id = ?, at = ? WHERE id = ?', [
      winnerNewer ? r.winner : l.winner,
      winnerNewer ? r.wh : l.winner_hlc,
      resNewer ? r.res : l.resolution,
      resNewer ? r.h : l.hlc,
      writerOf(resNewer ? r.h : l.hlc),
      at,
      r.id,
    ]);
    return 'changed';
  }

  /**
   * Conflicts, newest first.
   * @param options.all include resolved ones (default: open only).
   */
  conflicts(options: { all?: boolean; limit?: number } = {}): Conflict[] {
    const rows = this.db.query<ConflictDbRow>(
      `SELECT * FROM sync_conflicts ${options.all ? '' : 'WHERE resolution IS NULL'} ORDER BY at DESC, id LIMIT ?`,
      [Math.min(Math.max(options.limit ?? 1000, 1), 10_000)],
    );
    return rows.map((r) => ({ id: r.id, app: r.app_id, kind: r.kind, key: r.key, winner: r.winner, loser: r.loser, at: r.at, resolution: r.resolution }));
  }

  /**
   * Resolves a conflict (S13): `winner` changes nothing else; `loser` writes the losing value again
   * as a new local write (it then wins everywhere).
   * @throws FaztError `NOT_FOUND` for an unknown id, `INVALID_ARGUMENT` for `keep` not winner|loser,
   *   `CONFLICT` when a blob's losing content is no longer stored.
   */
  resolve(id: string, keep: unknown): Conflict {
    if (keep !== 'winner' && keep !== 'loser') throw new FaztError('INVALID_ARGUMENT', `keep must be "winner" or "loser", got ${JSON.stringify(keep) ?? String(keep)}.`);
    const c = this.db.get<ConflictDbRow>('SELECT * FROM sync_conflicts WHERE id = ?', [id]);
    if (!c) throw new FaztError('NOT_FOUND', `There is no conflict ${JSON.stringify(id)}. See \`fazt conflicts list\`.`);
    this.db.transaction(() => {
      if (keep === 'loser') this.writeLoser(c);
      const h = this.cart.hlc.now();
      this.db.run('UPDATE sync_conflicts SET resolution = ?, hlc = ?, node_id = ? WHERE id = ?', [keep, h, this.writer, id]);
    });
    for (const l of this.changeListeners) l();
    return this.conflicts({ all: true }).find((x) => x.id === id)!;
  }

  private writeLoser(c: ConflictDbRow): void {
    const db = this.db;
    const me = this.writer;
    if (c.kind === 'kv') {
      const h = this.cart.hlc.now();
      db.run(
        `INSERT INTO app_kv (app_id, key, value, expires_at, deleted, hlc, node_id) VALUES (?, ?, ?, NULL, ?, ?, ?)
         ON CONFLICT(app_id, key) DO UPDATE SET value = excluded.value, expires_at = NULL, deleted = excluded.deleted, hlc = excluded.hlc, node_id = excluded.node_id,
           base = CASE WHEN app_kv.node_id = excluded.node_id THEN app_kv.base ELSE app_kv.hlc END`,
        [c.app_id, c.key, c.loser ?? 'null', c.loser === null ? 1 : 0, h, me],
      );
    } else if (c.kind === 'blob') {
      const l = db.get<{ content_type: string }>('SELECT content_type FROM app_blobs WHERE app_id = ? AND key = ?', [c.app_id, c.key]);
      const h = this.cart.hlc.now();
      const now = this.cart.clock.now();
      if (c.loser === null) {
        db.run('UPDATE app_blobs SET deleted = 1, updated_at = ?, hlc = ?, node_id = ?, base = CASE WHEN node_id = ? THEN base ELSE hlc END WHERE app_id = ? AND key = ?', [now, h, me, me, c.app_id, c.key]);
      } else {
        const hash = JSON.parse(c.loser) as string;
        const info = this.deps.blobs.info(hash);
        if (!info) throw new FaztError('CONFLICT', 'The losing blob is no longer stored on this node (it was collected); it cannot be restored here.');
        db.run(
          `INSERT INTO app_blobs (app_id, key, blob_hash, content_type, size, created_at, updated_at, deleted, hlc, node_id) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)
           ON CONFLICT(app_id, key) DO UPDATE SET blob_hash = excluded.blob_hash, size = excluded.size, updated_at = excluded.updated_at, deleted = 0,
             hlc = excluded.hlc, node_id = excluded.node_id, base = CASE WHEN app_blobs.node_id = excluded.node_id THEN app_blobs.base ELSE app_blobs.hlc END`,
          [c.app_id, c.key, hash, l?.content_type ?? 'application/octet-stream', info.size, now, now, h, me],
        );
      }
    } else {
      const m = /^([^/]+)\/(.*)\.([^.]*)$/.exec(c.key);
      if (!m) throw new FaztError('INTERNAL', `conflict ${c.id} has a malformed document key`);
      const [, col, docId, field] = m as unknown as [string, string, string, string];
      const row = db.get<{ data: string; deleted: number }>('SELECT data, deleted FROM app_docs WHERE app_id = ? AND collection = ? AND id = ?', [c.app_id, col, docId]);
      const data = row && row.deleted === 0 ? (JSON.parse(row.data) as Json) : {};
      if (c.loser === null) delete data[field];
      else data[field] = JSON.parse(c.loser);
      const h = this.cart.hlc.now();
      const now = this.cart.clock.now();
      if (row) db.run('UPDATE app_docs SET data = ?, updated_at = ?, deleted = 0, hlc = ?, node_id = ? WHERE app_id = ? AND collection = ? AND id = ?', [JSON.stringify(data), now, h, me, c.app_id, col, docId]);
      else db.run('INSERT INTO app_docs (app_id, collection, id, data, created_at, updated_at, deleted, hlc, node_id) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)', [c.app_id, col, docId, JSON.stringify(data), now, now, h, me]);
    }
  }

  // ------------------------------------------------------------------ upkeep (S15)

  /**
   * Keeps one log entry per row (the newest); the log head is never removed, so seq never repeats.
   * @returns entries removed.
   */
  compactLog(): number {
    return this.db.run(
      'DELETE FROM sync_log WHERE seq < (SELECT MAX(seq) FROM sync_log) AND seq NOT IN (SELECT MAX(seq) FROM sync_log GROUP BY tbl, k1, k2, k3)',
    ).changes;
  }

  /**
   * Deletes kv/blob/document tombstones older than `olderThanMs` (by their stamp) when every known
   * peer has acknowledged our whole log (S15). @returns tombstones removed, or 0 when a peer lags.
   */
  collectTombstones(olderThanMs = 30 * 24 * 3600_000): number {
    const head = this.head();
    if (this.peers().some((p) => p.acked < head)) return 0;
    const cutoff = (this.cart.clock.now() - olderThanMs).toString(16).padStart(13, '0');
    return this.db.transaction(
      () =>
        this.db.run('DELETE FROM app_kv WHERE deleted = 1 AND hlc < ?', [cutoff]).changes +
        this.db.run('DELETE FROM app_blobs WHERE deleted = 1 AND hlc < ?', [cutoff]).changes +
        (this.db.run('DELETE FROM sync_docs WHERE (app_id, collection, id) IN (SELECT app_id, collection, id FROM app_docs WHERE deleted = 1 AND hlc < ?)', [cutoff]), 0) +
        this.db.run('DELETE FROM app_docs WHERE deleted = 1 AND hlc < ?', [cutoff]).changes,
    );
  }

  /**
   * A digest of the replicated state (for tests and the fuzz): apps, live versions by content,
   * aliases, kv, documents (canonical JSON), app blobs, permissions, homes, events, conflicts.
   * Stamps are included; local times are not.
   */
  stateDigest(): string {
    const h = this.deps.sha256();
    for (const [name, rows] of Object.entries(this.stateRows())) h.update(utf8.encode(`${name}\n${rows.join('\n')}\n`));
    return h.digestHex();
  }

  /** The rows {@link stateDigest} hashes, by section (a test shows the difference when digests differ). */
  stateRows(): Record<string, string[]> {
    const q = (sql: string) => this.db.query<Record<string, SqlValue>>(sql).map((r) => JSON.stringify(Object.values(r)));
    return {
      apps: q('SELECT a.id, a.name, a.title, a.deleted, a.hlc, v.tree_hash, v.hlc AS vh FROM apps a LEFT JOIN app_versions v ON v.app_id = a.id AND v.version = a.current_version ORDER BY a.id'),
      versions: q('SELECT app_id, tree_hash, hlc FROM app_versions ORDER BY app_id, hlc'),
      aliases: q('SELECT alias, app_id, is_name, deleted, hlc FROM app_aliases ORDER BY alias'),
      kv: q('SELECT app_id, key, CASE WHEN deleted = 1 THEN NULL ELSE value END, deleted, hlc FROM app_kv ORDER BY app_id, key'),
      docs: this.db
        // the row's own hlc is not replicated as such (a no-op update stamps it alone): its fields, born and delete stamps are
        .query<{ app_id: string; collection: string; id: string; data: string; deleted: number }>('SELECT app_id, collection, id, data, deleted FROM app_docs ORDER BY app_id, collection, id')
        .map((r) => JSON.stringify([r.app_id, r.collection, r.id, r.deleted, r.deleted ? null : canonical(JSON.parse(r.data))])),
      docFields: q('SELECT app_id, collection, id, field, hlc FROM sync_doc_fields ORDER BY app_id, collection, id, field'),
      docMeta: q('SELECT app_id, collection, id, born, del FROM sync_docs ORDER BY app_id, collection, id'),
      blobs: q('SELECT app_id, key, CASE WHEN deleted = 1 THEN NULL ELSE blob_hash END, deleted, hlc FROM app_blobs ORDER BY app_id, key'),
      permissions: q('SELECT app_id, permission, deleted, hlc FROM app_permissions ORDER BY app_id, permission'),
      homes: q('SELECT app_id, home, hlc FROM app_homes ORDER BY app_id'),
      events: q("SELECT id, app_id, type, payload, hlc FROM events WHERE app_id <> 'fazt' ORDER BY id"),
      conflicts: q('SELECT id, app_id, kind, key, winner, winner_hlc, loser, loser_hlc, resolution, hlc FROM sync_conflicts ORDER BY id'),
    };
  }
}

/** A row of `sync_conflicts`. */
interface ConflictDbRow {
  id: string;
  app_id: string;
  kind: 'kv' | 'doc' | 'blob';
  key: string;
  winner: string | null;
  winner_hlc: string;
  loser: string | null;
  loser_hlc: string;
  at: number;
  resolution: 'winner' | 'loser' | null;
  hlc: string;
}

function conflictToWire(r: ConflictDbRow): ConflictRow {
  return { t: 'conflict', id: r.id, app: r.app_id, kind: r.kind, key: r.key, winner: r.winner, wh: r.winner_hlc, loser: r.loser, lh: r.loser_hlc, at: r.at, res: r.resolution, h: r.hlc };
}

/** What decides whether a merged document differs from the stored one (stamps and values). */
function docKey(d: DocRow): string {
  const f = Object.keys(d.fields)
    .sort()
    .map((k) => [k, d.fields[k]!.h, d.fields[k]!.b ?? null, Object.hasOwn(d.fields[k]!, 'v') ? canonical(d.fields[k]!.v) : '∅']);
  return JSON.stringify([d.born, d.del?.h ?? null, d.del ? canonical(d.del.seen) : null, f]);
}

export { SyncRefused };
