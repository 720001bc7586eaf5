#!/usr/bin/env node
// Realtime fan-out benchmark (issue 14, docs/realtime.md): one fazt.realtime.publish from app code to
// N pages following the channel, on a real headless node (bin/fazt.js start, its own process).
//
//   node bench/realtime.mjs [--subscribers 1000] [--rounds 20] [--baseline 10] [--json]
//
// The subscribers are N Server-Sent Events streams (GET /a/bench/_fazt/realtime?channels=c, one TCP
// connection each) opened by this process. Per round: POST /a/bench/api/pub (the app calls
// fazt.realtime.publish('c', {n})), then the time from sending that request to the message reaching
// the first and the last of the N streams. Reported: medians and p90 over the rounds, for
//   fazt-N      N subscribers on the node
//   fazt-base   --baseline subscribers (default 10) on the same node, same run: what one publish costs
//               without the fan-out
//   raw-N       a bare node:http server in this process writing the same SSE chunk to N open
//               responses in a loop (no app, no kernel): the transport's floor on this machine,
//               measured with the same client
// and the ratios fazt-N / raw-N and fazt-N / fazt-base. Memory: RSS (VmRSS) of the node settled with
// the app deployed, with the N streams open, and the difference per stream. The client parsing N
// streams shares the 2 cores with the node: compare ratios, not absolute times.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { strToU8, zipSync } from 'fflate';
import { nodeProcesses } from './lib/nodes.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const JSON_ONLY = args.includes('--json');
const N = opt('subscribers', 1000);
const ROUNDS = opt('rounds', 20);
const BASE = opt('baseline', 10);
const log = (...a) => (JSON_ONLY ? console.error(...a) : console.log(...a));
const sorted = (xs) => [...xs].sort((a, b) => a - b);
const pct = (xs, p) => sorted(xs)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const ms = (x) => Math.round(x * 100) / 100;
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

const APP = `export default { async fetch(request) {
  const n = Number(new URL(request.url).searchParams.get('n'));
  return fazt.realtime.publish('c', { n });
} };`;

function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}
async function settledRss(pid) {
  await new Promise((r) => setTimeout(r, 2000));
  let min = Infinity;
  for (let i = 0; i < 5; i++) {
    min = Math.min(min, rssKiB(pid));
    await new Promise((r) => setTimeout(r, 200));
  }
  return min;
}

/**
 * Opens `count` SSE streams at `url`; resolves when each got `readyMarker` (or any first bytes when
 * null). `arrivals(n)` resolves with the performance.now() at which each stream saw message n.
 */
async function openStreams(url, count, readyMarker) {
  const waiting = new Map(); // n -> { times: number[], done }
  const streams = [];
  const marker = (n) => `{"n":${n}}`;
  await Promise.all(
    Array.from({ length: count }, () =>
      new Promise((resolve, reject) => {
        const req = http.get(url, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
          if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
          res.setEncoding('utf8');
          let ready = false;
          let buf = '';
          res.on('data', (chunk) => {
            if (!ready) {
              buf += chunk;
              if (readyMarker === null || buf.includes(readyMarker)) {
                ready = true;
                buf = '';
                resolve();
              }
              return;
            }
            for (const [n, w] of waiting) {
              if (chunk.includes(marker(n))) {
                w.times.push(performance.now());
                if (w.times.length === count) w.done();
              }
            }
          });
        });
        req.on('error', reject);
        streams.push(req);
      }),
    ),
  );
  return {
    arrivals(n) {
      return new Promise((done) => {
        const w = { times: [], done: () => (waiting.delete(n), done(w.times)) };
        waiting.set(n, w);
      });
    },
    close() {
      for (const r of streams) r.destroy();
    },
  };
}

/** Runs `ROUNDS` rounds: `fire(n)` starts a publish; returns first/last delivery times, ms. */
async function rounds(streams, fire, label, offset) {
  const first = [];
  const last = [];
  for (let n = 1; n <= ROUNDS; n++) {
    const got = streams.arrivals(n + offset);
    const t0 = performance.now();
    await Promise.all([fire(n + offset), got]);
    const times = await got;
    first.push(Math.min(...times) - t0);
    last.push(Math.max(...times) - t0);
    await new Promise((r) => setTimeout(r, 20));
  }
  const out = { first: { p50: ms(pct(first, 0.5)), p90: ms(pct(first, 0.9)) }, last: { p50: ms(pct(last, 0.5)), p90: ms(pct(last, 0.9)) } };
  log(`${label.padEnd(11)} first delivery p50 ${out.first.p50} ms p90 ${out.first.p90} ms; last delivery p50 ${out.last.p50} ms p90 ${out.last.p90} ms`);
  return out;
}

const post = (url) =>
  new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`publish answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });

// ---------------------------------------------------------------- the node
const nodes = nodeProcesses('fazt-bench-realtime-');
const node = await nodes.start(join(nodes.tmp, 'rt.db'), { token: true });
const archive = zipSync({ 'app.json': strToU8(JSON.stringify({ name: 'bench' })), 'api/main.js': strToU8(APP) });
const dep = await fetch(`${node.url}/api/apps`, { method: 'POST', headers: { authorization: `Bearer ${node.token}`, 'content-type': 'application/zip' }, body: archive });
if (dep.status !== 201) throw new Error(`deploy answered ${dep.status}: ${await dep.text()}`);
await post(`${node.url}/a/bench/api/pub?n=0`); // primes a sandbox with the app
log(`realtime fan-out: ${N} subscribers vs ${BASE}, ${ROUNDS} rounds, node ${node.url}`);
const rssIdle = await settledRss(node.proc.pid);

const streamUrl = `${node.url}/a/bench/_fazt/realtime?channels=c`;
const pub = (n) => post(`${node.url}/a/bench/api/pub?n=${n}`);
const base = await openStreams(streamUrl, BASE, 'event: ready');
const faztBase = await rounds(base, pub, `fazt-${BASE}`, 0);
base.close();
const t0 = performance.now();
const many = await openStreams(streamUrl, N, 'event: ready');
const openMs = performance.now() - t0;
log(`opened ${N} streams in ${ms(openMs)} ms`);
const rssOpen = await settledRss(node.proc.pid);
const faztN = await rounds(many, pub, `fazt-${N}`, ROUNDS);
const rssAfter = rssKiB(node.proc.pid);
many.close();
await nodes.stop(node);

// ---------------------------------------------------------------- the floor: a raw write loop
const open = new Set();
const raw = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write('event: ready\ndata: {}\n\n');
  open.add(res);
  res.on('close', () => open.delete(res));
});
await new Promise((r) => raw.listen(0, '127.0.0.1', r));
const rawStreams = await openStreams(`http://127.0.0.1:${raw.address().port}/`, N, 'event: ready');
const rawN = await rounds(
  rawStreams,
  async (n) => {
    const chunk = Buffer.from(`id: x-${n}\ndata: {"channel":"c","data":{"n":${n}}}\n\n`);
    for (const res of open) res.write(chunk);
  },
  `raw-${N}`,
  1_000_000,
);
rawStreams.close();
raw.closeAllConnections();
raw.close();

const result = {
  subscribers: N,
  baseline: BASE,
  rounds: ROUNDS,
  faztN,
  faztBase,
  rawN,
  ratioToRaw: ms(faztN.last.p50 / rawN.last.p50),
  ratioToBase: ms(faztN.last.p50 / faztBase.last.p50),
  openMs: ms(openMs),
  rssKiB: { idle: rssIdle, streamsOpen: rssOpen, afterRounds: rssAfter, perStream: ms((rssOpen - rssIdle) / N) },
};
log(`last delivery to ${N}: ${faztN.last.p50} ms = ${result.ratioToRaw}× the raw write loop (${rawN.last.p50} ms), ${result.ratioToBase}× one publish to ${BASE} (${faztBase.last.p50} ms)`);
log(`node RSS: ${(rssIdle / 1024).toFixed(1)} MiB idle, ${(rssOpen / 1024).toFixed(1)} MiB with ${N} streams (${result.rssKiB.perStream} KiB each), ${(rssAfter / 1024).toFixed(1)} MiB after the rounds`);
if (JSON_ONLY) console.log(JSON.stringify(result));
nodes.cleanup();
process.exit(0);
