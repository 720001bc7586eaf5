#!/usr/bin/env node
// Serverless-runtime benchmark for the Fazt node (apps' api/main.js in QuickJS sandboxes). Run
// from the repo root after `node scripts/build.mjs`:
//
//   node bench/runtime.mjs            # human-readable report
//   node bench/runtime.mjs --json     # JSON only (progress goes to stderr)
//
// Phases (each against a baseline measured in the same run; load from a separate process on
// 127.0.0.1: wrk when installed, else bench/loadgen.mjs):
//   1. warm   a "hello" handler (small JSON, no storage) and a kv handler (fazt.kv.get + set) on
//             the node vs the same routes on express 5 + better-sqlite3 (WAL, synchronous=NORMAL,
//             like node/sqlite.ts): req/s, p50, p99 at 1, 10, 100 connections, ratios.
//   2. kv     durable kv writes/s: N fazt.kv.set in one request, one set per request under load,
//             and the raw KvStore (+ a plain better-sqlite3 upsert) in-process as the baseline.
//   3. cold   first request after a deploy (new version: the sandbox primes), median of
//             BENCH_COLD_DEPLOYS deploys; first request to an app after the node restarts.
//   4. memory RSS of a node with 100 apps (api/main.js + a cron entry each) and 1,000 pending
//             fazt.schedule jobs, settled, and after requests to 10 apps; vs a node with 0 apps.
// Targets (PASS/MISS): ≥ 3,000 req/s warm with p50 < 1 ms; cold < 20 ms; 100-app node < 120 MB;
// kv ≥ 5,000 durable writes/s. See bench/README.md. Environment knobs:
//   BENCH_DURATION (5; alias BENCH_SECONDS)  BENCH_WARMUP (1)  BENCH_CONNS (1,10,100)  BENCH_THREADS (1)
//   BENCH_LOADGEN=wrk|node  BENCH_PHASES (warm,kv,cold,memory)  BENCH_COLD_DEPLOYS (10)
//   BENCH_RESTARTS (3)  BENCH_APPS (100)  BENCH_JOBS (1000)  BENCH_KV_N (1000)  BENCH_KV_REQUESTS (5)
//   BENCH_KV_CONNS (10)  BENCH_ROUNDS (1: interleaved rounds of phase 1, medians)  BENCH_SETTLE (3: min seconds before an RSS reading)  BENCH_KEEP=1
//   BENCH_PROF_DIR=DIR (the phase-1 node runs with --cpu-prof; it also serves phases 2 and 3a)
//   BENCH_NODE_FLAGS (default '--max-semi-space-size=1', as npm start)  BENCH_TIMEOUT (watchdog, s)
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);

// ================================================================ child modes
// `--serve-express DB`: the express baseline server (prints {"port":N} on stdout).
// `--kv-raw DB N`: the in-process KvStore baseline (prints one JSON line).
if (process.argv[2] === '--serve-express') await serveExpress(process.argv[3]);
else if (process.argv[2] === '--kv-raw') await kvRaw(process.argv[3], Number(process.argv[4]));
else await benchMain();

/**
 * Express 5 doing what the Fazt bench app does, with its state in better-sqlite3 opened like
 * node/sqlite.ts (WAL, synchronous=NORMAL, busy_timeout, foreign_keys), statements prepared once.
 * Same URL paths as the node (`/a/rt/api/...`), same JSON bodies. Express defaults otherwise.
 */
async function serveExpress(dbFile) {
  const require = createRequire(path.join(ROOT, 'package.json'));
  const express = require('express');
  const Database = require('better-sqlite3');
  const db = new Database(dbFile);
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.exec('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  const getSt = db.prepare('SELECT value FROM kv WHERE key = ?');
  const setSt = db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
  const kvGet = (k) => { const r = getSt.get(k); return r ? JSON.parse(r.value) : null; };
  const kvSet = (k, v) => { setSt.run(k, JSON.stringify(v)); };
  const app = express();
  app.get('/a/rt/api/hello', (req, res) => { res.json({ hello: 'world', n: 1 }); });
  app.get('/a/rt/api/kv', (req, res) => {
    const v = kvGet('counter') ?? 0;
    kvSet('counter', v + 1);
    res.json({ counter: v + 1 });
  });
  app.get('/a/rt/api/set1', (req, res) => {
    kvSet('s' + Math.floor(Math.random() * 10000), { v: 1 });
    res.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port, express: require('express/package.json').version }) + '\n'));
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { server.close(); db.close(); process.exit(0); });
}

/**
 * The raw baseline for kv writes: the node's own KvStore (shared/storage/kv.ts) on a cartridge
 * opened with the node's BetterSqliteDatabase (node/sqlite.ts), in-process, no HTTP, no sandbox;
 * TypeScript is loaded with tsx (a devDependency). Also a plain better-sqlite3 upsert on a 2-column
 * table (what the express baseline does) as the floor.
 */
async function kvRaw(dbFile, n) {
  const out = {};
  let tsImport;
  try { ({ tsImport } = await import('tsx/esm/api')); } catch (e) { out.skipped = `tsx not installed (${e.message})`; }
  const rate = (fn, count) => {
    for (let i = 0; i < Math.min(200, count); i++) fn(i); // warm the statement cache and the JIT
    const times = [];
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      for (let i = 0; i < count; i++) fn(i);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { writes: count, ms: times[1], writesPerSec: count / (times[1] / 1000) };
  };
  if (tsImport) {
    const { BetterSqliteDatabase } = await tsImport(pathToFileURL(path.join(ROOT, 'node/sqlite.ts')).href, import.meta.url);
    const { openCartridge } = await tsImport(pathToFileURL(path.join(ROOT, 'shared/cartridge/index.ts')).href, import.meta.url);
    const { KvStore } = await tsImport(pathToFileURL(path.join(ROOT, 'shared/storage/index.ts')).href, import.meta.url);
    const db = BetterSqliteDatabase.open(dbFile);
    const cart = openCartridge(db, { label: dbFile });
    const kv = new KvStore(cart);
    const appId = '00000000-0000-4000-8000-000000000001';
    out.kvStore = rate((i) => kv.set(appId, 'm' + (i % 1000), JSON.stringify({ i })), n);
    const batches = Math.max(1, Math.round(n / 1000));
    const inTx = rate(() => db.transaction(() => { for (let j = 0; j < 1000; j++) kv.set(appId, 'm' + j, JSON.stringify({ j })); }), batches);
    out.kvStoreInOneTransaction = { writes: batches * 1000, ms: inTx.ms, writesPerSec: (batches * 1000) / (inTx.ms / 1000) };
    db.close();
  }
  const require = createRequire(path.join(ROOT, 'package.json'));
  const Database = require('better-sqlite3');
  const raw = new Database(dbFile + '.plain');
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.exec('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  const st = raw.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
  out.plainUpsert = rate((i) => st.run('m' + (i % 1000), JSON.stringify({ i })), n);
  raw.close();
  process.stdout.write(JSON.stringify(out) + '\n');
}

// ================================================================ the benchmark
async function benchMain() {
  const JSON_ONLY = process.argv.includes('--json');
  const env = process.env;
  const num = (v, d) => (v === undefined || v === '' || Number.isNaN(Number(v)) ? d : Number(v));
  const CFG = {
    seconds: num(env.BENCH_DURATION, num(env.BENCH_SECONDS, 5)),
    warmup: num(env.BENCH_WARMUP, 1),
    threads: num(env.BENCH_THREADS, 1),
    conns: (env.BENCH_CONNS || '1,10,100').split(',').map(Number).filter((n) => n > 0),
    phases: (env.BENCH_PHASES || 'warm,kv,cold,memory').split(',').map((s) => s.trim()).filter(Boolean),
    coldDeploys: num(env.BENCH_COLD_DEPLOYS, 10),
    restarts: num(env.BENCH_RESTARTS, 3),
    apps: num(env.BENCH_APPS, 100),
    jobs: num(env.BENCH_JOBS, 1000),
    kvN: num(env.BENCH_KV_N, 1000),
    kvRequests: num(env.BENCH_KV_REQUESTS, 5),
    kvConns: num(env.BENCH_KV_CONNS, 10),
    rounds: Math.max(1, num(env.BENCH_ROUNDS, 1)),
    settle: num(env.BENCH_SETTLE, 3),
    keep: env.BENCH_KEEP === '1',
    profDir: env.BENCH_PROF_DIR ? path.resolve(env.BENCH_PROF_DIR) : '',
    nodeFlags: (env.BENCH_NODE_FLAGS ?? '--max-semi-space-size=1').split(/\s+/).filter(Boolean),
  };
  const TARGET = { rps: 3000, p50Ms: 1, coldMs: 20, rssMB: 120, kvWrites: 5000 };
  const APP = 'rt';
  const PREFIX = `/a/${APP}`;
  const CLK_TCK = 100;

  const log = (...a) => { if (!JSON_ONLY) console.log(...a); else process.stderr.write(a.join(' ') + '\n'); };
  const warn = (...a) => { process.stderr.write(a.join(' ') + '\n'); };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const now = () => performance.now();
  const round = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
  const median = (xs) => { const s = xs.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b); return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null; };

  // ---------------------------------------------------------------- processes and cleanup
  const children = new Set();
  const helpers = new Set();
  let TMP = '';
  let cleaned = false;
  let stopping = false;

  function killGroup(child, sig) {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    try { process.kill(-child.pid, sig); } catch { try { child.kill(sig); } catch { /* gone */ } }
  }
  async function stopChild(entry, graceMs = 5000) {
    const { child } = entry;
    children.delete(entry);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    killGroup(child, 'SIGTERM');
    const t = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
    killGroup(child, 'SIGKILL');
  }
  function cleanupSync() {
    if (cleaned) return;
    cleaned = true;
    for (const e of children) killGroup(e.child, 'SIGKILL');
    children.clear();
    for (const c of helpers) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
    helpers.clear();
    if (TMP && !CFG.keep) { try { fs.rmSync(TMP, { recursive: true, force: true }); } catch { /* ignore */ } }
    else if (TMP) warn(`(kept temp dir ${TMP})`);
  }
  async function cleanup() {
    for (const c of helpers) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
    await Promise.all([...children].map((e) => stopChild(e, 3000).catch(() => {})));
    cleanupSync();
  }
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      stopping = true;
      warn(`\n${sig}: stopping children and removing temp files`);
      cleanup().finally(() => process.exit(130));
    });
  }

  function spawnLogged(name, cmd, args, opts = {}) {
    const logFile = path.join(TMP, 'logs', `${name}.log`);
    const out = fs.createWriteStream(logFile, { flags: 'a' });
    const child = spawn(cmd, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    const entry = { name, child, logFile, stdout: '' };
    child.stdout.on('data', (d) => { out.write(d); if (entry.stdout.length < 65536) entry.stdout += d; });
    child.stderr.on('data', (d) => out.write(d));
    child.on('exit', () => out.end());
    child.on('error', (e) => out.write(`spawn error: ${e.message}\n`));
    children.add(entry);
    return entry;
  }
  const tail = (file, n = 30) => { try { return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n'); } catch { return ''; } };
  function run(cmd, args, { timeout = 60000 } = {}) {
    return new Promise((resolve, reject) => {
      const c = execFile(cmd, args, { cwd: ROOT, timeout, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        helpers.delete(c);
        if (err) { err.stdout = stdout; err.stderr = stderr; reject(Object.assign(err, { message: `${path.basename(cmd)} ${args.join(' ')} failed: ${err.message}\n${stderr}\n${stdout}` })); }
        else resolve({ stdout, stderr });
      });
      helpers.add(c);
    });
  }
  function freePort() {
    return new Promise((resolve, reject) => {
      const s = net.createServer();
      s.unref();
      s.on('error', reject);
      s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    });
  }

  // ---------------------------------------------------------------- HTTP helpers
  function get(url, { timeout = 10000, agent = false } = {}) {
    return new Promise((resolve) => {
      const req = http.get(url, { agent, timeout }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (e) => resolve({ error: e }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve({ error: e }));
    });
  }
  async function getJson(url, opts) {
    const r = await get(url, opts);
    if (r.error) throw new Error(`GET ${url}: ${r.error.message}`);
    let body;
    try { body = JSON.parse(r.body.toString('utf8')); } catch { body = r.body.toString('utf8'); }
    if (r.status !== 200) throw new Error(`GET ${url} -> ${r.status}: ${r.body.toString('utf8').slice(0, 500)}`);
    return body;
  }
  /** Wall time of one GET (request written → last body byte), with the status. */
  async function timedGet(url, agent) {
    const t0 = now();
    const r = await get(url, { agent });
    const ms = now() - t0;
    if (r.error) throw new Error(`GET ${url}: ${r.error.message}`);
    if (r.status !== 200) throw new Error(`GET ${url} -> ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`);
    return { ms, body: r.body.toString('utf8') };
  }
  async function waitFor(url, { timeoutMs = 30000, intervalMs = 5, child = null } = {}) {
    const t0 = now();
    while (now() - t0 < timeoutMs) {
      if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`process exited (code ${child.exitCode}, signal ${child.signalCode}) before ${url} answered`);
      const r = await get(url, { timeout: 2000 });
      if (!r.error && r.status === 200) return now() - t0;
      await sleep(intervalMs);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${url}`);
  }

  // ---------------------------------------------------------------- /proc helpers
  function procChildren(pid) {
    const out = [];
    let tasks = [];
    try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch { return out; }
    for (const t of tasks) {
      try { const c = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim(); if (c) out.push(...c.split(/\s+/).map(Number)); } catch { /* ignore */ }
    }
    return out;
  }
  function procTree(pid) { const all = [pid]; for (let i = 0; i < all.length; i++) all.push(...procChildren(all[i])); return all; }
  function rss(pid) {
    try {
      const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (k) => { const m = s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')); return m ? Number(m[1]) : null; };
      return { rssMB: round(kb('VmRSS') / 1024, 1), anonMB: round(kb('RssAnon') / 1024, 1), fileMB: round(kb('RssFile') / 1024, 1), hwmMB: round(kb('VmHWM') / 1024, 1) };
    } catch { return null; }
  }
  function procCpuSeconds(pid) {
    let ticks = 0;
    for (const p of procTree(pid)) {
      try { const s = fs.readFileSync(`/proc/${p}/stat`, 'utf8'); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); ticks += Number(f[11]) + Number(f[12]); } catch { /* gone */ }
    }
    return ticks / CLK_TCK;
  }
  /** Waits at least BENCH_SETTLE s, then until VmRSS moved < 1 MB over the last 2 s (at most 15 s more). */
  async function settledRss(pid) {
    await sleep(CFG.settle * 1000);
    const readings = [rss(pid)?.rssMB];
    const t0 = now();
    while (now() - t0 < 15000) {
      await sleep(500);
      readings.push(rss(pid)?.rssMB);
      const last = readings.slice(-5);
      if (last.length === 5 && Math.max(...last) - Math.min(...last) < 1) break;
    }
    return { ...rss(pid), settledAfterS: round(CFG.settle + (now() - t0) / 1000, 1) };
  }

  // ---------------------------------------------------------------- load generation
  let wrkPath = '';
  async function detectLoadgen() {
    if (env.BENCH_LOADGEN === 'node') return { tool: 'node', desc: 'bench/loadgen.mjs (forced by BENCH_LOADGEN=node)' };
    for (const dir of (env.PATH || '').split(':').filter(Boolean)) { const p = path.join(dir, 'wrk'); if (fs.existsSync(p)) { wrkPath = p; break; } }
    if (wrkPath) {
      let v = '';
      try { await run(wrkPath, ['-v']); } catch (e) { v = `${e.stdout || ''}${e.stderr || ''}`; }
      v = (v.match(/wrk\s+[^\s]+/) || ['wrk'])[0];
      return { tool: 'wrk', desc: `${v} (${wrkPath})` };
    }
    if (env.BENCH_LOADGEN === 'wrk') throw new Error('BENCH_LOADGEN=wrk but wrk is not on PATH (apt-get install -y wrk)');
    return { tool: 'node', desc: 'bench/loadgen.mjs (wrk not found on PATH: apt-get install -y wrk)' };
  }
  const UNIT = { us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
  function parseWrk(out) {
    const rps = Number((out.match(/Requests\/sec:\s+([\d.]+)/) || [])[1]);
    const lat = {};
    for (const m of out.matchAll(/^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$/gm)) lat[`p${m[1]}`] = Number(m[2]) * UNIT[m[3]];
    const avg = out.match(/^\s*Latency\s+([\d.]+)(us|ms|s|m|h)\s+([\d.]+)(us|ms|s|m|h)\s+([\d.]+)(us|ms|s|m|h)/m);
    if (avg) { lat.mean = Number(avg[1]) * UNIT[avg[2]]; lat.max = Number(avg[5]) * UNIT[avg[6]]; }
    const req = out.match(/(\d+) requests in ([\d.]+)(us|ms|s|m|h)/);
    const sock = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
    const non2xx = Number((out.match(/Non-2xx or 3xx responses: (\d+)/) || [0, 0])[1]);
    const errors = sock ? { connect: +sock[1], read: +sock[2], write: +sock[3], timeout: +sock[4] } : {};
    if (!Number.isFinite(rps)) throw new Error(`could not parse wrk output:\n${out}`);
    return { requests: req ? Number(req[1]) : null, rps, non2xx, errors, latencyMs: lat };
  }
  async function loadOnce(lg, url, conns, seconds) {
    if (lg.tool === 'wrk') {
      const args = ['-t', String(Math.min(CFG.threads, conns)), '-c', String(conns), '-d', `${seconds}s`, '--timeout', '10s', '--latency', url];
      return parseWrk((await run(wrkPath, args, { timeout: (seconds + 30) * 1000 })).stdout);
    }
    const r = await run(process.execPath, [path.join(ROOT, 'bench/loadgen.mjs'), '--url', url, '--connections', String(conns), '--duration', String(seconds), '--timeout', '10'], { timeout: (seconds + 30) * 1000 });
    return JSON.parse(r.stdout.trim().split('\n').pop());
  }
  async function measure(lg, server, url, conns) {
    if (CFG.warmup > 0) await loadOnce(lg, url, conns, CFG.warmup);
    const cpu0 = procCpuSeconds(server.pid);
    const t0 = now();
    const r = await loadOnce(lg, url, conns, CFG.seconds);
    const wall = (now() - t0) / 1000;
    const cpu = procCpuSeconds(server.pid) - cpu0;
    if (server.entry.child.exitCode !== null || server.entry.child.signalCode !== null) throw new Error(`${server.name} died during the load on ${url}:\n${tail(server.entry.logFile)}`);
    const errorCount = Object.values(r.errors || {}).reduce((a, b) => a + b, 0);
    return {
      server: server.name, url, connections: conns,
      rps: round(r.rps, 1), p50ms: round(r.latencyMs.p50, 3), p99ms: round(r.latencyMs.p99, 3), meanMs: round(r.latencyMs.mean, 3), maxMs: round(r.latencyMs.max, 3),
      requests: r.requests, non2xx: r.non2xx, errors: r.errors, errorCount,
      serverCpuPct: round((cpu / wall) * 100, 0), reqPerCpuSec: cpu > 0 ? round(r.requests / cpu, 0) : null,
    };
  }

  function combineRounds(rs) {
    if (rs.length === 1) return rs[0];
    const out = { ...rs[0] };
    for (const k of ['rps', 'p50ms', 'p99ms', 'meanMs', 'maxMs', 'serverCpuPct', 'reqPerCpuSec']) out[k] = median(rs.map((r) => r[k]));
    for (const k of ['requests', 'non2xx', 'errorCount']) out[k] = rs.reduce((a, r) => a + (r[k] || 0), 0);
    out.rounds = rs.map((r) => ({ rps: r.rps, p50ms: r.p50ms, p99ms: r.p99ms, reqPerCpuSec: r.reqPerCpuSec }));
    return out;
  }

  // ---------------------------------------------------------------- the Fazt node
  function faztStartArgs(port, db, { prof = false } = {}) {
    const pre = [...CFG.nodeFlags];
    if (prof && CFG.profDir) pre.push('--cpu-prof', '--cpu-prof-dir', CFG.profDir, '--import', pathToFileURL(path.join(ROOT, 'bench/cpu-prof-exit.mjs')).href);
    return [...pre, 'bin/fazt.js', 'start', '--port', String(port), '--host', '127.0.0.1', '--db', db, '--domain', 'localhost', '--no-example'];
  }
  let nodeSeq = 0;
  async function startNode(db, { prof = false, port } = {}) {
    port ??= await freePort();
    const t0 = now();
    const e = spawnLogged(`fazt-${++nodeSeq}`, process.execPath, faztStartArgs(port, db, { prof }));
    const base = `http://127.0.0.1:${port}`;
    try { await waitFor(`${base}/api/health`, { child: e.child, timeoutMs: 60000, intervalMs: 2 }); }
    catch (err) { throw new Error(`fazt node did not become healthy: ${err.message}\n${tail(e.logFile)}`); }
    return { name: 'fazt', entry: e, pid: e.child.pid, base, db, port, healthMs: now() - t0 };
  }
  async function faztCli(args) {
    const r = await run(process.execPath, ['bin/fazt.js', ...args], { timeout: 120000 });
    const out = r.stdout.trim();
    try { return JSON.parse(out); } catch {
      const last = out.split('\n').filter((l) => l.trim().startsWith('{')).pop();
      if (last) return JSON.parse(last);
      throw new Error(`could not parse JSON from fazt ${args.join(' ')}:\n${out}\n${r.stderr}`);
    }
  }
  async function token(db) {
    const t = await faztCli(['token', 'create', '--db', db, '--scope', 'admin', '--json']);
    if (!t.token) throw new Error(`token create returned no token: ${JSON.stringify(t)}`);
    return t.token;
  }
  /** Deploys {path: text} as app `name` over the admin API (multipart, one part per file). */
  async function deployFiles(node, tok, name, files) {
    const fd = new FormData();
    for (const [p, text] of Object.entries(files)) fd.append('file', new Blob([text]), p);
    const res = await fetch(`${node.base}/api/apps?name=${encodeURIComponent(name)}`, { method: 'POST', headers: { authorization: `Bearer ${tok}` }, body: fd });
    const body = await res.text();
    if (res.status !== 200 && res.status !== 201) throw new Error(`deploy ${name} -> ${res.status}: ${body.slice(0, 500)}`);
    return JSON.parse(body);
  }

  // The bench app's server code. Routes: hello (small JSON, no storage), kv (get + set),
  // set1 (one kv.set), setmany?n= (n kv.set in one request), jobs?n= (n fazt.schedule.after).
  const benchAppMain = (tag = '') => `// fazt bench app ${tag}
export default {
  async fetch(request) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case '/api/hello':
        return { hello: 'world', n: 1 };
      case '/api/kv': {
        const v = (await fazt.kv.get('counter')) ?? 0;
        await fazt.kv.set('counter', v + 1);
        return { counter: v + 1 };
      }
      case '/api/set1':
        await fazt.kv.set('s' + Math.floor(Math.random() * 10000), { v: 1 });
        return { ok: true };
      case '/api/setmany': {
        const n = Number(url.searchParams.get('n') || 100);
        const t0 = Date.now();
        for (let i = 0; i < n; i++) await fazt.kv.set('m' + (i % 1000), { i });
        return { n, ms: Date.now() - t0 };
      }
      case '/api/jobs': {
        const n = Number(url.searchParams.get('n') || 10);
        let created = 0;
        for (let i = 0; i < n; i++) { await fazt.schedule.after(3600000, { i }); created++; }
        return { created };
      }
    }
    return Response.json({ error: 'no route ' + url.pathname }, { status: 404 });
  },
  async scheduled(job) {
    await fazt.kv.set('last-run', job.scheduledAt);
  },
};
`;
  const benchApp = (name, tag) => ({
    'app.json': JSON.stringify({ name, title: `Bench ${name}`, schedule: [{ name: 'nightly', cron: '0 3 * * *' }] }) + '\n',
    'index.html': `<!doctype html><title>${name}</title><h1>${name}</h1>\n`,
    'api/main.js': benchAppMain(tag),
  });

  async function startExpress() {
    const e = spawnLogged('express', process.execPath, [SELF, '--serve-express', path.join(TMP, 'express.db')]);
    const t0 = now();
    while (!e.stdout.includes('\n')) {
      if (e.child.exitCode !== null) throw new Error(`express server exited:\n${tail(e.logFile)}`);
      if (now() - t0 > 15000) throw new Error(`express server did not start:\n${tail(e.logFile)}`);
      await sleep(20);
    }
    const info = JSON.parse(e.stdout.split('\n')[0]);
    const base = `http://127.0.0.1:${info.port}`;
    return { name: 'express', entry: e, pid: e.child.pid, base, desc: `express ${info.express} + better-sqlite3 (WAL, synchronous=NORMAL), 1 process` };
  }

  // bin/fazt.js runs dist/fazt.mjs; a bundle older than the sources means old code is measured.
  function distStaleness() {
    const built = fs.statSync(path.join(ROOT, 'dist/fazt.mjs')).mtimeMs;
    let newest = null;
    const walk = (dir) => {
      let ents = [];
      try { ents = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
      for (const e of ents) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) { if (e.name !== 'node_modules') walk(p); }
        else if (/\.(ts|mts|js|mjs)$/.test(e.name) && !/\.test\./.test(e.name)) {
          const m = fs.statSync(p).mtimeMs;
          if (m > built && (!newest || m > newest.m)) newest = { p: path.relative(ROOT, p), m };
        }
      }
    };
    for (const d of ['node', 'shared']) walk(path.join(ROOT, d));
    return newest && `dist/fazt.mjs is older than ${newest.p} (and maybe other sources): run \`node scripts/build.mjs\` first or the old bundle is measured`;
  }

  // ================================================================ main
  const totalPlanned = 2 * CFG.conns.length * 2 * CFG.rounds * (CFG.seconds + CFG.warmup + 1) + CFG.seconds + 60 + CFG.restarts * 10 + CFG.apps * 0.5 + 6 * (CFG.settle + 16) + 120;
  const watchdogS = num(env.BENCH_TIMEOUT, Math.ceil(totalPlanned));
  setTimeout(() => { warn(`watchdog: benchmark exceeded ${watchdogS} s, aborting`); cleanup().finally(() => process.exit(3)); }, watchdogS * 1000).unref();

  const result = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGB: round(os.totalmem() / 2 ** 30, 1), node: process.version, kernel: os.release(), loadavg1AtStart: round(os.loadavg()[0], 2) },
    settings: { ...CFG, loadgen: null },
    warm: [], ratios: [], kv: null, cold: null, memory: null, targets: [], notes: [],
  };

  try {
    if (!fs.existsSync(path.join(ROOT, 'dist/fazt.mjs'))) throw new Error('dist/fazt.mjs is missing: run `node scripts/build.mjs` first');
    TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-bench-rt-'));
    fs.mkdirSync(path.join(TMP, 'logs'));
    if (CFG.profDir) fs.mkdirSync(CFG.profDir, { recursive: true });
    const lg = await detectLoadgen();
    result.settings.loadgen = lg.desc;
    try {
      const head = (await run('git', ['rev-parse', '--short', 'HEAD'])).stdout.trim();
      const dirty = (await run('git', ['status', '--porcelain', '--', 'shared', 'node'])).stdout.trim().split('\n').filter(Boolean).length;
      result.code = { commit: head, uncommittedFilesInSharedAndNode: dirty };
    } catch { /* not a git checkout */ }
    const stale = distStaleness();
    if (stale) { result.notes.push(stale); warn(`WARNING: ${stale}`); }
    log(`Fazt runtime benchmark  (${result.machine.cpus} cores, ${result.machine.cpuModel}, Node ${process.version})`);
    log(`load generator: ${lg.tool === 'wrk' ? 'wrk' : 'bench/loadgen.mjs (Node fallback)'} — ${lg.desc}`);
    log(`${CFG.warmup} s warm-up + ${CFG.seconds} s measured per cell; connections ${CFG.conns.join(', ')}; node flags: ${CFG.nodeFlags.join(' ') || '(none)'}; phases: ${CFG.phases.join(', ')}`);
    if (result.machine.loadavg1AtStart > 0.7) { const m = `the machine was already busy at start (1-min load average ${result.machine.loadavg1AtStart}): numbers are noisy`; result.notes.push(m); log(`WARNING: ${m}`); }
    if (result.code) log(`code: commit ${result.code.commit}${result.code.uncommittedFilesInSharedAndNode ? ` + ${result.code.uncommittedFilesInSharedAndNode} uncommitted file(s) in shared/ and node/` : ''} (the node runs dist/, built ${new Date(fs.statSync(path.join(ROOT, 'dist/fazt.mjs')).mtimeMs).toISOString()})`);
    log(`temp dir: ${TMP}\n`);
    result.notes.push(`${result.machine.cpus} CPU cores: the load generator and the server share them (nothing pinned).`);
    result.notes.push(`The Fazt node runs with ${CFG.nodeFlags.join(' ') || 'no extra node flags'} (BENCH_NODE_FLAGS; npm start uses --max-semi-space-size=1); the express baseline with Node's defaults.`);
    if (Math.max(...CFG.conns) >= 50) result.notes.push('At 100 connections both servers are overloaded: p99 there is queueing in one event loop (some connections wait seconds), not network loss.');
    if (lg.tool === 'node') result.notes.push('Load generator is the Node fallback (bench/loadgen.mjs): it needs more CPU per request than wrk, so all numbers are lower; install wrk.');

    const want = (p) => CFG.phases.includes(p);
    let fazt = null;
    let tok = '';
    if (want('warm') || want('kv') || want('cold')) {
      log('starting the Fazt node and deploying the bench app ...');
      fazt = await startNode(path.join(TMP, 'node.db'), { prof: true });
      tok = await token(fazt.db);
      await deployFiles(fazt, tok, APP, benchApp(APP, 'rt'));
      const h = await getJson(`${fazt.base}${PREFIX}/api/hello`);
      if (JSON.stringify(h) !== '{"hello":"world","n":1}') throw new Error(`unexpected hello body ${JSON.stringify(h)}`);
      log(`  node pid ${fazt.pid} ${fazt.base}${PREFIX}/api/hello\n`);
    }

    // ------------------------------------------------------------ phase 1: warm
    if (want('warm')) {
      const exp = await startExpress();
      result.settings.express = exp.desc;
      // same bodies from both
      for (const srv of [fazt, exp]) {
        const a = await getJson(`${srv.base}${PREFIX}/api/hello`);
        const k1 = await getJson(`${srv.base}${PREFIX}/api/kv`);
        const k2 = await getJson(`${srv.base}${PREFIX}/api/kv`);
        if (JSON.stringify(a) !== '{"hello":"world","n":1}' || k2.counter !== k1.counter + 1) throw new Error(`${srv.name}: handlers do not behave as expected: ${JSON.stringify([a, k1, k2])}`);
      }
      log('phase 1: warm handlers, Fazt vs express (verified: same JSON; kv counter increments on both)');
      for (const handler of ['hello', 'kv']) {
        for (const c of CFG.conns) {
          // rounds interleave the servers, so background load hits both alike; > 1 round → medians
          const runs = { fazt: [], express: [] };
          for (let rnd = 1; rnd <= CFG.rounds; rnd++) {
            for (const srv of [fazt, exp]) {
              process.stderr.write(`  ${handler} ${srv.name} ${c} conn${CFG.rounds > 1 ? ` (round ${rnd}/${CFG.rounds})` : ''} ...`);
              const r = await measure(lg, srv, `${srv.base}${PREFIX}/api/${handler}`, c);
              runs[srv.name].push(r);
              process.stderr.write(` ${Math.round(r.rps)} req/s, p50 ${r.p50ms} ms, p99 ${r.p99ms} ms${r.non2xx || r.errorCount ? `, ${r.non2xx} non-2xx, ${r.errorCount} socket errors` : ''}\n`);
            }
          }
          for (const name of ['fazt', 'express']) result.warm.push({ ...combineRounds(runs[name]), handler });
        }
      }
      for (const handler of ['hello', 'kv']) {
        for (const c of CFG.conns) {
          const f = result.warm.find((r) => r.server === 'fazt' && r.handler === handler && r.connections === c);
          const e = result.warm.find((r) => r.server === 'express' && r.handler === handler && r.connections === c);
          result.ratios.push({ handler, connections: c, rps: round(f.rps / e.rps, 2), p50: round(f.p50ms / e.p50ms, 2), p99: round(f.p99ms / e.p99ms, 2) });
        }
      }
      await stopChild(exp.entry);
      printWarm();
    }

    // ------------------------------------------------------------ phase 2: kv writes
    if (want('kv')) {
      log('\nphase 2: durable kv writes (WAL, synchronous=NORMAL: every write is a committed transaction)');
      const kv = { n: CFG.kvN };
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      await timedGet(`${fazt.base}${PREFIX}/api/setmany?n=${CFG.kvN}`, agent); // warm
      const batch = [];
      for (let i = 0; i < CFG.kvRequests; i++) {
        const r = await timedGet(`${fazt.base}${PREFIX}/api/setmany?n=${CFG.kvN}`, agent);
        const b = JSON.parse(r.body);
        if (b.n !== CFG.kvN) throw new Error(`setmany returned ${r.body}`);
        batch.push({ requestMs: round(r.ms, 2), handlerMs: b.ms });
      }
      agent.destroy();
      const med = median(batch.map((b) => b.requestMs));
      kv.oneRequest = { runs: batch, medianRequestMs: med, writesPerSec: round(CFG.kvN / (med / 1000), 0), perWriteUs: round((med * 1000) / CFG.kvN, 1) };
      log(`  ${CFG.kvN} fazt.kv.set in one request: median ${round(med, 1)} ms/request (${CFG.kvRequests} requests) -> ${Math.round(kv.oneRequest.writesPerSec)} writes/s (${kv.oneRequest.perWriteUs} µs per write)`);
      const sep = await measure(lg, fazt, `${fazt.base}${PREFIX}/api/set1`, CFG.kvConns);
      kv.separateRequests = { ...sep, writesPerSec: sep.rps };
      log(`  one fazt.kv.set per request, ${CFG.kvConns} connections, ${CFG.seconds} s: ${Math.round(sep.rps)} writes/s (p50 ${sep.p50ms} ms, p99 ${sep.p99ms} ms${sep.non2xx ? `, ${sep.non2xx} non-2xx` : ''})`);
      try {
        const raw = await run(process.execPath, [SELF, '--kv-raw', path.join(TMP, 'kvraw.db'), String(Math.max(5000, CFG.kvN))], { timeout: 120000 });
        kv.raw = JSON.parse(raw.stdout.trim().split('\n').pop());
        if (kv.raw.skipped) log(`  raw KvStore baseline skipped: ${kv.raw.skipped}`);
        if (kv.raw.kvStore) log(`  baseline, in-process KvStore.set (shared/storage/kv.ts on node/sqlite.ts), autocommit: ${Math.round(kv.raw.kvStore.writesPerSec)} writes/s (${round(1e6 / kv.raw.kvStore.writesPerSec, 1)} µs per write)`);
        if (kv.raw.kvStoreInOneTransaction) log(`  for reference, KvStore.set x1000 inside one transaction: ${Math.round(kv.raw.kvStoreInOneTransaction.writesPerSec)} writes/s`);
        log(`  for reference, plain better-sqlite3 upsert on a 2-column table, autocommit: ${Math.round(kv.raw.plainUpsert.writesPerSec)} writes/s`);
      } catch (e) {
        kv.raw = { error: e.message };
        warn(`  raw KvStore baseline failed: ${e.message}`);
      }
      result.kv = kv;
    }

    // ------------------------------------------------------------ phase 3: cold starts
    if (want('cold')) {
      log(`\nphase 3: cold starts`);
      const cold = { deploys: [], restarts: [] };
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      await deployFiles(fazt, tok, 'cold', benchApp('cold', 'v0'));
      await timedGet(`${fazt.base}/a/cold/api/hello`, agent);
      for (let i = 1; i <= CFG.coldDeploys; i++) {
        const t0 = now();
        const d = await deployFiles(fazt, tok, 'cold', benchApp('cold', `v${i}`));
        const deployMs = now() - t0;
        const first = await timedGet(`${fazt.base}/a/cold/api/hello`, agent);
        const second = await timedGet(`${fazt.base}/a/cold/api/hello`, agent);
        cold.deploys.push({ version: d.version, deployMs: round(deployMs, 1), firstMs: round(first.ms, 2), secondMs: round(second.ms, 2) });
      }
      agent.destroy();
      cold.afterDeployMedianMs = round(median(cold.deploys.map((d) => d.firstMs)), 2);
      cold.warmAfterDeployMedianMs = round(median(cold.deploys.map((d) => d.secondMs)), 2);
      log(`  first request after a deploy (new version): median ${cold.afterDeployMedianMs} ms over ${CFG.coldDeploys} deploys [${cold.deploys.map((d) => d.firstMs.toFixed(1)).join(', ')}]; the request after it: ${cold.warmAfterDeployMedianMs} ms; deploy itself ~${round(median(cold.deploys.map((d) => d.deployMs)), 0)} ms`);
      // restarts: the phase-1 node stops here (its CPU profile, if any, is written now)
      const db = fazt.db;
      await stopChild(fazt.entry);
      fazt = null;
      for (let i = 0; i < CFG.restarts; i++) {
        const t0 = now();
        const n = await startNode(db);
        const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
        const first = await timedGet(`${n.base}${PREFIX}/api/hello`, a);
        const spawnToFirstApiMs = now() - t0;
        const second = await timedGet(`${n.base}${PREFIX}/api/hello`, a);
        const other = await timedGet(`${n.base}/a/cold/api/hello`, a);
        a.destroy();
        cold.restarts.push({ spawnToHealthMs: round(n.healthMs, 0), firstMs: round(first.ms, 2), secondMs: round(second.ms, 2), firstOtherAppMs: round(other.ms, 2), spawnToFirstApiMs: round(spawnToFirstApiMs, 0) });
        await stopChild(n.entry);
      }
      cold.afterRestartMedianMs = round(median(cold.restarts.map((r) => r.firstMs)), 2);
      cold.afterRestartOtherAppMedianMs = round(median(cold.restarts.map((r) => r.firstOtherAppMs)), 2);
      log(`  first request to an app after a node restart (health already 200): median ${cold.afterRestartMedianMs} ms over ${CFG.restarts} restarts [${cold.restarts.map((r) => r.firstMs.toFixed(1)).join(', ')}]; then a second app's first request: ${cold.afterRestartOtherAppMedianMs} ms; spawn -> health ${median(cold.restarts.map((r) => r.spawnToHealthMs))} ms`);
      result.cold = cold;
    }
    if (fazt) { await stopChild(fazt.entry); fazt = null; }

    // ------------------------------------------------------------ phase 4: memory
    if (want('memory')) {
      log(`\nphase 4: idle memory (VmRSS of the node process; settled = ≥ ${CFG.settle} s and < 1 MB change over 2 s)`);
      const mem = { apps: CFG.apps, jobs: CFG.jobs };
      // (a) 0 apps
      const n0 = await startNode(path.join(TMP, 'empty.db'));
      mem.zeroApps = await settledRss(n0.pid);
      for (let i = 0; i < 30; i++) await get(`${n0.base}/api/health`);
      mem.zeroAppsAfterRequests = await settledRss(n0.pid);
      await stopChild(n0.entry);
      log(`  0 apps: ${mem.zeroApps.rssMB} MB settled; ${mem.zeroAppsAfterRequests.rssMB} MB after 30 /api/health requests`);
      // (b) N apps with a cron entry each, M pending one-shot jobs
      const db = path.join(TMP, 'many.db');
      let nb = await startNode(db);
      const t = await token(db);
      const t0 = now();
      for (let i = 0; i < CFG.apps; i++) await deployFiles(nb, t, `m${i}`, benchApp(`m${i}`, `m${i}`));
      const deployS = (now() - t0) / 1000;
      const perApp = CFG.apps ? Math.ceil(CFG.jobs / CFG.apps) : 0;
      let jobs = 0;
      for (let i = 0; i < CFG.apps && jobs < CFG.jobs; i++) {
        const n = Math.min(perApp, CFG.jobs - jobs);
        const r = await getJson(`${nb.base}/a/m${i}/api/jobs?n=${n}`);
        jobs += r.created;
      }
      mem.jobsCreated = jobs;
      mem.deploySeconds = round(deployS, 1);
      mem.afterDeployAndJobs = await settledRss(nb.pid);
      log(`  ${CFG.apps} apps deployed over HTTP in ${round(deployS, 1)} s, ${jobs} jobs created (fazt.schedule.after 1 h, ${perApp} per request): ${mem.afterDeployAndJobs.rssMB} MB settled (peak ${mem.afterDeployAndJobs.hwmMB} MB)`);
      await stopChild(nb.entry);
      nb = await startNode(db);
      mem.restarted = await settledRss(nb.pid);
      log(`  restarted on that cartridge: ${mem.restarted.rssMB} MB settled`);
      const picks = Array.from({ length: Math.min(10, CFG.apps) }, (_, k) => Math.floor((k * CFG.apps) / Math.min(10, CFG.apps)));
      for (let round_ = 0; round_ < 3; round_++) for (const i of picks) await getJson(`${nb.base}/a/m${i}/api/${round_ === 1 ? 'kv' : 'hello'}`);
      mem.afterTenApps = await settledRss(nb.pid);
      log(`  after 3 requests each to ${picks.length} different apps (hello, kv, hello): ${mem.afterTenApps.rssMB} MB settled (peak ${mem.afterTenApps.hwmMB} MB)`);
      await stopChild(nb.entry);
      result.memory = mem;
    }

    // ------------------------------------------------------------ targets
    const T = (name, value, pass, unit = '') => result.targets.push({ name, value, pass, unit });
    for (const handler of ['hello', 'kv']) {
      const rows = result.warm.filter((r) => r.server === 'fazt' && r.handler === handler);
      if (!rows.length) continue;
      const best = rows.reduce((a, b) => (b.rps > a.rps ? b : a));
      T(`warm ${handler}: peak req/s >= ${TARGET.rps} (best of ${CFG.conns.join('/')} conns: ${best.connections})`, best.rps, best.rps >= TARGET.rps, 'req/s');
      const one = rows.find((r) => r.connections === Math.min(...CFG.conns));
      T(`warm ${handler}: p50 < ${TARGET.p50Ms} ms (${one.connections} conn)`, one.p50ms, one.p50ms < TARGET.p50Ms, 'ms');
    }
    if (result.cold) {
      T(`cold: first request after deploy < ${TARGET.coldMs} ms (median)`, result.cold.afterDeployMedianMs, result.cold.afterDeployMedianMs < TARGET.coldMs, 'ms');
      if (result.cold.restarts.length) T(`cold: first request after node restart < ${TARGET.coldMs} ms (median)`, result.cold.afterRestartMedianMs, result.cold.afterRestartMedianMs < TARGET.coldMs, 'ms');
    }
    if (result.memory) {
      const m = result.memory;
      T(`memory: ${m.apps}-app/${m.jobsCreated}-job node < ${TARGET.rssMB} MB RSS (restarted, settled)`, m.restarted.rssMB, m.restarted.rssMB < TARGET.rssMB, 'MB');
      T(`memory: same, after requests to 10 apps`, m.afterTenApps.rssMB, m.afterTenApps.rssMB < TARGET.rssMB, 'MB');
      T(`memory: same, right after the deploys + job creation (no restart)`, m.afterDeployAndJobs.rssMB, m.afterDeployAndJobs.rssMB < TARGET.rssMB, 'MB');
    }
    if (result.kv) {
      T(`kv: >= ${TARGET.kvWrites} durable writes/s, ${CFG.kvN} sets in one request`, result.kv.oneRequest.writesPerSec, result.kv.oneRequest.writesPerSec >= TARGET.kvWrites, 'writes/s');
      T(`kv: >= ${TARGET.kvWrites} durable writes/s, one set per request (${CFG.kvConns} conns)`, result.kv.separateRequests.writesPerSec, result.kv.separateRequests.writesPerSec >= TARGET.kvWrites, 'writes/s');
    }
    printSummary();
    if (JSON_ONLY) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    await cleanup();
    process.exit(0);
  } catch (err) {
    if (stopping) return;
    warn(`\nbench failed: ${err.stack || err.message}`);
    for (const e of children) warn(`--- ${e.name} log tail ---\n${tail(e.logFile, 15)}`);
    await cleanup();
    process.exit(1);
  }

  // ---------------------------------------------------------------- report
  function pad(s, n, right = true) { s = String(s ?? '-'); return right ? s.padStart(n) : s.padEnd(n); }
  function fmt(x, d = 0) { return x === null || x === undefined ? '-' : Number(x).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }); }
  function printWarm() {
    log('\n=== 1. warm handlers (GET /a/rt/api/<handler>) ===');
    log(`${pad('handler', 8, false)}${pad('conns', 6)} | ${pad('fazt req/s', 11)}${pad('p50 ms', 8)}${pad('p99 ms', 9)}${pad('CPU%', 6)}${pad('req/CPU-s', 10)}${pad('err', 6)} | ${pad('express req/s', 14)}${pad('p50 ms', 8)}${pad('p99 ms', 9)}${pad('CPU%', 6)}${pad('req/CPU-s', 10)} | ${pad('fazt/express: req/s', 20)}${pad('p50', 7)}${pad('p99', 7)}`);
    for (const handler of ['hello', 'kv']) {
      for (const c of CFG.conns) {
        const f = result.warm.find((r) => r.server === 'fazt' && r.handler === handler && r.connections === c);
        const e = result.warm.find((r) => r.server === 'express' && r.handler === handler && r.connections === c);
        const q = result.ratios.find((r) => r.handler === handler && r.connections === c);
        log(`${pad(handler, 8, false)}${pad(c, 6)} | ${pad(fmt(f.rps), 11)}${pad(fmt(f.p50ms, 2), 8)}${pad(fmt(f.p99ms, 2), 9)}${pad(fmt(f.serverCpuPct), 6)}${pad(fmt(f.reqPerCpuSec), 10)}${pad(f.non2xx + f.errorCount, 6)} | ${pad(fmt(e.rps), 14)}${pad(fmt(e.p50ms, 2), 8)}${pad(fmt(e.p99ms, 2), 9)}${pad(fmt(e.serverCpuPct), 6)}${pad(fmt(e.reqPerCpuSec), 10)} | ${pad(q.rps + 'x', 20)}${pad(q.p50 + 'x', 7)}${pad(q.p99 + 'x', 7)}`);
      }
    }
    log('(err = non-2xx responses + socket errors on the Fazt side; CPU% = server process CPU during the measured run, 100% = one core)');
  }
  function printSummary() {
    log('\n=== targets ===');
    for (const t of result.targets) log(`  ${t.pass ? 'PASS' : 'MISS'}  ${t.name}: ${fmt(t.value, t.unit === 'ms' ? 2 : t.unit === 'MB' ? 1 : 0)} ${t.unit}`);
    if (result.memory) {
      const m = result.memory;
      log(`  (memory reference: the same node with 0 apps settles at ${m.zeroApps.rssMB} MB, ${m.zeroAppsAfterRequests.rssMB} MB after requests; so ${m.apps} apps + ${m.jobsCreated} jobs add ${round(m.restarted.rssMB - m.zeroApps.rssMB, 1)} MB idle, ${round(m.afterTenApps.rssMB - m.zeroApps.rssMB, 1)} MB once 10 apps have run)`);
    }
    if (result.kv?.raw?.kvStore) log(`  (kv reference: raw in-process KvStore.set ${fmt(result.kv.raw.kvStore.writesPerSec)} writes/s; plain better-sqlite3 upsert ${fmt(result.kv.raw.plainUpsert.writesPerSec)} writes/s)`);
    log('\nnotes:');
    for (const n of result.notes) log(`  - ${n}`);
    log(`  - load generator: ${result.settings.loadgen}`);
    if (result.settings.express) log(`  - baseline: ${result.settings.express}`);
    log('  - "durable" = committed in WAL with synchronous=NORMAL (survives a process crash; the last commits can be lost on power failure), the same for Fazt and the baselines.');
  }
}
