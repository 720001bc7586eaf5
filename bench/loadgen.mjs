#!/usr/bin/env node
// Minimal HTTP/1.1 keep-alive load generator: the fallback used by bench/static.mjs when
// `wrk` is not installed. Runs as its own process so it does not share an event loop with
// any server under test.
//
//   node bench/loadgen.mjs --url http://127.0.0.1:8080/x --connections 50 --duration 10 [--warmup 0] [--timeout 5]
//
// Each of N "connections" is a loop that issues one request at a time over a keep-alive
// http.Agent limited to N sockets (so N sockets, like wrk -cN). Latency is measured per request
// from request start to the last byte of the body. No Accept-Encoding header is sent.
// Prints one JSON object on stdout.
import http from 'node:http';

function parseArgs(argv) {
  const o = { url: '', connections: 10, duration: 10, warmup: 0, timeout: 5 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    switch (k) {
      case '--url': o.url = v; i++; break;
      case '--connections': case '-c': o.connections = Number(v); i++; break;
      case '--duration': case '-d': o.duration = Number(v); i++; break;
      case '--warmup': o.warmup = Number(v); i++; break;
      case '--timeout': o.timeout = Number(v); i++; break;
      case '--help': case '-h':
        console.log('usage: node bench/loadgen.mjs --url URL [--connections N] [--duration S] [--warmup S] [--timeout S]');
        process.exit(0);
        break;
      default:
        console.error(`unknown argument ${k}`);
        process.exit(2);
    }
  }
  if (!o.url) { console.error('--url is required'); process.exit(2); }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections, maxFreeSockets: opts.connections });
const target = new URL(opts.url);
const reqOpts = {
  agent,
  hostname: target.hostname,
  port: target.port,
  path: target.pathname + target.search,
  method: 'GET',
  timeout: opts.timeout * 1000,
};

function once() {
  return new Promise((resolve) => {
    const req = http.request(reqOpts, (res) => {
      let bytes = 0;
      res.on('data', (c) => { bytes += c.length; });
      res.on('end', () => resolve({ status: res.statusCode, bytes }));
      res.on('error', (e) => resolve({ error: e.code || e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e.code || e.message }));
    req.end();
  });
}

async function phase(seconds, record) {
  let lat = new Float64Array(1 << 16);
  let n = 0;
  let non2xx = 0;
  let bytes = 0;
  const errors = {};
  let stop = false;
  const t0 = process.hrtime.bigint();
  const timer = setTimeout(() => { stop = true; }, seconds * 1000);
  async function loop() {
    while (!stop) {
      const s = process.hrtime.bigint();
      const r = await once();
      const ms = Number(process.hrtime.bigint() - s) / 1e6;
      if (!record) continue;
      if (r.error) { errors[r.error] = (errors[r.error] || 0) + 1; continue; }
      if (r.status < 200 || r.status >= 400) non2xx++;
      bytes += r.bytes;
      if (n === lat.length) { const g = new Float64Array(lat.length * 2); g.set(lat); lat = g; }
      lat[n++] = ms;
    }
  }
  await Promise.all(Array.from({ length: opts.connections }, loop));
  clearTimeout(timer);
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const sorted = lat.subarray(0, n).sort();
  const pct = (p) => (n ? sorted[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)] : NaN);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  return {
    requests: n,
    seconds: elapsed,
    rps: n / elapsed,
    bytes,
    non2xx,
    errors,
    latencyMs: { mean: n ? sum / n : NaN, p50: pct(50), p75: pct(75), p90: pct(90), p99: pct(99), max: n ? sorted[n - 1] : NaN },
  };
}

if (opts.warmup > 0) await phase(opts.warmup, false);
const result = await phase(opts.duration, true);
agent.destroy();
process.stdout.write(JSON.stringify({ tool: 'bench/loadgen.mjs', url: opts.url, connections: opts.connections, ...result }) + '\n');
process.exit(0);
