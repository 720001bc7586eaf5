#!/usr/bin/env node
// Neighbour latency while one app burns CPU (issue 15 §2). Run from the repo root after
// `node scripts/build.mjs`:
//
//   node bench/neighbours.mjs            # human-readable report
//   node bench/neighbours.mjs --json     # JSON only
//
// Starts the real node (`bin/fazt.js start`, default limits: 1 s CPU per invocation), deploys a
// "burner" app whose /api/burn runs `for (;;) {}` and a "neighbour" app (a static page and an API),
// then measures, with sequential GETs on fresh connections from this process:
//   - idle:  the neighbour's static page, its API and /api/health (BENCH_PROBES each);
//   - load:  the same while BENCH_STREAMS (4) clients each call /api/burn in a loop (every call is
//            stopped at the 1 s CPU limit with 504 APP_TIMEOUT, and the next one starts).
// Prints p50/p99 of both and the load/idle ratios. Target: within 2× of idle (ratio ≤ 2).
// Knobs: BENCH_PROBES (200)  BENCH_STREAMS (4)  BENCH_NODE_FLAGS ('--max-semi-space-size=1')  BENCH_KEEP=1
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const JSON_ONLY = process.argv.includes('--json');
const num = (v, d) => (v === undefined || v === '' || Number.isNaN(Number(v)) ? d : Number(v));
const PROBES = num(process.env.BENCH_PROBES, 200);
const STREAMS = num(process.env.BENCH_STREAMS, 4);
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '--max-semi-space-size=1').split(/\s+/).filter(Boolean);
const log = (...a) => (JSON_ONLY ? process.stderr.write(a.join(' ') + '\n') : console.log(...a));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

if (!fs.existsSync(path.join(ROOT, 'dist', 'fazt.mjs'))) {
  console.error('dist/ is missing or old: run `node scripts/build.mjs` first');
  process.exit(2);
}

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-neighbours-'));
let node;
const cleanup = () => {
  try { if (node && node.exitCode === null) process.kill(-node.pid, 'SIGKILL'); } catch { /* gone */ }
  if (process.env.BENCH_KEEP !== '1') fs.rmSync(TMP, { recursive: true, force: true });
};
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}
function cli(args) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['bin/fazt.js', ...args], { cwd: ROOT, timeout: 120000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}
function get(url, { timeout = 30000 } = {}) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.get(url, { agent: false, timeout }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e, ms: performance.now() - t0 }));
  });
}
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };

const BURNER = `export default { fetch(request) { if (new URL(request.url).pathname === '/api/burn') for (;;) {} return { ok: true }; } };`;
const NEIGHBOUR = `export default { fetch: () => ({ pong: true }) };`;

async function deploy(base, token, name, files) {
  const fd = new FormData();
  for (const [p, text] of Object.entries(files)) fd.append('file', new Blob([text]), p);
  const res = await fetch(`${base}/api/apps?name=${name}`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: fd });
  if (res.status >= 300) throw new Error(`deploy ${name} -> ${res.status}: ${await res.text()}`);
}

/** BENCH_PROBES sequential GETs of each probe URL, interleaved; p50/p99 per probe (ms). */
async function probe(base) {
  const urls = { static: `${base}/a/neighbour/`, api: `${base}/a/neighbour/api/ping`, health: `${base}/api/health` };
  const ms = Object.fromEntries(Object.keys(urls).map((k) => [k, []]));
  for (let i = 0; i < PROBES; i++) {
    for (const [k, u] of Object.entries(urls)) {
      const r = await get(u);
      if (r.error || r.status !== 200) throw new Error(`${k}: ${r.error?.message ?? r.status}`);
      ms[k].push(r.ms);
    }
  }
  return Object.fromEntries(Object.entries(ms).map(([k, xs]) => [k, { p50: round(pct(xs, 50)), p99: round(pct(xs, 99)) }]));
}

const db = path.join(TMP, 'data.db');
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
node = spawn(process.execPath, [...NODE_FLAGS, 'bin/fazt.js', 'start', '--port', String(port), '--host', '127.0.0.1', '--db', db, '--domain', 'localhost', '--no-example'], { cwd: ROOT, detached: true, stdio: 'ignore' });
for (let i = 0; ; i++) {
  const r = await get(`${base}/api/health`, { timeout: 1000 });
  if (r.status === 200) break;
  if (i > 600) throw new Error('the node did not start');
  await sleep(50);
}
const token = JSON.parse(await cli(['token', 'create', '--db', db, '--scope', 'admin', '--json'])).token;
await deploy(base, token, 'burner', { 'app.json': JSON.stringify({ name: 'burner' }), 'api/main.js': BURNER });
await deploy(base, token, 'neighbour', { 'app.json': JSON.stringify({ name: 'neighbour' }), 'index.html': '<h1>neighbour</h1>', 'api/main.js': NEIGHBOUR });
await get(`${base}/a/burner/api/ok`);
await probe(base); // warm-up round (threads, sandboxes, caches)

log(`neighbour latency: ${PROBES} sequential GETs per probe, ${os.availableParallelism()} cores, load ${os.loadavg()[0].toFixed(1)}`);
const idle = await probe(base);
let burning = true;
const burns = { n: 0, statuses: {} };
const streams = Array.from({ length: STREAMS }, async () => {
  while (burning) {
    const r = await get(`${base}/a/burner/api/burn`, { timeout: 60000 });
    burns.n++;
    burns.statuses[r.status ?? 'error'] = (burns.statuses[r.status ?? 'error'] ?? 0) + 1;
  }
});
await sleep(500);
const load = await probe(base);
burning = false;
await Promise.all(streams);

const rows = Object.keys(idle).map((k) => ({
  probe: k,
  idleP50: idle[k].p50, idleP99: idle[k].p99,
  loadP50: load[k].p50, loadP99: load[k].p99,
  ratioP50: round(load[k].p50 / idle[k].p50), ratioP99: round(load[k].p99 / idle[k].p99),
}));
const pass = rows.every((r) => r.ratioP50 <= 2);
const result = { probes: PROBES, streams: STREAMS, burnRequests: burns, rows, targetRatio: 2, pass };
if (JSON_ONLY) console.log(JSON.stringify(result, null, 2));
else {
  log(`while ${STREAMS} streams ran /api/burn (${burns.n} calls: ${JSON.stringify(burns.statuses)}):`);
  log('probe    idle p50   idle p99   load p50   load p99   p50 ×   p99 ×');
  for (const r of rows) log(`${r.probe.padEnd(8)} ${String(r.idleP50).padStart(8)}   ${String(r.idleP99).padStart(8)}   ${String(r.loadP50).padStart(8)}   ${String(r.loadP99).padStart(8)}   ${String(r.ratioP50).padStart(5)}   ${String(r.ratioP99).padStart(5)}`);
  log(`target: p50 within 2× of idle: ${pass ? 'PASS' : 'MISS'}`);
}
process.exit(0);
