import { Cron } from 'croner';
import type { AppManifest } from '../apps/manifest.js';
import { FaztError, isFaztError } from '../errors.js';
import { LruCache } from '../lib/lru.js';
import { MAX_JSON_BYTES, toStoredJson } from '../lib/stored-json.js';

/**
 * Cron expressions, evaluated with `croner` (https://croner.56k.guru). Accepted: standard 5-field
 * (`min hour dom month dow`) and 6-field with leading seconds; names (`MON`, `JAN`), ranges, lists,
 * steps, `L`, `W`, `#`, and the nicknames `@hourly`, `@daily` …. Day-of-month and day-of-week are
 * combined with OR, as in Vixie cron. Times are evaluated in UTC unless a timezone (IANA name) is given.
 */

/** One entry of `app.json` `schedule` (see `apps/manifest.ts`). */
export type ScheduleEntry = AppManifest['schedule'][number];

/** What happens to cron runs missed while the node was down. */
export type CatchUpPolicy = 'skip' | 'once' | 'all';

const CRON_MODE = '5-or-6-parts' as const;
const compiled = new LruCache<string, Cron>(512);

/**
 * A paused croner instance for an expression (cached).
 * @param timezone IANA name; `undefined` → UTC.
 * @throws Error (croner's) for an invalid expression.
 */
export function compileCron(expr: string, timezone?: string): Cron {
  const key = `${timezone ?? 'UTC'}\u0000${expr}`;
  let c = compiled.get(key);
  if (!c) {
    c = new Cron(expr, { timezone: timezone ?? 'UTC', paused: true, mode: CRON_MODE });
    compiled.set(key, c);
  }
  return c;
}

/**
 * The first run strictly after `after`.
 * @param after ms epoch.
 * @returns ms epoch (whole seconds), or `undefined` when the expression never matches again.
 */
export function nextCronRun(expr: string, timezone: string | undefined, after: number): number | undefined {
  return compileCron(expr, timezone).nextRun(new Date(after))?.getTime();
}

/**
 * The latest `n` runs at or before `at`, newest first.
 * @param at ms epoch.
 * @returns ms epoch values (at most `n`).
 */
export function previousCronRuns(expr: string, timezone: string | undefined, at: number, n: number): number[] {
  return compileCron(expr, timezone)
    .previousRuns(n, new Date(at + 1))
    .map((d) => d.getTime())
    .filter((t) => t <= at);
}

/**
 * Where a backlog of missed runs should start so that at most `max` runs remain up to `now`.
 * @param from the first missed run (ms epoch, a run of the expression, ≤ `now`).
 * @returns `from` when the backlog is at most `max` runs long, else the oldest of the latest `max` runs.
 */
export function boundBacklog(expr: string, timezone: string | undefined, from: number, now: number, max: number): number {
  let t = from;
  for (let k = 1; k <= max; k++) {
    const n = nextCronRun(expr, timezone, t);
    if (n === undefined || n > now) return from;
    t = n;
  }
  const last = previousCronRuns(expr, timezone, now, Math.max(1, max));
  return last[last.length - 1] ?? from;
}

/**
 * The `jobs.cron` column: the expression, prefixed with `CRON_TZ=<zone> ` (the cronie convention)
 * when the entry has a timezone, since the table has no timezone column.
 */
export function encodeCronColumn(expr: string, timezone?: string): string {
  return timezone ? `CRON_TZ=${timezone} ${expr}` : expr;
}

/** Inverse of {@link encodeCronColumn}. */
export function decodeCronColumn(column: string): { expr: string; timezone?: string } {
  const m = /^CRON_TZ=(\S+) (.*)$/s.exec(column);
  return m ? { expr: m[2]!, timezone: m[1]! } : { expr: column };
}

/** True when `tz` is an IANA time zone name the host knows. */
export function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The key identifying a schedule entry's job across deploys: its `name`, or `cron-<index>`. */
export function scheduleKey(entry: { name?: string }, index: number): string {
  return entry.name ?? `cron-${index}`;
}

/**
 * Checks an app's `schedule` before a deploy commits: every expression parses and matches a future
 * date, every timezone exists, job keys (name or `cron-<index>`) are unique and each `state` fits.
 * @param schedule `manifest.schedule` (`undefined` for manifests without the key).
 * @param now ms epoch the "future" is measured from (default: system time).
 * @throws FaztError `INVALID_MANIFEST` naming the entry, e.g.
 *   `schedule[0].cron "61 * * * *" is not a valid cron expression: …`.
 */
export function validateSchedule(schedule: readonly ScheduleEntry[] | undefined, now = Date.now()): void {
  const keys = new Set<string>();
  (schedule ?? []).forEach((entry, i) => {
    if (entry.timezone !== undefined && !isValidTimezone(entry.timezone)) {
      throw new FaztError('INVALID_MANIFEST', `schedule[${i}].timezone "${entry.timezone}" is not a known IANA time zone (like "Europe/Berlin" or "UTC"). Nothing was deployed.`);
    }
    let next: number | undefined;
    try {
      next = nextCronRun(entry.cron, entry.timezone, now);
    } catch (e) {
      throw new FaztError('INVALID_MANIFEST', `schedule[${i}].cron "${entry.cron}" is not a valid cron expression: ${(e as Error).message}. Nothing was deployed.`);
    }
    if (next === undefined) {
      throw new FaztError('INVALID_MANIFEST', `schedule[${i}].cron "${entry.cron}" is not a valid cron expression: it never matches a date. Nothing was deployed.`);
    }
    const key = scheduleKey(entry, i);
    if (keys.has(key)) {
      throw new FaztError('INVALID_MANIFEST', `schedule[${i}]: the job name "${key}" is used twice; give each job a unique "name". Nothing was deployed.`);
    }
    keys.add(key);
    try {
      toStoredJson(entry.state, `schedule[${i}].state`, MAX_JSON_BYTES);
    } catch (e) {
      throw isFaztError(e) ? new FaztError('INVALID_MANIFEST', `app.json: ${e.message} Nothing was deployed.`) : e;
    }
  });
}
