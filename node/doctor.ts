import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { checkSqliteHeader, FaztError, formatBytes, isFaztError } from '../shared/index.js';
import { integrityReport, MAX_INTEGRITY_PROBLEMS, type IntegrityReport } from '../shared/cartridge/index.js';
import { BetterSqliteDatabase } from './sqlite.js';
import { runSqliteJob } from './sqlite-worker.js';

/**
 * `fazt doctor`: a full check of a cartridge file that never changes it. Reads the SQLite header,
 * runs `PRAGMA integrity_check` on a worker thread with a read-only connection (works while a node
 * serves the file, and on files too damaged to open as a cartridge), and gathers the facts a person
 * needs to decide what to do.
 */

/** What `fazt doctor` found. JSON shape of `fazt doctor --json`. */
export interface DoctorReport {
  /** The file checked. */
  path: string;
  /** File size, bytes (the `-wal` beside it not included). */
  bytes: number;
  /** Size of the `-wal` file beside it, bytes; `null` when there is none. */
  walBytes: number | null;
  /** True when nothing is wrong. */
  ok: boolean;
  /** The header check's complaint (not SQLite, truncated, another application), if any. */
  headerProblem: string | null;
  /** The `integrity_check` outcome; `null` when the header check already refused the file. */
  integrity: IntegrityReport | null;
  /** Facts read from the file where it could be read: page size (bytes), pages, free pages, auto-vacuum mode, schema version. */
  facts: { pageSize?: number; pages?: number; freePages?: number; autoVacuum?: string; schema?: number | null };
  /** What to do, in words. */
  advice: string[];
}

/**
 * Checks a cartridge file.
 * @throws FaztError `NOT_FOUND` when there is no file at `path`.
 */
export async function doctor(path: string): Promise<DoctorReport> {
  if (!existsSync(path)) throw new FaztError('NOT_FOUND', `No cartridge at ${path}.`);
  const report: DoctorReport = {
    path,
    bytes: statSync(path).size,
    walBytes: existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : null,
    ok: false,
    headerProblem: null,
    integrity: null,
    facts: {},
    advice: [],
  };
  try {
    const fd = openSync(path, 'r');
    try {
      const head = Buffer.alloc(100);
      const n = readSync(fd, head, 0, 100, 0);
      checkSqliteHeader(head.subarray(0, n), fstatSync(fd).size, path);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    report.headerProblem = isFaztError(e) ? e.message : String(e);
  }
  if (report.headerProblem === null || /truncated/.test(report.headerProblem)) {
    const started = Date.now();
    try {
      const lines = await runSqliteJob({ op: 'check', path, full: true, max: MAX_INTEGRITY_PROBLEMS });
      report.integrity = integrityReport('full', lines, Date.now() - started, Date.now());
    } catch (e) {
      report.integrity = integrityReport('full', [(e as Error).message], Date.now() - started, Date.now());
    }
    try {
      const db = BetterSqliteDatabase.open(path, { readonly: true });
      try {
        const one = <T>(sql: string) => {
          try {
            return Object.values(db.get<Record<string, T>>(sql) ?? {})[0];
          } catch {
            return undefined;
          }
        };
        const av = one<number>('PRAGMA auto_vacuum');
        report.facts = {
          pageSize: one<number>('PRAGMA page_size'),
          pages: one<number>('PRAGMA page_count'),
          freePages: one<number>('PRAGMA freelist_count'),
          autoVacuum: av === undefined ? undefined : (['none', 'full', 'incremental'][av] ?? String(av)),
          schema: one<number | null>('SELECT MAX(version) FROM schema_migrations') ?? null,
        };
      } finally {
        db.close();
      }
    } catch {
      /* facts stay unknown */
    }
  }
  report.ok = report.headerProblem === null && report.integrity?.ok === true;
  if (!report.ok) {
    report.advice.push(
      'Stop the node that uses this file before you change anything.',
      'Restore the latest good backup (files written by `fazt backup`): move this file aside and put the backup in its place.',
      `No backup? Salvage what SQLite can still read: \`sqlite3 ${path} ".recover" | sqlite3 recovered.db\`, then check it with \`fazt doctor --db recovered.db\`.`,
    );
  } else if ((report.facts.freePages ?? 0) > 0 && report.facts.autoVacuum !== 'incremental') {
    report.advice.push('The file holds free pages and cannot give them back yet: start the node once (it converts the cartridge, schema 3).');
  }
  return report;
}

/** The report in words, as `fazt doctor` prints it. */
export function formatDoctorReport(r: DoctorReport): string {
  const f = r.facts;
  const lines = [`Cartridge ${r.path} (${formatBytes(r.bytes)}${r.walBytes !== null ? ` + ${formatBytes(r.walBytes)} of WAL` : ''})`];
  if (f.pages !== undefined) {
    lines.push(`  ${f.pages} pages of ${f.pageSize} bytes, ${f.freePages ?? '?'} free; auto_vacuum ${f.autoVacuum ?? '?'}; schema ${f.schema ?? '?'}`);
  }
  if (r.headerProblem) lines.push(`Header: ${r.headerProblem}`);
  if (r.integrity) {
    lines.push(
      r.integrity.ok
        ? `integrity_check: ok (every page and index checked in ${r.integrity.ms} ms)`
        : `integrity_check: DAMAGED (${r.integrity.problems.length}${r.integrity.problems.length >= MAX_INTEGRITY_PROBLEMS ? '+' : ''} problem${r.integrity.problems.length === 1 ? '' : 's'}):`,
    );
    for (const p of r.integrity.problems.slice(0, 20)) lines.push(...p.split('\n').map((l) => `  ${l}`));
    if (r.integrity.problems.length > 20) lines.push(`  … ${r.integrity.problems.length - 20} more (see --json)`);
  }
  lines.push(r.ok ? 'The cartridge is sound.' : 'The cartridge is damaged.');
  for (const a of r.advice) lines.push(`  - ${a}`);
  return lines.join('\n');
}
