// Benchmarks of the browser node (issue 4), in Debian's Chromium against a real node serving dist/web:
//
//   1. service worker cold start (worker stopped) → first app API response, 10 MB cartridge (target < 150 ms),
//      asked by the open dashboard (as app frames' API calls are), which holds the compiled wasm
//   2. a write persisted to OPFS before its response, 10 MB cartridge                    (target < 100 ms)
//   3. dashboard load from the cache (offline reload, navigation start → load event)    (target < 1 s)
//   4. dashboard JavaScript, gzipped, wasm excluded                                      (target < 200 KB)
//
// Times are medians over several runs, measured in the page (fetch start → response body read); the
// device node's Server-Timing header splits them (open = cartridge + wasm + kernel, kernel = request,
// persist = export + OPFS write). Usage: `node bench/pwa.mjs [--runs N] [--mb 10]` (builds first when
// dist/web is missing: `node scripts/build.mjs`).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 9);
const MB = arg('mb', 10);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => `${ms.toFixed(1)} ms`;

// ---------------------------------------------------------------- 4. JS budget (no browser needed)
if (!existsSync(join(root, 'dist', 'web', 'index.html'))) {
  console.error('dist/web is missing: run `node scripts/build.mjs` first');
  process.exit(1);
}
const assets = join(root, 'dist', 'web', 'assets');
let dashGz = 0;
let dashRaw = 0;
for (const f of readdirSync(assets)) {
  if (!/\.m?js$/.test(f)) continue;
  const b = readFileSync(join(assets, f));
  dashRaw += b.length;
  dashGz += gzipSync(b, { level: 9 }).length;
}
const indexHtml = readFileSync(join(root, 'dist', 'web', 'index.html'), 'utf8');
const entry = [...indexHtml.matchAll(/<script[^>]+src="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]);
const preload = [...indexHtml.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]);
const initialGz = [...entry, ...preload].reduce((n, f) => n + gzipSync(readFileSync(join(assets, f)), { level: 9 }).length, 0);
const swGz = gzipSync(readFileSync(join(root, 'dist', 'web', 'sw.js')), { level: 9 }).length;

// ---------------------------------------------------------------- a node and a browser
async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
const dir = mkdtempSync(join(os.tmpdir(), 'fazt-bench-pwa-'));
const port = await freePort();
const origin = `http://127.0.0.1:${port}`;
const node = spawn(process.execPath, [join(root, 'bin', 'fazt.js'), 'start', '--port', String(port), '--host', '127.0.0.1', '--db', join(dir, 'hub.db')], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
});
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${origin}/api/health`)).ok) break;
  } catch {}
  if (i > 300) throw new Error('the node did not start');
  await new Promise((r) => setTimeout(r, 100));
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
});
try {
  const context = await browser.newContext({ serviceWorkers: 'allow' });
  const page = await context.newPage();
  await page.goto(origin + '/');
  await page.evaluate(async () => {
    await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    await navigator.serviceWorker.ready;
  });
  await page.waitForFunction(() => !!navigator.serviceWorker.controller);
  const cdp = await context.newCDPSession(page);
  await cdp.send('ServiceWorker.enable');

  // a ~10 MB cartridge: one app with incompressible padding, server code reading and writing fazt.kv
  const deployed = await page.evaluate(async (mb) => {
    const form = new FormData();
    form.append('file', new Blob([JSON.stringify({ name: 'bench', title: 'Bench' })]), 'app.json');
    form.append('file', new Blob(['<h1>bench</h1>']), 'index.html');
    form.append(
      'file',
      new Blob([
        `export default { async fetch(request) {
          const url = new URL(request.url);
          if (url.pathname === '/api/write') return { n: await fazt.kv.increment('n') };
          return { n: (await fazt.kv.get('n')) ?? 0 };
        } };`,
      ]),
      'api/main.js',
    );
    const pad = new Uint8Array(mb * 1024 * 1024);
    for (let i = 0; i < pad.length; i += 65536) crypto.getRandomValues(pad.subarray(i, Math.min(i + 65536, pad.length)));
    form.append('file', new Blob([pad]), 'pad.bin');
    const res = await fetch('/~device/api/apps?name=bench', { method: 'POST', body: form });
    return { status: res.status, body: await res.text() };
  }, MB);
  if (deployed.status !== 201) throw new Error(`deploy failed: ${deployed.status} ${deployed.body}`);
  const size = await page.evaluate(async () => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('fazt');
    return (await (await dir.getFileHandle('cartridge.db')).getFile()).size;
  });

  /** Times one request from the page; returns total ms and the Server-Timing entries. */
  const timed = (path) =>
    page.evaluate(async (path) => {
      const t0 = performance.now();
      const res = await fetch(path);
      await res.text();
      const ms = performance.now() - t0;
      const st = Object.fromEntries(
        (res.headers.get('server-timing') ?? '')
          .split(',')
          .filter(Boolean)
          .map((p) => [p.trim().split(';')[0], Number(/;dur=([\d.]+)/.exec(p)?.[1] ?? 0)]),
      );
      const image = /sandbox;desc="([^"]*)"/.exec(res.headers.get('server-timing') ?? '')?.[1];
      return { ms, status: res.status, st, image };
    }, path);
  await timed('/~device/a/bench/api/read');
  // the dashboard keeps the device node's WebAssembly compiled (web/lib/wasm-share.ts), as it does for a
  // person using it: wait until it has fetched both binaries
  await page.waitForFunction(() => performance.getEntriesByType('resource').filter((e) => e.name.endsWith('.wasm')).length >= 2, undefined, { timeout: 10_000 }).catch(() => console.warn('the dashboard did not load the wasm binaries: cold starts compile them'));

  // 1. cold start
  const cold = [];
  for (let i = 0; i < RUNS; i++) {
    await cdp.send('ServiceWorker.stopAllWorkers');
    await page.waitForTimeout(200);
    const r = await timed('/~device/a/bench/api/read');
    if (r.status !== 200) throw new Error(`cold request answered ${r.status}`);
    cold.push(r);
  }
  // warm read, for reference
  const warm = [];
  for (let i = 0; i < RUNS; i++) warm.push(await timed('/~device/a/bench/api/read'));
  // 2. a write persisted before its response
  const writes = [];
  for (let i = 0; i < RUNS; i++) writes.push(await timed('/~device/a/bench/api/write'));

  // 3. dashboard load from the cache, offline
  await context.setOffline(true);
  const loads = [];
  for (let i = 0; i < Math.max(3, Math.ceil(RUNS / 2)); i++) {
    await page.reload({ waitUntil: 'load' });
    loads.push(await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0];
      return n.loadEventEnd - n.startTime;
    }));
  }
  await context.setOffline(false);

  const pick = (rs, k) => median(rs.map((r) => r.st[k] ?? 0));
  const line = (label, value, target, extra = '') => console.log(`${label.padEnd(46)} ${value.padStart(10)}   target ${target}${extra ? '   ' + extra : ''}`);
  console.log(`browser node bench: Chromium ${browser.version()}, cartridge ${(size / 1048576).toFixed(1)} MiB, median of ${RUNS}`);
  line('cold start → first app API response', fmt(median(cold.map((r) => r.ms))), '< 150 ms', `(worker script ${fmt(pick(cold, 'script'))}, open ${fmt(pick(cold, 'open'))}, request ${fmt(pick(cold, 'kernel'))}; min ${fmt(Math.min(...cold.map((r) => r.ms)))})`);
  console.log(`  first sandbox of the cold starts: ${[...new Set(cold.map((r) => r.image ?? 'none made early'))].map((d) => `${cold.filter((r) => (r.image ?? 'none made early') === d).length}× ${d}`).join(', ')}`);
  if (process.argv.includes('--detail')) console.log('cold start Server-Timing (median):', Object.fromEntries(Object.keys(cold[0].st).map((k) => [k, pick(cold, k)])));
  line('warm app API read', fmt(median(warm.map((r) => r.ms))), '—', `(request ${fmt(pick(warm, 'kernel'))})`);
  line('write persisted to OPFS before the response', fmt(median(writes.map((r) => r.ms))), '< 100 ms', `(request ${fmt(pick(writes, 'kernel'))}, persist ${fmt(pick(writes, 'persist'))}: export ${fmt(pick(writes, 'export'))}, page diff ${fmt(pick(writes, 'log-pages'))}, OPFS write ${fmt(pick(writes, 'write'))})`);
  line('dashboard load from cache (offline reload)', fmt(median(loads)), '< 1000 ms');
  line('dashboard JS, gzipped (all chunks)', `${(dashGz / 1024).toFixed(1)} KB`, '< 200 KB', `(initial ${(initialGz / 1024).toFixed(1)} KB; raw ${(dashRaw / 1024).toFixed(0)} KB)`);
  line('service worker JS, gzipped (kernel, sql.js, QuickJS glue)', `${(swGz / 1024).toFixed(1)} KB`, '—');
} finally {
  await browser.close();
  node.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
