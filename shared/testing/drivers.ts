import initSqlJs from 'sql.js';
import type { SqlDatabase } from '../sql/index.js';
import { SqlJsDatabase } from '../sql/sqljs.js';

/**
 * Test support: the real drivers the kernel runs on, for contract suites that must hold on both
 * hosts. (better-sqlite3 is loaded lazily so this file stays importable where it is absent.)
 */
export interface DriverFactory {
  name: string;
  /** Opens a fresh empty database. */
  open(): Promise<SqlDatabase>;
  /** Closes `db` (one this factory opened) and opens its committed data again: a restart from the cartridge. */
  reopen(db: SqlDatabase): Promise<SqlDatabase>;
}

/** Where each better-sqlite3 test database lives, for {@link DriverFactory.reopen}. */
const paths = new WeakMap<SqlDatabase, string>();

let sqlJs: Awaited<ReturnType<typeof initSqlJs>> | undefined;

/** sql.js in memory and better-sqlite3 on a temp file (WAL). */
export const drivers: DriverFactory[] = [
  {
    name: 'sql.js',
    async open() {
      sqlJs ??= await initSqlJs();
      return SqlJsDatabase.open(sqlJs);
    },
    async reopen(db) {
      const image = (db as SqlJsDatabase).image();
      db.close();
      return SqlJsDatabase.open(sqlJs!, image);
    },
  },
  {
    name: 'better-sqlite3',
    async open() {
      const { BetterSqliteDatabase } = await import('../../node/sqlite.js');
      const { mkdtempSync } = await import('node:fs');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      const path = join(mkdtempSync(join(tmpdir(), 'fazt-drv-')), 'data.db');
      const db = BetterSqliteDatabase.open(path);
      paths.set(db, path);
      return db;
    },
    async reopen(db) {
      const path = paths.get(db);
      if (!path) throw new Error('reopen: not a database this factory opened');
      db.close();
      const { BetterSqliteDatabase } = await import('../../node/sqlite.js');
      const again = BetterSqliteDatabase.open(path);
      paths.set(again, path);
      return again;
    },
  },
];
