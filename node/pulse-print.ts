import { formatBytes } from '../shared/index.js';
import type { PulseAlertRecord, PulseSnapshot } from '../shared/pulse/index.js';
import { formatDuration, mergeSnapshots } from '../shared/pulse/index.js';

/** `fazt pulse` for people: the latest snapshot, per-app figures, alerts and history as plain-text tables. */

/** What `GET /api/pulse` answers (shared/http/routes/pulse.ts). */
export interface PulseReport {
  latest: PulseSnapshot | null;
  history: PulseSnapshot[];
  historySpan: string;
  alerts: { open: PulseAlertRecord[]; recent: PulseAlertRecord[] };
  settings: { intervalMs: number; intervalSource: 'host' | 'setting' | 'default' };
  running: boolean;
  nextAt: number | null;
}

const bytes = (n: number | null) => (n === null ? '-' : formatBytes(n));
const pct = (f: number | null) => (f === null ? '-' : `${Math.round(f * 1000) / 10}%`);
const ms = (v: number | null) => (v === null ? '-' : v >= 1000 ? `${Math.round(v / 100) / 10} s` : `${Math.round(v * 10) / 10} ms`);
const utc = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ');

/** Left-aligned columns two spaces apart; numeric columns (`right`) right-aligned. */
export function columns(rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => r.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

/** One line per alert: `CRITICAL  title (since …)` and its message indented below. */
export function formatAlerts(alerts: readonly PulseAlertRecord[], now: number): string {
  return alerts
    .map((a) => {
      const since = Math.round((now - a.raisedAt) / 60_000);
      const when = a.clearedAt ? `cleared ${utc(a.clearedAt)} UTC` : `since ${since < 90 ? `${since} min` : `${Math.round(since / 60)} h`}`;
      return `${a.severity === 'critical' ? 'CRITICAL' : 'WARNING '}  ${a.title} (${when})\n          ${a.message}`;
    })
    .join('\n');
}

/**
 * The report as text: a header, the latest figures, per-app requests, open alerts, and — when
 * `withHistory` — one row per stored snapshot of the span.
 * @param now ms epoch, for "3 min ago".
 */
export function formatPulse(r: PulseReport, now: number, withHistory: boolean): string {
  const out: string[] = [];
  const every = formatDuration(r.settings.intervalMs);
  const s = r.latest;
  if (!s) {
    out.push(`No snapshot yet. The node records one every ${every} while it runs (${r.running ? 'it is running' : 'start it with `fazt start`'}); \`fazt pulse --now\` takes one now.`);
  } else {
    const age = Math.round((now - s.at) / 60_000);
    out.push(`Pulse at ${utc(s.at)} UTC (${age < 1 ? 'just now' : `${age} min ago`}), every ${every}${r.settings.intervalSource === 'default' ? '' : ` (${r.settings.intervalSource})`}`);
    out.push('');
    const rows: string[][] = [
      ['memory', `${bytes(s.process.rssBytes)} RSS, heap ${bytes(s.process.heapUsedBytes)}`],
      ['cpu', s.process.cpuPercent === null ? '-' : `${s.process.cpuPercent}% of a core`],
      ['disk', s.disk.usedFraction === null ? 'unknown' : `${pct(s.disk.usedFraction)} used, ${bytes(s.disk.freeBytes)} free of ${bytes(s.disk.totalBytes)}`],
      ['cartridge', bytes(s.disk.cartridgeBytes)],
      ['requests', `${s.requests.total} (${s.requests.errors} errors), p99 ${ms(s.requests.p99Ms)} over ${formatDuration(Math.max(1, Math.round(s.periodMs / 1000)) * 1000)}`],
      ['jobs', `${s.jobs.runs} runs, ${s.jobs.failures} failed`],
      ['events', `${s.events.emitted} stored, ${s.events.deliveries} deliveries, ${s.events.deliveryFailures} failed`],
      ['push', `${s.push.failures} failed`],
      ['peers', s.peers.total ? `${s.peers.connected} of ${s.peers.total} connected${s.peers.list.some((p) => !p.connected) ? ` (not: ${s.peers.list.filter((p) => !p.connected).map((p) => p.name).join(', ')})` : ''}` : 'none paired'],
    ];
    out.push(columns(rows));
    // per app over the history's span (the latest window alone is often empty)
    const span = r.history.length ? mergeSnapshots(r.history, r.history[0]!.at, 'raw') : s;
    if (span.apps.length) {
      out.push('');
      out.push(`Apps, past ${r.history.length ? r.historySpan : formatDuration(Math.max(1000, Math.round(s.periodMs / 1000) * 1000))}:`);
      out.push(columns([['APP', 'REQUESTS', 'ERRORS', 'P99'], ...span.apps.map((a) => [a.app ?? a.appId, String(a.requests), String(a.errors), ms(a.p99Ms)])], new Set([1, 2, 3])));
    }
  }
  out.push('');
  out.push(r.alerts.open.length ? `Alerts:\n${formatAlerts(r.alerts.open, now)}` : 'No alerts.');
  if (withHistory) {
    out.push('');
    if (!r.history.length) out.push(`No history in the past ${r.historySpan}.`);
    else {
      out.push(`History, past ${r.historySpan} (${r.history.length} rows):`);
      out.push(
        columns(
          [
            ['TIME (UTC)', 'RES', 'RSS', 'CPU', 'DISK', 'CARTRIDGE', 'REQ', 'ERR', 'P99', 'JOBS', 'FAILED'],
            ...r.history.map((h) => [
              utc(h.at),
              h.resolution,
              bytes(h.process.rssBytes),
              h.process.cpuPercent === null ? '-' : `${h.process.cpuPercent}%`,
              pct(h.disk.usedFraction),
              bytes(h.disk.cartridgeBytes),
              String(h.requests.total),
              String(h.requests.errors),
              ms(h.requests.p99Ms),
              String(h.jobs.runs),
              String(h.jobs.failures),
            ]),
          ],
          new Set([2, 3, 4, 5, 6, 7, 8, 9, 10]),
        ),
      );
    }
  }
  return out.join('\n');
}
