import { FaztError } from '../errors.js';
import type { Cartridge } from '../cartridge/index.js';
import { fromBase64Url, toBase64Url } from '../lib/encoding.js';
import { jsonTypeName, quote } from './util.js';
import { isWellFormed, utf8Length } from '../lib/utf8.js';

/** Size limits of the key-value store. */
export interface KvLimits {
  /** Longest key, in UTF-8 bytes. */
  maxKeyBytes: number;
  /** Largest value, in UTF-8 bytes of its JSON text. */
  maxValueBytes: number;
}

/** Default {@link KvLimits}: 512-byte keys, 1 MiB values. */
export const DEFAULT_KV_LIMITS: Readonly<KvLimits> = Object.freeze({ maxKeyBytes: 512, maxValueBytes: 1024 * 1024 });

/** Options of {@link KvStore.set} and {@link KvStore.increment}. */
export interface KvSetOptions {
  /** Time to live in ms (positive, finite): the key expires `ttlMs` after the write. */
  ttlMs?: number;
}

/** Options of {@link KvStore.list}. */
export interface KvListOptions {
  /** Only keys starting with exactly this string (no wildcards). */
  prefix?: string;
  /** Page size: 1 … 1000, default 100; larger values are clamped to 1000 (the cursor returns the rest). */
  limit?: number;
  /** `cursor` of the previous page. */
  cursor?: string;
}

/** One live entry returned by {@link KvStore.list}. */
export interface KvItem {
  key: string;
  /** The value as JSON text. */
  value: string;
  /** Expiry, ms since epoch; absent when the key never expires. */
  expiresAt?: number;
}

/** A page of {@link KvStore.list}. */
export interface KvListPage {
  /** Entries in ascending key order (UTF-8 byte order, i.e. code point order). */
  items: KvItem[];
  /** Opaque; present only when more entries remain. Pass it back as `cursor` for the next page. */
  cursor?: string;
}

/** Default page size of {@link KvStore.list}. */
export const KV_LIST_DEFAULT_LIMIT = 100;
/** Largest page size of {@link KvStore.list}; larger limits are clamped to it. */
export const KV_LIST_MAX_LIMIT = 1000;

/** What a tombstone keeps as its value (the column is NOT NULL; the value itself is dropped). */
const TOMBSTONE_VALUE = 'null';

/** The `base` of a tombstone write (the writer id is the bound parameter): docs/sync-spec.md S13. */
const BASE = 'CASE WHEN node_id = ? THEN base ELSE hlc END';

const LIVE = 'deleted = 0 AND (expires_at IS NULL OR expires_at > ?)';

/**
 * Orders strings by code point (= UTF-8 byte order, SQLite's BINARY collation), unlike JS `<`,
 * which compares UTF-16 code units.
 */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * The smallest string greater (in code point order) than every string starting with `prefix`,
 * or `undefined` when there is none (empty prefix, or only U+10FFFF).
 */
function prefixUpperBound(prefix: string): string | undefined {
  const cps = Array.from(prefix);
  while (cps.length > 0) {
    const last = cps.pop()!.codePointAt(0)!;
    if (last === 0x10ffff) continue;
    cps.push(String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1));
    return cps.join('');
  }
  return undefined;
}

/**
 * Per-app key-value store in the cartridge table `app_kv`: string keys, JSON-text values, optional TTL.
 *
 * - Every call is scoped by `appId`, which the kernel supplies (never the app).
 * - Writes are stamped with the node's HLC and id; deletes and expiries are tombstones
 *   (`deleted = 1`, value replaced by `null`), so sync can replicate them.
 * - Expired keys are invisible at once (reads compare `expires_at` with the cartridge clock);
 *   {@link purgeExpired} turns them into tombstones later.
 */
export class KvStore {
  /** Effective limits. */
  readonly limits: Readonly<KvLimits>;

  /** @param limits overrides of {@link DEFAULT_KV_LIMITS}. */
  constructor(
    private readonly cart: Cartridge,
    limits: Partial<KvLimits> = {},
  ) {
    this.limits = Object.freeze({ ...DEFAULT_KV_LIMITS, ...limits });
  }

  private get db() {
    return this.cart.db;
  }

  private assertKey(key: unknown, what = 'kv key'): asserts key is string {
    if (typeof key !== 'string' || key.length === 0) {
      throw new FaztError('INVALID_ARGUMENT', `${what} must be a non-empty string, got ${typeof key === 'string' ? 'an empty string' : jsonTypeName(key)}.`);
    }
    if (!isWellFormed(key) || key.includes('\u0000')) {
      throw new FaztError('INVALID_ARGUMENT', `${what} ${quote(key)} contains a NUL character or an unpaired surrogate.`);
    }
    const bytes = utf8Length(key);
    if (bytes > this.limits.maxKeyBytes) {
      throw new FaztError('LIMIT_EXCEEDED', `${what} ${quote(key)} is ${bytes} bytes; the limit (maxKeyBytes) is ${this.limits.maxKeyBytes} bytes.`);
    }
  }

  private assertValue(key: string, json: unknown): asserts json is string {
    if (typeof json !== 'string') {
      throw new FaztError('INVALID_ARGUMENT', `The value of kv key ${quote(key)} must be JSON text (a string), got ${jsonTypeName(json)}.`);
    }
    const bytes = utf8Length(json);
    if (bytes > this.limits.maxValueBytes) {
      throw new FaztError(
        'LIMIT_EXCEEDED',
        `The value of kv key ${quote(key)} is ${bytes} bytes; the limit (maxValueBytes) is ${this.limits.maxValueBytes} bytes.`,
      );
    }
    try {
      JSON.parse(json);
    } catch {
      throw new FaztError('INVALID_ARGUMENT', `The value of kv key ${quote(key)} is not valid JSON text.`);
    }
  }

  /** `expires_at` for a write: `null` without TTL. @throws FaztError `INVALID_ARGUMENT`. */
  private expiry(opts: KvSetOptions | undefined, now: number): number | null {
    if (opts === undefined || opts === null) return null;
    if (typeof opts !== 'object') throw new FaztError('INVALID_ARGUMENT', `kv options must be an object like { ttlMs: 60000 }, got ${jsonTypeName(opts)}.`);
    const ttl = opts.ttlMs;
    if (ttl === undefined) return null;
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
      throw new FaztError('INVALID_ARGUMENT', `ttlMs must be a positive number of milliseconds, got ${typeof ttl === 'number' ? String(ttl) : jsonTypeName(ttl)}.`);
    }
    const at = Math.ceil(now + ttl);
    if (!Number.isSafeInteger(at)) throw new FaztError('INVALID_ARGUMENT', `ttlMs ${ttl} is too large.`);
    return at;
  }

  /**
   * The value of a key as JSON text.
   * @returns `undefined` when the key is missing, deleted or expired (`expires_at <= clock.now()`).
   * @throws FaztError `INVALID_ARGUMENT` / `LIMIT_EXCEEDED` for an invalid key.
   */
  get(appId: string, key: string): string | undefined {
    this.assertKey(key);
    return this.db.get<{ value: string }>(`SELECT value FROM app_kv WHERE app_id = ? AND key = ? AND ${LIVE}`, [appId, key, this.cart.clock.now()])
      ?.value;
  }

  /**
   * Stores `json` under `key`, replacing any previous value. Without `ttlMs` the key never expires
   * (a previous TTL is cleared).
   * @param json the value as JSON text (validated with `JSON.parse`).
   * @throws FaztError `INVALID_ARGUMENT` for an empty/non-string key, a non-string or invalid JSON value,
   *   or a `ttlMs` that is not a positive finite number; `LIMIT_EXCEEDED` when the key exceeds
   *   `maxKeyBytes` or the value exceeds `maxValueBytes` (UTF-8 bytes); `DISK_FULL` while the disk
   *   guard is tripped (docs/safeguards.md).
   */
  set(appId: string, key: string, json: string, opts?: KvSetOptions): void {
    this.assertKey(key);
    this.assertValue(key, json);
    const expiresAt = this.expiry(opts, this.cart.clock.now());
    this.cart.growth?.assertCanGrow(`writing kv key ${quote(key)}`);
    this.write(appId, key, json, expiresAt);
  }

  private write(appId: string, key: string, json: string, expiresAt: number | null): void {
    this.db.run(
      // base: the version this write replaced, for sync's conflict detection (docs/sync-spec.md S13)
      `INSERT INTO app_kv (app_id, key, value, expires_at, deleted, hlc, node_id) VALUES (?, ?, ?, ?, 0, ?, ?)
       ON CONFLICT(app_id, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, deleted = 0, hlc = excluded.hlc, node_id = excluded.node_id,
         base = CASE WHEN app_kv.node_id = excluded.node_id THEN app_kv.base ELSE app_kv.hlc END`,
      [appId, key, json, expiresAt, this.cart.hlc.now(), this.cart.nodeId],
    );
  }

  /**
   * Deletes a key (a tombstone: `deleted = 1`, value dropped).
   * @returns `true` when a live key was removed; `false` when it was missing, deleted or expired.
   * @throws FaztError `INVALID_ARGUMENT` / `LIMIT_EXCEEDED` for an invalid key.
   */
  delete(appId: string, key: string): boolean {
    this.assertKey(key);
    return this.db.transaction(() => {
      const now = this.cart.clock.now();
      const live = this.db.get(`SELECT 1 AS x FROM app_kv WHERE app_id = ? AND key = ? AND ${LIVE}`, [appId, key, now]) !== undefined;
      this.db.run(`UPDATE app_kv SET deleted = 1, value = ?, expires_at = NULL, hlc = ?, node_id = ?, base = ${BASE} WHERE app_id = ? AND key = ? AND deleted = 0`, [
        TOMBSTONE_VALUE,
        this.cart.hlc.now(),
        this.cart.nodeId,
        this.cart.nodeId,
        appId,
        key,
      ]);
      return live;
    });
  }

  /**
   * Live entries in ascending key order (UTF-8 byte order), one page at a time.
   * @param opts.prefix exact prefix (`%`, `_`, `*` are ordinary characters).
   * @param opts.limit page size 1 … 1000 (default 100; larger values clamp to 1000).
   * @param opts.cursor the `cursor` of the previous page.
   * @returns the page; `cursor` is present only when more entries remain.
   * @throws FaztError `INVALID_ARGUMENT` for a non-string prefix, a limit that is not a positive
   *   integer, or a cursor this store did not produce.
   */
  list(appId: string, opts: KvListOptions = {}): KvListPage {
    if (typeof opts !== 'object' || opts === null) throw new FaztError('INVALID_ARGUMENT', `kv list options must be an object, got ${jsonTypeName(opts)}.`);
    const prefix = opts.prefix ?? '';
    if (typeof prefix !== 'string' || !isWellFormed(prefix) || prefix.includes('\u0000')) {
      throw new FaztError('INVALID_ARGUMENT', `kv list prefix must be a string without NUL or unpaired surrogates, got ${jsonTypeName(prefix)}.`);
    }
    let limit = opts.limit ?? KV_LIST_DEFAULT_LIMIT;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
      throw new FaztError('INVALID_ARGUMENT', `kv list limit must be a positive integer (at most ${KV_LIST_MAX_LIMIT}), got ${String(limit)}.`);
    }
    limit = Math.min(limit, KV_LIST_MAX_LIMIT);
    const after = opts.cursor === undefined ? undefined : this.decodeCursor(opts.cursor);

    const where = ['app_id = ?', LIVE];
    const params: (string | number)[] = [appId, this.cart.clock.now()];
    if (after !== undefined && compareCodePoints(after, prefix) >= 0) {
      where.push('key > ?');
      params.push(after);
    } else if (prefix !== '') {
      where.push('key >= ?');
      params.push(prefix);
    }
    const upper = prefixUpperBound(prefix);
    if (upper !== undefined) {
      where.push('key < ?');
      params.push(upper);
    }
    params.push(limit + 1);
    const rows = this.db.query<{ key: string; value: string; expires_at: number | null }>(
      `SELECT key, value, expires_at FROM app_kv WHERE ${where.join(' AND ')} ORDER BY key LIMIT ?`,
      params,
    );
    const more = rows.length > limit;
    const items = rows.slice(0, limit).map((r): KvItem => (r.expires_at === null ? { key: r.key, value: r.value } : { key: r.key, value: r.value, expiresAt: r.expires_at }));
    return more ? { items, cursor: toBase64Url(new TextEncoder().encode(items[items.length - 1]!.key)) } : { items };
  }

  private decodeCursor(cursor: unknown): string {
    const bad = () => new FaztError('INVALID_ARGUMENT', 'Invalid kv list cursor: pass back the cursor of the previous page unchanged.');
    if (typeof cursor !== 'string' || cursor.length === 0 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
    let key: string;
    try {
      key = new TextDecoder('utf-8', { fatal: true }).decode(fromBase64Url(cursor));
    } catch {
      throw bad();
    }
    if (key.length === 0 || utf8Length(key) > this.limits.maxKeyBytes) throw bad();
    return key;
  }

  /**
   * Adds `by` to the number stored under `key`, atomically (read and write in one transaction).
   * A missing, deleted or expired key counts as 0. The key keeps its TTL unless `ttlMs` is given
   * (then the TTL restarts); a key created by increment has no TTL unless `ttlMs` is given.
   * @returns the new value.
   * @throws FaztError `INVALID_ARGUMENT` when `by` is not a finite number, the key holds a JSON value
   *   that is not a number (`kv key "x" holds a string, not a number`), the result is not finite, or the
   *   key/ttl is invalid; `LIMIT_EXCEEDED` for a key over `maxKeyBytes`; `DISK_FULL` while the disk
   *   guard is tripped.
   */
  increment(appId: string, key: string, by = 1, opts?: KvSetOptions): number {
    this.assertKey(key);
    if (typeof by !== 'number' || !Number.isFinite(by)) {
      throw new FaztError('INVALID_ARGUMENT', `kv increment amount must be a finite number, got ${typeof by === 'number' ? String(by) : jsonTypeName(by)}.`);
    }
    this.cart.growth?.assertCanGrow(`incrementing kv key ${quote(key)}`);
    return this.db.transaction(() => {
      const now = this.cart.clock.now();
      const newExpiry = this.expiry(opts, now);
      const row = this.db.get<{ value: string; expires_at: number | null }>(`SELECT value, expires_at FROM app_kv WHERE app_id = ? AND key = ? AND ${LIVE}`, [
        appId,
        key,
        now,
      ]);
      let current = 0;
      if (row) {
        let v: unknown;
        try {
          v = JSON.parse(row.value);
        } catch {
          throw new FaztError('INVALID_ARGUMENT', `kv key ${quote(key)} holds invalid JSON, not a number.`);
        }
        if (typeof v !== 'number') throw new FaztError('INVALID_ARGUMENT', `kv key ${quote(key)} holds ${jsonTypeName(v)}, not a number.`);
        current = v;
      }
      const next = current + by;
      if (!Number.isFinite(next)) throw new FaztError('INVALID_ARGUMENT', `kv increment of ${quote(key)} overflows (${current} + ${by}).`);
      this.write(appId, key, JSON.stringify(next), opts?.ttlMs !== undefined ? newExpiry : (row?.expires_at ?? null));
      return next;
    });
  }

  /** How many live (not deleted, not expired) keys the app has. */
  count(appId: string): number {
    return this.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM app_kv WHERE app_id = ? AND ${LIVE}`, [appId, this.cart.clock.now()])?.n ?? 0;
  }

  /**
   * Turns every expired live key (all apps) into a tombstone, stamped with one HLC.
   * @returns how many keys were purged.
   */
  purgeExpired(): number {
    return this.db.run(
      `UPDATE app_kv SET deleted = 1, value = ?, expires_at = NULL, hlc = ?, node_id = ?, base = ${BASE} WHERE expires_at IS NOT NULL AND expires_at <= ? AND deleted = 0`,
      [TOMBSTONE_VALUE, this.cart.hlc.now(), this.cart.nodeId, this.cart.nodeId, this.cart.clock.now()],
    ).changes;
  }
}
