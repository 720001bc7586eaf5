import { FaztError } from '../errors.js';
import { checkChannel, encodeData } from './channels.js';

/**
 * The kernel's realtime service (docs/realtime.md): per-app channels, the pages subscribed to them,
 * and a bounded replay window per channel so a page that lost its connection resumes with
 * `Last-Event-ID` without missing what was published meanwhile.
 *
 * Everything here lives in memory, on purpose: messages are notifications of a change ("the list
 * changed, here is the new item"), not the change itself, which the app keeps in `fazt.kv` /
 * `fazt.docs`. Writing each one to the cartridge would cost a transaction per publish, grow the file,
 * and get synced to peers for nothing; after a restart every page gets a `reset` event and reloads
 * the state from the app instead.
 *
 * Ids are `<epoch>-<seq>`: `epoch` names this service instance (a node restart or a new service
 * worker starts a new one), `seq` counts up by one per message of the app (all its channels share
 * one sequence). A resume with an id of another epoch, or one the window no longer covers, is
 * answered with a `reset` event instead of a silent gap.
 */

/** Limits and timings of a {@link RealtimeService}. */
export interface RealtimeOptions {
  /** Messages kept per channel for resume. Default 100. */
  replayMessages?: number;
  /** How long a message is kept for resume, ms. Default 120 000 (2 min). */
  replayMs?: number;
  /** Channels per app that keep a replay buffer (the least recently published lose theirs first). Default 256. */
  maxChannelsKept?: number;
  /** Open streams (pages) per app; one more is refused with `RATE_LIMITED`. Default 1024. */
  maxStreamsPerApp?: number;
  /** Interval of the comment line sent on every stream to keep idle connections (and proxies) open, ms. Default 15 000. */
  heartbeatMs?: number;
  /** Events queued for a slow stream before it is ended (it reconnects and resumes). Default 1000. */
  maxQueuedEvents?: number;
  /** The clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** Defaults of {@link RealtimeOptions}. */
export const DEFAULT_REALTIME_OPTIONS: Required<Omit<RealtimeOptions, 'now'>> = {
  replayMessages: 100,
  replayMs: 120_000,
  maxChannelsKept: 256,
  maxStreamsPerApp: 1024,
  heartbeatMs: 15_000,
  maxQueuedEvents: 1000,
};

/** One published message. */
export interface RealtimeMessage {
  /** `<epoch>-<seq>`, the SSE event id. */
  id: string;
  /** Position in the app's sequence (1, 2, …). */
  seq: number;
  /** App-local channel name. */
  channel: string;
  /** The data as JSON text. */
  json: string;
  /** When it was published, ms epoch. */
  at: number;
  /** The SSE event as sent on every stream (encoded once, shared by all subscribers). */
  wire: Uint8Array;
}

/** What {@link RealtimeService.publish} reports. */
export interface PublishResult {
  /** The message's id (what pages see as `lastEventId`). */
  id: string;
  /** Streams it was handed to now. */
  delivered: number;
}

/** Why a resume cannot replay everything since the page's last id. */
export interface ResetInfo {
  /** `restarted` (the id is from before a restart), `unknown` (an id this app never gave), `expired` (older than the window). */
  reason: 'restarted' | 'unknown' | 'expired';
  /** The channels that lost messages (all asked for, for `restarted`/`unknown`). */
  channels: string[];
}

/** A subscriber: one stream (one page) following some channels of one app. */
export interface RealtimeSubscriber {
  /** The channels it follows. */
  readonly channels: ReadonlySet<string>;
  /** Called with each message of those channels, synchronously in publish order. */
  deliver(message: RealtimeMessage): void;
}

/** What {@link RealtimeService.subscribe} returns. */
export interface Subscription {
  /** The app's current id (the last message's, or `<epoch>-0`): a resume from here misses nothing. */
  head: string;
  /** Messages published after the given last id, in order (empty without one). */
  replay: RealtimeMessage[];
  /** Set when the replay is incomplete: the page should reload its state. */
  reset?: ResetInfo;
  /** Stops delivery (idempotent). */
  unsubscribe(): void;
}

/** A channel's replay buffer. */
interface ChannelBuffer {
  messages: RealtimeMessage[];
  /** Highest seq of this channel dropped from the buffer (0: none). */
  lostUpTo: number;
}

/** One app's channels. */
interface AppChannels {
  seq: number;
  /** Replay buffers, least recently published first (Map insertion order). */
  buffers: Map<string, ChannelBuffer>;
  /** Highest seq of any channel whose whole buffer was dropped (LRU). */
  lostUpTo: number;
  subscribers: Map<string, Set<RealtimeSubscriber>>;
  streams: number;
}

const encoder = new TextEncoder();

/** Per-app channels, subscribers and replay windows; host-neutral (both nodes run it). */
export class RealtimeService {
  /** This instance's epoch: the first part of every id. */
  readonly epoch: string;
  /** The limits and timings in force ({@link DEFAULT_REALTIME_OPTIONS} with the given ones). */
  readonly options: Required<Omit<RealtimeOptions, 'now'>>;
  private readonly now: () => number;
  private readonly apps = new Map<string, AppChannels>();
  private readonly heartbeats = new Set<() => void>();
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private readonly closers = new Map<string, Set<() => void>>();

  /** @param options limits and timings; absent ones are {@link DEFAULT_REALTIME_OPTIONS}. */
  constructor(options: RealtimeOptions = {}) {
    const { now, ...rest } = options;
    this.options = { ...DEFAULT_REALTIME_OPTIONS, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) };
    this.now = now ?? Date.now;
    this.epoch = this.now().toString(36) + Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0');
  }

  private app(appId: string): AppChannels {
    let a = this.apps.get(appId);
    if (!a) {
      a = { seq: 0, buffers: new Map(), lostUpTo: 0, subscribers: new Map(), streams: 0 };
      this.apps.set(appId, a);
    }
    return a;
  }

  /** Drops messages older than the window from a buffer. */
  private prune(buf: ChannelBuffer): void {
    const oldest = this.now() - this.options.replayMs;
    let drop = 0;
    while (drop < buf.messages.length && buf.messages[drop]!.at < oldest) drop++;
    if (drop) {
      buf.lostUpTo = Math.max(buf.lostUpTo, buf.messages[drop - 1]!.seq);
      buf.messages.splice(0, drop);
    }
  }

  /**
   * Publishes a message on one of an app's channels: it is kept for resume and handed, now and in
   * order, to every stream of that app following the channel. The channel is always the app's own
   * (keyed by `appId`, which the runtime takes from the calling sandbox, never from app code).
   * @param appId the publishing app's id.
   * @param channel app-local channel name (see `checkChannel`).
   * @param data any JSON value, at most `MAX_DATA_BYTES` (64 KiB) as JSON.
   * @throws FaztError `INVALID_ARGUMENT` (bad channel, data not JSON), `PAYLOAD_TOO_LARGE`.
   */
  publish(appId: string, channel: string, data: unknown): PublishResult {
    checkChannel(channel, 'fazt.realtime.publish');
    const json = encodeData(data, 'fazt.realtime.publish');
    const a = this.app(appId);
    const seq = ++a.seq;
    const id = `${this.epoch}-${seq}`;
    const body = `{"channel":${JSON.stringify(channel)},"data":${json}}`;
    const message: RealtimeMessage = { id, seq, channel, json, at: this.now(), wire: encoder.encode(`id: ${id}\ndata: ${body}\n\n`) };
    let buf = a.buffers.get(channel);
    if (buf) a.buffers.delete(channel); // re-insert: most recently published last
    else buf = { messages: [], lostUpTo: 0 };
    a.buffers.set(channel, buf);
    buf.messages.push(message);
    if (buf.messages.length > this.options.replayMessages) buf.lostUpTo = Math.max(buf.lostUpTo, buf.messages.shift()!.seq);
    this.prune(buf);
    while (a.buffers.size > this.options.maxChannelsKept) {
      const [oldName, old] = a.buffers.entries().next().value as [string, ChannelBuffer];
      a.buffers.delete(oldName);
      a.lostUpTo = Math.max(a.lostUpTo, old.lostUpTo, old.messages.at(-1)?.seq ?? 0);
    }
    let delivered = 0;
    const subs = a.subscribers.get(channel);
    if (subs) {
      for (const s of subs) {
        s.deliver(message);
        delivered++;
      }
    }
    return { id, delivered };
  }

  /**
   * Subscribes to channels of an app and returns what was missed since `lastEventId`.
   * Synchronous, so no message falls between the replay and live delivery.
   * @param lastEventId the last id the page saw (`Last-Event-ID`), or `undefined` for a fresh start.
   */
  subscribe(appId: string, subscriber: RealtimeSubscriber, lastEventId?: string): Subscription {
    const a = this.app(appId);
    const channels = [...subscriber.channels];
    const replay: RealtimeMessage[] = [];
    let reset: ResetInfo | undefined;
    if (lastEventId !== undefined && lastEventId !== '') {
      const m = /^([0-9a-z]+)-(\d{1,15})$/.exec(lastEventId);
      if (!m || m[1] !== this.epoch) reset = { reason: m ? 'restarted' : 'unknown', channels };
      else if (Number(m[2]) > a.seq) reset = { reason: 'unknown', channels };
      else {
        const last = Number(m[2]);
        const lost: string[] = [];
        for (const c of channels) {
          const buf = a.buffers.get(c);
          if (buf) this.prune(buf);
          if (a.lostUpTo > last || (buf && buf.lostUpTo > last)) lost.push(c);
          if (buf) for (const msg of buf.messages) if (msg.seq > last) replay.push(msg);
        }
        replay.sort((x, y) => x.seq - y.seq);
        if (lost.length) reset = { reason: 'expired', channels: lost };
      }
    }
    for (const c of channels) {
      let set = a.subscribers.get(c);
      if (!set) a.subscribers.set(c, (set = new Set()));
      set.add(subscriber);
    }
    let done = false;
    return {
      head: `${this.epoch}-${a.seq}`,
      replay,
      ...(reset ? { reset } : {}),
      unsubscribe: () => {
        if (done) return;
        done = true;
        for (const c of channels) {
          const set = a.subscribers.get(c);
          set?.delete(subscriber);
          if (set && !set.size) a.subscribers.delete(c);
        }
      },
    };
  }

  /**
   * Counts a stream against the app's cap.
   * @returns a release function (idempotent).
   * @throws FaztError `RATE_LIMITED` when the app has {@link RealtimeOptions.maxStreamsPerApp} open.
   */
  acquireStream(appId: string, appName: string): () => void {
    const a = this.app(appId);
    if (a.streams >= this.options.maxStreamsPerApp) {
      throw new FaztError('RATE_LIMITED', `The app "${appName}" has ${a.streams} realtime streams open, the most a node keeps per app. Close some pages and try again.`, {
        retryAfterSeconds: 5,
      });
    }
    a.streams++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      a.streams--;
    };
  }

  /**
   * Registers a stream's heartbeat and its closer: `beat` runs every `heartbeatMs` (one timer for
   * all streams), `close` when the app is removed or the service stops.
   * @returns the function that unregisters both.
   */
  track(appId: string, beat: () => void, close: () => void): () => void {
    this.heartbeats.add(beat);
    let set = this.closers.get(appId);
    if (!set) this.closers.set(appId, (set = new Set()));
    set.add(close);
    if (!this.heartbeatTimer) {
      this.heartbeatTimer = setInterval(() => {
        for (const b of [...this.heartbeats]) b();
      }, this.options.heartbeatMs);
      (this.heartbeatTimer as { unref?: () => void }).unref?.(); // never keeps a Node process alive
    }
    return () => {
      this.heartbeats.delete(beat);
      set.delete(close);
      if (!set.size) this.closers.delete(appId);
      if (!this.heartbeats.size && this.heartbeatTimer) {
        clearInterval(this.heartbeatTimer);
        this.heartbeatTimer = undefined;
      }
    };
  }

  /** Open streams of an app (diagnostics, tests). */
  streams(appId: string): number {
    return this.apps.get(appId)?.streams ?? 0;
  }

  /** Ends every stream of an app and forgets its channels (the app was removed). */
  closeApp(appId: string): void {
    for (const close of [...(this.closers.get(appId) ?? [])]) close();
    this.apps.delete(appId);
  }

  /** Ends every stream (the node stops). Pages reconnect to whatever serves them next. */
  closeAll(): void {
    for (const appId of [...this.closers.keys()]) for (const close of [...(this.closers.get(appId) ?? [])]) close();
  }
}
