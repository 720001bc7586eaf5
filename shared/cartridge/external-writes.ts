import type { SqlDatabase } from '../sql/index.js';

/**
 * Notices commits made to the cartridge by *other* connections — another process working on the
 * same file, such as `fazt … --db data.db` while the node runs — so caches of rows the kernel
 * otherwise invalidates itself (app aliases, decrypted secrets) do not serve stale values for long.
 *
 * Reads SQLite's `PRAGMA data_version`, which changes when another connection commits and never for
 * this connection's own writes (https://sqlite.org/pragma.html#pragma_data_version), at most once
 * per `intervalMs`. On the browser host (one sql.js connection) it never changes.
 */
export class ExternalWrites {
  private seen: number | undefined;
  private checkedAt = -Infinity;
  private gen = 0;

  /**
   * @param db the cartridge connection.
   * @param intervalMs how stale a cache may be after another process wrote (ms). Default 250.
   * @param now monotonic clock (ms).
   */
  constructor(
    private readonly db: SqlDatabase,
    private readonly intervalMs = 250,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A counter that moves after another connection committed (checked at most every `intervalMs`). */
  generation(): number {
    const t = this.now();
    if (t - this.checkedAt >= this.intervalMs) {
      this.checkedAt = t;
      let v: number | undefined;
      try {
        v = this.db.get<{ data_version: number }>('PRAGMA data_version')?.data_version;
      } catch {
        v = undefined;
      }
      if (v !== this.seen) {
        if (this.seen !== undefined || v === undefined) this.gen++;
        this.seen = v;
      }
    }
    return this.gen;
  }
}

const watches = new WeakMap<SqlDatabase, ExternalWrites>();

/** The one {@link ExternalWrites} watch of a connection (shared by every cache over it). */
export function externalWritesOf(db: SqlDatabase): ExternalWrites {
  let w = watches.get(db);
  if (!w) {
    w = new ExternalWrites(db);
    watches.set(db, w);
  }
  return w;
}
