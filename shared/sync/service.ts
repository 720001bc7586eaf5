/**
 * `SyncService`: one {@link SyncSession} per connected peer, opened when a link opens (catch-up,
 * then live) and closed with it; status and `sync now` for the API and the CLI (docs/sync-spec.md
 * S35, S37). `attachToMesh` wires it to `MeshService`: sessions ride the peer links (S36).
 */
import { FaztError } from '../errors.js';
import type { MeshService } from '../mesh/index.js';
import type { Logger } from '../ports.js';
import type { SyncEngine } from './engine.js';
import { SyncSession, type SyncMessage } from './session.js';

/** How often captured changes are moved to the durable change log when no session asks sooner, ms. */
export const FLUSH_MS = 1000;

/** New change-log entries after which the log is compacted to one entry per row (S15). */
export const COMPACT_EVERY = 50_000;

/** How often tombstones past the 30-day horizon are collected (S15), ms: 6 hours. */
export const TOMBSTONE_EVERY_MS = 6 * 3600_000;

/** When the first tombstone collection runs after the service starts, ms: 10 minutes (not in the start-up rush). */
export const TOMBSTONE_FIRST_MS = 10 * 60_000;

/** One peer's sync state, as `fazt sync status` prints it (S37). */
export interface PeerSyncStatus {
  /** The peer's mesh node id (its writer id when it is not a mesh peer, as in tests). */
  nodeId: string;
  /** The peer's cartridge writer id. */
  writerId: string;
  /** A session is open (the link is up and sync is running). */
  connected: boolean;
  /** Last batch exchanged with it, ms since the epoch (`null`: never). */
  lastSyncAt: number | null;
  /** Entries of our change log it has not confirmed. */
  pendingOut: number;
  /** Entries of its log it announced that we have not applied. */
  pendingIn: number;
  /** Connected, and nothing pending either way. */
  caughtUp: boolean;
  /** Why the peer refuses our batches, when it does. */
  stalled?: string;
}

/** A peer the service knows: mesh node id and cartridge writer id. */
export interface SyncPeer {
  nodeId: string;
  writerId: string;
}

/** Sessions with the connected peers. */
export class SyncService {
  private readonly sessions = new Map<string, { session: SyncSession; nodeId: string }>();
  private peersOf: () => SyncPeer[] = () => [];

  constructor(
    readonly engine: SyncEngine,
    private readonly logger: Logger,
    private readonly options: {
      pollMs?: number;
      /** The host's durability barrier (`KernelPorts.persisted`); absent: commits are durable. */
      persisted?: () => Promise<void>;
    } = {},
  ) {}

  /** Where the list of paired peers comes from (the mesh's peer store). */
  setPeers(provider: () => SyncPeer[]): void {
    this.peersOf = provider;
  }

  /**
   * Opens (or reopens) the session with a peer over `send`, and says hello (S35).
   * @returns the session; feed it with {@link receive}.
   */
  open(peer: SyncPeer, send: (m: SyncMessage) => void): SyncSession {
    this.close(peer.writerId);
    const session = new SyncSession(this.engine, { peer: peer.writerId, send, logger: this.logger, pollMs: this.options.pollMs });
    this.sessions.set(peer.writerId, { session, nodeId: peer.nodeId });
    session.start();
    return session;
  }

  /** Closes the session with a peer (its link went away). */
  close(writerId: string): void {
    const s = this.sessions.get(writerId);
    if (!s) return;
    this.sessions.delete(writerId);
    s.session.close();
  }

  /** Closes every session. */
  closeAll(): void {
    for (const id of [...this.sessions.keys()]) this.close(id);
  }

  /** Feeds a message from a peer to its session (ignored, logged, when none is open). */
  receive(writerId: string, message: unknown): void {
    const s = this.sessions.get(writerId);
    if (!s) {
      this.logger.warn('sync refused', { peer: writerId, reason: 'no session with this peer' });
      return;
    }
    s.session.receive(message);
  }

  /** The open session with a peer, if any. */
  session(writerId: string): SyncSession | undefined {
    return this.sessions.get(writerId)?.session;
  }

  /** Per paired (or synced-with) peer: connected, last sync, pending each way (S37). */
  status(): PeerSyncStatus[] {
    const peers = new Map<string, SyncPeer>();
    for (const p of this.peersOf()) peers.set(p.writerId, p);
    for (const [w, s] of this.sessions) if (!peers.has(w)) peers.set(w, { nodeId: s.nodeId, writerId: w });
    return [...peers.values()].map((p) => {
      const st = this.engine.peerState(p.writerId);
      const s = this.sessions.get(p.writerId)?.session;
      const info = s?.info();
      const pendingOut = this.engine.pendingOut(p.writerId);
      const pendingIn = Math.max(0, st.peerHead - st.received) + this.engine.waitingRows();
      return {
        nodeId: p.nodeId,
        writerId: p.writerId,
        connected: !!s && !!info?.ready,
        lastSyncAt: st.lastSyncAt,
        pendingOut,
        pendingIn,
        caughtUp: !!info?.caughtUp && pendingOut === 0 && pendingIn === 0,
        ...(info?.stalled ? { stalled: info.stalled } : {}),
      };
    });
  }

  /**
   * A full catch-up both ways with every connected peer (`fazt sync now`).
   * @returns per peer whether it completed within `timeoutMs`.
   */
  async now(timeoutMs = 30_000): Promise<{ nodeId: string; ok: boolean }[]> {
    const list = [...this.sessions.values()];
    return Promise.all(list.map(async (s) => ({ nodeId: s.nodeId, ok: await s.session.flush(timeoutMs) })));
  }

  /**
   * The sync upkeep, run every {@link FLUSH_MS} by {@link attachToMesh} (tests call it with their own
   * clock): moves captured changes to the durable log (S30), compacts the log after every
   * {@link COMPACT_EVERY} new entries, and collects tombstones older than 30 days once every
   * {@link TOMBSTONE_EVERY_MS} (S15; the first time {@link TOMBSTONE_FIRST_MS} after start). Errors are
   * logged, never thrown.
   * @param now wall-clock time, ms since the epoch.
   * @returns tombstones removed by this call (0 when it was not their turn or a peer lags).
   */
  upkeep(now: number): number {
    try {
      this.engine.flush();
      // one log entry per row is enough (S15): compact after every COMPACT_EVERY new entries
      const head = this.engine.head();
      this.compactedAt ??= head;
      if (head - this.compactedAt >= COMPACT_EVERY) {
        this.compactedAt = head;
        this.engine.compactLog();
      }
      this.tombstonesDueAt ??= now + TOMBSTONE_FIRST_MS;
      if (now < this.tombstonesDueAt) return 0;
      this.tombstonesDueAt = now + TOMBSTONE_EVERY_MS;
      const removed = this.engine.collectTombstones();
      if (removed > 0) this.logger.info('sync: tombstones collected', { removed });
      return removed;
    } catch (e) {
      this.logger.error('sync: upkeep of the change log failed', { error: String((e as Error)?.message ?? e) });
      return 0;
    }
  }

  private compactedAt: number | undefined;
  private tombstonesDueAt: number | undefined;

  /**
   * Runs sync over the mesh: a session opens with each link and closes with it; `sync` messages of
   * the links reach their session (S36). @returns detach.
   */
  attachToMesh(mesh: MeshService): () => void {
    const writerOfNode = new Map<string, string>();
    this.setPeers(() => mesh.peers.list().map((p) => ({ nodeId: p.nodeId, writerId: p.writerId })));
    const sendNow = (nodeId: string, m: SyncMessage) => {
      try {
        mesh.sendSync(nodeId, m);
      } catch (e) {
        if (!(e instanceof FaztError && e.code === 'PEER_UNREACHABLE')) this.logger.error('sync: sending failed', { peer: nodeId, error: String((e as Error)?.message ?? e) });
      }
    };
    const send = this.options.persisted ? durableSender(this.options.persisted, sendNow, this.logger) : sendNow;
    const start = (nodeId: string) => {
      const peer = mesh.peers.get(nodeId);
      if (!peer) return;
      writerOfNode.set(nodeId, peer.writerId);
      this.open({ nodeId, writerId: peer.writerId }, (m) => send(nodeId, m));
    };
    const off = mesh.onLink((nodeId, connected) => {
      if (connected) start(nodeId);
      else {
        const w = writerOfNode.get(nodeId);
        if (w) this.close(w);
      }
    });
    mesh.setSyncHandler((nodeId, m) => {
      let w = writerOfNode.get(nodeId);
      if (!w || !this.sessions.has(w)) {
        if (!mesh.connected(nodeId)) return;
        start(nodeId);
        w = writerOfNode.get(nodeId);
      }
      if (w) this.receive(w, m);
    });
    for (const p of mesh.status()) if (p.connected) start(p.nodeId);
    // captured changes reach the durable log at least every second, connected or not (S30)
    const flusher = setInterval(() => this.upkeep(Date.now()), FLUSH_MS);
    (flusher as { unref?: () => void }).unref?.();
    return () => {
      clearInterval(flusher);
      off();
      mesh.setSyncHandler(undefined);
      this.closeAll();
    };
  }
}

/**
 * S39: a sender that holds each outgoing sync message until the state it tells of is durable. A batch
 * names seqs of this node's change log and an ack names the peer's changes applied here; a peer told
 * of state that lived only in memory would, after a crash, be ahead of this node's cartridge (S38
 * then has to repair it). `persisted` is the host's barrier (`KernelPorts.persisted`).
 * Messages keep their order; those queued during one persist share the next. A persist that fails
 * drops the queue: memory is reloaded from disk, and the link's next session resumes from the marks
 * on disk (S34).
 * @returns the gated `send(nodeId, message)`.
 */
export function durableSender(persisted: () => Promise<void>, send: (nodeId: string, m: SyncMessage) => void, logger: Logger): (nodeId: string, m: SyncMessage) => void {
  const queue: [string, SyncMessage][] = [];
  let draining = false;
  const drain = async () => {
    try {
      while (queue.length) {
        // only the messages queued before this persist began are covered by it: one queued while it
        // runs may tell of a write its image does not hold, and waits for the next
        const covered = queue.splice(0);
        try {
          await persisted();
        } catch (e) {
          logger.warn('sync: not persisted, the messages waiting for it are dropped', { dropped: covered.length + queue.length, error: String((e as Error)?.message ?? e) });
          queue.length = 0;
          break;
        }
        for (const [n, m] of covered) send(n, m);
      }
    } finally {
      draining = false;
    }
  };
  return (nodeId, m) => {
    queue.push([nodeId, m]);
    if (draining) return;
    draining = true;
    void drain();
  };
}
