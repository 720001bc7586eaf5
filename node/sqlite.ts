import Database from 'better-sqlite3';
import { MAX_CACHED_STATEMENTS, type RunResult, type SqlDatabase, type SqlValue } from '../shared/sql/index.js';

export { MAX_CACHED_STATEMENTS } from '../shared/sql/index.js';

/**
 * `SqlDatabase` over better-sqlite3 on a file: the headless node's cartridge driver.
 * Opens in WAL mode with `synchronous=NORMAL` (durable across process crashes; a power cut can lose
 * the last transactions but never corrupts) and a 5 s busy timeout so the CLI and a running node can
 * share one cartridge file.
 * @see https://github.com/WiseLibs/better-sqlite3/blob/master/docs/api.md
 * @see https://www.sqlite.org/wal.html
 */
export class BetterSqliteDatabase implements SqlDatabase {
  readonly driver = 'better-sqlite3';
  private readonly statements = new Map<string, Database.Statement>();

  /** @param db an open better-sqlite3 connection. */
  constructor(readonly db: Database.Database) {}

  /**
   * Opens (or creates) a cartridge file.
   * @param path file path, or `':memory:'`.
   * @param options.readonly open read-only (no WAL switch).
   * @throws the driver's `SqliteError` when the file cannot be opened.
   */
  static open(path: string, options: { readonly?: boolean } = {}): BetterSqliteDatabase {
    const db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    db.pragma('busy_timeout = 5000');
    if (!options.readonly) {
      // before WAL mode writes the header of a new file: later it takes a VACUUM (cartridge migration 3)
      db.pragma('auto_vacuum = INCREMENTAL');
      db.pragma('journal_mode = WAL');
      // after a checkpoint, a WAL grown by a big transaction is cut back to 64 MiB
      db.pragma('journal_size_limit = 67108864');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    return new BetterSqliteDatabase(db);
  }

  /** Prepared statements cached (bounded by {@link MAX_CACHED_STATEMENTS}). */
  get cachedStatements(): number {
    return this.statements.size;
  }

  private prepare(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      // doc queries build SQL shapes from app input: the cache must not grow without bound (dropped
      // statements are finalized by better-sqlite3 when collected)
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      this.statements.set(sql, st);
    }
    return st;
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  query<T>(sql: string, params: readonly SqlValue[] = []): T[] {
    return this.prepare(sql).all(...params) as T[];
  }

  get<T>(sql: string, params: readonly SqlValue[] = []): T | undefined {
    return this.prepare(sql).get(...params) as T | undefined;
  }

  run(sql: string, params: readonly SqlValue[] = []): RunResult {
    const r = this.prepare(sql).run(...params);
    return { changes: r.changes, lastInsertRowid: Number(r.lastInsertRowid) };
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  close(): void {
    this.statements.clear();
    this.db.close();
  }
}
