#!/usr/bin/env node
// Where does a Node static response spend its time? Serves the same in-memory 2 KiB body four
// ways and loads each with wrk (or bench/loadgen.mjs), one at a time, from a separate process:
//
//   bare              http.createServer, writeHead + end(buffer)          (the Node ceiling)
//   express           express 5 app, one middleware doing the same         (express dispatch cost)
//   fetch             http.createServer + Headers/Request/Response objects (Fetch-API adapter cost)
//   express+fetch     both, i.e. the shape of the Fazt node's adapter (node/server.ts)
//
//   node bench/overhead.mjs [--json]      env: BENCH_SECONDS (6), BENCH_CONN_SMALL (50)
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KINDS = ['bare', 'express', 'fetch', 'express+fetch'];

if (process.argv[2] === '--serve') {
  const kind = process.argv[3];
  const body = Buffer.alloc(2048, 97);
  const plain = (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '2048' });
    res.end(body);
  };
  const viaFetch = async (req, res) => {
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    const request = new Request(`http://${req.headers.host}${req.originalUrl ?? req.url}`, { method: req.method, headers });
    void request.headers.get('range');
    const response = new Response(body, { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': '2048', etag: '"abc"' } });
    const out = {};
    response.headers.forEach((v, k) => { out[k] = v; });
    res.writeHead(response.status, out);
    res.end(Buffer.from(await response.arrayBuffer()));
  };
  let handler = kind === 'fetch' ? viaFetch : plain;
  if (kind.startsWith('express')) {
    const express = createRequire(path.join(ROOT, 'package.json'))('express');
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.use(kind === 'express+fetch' ? viaFetch : plain);
    handler = app;
  }
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
  process.on('SIGTERM', () => process.exit(0));
} else {
  const JSON_ONLY = process.argv.includes('--json');
  const seconds = Number(process.env.BENCH_SECONDS || 6);
  const conns = Number(process.env.BENCH_CONN_SMALL || 50);
  const wrk = process.env.BENCH_LOADGEN === 'node' ? undefined : ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => fs.existsSync(p));
  const run = (cmd, args) => new Promise((res, rej) => execFile(cmd, args, { timeout: (seconds + 30) * 1000 }, (e, o) => (e ? rej(e) : res(o))));
  const cpu = (pid) => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); const a = f.slice(f.lastIndexOf(')') + 2).split(' '); return (Number(a[11]) + Number(a[12])) / 100; };
  const rows = [];
  for (const kind of KINDS) {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', kind], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise((r) => child.stdout.once('data', (d) => r(Number(String(d).trim()))));
    const url = `http://127.0.0.1:${port}/a/bench/small.txt`;
    await new Promise((r) => http.get(url, (res) => { res.resume(); res.on('end', r); }));
    const loadArgs = (s) => (wrk
      ? [wrk, ['-t1', `-c${conns}`, `-d${s}s`, '--latency', url]]
      : [process.execPath, [path.join(ROOT, 'bench/loadgen.mjs'), '--url', url, '--connections', String(conns), '--duration', String(s)]]);
    await run(...loadArgs(2));
    const c0 = cpu(child.pid);
    const out = await run(...loadArgs(seconds));
    const c1 = cpu(child.pid);
    let rps;
    let p99;
    if (wrk) {
      rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)[1]);
      const m = out.match(/^\s*99%\s+([\d.]+)(us|ms|s)/m);
      p99 = m ? Number(m[1]) * { us: 1e-3, ms: 1, s: 1e3 }[m[2]] : null;
    } else {
      const j = JSON.parse(out);
      rps = j.rps;
      p99 = j.latencyMs.p99;
    }
    rows.push({ kind, rps: Math.round(rps), p99ms: p99 && Math.round(p99 * 100) / 100, reqPerCpuSec: Math.round((rps * seconds) / (c1 - c0)) });
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  if (JSON_ONLY) console.log(JSON.stringify(rows, null, 2));
  else {
    console.log(`2 KiB in-memory body, ${conns} connections, ${seconds} s, ${wrk ? 'wrk' : 'bench/loadgen.mjs'}; ratios vs bare`);
    for (const r of rows) console.log(`${r.kind.padEnd(15)}${String(r.rps).padStart(8)} req/s  p99 ${String(r.p99ms).padStart(7)} ms  ${String(r.reqPerCpuSec).padStart(7)} req/CPU-s  ${(r.rps / rows[0].rps).toFixed(2)}x`);
  }
}
