#!/usr/bin/env node
// AI relay benchmark (docs/ai.md "Relay through a paired node"): what relaying a model call through a
// paired node adds. Two real kernels in this process (better-sqlite3 cartridges), paired with the real
// protocol and joined by the real authenticated link (ChaCha20-Poly1305 frames) over an in-memory pipe
// that delivers on the next macrotask; the hub's provider is the fake OpenAI-compatible server
// (node/testing/fake-llm.ts: real chat-completions SSE on 127.0.0.1).
//
//   node bench/ai-relay.mjs [--runs 40] [--chunks 20] [--chunk-ms 2] [--json]
//
// Per run, alternating, the same owner call `ai.streamText({ prompt })` measured to the first text
// part and to the end of the stream:
//   direct   on the hub itself (its provider; the baseline)
//   relayed  on the phone (no provider): through the link to the hub and back
// and `ai.generateText` (whole answer) the same two ways. Reported: medians and p90 and relayed −
// direct (what the relay adds: the link's encryption, JSON of each part, the pipe's hops).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { rawText } from '../scripts/sandbox-worker-build.mjs';

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

// the kernel imports `?raw` text (the sandbox prelude): bundle it with the build's own plugin
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'fazt-bench-relay-'));
await build({
  stdin: {
    contents: ['node/testing/fake-llm.ts', 'node/sqlite.ts', 'shared/cartridge/index.ts', 'shared/kernel.ts'].map((f) => `export * from ${JSON.stringify(join(root, f))};`).join('\n'),
    resolveDir: root,
    loader: 'ts',
  },
  outfile: join(root, 'bench', '.tmp', 'ai-relay-kernel.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
  plugins: [rawText],
});
// in bench/.tmp (ignored by git), so its npm imports resolve from the repo
const { startFakeLlm, BetterSqliteDatabase, openCartridge, createKernel } = await import(pathToFileURL(join(root, 'bench', '.tmp', 'ai-relay-kernel.mjs')).href);

const fake = await startFakeLlm({ key: 'sk-bench' });
const text = Array.from({ length: CHUNKS }, (_, i) => `w${i} `).join('');
fake.reply = () => ({ text, delayMs: CHUNK_MS });
const kernel = (name) => createKernel({ cartridge: openCartridge(BetterSqliteDatabase.open(join(dir, `${name}.db`))), nodeName: name });
const hub = kernel('hub');
const phone = kernel('phone');
hub.ai.providers.set({ name: 'local', kind: 'openai-compatible', baseUrl: fake.baseUrl('openai-compatible'), key: 'sk-bench', defaultModel: 'fake-gpt' }, true);
const j = phone.mesh.pairing.join(hub.mesh.pairing.createInvitation().invitation);
j.complete(hub.mesh.pairing.accept(j.request).response);
let ra, rb;
rb = hub.mesh.attach({ send: (m) => setImmediate(() => ra.receive(m)), close: () => {} });
ra = phone.mesh.attach({ send: (m) => setImmediate(() => rb.receive(m)), close: () => {} }, hub.mesh.id().nodeId);
if (!(await ra.handshake)) throw new Error('no link');

const owner = { appId: '', appName: 'owner' };
async function stream(k) {
  const t0 = performance.now();
  const s = k.ai.streamText(owner, { prompt: 'count' });
  let cursor = 0;
  let first = 0;
  for (;;) {
    const r = await s.next(cursor);
    cursor = r.cursor;
    if (!first && r.parts.some((p) => p.type === 'text')) first = performance.now() - t0;
    if (r.done) break;
  }
  if (s.error) throw s.error;
  return { ttft: first, total: performance.now() - t0 };
}
async function generate(k) {
  const t0 = performance.now();
  const r = await k.ai.generateText(owner, { prompt: 'count' });
  if (r.text !== text) throw new Error(`unexpected answer ${r.text}`);
  return performance.now() - t0;
}

// warm-up: the SDK loads, the provider connection opens
for (let i = 0; i < 3; i++) {
  await stream(hub);
  await stream(phone);
  await generate(hub);
  await generate(phone);
}
const m = { direct: { ttft: [], total: [], gen: [] }, relayed: { ttft: [], total: [], gen: [] } };
for (let i = 0; i < RUNS; i++) {
  for (const [name, k] of i % 2 ? [['direct', hub], ['relayed', phone]] : [['relayed', phone], ['direct', hub]]) {
    const s = await stream(k);
    m[name].ttft.push(s.ttft);
    m[name].total.push(s.total);
    m[name].gen.push(await generate(k));
  }
}
const row = (xs) => ({ p50: +pct(xs, 0.5).toFixed(2), p90: +pct(xs, 0.9).toFixed(2) });
const result = { runs: RUNS, chunks: CHUNKS, chunkMs: CHUNK_MS, direct: {}, relayed: {}, added: {} };
for (const key of ['ttft', 'total', 'gen']) {
  result.direct[key] = row(m.direct[key]);
  result.relayed[key] = row(m.relayed[key]);
  result.added[key] = { p50: +(result.relayed[key].p50 - result.direct[key].p50).toFixed(2), ratio: +(result.relayed[key].p50 / result.direct[key].p50).toFixed(3) };
}
if (JSON_ONLY) console.log(JSON.stringify(result));
else {
  log(`AI relay, ${RUNS} runs, ${CHUNKS} chunks ${CHUNK_MS} ms apart (ms; p50 / p90)`);
  for (const [key, what] of [['ttft', 'streamText to first token'], ['total', 'streamText to the end'], ['gen', 'generateText']]) {
    log(`  ${what.padEnd(26)} direct ${result.direct[key].p50} / ${result.direct[key].p90}   relayed ${result.relayed[key].p50} / ${result.relayed[key].p90}   added p50 ${result.added[key].p50} ms (×${result.added[key].ratio})`);
  }
}
ra.closed();
await fake.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
