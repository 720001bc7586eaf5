/** Plain-words formatting of sizes, times and counts for the dashboard. */

/** `1536` → `1.5 KB` (powers of 1024, one decimal below 10). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '–';
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** A date and time in the person's locale, e.g. `12 Mar 2025, 14:05`. */
export function formatTime(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A clock time with seconds, for log lines. */
export function formatClock(ms: number): string {
  return new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** `3 files`, `1 file`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * How long ago `ms` was, in words: `just now` (under 45 s), `2 minutes ago`, `3 hours ago`,
 * `yesterday`, `5 days ago`, then the date. `now` defaults to `Date.now()` (both ms since the epoch).
 */
export function formatAgo(ms: number, now = Date.now()): string {
  const s = Math.round((now - ms) / 1000);
  if (s < 45) return 'just now';
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  if (s < 3600) return rtf.format(-Math.max(1, Math.round(s / 60)), 'minute');
  if (s < 86_400) return rtf.format(-Math.round(s / 3600), 'hour');
  if (s < 7 * 86_400) return rtf.format(-Math.round(s / 86_400), 'day');
  return new Date(ms).toLocaleDateString(undefined, { dateStyle: 'medium' });
}

/** A countdown: `9:05` (minutes and seconds) for `ms` milliseconds, `0:00` at or below zero. */
export function formatCountdown(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
