import type { Database, SqlJsStatic, Statement } from 'sql.js';
import { MAX_CACHED_STATEMENTS, type RunResult, type SqlDatabase, type SqlValue } from './index.js';

/** A statement that writes even though it is run with `query()`/`get()` (… RETURNING). */
const WRITE_QUERY = /^\s*(?:WITH\b[\s\S]*?\b)?(?:INSERT|UPDATE|DELETE|REPLACE)\b/i;

/**
 * `SqlDatabase` over sql.js (SQLite compiled to WASM). Used by the browser node; in Node it proves
 * the kernel is host-neutral (the contract suite runs against both drivers).
 *
 * sql.js binds `Uint8Array` as BLOB and returns BLOBs as `Uint8Array`; bigint is bound as a number.
 * @see https://sql.js.org/documentation/
 */
export class SqlJsDatabase implements SqlDatabase {
  readonly driver = 'sql.js';
  private readonly statements = new Map<string, Statement>();
  private depth = 0;
  /** A write happened inside the open transaction (committed or dropped with it). */
  private pendingWrite = false;
  private readonly commitListeners = new Set<() => void>();
  /**
   * True after a committed write (an autocommit write statement, or the commit of an outermost
   * transaction that wrote) until the host calls {@link markClean}. The browser host persists the
   * image ({@link image}) to OPFS when it is set (docs/architecture.md §1, ports).
   * Writes are recognised by statement kind and effect: an INSERT/UPDATE/DELETE/REPLACE (by `run()`,
   * or by `query()`/`get()` with RETURNING) that changed at least one row, every other `run()` and
   * every `exec()` (DDL, PRAGMA); reads never set it.
   */
  dirty = false;

  /** @param db an open sql.js `Database` (e.g. `new SQL.Database(bytes)`). */
  constructor(readonly db: Database) {}

  /** Opens an in-memory cartridge, optionally from a SQLite file image (bytes). */
  static open(SQL: SqlJsStatic, image?: Uint8Array): SqlJsDatabase {
    return new SqlJsDatabase(new SQL.Database(image));
  }

  /** Prepared statements cached (bounded by {@link MAX_CACHED_STATEMENTS}). */
  get cachedStatements(): number {
    return this.statements.size;
  }

  private prepare(sql: string): Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      // bounded like the better-sqlite3 driver's; sql.js statements hold wasm memory until freed
      // (no statement is in use here: every call runs its statement to the end synchronously)
      if (this.statements.size >= MAX_CACHED_STATEMENTS) {
        for (const old of this.statements.values()) old.free();
        this.statements.clear();
      }
      this.statements.set(sql, st);
    }
    return st;
  }

  private static bind(params: readonly SqlValue[]): (string | number | Uint8Array | null)[] {
    return params.map((p) => (typeof p === 'bigint' ? Number(p) : p));
  }

  /**
   * Calls `listener` after each committed write (synchronously, right after the statement or the
   * outermost COMMIT). A throwing listener is ignored.
   * @returns a function that removes the listener.
   */
  onCommit(listener: () => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /** Clears {@link dirty} (the host persisted an image taken after the last committed write). */
  markClean(): void {
    this.dirty = false;
  }

  /** True while a transaction is open (an image taken now would lack its writes). */
  get inTransaction(): boolean {
    return this.depth > 0;
  }

  /**
   * A whole, consistent SQLite file image of the database (sql.js `export()`, which copies with the
   * backup API and keeps prepared statements valid), with the header's WAL bytes set to legacy
   * (`18..19 = 1`) so any SQLite opens it.
   * @throws Error inside a transaction (the image would not be committed state).
   */
  image(): Uint8Array {
    if (this.depth > 0) throw new Error('SqlJsDatabase.image(): a transaction is open; take the image after it commits');
    return this.db.export();
  }

  /** Records a write: dirty at once in autocommit, at the outermost COMMIT inside a transaction. */
  private wrote(): void {
    if (this.depth > 0) {
      this.pendingWrite = true;
      return;
    }
    this.committed();
  }

  private committed(): void {
    this.dirty = true;
    for (const l of this.commitListeners) {
      try {
        l();
      } catch {
        // a listener's failure must not fail the write that already committed
      }
    }
  }

  exec(sql: string): void {
    this.db.exec(sql);
    this.wrote();
  }

  /**
   * Records the write of a statement that just finished (after `reset()`): an INSERT/UPDATE/DELETE/REPLACE
   * only when it changed rows (`sqlite3_changes()`, set by that statement; a prune that deleted nothing
   * must not cost a 10 MB persist), any other statement (DDL, PRAGMA) always.
   */
  private finished(dml: boolean): void {
    if (!dml) {
      this.wrote();
      return;
    }
    if (this.db.getRowsModified() > 0) this.wrote();
  }

  query<T>(sql: string, params: readonly SqlValue[] = []): T[] {
    const st = this.prepare(sql);
    try {
      st.bind(SqlJsDatabase.bind(params));
      const rows: T[] = [];
      while (st.step()) rows.push(st.getAsObject() as T);
      return rows;
    } finally {
      st.reset();
      if (WRITE_QUERY.test(sql)) this.finished(true);
    }
  }

  get<T>(sql: string, params: readonly SqlValue[] = []): T | undefined {
    const st = this.prepare(sql);
    try {
      st.bind(SqlJsDatabase.bind(params));
      return st.step() ? (st.getAsObject() as T) : undefined;
    } finally {
      st.reset();
      if (WRITE_QUERY.test(sql)) this.finished(true);
    }
  }

  run(sql: string, params: readonly SqlValue[] = []): RunResult {
    const st = this.prepare(sql);
    const dml = WRITE_QUERY.test(sql);
    try {
      st.run(SqlJsDatabase.bind(params));
    } finally {
      st.reset();
      this.finished(dml);
    }
    const changes = this.db.getRowsModified();
    const row = this.db.exec('SELECT last_insert_rowid()')[0];
    return { changes, lastInsertRowid: Number(row?.values[0]?.[0] ?? 0) };
  }

  transaction<T>(fn: () => T): T {
    const name = `sp${this.depth}`;
    if (this.depth === 0) this.pendingWrite = false;
    this.db.exec(this.depth === 0 ? 'BEGIN IMMEDIATE' : `SAVEPOINT ${name}`);
    this.depth++;
    try {
      const out = fn();
      this.depth--;
      this.db.exec(this.depth === 0 ? 'COMMIT' : `RELEASE ${name}`);
      if (this.depth === 0 && this.pendingWrite) {
        this.pendingWrite = false;
        this.committed();
      }
      return out;
    } catch (e) {
      this.depth--;
      this.db.exec(this.depth === 0 ? 'ROLLBACK' : `ROLLBACK TO ${name}; RELEASE ${name}`);
      // A rolled-back savepoint may follow writes of the outer transaction: keep the flag (an extra
      // flush costs time, a missed one loses data). A rolled-back outermost transaction wrote nothing.
      if (this.depth === 0) this.pendingWrite = false;
      throw e;
    }
  }

  close(): void {
    for (const st of this.statements.values()) st.free();
    this.statements.clear();
    this.db.close();
  }
}
