import type { SqlDatabase } from '../sql/index.js';

/**
 * Integrity of the cartridge file as SQLite sees it: `PRAGMA quick_check` (every page read, b-tree
 * structure and record format checked; O(N)) at start, `PRAGMA integrity_check` (also indexes
 * against their tables) from `fazt doctor`. https://www.sqlite.org/pragma.html#pragma_integrity_check
 */

/** What one check found. */
export interface IntegrityReport {
  /** `quick` (`PRAGMA quick_check`) or `full` (`PRAGMA integrity_check`). */
  check: 'quick' | 'full';
  /** True when SQLite answered `ok`. */
  ok: boolean;
  /** SQLite's lines describing the damage (at most the `max` asked for); empty when ok. */
  problems: string[];
  /** When the check finished, ms since the epoch. */
  checkedAt: number;
  /** How long it took, ms. */
  ms: number;
}

/**
 * The cartridge's integrity as last known, reported by `GET /api/health` as `integrity`:
 * `unchecked` (no check ran, e.g. the browser node), `checking`, `ok`, `damaged` (with the
 * problems), or `failed` (the check itself could not run: `error`).
 */
export type IntegrityState =
  | { state: 'unchecked' }
  | { state: 'checking'; check: 'quick' | 'full'; since: number }
  | ({ state: 'ok' | 'damaged' } & IntegrityReport)
  | { state: 'failed'; check: 'quick' | 'full'; error: string; checkedAt: number };

/** Most problem lines kept from one check. */
export const MAX_INTEGRITY_PROBLEMS = 100;

/** Turns SQLite's answer lines into a report. */
export function integrityReport(check: 'quick' | 'full', lines: string[], ms: number, now: number): IntegrityReport {
  const ok = lines.length === 1 && lines[0] === 'ok';
  return { check, ok, problems: ok ? [] : lines, checkedAt: now, ms };
}

/**
 * Runs a check on this connection, synchronously (the browser node, tests; the headless node runs
 * it on a worker thread instead).
 * @param now wall clock, ms.
 * @throws the driver's error when SQLite cannot even read the schema (`SQLITE_CORRUPT`, `SQLITE_NOTADB`).
 */
export function checkIntegrity(db: SqlDatabase, check: 'quick' | 'full', now: () => number = Date.now): IntegrityReport {
  const started = now();
  const pragma = check === 'quick' ? 'quick_check' : 'integrity_check';
  const rows = db.query<Record<string, unknown>>(`PRAGMA ${pragma}(${MAX_INTEGRITY_PROBLEMS})`);
  const lines = rows.map((r) => String(Object.values(r)[0]));
  return integrityReport(check, lines, now() - started, now());
}

/** What `GET /api/health` (a public route) says about integrity: the state, never SQLite's lines. */
export interface IntegritySummary {
  state: IntegrityState['state'];
  /** `quick` or `full`, once a check ran. */
  check?: 'quick' | 'full';
  /** When the last check finished, ms since the epoch. */
  checkedAt?: number;
  /** How many problem lines the check reported (`damaged` only). */
  problems?: number;
}

/** The public summary of an {@link IntegrityState}. */
export function integritySummary(s: IntegrityState): IntegritySummary {
  switch (s.state) {
    case 'unchecked':
      return { state: s.state };
    case 'checking':
      return { state: s.state, check: s.check };
    case 'failed':
      return { state: s.state, check: s.check, checkedAt: s.checkedAt };
    default:
      return { state: s.state, check: s.check, checkedAt: s.checkedAt, ...(s.state === 'damaged' ? { problems: s.problems.length } : {}) };
  }
}
