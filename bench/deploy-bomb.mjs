#!/usr/bin/env node
// Deploy-under-attack benchmark (issue 15 §3): what a neighbour app and /api/health see while a
// hostile or just big deploy is received. Run from the repo root after `node scripts/build.mjs`:
//
//   node bench/deploy-bomb.mjs          # human-readable report + JSON
//   node bench/deploy-bomb.mjs --json   # JSON only
//
// The node runs in its own process (bin/fazt.js start, default limits); the probe (this process)
// fetches the neighbour's static page and /api/health one request at a time, and reports p50/p99/max
// latency idle (baseline, same run) and during each attack, with the ratio to idle:
//   bomb-liar    5 × 450 MiB of zeros deflated by zlib (≈ 2.3 MB), headers declaring 10 bytes each:
//                refused on the bytes actually unpacked (ratio limit); sent BENCH_BOMBS times back to back
//   bomb-honest  the same with true sizes in the headers: refused on the declared sizes
//   big          BENCH_BIG_MIB (128) MiB of incompressible data (stored entries) that deploys: hashing
//                and chunk writes of a legitimate big upload
//   aborted      the same upload abandoned by the client after 100 MiB, then 3 s of probing while the
//                node removes what it staged and gives the pages back (cartridge size before/after)
// Knobs: BENCH_IDLE_SECONDS (3), BENCH_BOMBS (10), BENCH_BIG_MIB (128), BENCH_NODE_FLAGS ('--max-semi-space-size=1').
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, createDeflateRaw } from 'node:zlib';
import { createRequire } from 'node:module';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(ROOT, 'package.json'));
const { zipSync } = require('fflate');
const JSON_ONLY = process.argv.includes('--json');
const MiB = 1024 * 1024;
const IDLE_S = Number(process.env.BENCH_IDLE_SECONDS ?? 3);
const BOMBS = Number(process.env.BENCH_BOMBS ?? 10);
const BIG_MIB = Number(process.env.BENCH_BIG_MIB ?? 128);
const log = (s) => process.stderr.write(s + '\n');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-bench-bomb-'));
let child;
const cleanup = () => {
  try { child?.kill('SIGKILL'); } catch { /* gone */ }
  fs.rmSync(tmp, { recursive: true, force: true });
};
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
setTimeout(() => { log('watchdog: bench overran 10 min'); process.exit(1); }, 600_000).unref();

const freePort = () => new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });

/** One HTTP request; resolves with status, body and ms from start to last byte. */
function req(port, method, p, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const r = http.request({ host: '127.0.0.1', port, path: p, method, headers: body ? { ...headers, 'content-length': body.length } : headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks), ms: performance.now() - t0 }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

/** Probes the neighbour page and /api/health in turn until `stop()` is true. */
async function probe(port, stop) {
  const lat = [];
  for (let i = 0; !stop(); i++) {
    const r = await req(port, 'GET', i % 2 ? '/api/health' : '/a/neighbour/');
    if (r.status !== 200) throw new Error(`probe got ${r.status}`);
    lat.push(r.ms);
  }
  return lat;
}

const pct = (a, q) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN; };
const stats = (a) => ({ n: a.length, p50: +pct(a, 0.5).toFixed(2), p99: +pct(a, 0.99).toFixed(2), max: +Math.max(...a).toFixed(2) });

async function zlibZeros(n) {
  const d = createDeflateRaw({ level: constants.Z_BEST_COMPRESSION, memLevel: 9 });
  const out = [];
  d.on('data', (b) => out.push(b));
  const done = new Promise((r) => d.on('end', r));
  const block = Buffer.alloc(MiB);
  for (let left = n; left > 0; left -= MiB) if (!d.write(block)) await new Promise((r) => d.once('drain', r));
  d.end();
  await done;
  return Buffer.concat(out);
}

/** A zip written by hand (APPNOTE 6.3): entries with an already deflated payload and any declared size. */
function rawZip(entries) {
  const parts = [];
  const central = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(0x0800, 6); local.writeUInt16LE(e.method, 8);
    local.writeUInt32LE(0, 14); local.writeUInt32LE(e.payload.length, 18); local.writeUInt32LE(e.size, 22); local.writeUInt16LE(name.length, 26);
    parts.push(local, name, e.payload);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0); cd.writeUInt16LE(20, 4); cd.writeUInt16LE(20, 6); cd.writeUInt16LE(0x0800, 8); cd.writeUInt16LE(e.method, 10);
    cd.writeUInt32LE(e.payload.length, 20); cd.writeUInt32LE(e.size, 24); cd.writeUInt16LE(name.length, 28); cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    offset += 30 + name.length + e.payload.length;
  }
  const cdSize = central.reduce((s, p) => s + p.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(entries.length, 8); end.writeUInt16LE(entries.length, 10); end.writeUInt32LE(cdSize, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, end]);
}

async function main() {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'fazt.mjs'))) execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--quiet'], { cwd: ROOT, stdio: 'inherit' });
  const db = path.join(tmp, 'data.db');
  const port = await freePort();
  const flags = (process.env.BENCH_NODE_FLAGS ?? '--max-semi-space-size=1').split(' ').filter(Boolean);
  child = spawn(process.execPath, [...flags, path.join(ROOT, 'dist', 'fazt.mjs'), 'start', '--db', db, '--port', String(port), '--host', '127.0.0.1', '--no-example'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => { out += d; if (/ready in/.test(out)) resolve(); });
    child.on('exit', (c) => reject(new Error(`node exited ${c}`)));
  });
  const token = JSON.parse(execFileSync(process.execPath, [path.join(ROOT, 'dist', 'fazt.mjs'), 'token', 'create', '--scope', 'admin', '--db', db, '--json'])).token;
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/zip' };
  const page = Buffer.from('<!doctype html><title>neighbour</title><p>' + 'x'.repeat(2000) + '</p>');
  const n = await req(port, 'POST', '/api/apps', { headers: auth, body: Buffer.from(zipSync({ 'app.json': Buffer.from('{"name":"neighbour"}'), 'index.html': page })) });
  if (n.status !== 201) throw new Error(`neighbour deploy: ${n.status} ${n.body}`);

  log('building the bomb (5 × 450 MiB of zeros, zlib level 9) …');
  const payload = await zlibZeros(450 * MiB);
  const bomb = (declared) => rawZip([{ name: 'app.json', method: 0, size: 17, payload: Buffer.from('{"name":"bomb"} ') },
    ...Array.from({ length: 5 }, (_, i) => ({ name: `zeros${i}.bin`, method: 8, size: declared, payload }))]);
  const liar = bomb(10);
  const honest = bomb(450 * MiB);
  const noise = (seed) => Array.from({ length: Math.max(1, BIG_MIB / 16) }, (_, i) => {
    const b = Buffer.alloc(16 * MiB);
    for (let o = 0; o < b.length; o += 4) b.writeUInt32LE((Math.imul(o + 1, 2654435761) ^ Math.imul(i + 1, seed)) >>> 0, o);
    return { name: `noise${i}.bin`, method: 0, size: b.length, payload: b };
  });
  const big = rawZip([{ name: 'app.json', method: 0, size: 16, payload: Buffer.from('{"name":"big"}  ') }, ...noise(977)]);
  // other bytes than `big` (chunks are content-addressed: the same bytes would cost nothing twice)
  const abandoned = rawZip([{ name: 'app.json', method: 0, size: 16, payload: Buffer.from('{"name":"gone"} ') }, ...noise(40503)]);

  const result = { zipBytes: { bomb: liar.length, big: big.length }, idle: null, attacks: {} };
  for (let i = 0; i < 20; i++) await req(port, 'GET', '/a/neighbour/'); // warm-up
  log(`idle: probing for ${IDLE_S} s …`);
  const until = performance.now() + IDLE_S * 1000;
  result.idle = stats(await probe(port, () => performance.now() > until));

  const attack = async (label, body, times) => {
    log(`${label}: ${times} × ${(body.length / MiB).toFixed(1)} MiB upload …`);
    let done = false;
    const probing = probe(port, () => done);
    const t0 = performance.now();
    const answers = [];
    for (let i = 0; i < times; i++) {
      const r = await req(port, 'POST', '/api/apps', { headers: auth, body });
      let err; try { err = JSON.parse(r.body).error; } catch { /* not JSON */ }
      answers.push({ status: r.status, ms: +r.ms.toFixed(1), unpackedMiB: err?.unpackedBytes !== undefined ? +(err.unpackedBytes / MiB).toFixed(1) : undefined });
    }
    const wall = performance.now() - t0;
    done = true;
    const lat = stats(await probing);
    result.attacks[label] = { answers: answers.slice(0, 3), statuses: [...new Set(answers.map((a) => a.status))], msEach: +(wall / times).toFixed(1), neighbour: lat, p50Ratio: +(lat.p50 / result.idle.p50).toFixed(2), p99Ratio: +(lat.p99 / result.idle.p99).toFixed(2) };
  };
  await attack('bomb-liar', liar, BOMBS);
  await attack('bomb-honest', honest, BOMBS);
  await attack('big', big, 1);

  // a big upload the client abandons after ~100 MiB: the node removes what it staged and gives the space back
  {
    log('aborted: 100 MiB of a 128 MiB upload, then the client hangs up …');
    const before = fs.statSync(db).size + (fs.existsSync(db + '-wal') ? fs.statSync(db + '-wal').size : 0);
    let done = false;
    const probing = probe(port, () => done);
    let peak = before;
    let answered = null;
    const sizer = setInterval(() => { peak = Math.max(peak, fs.statSync(db).size + (fs.existsSync(db + '-wal') ? fs.statSync(db + '-wal').size : 0)); }, 100);
    const t0 = performance.now();
    await new Promise((resolve) => {
      const r = http.request({ host: '127.0.0.1', port, path: '/api/apps', method: 'POST', headers: { ...auth, 'content-length': abandoned.length }, agent: false });
      r.on('error', () => resolve());
      r.on('response', (res) => { answered = res.statusCode; resolve(); });
      let off = 0;
      const next = () => {
        while (off < 100 * MiB) {
          const piece = abandoned.subarray(off, off + 256 * 1024);
          off += piece.length;
          if (!r.write(piece)) return void r.once('drain', next);
        }
        r.destroy();
        resolve();
      };
      next();
    });
    const uploadMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 3000)); // clean-up and reclaim happen now
    done = true;
    clearInterval(sizer);
    const lat = stats(await probing);
    if (answered !== null) log(`  (the node answered ${answered} before the client hung up)`);
    const after = fs.statSync(db).size + (fs.existsSync(db + '-wal') ? fs.statSync(db + '-wal').size : 0);
    result.attacks.aborted = { uploadMs: +uploadMs.toFixed(0), neighbour: lat, p50Ratio: +(lat.p50 / result.idle.p50).toFixed(2), p99Ratio: +(lat.p99 / result.idle.p99).toFixed(2), cartridgeMiBBefore: +(before / MiB).toFixed(1), cartridgeMiBPeak: +(peak / MiB).toFixed(1), cartridgeMiBAfter: +(after / MiB).toFixed(1) };
  }
  const size = fs.statSync(db).size + (fs.existsSync(db + '-wal') ? fs.statSync(db + '-wal').size : 0);
  result.cartridgeMiB = +(size / MiB).toFixed(1);

  if (!JSON_ONLY) {
    const row = (l, s, r) => `${l.padEnd(12)} n=${String(s.n).padStart(5)}  p50 ${s.p50.toFixed(2).padStart(7)} ms  p99 ${s.p99.toFixed(2).padStart(8)} ms  max ${s.max.toFixed(1).padStart(7)} ms${r ? `   ×idle p50 ${r.p50Ratio}  p99 ${r.p99Ratio}` : ''}`;
    console.log('Neighbour static page + /api/health latency (one request at a time, 127.0.0.1)');
    console.log(row('idle', result.idle));
    for (const [k, v] of Object.entries(result.attacks)) {
      console.log(row(k, v.neighbour, v));
      if (k === 'aborted') console.log(`${''.padEnd(12)} 100 MiB sent in ${v.uploadMs} ms, then 3 s of clean-up; cartridge + WAL ${v.cartridgeMiBBefore} → peak ${v.cartridgeMiBPeak} → ${v.cartridgeMiBAfter} MiB`);
      else console.log(`${''.padEnd(12)} deploy answered ${v.statuses.join('/')} in ${v.msEach} ms each${v.answers[0].unpackedMiB !== undefined ? `, after unpacking ${v.answers[0].unpackedMiB} MiB` : ''}`);
    }
    console.log(`bomb zip ${(liar.length / MiB).toFixed(2)} MiB (2250 MiB inside); cartridge + WAL after all: ${result.cartridgeMiB} MiB (the big app is live)`);
  }
  console.log(JSON.stringify(result));
}

main().then(() => process.exit(0), (e) => { log(String(e?.stack ?? e)); process.exit(1); });
