import { describe, expect, it } from 'vitest';
import { drivers } from '../testing/drivers.js';
import { makeZip, streamOf } from '../testing/zip.js';
import { openCartridge } from '../cartridge/index.js';
import { createKernel, type Kernel } from '../kernel.js';
import { createFetch } from '../http/index.js';
import type { HostTimers } from '../lib/timer.js';
import { askPulse, baselineOf, RecentWindow, LatencyHistogram, mergeSnapshots, parseDuration, PulseStore, RETENTION, ruleSummary, type PulseAlert, type PulseSnapshot } from './index.js';

/**
 * Pulse with a fake clock and fake timers on both real drivers: snapshots on schedule, downsampling
 * at the hour and day boundaries, the history's bounds, alert hysteresis, the rule-based answer.
 * The host ports (disk, process) are the host boundary and are stood in by fixed figures.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);

function fakeTimers() {
  const live = new Map<number, { fn: () => void; ms: number }>();
  let seq = 0;
  const timers: HostTimers = {
    setTimeout(fn, ms) {
      live.set(++seq, { fn, ms });
      return seq;
    },
    clearTimeout(h) {
      live.delete(h as number);
    },
  };
  return {
    timers,
    live,
    /** The delays of the pending timers, ms. */
    delays: () => [...live.values()].map((t) => t.ms),
    fire() {
      const due = [...live.values()];
      live.clear();
      for (const t of due) t.fn();
    },
  };
}

const settle = () => new Promise((r) => setTimeout(r, 5));

/** A kernel on a fresh cartridge with a clock the test moves and a disk whose use the test sets. */
async function setup(open: () => Promise<import('../sql/index.js').SqlDatabase>, intervalMs?: number) {
  const clock = { t: T0, now: () => clock.t };
  const disk = { used: 0.5, total: 100 * 1024 ** 3 };
  const cpu = { ms: 1000 };
  const ft = fakeTimers();
  const cart = openCartridge(await open(), { clock });
  const k = createKernel({
    cartridge: cart,
    ports: {
      diskSpace: { usage: async () => ({ freeBytes: Math.round(disk.total * (1 - disk.used)), totalBytes: disk.total }) },
      processStats: { read: () => ({ rssBytes: 50_000_000, heapUsedBytes: 20_000_000, cpuMs: cpu.ms }) },
    },
    pulse: { intervalMs, timers: ft.timers, thresholds: { growthRaiseBytes: 1000, errorMinRequests: 10 } },
  });
  const alerts: PulseAlert[] = [];
  k.pulse.onAlert((a) => alerts.push(a));
  return { k, clock, disk, cpu, ft, alerts };
}

const snap = (at: number, over: Partial<PulseSnapshot> = {}): PulseSnapshot => ({
  at,
  resolution: 'raw',
  periodMs: 15 * 60_000,
  samples: 1,
  process: { rssBytes: 100, heapUsedBytes: 50, cpuPercent: 2 },
  disk: { freeBytes: 10, totalBytes: 20, usedFraction: 0.5, cartridgeBytes: 4096 },
  requests: { total: 10, errors: 1, p99Ms: 5 },
  apps: [{ appId: 'a', app: 'alpha', requests: 10, errors: 1, p99Ms: 5 }],
  jobs: { runs: 1, failures: 0 },
  events: { emitted: 2, deliveries: 1, deliveryFailures: 0 },
  push: { failures: 0 },
  peers: { total: 0, connected: 0, list: [] },
  snapshotMs: 0.5,
  ...over,
});

async function deploy(k: Kernel, name: string) {
  return k.deployApp({ body: streamOf(makeZip({ 'app.json': JSON.stringify({ name }), 'index.html': '<h1>hi</h1>' })), contentType: 'application/zip' });
}

describe('latency histogram', () => {
  it('reports a percentile at its bucket bound: never below the true value, at most 25% above', () => {
    const h = new LatencyHistogram();
    expect(h.quantile(0.99)).toBeNull();
    for (let i = 1; i <= 1000; i++) h.record(i / 10); // 0.1 … 100 ms
    const p99 = h.quantile(0.99)!;
    expect(p99).toBeGreaterThanOrEqual(99);
    expect(p99).toBeLessThanOrEqual(99 * 1.25);
    const p50 = h.quantile(0.5)!;
    expect(p50).toBeGreaterThanOrEqual(50);
    expect(p50).toBeLessThanOrEqual(50 * 1.25);
    h.record(1e9); // beyond the last bucket: counted in it
    expect(h.count).toBe(1001);
  });
});

describe('durations', () => {
  it('parses 24h, 15m, 7d and refuses the rest with a clear error', () => {
    expect(parseDuration('24h', 'history')).toBe(DAY);
    expect(parseDuration('15m', 'x')).toBe(15 * 60_000);
    expect(() => parseDuration('2x', 'history')).toThrow(/history must be a duration like 30m, 24h or 7d/);
    expect(() => parseDuration('500d', 'history', 400 * DAY)).toThrow(/at most 400d/);
  });
});

for (const d of drivers) {
  describe(`pulse on ${d.name}`, () => {
    it('takes snapshots on schedule with the counts of each window', async () => {
      const { k, clock, ft, cpu } = await setup(() => d.open());
      await deploy(k, 'alpha');
      k.pulse.start();
      // the first snapshot: one interval from now, but not later than a minute after a start
      expect(ft.delays()).toEqual([60_000]);
      expect(k.pulse.nextAt).toBe(T0 + 60_000);
      const http = createFetch(k);
      for (let i = 0; i < 3; i++) expect((await http(new Request('http://localhost/a/alpha/'))).status).toBe(200);
      expect((await http(new Request('http://localhost/a/alpha/missing'))).status).toBe(404);
      clock.t += 60_000;
      cpu.ms += 600; // 600 ms of CPU in 60 s: 1%
      ft.fire();
      await settle();
      const first = k.pulse.store.latest()!;
      expect(first).toMatchObject({ at: T0 + 60_000, periodMs: 60_000, resolution: 'raw', process: { rssBytes: 50_000_000, cpuPercent: 1 }, disk: { usedFraction: 0.5 } });
      expect(first.apps).toEqual([{ appId: expect.any(String), app: 'alpha', requests: 4, errors: 0, p99Ms: expect.any(Number) }]);
      expect(first.disk.cartridgeBytes).toBeGreaterThan(0);
      // then every interval (15 minutes by default), counts reset per window
      expect(ft.delays()).toEqual([15 * 60_000]);
      clock.t += 15 * 60_000;
      ft.fire();
      await settle();
      const second = k.pulse.store.latest()!;
      expect(second).toMatchObject({ at: T0 + 16 * 60_000, periodMs: 15 * 60_000, requests: { total: 0 } });
      expect(k.pulse.store.counts()).toEqual({ raw: 2, hour: 0, day: 0 });
      // the owner's interval re-plans the next one
      k.pulse.setInterval(5 * 60_000);
      expect(ft.delays()).toEqual([5 * 60_000]);
      expect(() => k.pulse.setInterval(1000)).toThrow(/at least|from 60000/);
      await k.pulse.stop();
      expect(ft.live.size).toBe(0);
    });

    it('a restarted node snapshots one interval after the last stored one', async () => {
      const { k, ft } = await setup(() => d.open(), 10 * 60_000);
      k.pulse.store.insert(snap(T0 - 2 * 60_000));
      k.pulse.start();
      expect(ft.delays()).toEqual([8 * 60_000]);
      await k.pulse.stop();
    });

    it('merges raw rows into hourly ones after a day and hourly into daily after 30 days, at the boundaries', async () => {
      const db = await d.open();
      openCartridge(db);
      const store = new PulseStore(db);
      // raw rows every 15 min from 26 h ago to now
      const now = Date.UTC(2026, 0, 10, 12, 7, 0);
      for (let t = now - 26 * HOUR; t <= now; t += 15 * 60_000) store.insert(snap(t));
      const r = store.compact(now);
      // the cut-off is the hour that starts at or before now − 24 h (11:00 the day before): raw rows before it merge
      const cutoff = Date.UTC(2026, 0, 9, 12, 0, 0);
      const raw = store.history(0, now, 'raw');
      expect(raw[0]!.at).toBeGreaterThanOrEqual(cutoff);
      expect(store.history(0, now, 'raw').every((s) => s.at >= cutoff)).toBe(true);
      const hours = store.history(0, now, 'hour');
      expect(hours.map((h) => h.at)).toEqual([Date.UTC(2026, 0, 9, 10, 0, 0), Date.UTC(2026, 0, 9, 11, 0, 0)]);
      expect(r.rawMerged).toBe(hours.reduce((n, h) => n + h.samples, 0));
      // counts are summed, p99 the highest, periods add up
      const full = hours[1]!;
      expect(full).toMatchObject({ resolution: 'hour', samples: 4, periodMs: HOUR, requests: { total: 40, errors: 4, p99Ms: 5 }, jobs: { runs: 4 } });
      expect(full.apps).toEqual([{ appId: 'a', app: 'alpha', requests: 40, errors: 4, p99Ms: 5 }]);
      // compacting again changes nothing
      expect(store.compact(now)).toEqual({ rawMerged: 0, hoursMerged: 0, deleted: 0 });
      // a row of an hour that was already merged (arriving late) joins that hour
      store.insert(snap(Date.UTC(2026, 0, 9, 11, 30, 0) + 1));
      store.compact(now);
      expect(store.history(0, now, 'hour')[1]!.samples).toBe(5);
      // 31 days later the hours become a day row; the day boundary is UTC midnight
      const later = now + 31 * DAY;
      store.compact(later);
      const days = store.history(0, later, 'day');
      expect(days.map((x) => x.at)).toContain(Date.UTC(2026, 0, 9));
      expect(store.history(0, Date.UTC(2026, 0, 10), 'hour')).toEqual([]);
      // daily rows go after 400 days
      store.compact(now + 401 * DAY);
      expect(store.history(0, Date.UTC(2026, 0, 9, 23, 59), 'day')).toEqual([]);
    });

    it('keeps at most maxRawRows raw rows whatever the interval', async () => {
      const db = await d.open();
      openCartridge(db);
      const store = new PulseStore(db);
      const n = RETENTION.maxRawRows + 25;
      db.transaction(() => {
        for (let i = 0; i < n; i++) store.insert(snap(T0 + i * 10));
      });
      const r = store.compact(T0 + n * 10);
      expect(r.deleted).toBe(25);
      expect(store.counts().raw).toBe(RETENTION.maxRawRows);
      expect(store.history(0, T0 + n * 10, 'raw')[0]!.at).toBe(T0 + 25 * 10);
    });

    it('raises a disk alert once, 10 points before the disk guard refuses (default limit 80%), holds it, clears it below 65%, raises it again: critical once the guard refuses', async () => {
      const { k, clock, disk, alerts } = await setup(() => d.open());
      const step = async (used: number) => {
        disk.used = used;
        clock.t += 15 * 60_000;
        await k.pulse.snapshot();
      };
      await step(0.5);
      await step(0.69);
      expect(alerts).toEqual([]);
      await step(0.72);
      expect(alerts).toEqual([{ condition: 'disk-full', severity: 'warning', title: 'Disk 72% full', message: expect.stringMatching(/72% used .*At 80% Fazt refuses new data\./), at: clock.t }]);
      await step(0.74);
      await step(0.67); // below 70% but above 65%: still holds, no new alert
      expect(alerts).toHaveLength(1);
      expect(k.pulse.store.openAlerts()).toHaveLength(1);
      await step(0.6);
      expect(k.pulse.store.openAlerts()).toEqual([]);
      expect(k.pulse.alerts().recent[0]).toMatchObject({ condition: 'disk-full', clearedAt: clock.t });
      await step(0.85);
      expect(alerts).toHaveLength(2);
      expect(alerts[1]).toMatchObject({ severity: 'critical', message: expect.stringMatching(/Fazt refuses new data now \(its limit is 80%\)/) });
    });

    it("the disk alert follows the owner's disk guard limit", async () => {
      const { k, clock, disk, alerts } = await setup(() => d.open());
      const step = async (used: number) => {
        disk.used = used;
        clock.t += 15 * 60_000;
        await k.pulse.snapshot();
      };
      // a higher limit: 82% is no warning yet (the fixed 80% raised one here before)
      k.diskGuard.setLimit(0.95);
      await step(0.82);
      expect(alerts).toEqual([]);
      await step(0.86);
      expect(alerts).toEqual([expect.objectContaining({ severity: 'warning', message: expect.stringMatching(/At 95% Fazt refuses new data/) })]);
      await step(0.4);
      // a lower limit: warned at 52%, well before the fixed 80%
      k.diskGuard.setLimit(0.6);
      await step(0.52);
      expect(alerts).toHaveLength(2);
      expect(alerts[1]).toMatchObject({ severity: 'warning', message: expect.stringMatching(/At 60% Fazt refuses new data/) });
    });

    it("raises an app's error spike against its past day, and clears it when the errors stop", async () => {
      const { k, clock, alerts } = await setup(() => d.open());
      const app = await deploy(k, 'alpha');
      const window = async (requests: number, errors: number) => {
        for (let i = 0; i < requests; i++) k.pulse.counters.recordRequest(app.id, i < errors ? 503 : 200, 2);
        clock.t += 15 * 60_000;
        await k.pulse.snapshot();
      };
      await window(100, 1); // a 1% baseline
      await window(100, 2);
      expect(alerts).toEqual([]);
      await window(5, 5); // too few requests to judge
      expect(alerts).toEqual([]);
      await window(50, 20);
      expect(alerts).toEqual([expect.objectContaining({ condition: 'app-errors', severity: 'critical', title: 'alpha: 40% of requests failing' })]);
      await window(50, 10); // still failing: no repeat
      expect(alerts).toHaveLength(1);
      await window(0, 0); // no traffic proves nothing: it holds
      await window(5, 0); // too few requests to say it is fine
      expect(k.pulse.store.openAlerts()).toHaveLength(1);
      await window(50, 0);
      expect(k.pulse.store.openAlerts()).toEqual([]);
      // raised again, then an hour without errors (and without traffic) clears it
      await window(50, 30);
      expect(alerts).toHaveLength(2);
      for (let i = 0; i < 3; i++) await window(0, 0); // 45 minutes
      expect(k.pulse.store.openAlerts()).toHaveLength(1);
      await window(0, 0);
      expect(k.pulse.store.openAlerts()).toEqual([]);
    });

    it('raises job-failing after 3 failures in a row; a success clears it', async () => {
      const { k, clock, alerts } = await setup(() => d.open());
      const app = await deploy(k, 'alpha');
      const run = async (ok: boolean) => {
        const p = ok ? Promise.resolve() : Promise.reject(new Error('boom'));
        p.catch(() => {});
        k.pulse.observe(app.id, 'scheduled', { id: 'job1', name: 'nightly' }, p);
        await settle();
        clock.t += 15 * 60_000;
        return k.pulse.snapshot();
      };
      await run(false);
      const s = await run(false);
      expect(s.jobs).toEqual({ runs: 1, failures: 1 });
      expect(alerts).toEqual([]);
      await run(false);
      expect(alerts).toEqual([expect.objectContaining({ condition: 'job-failing', title: 'Job nightly of alpha keeps failing', message: expect.stringContaining('boom') })]);
      await run(false);
      expect(alerts).toHaveLength(1);
      await run(true);
      expect(k.pulse.store.openAlerts()).toEqual([]);
      // failing again, then the app is removed: its jobs are gone, the alert clears
      for (let i = 0; i < 3; i++) await run(false);
      expect(alerts).toHaveLength(2);
      k.removeApp('alpha');
      clock.t += 15 * 60_000;
      await k.pulse.snapshot();
      expect(k.pulse.store.openAlerts()).toEqual([]);
    });

    it('raises cartridge-growth when the cartridge grows fast over the day', async () => {
      const { k, clock, alerts } = await setup(() => d.open());
      clock.t += 60_000;
      await k.pulse.snapshot();
      await deploy(k, 'alpha'); // grows the cartridge by far more than the test's 1000 bytes
      k.cartridge.db.exec("CREATE TABLE filler (x BLOB); INSERT INTO filler VALUES (zeroblob(300000))");
      clock.t += 60_000;
      await k.pulse.snapshot();
      expect(alerts.map((a) => a.condition)).toEqual(['cartridge-growth']);
    });

    it('answers "how am I doing?" with rules when no model is configured', async () => {
      const { k, clock, disk } = await setup(() => d.open());
      const none = await askPulse(k.ai, { latest: undefined, day: [], open: [], intervalMs: 15 * 60_000 }, 'how am I doing?', clock.t);
      expect(none).toEqual({ answer: expect.stringMatching(/^No health snapshot yet: the node records one every 15 minutes/), source: 'rules' });
      const app = await deploy(k, 'alpha');
      for (let i = 0; i < 40; i++) k.pulse.counters.recordRequest(app.id, i < 20 ? 500 : 200, 12);
      disk.used = 0.9;
      clock.t += 15 * 60_000;
      const s = await k.pulse.snapshot();
      const facts = { latest: s, day: k.pulse.store.history(0, clock.t, 'raw'), open: k.pulse.store.openAlerts(), intervalMs: 15 * 60_000 };
      const a = await askPulse(k.ai, facts, 'how am I doing?', clock.t + 3 * 60_000);
      expect(a.source).toBe('rules');
      expect(a.answer).toContain('2 things need attention:');
      // 90% is past the disk guard's default limit (80%): writes are refused, so it is critical
      expect(a.answer).toMatch(/- CRITICAL: Disk 90% full\. .*Fazt refuses new data now/);
      expect(a.answer).toMatch(/- CRITICAL: alpha: 50% of requests failing\./);
      expect(a.answer).toContain('The node uses 48 MiB of memory, 19 MiB of it JS heap');
      expect(a.answer).toContain('(snapshot 3 min ago)');
      expect(a.answer).toContain('Over the past day apps answered 40 requests; 20 failed (50%, most in alpha).');
      expect(ruleSummary({ ...facts, open: [] }, clock.t)).toMatch(/^All is well/);
      await expect(askPulse(k.ai, facts, 42, clock.t)).rejects.toThrow(/must be a string/);
      await expect(askPulse(k.ai, facts, 'x'.repeat(2001), clock.t)).rejects.toThrow(/at most 2000/);
    });
  });
}

describe('merging snapshots', () => {
  it('averages gauges, sums counts, keeps the latest disk and peers, the highest p99', () => {
    const a = snap(1000, { process: { rssBytes: 100, heapUsedBytes: null, cpuPercent: 1 }, requests: { total: 1, errors: 0, p99Ms: 3 } });
    const b = snap(2000, { process: { rssBytes: 300, heapUsedBytes: null, cpuPercent: 3 }, requests: { total: 2, errors: 1, p99Ms: 9 }, disk: { freeBytes: 1, totalBytes: 20, usedFraction: 0.95, cartridgeBytes: 8192 } });
    const m = mergeSnapshots([b, a], 0, 'hour');
    expect(m).toMatchObject({ at: 0, resolution: 'hour', samples: 2, process: { rssBytes: 200, heapUsedBytes: null, cpuPercent: 2 }, requests: { total: 3, errors: 1, p99Ms: 9 }, disk: { usedFraction: 0.95 } });
  });
});

describe('the recent window (alert baseline)', () => {
  it('keeps running totals of the past day and the apps with errors in the past hour, at the boundaries', () => {
    const w = new RecentWindow(1000);
    const at = (t: number, errors: number, bytes = 4096) =>
      w.add(snap(t, { apps: [{ appId: 'a', app: 'alpha', requests: 10, errors, p99Ms: 1 }], disk: { freeBytes: 1, totalBytes: 2, usedFraction: 0.5, cartridgeBytes: bytes } }));
    at(T0, 0, 1000);
    at(T0 + HOUR, 3, 2000);
    at(T0 + 2 * HOUR, 0, 3000);
    let b = w.baseline(T0 + 2 * HOUR - 1);
    expect(b.dayByApp.get('a')).toEqual({ requests: 30, errors: 3 });
    expect([...b.erroredLastHour]).toEqual(['a']); // errors 59:59.999 ago
    b = w.baseline(T0 + 2 * HOUR);
    expect([...b.erroredLastHour]).toEqual([]); // exactly an hour old: out
    expect(b.first).toEqual({ at: T0, cartridgeBytes: 1000 });
    b = w.baseline(T0 + DAY);
    expect(b.first).toEqual({ at: T0, cartridgeBytes: 1000 }); // exactly a day old: still in
    b = w.baseline(T0 + DAY + 1);
    expect(b.first).toEqual({ at: T0 + HOUR, cartridgeBytes: 2000 });
    expect(b.dayByApp.get('a')).toEqual({ requests: 20, errors: 3 });
    expect(w.baseline(T0 + 3 * DAY).dayByApp.size).toBe(0);
    // the same figures as computed from the list
    expect(baselineOf([snap(T0), snap(T0 + 1)], T0 + 2).dayByApp.get('a')).toEqual({ requests: 20, errors: 2 });
  });

  it('keeps at most its bound of snapshots', () => {
    const w = new RecentWindow(3);
    for (let i = 0; i < 5; i++) w.add(snap(T0 + i));
    expect(w.size).toBe(3);
    expect(w.baseline(T0 + 5)).toMatchObject({ first: { at: T0 + 2 }, dayByApp: new Map([['a', { requests: 30, errors: 3 }]]) });
  });
});
