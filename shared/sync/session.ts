/**
 * `SyncSession`: the sync protocol with one peer over any message channel (docs/sync-spec.md §5):
 * hello, catch-up in acknowledged batches from the peer's high-water mark, then live pushes, and
 * chunk transfer for content. Transport-neutral: it needs `send(message)` and is fed received
 * messages with {@link SyncSession.receive}. In Fazt the channel is the authenticated, encrypted
 * `PeerLink` (S36); tests use in-memory channels that drop, duplicate and reorder.
 */
import type { Logger } from '../ports.js';
import type { SyncEngine } from './engine.js';
import { SyncRefused } from './rows.js';

/**
 * How far past our log head a peer's `received` may be (S38): entries a node can lose between a
 * commit and its save (a browser node's image) are a few thousand at most; more is a lie, refused.
 */
export const MAX_LOST_ENTRIES = 1_000_000;

/** Protocol version in `hello`. */
export const SYNC_PROTOCOL_VERSION = 1;
/** Unacknowledged batches in flight per session (S35). */
export const WINDOW = 4;
/** How often a session looks for new local changes to push, ms (S35). */
export const POLL_MS = 20;
/** Raw bytes of one chunk part (base64 in JSON stays well under the link's 256 KiB frame). */
export const CHUNK_PART_BYTES = 96 * 1024;
/** Chunks requested at once (bounds memory during a big transfer). */
export const CHUNKS_IN_FLIGHT = 32;
/** A message longer than this (JSON characters) is sent in parts. */
export const MAX_MESSAGE_CHARS = 160 * 1024;
/** Most characters of one reassembled message (a 1 MiB kv value, escaped, fits). */
export const MAX_ASSEMBLED_CHARS = 16 * 1024 * 1024;

/** Bytes → standard base64 (RFC 4648 §4), 8 KiB at a time (per-byte string building is slow on 96 KiB parts). */
function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 8192) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  return btoa(bin);
}

/** Standard base64 → bytes. @throws Error on invalid input. */
function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A sync message (the `m` of `{t: 'sync', m}` on the link). */
export type SyncMessage = Record<string, unknown> & { k: string };

/** Options of {@link SyncSession}. */
export interface SyncSessionOptions {
  /** The peer's writer id (the key of its high-water marks). */
  peer: string;
  /** Sends one message to the peer (a JSON-safe object). */
  send: (m: SyncMessage) => void;
  logger: Logger;
  /** Live-push poll interval, ms; 0 turns polling off (tests call {@link SyncSession.pump}). */
  pollMs?: number;
}

/** The state of one session, for `status()` (S37). */
export interface SessionInfo {
  peer: string;
  /** The peer's hello arrived. */
  ready: boolean;
  /** Everything of ours up to the head is acknowledged and nothing of the peer's is known to be missing. */
  caughtUp: boolean;
  /** Batches in flight. */
  inflight: number;
  /** Our log is sent up to this seq. */
  sentTo: number;
  /** Our log head. */
  head: number;
  /** Chunks wanted from the peer or asked for and not yet here. */
  chunksWanted: number;
  /** Why the peer refused our last batch, if it did. */
  stalled?: string;
}

/** One sync session with one peer. */
export class SyncSession {
  private ready = false;
  private closed = false;
  /** Next seq of our log to send from (the peer's `received` as it said, then advanced as we send). */
  private nextFrom = 0;
  private inflight: { to: number; at: number }[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private stalled: string | undefined;
  private readonly wanted: string[] = [];
  private readonly requested = new Set<string>();
  private readonly flushWaiters = new Map<string, () => void>();
  private readonly peerFlushes = new Set<string>();
  private readonly parts = new Map<string, { n: number; got: string[]; count: number; chars: number }>();
  private partSeq = 0;
  private flushSeq = 0;
  private unsubscribe: () => void;

  constructor(
    private readonly engine: SyncEngine,
    private readonly options: SyncSessionOptions,
  ) {
    this.unsubscribe = engine.onApplied(() => this.pump());
  }

  /** The peer's writer id. */
  get peer(): string {
    return this.options.peer;
  }

  /** Sends hello and starts the live-push poll (S35). */
  start(): void {
    this.send({ k: 'hello', v: SYNC_PROTOCOL_VERSION, writer: this.engine.writer, received: this.engine.peerState(this.peer).received });
    for (const c of this.engine.missingChunks(this.peer)) this.want(c);
    const poll = this.options.pollMs ?? POLL_MS;
    if (poll > 0) this.timer = setInterval(() => this.pump(), poll);
  }

  /** Stops the session (the link closed). Nothing is lost: the next session resumes (S34). */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe();
    for (const w of this.flushWaiters.values()) w();
    this.flushWaiters.clear();
  }

  /** Where the session stands. */
  info(): SessionInfo {
    const head = this.engine.head();
    const caughtUp = this.ready && this.inflight.length === 0 && this.nextFrom >= head && this.wanted.length === 0 && this.requested.size === 0;
    return {
      peer: this.peer,
      ready: this.ready,
      caughtUp,
      inflight: this.inflight.length,
      sentTo: this.nextFrom,
      head,
      chunksWanted: this.wanted.length + this.requested.size,
      ...(this.stalled ? { stalled: this.stalled } : {}),
    };
  }

  private send(m: SyncMessage): void {
    if (this.closed) return;
    const text = JSON.stringify(m);
    if (text.length <= MAX_MESSAGE_CHARS) {
      this.options.send(m);
      return;
    }
    const id = `${++this.partSeq}`;
    const n = Math.ceil(text.length / MAX_MESSAGE_CHARS);
    for (let i = 0; i < n; i++) this.options.send({ k: 'part', id, i, n, s: text.slice(i * MAX_MESSAGE_CHARS, (i + 1) * MAX_MESSAGE_CHARS) });
  }

  /** Sends what the window allows: batches of our log past what the peer has (S32, S35). */
  pump(): void {
    if (this.closed || !this.ready || this.stalled) return;
    const head = this.engine.head();
    while (this.inflight.length < WINDOW && this.nextFrom < head) {
      const b = this.engine.readBatch(this.peer, this.nextFrom);
      this.inflight.push({ to: b.to, at: Date.now() });
      this.nextFrom = b.to;
      this.send({ k: 'batch', from: b.from, to: b.to, head: b.head, rows: b.rows });
    }
    this.settleFlushes();
  }

  /**
   * Resolves when this side's log (as of now) is acknowledged by the peer and the peer says the
   * same of its log: a full catch-up both ways (`fazt sync now`).
   * @param timeoutMs resolves `false` after this long.
   */
  flush(timeoutMs = 30_000): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    const id = `${++this.flushSeq}`;
    const target = this.engine.head();
    return new Promise<boolean>((resolve) => {
      let mine = false;
      let theirs = false;
      const timer = setTimeout(() => {
        this.flushWaiters.delete(id);
        this.flushWaiters.delete(`${id}:mine`);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        if (mine && theirs) {
          clearTimeout(timer);
          resolve(!this.closed);
        }
      };
      this.flushWaiters.set(`${id}:mine`, () => {
        mine = true;
        done();
      });
      this.flushWaiters.set(id, () => {
        theirs = true;
        done();
      });
      this.targets.set(`${id}:mine`, target);
      this.send({ k: 'flush', id });
      this.pump();
    });
  }

  private readonly targets = new Map<string, number>();

  /** Settles our own flush waits whose target is acknowledged, and answers the peer's flush requests. */
  private settleFlushes(): void {
    const acked = this.engine.peerState(this.peer).acked;
    const settledOut = this.inflight.length === 0 && this.nextFrom >= this.engine.head();
    const fetched = this.wanted.length === 0 && this.requested.size === 0;
    for (const [key, target] of this.targets) {
      if (fetched && this.ready && (acked >= target || settledOut)) {
        this.targets.delete(key);
        const w = this.flushWaiters.get(key);
        this.flushWaiters.delete(key);
        w?.();
      }
    }
    if (settledOut && this.wanted.length === 0 && this.requested.size === 0) {
      for (const id of this.peerFlushes) this.send({ k: 'flushed', id });
      this.peerFlushes.clear();
    }
  }

  private refuse(kind: string, reason: string): void {
    this.options.logger.warn('sync refused', { peer: this.peer, kind, reason });
  }

  /** Feeds one message from the peer. Never throws: a bad message is refused and logged (S40). */
  receive(raw: unknown): void {
    if (this.closed) return;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || typeof (raw as SyncMessage).k !== 'string') {
      this.refuse('?', 'a sync message is not an object with a kind');
      return;
    }
    const m = raw as SyncMessage;
    try {
      this.handle(m);
    } catch (e) {
      if (e instanceof SyncRefused) {
        this.refuse(m.k, e.message);
        if (m.k === 'batch' && typeof m.to === 'number') this.send({ k: 'refused', to: m.to, reason: e.message.slice(0, 300) });
      } else {
        this.options.logger.error('sync: handling a message failed', { peer: this.peer, kind: m.k, error: String((e as Error)?.message ?? e) });
      }
    }
  }

  private handle(m: SyncMessage): void {
    switch (m.k) {
      case 'hello': {
        if (m.v !== SYNC_PROTOCOL_VERSION) throw new SyncRefused(`protocol version ${String(m.v)} is not ${SYNC_PROTOCOL_VERSION}`);
        if (m.writer !== this.peer) throw new SyncRefused('hello names another writer than the paired peer');
        if (typeof m.received !== 'number' || !Number.isSafeInteger(m.received) || m.received < 0) throw new SyncRefused('malformed hello');
        // the peer's `received` is what it has of our log: resume from there (S34); past our head,
        // we lost entries it saw: number on after them (S38)
        if (m.received > this.engine.head() + MAX_LOST_ENTRIES) throw new SyncRefused(`hello says ${m.received} entries of our log were received; we never wrote that many`);
        this.engine.skipPast(this.peer, m.received);
        this.nextFrom = Math.min(m.received, this.engine.head());
        this.inflight = [];
        this.stalled = undefined;
        this.engine.acked(this.peer, this.nextFrom);
        this.ready = true;
        this.pump();
        return;
      }
      case 'batch': {
        const r = this.engine.apply(this.peer, { from: m.from as number, to: m.to as number, head: m.head as number, rows: m.rows as unknown[] });
        // `received` is the contiguous mark (S31): a batch applied out of order is acknowledged but not counted
        this.send({ k: 'ack', to: m.to as number, received: this.engine.peerState(this.peer).received });
        for (const c of r.needs) this.want(c);
        this.settleFlushes();
        return;
      }
      case 'ack': {
        const head = this.engine.head();
        if (typeof m.to !== 'number' || !Number.isSafeInteger(m.to) || m.to > head) throw new SyncRefused('malformed ack');
        if (typeof m.received !== 'number' || !Number.isSafeInteger(m.received) || m.received > head) throw new SyncRefused('malformed ack');
        this.engine.acked(this.peer, m.received);
        const i = this.inflight.findIndex((x) => x.to === m.to);
        if (i >= 0) this.inflight.splice(i, 1);
        this.pump();
        return;
      }
      case 'refused': {
        this.stalled = typeof m.reason === 'string' ? m.reason.slice(0, 300) : 'refused';
        this.options.logger.warn('sync: the peer refused a batch', { peer: this.peer, reason: this.stalled });
        return;
      }
      case 'need': {
        if (!Array.isArray(m.chunks) || m.chunks.length > 1000) throw new SyncRefused('malformed need');
        for (const h of m.chunks) {
          if (typeof h !== 'string') throw new SyncRefused('malformed need');
          const data = this.engine.readChunk(h);
          if (!data) {
            this.send({ k: 'nochunk', hash: h });
            continue;
          }
          for (let off = 0; off < data.length || off === 0; off += CHUNK_PART_BYTES) {
            this.send({ k: 'chunk', hash: h, off, total: data.length, data: toBase64(data.subarray(off, off + CHUNK_PART_BYTES)) });
            if (data.length === 0) break;
          }
        }
        return;
      }
      case 'chunk': {
        if (typeof m.hash !== 'string' || typeof m.data !== 'string') throw new SyncRefused('malformed chunk');
        let bytes: Uint8Array;
        try {
          bytes = fromBase64(m.data);
        } catch {
          throw new SyncRefused('malformed chunk data');
        }
        if (!this.requested.has(m.hash)) {
          if (this.engine.hasChunk(m.hash)) return; // a duplicate of one already stored
          throw new SyncRefused('a chunk this node did not ask for');
        }
        let done = false;
        try {
          done = this.engine.receiveChunkPart(m.hash, m.off as number, m.total as number, bytes);
        } catch (e) {
          this.requested.delete(m.hash);
          throw e;
        }
        if (done) {
          this.requested.delete(m.hash);
          this.requestMore();
          // waiting rows are retried once the chunks asked for are all here (not after each one)
          if (this.requested.size === 0) this.engine.retryPending();
          this.settleFlushes();
        }
        return;
      }
      case 'nochunk': {
        if (typeof m.hash === 'string') this.requested.delete(m.hash);
        if (this.requested.size === 0) this.engine.retryPending();
        this.options.logger.info('sync: the peer no longer has a chunk (a newer row replaces the one that needed it)', { peer: this.peer, hash: String(m.hash).slice(0, 16) });
        this.requestMore();
        return;
      }
      case 'flush': {
        if (typeof m.id !== 'string') throw new SyncRefused('malformed flush');
        this.peerFlushes.add(m.id);
        this.pump();
        this.settleFlushes();
        return;
      }
      case 'flushed': {
        if (typeof m.id !== 'string') return;
        const w = this.flushWaiters.get(m.id);
        this.flushWaiters.delete(m.id);
        w?.();
        return;
      }
      case 'part': {
        const { id, i, n, s } = m as unknown as { id: unknown; i: unknown; n: unknown; s: unknown };
        if (typeof id !== 'string' || typeof s !== 'string' || !Number.isSafeInteger(i) || !Number.isSafeInteger(n) || (n as number) < 1 || (i as number) < 0 || (i as number) >= (n as number)) {
          throw new SyncRefused('malformed part');
        }
        let e = this.parts.get(id);
        if (!e) this.parts.set(id, (e = { n: n as number, got: new Array<string>(n as number), count: 0, chars: 0 }));
        if (e.got[i as number] === undefined) {
          e.got[i as number] = s;
          e.count++;
          e.chars += s.length;
        }
        if (e.chars > MAX_ASSEMBLED_CHARS) {
          this.parts.delete(id);
          throw new SyncRefused('a message in parts is too long');
        }
        if (e.count < e.n) return;
        this.parts.delete(id);
        let whole: unknown;
        try {
          whole = JSON.parse(e.got.join(''));
        } catch {
          throw new SyncRefused('a message in parts is not JSON');
        }
        this.receive(whole);
        return;
      }
      default:
        throw new SyncRefused(`unknown message kind ${JSON.stringify(m.k.slice(0, 20))}`);
    }
  }

  private want(hash: string): void {
    if (this.requested.has(hash) || this.wanted.includes(hash)) return;
    this.wanted.push(hash);
    this.requestMore();
  }

  private requestMore(): void {
    const batch: string[] = [];
    while (this.requested.size < CHUNKS_IN_FLIGHT && this.wanted.length > 0) {
      const h = this.wanted.shift()!;
      this.requested.add(h);
      batch.push(h);
    }
    if (batch.length) this.send({ k: 'need', chunks: batch });
  }
}
