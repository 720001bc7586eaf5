import { FaztError } from '../errors.js';
import type { Cartridge } from '../cartridge/index.js';

/**
 * Per-app structured logs (what an app's `console.*` and the runtime write), kept in the cartridge's
 * local table `app_logs` (never synced) and capped per app, plus an in-process live feed for
 * `fazt app logs -f` and server-sent events.
 */

/** Log levels, least severe first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The levels in severity order. */
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** What a caller appends. */
export interface LogInput {
  level: LogLevel;
  /** Text; longer than `maxMessageBytes` UTF-8 bytes is truncated and ends with `…`. */
  message: string;
  /**
   * Structured details, stored as JSON. A value JSON cannot represent (a cycle, a BigInt, a function)
   * is stored as its `String()`. When the JSON is longer than `maxMessageBytes`, the entry's data
   * becomes that JSON text truncated with `…` (a string).
   */
  data?: unknown;
  /** What produced the entry, e.g. `"request GET /api/x"`, `"cron poll"`, `"event note.created"` (≤ 256 bytes, truncated). */
  source?: string;
}

/** A stored log entry. */
export interface LogEntry {
  /** Increasing across all apps (later entries have larger ids); use as `afterId` to page. */
  id: number;
  appId: string;
  /** When appended, ms since epoch. */
  ts: number;
  level: LogLevel;
  message: string;
  /** The stored JSON value, parsed back (absent when none was given). */
  data?: unknown;
  source?: string;
}

/** Options of {@link AppLogStore}. */
export interface AppLogStoreOptions {
  /** Rows kept per app. Default 2000. */
  maxRowsPerApp?: number;
  /** Longest message (and data JSON), UTF-8 bytes. Default 8 KiB. */
  maxMessageBytes?: number;
}

/** Options of {@link AppLogStore.query}. */
export interface LogQuery {
  /** Only entries with a larger id (the last id seen). */
  afterId?: number;
  /** 1…1000, default 100; larger values are clamped to 1000. */
  limit?: number;
  /** Minimum level: `'warn'` returns warnings and errors. */
  level?: LogLevel;
}

/** Receives live entries; see {@link AppLogStore.subscribe}. */
export type LogListener = (entry: LogEntry) => void;

const MAX_SOURCE_BYTES = 256;
const utf8 = new TextEncoder();
const ELLIPSIS = '…';
const ELLIPSIS_BYTES = 3;

/**
 * Cuts `s` to at most `max` UTF-8 bytes, on a code point boundary, ending with `…` when cut.
 * Returns `s` itself when it fits.
 */
export function truncateUtf8(s: string, max: number): string {
  // fast path: every UTF-16 unit is at most 3 UTF-8 bytes
  if (s.length * 3 <= max) return s;
  const bytes = utf8.encode(s);
  if (bytes.length <= max) return s;
  if (max < ELLIPSIS_BYTES) return '';
  let cut = max - ELLIPSIS_BYTES;
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--; // back off to a character start
  return new TextDecoder().decode(bytes.subarray(0, cut)) + ELLIPSIS;
}

/** JSON of `data`, falling back to the JSON of its `String()`. */
function serialize(data: unknown): string {
  try {
    const json = JSON.stringify(data);
    if (json !== undefined) return json;
  } catch {
    // cycles, BigInt, throwing toJSON: fall through
  }
  let text: string;
  try {
    text = String(data);
  } catch {
    text = Object.prototype.toString.call(data);
  }
  return JSON.stringify(text);
}

/** Serialized `data` whose stored JSON is at most `max` bytes (a truncated JSON string when needed). */
function serializeCapped(data: unknown, max: number): string {
  const json = serialize(data);
  if (utf8.encode(json).length <= max) return json;
  // the data becomes the truncated JSON text; quoting may add escapes, so shrink until it fits
  let budget = max - 2;
  for (;;) {
    const out = JSON.stringify(truncateUtf8(json, Math.max(budget, 0)));
    const over = utf8.encode(out).length - max;
    if (over <= 0 || budget <= 0) return out;
    budget -= over;
  }
}

interface Row {
  id: number;
  app_id: string;
  ts: number;
  level: LogLevel;
  message: string;
  data: string | null;
  source: string | null;
}

function toEntry(r: Row): LogEntry {
  const e: LogEntry = { id: r.id, appId: r.app_id, ts: r.ts, level: r.level, message: r.message };
  if (r.data !== null) {
    try {
      e.data = JSON.parse(r.data);
    } catch {
      e.data = r.data;
    }
  }
  if (r.source !== null) e.source = r.source;
  return e;
}

/** `level IN (…)` values at or above `min`. */
function levelsFrom(min: LogLevel): LogLevel[] {
  const i = LOG_LEVELS.indexOf(min);
  if (i < 0) throw new FaztError('INVALID_ARGUMENT', `level must be one of ${LOG_LEVELS.join(', ')} (got ${String(min)}).`);
  return LOG_LEVELS.slice(i);
}

function clampLimit(limit: number | undefined, def: number): number {
  if (limit === undefined) return def;
  if (!Number.isInteger(limit) || limit < 1) throw new FaztError('INVALID_ARGUMENT', `limit must be a whole number from 1 to 1000 (got ${String(limit)}).`);
  return Math.min(limit, 1000);
}

/**
 * Capped per-app logs. Every method takes the `appId` the kernel resolved.
 *
 * The cap is enforced cheaply: every `trimEvery` appends of an app (100, or a tenth of the cap when
 * that is smaller), rows beyond the newest `maxRowsPerApp − trimEvery + 1` are deleted; the first
 * append of an app after start-up trims too. So between calls an app has at most `maxRowsPerApp`
 * rows, and the newest `maxRowsPerApp − trimEvery + 1` (1901 with the defaults) always survive.
 */
export class AppLogStore {
  private readonly maxRows: number;
  private readonly maxMessageBytes: number;
  private readonly trimEvery: number;
  /** Appends since the last trim, per app; absent = not trimmed since start-up. */
  private readonly sinceTrim = new Map<string, number>();
  /** Subscriptions by app id (or `'*'`); each wrapped so the same function may subscribe twice. */
  private readonly listeners = new Map<string, Set<{ listener: LogListener }>>();

  /**
   * @param cart the open cartridge.
   * @param opts limits; see {@link AppLogStoreOptions}.
   * @throws FaztError `INVALID_ARGUMENT` when a limit is not a positive integer (message limit ≥ 16).
   */
  constructor(
    private readonly cart: Cartridge,
    opts: AppLogStoreOptions = {},
  ) {
    this.maxRows = opts.maxRowsPerApp ?? 2000;
    this.maxMessageBytes = opts.maxMessageBytes ?? 8 * 1024;
    if (!Number.isInteger(this.maxRows) || this.maxRows < 1) throw new FaztError('INVALID_ARGUMENT', 'maxRowsPerApp must be a positive integer.');
    if (!Number.isInteger(this.maxMessageBytes) || this.maxMessageBytes < 16) throw new FaztError('INVALID_ARGUMENT', 'maxMessageBytes must be an integer ≥ 16.');
    this.trimEvery = Math.max(1, Math.min(100, Math.floor(this.maxRows / 10)));
  }

  private get db() {
    return this.cart.db;
  }

  /**
   * Appends an entry and hands it to live subscribers (a throwing listener is ignored).
   * @returns the entry as stored (message truncated, data as parsed back from its JSON).
   * @throws FaztError `INVALID_ARGUMENT` for an unknown level.
   */
  append(appId: string, entry: LogInput): LogEntry {
    if (!LOG_LEVELS.includes(entry.level)) throw new FaztError('INVALID_ARGUMENT', `level must be one of ${LOG_LEVELS.join(', ')} (got ${String(entry.level)}).`);
    const message = truncateUtf8(typeof entry.message === 'string' ? entry.message : String(entry.message), this.maxMessageBytes);
    const data = entry.data === undefined ? null : serializeCapped(entry.data, this.maxMessageBytes);
    const source = entry.source === undefined || entry.source === null ? null : truncateUtf8(String(entry.source), MAX_SOURCE_BYTES);
    const ts = this.cart.clock.now();
    const { lastInsertRowid: id } = this.db.run('INSERT INTO app_logs (app_id, ts, level, message, data, source) VALUES (?, ?, ?, ?, ?, ?)', [
      appId,
      ts,
      entry.level,
      message,
      data,
      source,
    ]);
    const n = this.sinceTrim.get(appId);
    if (n === undefined || n + 1 >= this.trimEvery) {
      this.trim(appId);
      this.sinceTrim.set(appId, 0);
    } else {
      this.sinceTrim.set(appId, n + 1);
    }
    const stored = toEntry({ id: Number(id), app_id: appId, ts, level: entry.level, message, data, source });
    this.emit(appId, stored);
    return stored;
  }

  /** Deletes the app's rows older than the newest `maxRows − trimEvery + 1`. */
  private trim(appId: string): void {
    const keep = this.maxRows - this.trimEvery + 1;
    const cutoff = this.db.get<{ id: number }>('SELECT id FROM app_logs WHERE app_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?', [appId, keep - 1]);
    if (cutoff) this.db.run('DELETE FROM app_logs WHERE app_id = ? AND id < ?', [appId, cutoff.id]);
  }

  private emit(appId: string, e: LogEntry): void {
    const sets = appId === '*' ? [this.listeners.get('*')] : [this.listeners.get(appId), this.listeners.get('*')];
    for (const set of sets) {
      if (!set) continue;
      for (const sub of [...set]) {
        if (!set.has(sub)) continue; // unsubscribed by an earlier listener of this entry
        try {
          sub.listener(e);
        } catch {
          // a broken follower must not break logging
        }
      }
    }
  }

  /**
   * Entries of an app in ascending id order.
   * @throws FaztError `INVALID_ARGUMENT` for a bad limit or level.
   */
  query(appId: string, q: LogQuery = {}): LogEntry[] {
    const limit = clampLimit(q.limit, 100);
    const where = ['app_id = ?'];
    const params: (string | number)[] = [appId];
    if (q.afterId !== undefined) {
      where.push('id > ?');
      params.push(q.afterId);
    }
    if (q.level !== undefined && q.level !== 'debug') {
      const lv = levelsFrom(q.level);
      where.push(`level IN (${lv.map(() => '?').join(', ')})`);
      params.push(...lv);
    }
    params.push(limit);
    return this.db.query<Row>(`SELECT * FROM app_logs WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`, params).map(toEntry);
  }

  /**
   * The last `n` entries (1…1000, default 100), oldest first; `level` filters as in {@link query}.
   * @throws FaztError `INVALID_ARGUMENT` for a bad count or level.
   */
  tail(appId: string, n = 100, level?: LogLevel): LogEntry[] {
    const limit = clampLimit(n, 100);
    const lv = level === undefined || level === 'debug' ? undefined : levelsFrom(level);
    const rows = this.db.query<Row>(
      `SELECT * FROM app_logs WHERE app_id = ?${lv ? ` AND level IN (${lv.map(() => '?').join(', ')})` : ''} ORDER BY id DESC LIMIT ?`,
      [appId, ...(lv ?? []), limit],
    );
    return rows.reverse().map(toEntry);
  }

  /**
   * Deletes every entry of an app (when the app is removed).
   * @returns the number of rows deleted.
   */
  clear(appId: string): number {
    this.sinceTrim.delete(appId);
    return this.db.run('DELETE FROM app_logs WHERE app_id = ?', [appId]).changes;
  }

  /**
   * Follows new entries of one app, or of all apps with `'*'`, in this process. Listeners run
   * synchronously inside {@link append}, after the row is written; exceptions they throw are swallowed.
   * @returns the unsubscribe function (idempotent).
   */
  subscribe(appId: string, listener: LogListener): () => void {
    let set = this.listeners.get(appId);
    if (!set) this.listeners.set(appId, (set = new Set()));
    const s = set;
    const sub = { listener };
    s.add(sub);
    return () => {
      s.delete(sub);
      if (s.size === 0 && this.listeners.get(appId) === s) this.listeners.delete(appId);
    };
  }
}
