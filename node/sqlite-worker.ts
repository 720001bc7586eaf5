import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Whole-file SQLite jobs run on a worker thread with their own better-sqlite3 connection, so the
 * node's event loop keeps serving while they read every page: integrity checks and `VACUUM INTO`
 * backups. The worker opens the file read-only (WAL lets it read a consistent snapshot while the
 * node writes) and exits when the job is done.
 */

/** A job for {@link runSqliteJob}. */
export type SqliteJob =
  /** `PRAGMA quick_check(max)` (`full: false`) or `PRAGMA integrity_check(max)`: https://www.sqlite.org/pragma.html#pragma_integrity_check */
  | { op: 'check'; path: string; full: boolean; max: number }
  /** `VACUUM INTO out`: a compact, consistent copy without free pages (https://www.sqlite.org/lang_vacuum.html#vacuuminto). */
  | { op: 'vacuumInto'; path: string; out: string };

/** Resolved path of the better-sqlite3 package, handed to the worker (an eval'd worker resolves from the cwd). */
const DRIVER = createRequire(import.meta.url).resolve('better-sqlite3');

const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const job = workerData.job;
let db;
try {
  db = new Database(job.path, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  if (job.op === 'check') {
    const rows = db.prepare('PRAGMA ' + (job.full ? 'integrity_check' : 'quick_check') + '(' + Number(job.max) + ')').raw().all();
    parentPort.postMessage({ ok: true, value: rows.map((r) => String(r[0])) });
  } else {
    db.prepare('VACUUM INTO ?').run(job.out);
    db.close();
    db = undefined;
    // the copy keeps the source's WAL flag in its header: make it a single self-contained file
    const out = new Database(job.out);
    out.pragma('journal_mode = DELETE');
    out.close();
    parentPort.postMessage({ ok: true, value: null });
  }
} catch (e) {
  parentPort.postMessage({ ok: false, message: String(e && e.message || e), code: e && e.code });
} finally {
  if (db) db.close();
}
`;

/**
 * Runs a job on a new worker thread.
 * @returns for `check`: the lines SQLite reported (`['ok']` when sound); for `vacuumInto`: `null`.
 * @throws Error with the driver's message (and `code`, e.g. `SQLITE_CORRUPT`) when the job fails.
 */
export function runSqliteJob(job: Extract<SqliteJob, { op: 'check' }>): Promise<string[]>;
export function runSqliteJob(job: Extract<SqliteJob, { op: 'vacuumInto' }>): Promise<null>;
export function runSqliteJob(job: SqliteJob): Promise<string[] | null> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(SOURCE, { eval: true, workerData: { driver: DRIVER, job } });
    let settled = false;
    worker.once('message', (m: { ok: true; value: string[] | null } | { ok: false; message: string; code?: string }) => {
      settled = true;
      if (m.ok) resolve(m.value);
      else reject(Object.assign(new Error(m.message), { code: m.code }));
    });
    worker.once('error', (e) => {
      if (!settled) reject(e);
      settled = true;
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the SQLite worker stopped (exit code ${code})`));
      settled = true;
    });
  });
}
