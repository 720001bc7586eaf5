import { describe, expect, it } from 'vitest';
import { drivers, type DriverFactory } from '../testing/drivers.js';
import { openCartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import type { InvokeExport } from '../lib/invoke.js';
import type { SqlDatabase } from '../sql/index.js';
import { JobStore, MAX_PENDING_JOBS_PER_APP, MAX_TIMER_DELAY_MS, Scheduler, validateSchedule, nextCronRun, type HostTimers, type ScheduledJobEvent, type SchedulerOptions } from './index.js';

const T0 = Date.UTC(2024, 0, 1, 0, 7, 30); // Monday 2024-01-01 00:07:30 UTC
const MIN = 60_000;

class FakeClock {
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
}

/** Records every setTimeout; nothing fires unless a test says so. */
function fakeTimers() {
  const live = new Map<number, { fn: () => void; ms: number }>();
  let seq = 0;
  const stats = { sets: 0, maxLive: 0 };
  const timers: HostTimers = {
    setTimeout(fn, ms) {
      const h = ++seq;
      live.set(h, { fn, ms });
      stats.sets++;
      stats.maxLive = Math.max(stats.maxLive, live.size);
      return h;
    },
    clearTimeout(h) {
      live.delete(h as number);
    },
  };
  return {
    timers,
    live,
    stats,
    /** Fires every pending timer. */
    fire() {
      const due = [...live.values()];
      live.clear();
      for (const t of due) t.fn();
    },
  };
}

/** The sandbox boundary, stood in by a recorder that can be told to fail or hang. */
function recorder() {
  const calls: { appId: string; exportName: string; arg: ScheduledJobEvent }[] = [];
  const state = { failWith: undefined as Error | undefined, hang: false, active: 0, maxActive: 0, perApp: new Map<string, number>(), maxPerApp: 0, delay: 0 };
  const invoke: InvokeExport = async (appId, exportName, arg) => {
    calls.push({ appId, exportName, arg: arg as ScheduledJobEvent });
    if (state.hang) return new Promise<void>(() => {});
    state.active++;
    state.maxActive = Math.max(state.maxActive, state.active);
    const n = (state.perApp.get(appId) ?? 0) + 1;
    state.perApp.set(appId, n);
    state.maxPerApp = Math.max(state.maxPerApp, n);
    try {
      if (state.delay) await new Promise((r) => setTimeout(r, state.delay));
      else await Promise.resolve();
      if (state.failWith) throw state.failWith;
    } finally {
      state.active--;
      state.perApp.set(appId, state.perApp.get(appId)! - 1);
    }
  };
  return { calls, invoke, state };
}

async function setup(d: DriverFactory, opts: SchedulerOptions = {}, db?: SqlDatabase, clock = new FakeClock(T0)) {
  db ??= await d.open();
  const cart = openCartridge(db, { clock });
  const jobs = new JobStore(cart);
  const rec = recorder();
  const ft = fakeTimers();
  const scheduler = new Scheduler(cart, jobs, rec.invoke, { timers: ft.timers, ...opts });
  return { db, clock, cart, jobs, rec, ft, scheduler };
}

function expectFazt(fn: () => unknown, code: string, message?: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FaztError);
  expect((err as FaztError).code).toBe(code);
  if (message) expect((err as FaztError).message).toMatch(message);
}

describe('cron expressions', () => {
  it('computes next runs of standard 5-field, 6-field and zoned expressions', () => {
    expect(nextCronRun('*/15 * * * *', undefined, T0)).toBe(Date.UTC(2024, 0, 1, 0, 15));
    expect(nextCronRun('*/15 * * * *', undefined, Date.UTC(2024, 0, 1, 0, 15))).toBe(Date.UTC(2024, 0, 1, 0, 30));
    expect(nextCronRun('*/15 * * * *', undefined, Date.UTC(2024, 0, 1, 0, 59, 59, 999))).toBe(Date.UTC(2024, 0, 1, 1, 0));
    expect(nextCronRun('0 9 * * MON-FRI', undefined, Date.UTC(2024, 0, 5, 10))).toBe(Date.UTC(2024, 0, 8, 9)); // Fri 10:00 → Mon 09:00
    expect(nextCronRun('30 * * * * *', undefined, T0)).toBe(T0 + 60_000); // seconds field: next :30
    expect(nextCronRun('0 9 * * *', 'America/New_York', T0)).toBe(Date.UTC(2024, 0, 1, 14)); // EST = UTC−5
    expect(nextCronRun('@daily', undefined, T0)).toBe(Date.UTC(2024, 0, 2));
    // day-of-month OR day-of-week, as in Vixie cron: the 15th or any Monday
    expect(nextCronRun('0 0 15 * 1', undefined, Date.UTC(2024, 0, 2))).toBe(Date.UTC(2024, 0, 8));
  });

  it('validateSchedule rejects bad expressions, zones, duplicate names and oversized state', () => {
    validateSchedule([{ cron: '*/15 * * * *', catchUp: 'once' }, { name: 'nightly', cron: '0 3 * * *', catchUp: 'skip', timezone: 'Europe/Berlin' }]);
    validateSchedule(undefined);
    expectFazt(() => validateSchedule([{ cron: '61 * * * *', catchUp: 'once' }]), 'INVALID_MANIFEST', /^schedule\[0\]\.cron "61 \* \* \* \*" is not a valid cron expression: .*minute/);
    expectFazt(() => validateSchedule([{ cron: '* * * * *', catchUp: 'once' }, { cron: 'every day', catchUp: 'once' }]), 'INVALID_MANIFEST', /^schedule\[1\]\.cron "every day" is not a valid cron expression/);
    expectFazt(() => validateSchedule([{ cron: '* * * * * * *', catchUp: 'once' }]), 'INVALID_MANIFEST', /not a valid cron expression/);
    expectFazt(() => validateSchedule([{ cron: '0 0 31 2 *', catchUp: 'once' }]), 'INVALID_MANIFEST', /never matches a date/);
    expectFazt(() => validateSchedule([{ cron: '0 * * * *', catchUp: 'once', timezone: 'Mars/Olympus' }]), 'INVALID_MANIFEST', /schedule\[0\]\.timezone "Mars\/Olympus"/);
    expectFazt(() => validateSchedule([{ name: 'cron-1', cron: '0 * * * *', catchUp: 'once' }, { cron: '0 * * * *', catchUp: 'once' }]), 'INVALID_MANIFEST', /"cron-1" is used twice/);
    expectFazt(() => validateSchedule([{ cron: '0 * * * *', catchUp: 'once', state: 'x'.repeat(70_000) }]), 'INVALID_MANIFEST', /schedule\[0\]\.state/);
  });
});

for (const d of drivers) {
  describe(`schedule on ${d.name}`, () => {
    it('runs one-shot jobs (after, at) in time order, each once, with their state', async () => {
      const { clock, jobs, rec, scheduler } = await setup(d);
      const a1 = jobs.after('app-a', 5000, { n: 1 });
      const a2 = jobs.at('app-a', T0 + 1000, { n: 2 });
      const b1 = jobs.after('app-b', 3000);
      expect(a1).toMatchObject({ appId: 'app-a', kind: 'after', runAt: T0 + 5000, status: 'scheduled', state: { n: 1 }, attempts: 0, name: null, cron: null });
      expect(a2.runAt).toBe(T0 + 1000);
      expect(await scheduler.tick()).toBe(0);
      clock.t = T0 + 2000;
      expect(await scheduler.tick()).toBe(1);
      clock.t = T0 + 10_000;
      expect(await scheduler.tick()).toBe(2);
      expect(rec.calls.map((c) => [c.appId, c.exportName, c.arg.id])).toEqual([
        ['app-a', 'scheduled', a2.id],
        ['app-b', 'scheduled', b1.id],
        ['app-a', 'scheduled', a1.id],
      ]);
      expect(rec.calls[0]!.arg).toEqual({ id: a2.id, name: null, kind: 'at', cron: null, scheduledAt: T0 + 1000, state: { n: 2 }, attempt: 1 });
      expect(rec.calls[1]!.arg.state).toBeUndefined();
      expect(jobs.get('app-a', a1.id)!.status).toBe('done');
      expect(jobs.list('app-a')).toEqual([]);
      expect(jobs.pendingCount()).toBe(0);
      expect(await scheduler.tick()).toBe(0);
    });

    it('enforces argument and size limits', async () => {
      const { jobs } = await setup(d);
      for (const bad of [-1, NaN, Infinity, '5' as unknown as number]) expectFazt(() => jobs.after('app-a', bad), 'INVALID_ARGUMENT');
      expectFazt(() => jobs.at('app-a', -5), 'INVALID_ARGUMENT');
      expectFazt(() => jobs.after('app-a', 10, 'x'.repeat(64 * 1024)), 'LIMIT_EXCEEDED', /limit is 65536 bytes/);
      jobs.after('app-a', 10, 'x'.repeat(64 * 1024 - 2)); // exactly 64 KiB of JSON
      expectFazt(() => jobs.after('app-a', 10, { big: 10n }), 'INVALID_ARGUMENT', /JSON-serializable/);
      expectFazt(() => jobs.after('app-a', 10, () => 1), 'INVALID_ARGUMENT', /JSON-serializable/);
      for (let i = 1; i < MAX_PENDING_JOBS_PER_APP; i++) jobs.after('app-a', i);
      expect(jobs.pendingCount('app-a')).toBe(MAX_PENDING_JOBS_PER_APP);
      expectFazt(() => jobs.after('app-a', 1), 'LIMIT_EXCEEDED', /1000/);
      jobs.after('app-b', 1); // other apps are not affected
      const first = jobs.list('app-a')[0]!;
      expect(jobs.cancel('app-a', first.id)).toBe(true);
      jobs.at('app-a', T0); // a cancelled job frees its slot
    });

    it('cancel stops a pending job, only for its own app, and not cron jobs', async () => {
      const { clock, jobs, rec, scheduler } = await setup(d);
      const j = jobs.after('app-a', 1000);
      expect(jobs.cancel('app-b', j.id)).toBe(false);
      expect(jobs.cancel('app-a', 'nope')).toBe(false);
      expect(jobs.cancel('app-a', j.id)).toBe(true);
      expect(jobs.cancel('app-a', j.id)).toBe(false);
      clock.t += 5000;
      expect(await scheduler.tick()).toBe(0);
      expect(rec.calls).toEqual([]);
      jobs.syncCron('app-a', [{ cron: '* * * * *', catchUp: 'once' }]);
      const cron = jobs.list('app-a')[0]!;
      expectFazt(() => jobs.cancel('app-a', cron.id), 'INVALID_ARGUMENT', /app\.json/);
    });

    it('a job cancelled while running is not marked done nor retried', async () => {
      const { clock, jobs, rec, scheduler } = await setup(d);
      const j = jobs.after('app-a', 0);
      rec.state.failWith = new Error('boom');
      const run = scheduler.tick();
      expect(jobs.get('app-a', j.id)!.status).toBe('running');
      expect(jobs.cancel('app-a', j.id)).toBe(true);
      await run;
      expect(jobs.get('app-a', j.id)!.status).toBe('cancelled');
      clock.t += 60_000;
      expect(await scheduler.tick()).toBe(0);
    });

    it('a cancelled run still occupies its app until it returns', async () => {
      const { jobs, rec, scheduler } = await setup(d);
      rec.state.delay = 20;
      const j1 = jobs.after('app-a', 0);
      const run1 = scheduler.tick();
      jobs.cancel('app-a', j1.id);
      const j2 = jobs.after('app-a', 0);
      const run2 = scheduler.tick();
      expect(jobs.get('app-a', j2.id)!.status).toBe('scheduled');
      await Promise.all([run1, run2]);
      expect(jobs.get('app-a', j2.id)!.status).toBe('done');
      expect(rec.state.maxPerApp).toBe(1);
    });

    it('survives a restart: a second scheduler on the same database runs the pending jobs', async () => {
      const first = await setup(d);
      first.scheduler.start();
      const j = first.jobs.after('app-a', 60_000, { keep: true });
      expect(first.scheduler.wakeAt).toBe(T0 + 60_000);
      await first.scheduler.stop();
      expect(first.ft.live.size).toBe(0);

      const clock = new FakeClock(T0 + 30_000);
      const second = await setup(d, {}, first.db, clock);
      second.scheduler.start();
      expect(second.scheduler.wakeAt).toBe(T0 + 60_000);
      expect([...second.ft.live.values()].map((t) => t.ms)).toEqual([30_000]);
      clock.t = T0 + 60_000;
      second.ft.fire(); // the host timer fires: the job starts
      await second.scheduler.tick(); // wait for it
      expect(second.rec.calls.map((c) => c.arg)).toEqual([{ id: j.id, name: null, kind: 'after', cron: null, scheduledAt: T0 + 60_000, state: { keep: true }, attempt: 1 }]);
      expect(second.jobs.get('app-a', j.id)!.status).toBe('done');
      expect(second.scheduler.wakeAt).toBeUndefined();
      await second.scheduler.stop();
    });

    it('recovers a run interrupted by a crash: retried at the next start as a failed attempt', async () => {
      const first = await setup(d);
      const j = first.jobs.after('app-a', 0, 's');
      first.rec.state.hang = true;
      void first.scheduler.tick(); // the "crash": the run never finishes
      expect(first.jobs.get('app-a', j.id)!.status).toBe('running');

      const clock = new FakeClock(T0 + 5000);
      const second = await setup(d, {}, first.db, clock);
      second.scheduler.start();
      const info = second.jobs.get('app-a', j.id)!;
      expect(info).toMatchObject({ status: 'scheduled', attempts: 1, runAt: T0 + 5000 });
      expect(info.lastError).toMatch(/interrupted/);
      await second.scheduler.tick();
      expect(second.rec.calls.map((c) => c.arg)).toEqual([expect.objectContaining({ id: j.id, attempt: 2, scheduledAt: T0, state: 's' })]);
      expect(second.jobs.get('app-a', j.id)!.status).toBe('done');
      await second.scheduler.stop();
    });

    it('retries a failing job with exponential backoff, then marks it failed', async () => {
      const { clock, jobs, rec, scheduler } = await setup(d, { retryBaseMs: 1000, maxAttempts: 4 });
      const j = jobs.after('app-a', 0, { x: 1 });
      rec.state.failWith = new FaztError('APP_ERROR', 'handler threw: nope');
      expect(await scheduler.tick()).toBe(1);
      expect(jobs.get('app-a', j.id)).toMatchObject({ status: 'scheduled', attempts: 1, runAt: T0 + 1000, lastError: 'APP_ERROR: handler threw: nope', state: { x: 1 } });
      clock.t = T0 + 999;
      expect(await scheduler.tick()).toBe(0);
      clock.t = T0 + 1000;
      expect(await scheduler.tick()).toBe(1);
      expect(jobs.get('app-a', j.id)).toMatchObject({ attempts: 2, runAt: T0 + 1000 + 2000 });
      clock.t = T0 + 3000;
      expect(await scheduler.tick()).toBe(1);
      expect(jobs.get('app-a', j.id)).toMatchObject({ attempts: 3, runAt: T0 + 3000 + 4000 });
      clock.t = T0 + 7000;
      expect(await scheduler.tick()).toBe(1);
      expect(jobs.get('app-a', j.id)).toMatchObject({ status: 'failed', attempts: 4, lastError: 'APP_ERROR: handler threw: nope' });
      expect(rec.calls.map((c) => [c.arg.attempt, c.arg.scheduledAt])).toEqual([
        [1, T0],
        [2, T0],
        [3, T0],
        [4, T0],
      ]);
      expect(jobs.list('app-a').map((x) => x.status)).toEqual(['failed']);
      clock.t = T0 + 100_000;
      expect(await scheduler.tick()).toBe(0);
    });

    it('does not retry when the app has no scheduled export', async () => {
      const { jobs, rec, scheduler } = await setup(d);
      const j = jobs.after('app-a', 0);
      rec.state.failWith = new FaztError('NO_HANDLER', 'the app exports no "scheduled" function');
      await scheduler.tick();
      expect(jobs.get('app-a', j.id)).toMatchObject({ status: 'failed', attempts: 1 });
    });

    it('runs cron jobs at their slots and moves a failing cron job on to its next slot', async () => {
      const { clock, jobs, rec, scheduler } = await setup(d, { retryBaseMs: 1000, maxAttempts: 2 });
      jobs.syncCron('app-a', [{ name: 'quarter', cron: '*/15 * * * *', catchUp: 'once', state: { k: 'v' } }]);
      const job = jobs.list('app-a')[0]!;
      expect(job).toMatchObject({ kind: 'cron', name: 'quarter', cron: '*/15 * * * *', timezone: null, catchUp: 'once', runAt: Date.UTC(2024, 0, 1, 0, 15), state: { k: 'v' } });
      clock.t = Date.UTC(2024, 0, 1, 0, 15);
      expect(await scheduler.tick()).toBe(1);
      expect(rec.calls[0]!.arg).toEqual({ id: job.id, name: 'quarter', kind: 'cron', cron: '*/15 * * * *', scheduledAt: Date.UTC(2024, 0, 1, 0, 15), state: { k: 'v' }, attempt: 1 });
      expect(jobs.get('app-a', job.id)).toMatchObject({ status: 'scheduled', runAt: Date.UTC(2024, 0, 1, 0, 30), attempts: 0 });

      rec.state.failWith = new Error('flaky');
      clock.t = Date.UTC(2024, 0, 1, 0, 30, 2); // a late tick
      await scheduler.tick();
      expect(jobs.get('app-a', job.id)).toMatchObject({ status: 'scheduled', attempts: 1, runAt: clock.t + 1000 });
      clock.t += 1000;
      await scheduler.tick();
      // out of attempts: skipped to the next slot, attempts reset, the error kept for the dashboard
      expect(jobs.get('app-a', job.id)).toMatchObject({ status: 'scheduled', attempts: 0, runAt: Date.UTC(2024, 0, 1, 0, 45), lastError: 'flaky' });
      expect(rec.calls.slice(1).map((c) => [c.arg.attempt, c.arg.scheduledAt])).toEqual([
        [1, Date.UTC(2024, 0, 1, 0, 30)],
        [2, Date.UTC(2024, 0, 1, 0, 30)],
      ]);
    });

    it('a cron job runs late only once when its app was busy (no pile-up)', async () => {
      const { clock, jobs, rec, scheduler } = await setup(d);
      jobs.syncCron('app-a', [{ cron: '* * * * *', catchUp: 'once' }]);
      clock.t = T0 + 10 * MIN;
      expect(await scheduler.tick()).toBe(1);
      expect(rec.calls[0]!.arg.scheduledAt).toBe(Date.UTC(2024, 0, 1, 0, 8));
      expect(jobs.list('app-a')[0]!.runAt).toBe(Date.UTC(2024, 0, 1, 0, 18));
    });

    describe('catch-up after downtime', () => {
      async function downtime(policy: 'skip' | 'once' | 'all', opts: SchedulerOptions = {}) {
        const first = await setup(d);
        first.scheduler.start();
        first.jobs.syncCron('app-a', [{ name: 'q', cron: '*/15 * * * *', catchUp: policy }]);
        await first.scheduler.stop();
        // down from 00:07:30 until 02:05:00: missed 00:15 … 02:00 (8 slots)
        const clock = new FakeClock(Date.UTC(2024, 0, 1, 2, 5));
        const second = await setup(d, opts, first.db, clock);
        second.scheduler.start();
        const ran = await second.scheduler.tick();
        await second.scheduler.stop();
        return { ran, calls: second.rec.calls.map((c) => c.arg.scheduledAt), job: second.jobs.list('app-a')[0]! };
      }
      const at = (h: number, m: number) => Date.UTC(2024, 0, 1, h, m);

      it('skip: no run, next future slot', async () => {
        const r = await downtime('skip');
        expect(r.ran).toBe(0);
        expect(r.job.runAt).toBe(at(2, 15));
      });

      it('once: one run for the latest missed slot, then the next future slot', async () => {
        const r = await downtime('once');
        expect(r.calls).toEqual([at(2, 0)]);
        expect(r.job.runAt).toBe(at(2, 15));
      });

      it('all: one run per missed slot, each with its own scheduledAt', async () => {
        const r = await downtime('all');
        expect(r.calls).toEqual([at(0, 15), at(0, 30), at(0, 45), at(1, 0), at(1, 15), at(1, 30), at(1, 45), at(2, 0)]);
        expect(r.job.runAt).toBe(at(2, 15));
      });

      it('all: at most maxCatchUpRuns, the latest ones', async () => {
        const r = await downtime('all', { maxCatchUpRuns: 3 });
        expect(r.calls).toEqual([at(1, 30), at(1, 45), at(2, 0)]);
        expect(r.job.runAt).toBe(at(2, 15));
      });
    });

    it('syncCron keeps unchanged jobs, reschedules changed ones and cancels removed ones', async () => {
      const { clock, jobs } = await setup(d);
      const r1 = jobs.syncCron('app-a', [
        { name: 'a', cron: '*/15 * * * *', catchUp: 'once', state: 1 },
        { name: 'b', cron: '0 * * * *', catchUp: 'once' },
        { cron: '*/5 * * * *', catchUp: 'once' },
      ]);
      expect(r1).toEqual({ added: ['a', 'b', 'cron-2'], rescheduled: [], kept: [], cancelled: [] });
      const before = new Map(jobs.list('app-a').map((j) => [j.name, j]));
      expect(before.get('cron-2')!.runAt).toBe(Date.UTC(2024, 0, 1, 0, 10));

      clock.t = T0 + 3 * MIN; // 00:10:30; a redeploy must not push 'a' (00:15) to a later slot
      const r2 = jobs.syncCron('app-a', [
        { name: 'a', cron: '*/15 * * * *', catchUp: 'all', state: 2 },
        { name: 'b', cron: '30 * * * *', catchUp: 'once', timezone: 'Asia/Kolkata' },
      ]);
      expect(r2).toEqual({ added: [], rescheduled: ['b'], kept: ['a'], cancelled: ['cron-2'] });
      const after = new Map(jobs.list('app-a').map((j) => [j.name, j]));
      expect(after.get('a')).toMatchObject({ id: before.get('a')!.id, runAt: before.get('a')!.runAt, catchUp: 'all', state: 2 });
      // 30 * * * * in UTC+05:30 fires at :00 UTC
      expect(after.get('b')).toMatchObject({ id: before.get('b')!.id, cron: '30 * * * *', timezone: 'Asia/Kolkata', runAt: Date.UTC(2024, 0, 1, 1, 0) });
      expect(after.has('cron-2')).toBe(false);

      expectFazt(() => jobs.syncCron('app-a', [{ name: 'a', cron: 'nope', catchUp: 'once' }]), 'INVALID_MANIFEST', /schedule\[0\]\.cron "nope"/);
      expect(jobs.list('app-a').map((j) => j.name).sort()).toEqual(['a', 'b']); // unchanged by the failed sync

      expect(jobs.syncCron('app-a', undefined)).toEqual({ added: [], rescheduled: [], kept: [], cancelled: ['a', 'b'] });
      expect(jobs.pendingCount('app-a')).toBe(0);
      // re-adding a removed entry creates a new job
      expect(jobs.syncCron('app-a', [{ name: 'a', cron: '*/15 * * * *', catchUp: 'once' }]).added).toEqual(['a']);
    });

    it('an expression changed while its job runs takes effect after the run', async () => {
      const { clock, jobs, rec, scheduler } = await setup(d);
      jobs.syncCron('app-a', [{ name: 'a', cron: '*/15 * * * *', catchUp: 'once' }]);
      clock.t = Date.UTC(2024, 0, 1, 0, 15);
      rec.state.delay = 20;
      const run = scheduler.tick();
      jobs.syncCron('app-a', [{ name: 'a', cron: '0 12 * * *', catchUp: 'once' }]);
      await run;
      expect(jobs.list('app-a')[0]).toMatchObject({ status: 'scheduled', cron: '0 12 * * *', runAt: Date.UTC(2024, 0, 1, 12) });
    });

    it('removeApp cancels every job of the app', async () => {
      const { jobs } = await setup(d);
      jobs.after('app-a', 10);
      jobs.syncCron('app-a', [{ cron: '* * * * *', catchUp: 'once' }]);
      jobs.after('app-b', 10);
      expect(jobs.removeApp('app-a')).toBe(2);
      expect(jobs.pendingCount()).toBe(1);
      expect(jobs.list('app-a')).toEqual([]);
    });

    it('runs at most one job per app and `concurrency` overall', async () => {
      const { clock, jobs, rec, scheduler } = await setup(d, { concurrency: 3 });
      for (const app of ['a', 'b', 'c', 'd', 'e']) for (let i = 0; i < 3; i++) jobs.after(`app-${app}`, i);
      clock.t += 10;
      rec.state.delay = 2;
      expect(await scheduler.tick()).toBe(15);
      expect(rec.state.maxActive).toBe(3);
      expect(rec.state.maxPerApp).toBe(1);
      // each app's jobs ran in their order
      for (const app of ['a', 'b', 'c', 'd', 'e']) {
        const mine = rec.calls.filter((c) => c.appId === `app-${app}`).map((c) => c.arg.scheduledAt);
        expect(mine).toEqual([T0, T0 + 1, T0 + 2]);
      }
    });

    it('1,000 pending jobs cost one host timer, armed for the earliest', async () => {
      const { jobs, ft, scheduler } = await setup(d);
      scheduler.start();
      expect(ft.live.size).toBe(0); // nothing scheduled: no timer at all
      for (let i = 0; i < 1000; i++) jobs.after(`app-${i % 7}`, 10_000 + ((i * 7919) % 100_000));
      expect(jobs.pendingCount()).toBe(1000);
      expect(ft.stats.maxLive).toBe(1);
      expect(ft.live.size).toBe(1);
      expect(scheduler.wakeAt).toBe(T0 + 10_000);
      jobs.after('app-x', 500); // an earlier job re-arms the one timer
      expect(ft.live.size).toBe(1);
      expect([...ft.live.values()][0]!.ms).toBe(500);
      const sets = ft.stats.sets;
      jobs.after('app-x', 50_000); // a later one costs nothing
      expect(ft.stats.sets).toBe(sets);
      expect(ft.stats.maxLive).toBe(1);
      // cancelling the earliest re-arms for the next one
      jobs.cancel('app-x', jobs.list('app-x')[0]!.id);
      expect(scheduler.wakeAt).toBe(T0 + 10_000);
      jobs.removeApp('app-0');
      expect(scheduler.wakeAt).toBe(Math.min(...jobs.list('app-1').concat(jobs.list('app-2'), jobs.list('app-3'), jobs.list('app-4'), jobs.list('app-5'), jobs.list('app-6'), jobs.list('app-x')).map((j) => j.runAt)));
      expect(ft.live.size).toBe(1);
      await scheduler.stop();
      expect(ft.live.size).toBe(0);
    });

    it('caps the timer delay at 2^31-1 ms', async () => {
      const { jobs, ft, scheduler } = await setup(d);
      scheduler.start();
      jobs.after('app-a', 100 * 24 * 3600_000);
      expect([...ft.live.values()].map((t) => t.ms)).toEqual([MAX_TIMER_DELAY_MS]);
      await scheduler.stop();
    });

    it('uses real host timers when none are injected (unref\'d, fires)', async () => {
      const db = await d.open();
      const cart = openCartridge(db);
      const jobs = new JobStore(cart);
      const rec = recorder();
      const scheduler = new Scheduler(cart, jobs, rec.invoke);
      scheduler.start();
      jobs.after('app-a', 5, 'real');
      await expect.poll(() => rec.calls.length, { timeout: 2000 }).toBe(1);
      await expect.poll(() => jobs.pendingCount()).toBe(0);
      await scheduler.stop();
    });
  });
}
