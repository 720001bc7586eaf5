import type { Database, SqlJsStatic, Statement } from 'sql.js';
import type { RunResult, SqlDatabase, SqlValue } from './index.js';

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

  /** @param db an open sql.js `Database` (e.g. `new SQL.Database(bytes)`). */
  constructor(readonly db: Database) {}

  /** Opens an in-memory cartridge, optionally from a SQLite file image (bytes). */
  static open(SQL: SqlJsStatic, image?: Uint8Array): SqlJsDatabase {
    return new SqlJsDatabase(new SQL.Database(image));
  }

  private prepare(sql: string): Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  private static bind(params: readonly SqlValue[]): (string | number | Uint8Array | null)[] {
    return params.map((p) => (typeof p === 'bigint' ? Number(p) : p));
  }

  exec(sql: string): void {
    this.db.exec(sql);
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
    }
  }

  get<T>(sql: string, params: readonly SqlValue[] = []): T | undefined {
    const st = this.prepare(sql);
    try {
      st.bind(SqlJsDatabase.bind(params));
      return st.step() ? (st.getAsObject() as T) : undefined;
    } finally {
      st.reset();
    }
  }

  run(sql: string, params: readonly SqlValue[] = []): RunResult {
    const st = this.prepare(sql);
    try {
      st.run(SqlJsDatabase.bind(params));
    } finally {
      st.reset();
    }
    const changes = this.db.getRowsModified();
    const row = this.db.exec('SELECT last_insert_rowid()')[0];
    return { changes, lastInsertRowid: Number(row?.values[0]?.[0] ?? 0) };
  }

  transaction<T>(fn: () => T): T {
    const name = `sp${this.depth}`;
    this.db.exec(this.depth === 0 ? 'BEGIN IMMEDIATE' : `SAVEPOINT ${name}`);
    this.depth++;
    try {
      const out = fn();
      this.depth--;
      this.db.exec(this.depth === 0 ? 'COMMIT' : `RELEASE ${name}`);
      return out;
    } catch (e) {
      this.depth--;
      this.db.exec(this.depth === 0 ? 'ROLLBACK' : `ROLLBACK TO ${name}; RELEASE ${name}`);
      throw e;
    }
  }

  close(): void {
    for (const st of this.statements.values()) st.free();
    this.statements.clear();
    this.db.close();
  }
}
