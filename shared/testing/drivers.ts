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
}

let sqlJs: Awaited<ReturnType<typeof initSqlJs>> | undefined;

/** sql.js in memory and better-sqlite3 on a temp file (WAL). */
export const drivers: DriverFactory[] = [
  {
    name: 'sql.js',
    async open() {
      sqlJs ??= await initSqlJs();
      return SqlJsDatabase.open(sqlJs);
    },
  },
  {
    name: 'better-sqlite3',
    async open() {
      const { BetterSqliteDatabase } = await import('../../node/sqlite.js');
      const { mkdtempSync } = await import('node:fs');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      return BetterSqliteDatabase.open(join(mkdtempSync(join(tmpdir(), 'fazt-drv-')), 'data.db'));
    },
  },
];
