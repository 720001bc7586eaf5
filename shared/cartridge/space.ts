import type { SqlDatabase } from '../sql/index.js';

/**
 * Giving free space back to the file system. Cartridges use `auto_vacuum = INCREMENTAL`
 * (https://www.sqlite.org/pragma.html#pragma_auto_vacuum): deleting rows leaves free pages inside
 * the file, and `PRAGMA incremental_vacuum(N)` moves up to N of them to the end and truncates the
 * file. Set on new cartridges before their first table; existing ones are converted by migration 3.
 */

/** `PRAGMA auto_vacuum` values (https://www.sqlite.org/pragma.html#pragma_auto_vacuum). */
export type AutoVacuumMode = 'none' | 'full' | 'incremental';

/** Pages freed per step of {@link reclaimFreePages}: ≈ 1 MiB of 4 KiB pages, a few ms of work. */
const STEP_PAGES = 256;

/** The cartridge's auto-vacuum mode. */
export function autoVacuumMode(db: SqlDatabase): AutoVacuumMode {
  const v = db.get<{ auto_vacuum: number }>('PRAGMA auto_vacuum')?.auto_vacuum ?? 0;
  return v === 2 ? 'incremental' : v === 1 ? 'full' : 'none';
}

/** Pages of the file that hold nothing (`PRAGMA freelist_count`). */
export function freePages(db: SqlDatabase): number {
  return db.get<{ freelist_count: number }>('PRAGMA freelist_count')?.freelist_count ?? 0;
}

/**
 * Gives the cartridge's free pages back to the file system, {@link STEP_PAGES} pages per step (each
 * its own transaction), letting the event loop run between steps so requests are served meanwhile.
 * Does nothing on a cartridge not in incremental mode. With a WAL, a passive checkpoint follows, so
 * the file shrinks now unless a reader holds an old snapshot (then at the next checkpoint). Stops
 * quietly when the connection closes under it (a node stopping).
 * @returns pages freed.
 */
export async function reclaimFreePages(db: SqlDatabase, pause: () => Promise<void> = () => new Promise((r) => setTimeout(r, 0))): Promise<number> {
  let freed = 0;
  try {
    if (autoVacuumMode(db) !== 'incremental') return 0;
    for (let before = freePages(db); before > 0; ) {
      db.exec(`PRAGMA incremental_vacuum(${STEP_PAGES})`);
      const after = freePages(db);
      if (after >= before) break;
      freed += before - after;
      before = after;
      if (after > 0) await pause();
    }
    // with a WAL the file shrinks when a checkpoint has copied everything back: do one now, without
    // waiting for readers (PASSIVE); a no-op without a WAL (sql.js)
    if (freed > 0) db.exec('PRAGMA wal_checkpoint(PASSIVE)');
  } catch (e) {
    if (!/not open|closed/i.test(String((e as Error)?.message))) throw e;
  }
  return freed;
}
