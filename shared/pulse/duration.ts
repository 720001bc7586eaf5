import { FaztError } from '../errors.js';

/** Durations as people type them for Pulse: `90s`, `15m`, `24h`, `7d`, `2w` (and `500ms`). */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * Parses a duration like `24h` into ms.
 * @param what the option's name, for the error message (`history`, `--interval`).
 * @param max the longest accepted, ms.
 * @throws FaztError `BAD_REQUEST` for anything but a whole number and one of ms, s, m, h, d, w, or one above `max`.
 * @example parseDuration('24h', 'history') // 86_400_000
 */
export function parseDuration(v: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const m = /^\s*(\d{1,9})\s*(ms|s|m|h|d|w)\s*$/i.exec(v);
  if (!m) throw new FaztError('BAD_REQUEST', `${what} must be a duration like 30m, 24h or 7d (got "${v.slice(0, 40)}").`);
  const ms = Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()]!;
  if (ms > max) throw new FaztError('BAD_REQUEST', `${what} can be at most ${formatDuration(max)} (got "${v.slice(0, 40)}").`);
  return ms;
}

/** A duration in ms as the largest whole unit that fits: `15m`, `24h`, `400d`, `250ms`. */
export function formatDuration(ms: number): string {
  for (const u of ['w', 'd', 'h', 'm', 's'] as const) if (ms >= UNIT_MS[u]! && ms % UNIT_MS[u]! === 0) return `${ms / UNIT_MS[u]!}${u}`;
  return `${ms}ms`;
}
