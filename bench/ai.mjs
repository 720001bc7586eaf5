#!/usr/bin/env node
// AI benchmark (issue 13): the overhead of fazt.ai.streamText called from app code, against the AI
// SDK called directly in Node, both talking to the same fake OpenAI-compatible provider
// (node/testing/fake-llm.ts: real chat-completions SSE on 127.0.0.1); and the idle RSS of a node with
// AI configured but unused vs one with no AI configured (the SDK must not load until first use).
//
//   node bench/ai.mjs [--runs 40] [--chunks 20] [--chunk-ms 2] [--json]
//
// Measured per run, from a client on 127.0.0.1 (fetch): time to first token (first body byte) and
// total time, for
//   fazt      POST /a/bench/api/stream on a real node (app code: fazt.ai.streamText(…).toTextStreamResponse())
//   plain     POST /a/bench/api/plain on the same node: an app invocation that calls no model (what
//             the sandbox round trip alone costs on this machine, for attribution)
//   fazt-owner POST /api/ai/chat (format text) on the same node: the kernel's AI path without the
//             app sandbox (attribution)
//   sdk-http  the same AI SDK call (streamText + openai.chat + toTextStreamResponse) behind a bare
//             node:http server in this process: the baseline with the same HTTP hop
//   sdk       the AI SDK in this process, no HTTP (first textStream chunk, end of stream)
// Reported: medians and p90, and fazt − sdk-http (target: < 5 ms added to TTFT and total).
// Memory: RSS (VmRSS) of a settled node with no provider vs with a provider configured (both with the
// bench app deployed), and the second one after one AI call (what loading the SDK costs).
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { register } from 'tsx/esm/api';
import { nodeProcesses } from './lib/nodes.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const JSON_ONLY = args.includes('--json');
const RUNS = opt('runs', 40);
const CHUNKS = opt('chunks', 20);
const CHUNK_MS = opt('chunk-ms', 2);
const log = (...a) => (JSON_ONLY ? console.error(...a) : console.log(...a));
const sorted = (xs) => [...xs].sort((a, b) => a - b);
const pct = (xs, p) => sorted(xs)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const r2 = (x) => Math.round(x * 100) / 100;

register();
const { startFakeLlm } = await import('../node/testing/fake-llm.ts');
const { streamText } = await import('ai');
const { createOpenAI } = await import('@ai-sdk/openai');

const nodes = nodeProcesses('fazt-bench-ai-');
const { tmp, procs } = nodes;
const cleanup = () => {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
setTimeout(() => {
  console.error('bench/ai.mjs: watchdog (10 min)');
  process.exit(2);
}, 600_000).unref();

const startNode = (name) => nodes.start(join(tmp, `${name}.db`), { token: true });

async function api(n, method, path, body, type = 'application/json') {
  const r = await fetch(n.url + path, { method, headers: { authorization: `Bearer ${n.token}`, 'content-type': type }, body: body === undefined ? undefined : type === 'application/json' ? JSON.stringify(body) : body });
  const j = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${j.error?.message ?? r.status}`);
  return j;
}

const APP = `export default { fetch(request) {
  if (new URL(request.url).pathname === '/api/plain') return 'w0 ';
  return fazt.ai.streamText({ prompt: 'count' }).toTextStreamResponse();
} };`;
async function deployBench(n) {
  const archive = zipSync({ 'app.json': strToU8(JSON.stringify({ name: 'bench', permissions: ['ai'] })), 'api/main.js': strToU8(APP) });
  await api(n, 'POST', '/api/apps?grant=all', archive, 'application/zip');
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}
async function settledRss(pid) {
  await new Promise((r) => setTimeout(r, 3000));
  let min = Infinity;
  for (let i = 0; i < 5; i++) {
    min = Math.min(min, rssKiB(pid));
    await new Promise((r) => setTimeout(r, 200));
  }
  return min;
}

/** Time to first body byte and to the end, ms, of a POST streaming text. */
async function timed(url, init = { method: 'POST', body: '{}' }) {
  const t0 = performance.now();
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  const reader = res.body.getReader();
  let first;
  let text = '';
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    first ??= performance.now();
    text += dec.decode(value, { stream: true });
  }
  return { ttft: first - t0, total: performance.now() - t0, text };
}

const fake = await startFakeLlm();
const words = Array.from({ length: CHUNKS }, (_, i) => `w${i} `);
fake.reply = () => ({ text: words.join(''), chunks: words, delayMs: CHUNK_MS });
const expected = words.join('');
const provider = createOpenAI({ apiKey: 'none', baseURL: fake.baseUrl('openai-compatible') });

// the baseline server: the AI SDK behind bare node:http
const base = http.createServer(async (req, res) => {
  for await (const _ of req);
  const r = streamText({ model: provider.chat('fake'), prompt: 'count', maxRetries: 0 });
  const response = r.toTextStreamResponse();
  res.writeHead(200, Object.fromEntries(response.headers));
  for await (const c of response.body) res.write(c);
  res.end();
});
await new Promise((r) => base.listen(0, '127.0.0.1', r));
const baseUrl = `http://127.0.0.1:${base.address().port}/`;

log(`bench/ai.mjs: ${RUNS} runs, ${CHUNKS} chunks ${CHUNK_MS} ms apart from the fake provider`);
const bare = await startNode('bare');
await deployBench(bare);
const configured = await startNode('configured');
await deployBench(configured);
await api(configured, 'PUT', '/api/ai/providers/local', { kind: 'openai-compatible', baseUrl: fake.baseUrl('openai-compatible'), defaultModel: 'fake', default: true });

// memory first (before any AI call on `configured`)
const [rssBare, rssConfigured] = await Promise.all([settledRss(bare.proc.pid), settledRss(configured.proc.pid)]);

const series = { plain: { ttft: [], total: [] }, fazt: { ttft: [], total: [] }, 'fazt-owner': { ttft: [], total: [] }, 'sdk-http': { ttft: [], total: [] }, sdk: { ttft: [], total: [] } };
const ownerInit = { method: 'POST', headers: { authorization: `Bearer ${configured.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'count', format: 'text' }) };
const sdkDirect = async () => {
  const t0 = performance.now();
  const r = streamText({ model: provider.chat('fake'), prompt: 'count', maxRetries: 0 });
  let first;
  let text = '';
  for await (const t of r.textStream) {
    first ??= performance.now();
    text += t;
  }
  return { ttft: first - t0, total: performance.now() - t0, text };
};
const appUrl = `${configured.url}/a/bench/api/stream`;
// warm-up (loads the SDK in the node; primes the sandbox)
for (let i = 0; i < 3; i++) {
  await timed(appUrl);
  await timed(baseUrl);
  await sdkDirect();
}
const rssAfterCall = await settledRss(configured.proc.pid);
for (let i = 0; i < RUNS; i++) {
  // interleaved, so drift on the shared machine hits all three alike
  for (const [name, run] of [['plain', () => timed(`${configured.url}/a/bench/api/plain`)], ['fazt', () => timed(appUrl)], ['fazt-owner', () => timed(`${configured.url}/api/ai/chat`, ownerInit)], ['sdk-http', () => timed(baseUrl)], ['sdk', sdkDirect]]) {
    const m = await run();
    if (name !== 'plain' && m.text !== expected) throw new Error(`${name}: got ${JSON.stringify(m.text.slice(0, 80))}`);
    series[name].ttft.push(m.ttft);
    series[name].total.push(m.total);
  }
}
const summary = Object.fromEntries(Object.entries(series).map(([k, v]) => [k, { ttftP50: r2(pct(v.ttft, 0.5)), ttftP90: r2(pct(v.ttft, 0.9)), totalP50: r2(pct(v.total, 0.5)), totalP90: r2(pct(v.total, 0.9)) }]));
const added = { ttftMs: r2(summary.fazt.ttftP50 - summary['sdk-http'].ttftP50), totalMs: r2(summary.fazt.totalP50 - summary['sdk-http'].totalP50) };
const result = {
  runs: RUNS,
  chunks: CHUNKS,
  chunkMs: CHUNK_MS,
  latency: summary,
  addedVsSdkHttp: { ...added, target: '< 5 ms', pass: added.ttftMs < 5 && added.totalMs < 5 },
  addedVsSdkInProcess: { ttftMs: r2(summary.fazt.ttftP50 - summary.sdk.ttftP50), totalMs: r2(summary.fazt.totalP50 - summary.sdk.totalP50) },
  memory: {
    idleRssNoAiMiB: r2(rssBare / 1024),
    idleRssAiConfiguredMiB: r2(rssConfigured / 1024),
    ratioConfiguredToBare: r2(rssConfigured / rssBare),
    afterFirstAiCallMiB: r2(rssAfterCall / 1024),
  },
};
if (JSON_ONLY) console.log(JSON.stringify(result, null, 2));
else {
  log('\nlatency, ms (p50 / p90)            TTFT              total');
  for (const [k, v] of Object.entries(summary)) log(`  ${k.padEnd(10)} ${String(v.ttftP50).padStart(8)} / ${String(v.ttftP90).padEnd(8)} ${String(v.totalP50).padStart(8)} / ${v.totalP90}`);
  log(`  fazt − sdk-http: TTFT ${added.ttftMs} ms, total ${added.totalMs} ms (target < 5 ms: ${result.addedVsSdkHttp.pass ? 'PASS' : 'MISS'})`);
  log(`  fazt − sdk in-process: TTFT ${result.addedVsSdkInProcess.ttftMs} ms, total ${result.addedVsSdkInProcess.totalMs} ms`);
  log(`\nidle RSS: no AI ${result.memory.idleRssNoAiMiB} MiB, AI configured (unused) ${result.memory.idleRssAiConfiguredMiB} MiB (×${result.memory.ratioConfiguredToBare}); after the first AI call ${result.memory.afterFirstAiCallMiB} MiB`);
}
base.close();
await fake.close();
process.exit(0);
