#!/usr/bin/env node
// Sync benchmark (issue 12, docs/sync-spec.md): two real headless nodes (separate processes and
// cartridges) paired over loopback WebRTC.
//
//   1. catch-up: the laptop is stopped, the pi gets 10k kv rows + 1k docs (through an app), the laptop
//      starts again; time from its link coming up to every row applied (target < 2 s), and the
//      laptop's peak RSS meanwhile
//   2. one write visible on the connected peer: a kv write through the pi's app, polled on the laptop
//      (admin storage API every 2 ms), p50 / p90 of N writes (target p50 < 100 ms)
//   2b. content: a BIG_MB site (incompressible files of 8 MiB) deployed on the pi while the laptop is
//      stopped; time for the laptop to hold it after a restart, and its peak RSS meanwhile; then a
//      redeploy with one file changed, and the bytes of chunks that crossed (≈ one file)
//   3. hot path: kv writes/s in-process (better-sqlite3, WAL) with the change-log triggers on vs
//      dropped, same run, interleaved rounds (target ≥ 0.8×)
//
// Usage: `node bench/sync.mjs [--rows 10000] [--docs 1000] [--writes 50] [--big-mb 100] [--kv 20000] [--hot-only] [--json]`.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeProcesses } from './lib/nodes.mjs';
import { promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(root, 'bin', 'fazt.js');
const run = promisify(execFile);
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROWS = arg('rows', 10_000);
const DOCS = arg('docs', 1000);
const WRITES = arg('writes', 50);
const KV = arg('kv', 20_000);
const BIG_MB = arg('big-mb', 100);
const JSON_ONLY = process.argv.includes('--json');
const log = (...a) => !JSON_ONLY && console.log(...a);
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const { tmp, procs, start: startNode, stop } = nodeProcesses('fazt-bench-sync-');
const start = startNode;

async function api(n, method, path, body, headers = {}) {
  const r = await fetch(n.url + path, {
    method,
    headers: { authorization: `Bearer ${n.token}`, ...(body && !(body instanceof Uint8Array) ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body instanceof Uint8Array ? body : body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const cli = async (n, ...args) => JSON.parse((await run(process.execPath, [BIN, ...args, '--node', n.url, '--token', n.token, '--json'], { env: { ...process.env, FAZT_NODE: '', FAZT_TOKEN: '' } })).stdout);
const rss = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
  } catch {
    return 0;
  }
};

const APP_JS = `export default {
  async fetch(request) {
    const url = new URL(request.url);
    const from = Number(url.searchParams.get('from')), n = Number(url.searchParams.get('n'));
    if (url.pathname === '/api/fill') {
      for (let i = from; i < from + n; i++) await fazt.kv.set('row' + i, { i, text: 'row number ' + i });
      return Response.json({ ok: true });
    }
    if (url.pathname === '/api/docs') {
      for (let i = from; i < from + n; i++) await fazt.docs.collection('notes').insert({ _id: 'n' + i, title: 'note ' + i, body: 'x'.repeat(100), tags: ['a', 'b'] });
      return Response.json({ ok: true });
    }
    if (url.pathname === '/api/set') {
      await fazt.kv.set(url.searchParams.get('k'), url.searchParams.get('v'));
      return Response.json({ ok: true });
    }
    return Response.json(null);
  },
};`;

async function main() {
  const { zipSync, strToU8 } = await import('fflate').catch(() => ({}));
  const results = {};
  if (!process.argv.includes('--hot-only')) await nodesPart(results, zipSync, strToU8);
  await hotPath(results);
  if (JSON_ONLY) console.log(JSON.stringify(results, null, 2));
}

async function nodesPart(results, zipSync, strToU8) {
  const dbPi = join(tmp, 'pi.db');
  const dbLaptop = join(tmp, 'laptop.db');
  let pi = await start(dbPi);
  let laptop = await start(dbLaptop);
  for (const n of [pi, laptop]) n.token = JSON.parse((await run(process.execPath, [BIN, 'token', 'create', '--db', n.db, '--scope', 'admin', '--json'])).stdout).token;
  const inv = await cli(pi, 'mesh', 'invite');
  await cli(laptop, 'mesh', 'join', inv.code);
  for (;;) {
    const s = await cli(pi, 'sync', 'status');
    if (s[0]?.connected) break;
    await sleep(100);
  }
  const files = { 'app.json': strToU8(JSON.stringify({ name: 'filler' })), 'index.html': strToU8('<h1>filler</h1>'), 'api/main.js': strToU8(APP_JS) };
  await api(pi, 'POST', '/api/apps?name=filler', zipSync(files), { 'content-type': 'application/zip' });
  const count = async (n) => {
    const s = await api(n, 'GET', '/api/apps/filler/storage').catch(() => null);
    if (!s) return { kv: 0, docs: 0 };
    return { kv: s.kv.count, docs: s.collections.find((c) => c.name === 'notes')?.count ?? 0 };
  };
  for (;;) {
    if ((await fetch(`${laptop.url}/a/filler/index.html`)).status === 200) break;
    await sleep(50);
  }

  // 1. catch-up of ROWS kv + DOCS docs into a stopped-then-restarted laptop
  await stop(laptop);
  for (let from = 0; from < ROWS; from += 1000) await api(pi, 'GET', `/a/filler/api/fill?from=${from}&n=${Math.min(1000, ROWS - from)}`);
  for (let from = 0; from < DOCS; from += 500) await api(pi, 'GET', `/a/filler/api/docs?from=${from}&n=${Math.min(500, DOCS - from)}`);
  const t0 = performance.now();
  laptop = { ...(await start(dbLaptop)), token: laptop.token };
  const tStarted = performance.now();
  let tLink = 0;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rss(laptop.proc.pid))), 10);
  for (;;) {
    if (!tLink) {
      const s = await api(laptop, 'GET', '/api/sync/status');
      if (s[0]?.connected) tLink = performance.now();
    }
    const c = await count(laptop);
    if (c.kv >= ROWS && c.docs >= DOCS) break;
    await sleep(10);
  }
  const tDone = performance.now();
  clearInterval(sampler);
  results.catchUp = {
    rows: ROWS,
    docs: DOCS,
    fromLinkMs: Math.round(tDone - (tLink || tStarted)),
    fromProcessStartMs: Math.round(tDone - t0),
    targetMs: 2000,
    peakRssMiB: Math.round((peak / 1048576) * 10) / 10,
    idleRssMiB: Math.round((rss(laptop.proc.pid) / 1048576) * 10) / 10,
  };
  log(`catch-up of ${ROWS} kv + ${DOCS} docs: ${results.catchUp.fromLinkMs} ms from the link up (${results.catchUp.fromProcessStartMs} ms from process start; target < 2000 ms); laptop RSS peak ${results.catchUp.peakRssMiB} MiB`);

  // 2. one write visible on the peer
  const lat = [];
  for (let i = 0; i < WRITES; i++) {
    const key = `lat${i}`;
    const t = performance.now();
    await api(pi, 'GET', `/a/filler/api/set?k=${key}&v=${i}`);
    for (;;) {
      const r = await api(laptop, 'GET', `/api/apps/filler/kv?prefix=${key}&limit=1`);
      if (r.items.some((x) => x.key === key)) break;
      await sleep(2);
    }
    lat.push(performance.now() - t);
  }
  results.writeVisible = { n: WRITES, p50Ms: Math.round(pct(lat, 50) * 10) / 10, p90Ms: Math.round(pct(lat, 90) * 10) / 10, targetP50Ms: 100 };
  log(`one write visible on the peer (app write on the pi → seen through the laptop's API): p50 ${results.writeVisible.p50Ms} ms, p90 ${results.writeVisible.p90Ms} ms (target p50 < 100 ms)`);

  // 2b. a big site while the laptop is away, then a redeploy with one file changed
  if (BIG_MB > 0) {
    await stop(laptop);
    const big = {};
    let seed = 1;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 255;
    const fileMiB = 8;
    for (let f = 0; f < Math.ceil(BIG_MB / fileMiB); f++) {
      const b = new Uint8Array(fileMiB * 1048576);
      for (let i = 0; i < b.length; i += 4) {
        const x = (seed = (seed * 1103515245 + 12345) >>> 0);
        b[i] = x;
        b[i + 1] = x >>> 8;
        b[i + 2] = x >>> 16;
        b[i + 3] = x >>> 24;
      }
      big[`media/f${f}.bin`] = b;
    }
    void rnd;
    big['index.html'] = strToU8('<h1>big</h1>');
    await api(pi, 'POST', '/api/apps?name=bigsite', zipSync(big, { level: 0 }), { 'content-type': 'application/zip' });
    const tb = performance.now();
    laptop = { ...(await start(dbLaptop)), token: laptop.token };
    let peakBig = 0;
    const s2 = setInterval(() => (peakBig = Math.max(peakBig, rss(laptop.proc.pid))), 10);
    for (;;) {
      const r = await fetch(`${laptop.url}/api/apps/bigsite`, { headers: { authorization: `Bearer ${laptop.token}` } });
      if (r.status === 200 && (await r.json()).currentVersion === 1) break;
      await sleep(50);
    }
    const bigMs = performance.now() - tb;
    clearInterval(s2);
    const chunkBytes = () => api(laptop, 'GET', '/api/health').then(() => 0);
    void chunkBytes;
    // redeploy with one file changed: count what the laptop's cartridge grew by
    const { statSync } = await import('node:fs');
    const size0 = statSync(dbLaptop).size + (existsSync(dbLaptop + '-wal') ? statSync(dbLaptop + '-wal').size : 0);
    big['media/f0.bin'] = big['media/f0.bin'].map((x) => x ^ 0x5a);
    const tr = performance.now();
    await api(pi, 'POST', '/api/apps?name=bigsite', zipSync(big, { level: 0 }), { 'content-type': 'application/zip' });
    for (;;) {
      const r = await fetch(`${laptop.url}/api/apps/bigsite`, { headers: { authorization: `Bearer ${laptop.token}` } });
      if (r.status === 200 && (await r.json()).currentVersion === 2) break;
      await sleep(50);
    }
    const redeployMs = performance.now() - tr;
    const size1 = statSync(dbLaptop).size + (existsSync(dbLaptop + '-wal') ? statSync(dbLaptop + '-wal').size : 0);
    results.content = {
      siteMiB: Math.ceil(BIG_MB / fileMiB) * fileMiB,
      catchUpMs: Math.round(bigMs),
      peakRssMiB: Math.round((peakBig / 1048576) * 10) / 10,
      redeployOneFileMs: Math.round(redeployMs),
      laptopCartridgeGrewMiB: Math.round(((size1 - size0) / 1048576) * 10) / 10,
      changedFileMiB: fileMiB,
    };
    log(
      `content: a ${results.content.siteMiB} MiB site reached the restarted laptop in ${results.content.catchUpMs} ms (incl. its start), peak RSS ${results.content.peakRssMiB} MiB; a redeploy with one ${fileMiB} MiB file changed: ${results.content.redeployOneFileMs} ms, the laptop's cartridge grew ${results.content.laptopCartridgeGrewMiB} MiB`,
    );
  }
  await stop(pi);
  await stop(laptop);
}

async function hotPath(results) {
  // 3. hot path: kv writes/s with the change log on vs off
  const { register } = await import('tsx/esm/api');
  register();
  const { BetterSqliteDatabase } = await import('../node/sqlite.ts');
  const { openCartridge } = await import('../shared/cartridge/index.ts');
  const { KvStore } = await import('../shared/storage/kv.ts');
  const { BlobStore } = await import('../shared/vfs/blobs.ts');
  const { defaultPorts } = await import('../shared/ports.ts');
  const { SyncEngine } = await import('../shared/sync/engine.ts');
  const writesPerSec = (off) => {
    const db = BetterSqliteDatabase.open(join(mkdtempSync(join(tmp, 'kv-')), 'd.db'));
    const cart = openCartridge(db);
    // the kernel's parts that matter here (the kernel module itself needs the bundler for its runtime)
    const engine = new SyncEngine(cart, { blobs: new BlobStore(db, defaultPorts, () => cart.clock.now()), sha256: defaultPorts.sha256, logger: defaultPorts.logger });
    const kernel = { kv: new KvStore(cart), sync: { engine } };
    // off: the sync engine's capture triggers dropped (they are TEMP triggers of this connection)
    if (off) for (const r of db.query("SELECT name FROM sqlite_temp_master WHERE type = 'trigger' AND name LIKE 'sync_cap_app_kv%'")) db.exec(`DROP TRIGGER ${r.name}`);
    const kv = kernel.kv;
    for (let i = 0; i < 2000; i++) kv.set('app', 'warm' + i, '1');
    const t = performance.now();
    for (let i = 0; i < KV; i++) {
      kv.set('app', 'k' + (i % 5000), `{"i":${i}}`);
      if (!off && i % 300 === 299) kernel.sync.engine.flush(); // a session's 20 ms poll at this rate
    }
    const r = KV / ((performance.now() - t) / 1000);
    if (!off) kernel.sync.engine.flush(); // what a session's 20 ms poll does, once
    db.close();
    return r;
  };
  const on = [];
  const off = [];
  for (let round = 0; round < 7; round++) {
    // alternate which goes first, so a neighbour's burst does not always land on the same side
    if (round % 2) {
      on.push(writesPerSec(false));
      off.push(writesPerSec(true));
    } else {
      off.push(writesPerSec(true));
      on.push(writesPerSec(false));
    }
  }
  results.hotPath = { kvWritesPerSecOn: Math.round(pct(on, 50)), kvWritesPerSecOff: Math.round(pct(off, 50)), ratio: Math.round((pct(on, 50) / pct(off, 50)) * 100) / 100, target: 0.8 };
  log(`kv writes/s with change tracking: on ${results.hotPath.kvWritesPerSecOn}, off ${results.hotPath.kvWritesPerSecOff} → ratio ${results.hotPath.ratio} (target ≥ 0.8; medians of 7 alternating rounds)`);
}

try {
  await main();
} finally {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(0);
