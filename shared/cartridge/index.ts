import { FaztError, isFaztError } from '../errors.js';
import { HybridLogicalClock, systemClock, type Clock } from '../clock/index.js';
import type { SqlDatabase } from '../sql/index.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from './migrations.js';
import { FAZT_APPLICATION_ID } from './header.js';
import type { IntegrityState } from './integrity.js';

export { checkSqliteHeader, FAZT_APPLICATION_ID, type SqliteHeaderInfo } from './header.js';
export { LATEST_SCHEMA_VERSION, LOGGED_TABLES, MIGRATIONS, type Migration } from './migrations.js';
export { ExternalWrites, externalWritesOf } from './external-writes.js';
export { checkIntegrity, integrityReport, integritySummary, MAX_INTEGRITY_PROBLEMS, type IntegrityReport, type IntegrityState, type IntegritySummary } from './integrity.js';
export { autoVacuumMode, freePages, reclaimFreePages, type AutoVacuumMode } from './space.js';

/** An open, migrated cartridge: the database plus this node's identity and clocks. */
export interface Cartridge {
  /** The SQLite connection. */
  readonly db: SqlDatabase;
  /** This node's id (random, created with the cartridge, 16 hex chars). */
  readonly nodeId: string;
  /** Wall clock (ms). */
  readonly clock: Clock;
  /** HLC stamping replicated writes. */
  readonly hlc: HybridLogicalClock;
  /** Schema version after migrations. */
  readonly schemaVersion: number;
  /** True when this open created the cartridge. */
  readonly created: boolean;
  /** The file's integrity as last checked (the host runs the checks and sets it); `/api/health` reports it. */
  integrity: IntegrityState;
  /**
   * Refuses writes that would grow the cartridge while the host's disk is fuller than the owner's
   * limit (the kernel sets it to its `DiskGuard`, shared/guards/disk.ts). The stores call it before
   * a growing write; absent: nothing is refused.
   */
  growth?: GrowthGate;
}

/** What the stores ask before a write that grows the cartridge (see {@link Cartridge.growth}). */
export interface GrowthGate {
  /**
   * Returns when the write may go on.
   * @param what the write, for the message (`'fazt.kv.set("x")'`, `'this deploy'`).
   * @throws FaztError `DISK_FULL` (507) when the disk is above the limit.
   */
  assertCanGrow(what: string): void;
}

/** Options of {@link openCartridge}. */
export interface OpenCartridgeOptions {
  /** Wall clock; defaults to the system clock. */
  clock?: Clock;
  /** How to name the cartridge in error messages (its path). */
  label?: string;
  /** Migrations to apply (tests may pass a longer list); defaults to {@link MIGRATIONS}. */
  migrations?: readonly Migration[];
}

function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * The error for a cartridge SQLite reports as damaged (`database disk image is malformed`): names the
 * file and says what to do.
 * @param label the file's path (or how to name it); `detail` the driver's message.
 */
export function corruptCartridgeError(label: string, detail: string): FaztError {
  return new FaztError(
    'CARTRIDGE_CORRUPT',
    `${label} is damaged (${detail}). It was left untouched. See what is damaged with \`fazt doctor --db ${label}\`, then restore a backup (\`fazt backup\` copies) or salvage with \`sqlite3 ${label} .recover\`.`,
  );
}

/** True for a driver error saying the database file is damaged (SQLITE_CORRUPT, "malformed"). */
export function isCorruptionError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT')) || /database disk image is malformed|SQLITE_CORRUPT/i.test(String((e as Error)?.message ?? e));
}

/**
 * Translates driver errors met while opening into clear {@link FaztError}s.
 * SQLite result codes: https://www.sqlite.org/rescode.html (SQLITE_NOTADB = 26, SQLITE_CORRUPT = 11).
 */
function translateOpenError(e: unknown, label: string): unknown {
  if (isFaztError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: string }).code ?? '';
  if (code === 'SQLITE_NOTADB' || /file is not a database/i.test(msg)) {
    return new FaztError('NOT_A_CARTRIDGE', `${label} is not a Fazt cartridge (not an SQLite database). It was left untouched.`);
  }
  if (code.startsWith('SQLITE_CORRUPT') || /malformed|corrupt/i.test(msg)) return corruptCartridgeError(label, msg);
  return e;
}

/**
 * Opens a cartridge on a connection: refuses foreign or newer files, applies pending migrations
 * (each in its own transaction, recorded in `schema_migrations`), creates the node identity.
 *
 * @throws FaztError `NOT_A_CARTRIDGE` for an SQLite database of another application;
 *   `CARTRIDGE_TOO_NEW` when the file was written by a newer Fazt (nothing is changed);
 *   `CARTRIDGE_CORRUPT` when SQLite reports damage.
 */
export function openCartridge(db: SqlDatabase, options: OpenCartridgeOptions = {}): Cartridge {
  const label = options.label ?? 'the cartridge';
  const migrations = options.migrations ?? MIGRATIONS;
  const latest = migrations[migrations.length - 1]!.version;
  const clock = options.clock ?? systemClock;
  try {
    const appId = db.get<{ application_id: number }>('PRAGMA application_id')!.application_id;
    const tables = db.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").map((r) => r.name);
    const fresh = tables.length === 0;
    if (!fresh && appId !== FAZT_APPLICATION_ID) {
      throw new FaztError(
        'NOT_A_CARTRIDGE',
        `${label} is an SQLite database but not a Fazt cartridge (tables: ${tables.slice(0, 5).join(', ')}). It was left untouched.`,
      );
    }
    if (fresh) {
      // before the first table, or it takes a VACUUM (migration 3)
      db.exec('PRAGMA auto_vacuum = INCREMENTAL');
      db.exec(`PRAGMA application_id = ${FAZT_APPLICATION_ID}`);
      db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    }
    const applied = db.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations')!.v ?? 0;
    if (applied > latest) {
      throw new FaztError(
        'CARTRIDGE_TOO_NEW',
        `${label} was written by a newer Fazt (schema ${applied}; this build knows up to ${latest}). Upgrade Fazt to open it; the file was left untouched.`,
        { cartridgeSchema: applied, supportedSchema: latest },
      );
    }
    for (const m of migrations) {
      if (m.version <= applied) continue;
      m.before?.(db);
      db.transaction(() => {
        db.exec(m.sql);
        db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, clock.now()]);
      });
    }
    let nodeId = db.get<{ value: string }>("SELECT value FROM cartridge_meta WHERE key = 'node_id'")?.value;
    if (!nodeId) {
      nodeId = randomHex(8);
      db.transaction(() => {
        db.run("INSERT INTO cartridge_meta (key, value) VALUES ('node_id', ?)", [nodeId!]);
        db.run("INSERT OR IGNORE INTO cartridge_meta (key, value) VALUES ('created_at', ?)", [String(clock.now())]);
      });
    }
    return { db, nodeId, clock, hlc: new HybridLogicalClock(nodeId, clock), schemaVersion: latest, created: fresh, integrity: { state: 'unchecked' } };
  } catch (e) {
    throw translateOpenError(e, label);
  }
}

/** Reads a value of `cartridge_meta`. */
export function getMeta(db: SqlDatabase, key: string): string | undefined {
  return db.get<{ value: string }>('SELECT value FROM cartridge_meta WHERE key = ?', [key])?.value;
}

/** Writes a value of `cartridge_meta` (local-only settings: setup code, domain …). */
export function setMeta(db: SqlDatabase, key: string, value: string | null): void {
  if (value === null) db.run('DELETE FROM cartridge_meta WHERE key = ?', [key]);
  else db.run('INSERT INTO cartridge_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value', [key, value]);
}

/** Latest schema version known to this build. */
export const SCHEMA_VERSION = LATEST_SCHEMA_VERSION;
