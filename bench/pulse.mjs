/**
 * Pulse's cost (issue 14: "snapshot cost in ms, and it must not stall requests"), on real node
 * processes on 127.0.0.1:
 * - snapshot cost: the event-loop time each snapshot takes inside the node (`snapshotMs`, its
 *   synchronous parts: reading memory/CPU, SQLite queries, the insert, downsampling, alert rules),
 *   p50/p99/max, with a full history in the cartridge (96 raw + 720 hourly + 400 daily rows, 40 apps
 *   each, what a year at the default interval leaves) and 40 apps with traffic in the counters;
 * - request latency while snapshots run vs not, on the same node: an app's `/api` route under 8
 *   concurrent clients, p50/p99, while the bench asks for a snapshot every 50 ms
 *   (`POST /api/pulse/snapshot`, ≈ 18,000× the default rate: a stress) vs while it makes a cheap
 *   `GET /api/health` at the same rate (the baseline, so both phases carry the same extra request);
 *   phases interleaved (off, on, on, off …) to share the machine's noise; ratio on/off.
 *
 *   node bench/pulse.mjs [--seconds 5] [--rounds 2] [--json]
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { nodeProcesses } from './lib/nodes.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const SECONDS = opt('seconds', 5);
const ROUNDS = opt('rounds', 2);
const JSON_ONLY = args.includes('--json');
const CONCURRENCY = 8;
const APPS = 40;
/** A snapshot (or the baseline's call) every this many ms during a phase. */
const EVERY_MS = 50;
const log = (...a) => (JSON_ONLY ? console.error(...a) : console.log(...a));

const quantile = (xs, q) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};
const round = (v, d = 3) => (v === null ? null : Math.round(v * 10 ** d) / 10 ** d);

const nodes = nodeProcesses('fazt-bench-pulse-');

/** A year of history at the default interval, written straight into the cartridge (the node is stopped). */
function fillHistory(db) {
  const require = createRequire(import.meta.url);
  const Database = require('better-sqlite3');
  const d = new Database(db);
  const now = Date.now();
  const HOUR = 3_600_000;
  const apps = Array.from({ length: APPS }, (_, i) => ({ appId: `app-${i}`, app: `app${i}`, requests: 100 + i, errors: i % 3, p99Ms: 12 + i }));
  const row = (at, resolution, samples) => ({
    at,
    resolution,
    periodMs: samples * 15 * 60_000,
    samples,
    process: { rssBytes: 90e6, heapUsedBytes: 30e6, cpuPercent: 1.5 },
    disk: { freeBytes: 50e9, totalBytes: 100e9, usedFraction: 0.5, cartridgeBytes: 20e6 },
    requests: { total: 5000, errors: 40, p99Ms: 60 },
    apps,
    jobs: { runs: 4, failures: 0 },
    events: { emitted: 10, deliveries: 10, deliveryFailures: 0 },
    push: { failures: 0 },
    peers: { total: 1, connected: 1, list: [{ nodeId: 'n1', name: 'phone', connected: true }] },
    snapshotMs: 1,
  });
  const ins = d.prepare('INSERT OR REPLACE INTO pulse_snapshots (resolution, at, data) VALUES (?, ?, ?)');
  d.transaction(() => {
    for (let i = 1; i <= 96; i++) ins.run('raw', now - i * 15 * 60_000, JSON.stringify(row(now - i * 15 * 60_000, 'raw', 1)));
    const h0 = Math.floor((now - 25 * HOUR) / HOUR) * HOUR;
    for (let i = 0; i < 720; i++) ins.run('hour', h0 - i * HOUR, JSON.stringify(row(h0 - i * HOUR, 'hour', 4)));
    const d0 = Math.floor((now - 31 * 24 * HOUR) / (24 * HOUR)) * 24 * HOUR;
    for (let i = 0; i < 400 - 31; i++) ins.run('day', d0 - i * 24 * HOUR, JSON.stringify(row(d0 - i * 24 * HOUR, 'day', 96)));
  })();
  d.close();
}

async function deployApps(n) {
  const files = (name) =>
    zipSync({
      'app.json': strToU8(JSON.stringify({ name })),
      'api/main.js': strToU8('export default { async fetch() { return { ok: true }; } };'),
    });
  for (let i = 0; i < APPS; i++) {
    const r = await fetch(`${n.url}/api/apps?name=app${i}`, { method: 'POST', headers: { 'content-type': 'application/zip', authorization: `Bearer ${n.token}` }, body: files(`app${i}`) });
    if (r.status >= 300) throw new Error(`deploy failed: ${r.status} ${await r.text()}`);
  }
}

/** `CONCURRENCY` clients calling the apps' `/api/ok` in turn for `seconds`; latencies in ms. */
async function load(url, seconds) {
  const until = performance.now() + seconds * 1000;
  const lat = [];
  let k = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        const r = await fetch(`${url}/a/app${k++ % APPS}/api/ok`);
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`status ${r.status}`);
        lat.push(performance.now() - t0);
      }
    }),
  );
  return lat;
}

/** Calls `path` every `everyMs` until `stop()`; resolves the number of calls when stopped. */
function ticker(n, method, path, everyMs) {
  let on = true;
  let calls = 0;
  const done = (async () => {
    while (on) {
      const t0 = performance.now();
      const r = await fetch(`${n.url}${path}`, { method, headers: { authorization: `Bearer ${n.token}` } });
      await r.arrayBuffer();
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status}`);
      calls++;
      await new Promise((res) => setTimeout(res, Math.max(0, everyMs - (performance.now() - t0))));
    }
    return calls;
  })();
  return { stop: () => ((on = false), done) };
}

async function main() {
  log(`Pulse bench: ${SECONDS} s per phase, ${ROUNDS} rounds, ${CONCURRENCY} clients, ${APPS} apps`);
  const db = join(nodes.tmp, 'pulse.db');
  // no snapshot on its own during the run (the first would come a minute after the start): the
  // bench asks for them, so both phases run on the same node
  const env = { FAZT_PULSE_INTERVAL_MS: String(24 * 3_600_000) };
  let n = await nodes.start(db, { env });
  await nodes.stop(n);
  fillHistory(db);
  n = await nodes.start(db, { token: true, env });
  await deployApps(n);
  await load(n.url, 1); // warm up
  const startedAt = Date.now();
  const lat = { off: [], on: [] };
  for (let r = 0; r < ROUNDS; r++) {
    // "off": a cheap admin call at the same rate, so both phases carry the same extra request; the
    // order alternates per round (off-on, on-off …) so neither phase is always the warmer one
    for (const phase of r % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
      const t = phase === 'on' ? ticker(n, 'POST', '/api/pulse/snapshot', EVERY_MS) : ticker(n, 'GET', '/api/health', EVERY_MS);
      lat[phase].push(...(await load(n.url, SECONDS)));
      await t.stop();
    }
  }
  const report = await (await fetch(`${n.url}/api/pulse?history=1h`, { headers: { authorization: `Bearer ${n.token}` } })).json();
  const during = report.history.filter((s) => s.resolution === 'raw' && s.at >= startedAt);
  const cost = during.map((s) => s.snapshotMs);
  const result = {
    snapshots: during.length,
    historyRows: report.history.length,
    snapshotMs: { p50: round(quantile(cost, 0.5)), p90: round(quantile(cost, 0.9)), p99: round(quantile(cost, 0.99)), max: round(Math.max(...cost)), first: round(cost[0] ?? null) },
    requests: {
      off: { n: lat.off.length, p50: round(quantile(lat.off, 0.5), 2), p99: round(quantile(lat.off, 0.99), 2) },
      on: { n: lat.on.length, p50: round(quantile(lat.on, 0.5), 2), p99: round(quantile(lat.on, 0.99), 2) },
    },
  };
  result.ratio = { p50: round(result.requests.on.p50 / result.requests.off.p50, 2), p99: round(result.requests.on.p99 / result.requests.off.p99, 2) };
  if (JSON_ONLY) console.log(JSON.stringify(result, null, 2));
  else {
    log(`snapshot cost (event-loop ms, ${result.snapshots} snapshots with ${APPS} apps and a year of history): p50 ${result.snapshotMs.p50}, p90 ${result.snapshotMs.p90}, p99 ${result.snapshotMs.p99}, max ${result.snapshotMs.max} (the first, which loads the day: ${result.snapshotMs.first})`);
    log(`requests, a GET /api/health every ${EVERY_MS} ms: n ${result.requests.off.n}, p50 ${result.requests.off.p50} ms, p99 ${result.requests.off.p99} ms`);
    log(`requests, a snapshot every ${EVERY_MS} ms:        n ${result.requests.on.n}, p50 ${result.requests.on.p50} ms, p99 ${result.requests.on.p99} ms`);
    log(`ratio snapshots/baseline: p50 ${result.ratio.p50}×, p99 ${result.ratio.p99}×`);
    log(JSON.stringify(result));
  }
  await nodes.stop(n);
  nodes.cleanup();
}

main().catch((e) => {
  console.error(e);
  nodes.cleanup();
  process.exit(1);
});
