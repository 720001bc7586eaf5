/**
 * The `SqlDatabase` port: the one way the kernel talks to SQLite.
 *
 * Both drivers are synchronous (better-sqlite3 on the headless node, sql.js in the browser node),
 * so the kernel's transactions are plain synchronous functions: nothing can interleave inside one.
 */

/** A value SQLite stores: TEXT, INTEGER/REAL, BLOB or NULL. */
export type SqlValue = string | number | bigint | Uint8Array | null;

/** Result of a write statement. */
export interface RunResult {
  /** Rows changed by the statement. */
  changes: number;
  /** Rowid of the last inserted row (0 when none). */
  lastInsertRowid: number;
}

/**
 * A synchronous SQLite connection. Parameters are positional (`?`).
 * Implementations cache prepared statements by SQL text.
 * All methods throw the driver's error for invalid SQL or constraint violations.
 */
/**
 * Most prepared statements a driver keeps; past it the cache starts over (statements are prepared
 * again on demand). Doc queries build SQL shapes from app input, so the cache must not grow without bound.
 */
export const MAX_CACHED_STATEMENTS = 512;

export interface SqlDatabase {
  /** Driver name, for diagnostics: `'better-sqlite3'` or `'sql.js'`. */
  readonly driver: string;
  /** Prepared statements cached now (at most {@link MAX_CACHED_STATEMENTS}). */
  readonly cachedStatements: number;
  /** Runs one or more statements without parameters (DDL, pragmas). */
  exec(sql: string): void;
  /** All rows of a query, as objects keyed by column name. */
  query<T = Record<string, SqlValue>>(sql: string, params?: readonly SqlValue[]): T[];
  /** The first row of a query, or `undefined`. */
  get<T = Record<string, SqlValue>>(sql: string, params?: readonly SqlValue[]): T | undefined;
  /** Runs a write statement. */
  run(sql: string, params?: readonly SqlValue[]): RunResult;
  /**
   * Runs `fn` inside a transaction: committed when it returns, rolled back when it throws
   * (the error is rethrown). Nested calls become savepoints.
   */
  transaction<T>(fn: () => T): T;
  /** Closes the connection. Further calls throw. */
  close(): void;
}
