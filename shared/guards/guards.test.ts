import { describe, expect, it, vi } from 'vitest';
import { drivers } from '../testing/drivers.js';
import { makeZip, streamOf } from '../testing/zip.js';
import { openCartridge } from '../cartridge/index.js';
import { createKernel, type Kernel } from '../kernel.js';
import { FaztError } from '../errors.js';
import { parseDiskLimit } from './disk.js';
import { egressMonthOf, nextMonthStart } from './egress.js';

/**
 * The disk guard and the egress store on both drivers (sql.js: the browser host; better-sqlite3: the
 * Node host), with a controllable DiskSpacePort and clock. The real node with `fs.statfs` and a fake
 * quota is node/safeguards.test.ts.
 */

/** A disk whose numbers the test sets; counts how often it was asked. */
function fakeDisk(freeBytes: number, totalBytes: number) {
  const d = {
    freeBytes,
    totalBytes,
    asked: 0,
    fail: false,
    async usage() {
      d.asked++;
      if (d.fail) throw new Error('statfs failed');
      return { freeBytes: d.freeBytes, totalBytes: d.totalBytes };
    },
  };
  return d;
}

const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return (e as FaztError).code;
  }
  return undefined;
};

for (const d of drivers) {
  describe(`the disk guard on ${d.name}`, () => {
    async function setup() {
      let now = Date.UTC(2026, 11, 6, 12);
      const disk = fakeDisk(900, 1000); // 10 % used
      const k: Kernel = createKernel({ cartridge: openCartridge(await d.open(), { clock: { now: () => now } }), ports: { diskSpace: disk }, diskGuard: { cacheMs: 5000, intervalMs: 0 } });
      const r = await k.deployApp({ body: streamOf(makeZip({ 'app.json': JSON.stringify({ name: 'alpha' }), 'index.html': 'x' })), contentType: 'application/zip' });
      return { k, disk, appId: r.id, advance: (ms: number) => (now += ms) };
    }

    it('asks the host at most once per cache time, never waiting inside a write', async () => {
      const { k, disk, appId, advance } = await setup();
      await k.diskGuard.refresh();
      const asked = disk.asked;
      for (let i = 0; i < 500; i++) k.kv.set(appId, `k${i}`, '1');
      expect(disk.asked).toBe(asked); // cached
      advance(5000);
      k.kv.set(appId, 'x', '1'); // stale: a refresh starts in the background, this write is judged on the last answer
      k.kv.set(appId, 'y', '1'); // the refresh in flight is shared
      await vi.waitFor(() => expect(disk.asked).toBe(asked + 1));
      await new Promise((r) => setTimeout(r, 20));
      expect(disk.asked).toBe(asked + 1);
      k.kv.set(appId, 'z', '1'); // fresh again: no new check
      await new Promise((r) => setTimeout(r, 20));
      expect(disk.asked).toBe(asked + 1);
    });

    it('refuses every growing write while tripped (kv, docs, blobs, events, jobs, deploys); reads and deletes go on', async () => {
      const { k, disk, appId } = await setup();
      k.kv.set(appId, 'keep', '"v"');
      const doc = k.docs.insert(appId, 'notes', { t: 1 });
      await k.appBlobs.put(appId, 'b', new Uint8Array([1, 2, 3]));
      const trips: number[] = [];
      k.diskGuard.onTrip((s) => trips.push(s.usedFraction));
      disk.freeBytes = 150; // 85 % used
      expect(await k.diskGuard.refresh()).toMatchObject({ usedFraction: 0.85, limitFraction: 0.8, tripped: true, known: true, freeBytes: 150, totalBytes: 1000 });
      expect(trips).toEqual([0.85]);
      expect(code(() => k.kv.set(appId, 'n', '1'))).toBe('DISK_FULL');
      expect(code(() => k.kv.increment(appId, 'n'))).toBe('DISK_FULL');
      expect(code(() => k.docs.insert(appId, 'notes', { t: 2 }))).toBe('DISK_FULL');
      expect(code(() => k.docs.update(appId, 'notes', doc._id as string, { $set: { t: 3 } }))).toBe('DISK_FULL');
      await expect(k.appBlobs.put(appId, 'c', new Uint8Array([1]))).rejects.toMatchObject({ code: 'DISK_FULL', status: 507 });
      expect(code(() => k.events.emit(appId, 'x.happened', {}))).toBe('DISK_FULL');
      expect(code(() => k.jobs.after(appId, 1000))).toBe('DISK_FULL');
      await expect(k.deployApp({ body: streamOf(makeZip({ 'index.html': 'y' })), contentType: 'application/zip', name: 'beta' })).rejects.toMatchObject({ code: 'DISK_FULL' });
      expect(k.apps.list().map((a) => a.name)).toEqual(['alpha']);
      // reads
      expect(k.kv.get(appId, 'keep')).toBe('"v"');
      expect(k.docs.find(appId, 'notes')).toHaveLength(1);
      expect(k.appBlobs.read(appId, 'b')).toEqual(new Uint8Array([1, 2, 3]));
      // deletes
      expect(k.kv.delete(appId, 'keep')).toBe(true);
      expect(k.docs.delete(appId, 'notes', doc._id as string)).toBe(1);
      expect(k.appBlobs.delete(appId, 'b')).toBe(true);
      // still above: no second notification; a failing port keeps the last answer
      await k.diskGuard.refresh();
      disk.fail = true;
      expect((await k.diskGuard.refresh()).tripped).toBe(true);
      disk.fail = false;
      expect(trips).toHaveLength(1);
      // the limit is kept in the cartridge
      expect(k.diskGuard.setLimit('90%')).toMatchObject({ limitFraction: 0.9, tripped: false });
      k.kv.set(appId, 'n', '1');
      const again = createKernel({ cartridge: k.cartridge, ports: { diskSpace: disk } });
      expect(again.diskGuard.status().limitFraction).toBe(0.9);
    });

    it('never trips without a DiskSpacePort', async () => {
      const k = createKernel({ cartridge: openCartridge(await d.open()) });
      expect(await k.diskGuard.refresh()).toMatchObject({ known: false, tripped: false, usedFraction: 0 });
      k.diskGuard.assertCanGrow('anything');
    });
  });
}

describe('parsing', () => {
  it('reads disk limits as percentages or fractions and refuses the rest', () => {
    expect(parseDiskLimit('85%')).toBe(0.85);
    expect(parseDiskLimit('85')).toBe(0.85);
    expect(parseDiskLimit(85)).toBe(0.85);
    expect(parseDiskLimit(0.85)).toBe(0.85);
    expect(parseDiskLimit('100%')).toBe(1);
    expect(parseDiskLimit(' 92.5 % ')).toBe(0.925);
    for (const bad of ['2%', '150%', 'lots', -1, null, {}, '']) expect(() => parseDiskLimit(bad)).toThrow(FaztError);
  });

  it('names UTC months and their ends', () => {
    expect(egressMonthOf(Date.UTC(2026, 11, 31, 23, 59, 59))).toBe('2026-12');
    expect(new Date(nextMonthStart(Date.UTC(2026, 11, 31, 23, 59, 59))).toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(new Date(nextMonthStart(Date.UTC(2028, 1, 29))).toISOString()).toBe('2028-03-01T00:00:00.000Z');
  });
});
