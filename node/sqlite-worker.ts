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
let answer;
try {
  db = new Database(job.path, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  if (job.op === 'check') {
    let lines;
    try {
      lines = db.prepare('PRAGMA ' + (job.full ? 'integrity_check' : 'quick_check') + '(' + Number(job.max) + ')').raw().all().map((r) => String(r[0]));
    } catch (e) {
      // damage that stops the check itself (an unreadable schema or b-tree page) is a finding too
      if (!(e && typeof e.code === 'string' && e.code.startsWith('SQLITE_CORRUPT'))) throw e;
      lines = [String(e.message)];
    }
    answer = { ok: true, value: lines };
  } else {
    db.prepare('VACUUM INTO ?').run(job.out);
    db.close();
    db = undefined;
    // the copy keeps the source's WAL flag in its header: make it a single self-contained file
    const out = new Database(job.out);
    out.pragma('journal_mode = DELETE');
    out.close();
    answer = { ok: true, value: null };
  }
} catch (e) {
  answer = { ok: false, message: String((e && e.message) || e), code: e && e.code };
} finally {
  // closed before answering: the node's own close must be the last one, so it checkpoints the WAL
  if (db) db.close();
}
parentPort.postMessage(answer);
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
    let answer: { ok: true; value: string[] | null } | { ok: false; message: string; code?: string } | undefined;
    let failure: Error | undefined;
    worker.once('message', (m: typeof answer) => (answer = m));
    worker.once('error', (e) => (failure = e));
    // settled when the thread is gone, so its connection to the file is closed too
    worker.once('exit', (code) => {
      if (answer?.ok) resolve(answer.value);
      else if (answer) reject(Object.assign(new Error(answer.message), { code: answer.code }));
      else reject(failure ?? new Error(`the SQLite worker stopped (exit code ${code})`));
    });
  });
}
