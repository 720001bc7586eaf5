#!/usr/bin/env node
/**
 * What the safeguards cost on the hot paths (docs/safeguards.md), in-process on a real
 * better-sqlite3 cartridge (WAL) and a real HTTP server on 127.0.0.1:
 * 1. kv writes/s with the disk guard (a DiskSpacePort answering `fs.statfs`, cached 5 s) vs without
 *    a port (the gate returns at once) — target ≥ 0.95×;
 * 2. one `fs.statfs` (what the cache saves per write);
 * 3. `fazt.net.fetch`'s core (`netFetch`) of a 4 KiB answer with the egress meter (a quota set: two
 *    reads and two upserts of `egress_*` rows per call) vs without — target ≥ 0.9×.
 * Rounds alternate; medians. `node bench/safeguards.mjs [--kv 20000] [--fetches 400] [--json]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { kv: { type: 'string', default: '20000' }, fetches: { type: 'string', default: '400' }, json: { type: 'boolean', default: false } } });
const KV = Number(args.kv);
const FETCHES = Number(args.fetches);
const log = (...a) => (args.json ? console.error(...a) : console.log(...a));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const { register } = await import('tsx/esm/api');
register();
const { BetterSqliteDatabase } = await import('../node/sqlite.ts');
const { openCartridge } = await import('../shared/cartridge/index.ts');
const { KvStore } = await import('../shared/storage/kv.ts');
const { DiskGuard, EgressStore } = await import('../shared/guards/index.ts');
const { netFetch, DEFAULT_NET_LIMITS } = await import('../shared/runtime/net.ts');
const { nodeDiskSpace } = await import('../node/ports.ts');

const tmp = mkdtempSync(join(tmpdir(), 'fazt-bench-guards-'));
const results = {};
try {
  // 1. kv writes/s, guard on vs off
  const writesPerSec = async (guarded) => {
    const path = join(mkdtempSync(join(tmp, 'kv-')), 'd.db');
    const db = BetterSqliteDatabase.open(path);
    const cart = openCartridge(db);
    if (guarded) {
      const guard = new DiskGuard(cart, nodeDiskSpace(path), { intervalMs: 0 });
      await guard.refresh();
      cart.growth = guard;
    }
    const kv = new KvStore(cart);
    for (let i = 0; i < 2000; i++) kv.set('app', 'warm' + i, '1');
    const t = performance.now();
    for (let i = 0; i < KV; i++) kv.set('app', 'k' + (i % 5000), `{"i":${i}}`);
    const r = KV / ((performance.now() - t) / 1000);
    db.close();
    return r;
  };
  const on = [];
  const off = [];
  for (let round = 0; round < 7; round++) {
    off.push(await writesPerSec(false));
    on.push(await writesPerSec(true));
  }
  results.kvWritesPerSec = { guardOff: Math.round(median(off)), guardOn: Math.round(median(on)), ratio: +(median(on) / median(off)).toFixed(3), target: '≥ 0.95' };
  log(`kv writes/s: without a disk port ${results.kvWritesPerSec.guardOff}, with the disk guard ${results.kvWritesPerSec.guardOn} (${results.kvWritesPerSec.ratio}×)`);

  // 1b. the gate alone: what each growing write pays (cached answer, no object built)
  {
    const path = join(mkdtempSync(join(tmp, 'gate-')), 'd.db');
    const db = BetterSqliteDatabase.open(path);
    const cart = openCartridge(db);
    const guard = new DiskGuard(cart, nodeDiskSpace(path), { intervalMs: 0, cacheMs: 3_600_000 });
    await guard.refresh();
    const n = 2_000_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) guard.assertCanGrow('x');
    results.gateNanos = +(((performance.now() - t0) / n) * 1e6).toFixed(1);
    db.close();
  }
  log(`disk guard check: ${results.gateNanos} ns per growing write`);

  // 2. one statfs
  const n = 2000;
  let t = performance.now();
  for (let i = 0; i < n; i++) await statfs(tmp);
  results.statfsMicros = +(((performance.now() - t) / n) * 1000).toFixed(1);
  log(`fs.statfs: ${results.statfsMicros} µs per call (the guard asks at most once per 5 s)`);

  // 3. netFetch with and without the egress meter
  const body = Buffer.alloc(4096, 97);
  const server = createServer((_q, s) => s.writeHead(200, { 'content-length': String(body.length) }).end(body));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/x`;
  const db = BetterSqliteDatabase.open(join(tmp, 'egress.db'));
  const cart = openCartridge(db);
  const egress = new EgressStore(cart);
  egress.setQuota('app', 1e15);
  const perFetch = async (metered) => {
    const t0 = performance.now();
    for (let i = 0; i < FETCHES; i++) {
      await netFetch({ url, method: 'GET', headers: [] }, ['net:127.0.0.1'], DEFAULT_NET_LIMITS, undefined, fetch, metered ? egress.meter('app', 'app') : undefined);
    }
    return ((performance.now() - t0) / FETCHES) * 1000;
  };
  // the meter's own cartridge work per call: one quota+usage read per hop, one upsert
  {
    const n = 5000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const m = egress.meter('app', 'app');
      m.remaining();
      m.add('request', 0);
      m.add('response', 4096);
      m.flush();
    }
    results.meterMicrosPerCall = +(((performance.now() - t0) / n) * 1000).toFixed(1);
  }
  log(`egress meter: ${results.meterMicrosPerCall} µs of cartridge work per fetch`);
  await perFetch(false);
  const plain = [];
  const metered = [];
  for (let round = 0; round < 5; round++) {
    plain.push(await perFetch(false));
    metered.push(await perFetch(true));
  }
  server.close();
  db.close();
  results.netFetchMicros = { plain: Math.round(median(plain)), metered: Math.round(median(metered)), ratio: +(median(plain) / median(metered)).toFixed(3), target: '≥ 0.9 (throughput)' };
  log(`netFetch 4 KiB: ${results.netFetchMicros.plain} µs plain, ${results.netFetchMicros.metered} µs with the egress meter (throughput ${results.netFetchMicros.ratio}×)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (args.json) console.log(JSON.stringify(results, null, 2));
