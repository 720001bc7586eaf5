#!/usr/bin/env node
// Static-file benchmark for the Fazt node. Run from the repo root:
//
//   node bench/static.mjs            # human-readable table, then JSON
//   node bench/static.mjs --json     # JSON only
//
// Measures requests/s and latency (p50/p99) for a 2 KiB and a 1 MiB file served by
//   (a) the Fazt node (`node bin/fazt.js start`, app deployed with the CLI),
//   (b) express 5 + express.static from disk (bench/express-static-server.mjs),
//   (c) Debian's nginx (if /usr/sbin/nginx exists),
// with one load generator (wrk if installed, else bench/loadgen.mjs) running as a separate
// process on 127.0.0.1. Also reports the node's idle RSS and its start-up time.
// See bench/README.md. Environment knobs:
//   BENCH_SECONDS (10)  BENCH_WARMUP (2)  BENCH_CONN_SMALL (50)  BENCH_CONN_BIG (10)
//   BENCH_THREADS (1)   BENCH_LOADGEN=wrk|node   BENCH_STARTUP_RUNS (3)
//   BENCH_ROUNDS (1: interleaved rounds per server and file; >1 reports medians)
//   BENCH_ONLY=fazt,express,nginx   BENCH_FILES=small,big   BENCH_KEEP=1 (keep temp dir)
//   BENCH_PROF_DIR=DIR (run the node with --cpu-prof, profile written to DIR on exit)
//   BENCH_NODE_FLAGS='--max-semi-space-size=1' (node flags for the Fazt node only; default: the flag npm start uses)
//   BENCH_NGINX=/path/to/nginx   BENCH_TIMEOUT (overall watchdog, seconds; default derived)
import { spawn, execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const JSON_ONLY = process.argv.includes('--json');
const env = process.env;
const num = (v, d) => (v === undefined || v === '' || Number.isNaN(Number(v)) ? d : Number(v));
const CFG = {
  seconds: num(env.BENCH_SECONDS, 10),
  warmup: num(env.BENCH_WARMUP, 2),
  threads: num(env.BENCH_THREADS, 1),
  connSmall: num(env.BENCH_CONN_SMALL, 50),
  connBig: num(env.BENCH_CONN_BIG, 10),
  startupRuns: num(env.BENCH_STARTUP_RUNS, 3),
  rounds: Math.max(1, num(env.BENCH_ROUNDS, 1)),
  only: (env.BENCH_ONLY || 'fazt,express,nginx').split(',').map((s) => s.trim()).filter(Boolean),
  keep: env.BENCH_KEEP === '1',
  profDir: env.BENCH_PROF_DIR ? path.resolve(env.BENCH_PROF_DIR) : '',
  nginxBin: env.BENCH_NGINX || '/usr/sbin/nginx',
  idleSeconds: 3,
  // BENCH_HIBERNATE_SECONDS (35; 0 skips): idle time after the load runs before the last RSS reading
  hibernateSeconds: num(env.BENCH_HIBERNATE_SECONDS, 35),
  // the same V8 flag as `npm start` and the `fazt` bin (a 1 MiB young generation)
  nodeFlags: (env.BENCH_NODE_FLAGS ?? '--max-semi-space-size=1').split(/\s+/).filter(Boolean),
};
const TARGET_RSS_MB = 80;
const APP = 'bench';
const PREFIX = `/a/${APP}`;
const ALL_FILES = [
  { key: 'small', name: 'small.txt', label: '2 KiB text', size: 2048 },
  { key: 'big', name: 'big.bin', label: '1 MiB binary', size: 1 << 20 },
];
const FILES = ALL_FILES.filter((f) => (env.BENCH_FILES || 'small,big').split(',').includes(f.key));
const CLK_TCK = 100; // Linux USER_HZ; `getconf CLK_TCK` is 100 on every mainstream kernel

const log = (...a) => { if (!JSON_ONLY) console.log(...a); };
const warn = (...a) => { if (!JSON_ONLY) console.error(...a); else process.stderr.write(a.join(' ') + '\n'); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const round = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

// ---------------------------------------------------------------- process bookkeeping / cleanup
const children = new Set(); // { name, child, logFile }
let TMP = '';
let cleaned = false;
let stopping = false; // set on SIGINT/SIGTERM: failures after that are expected

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
  killGroup(child, 'SIGKILL'); // any grandchildren left in the group
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

function tail(file, n = 30) {
  try { return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n'); } catch { return ''; }
}

const helpers = new Set(); // short-lived execFile children (wrk, loadgen, fazt CLI)
function run(cmd, args, { timeout = 60000, cwd = ROOT } = {}) {
  return new Promise((resolve, reject) => {
    const c = execFile(cmd, args, { cwd, timeout, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
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

// ---------------------------------------------------------------- HTTP helpers (no Accept-Encoding)
function get(url, { timeout = 5000, agent = false } = {}) {
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

async function waitFor(url, { timeoutMs = 30000, intervalMs = 5, child = null, okStatus = (s) => s === 200 } = {}) {
  const t0 = now();
  while (now() - t0 < timeoutMs) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`process exited (code ${child.exitCode}, signal ${child.signalCode}) before ${url} answered`);
    const r = await get(url, { timeout: 2000 });
    if (!r.error && okStatus(r.status)) return { ms: now() - t0, res: r };
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
    try {
      const c = fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (c) out.push(...c.split(/\s+/).map(Number));
    } catch { /* ignore */ }
  }
  return out;
}
function procTree(pid) {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...procChildren(all[i]));
  return all;
}
function procStatus(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => { const m = s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm')); return m ? Number(m[1]) : null; };
    const name = (s.match(/^Name:\s+(.*)$/m) || [])[1];
    const threads = Number((s.match(/^Threads:\s+(\d+)/m) || [])[1]);
    return { pid, name, vmRssKb: kb('VmRSS'), vmHwmKb: kb('VmHWM'), rssAnonKb: kb('RssAnon'), rssFileKb: kb('RssFile'), threads };
  } catch { return null; }
}
function procCmdline(pid) {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' '); } catch { return ''; }
}
function procCpuSeconds(pid) {
  // utime + stime of every process in the tree (field 14, 15 of /proc/PID/stat)
  let ticks = 0;
  for (const p of procTree(pid)) {
    try {
      const s = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch { /* gone */ }
  }
  return ticks / CLK_TCK;
}

// ---------------------------------------------------------------- site
function lorem(bytes) {
  const words = 'fazt personal cloud node cartridge sqlite app deploy static file served request latency kernel express nginx bench'.split(' ');
  let s = '';
  let i = 0;
  while (s.length < bytes) {
    s += words[(i * 7 + (i >> 3)) % words.length] + ((i % 13) === 12 ? '\n' : ' ');
    i++;
  }
  return s.slice(0, bytes - 1) + '\n';
}
function makeSite(dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'app.json'), JSON.stringify({ name: APP, title: 'Bench' }) + '\n');
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html>\n<html><head><meta charset="utf-8"><title>Bench</title></head><body><h1>Bench</h1><p>Static-file benchmark app.</p></body></html>\n');
  fs.writeFileSync(path.join(dir, 'small.txt'), lorem(2048));
  fs.writeFileSync(path.join(dir, 'big.bin'), randomBytes(1 << 20));
  const sha = {};
  for (const f of ['index.html', 'small.txt', 'big.bin']) sha[f] = createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex');
  return sha;
}

// ---------------------------------------------------------------- servers
async function startExpress(site) {
  const e = spawnLogged('express', process.execPath, [path.join(ROOT, 'bench/express-static-server.mjs'), site, '0', PREFIX]);
  const t0 = now();
  while (!e.stdout.includes('\n')) {
    if (e.child.exitCode !== null) throw new Error(`express server exited:\n${tail(e.logFile)}`);
    if (now() - t0 > 15000) throw new Error(`express server did not start:\n${tail(e.logFile)}`);
    await sleep(20);
  }
  const { port } = JSON.parse(e.stdout.split('\n')[0]);
  const base = `http://127.0.0.1:${port}`;
  await waitFor(`${base}${PREFIX}/small.txt`, { child: e.child });
  const ver = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/express/package.json'), 'utf8')).version;
  return { name: 'express', entry: e, pid: e.child.pid, base, desc: `express ${ver} + express.static (1 process, Node ${process.version})` };
}

async function startNginx(site) {
  const bin = CFG.nginxBin;
  if (!fs.existsSync(bin)) return { skipped: `nginx not found at ${bin}; install it with: apt-get update && apt-get install -y nginx` };
  const dir = path.join(TMP, 'nginx');
  for (const d of ['', 'logs', 'tmp']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const port = await freePort();
  const mime = fs.existsSync('/etc/nginx/mime.types') ? 'include /etc/nginx/mime.types;' : 'types { text/html html; text/plain txt; application/json json; }';
  const conf = `# generated by bench/static.mjs
${process.getuid && process.getuid() === 0 ? 'user root;  # the temp dir is mode 0700; let the worker read it\n' : ''}worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
  ${mime}
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/tmp/client_body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${port};
    server_name localhost;
    location ${PREFIX}/ { alias ${site}/; }
  }
}
`;
  const confFile = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  let version = '';
  try { const r = await run(bin, ['-v']); version = (r.stderr || r.stdout).trim().replace(/^nginx version:\s*/, ''); } catch { /* ignore */ }
  const e = spawnLogged('nginx', bin, ['-p', dir + '/', '-e', `${dir}/logs/error.log`, '-c', confFile]);
  const base = `http://127.0.0.1:${port}`;
  try { await waitFor(`${base}${PREFIX}/small.txt`, { child: e.child, timeoutMs: 15000 }); }
  catch (err) { throw new Error(`nginx did not start: ${err.message}\n${tail(e.logFile)}\n${tail(path.join(dir, 'logs/error.log'))}`); }
  const workers = procChildren(e.child.pid).length;
  return { name: 'nginx', entry: e, pid: e.child.pid, base, confFile, desc: `${version || 'nginx'}, worker_processes 1 (master + ${workers} worker), sendfile on, access_log off` };
}

function faztStartArgs(port, db, { prof = false } = {}) {
  const pre = [...CFG.nodeFlags];
  if (prof && CFG.profDir) pre.push('--cpu-prof', '--cpu-prof-dir', CFG.profDir, '--import', pathToFileURL(path.join(ROOT, 'bench/cpu-prof-exit.mjs')).href);
  return [...pre, 'bin/fazt.js', 'start', '--port', String(port), '--host', '127.0.0.1', '--db', db, '--domain', 'localhost'];
}

async function faztCli(args, timeout = 120000) {
  const r = await run(process.execPath, ['bin/fazt.js', ...args], { timeout });
  const out = r.stdout.trim();
  try { return JSON.parse(out); } catch {
    const last = out.split('\n').filter((l) => l.trim().startsWith('{')).pop();
    if (last) return JSON.parse(last);
    throw new Error(`could not parse JSON from fazt ${args.join(' ')}:\n${out}\n${r.stderr}`);
  }
}

async function deploy(site, db, base) {
  const tok = await faztCli(['token', 'create', '--db', db, '--scope', 'admin', '--json']);
  const token = tok.token;
  if (!token) throw new Error(`token create returned no token: ${JSON.stringify(tok)}`);
  const dep = await faztCli(['app', 'deploy', site, '--name', APP, '--node', base, '--token', token, '--json']);
  return { token, deploy: dep };
}

async function startFazt(site) {
  if (!fs.existsSync(path.join(ROOT, 'bin/fazt.js'))) throw new Error('bin/fazt.js not found (is the node built?)');
  const port = await freePort();
  const db = path.join(TMP, 'data.db');
  if (CFG.profDir) fs.mkdirSync(CFG.profDir, { recursive: true });
  const e = spawnLogged('fazt', process.execPath, faztStartArgs(port, db, { prof: true }));
  const base = `http://127.0.0.1:${port}`;
  try { await waitFor(`${base}/api/health`, { child: e.child, timeoutMs: 60000 }); }
  catch (err) { throw new Error(`fazt node did not become healthy: ${err.message}\n${tail(e.logFile)}`); }
  await sleep(CFG.idleSeconds * 1000);
  const rssBeforeDeploy = rssReport(e.child.pid);
  const d = await deploy(site, db, base);
  await waitFor(`${base}${PREFIX}/small.txt`, { child: e.child, timeoutMs: 15000 });
  let version = '';
  try { version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version; } catch { /* ignore */ }
  return { name: 'fazt', entry: e, pid: e.child.pid, base, db, port, token: d.token, rssBeforeDeploy, deployResult: d.deploy, desc: `fazt ${version} node (node bin/fazt.js start, Node ${process.version})` };
}

// ---------------------------------------------------------------- verification
async function verify(server, sha) {
  const checks = [];
  for (const f of ['small.txt', 'big.bin', 'index.html']) {
    const url = `${server.base}${PREFIX}/${f}`;
    const r = await get(url, { timeout: 10000 });
    if (r.error) throw new Error(`${server.name}: GET ${url} failed: ${r.error.message}`);
    if (r.status !== 200) throw new Error(`${server.name}: GET ${url} -> ${r.status}`);
    const got = createHash('sha256').update(r.body).digest('hex');
    if (got !== sha[f]) throw new Error(`${server.name}: GET ${url} returned different bytes (${r.body.length} bytes)`);
    if (r.headers['content-encoding']) throw new Error(`${server.name}: ${url} answered with Content-Encoding ${r.headers['content-encoding']} although none was accepted`);
    checks.push({ file: f, status: r.status, bytes: r.body.length, contentType: r.headers['content-type'] || null, etag: r.headers.etag || null, cacheControl: r.headers['cache-control'] || null });
  }
  return checks;
}

// ---------------------------------------------------------------- load generation
let wrkPath = '';
async function detectLoadgen() {
  if (env.BENCH_LOADGEN === 'node') return { tool: 'node', desc: 'bench/loadgen.mjs (forced by BENCH_LOADGEN=node)' };
  for (const p of ['/usr/bin/wrk', '/usr/local/bin/wrk']) if (fs.existsSync(p)) { wrkPath = p; break; }
  if (wrkPath) {
    let v = '';
    try { await run(wrkPath, ['-v']); } catch (e) { v = `${e.stdout || ''}${e.stderr || ''}`; }
    v = (v.match(/wrk\s+[^\s]+/) || ['wrk'])[0];
    return { tool: 'wrk', desc: `${v} (${wrkPath})` };
  }
  if (env.BENCH_LOADGEN === 'wrk') throw new Error('BENCH_LOADGEN=wrk but wrk is not installed (apt-get install -y wrk)');
  return { tool: 'node', desc: 'bench/loadgen.mjs (wrk not installed: apt-get install -y wrk)' };
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
  return { requests: req ? Number(req[1]) : null, seconds: req ? Number(req[2]) * UNIT[req[3]] / 1000 : null, rps, non2xx, errors, latencyMs: lat };
}

async function loadOnce(lg, url, conns, seconds) {
  if (lg.tool === 'wrk') {
    const args = ['-t', String(Math.min(CFG.threads, conns)), '-c', String(conns), '-d', `${seconds}s`, '--timeout', '10s', '--latency', url];
    const r = await run(wrkPath, args, { timeout: (seconds + 30) * 1000 });
    return parseWrk(r.stdout);
  }
  const r = await run(process.execPath, [path.join(ROOT, 'bench/loadgen.mjs'), '--url', url, '--connections', String(conns), '--duration', String(seconds), '--timeout', '10'], { timeout: (seconds + 30) * 1000 });
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

async function bench(lg, server, file) {
  const conns = file.key === 'small' ? CFG.connSmall : CFG.connBig;
  const url = `${server.base}${PREFIX}/${file.name}`;
  if (CFG.warmup > 0) await loadOnce(lg, url, conns, CFG.warmup);
  const cpu0 = procCpuSeconds(server.pid);
  const t0 = now();
  const r = await loadOnce(lg, url, conns, CFG.seconds);
  const wall = (now() - t0) / 1000;
  const cpu = procCpuSeconds(server.pid) - cpu0;
  const alive = server.entry.child.exitCode === null && server.entry.child.signalCode === null;
  if (!alive) throw new Error(`${server.name} died during the ${file.name} run:\n${tail(server.entry.logFile)}`);
  const errCount = Object.values(r.errors || {}).reduce((a, b) => a + b, 0);
  return {
    server: server.name,
    file: file.name,
    bytes: file.size,
    connections: conns,
    rps: round(r.rps, 1),
    mbPerSec: round((r.rps * file.size) / (1 << 20), 1),
    p50ms: round(r.latencyMs.p50, 3),
    p99ms: round(r.latencyMs.p99, 3),
    meanMs: round(r.latencyMs.mean, 3),
    maxMs: round(r.latencyMs.max, 3),
    requests: r.requests,
    non2xx: r.non2xx,
    errors: r.errors,
    errorCount: errCount,
    serverCpuPct: round((cpu / wall) * 100, 0),
    reqPerCpuSec: cpu > 0 ? round(r.requests / cpu, 0) : null,
  };
}

function combineRounds(rs) {
  if (rs.length === 1) return rs[0];
  const out = { ...rs[0] };
  for (const k of ['rps', 'mbPerSec', 'p50ms', 'p99ms', 'meanMs', 'maxMs', 'serverCpuPct', 'reqPerCpuSec']) out[k] = median(rs.map((r) => r[k]));
  out.requests = rs.reduce((a, r) => a + (r.requests || 0), 0);
  out.non2xx = rs.reduce((a, r) => a + (r.non2xx || 0), 0);
  out.errorCount = rs.reduce((a, r) => a + (r.errorCount || 0), 0);
  out.errors = rs.map((r) => r.errors);
  out.rounds = rs.map((r) => ({ rps: r.rps, p50ms: r.p50ms, p99ms: r.p99ms }));
  return out;
}

// ---------------------------------------------------------------- RSS
const WARM_REQUESTS = 20; // per file, before the idle-RSS reading
async function warmAndIdleRss(list) {
  for (const server of list) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    for (let i = 0; i < WARM_REQUESTS; i++) {
      await Promise.all(ALL_FILES.map((f) => get(`${server.base}${PREFIX}/${f.name}`, { agent })));
    }
    await get(`${server.base}${PREFIX}/`, { agent });
    agent.destroy();
  }
  await sleep(CFG.idleSeconds * 1000);
  return list.map((s) => rssReport(s.pid));
}
function rssReport(pid) {
  const tree = procTree(pid);
  const procs = tree.map((p) => ({ ...procStatus(p), cmd: procCmdline(p) })).filter((p) => p.pid);
  const main = procs[0] || {};
  const totalKb = procs.reduce((a, p) => a + (p.vmRssKb || 0), 0);
  return {
    pid,
    name: main.name,
    cmd: main.cmd,
    rssMB: round((main.vmRssKb || 0) / 1024, 1),
    hwmMB: round((main.vmHwmKb || 0) / 1024, 1),
    anonMB: round((main.rssAnonKb || 0) / 1024, 1),
    fileMB: round((main.rssFileKb || 0) / 1024, 1),
    threads: main.threads,
    descendants: procs.slice(1).map((p) => ({ pid: p.pid, name: p.name, rssMB: round((p.vmRssKb || 0) / 1024, 1), cmd: p.cmd })),
    treeRssMB: round(totalKb / 1024, 1),
    targetMB: TARGET_RSS_MB,
    pass: (main.vmRssKb || Infinity) / 1024 < TARGET_RSS_MB,
  };
}

// ---------------------------------------------------------------- startup
async function startupRun(kind, site, existingDb) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let db = existingDb;
  if (kind === 'fresh') db = path.join(TMP, `fresh-${port}-${Date.now()}.db`);
  let cmd;
  let args;
  if (kind === 'npm-start') {
    cmd = 'npm';
    args = ['start', '--silent', '--', '--port', String(port), '--host', '127.0.0.1', '--db', db, '--domain', 'localhost'];
  } else {
    cmd = process.execPath;
    args = faztStartArgs(port, db);
  }
  const t0 = now();
  const e = spawnLogged(`startup-${kind}-${port}`, cmd, args);
  const out = { kind, db: kind === 'fresh' ? 'new empty file' : 'existing (app deployed)' };
  try {
    await waitFor(`${base}/api/health`, { child: e.child, timeoutMs: 60000, intervalMs: 2 });
    out.healthMs = round(now() - t0, 1);
    if (kind === 'fresh') {
      const t1 = now();
      await deploy(site, db, base);
      await waitFor(`${base}${PREFIX}/`, { child: e.child, timeoutMs: 15000, intervalMs: 2 });
      out.tokenDeployPageMs = round(now() - t1, 1);
      out.firstPageMs = round(now() - t0, 1);
      out.firstPageNote = 'includes CLI token create + app deploy after health';
    } else {
      await waitFor(`${base}${PREFIX}/`, { child: e.child, timeoutMs: 15000, intervalMs: 2 });
      out.firstPageMs = round(now() - t0, 1);
    }
    out.nodePid = kind === 'npm-start' ? procTree(e.child.pid).find((p) => /fazt\.js/.test(procCmdline(p)) && procStatus(p)?.name === 'node') : e.child.pid;
    if (kind === 'npm-start') out.processTree = procTree(e.child.pid).map((p) => `${p} ${procStatus(p)?.name}`).join(', ');
  } catch (err) {
    out.error = `${err.message}\n${tail(e.logFile, 15)}`;
  }
  await stopChild(e);
  return out;
}

function median(xs) { const s = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : null; }

// ---------------------------------------------------------------- table
function pad(s, n, right = false) { s = String(s ?? '-'); return right ? s.padStart(n) : s.padEnd(n); }
function fmt(x, d = 0) { return x === null || x === undefined ? '-' : Number(x).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }); }

// bin/fazt.js runs dist/fazt.mjs (built by `npm run build`); it only builds when the bundle is
// missing, so a bundle older than the sources means the benchmark measures old code.
function distStaleness() {
  const bundle = path.join(ROOT, 'dist/fazt.mjs');
  if (!fs.existsSync(bundle)) return null;
  const built = fs.statSync(bundle).mtimeMs;
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
  return newest && `dist/fazt.mjs is older than ${newest.p} (and maybe other sources): run \`npm run build\` first or the old bundle is measured`;
}

// ---------------------------------------------------------------- main
async function main() {
  const totalPlanned = (CFG.only.length * FILES.length * CFG.rounds * (CFG.seconds + CFG.warmup + 2)) + CFG.startupRuns * 2 * 10 + 240;
  const watchdogS = num(env.BENCH_TIMEOUT, totalPlanned);
  setTimeout(() => { warn(`watchdog: benchmark exceeded ${watchdogS} s, aborting`); cleanup().finally(() => process.exit(3)); }, watchdogS * 1000).unref();

  TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-bench-'));
  fs.mkdirSync(path.join(TMP, 'logs'));
  const site = path.join(TMP, 'site');
  const sha = makeSite(site);

  const stale = distStaleness();
  const lg = await detectLoadgen();
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGB: round(os.totalmem() / 2 ** 30, 1), node: process.version, kernel: os.release() },
    settings: { faztNodeFlags: CFG.nodeFlags.join(' ') || null, rounds: CFG.rounds, seconds: CFG.seconds, warmupSeconds: CFG.warmup, threads: CFG.threads, connectionsSmall: CFG.connSmall, connectionsBig: CFG.connBig, loadgen: lg.desc, acceptEncoding: 'none sent (no compression anywhere)', host: '127.0.0.1' },
    servers: {},
    skipped: {},
    verification: {},
    results: [],
    ratios: {},
    targets: {},
    idleRss: null,
    startup: null,
    notes: [],
  };
  result.notes.push(`${os.cpus().length} CPU cores: the load generator and the server under test share them (nothing pinned), so absolute numbers are lower than on a bigger box; compare rows, not absolutes.`);
  if (stale) { result.notes.push(stale); warn(`WARNING: ${stale}`); }
  if (lg.tool === 'node') result.notes.push('Load generator is the Node fallback (bench/loadgen.mjs): it saturates long before wrk would, so fast servers (nginx) are under-measured; install wrk for real numbers.');

  log(`Fazt static-file benchmark  (${result.machine.cpus} cores, ${result.machine.cpuModel}, Node ${process.version})`);
  log(`load generator: ${lg.desc}; ${CFG.threads} thread, ${CFG.connSmall} conns (2 KiB) / ${CFG.connBig} conns (1 MiB), ${CFG.warmup} s warm-up + ${CFG.seconds} s measured, no Accept-Encoding`);
  if (CFG.nodeFlags.length) log(`extra node flags for the Fazt node (BENCH_NODE_FLAGS): ${CFG.nodeFlags.join(' ')}`);
  log(`note: only ${os.cpus().length} cores — the load generator and each server share them.`);
  const la = os.loadavg()[0];
  result.machine.loadavg1AtStart = round(la, 2);
  if (la > 0.7) {
    const msg = `the machine was already busy when the benchmark started (1-min load average ${la.toFixed(2)} on ${os.cpus().length} cores): numbers are noisy; consider BENCH_ROUNDS=3`;
    result.notes.push(msg);
    log(`WARNING: ${msg}`);
  }
  log(`temp dir: ${TMP}\n`);

  const servers = [];
  const starters = { fazt: () => startFazt(site), express: () => startExpress(site), nginx: () => startNginx(site) };
  for (const name of ['fazt', 'express', 'nginx']) {
    if (!CFG.only.includes(name)) continue;
    log(`starting ${name} ...`);
    try {
      const s = await starters[name]();
      if (s.skipped) { result.skipped[name] = s.skipped; log(`  SKIPPED: ${s.skipped}`); continue; }
      servers.push(s);
      result.servers[name] = { desc: s.desc, pid: s.pid, base: s.base };
      log(`  ${s.desc}  pid ${s.pid}  ${s.base}${PREFIX}/`);
    } catch (err) {
      if (name === 'fazt') throw err;
      result.skipped[name] = `failed to start: ${err.message}`;
      warn(`  ${name} failed to start, skipped: ${err.message}`);
    }
  }
  for (const s of servers) result.verification[s.name] = await verify(s, sha);
  log(`verified: every server returns identical bytes for small.txt, big.bin, index.html, without Content-Encoding\n`);

  const fazt = servers.find((s) => s.name === 'fazt');
  if (fazt) {
    const exp = servers.find((s) => s.name === 'express');
    log(`idle RSS: warming the node${exp ? ' and the express server' : ''} (${ALL_FILES.length * WARM_REQUESTS + 1} requests each), then ${CFG.idleSeconds} s idle ...`);
    [result.idleRss, result.expressIdleRss] = await warmAndIdleRss(exp ? [fazt, exp] : [fazt]);
    const r = result.idleRss;
    result.rssBeforeDeploy = fazt.rssBeforeDeploy;
    log(`  before deploy (started, healthy, ${CFG.idleSeconds} s idle): VmRSS ${fazt.rssBeforeDeploy.rssMB} MB (anon ${fazt.rssBeforeDeploy.anonMB}, file ${fazt.rssBeforeDeploy.fileMB})`);
    if (result.expressIdleRss) delete result.expressIdleRss.pass;
    log(`  node pid ${r.pid} (${r.name}: ${r.cmd})`);
    log(`  VmRSS ${r.rssMB} MB (anon ${r.anonMB}, file ${r.fileMB}), peak ${r.hwmMB} MB, ${r.threads} threads; target < ${TARGET_RSS_MB} MB: ${r.pass ? 'PASS' : 'FAIL'}${r.descendants.length ? `; child processes: ${r.descendants.map((d) => `${d.name} ${d.rssMB} MB`).join(', ')}` : ''}`);
    if (result.expressIdleRss) log(`  for reference, the express.static server idles at ${result.expressIdleRss.rssMB} MB`);
    log('');
  }

  // Each round measures every server once per file, interleaved, so background load on a
  // shared machine hits all servers alike; with several rounds each metric is the median.
  for (const file of FILES) {
    const perServer = new Map(servers.map((s) => [s.name, []]));
    for (let rnd = 1; rnd <= CFG.rounds; rnd++) {
      for (const s of servers) {
        log(`load: ${s.name} ${file.name}${CFG.rounds > 1 ? ` (round ${rnd}/${CFG.rounds})` : ''} ...`);
        const r = await bench(lg, s, file);
        perServer.get(s.name).push(r);
        if (r.non2xx || r.errorCount) warn(`  WARNING: ${r.non2xx} non-2xx, errors ${JSON.stringify(r.errors)}`);
      }
    }
    for (const s of servers) result.results.push(combineRounds(perServer.get(s.name)));
  }

  if (fazt) {
    await sleep(CFG.idleSeconds * 1000);
    result.rssAfterLoad = rssReport(fazt.pid);
    // sandbox threads stop after RuntimeLimits.threadIdleMs (30 s) without app code: the node idles
    // without any (the seeded example apps ran code in the warm-up sandbox at start)
    if (CFG.hibernateSeconds > 0) {
      log(`waiting ${CFG.hibernateSeconds} s for idle sandbox threads to stop ...`);
      await sleep(CFG.hibernateSeconds * 1000);
      result.rssHibernated = rssReport(fazt.pid);
    }
  }

  // ratios and targets
  const find = (srv, f) => result.results.find((r) => r.server === srv && r.file === f);
  for (const file of FILES) {
    const fz = find('fazt', file.name);
    const ex = find('express', file.name);
    const ng = find('nginx', file.name);
    result.ratios[file.key] = {
      faztOverExpress: fz && ex ? round(fz.rps / ex.rps, 2) : null,
      faztOverNginx: fz && ng ? round(fz.rps / ng.rps, 2) : null,
      faztP99OverExpressP99: fz && ex ? round(fz.p99ms / ex.p99ms, 2) : null,
    };
    if (fz && ex) result.targets[`${file.key}: fazt req/s >= express.static`] = fz.rps >= ex.rps;
    if (file.key === 'small' && fz && ng) result.targets['small: fazt req/s >= 0.5 x nginx'] = fz.rps >= 0.5 * ng.rps;
  }
  if (result.idleRss) result.targets[`idle RSS < ${TARGET_RSS_MB} MB`] = result.idleRss.pass;

  // stop servers before timing start-up so nothing else competes for the CPU
  for (const s of servers) await stopChild(s.entry);

  if (fazt && CFG.startupRuns > 0) {
    log(`\nstart-up: ${CFG.startupRuns}x fresh db, ${CFG.startupRuns}x existing db, 1x via npm start ...`);
    const runs = [];
    for (let i = 0; i < CFG.startupRuns; i++) runs.push(await startupRun('fresh', site, null));
    for (let i = 0; i < CFG.startupRuns; i++) runs.push(await startupRun('existing', site, fazt.db));
    runs.push(await startupRun('npm-start', site, fazt.db));
    const of = (k) => runs.filter((r) => r.kind === k && !r.error);
    result.startup = {
      runs,
      freshHealthMsMedian: median(of('fresh').map((r) => r.healthMs)),
      freshFirstPageMsMedian: median(of('fresh').map((r) => r.firstPageMs)),
      existingHealthMsMedian: median(of('existing').map((r) => r.healthMs)),
      existingFirstPageMsMedian: median(of('existing').map((r) => r.firstPageMs)),
      npmStartHealthMs: of('npm-start')[0]?.healthMs ?? null,
      npmStartFirstPageMs: of('npm-start')[0]?.firstPageMs ?? null,
    };
    for (const r of runs) if (r.error) warn(`  start-up run (${r.kind}) failed: ${r.error}`);
  }

  printReport(result);
  return result;
}

function printReport(result) {
  if (JSON_ONLY) { process.stdout.write(JSON.stringify(result, null, 2) + '\n'); return; }
  log('\n=== static files: requests/s and latency ===');
  log(`${pad('server', 9)}${pad('file', 24)}${pad('conns', 6, true)}${pad('req/s', 11, true)}${pad('MB/s', 9, true)}${pad('p50 ms', 9, true)}${pad('p99 ms', 9, true)}${pad('srv CPU%', 10, true)}${pad('req/CPU-s', 11, true)}${pad('errors', 8, true)}`);
  for (const file of FILES) {
    for (const r of result.results.filter((x) => x.file === file.name)) {
      log(`${pad(r.server, 9)}${pad(`${file.name} (${file.label})`, 24)}${pad(r.connections, 6, true)}${pad(fmt(r.rps), 11, true)}${pad(fmt(r.mbPerSec, 1), 9, true)}${pad(fmt(r.p50ms, 2), 9, true)}${pad(fmt(r.p99ms, 2), 9, true)}${pad(fmt(r.serverCpuPct), 10, true)}${pad(fmt(r.reqPerCpuSec), 11, true)}${pad((r.non2xx || 0) + (r.errorCount || 0), 8, true)}`);
    }
  }
  log('');
  for (const file of FILES) {
    const q = result.ratios[file.key] || {};
    log(`${pad(file.name, 10)} fazt/express req/s ${q.faztOverExpress ?? '-'}x   fazt/nginx req/s ${q.faztOverNginx ?? '-'}x   fazt/express p99 ${q.faztP99OverExpressP99 ?? '-'}x`);
  }
  for (const [k, v] of Object.entries(result.skipped)) log(`skipped ${k}: ${v}`);
  if (result.idleRss) {
    const r = result.idleRss;
    log(`\nidle RSS of the node (pid ${r.pid}, ${r.name}): ${r.rssMB} MB (target < ${TARGET_RSS_MB} MB) ${r.pass ? 'PASS' : 'FAIL'}; before deploy: ${result.rssBeforeDeploy?.rssMB} MB; after the load runs + ${CFG.idleSeconds} s idle: ${result.rssAfterLoad?.rssMB} MB (peak ${result.rssAfterLoad?.hwmMB} MB)${result.rssHibernated ? `; after ${CFG.hibernateSeconds} s more (sandbox threads stopped): ${result.rssHibernated.rssMB} MB` : ''}${result.expressIdleRss ? `; express.static server for reference: ${result.expressIdleRss.rssMB} MB idle` : ''}`);
  }
  if (result.startup) {
    const s = result.startup;
    log('\nstart-up (spawn -> first 200):');
    for (const r of s.runs) {
      if (r.error) { log(`  ${pad(r.kind, 10)} ERROR`); continue; }
      log(`  ${pad(r.kind, 10)} db ${pad(r.db, 24)} /api/health ${pad(fmt(r.healthMs, 0), 6, true)} ms   first app page ${pad(fmt(r.firstPageMs, 0), 6, true)} ms${r.firstPageNote ? ` (${r.firstPageNote}; token+deploy+page ${fmt(r.tokenDeployPageMs, 0)} ms)` : ''}`);
    }
    log(`  median: fresh db health ${s.freshHealthMsMedian} ms; existing db health ${s.existingHealthMsMedian} ms, first app page ${s.existingFirstPageMsMedian} ms; via npm start: health ${s.npmStartHealthMs} ms, page ${s.npmStartFirstPageMs} ms`);
  }
  log('\ntargets:');
  for (const [k, v] of Object.entries(result.targets)) log(`  ${v ? 'PASS' : 'FAIL'}  ${k}`);
  log('\nnotes:');
  for (const n of result.notes) log(`  - ${n}`);
  for (const [k, v] of Object.entries(result.servers)) log(`  - ${k}: ${v.desc}`);
  log('\n--- JSON ---');
  log(JSON.stringify(result, null, 2));
}

main()
  .then(async () => { await cleanup(); process.exit(0); })
  .catch(async (err) => {
    if (stopping) return;
    warn(`\nbench failed: ${err.stack || err.message}`);
    await cleanup();
    process.exit(1);
  });
