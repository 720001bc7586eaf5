import { describeFailure, retryDelay, silentLogger } from '../lib/retry.js';
import type { Validator } from '@cfworker/json-schema';
import type { AppManifest } from '../apps/manifest.js';
import type { AppRegistry } from '../apps/registry.js';
import type { Cartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import type { Logger } from '../ports.js';
import type { InvokeExport } from '../lib/invoke.js';
import { MAX_JSON_BYTES, toStoredJson } from '../lib/stored-json.js';
import { TimedDispatcher } from '../lib/dispatcher.js';
import { hostTimers, type HostTimers } from '../lib/timer.js';
import { LruCache } from '../lib/lru.js';
import { checkPayload, compilePayloadSchema } from './schema.js';

/** Syntax of an event type: 1–100 letters, digits, `_`, `.` or `-` (`note.created`). */
export const EVENT_TYPE_PATTERN = /^[a-zA-Z0-9_.-]{1,100}$/;

/**
 * The emitter id and name of the node's own events ({@link EventBus.emitSystem}): `fazt`, a reserved
 * app name, so no app can emit as it or be confused with it. Apps subscribe with `"fazt:pulse.alert"`.
 */
export const SYSTEM_EMITTER = 'fazt';

/** An event, as subscribers' `on(event)` exports, the dashboard and the API see it. */
export interface EventRecord {
  /** Unique id: the emitting node's HLC timestamp, so ids sort in emission order. */
  id: string;
  /** The emitting app's name (its current name when read). */
  app: string;
  /** The emitting app's UUID. */
  appId: string;
  /** Event type, e.g. `note.created`. */
  type: string;
  /** The JSON payload (`null` when the emitter passed none). */
  payload: unknown;
  /** ms epoch. */
  createdAt: number;
}

/** One event's delivery to one subscriber. */
export interface DeliveryInfo {
  eventId: string;
  /** The subscriber's app UUID. */
  appId: string;
  /** `pending` (waiting or retrying), `done` or `failed` (attempts exhausted or not deliverable). */
  status: 'pending' | 'done' | 'failed';
  /** Attempts made. */
  attempts: number;
  /** Pending: when the next attempt is due; finished: when it finished. ms epoch. */
  nextAt: number;
  /** Message of the last failure, `null` when none. */
  lastError: string | null;
}

/** Options of {@link EventBus}. */
export interface EventBusOptions {
  /** Delay before the first retry, ms; retry n waits `retryBaseMs · 2^(n−1)` (capped at 1 day). Default 1000. */
  retryBaseMs?: number;
  /** Attempts per delivery (first included) before it becomes `failed`. Default 5. */
  maxAttempts?: number;
  /** Most deliveries in progress at once over all subscribers (each subscriber gets one at a time). Default 4. */
  concurrency?: number;
  /** Where delivery failures are reported. Default: silent. */
  logger?: Logger;
  /** Host timers (tests pass fakes). Default: `globalThis.setTimeout`. */
  timers?: HostTimers;
}


/** A parsed `events.subscribe` entry: `source` is the named emitter, `null` for the app's own events. */
interface Subscription {
  source: string | null;
  type: string;
}

/** What the bus needs from one immutable app version's manifest. */
interface VersionInfo {
  subscriptions: Subscription[];
  emits: Record<string, unknown>;
  validators: Map<string, Validator>;
}

interface LiveApp {
  id: string;
  name: string;
  /** `null` before the first deploy completed. */
  version: number | null;
}

/** Result of one delivery attempt. */
type Outcome = { ok: true } | { ok: false; message: string; permanent: boolean };

interface DeliveryRow {
  event_id: string;
  app_id: string;
  status: 'pending' | 'done' | 'failed';
  attempts: number;
  next_at: number;
  last_error: string | null;
}

interface EventRow {
  id: string;
  app_id: string;
  type: string;
  payload: string;
  created_at: number;
  name: string | null;
}

function parseSubscription(s: string): Subscription {
  const i = s.indexOf(':');
  return i < 0 ? { source: null, type: s } : { source: s.slice(0, i), type: s.slice(i + 1) };
}

function toRecord(r: EventRow): EventRecord {
  return { id: r.id, app: r.name ?? r.app_id, appId: r.app_id, type: r.type, payload: JSON.parse(r.payload) as unknown, createdAt: r.created_at };
}

/**
 * The event bus (`fazt.events`). {@link EventBus.emit} stores the event and one delivery per
 * subscriber in a single transaction and returns at once; a dispatcher then calls each subscriber's
 * `on(event)` export, asynchronously, in emission order per subscriber, with retries. Pending
 * deliveries live in the cartridge, so they survive restarts.
 *
 * Who receives an event of app E with type T: every live app S whose current manifest has in
 * `events.subscribe`
 * - `"T"` or `"*"` — only when S is E (an app's own events);
 * - `"<name>:T"` or `"<name>:*"` where `<name>` is a name or alias of E — when S is E, or when the
 *   owner granted S the permission `events:<name>`.
 * Subscription and permission are checked again at delivery: an app that stopped subscribing, or
 * lost the grant, gets nothing more (the delivery is marked `failed`).
 *
 * Delivery is at-least-once: a run interrupted by a crash is delivered again after restart.
 */
export class EventBus {
  private readonly retryBaseMs: number;
  private readonly maxAttempts: number;
  private readonly concurrency: number;
  private readonly logger: Logger;
  /** One delivery per subscriber (the lane), `concurrency` overall, one host timer: see `lib/dispatcher.ts`. */
  private readonly dispatcher: TimedDispatcher<DeliveryRow>;
  private readonly versions = new LruCache<string, VersionInfo>(500);
  /** In-flight deliveries by subscriber app id. */

  /**
   * @param cart the open cartridge (`events`, `event_deliveries`; its clock and HLC).
   * @param apps the app registry: live apps, their manifests and aliases.
   * @param grants permissions the owner granted an app (e.g. `['events:ping-app']`), by app id.
   * @param invoke runs an app export in the sandbox.
   */
  constructor(
    private readonly cart: Cartridge,
    private readonly apps: AppRegistry,
    private readonly grants: (appId: string) => string[],
    private readonly invoke: InvokeExport,
    opts: EventBusOptions = {},
  ) {
    this.retryBaseMs = opts.retryBaseMs ?? 1000;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 5);
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.logger = opts.logger ?? silentLogger;
    this.dispatcher = new TimedDispatcher<DeliveryRow>(
      {
        nextDue: (busy) => this.nextDue(busy),
        claim: (now, busy) => {
          const d = this.heads().find((h) => h.next_at <= now && !busy.has(h.app_id));
          return d && { lane: d.app_id, item: d };
        },
        run: (d) => this.deliver(d),
      },
      { concurrency: this.concurrency, timers: opts.timers ?? hostTimers, now: () => this.now(), logger: this.logger, name: 'events' },
    );
  }

  private get db() {
    return this.cart.db;
  }

  private now(): number {
    return this.cart.clock.now();
  }

  // ---------------------------------------------------------------- apps and subscriptions

  private liveApps(): LiveApp[] {
    return this.db.query<LiveApp>('SELECT id, name, current_version AS version FROM apps WHERE deleted = 0 AND current_version IS NOT NULL ORDER BY id');
  }

  private liveApp(appId: string): LiveApp | undefined {
    return this.db.get<LiveApp>('SELECT id, name, current_version AS version FROM apps WHERE id = ? AND deleted = 0', [appId]);
  }

  /** Parsed manifest facts of an immutable version (cached). */
  private versionInfo(appId: string, version: number | null): VersionInfo {
    const empty: VersionInfo = { subscriptions: [], emits: {}, validators: new Map() };
    if (version === null) return empty;
    const key = `${appId}\u0000${version}`;
    let info = this.versions.get(key);
    if (!info) {
      const m: AppManifest | undefined = this.apps.manifest(appId, version);
      const events = (m?.events ?? {}) as Partial<AppManifest['events']>;
      info = { subscriptions: (events.subscribe ?? []).map(parseSubscription), emits: events.emits ?? {}, validators: new Map() };
      this.versions.set(key, info);
    }
    return info;
  }

  /**
   * Subscriber app ids for an event, with permissions applied.
   * @param emitterAppId the emitting app's UUID.
   * @param type event type.
   * @returns app ids (sorted), empty when the emitter is not a live app.
   */
  subscribersOf(emitterAppId: string, type: string): string[] {
    const emitter = emitterAppId === SYSTEM_EMITTER ? { id: SYSTEM_EMITTER } : this.liveApp(emitterAppId);
    if (!emitter) return [];
    const resolved = new Map<string, string | undefined>();
    const resolve = (name: string) => {
      // "fazt" is a reserved app name: in a subscription it names the node itself
      if (!resolved.has(name)) resolved.set(name, name === SYSTEM_EMITTER ? SYSTEM_EMITTER : this.apps.lookupAlias(name)?.id);
      return resolved.get(name);
    };
    const out: string[] = [];
    for (const app of this.liveApps()) {
      let granted: string[] | undefined;
      const match = this.versionInfo(app.id, app.version).subscriptions.some((s) => {
        if (s.type !== '*' && s.type !== type) return false;
        if (s.source === null) return app.id === emitter.id;
        if (resolve(s.source) !== emitter.id) return false;
        if (app.id === emitter.id) return true;
        granted ??= this.grants(app.id);
        return granted.includes(`events:${s.source}`);
      });
      if (match) out.push(app.id);
    }
    return out;
  }

  // ---------------------------------------------------------------- emit

  /**
   * Emits an event: validates it, stores it with one pending delivery per subscriber (one
   * transaction) and returns; delivery happens later, asynchronously.
   * @param appId the emitting app's UUID.
   * @param type event type, see {@link EVENT_TYPE_PATTERN}.
   * @param payload JSON-serializable value (`undefined` is stored as `null`), at most 64 KiB of JSON.
   *   When the emitter's live manifest declares `events.emits[type]`, the payload must satisfy that schema.
   * @returns the stored event (its `payload` is the JSON round-trip of the given one).
   * @throws FaztError `INVALID_ARGUMENT` for a malformed type, a non-JSON payload or one that does not
   *   match its schema; `LIMIT_EXCEEDED` for a payload over 64 KiB; `APP_NOT_FOUND` when `appId` is not
   *   a live app; `INVALID_MANIFEST` when the declared schema itself is unusable; `DISK_FULL` while
   *   the disk guard is tripped (docs/safeguards.md).
   */
  emit(appId: string, type: string, payload: unknown): EventRecord {
    if (typeof type !== 'string' || !EVENT_TYPE_PATTERN.test(type)) {
      throw new FaztError('INVALID_ARGUMENT', `"${String(type).slice(0, 100)}" is not an event type; use 1–100 letters, digits, "_", "." or "-" (like "note.created").`);
    }
    const emitter = this.liveApp(appId);
    if (!emitter) throw new FaztError('APP_NOT_FOUND', `No app with id "${appId}" can emit events.`);
    this.cart.growth?.assertCanGrow(`emitting the event "${type}"`);
    const json = toStoredJson(payload === undefined ? null : payload, `event "${type}" payload`, MAX_JSON_BYTES)!;
    const value = JSON.parse(json) as unknown;
    const info = this.versionInfo(emitter.id, emitter.version);
    if (Object.prototype.hasOwnProperty.call(info.emits, type)) {
      let v = info.validators.get(type);
      if (!v) {
        v = compilePayloadSchema(info.emits[type], `events.emits["${type}"] of "${emitter.name}"`);
        info.validators.set(type, v);
      }
      checkPayload(v, type, value);
    }
    return this.store(emitter.id, emitter.name, type, json, value);
  }

  /**
   * Emits an event of the node itself (emitter `fazt`, a reserved app name), e.g. Pulse's
   * `pulse.alert`. Apps receive it by subscribing to `"fazt:<type>"` with the owner's grant of the
   * `events:fazt` permission. System events are this node's own: they do not replicate (docs/sync-spec.md S16),
   * and they are stored even while the disk guard refuses app writes (an alert about the disk is one).
   * @throws FaztError `INVALID_ARGUMENT` for a malformed type or a non-JSON payload; `LIMIT_EXCEEDED` over 64 KiB.
   */
  emitSystem(type: string, payload: unknown): EventRecord {
    if (typeof type !== 'string' || !EVENT_TYPE_PATTERN.test(type)) {
      throw new FaztError('INVALID_ARGUMENT', `"${String(type).slice(0, 100)}" is not an event type; use 1–100 letters, digits, "_", "." or "-" (like "pulse.alert").`);
    }
    const json = toStoredJson(payload === undefined ? null : payload, `event "${type}" payload`, MAX_JSON_BYTES)!;
    return this.store(SYSTEM_EMITTER, SYSTEM_EMITTER, type, json, JSON.parse(json) as unknown);
  }

  /** Stores an event and one pending delivery per subscriber, in one transaction, and wakes the dispatcher. */
  private store(emitterId: string, emitterName: string, type: string, json: string, value: unknown): EventRecord {
    const subscribers = this.subscribersOf(emitterId, type);
    const now = this.now();
    const id = this.db.transaction(() => {
      const hlc = this.cart.hlc.now();
      this.db.run('INSERT INTO events (id, app_id, type, payload, created_at, deleted, hlc, node_id) VALUES (?, ?, ?, ?, ?, 0, ?, ?)', [
        hlc,
        emitterId,
        type,
        json,
        now,
        hlc,
        this.cart.nodeId,
      ]);
      for (const s of subscribers) {
        this.db.run("INSERT INTO event_deliveries (event_id, app_id, status, attempts, next_at, last_error) VALUES (?, ?, 'pending', 0, ?, NULL)", [hlc, s, now]);
      }
      return hlc;
    });
    if (subscribers.length) this.dispatcher.kick();
    const record: EventRecord = { id, app: emitterName, appId: emitterId, type, payload: value, createdAt: now };
    for (const fn of this.emitListeners) {
      try {
        fn(record);
      } catch (e) {
        this.logger.error('event listener failed', { type, error: String((e as Error)?.message ?? e) });
      }
    }
    return record;
  }

  private readonly emitListeners: ((e: EventRecord) => void)[] = [];

  /**
   * Calls `fn` after each event is stored (synchronously, inside {@link emit}; the notify rules use
   * it). A listener that throws is logged and does not affect the emit.
   * @returns a function that removes the listener.
   */
  onEmit(fn: (e: EventRecord) => void): () => void {
    this.emitListeners.push(fn);
    return () => {
      const i = this.emitListeners.indexOf(fn);
      if (i >= 0) this.emitListeners.splice(i, 1);
    };
  }

  // ---------------------------------------------------------------- reading

  /**
   * The latest events, newest first.
   * @param appId only events emitted by this app (UUID); all apps when omitted.
   * @param limit 1…1000, default 50.
   */
  recent(appId?: string, limit = 50): EventRecord[] {
    const n = Math.min(1000, Math.max(1, Math.floor(Number.isFinite(limit) ? limit : 50)));
    const rows =
      appId === undefined
        ? this.db.query<EventRow>('SELECT e.id, e.app_id, e.type, e.payload, e.created_at, a.name FROM events e LEFT JOIN apps a ON a.id = e.app_id WHERE e.deleted = 0 ORDER BY e.id DESC LIMIT ?', [n])
        : this.db.query<EventRow>(
            'SELECT e.id, e.app_id, e.type, e.payload, e.created_at, a.name FROM events e LEFT JOIN apps a ON a.id = e.app_id WHERE e.deleted = 0 AND e.app_id = ? ORDER BY e.id DESC LIMIT ?',
            [appId, n],
          );
    return rows.map(toRecord);
  }

  /** One event, or `undefined`. */
  get(eventId: string): EventRecord | undefined {
    const r = this.db.get<EventRow>('SELECT e.id, e.app_id, e.type, e.payload, e.created_at, a.name FROM events e LEFT JOIN apps a ON a.id = e.app_id WHERE e.id = ? AND e.deleted = 0', [eventId]);
    return r && toRecord(r);
  }

  /** Deliveries of one event, by subscriber id. */
  deliveries(eventId: string): DeliveryInfo[] {
    return this.db
      .query<DeliveryRow>('SELECT * FROM event_deliveries WHERE event_id = ? ORDER BY app_id', [eventId])
      .map((r) => ({ eventId: r.event_id, appId: r.app_id, status: r.status, attempts: r.attempts, nextAt: r.next_at, lastError: r.last_error }));
  }

  /** Deliveries not yet done or failed. */
  pendingCount(): number {
    return this.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM event_deliveries WHERE status = 'pending'")!.n;
  }

  /**
   * Deletes finished deliveries (`done`, `failed`) that finished before `before` (ms epoch). Events
   * themselves are replicated rows and are not touched.
   * @returns rows deleted.
   */
  prune(before: number): number {
    return this.db.run("DELETE FROM event_deliveries WHERE status IN ('done','failed') AND next_at < ?", [before]).changes;
  }

  // ---------------------------------------------------------------- dispatch

  /** Starts background delivery of pending deliveries (including those left by a previous run). */
  start(): void {
    this.dispatcher.start();
  }

  /** Stops background delivery. Deliveries in progress finish; the promise resolves when they have. */
  stop(): Promise<void> {
    return this.dispatcher.stop();
  }

  /**
   * Delivers everything deliverable now and waits until those deliveries, and the ones they
   * unblocked, have finished. Works whether or not the bus is started.
   * @returns how many delivery attempts were made while it waited.
   */
  drain(): Promise<number> {
    return this.dispatcher.drain();
  }

  /** The oldest pending delivery of each subscriber (per-subscriber order: only heads may go). */
  private heads(): DeliveryRow[] {
    return this.db.query<DeliveryRow>(
      `SELECT d.* FROM (SELECT app_id, MIN(event_id) AS eid FROM event_deliveries WHERE status = 'pending' GROUP BY app_id) h
       JOIN event_deliveries d ON d.event_id = h.eid AND d.app_id = h.app_id ORDER BY d.event_id`,
    );
  }

  /** When the earliest head of a subscriber without a delivery in progress is due. */
  private nextDue(busy: ReadonlySet<string>): number | undefined {
    let earliest: number | undefined;
    for (const h of this.heads()) if (!busy.has(h.app_id) && (earliest === undefined || h.next_at < earliest)) earliest = h.next_at;
    return earliest;
  }

  /**
   * Makes one delivery attempt and records its outcome. Subscription and permission are checked
   * again now. Rejects only when the outcome cannot be written (the delivery stays due).
   */
  private async deliver(d: DeliveryRow): Promise<void> {
    const attempt = d.attempts + 1;
    let outcome: Outcome;
    try {
      const ev = this.get(d.event_id);
      if (!ev) outcome = { ok: false, message: 'the event no longer exists', permanent: true };
      else if (!this.subscribersOf(ev.appId, ev.type).includes(d.app_id)) {
        outcome = { ok: false, message: 'not delivered: the app no longer subscribes to this event, lacks the events permission, or the emitter was removed', permanent: true };
      } else {
        await this.invoke(d.app_id, 'on', ev);
        outcome = { ok: true };
      }
    } catch (e) {
      outcome = { ok: false, ...describeFailure(e) };
    }
    this.record(d, attempt, outcome);
  }

  private record(d: DeliveryRow, attempt: number, outcome: Outcome): void {
    const now = this.now();
    const key = [d.event_id, d.app_id];
    if (outcome.ok) {
      this.db.run("UPDATE event_deliveries SET status = 'done', attempts = ?, next_at = ?, last_error = NULL WHERE event_id = ? AND app_id = ? AND status = 'pending'", [attempt, now, ...key]);
      return;
    }
    if (!outcome.permanent && attempt < this.maxAttempts) {
      const delay = retryDelay(this.retryBaseMs, attempt);
      this.db.run("UPDATE event_deliveries SET attempts = ?, next_at = ?, last_error = ? WHERE event_id = ? AND app_id = ? AND status = 'pending'", [
        attempt,
        now + delay,
        outcome.message,
        ...key,
      ]);
      this.logger.warn('events: delivery failed, will retry', { eventId: d.event_id, appId: d.app_id, attempt, retryInMs: delay, error: outcome.message });
      return;
    }
    this.db.run("UPDATE event_deliveries SET status = 'failed', attempts = ?, next_at = ?, last_error = ? WHERE event_id = ? AND app_id = ? AND status = 'pending'", [
      attempt,
      now,
      outcome.message,
      ...key,
    ]);
    this.logger.warn('events: delivery failed', { eventId: d.event_id, appId: d.app_id, attempt, error: outcome.message });
  }
}
