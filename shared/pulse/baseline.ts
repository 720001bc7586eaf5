import type { PulseSnapshot } from './snapshot.js';

/**
 * What the alert rules compare a new snapshot with: the past day's requests and errors per app, the
 * apps that had errors in the past hour, and the oldest snapshot of the day (for growth). Kept up to
 * date incrementally by {@link RecentWindow}, so judging a snapshot does not re-read the day's rows.
 */
export interface Baseline {
  /** Requests and errors per app id over the past day (the new snapshot not included). */
  dayByApp: ReadonlyMap<string, { requests: number; errors: number }>;
  /** App ids with errors in a snapshot of the past hour (the new one not included). */
  erroredLastHour: ReadonlySet<string>;
  /** The oldest raw snapshot of the past day: when, and the cartridge's size then, bytes. */
  first: { at: number; cartridgeBytes: number } | undefined;
}

const DAY = 24 * 3_600_000;
const HOUR = 3_600_000;

interface Entry {
  at: number;
  cartridgeBytes: number;
  apps: { appId: string; requests: number; errors: number }[];
}

/**
 * The raw snapshots of the past day as running totals: adding a snapshot and dropping the ones that
 * left the day (or the hour) cost O(apps in them), whatever the interval.
 */
export class RecentWindow {
  private entries: Entry[] = [];
  private dayHead = 0;
  private hourHead = 0;
  private readonly day = new Map<string, { requests: number; errors: number }>();
  private readonly hourErrors = new Map<string, number>();

  /**
   * @param maxEntries most snapshots kept (the oldest go first beyond it; the store keeps the same bound).
   */
  constructor(private readonly maxEntries: number) {}

  /** Snapshots in the window. */
  get size(): number {
    return this.entries.length - this.dayHead;
  }

  /** Adds a snapshot (they come in time order). */
  add(s: PulseSnapshot): void {
    const e: Entry = { at: s.at, cartridgeBytes: s.disk.cartridgeBytes, apps: s.apps.map((a) => ({ appId: a.appId, requests: a.requests, errors: a.errors })) };
    this.entries.push(e);
    for (const a of e.apps) {
      const d = this.day.get(a.appId) ?? { requests: 0, errors: 0 };
      d.requests += a.requests;
      d.errors += a.errors;
      this.day.set(a.appId, d);
      if (a.errors) this.hourErrors.set(a.appId, (this.hourErrors.get(a.appId) ?? 0) + a.errors);
    }
    while (this.size > this.maxEntries) this.dropDay();
  }

  private dropDay(): void {
    const e = this.entries[this.dayHead++]!;
    for (const a of e.apps) {
      const d = this.day.get(a.appId);
      if (!d) continue;
      d.requests -= a.requests;
      d.errors -= a.errors;
      if (d.requests <= 0 && d.errors <= 0) this.day.delete(a.appId);
    }
    if (this.hourHead < this.dayHead) this.dropHour(this.dayHead - 1);
  }

  private dropHour(upTo: number): void {
    while (this.hourHead <= upTo) {
      const e = this.entries[this.hourHead++]!;
      for (const a of e.apps) {
        if (!a.errors) continue;
        const n = (this.hourErrors.get(a.appId) ?? 0) - a.errors;
        if (n > 0) this.hourErrors.set(a.appId, n);
        else this.hourErrors.delete(a.appId);
      }
    }
  }

  /** The baseline as of `now` (ms epoch): snapshots older than a day (an hour, for errors) are dropped first. */
  baseline(now: number): Baseline {
    while (this.dayHead < this.entries.length && this.entries[this.dayHead]!.at < now - DAY) this.dropDay();
    while (this.hourHead < this.entries.length && this.entries[this.hourHead]!.at <= now - HOUR) this.dropHour(this.hourHead);
    if (this.dayHead > 1024) {
      this.entries = this.entries.slice(this.dayHead);
      this.hourHead -= this.dayHead;
      this.dayHead = 0;
    }
    const f = this.entries[this.dayHead];
    return { dayByApp: this.day, erroredLastHour: new Set(this.hourErrors.keys()), first: f && { at: f.at, cartridgeBytes: f.cartridgeBytes } };
  }
}

/** The baseline of a list of raw snapshots (oldest first) as of `now`: for tests and one-off use. */
export function baselineOf(snapshots: readonly PulseSnapshot[], now: number): Baseline {
  const w = new RecentWindow(Number.MAX_SAFE_INTEGER);
  for (const s of snapshots) w.add(s);
  return w.baseline(now);
}
