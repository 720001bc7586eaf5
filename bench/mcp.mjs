#!/usr/bin/env node
// MCP tool call round trip over Streamable HTTP vs the same admin API call over plain HTTP, against
// a real node (`node bin/fazt.js start`, its own process) on 127.0.0.1. One call at a time (latency,
// not throughput), the kinds interleaved round by round so machine noise hits them alike:
//
//   api        GET /api/apps/board with an admin token (fetch, keep-alive)           — the baseline
//   mcp        tools/call get_app {app: board} with an mcp token, official SDK client (Streamable HTTP)
//   mcp-raw    the same JSON-RPC POST with plain fetch (no client SDK: the server's cost alone)
//   and the same three for the cheapest call: GET /api/health vs the health tool.
//
// Also: the first /mcp request after start (it loads the MCP SDK) and the node's RSS before and after.
//
//   node bench/mcp.mjs [--calls 300] [--rounds 5] [--json]
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'fazt.js');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const CALLS = arg('--calls', 300);
const ROUNDS = arg('--rounds', 5);
const JSON_ONLY = process.argv.includes('--json');
const log = (s) => (JSON_ONLY ? process.stderr : process.stdout).write(s + '\n');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-bench-mcp-'));
const db = path.join(dir, 'data.db');
let node;
const cleanup = () => {
  if (node && node.exitCode === null) node.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
setTimeout(() => {
  console.error('bench/mcp.mjs: watchdog: took too long, aborting');
  process.exit(2);
}, 10 * 60_000).unref();

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (x) => Math.round(x * 1000) / 1000;

// ---------------------------------------------------------------- a node with one app
execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--quiet'], { cwd: ROOT, stdio: 'inherit' });
node = spawn(process.execPath, ['--max-semi-space-size=1', BIN, 'start', '--port', '0', '--host', '127.0.0.1', '--db', db, '--no-example'], {
  stdio: ['ignore', 'pipe', 'pipe'],
  env: { ...process.env, FAZT_NODE: '', FAZT_TOKEN: '', FAZT_DB: '' },
});
let out = '';
const url = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error('node did not start: ' + out)), 30_000);
  node.stdout.on('data', (d) => {
    out += d;
    const m = /dashboard\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
    if (m) {
      clearTimeout(t);
      resolve(m[1]);
    }
  });
  node.stderr.on('data', () => {});
  node.on('exit', (code) => reject(new Error(`node exited ${code}: ${out}`)));
});
const token = (scope) => JSON.parse(execFileSync(process.execPath, [BIN, 'token', 'create', '--scope', scope, '--db', db, '--json'], { env: { ...process.env, FAZT_NODE: '' } })).token;
const admin = token('admin');
const agent = token('mcp');

// the first /mcp request loads the MCP SDK into the node
await new Promise((r) => setTimeout(r, 500));
const rssBefore = rssKiB(node.pid);
const init = (id) => ({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } });
const mcpHeaders = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${agent}`, 'mcp-protocol-version': '2025-06-18' };
let t0 = performance.now();
let res = await fetch(url + '/mcp', { method: 'POST', headers: mcpHeaders, body: JSON.stringify(init(0)) });
await res.text();
const firstMs = performance.now() - t0;
t0 = performance.now();
res = await fetch(url + '/mcp', { method: 'POST', headers: mcpHeaders, body: JSON.stringify(init(1)) });
await res.text();
const secondMs = performance.now() - t0;
const rssAfter = rssKiB(node.pid);

const client = new Client({ name: 'bench', version: '1.0.0' });
await client.connect(new StreamableHTTPClientTransport(new URL(url + '/mcp'), { requestInit: { headers: { authorization: `Bearer ${agent}` } } }));
const made = await client.callTool({ name: 'write_files', arguments: { app: 'board', files: [{ path: 'index.html', content: '<h1>board</h1>' }, { path: 'app.json', content: '{"name":"board","title":"Board"}' }] } });
if (made.isError) throw new Error(JSON.stringify(made.content));

// ---------------------------------------------------------------- the kinds
let rpcId = 10;
const KINDS = {
  'api get_app': async () => {
    const r = await fetch(url + '/api/apps/board', { headers: { authorization: `Bearer ${admin}` } });
    if (r.status !== 200) throw new Error('api ' + r.status);
    await r.json();
  },
  'mcp get_app': async () => {
    const r = await client.callTool({ name: 'get_app', arguments: { app: 'board' } });
    if (r.isError) throw new Error('mcp ' + JSON.stringify(r.content));
  },
  'mcp-raw get_app': async () => {
    const r = await fetch(url + '/mcp', { method: 'POST', headers: mcpHeaders, body: JSON.stringify({ jsonrpc: '2.0', id: rpcId++, method: 'tools/call', params: { name: 'get_app', arguments: { app: 'board' } } }) });
    const j = await r.json();
    if (j.result?.isError || !j.result) throw new Error('mcp-raw ' + JSON.stringify(j));
  },
  'api health': async () => {
    const r = await fetch(url + '/api/health');
    if (r.status !== 200) throw new Error('api ' + r.status);
    await r.json();
  },
  'mcp health': async () => {
    const r = await client.callTool({ name: 'health', arguments: {} });
    if (r.isError) throw new Error('mcp ' + JSON.stringify(r.content));
  },
  'mcp-raw health': async () => {
    const r = await fetch(url + '/mcp', { method: 'POST', headers: mcpHeaders, body: JSON.stringify({ jsonrpc: '2.0', id: rpcId++, method: 'tools/call', params: { name: 'health', arguments: {} } }) });
    const j = await r.json();
    if (!j.result || j.result.isError) throw new Error('mcp-raw ' + JSON.stringify(j));
  },
};
const samples = Object.fromEntries(Object.keys(KINDS).map((k) => [k, []]));
for (const fn of Object.values(KINDS)) for (let i = 0; i < 30; i++) await fn(); // warm-up
const perRound = Math.max(1, Math.floor(CALLS / ROUNDS));
for (let round = 0; round < ROUNDS; round++) {
  for (const [kind, fn] of Object.entries(KINDS)) {
    for (let i = 0; i < perRound; i++) {
      const s = performance.now();
      await fn();
      samples[kind].push(performance.now() - s);
    }
  }
}
await client.close();

const rows = Object.entries(samples).map(([kind, xs]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { kind, calls: s.length, p50: ms(pct(s, 50)), p99: ms(pct(s, 99)), mean: ms(s.reduce((a, b) => a + b, 0) / s.length) };
});
const by = Object.fromEntries(rows.map((r) => [r.kind, r]));
const ratio = (a, b, k) => Math.round((by[a][k] / by[b][k]) * 100) / 100;
const result = {
  cpus: os.cpus().length,
  load: os.loadavg().map((x) => Math.round(x * 100) / 100),
  rows,
  ratios: {
    'mcp/api get_app p50': ratio('mcp get_app', 'api get_app', 'p50'),
    'mcp/api get_app p99': ratio('mcp get_app', 'api get_app', 'p99'),
    'mcp-raw/api get_app p50': ratio('mcp-raw get_app', 'api get_app', 'p50'),
    'mcp/api health p50': ratio('mcp health', 'api health', 'p50'),
    'mcp-raw/api health p50': ratio('mcp-raw health', 'api health', 'p50'),
  },
  firstMcpRequestMs: ms(firstMs),
  secondMcpRequestMs: ms(secondMs),
  rssKiB: { beforeFirstMcp: rssBefore, afterFirstMcp: rssAfter, added: rssAfter - rssBefore },
};
if (JSON_ONLY) {
  console.log(JSON.stringify(result, null, 2));
} else {
  log(`MCP over Streamable HTTP vs the admin API, one call at a time (${os.cpus().length} CPUs, load ${result.load.join(' ')})`);
  log('kind                 calls   p50 ms   p99 ms  mean ms');
  for (const r of rows) log(`${r.kind.padEnd(20)} ${String(r.calls).padStart(5)} ${String(r.p50).padStart(8)} ${String(r.p99).padStart(8)} ${String(r.mean).padStart(8)}`);
  for (const [k, v] of Object.entries(result.ratios)) log(`${k.padEnd(26)} ${v}×`);
  log(`first /mcp request (loads the SDK) ${result.firstMcpRequestMs} ms, the next ${result.secondMcpRequestMs} ms`);
  log(`node RSS ${rssBefore} KiB before the first /mcp request, ${rssAfter} KiB after (+${rssAfter - rssBefore} KiB)`);
  log(JSON.stringify(result));
}
process.exit(0);
