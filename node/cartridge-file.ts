import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, createReadStream, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { randomUUID } from 'node:crypto';
import { checkSqliteHeader, FaztError, openCartridge, type Cartridge } from '../shared/index.js';
import { corruptCartridgeError, FAZT_APPLICATION_ID, isCorruptionError } from '../shared/cartridge/index.js';
import { BetterSqliteDatabase } from './sqlite.js';
import { runSqliteJob } from './sqlite-worker.js';

/** An open file cartridge with its driver. */
export interface FileCartridge {
  cartridge: Cartridge;
  db: BetterSqliteDatabase;
  /** Absolute or relative path as given. */
  path: string;
}

/**
 * Reads the SQLite header of a file before any driver opens it.
 * @throws FaztError `NOT_A_CARTRIDGE`, `CARTRIDGE_CORRUPT`.
 */
export function inspectCartridgeFile(path: string): void {
  if (!existsSync(path)) return;
  const fd = openSync(path, 'r');
  let info: ReturnType<typeof checkSqliteHeader>;
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(100);
    const n = readSync(fd, head, 0, 100, 0);
    info = checkSqliteHeader(head.subarray(0, n), size, path);
  } finally {
    closeSync(fd);
  }
  if (info && info.applicationId !== FAZT_APPLICATION_ID) {
    // An SQLite file not marked as ours: adopt it only when it is empty. Look read-only, so a
    // foreign database is never switched to WAL or otherwise touched.
    // (A new cartridge's id may still sit in the WAL, not yet in the main file's header.)
    const ro = BetterSqliteDatabase.open(path, { readonly: true });
    try {
      if (ro.get<{ application_id: number }>('PRAGMA application_id')!.application_id === FAZT_APPLICATION_ID) return;
      const tables = ro.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").map((r) => r.name);
      if (tables.length > 0) {
        throw new FaztError(
          'NOT_A_CARTRIDGE',
          `${path} is an SQLite database but not a Fazt cartridge (tables: ${tables.slice(0, 5).join(', ')}). It was left untouched.`,
        );
      }
    } finally {
      ro.close();
    }
  }
}

/**
 * Opens (creating when absent) a cartridge file: header check, WAL mode, migrations.
 * A file that is not a cartridge, is truncated or comes from a newer Fazt is refused and left untouched.
 * @throws FaztError `NOT_A_CARTRIDGE`, `CARTRIDGE_CORRUPT`, `CARTRIDGE_TOO_NEW`.
 */
export function openCartridgeFile(path: string, options: { mustExist?: boolean } = {}): FileCartridge {
  if (options.mustExist && !existsSync(path)) {
    throw new FaztError('NOT_FOUND', `No cartridge at ${path}. Start the node once (fazt start --db ${path}) to create it.`);
  }
  inspectCartridgeFile(path);
  mkdirSync(dirname(path), { recursive: true });
  let db: BetterSqliteDatabase;
  try {
    db = BetterSqliteDatabase.open(path);
  } catch (e) {
    const msg = (e as Error).message;
    if (/not a database/i.test(msg)) throw new FaztError('NOT_A_CARTRIDGE', `${path} is not a Fazt cartridge (not an SQLite database). It was left untouched.`);
    if (isCorruptionError(e)) throw corruptCartridgeError(path, msg);
    throw new FaztError('CARTRIDGE_CORRUPT', `${path} could not be opened: ${msg}`);
  }
  try {
    return { cartridge: openCartridge(db, { label: path }), db, path };
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * Writes a consistent copy of a live cartridge to `out` with `VACUUM INTO`
 * (https://www.sqlite.org/lang_vacuum.html#vacuuminto) on a worker thread with its own read-only
 * connection: the node keeps serving and writing while it copies, and the copy is compact — no free
 * pages (SQLite's online backup API copied them verbatim). The copy is a single self-contained
 * file (rollback-journal mode, no `-wal` beside it).
 * @throws FaztError `CONFLICT` when `out` exists; the driver error when it cannot be written (no
 *   partial file is left).
 */
export async function backupCartridge(db: BetterSqliteDatabase, out: string): Promise<{ bytes: number }> {
  if (existsSync(out)) throw new FaztError('CONFLICT', `${out} already exists; choose a new file name (backups never overwrite).`);
  mkdirSync(dirname(out), { recursive: true });
  try {
    await runSqliteJob({ op: 'vacuumInto', path: db.db.name, out });
  } catch (e) {
    for (const f of [out, `${out}-journal`]) {
      try {
        unlinkSync(f);
      } catch {
        /* not there */
      }
    }
    throw e;
  }
  return { bytes: statSync(out).size };
}

/** Backup port for the kernel: a temp-file backup streamed, then deleted. */
export function backupPort(db: BetterSqliteDatabase): () => Promise<{ stream: ReadableStream<Uint8Array>; size: number }> {
  return async () => {
    const tmp = join(tmpdir(), `fazt-backup-${randomUUID()}.db`);
    const { bytes } = await backupCartridge(db, tmp);
    const rs = createReadStream(tmp);
    const cleanup = () => {
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
    };
    rs.on('close', cleanup);
    rs.on('error', cleanup);
    return { stream: Readable.toWeb(rs) as ReadableStream<Uint8Array>, size: bytes };
  };
}
