/**
 * The shape of a Pulse snapshot (docs/pulse.md), and how several are merged into one when history
 * is downsampled (raw → hourly → daily).
 */

/** How fine a stored snapshot is: one taken (`raw`), or raw ones merged per UTC hour or UTC day. */
export type Resolution = 'raw' | 'hour' | 'day';

/** One app's requests in a snapshot's window. */
export interface AppPulse {
  appId: string;
  /** The app's name when the snapshot was taken (`null`: removed since, or `(other)`). */
  app: string | null;
  /** Requests answered. */
  requests: number;
  /** Answers with status ≥ 500. */
  errors: number;
  /** 99th percentile time to the response head, ms; merged rows keep the highest of their rows. `null`: no requests. */
  p99Ms: number | null;
}

/** A peer's link state in a snapshot. */
export interface PeerPulse {
  nodeId: string;
  name: string;
  /** A link to it was open. */
  connected: boolean;
}

/** The node's health over one window (raw: since the previous snapshot; merged: an hour or a day). */
export interface PulseSnapshot {
  /** Raw: when it was taken, ms epoch. Merged: the start of its UTC hour or day, ms epoch. */
  at: number;
  resolution: Resolution;
  /** The time the counts cover, ms (raw: since the previous snapshot or the node's start). */
  periodMs: number;
  /** Raw snapshots merged into this one (1 for raw). */
  samples: number;
  /** The host process; a field is `null` where the host cannot tell (the browser node reports no RSS or CPU). */
  process: {
    /** Resident set size, bytes (merged: mean). */
    rssBytes: number | null;
    /** JS heap in use, bytes (merged: mean). */
    heapUsedBytes: number | null;
    /** CPU time used over the window (user + system) as a share of one core, percent (merged: mean). */
    cpuPercent: number | null;
  };
  /** The disk the cartridge is on, and the cartridge (merged: the last row's). */
  disk: {
    freeBytes: number | null;
    totalBytes: number | null;
    /** `1 − free / total`, 0–1, rounded to 4 digits; `null` when unknown. */
    usedFraction: number | null;
    /** The cartridge's size (SQLite pages × page size), bytes. */
    cartridgeBytes: number;
  };
  /** All apps' requests together. */
  requests: { total: number; errors: number; p99Ms: number | null };
  /** Per app, busiest first. */
  apps: AppPulse[];
  /** Scheduled job runs (each attempt) and failures. */
  jobs: { runs: number; failures: number };
  /** Events stored in the window, and deliveries to subscribers (`on` handler runs) with their failures. */
  events: { emitted: number; deliveries: number; deliveryFailures: number };
  /** Web Push sends that failed. */
  push: { failures: number };
  /** Paired devices and their links when the snapshot was taken (merged: the last row's). */
  peers: { total: number; connected: number; list: PeerPulse[] };
  /** How long taking the snapshot took, ms (merged: the longest). */
  snapshotMs: number;
}

const mean = (xs: (number | null)[]): number | null => {
  const v = xs.filter((x): x is number => typeof x === 'number');
  return v.length ? Math.round((v.reduce((a, b) => a + b, 0) / v.length) * 100) / 100 : null;
};
const maxOf = (xs: (number | null)[]): number | null => {
  const v = xs.filter((x): x is number => typeof x === 'number');
  return v.length ? Math.max(...v) : null;
};

/**
 * Merges snapshots into one row of a coarser resolution: counts are summed, gauges (memory, CPU)
 * averaged, disk and peers taken from the latest row, p99 and snapshot cost the highest of the rows
 * (an upper bound of the true merged p99, which the rows' histograms are not kept to compute).
 * @param rows at least one snapshot.
 * @param at the merged row's time (start of its UTC hour or day), ms epoch.
 * @param resolution the merged row's resolution.
 */
export function mergeSnapshots(rows: readonly PulseSnapshot[], at: number, resolution: Resolution): PulseSnapshot {
  const sorted = [...rows].sort((a, b) => a.at - b.at);
  const last = sorted[sorted.length - 1]!;
  const sum = (f: (s: PulseSnapshot) => number) => sorted.reduce((a, s) => a + f(s), 0);
  const apps = new Map<string, AppPulse>();
  for (const s of sorted) {
    for (const a of s.apps) {
      const m = apps.get(a.appId);
      if (!m) apps.set(a.appId, { ...a });
      else {
        m.requests += a.requests;
        m.errors += a.errors;
        m.p99Ms = maxOf([m.p99Ms, a.p99Ms]);
        m.app = a.app ?? m.app;
      }
    }
  }
  return {
    at,
    resolution,
    periodMs: sum((s) => s.periodMs),
    samples: sum((s) => s.samples),
    process: {
      rssBytes: mean(sorted.map((s) => s.process.rssBytes)),
      heapUsedBytes: mean(sorted.map((s) => s.process.heapUsedBytes)),
      cpuPercent: mean(sorted.map((s) => s.process.cpuPercent)),
    },
    disk: { ...last.disk },
    requests: { total: sum((s) => s.requests.total), errors: sum((s) => s.requests.errors), p99Ms: maxOf(sorted.map((s) => s.requests.p99Ms)) },
    apps: [...apps.values()].sort((a, b) => b.requests - a.requests),
    jobs: { runs: sum((s) => s.jobs.runs), failures: sum((s) => s.jobs.failures) },
    events: { emitted: sum((s) => s.events.emitted), deliveries: sum((s) => s.events.deliveries), deliveryFailures: sum((s) => s.events.deliveryFailures) },
    push: { failures: sum((s) => s.push.failures) },
    peers: { total: last.peers.total, connected: last.peers.connected, list: last.peers.list.map((p) => ({ ...p })) },
    snapshotMs: maxOf(sorted.map((s) => s.snapshotMs)) ?? 0,
  };
}
