#!/usr/bin/env node
// App-frame response streaming (web/frame/streams.ts, docs/app-frames.md "Streamed answers"): what
// the frame bridge's piece-by-piece bodies cost against reading each answer whole (what the bridge
// did before), in one process: the real FrameBridge + serveBridge on a real MessageChannel, and a
// client that speaks comlink's wire format as the frame runtime does (fetch, then read until done).
//
//   node bench/frame-stream.mjs [--runs 200] [--tokens 20] [--token-ms 10] [--big-mib 16] [--json]
//
// Measured, new bridge vs the whole-answer baseline (a FrameBridge whose fetch reads the body whole
// and answers once, as before):
//   json      a 1 KiB JSON answer (Response.json): fetch → body in hand, p50/p99 µs, ratio
//   tokens    a text/event-stream of N tokens, one every M ms: time to first token and to the end
//             at the client (ms); the baseline's first token comes with the last
//   per-token time from the upstream enqueueing a token to the client holding it (µs, p50/p99)
//   big       a 16 MiB body that is all there: MB/s through the bridge (64 KiB pieces vs one transfer)
// Node's MessageChannel is not Chromium's, so read the ratios, not the absolute figures.
import { register } from 'tsx/esm/api';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const JSON_ONLY = args.includes('--json');
const RUNS = opt('runs', 200);
const TOKENS = opt('tokens', 20);
const TOKEN_MS = opt('token-ms', 10);
const BIG_MIB = opt('big-mib', 16);
const log = (...a) => (JSON_ONLY ? console.error(...a) : console.log(...a));
const sorted = (xs) => [...xs].sort((a, b) => a - b);
const pct = (xs, p) => sorted(xs)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const r2 = (x) => Math.round(x * 100) / 100;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

register();
const { FrameBridge, serveBridge } = await import('../web/frame/bridge.ts');
const Comlink = await import('comlink');

/** The bridge as it was: every answer read whole and sent in the fetch answer. */
class WholeBridge extends FrameBridge {
  async fetch(request) {
    const res = await this.source.fetchApi(new Request(request.url, { method: request.method }));
    const body = await res.arrayBuffer();
    return Comlink.transfer({ status: res.status, statusText: res.statusText, headers: [...res.headers], body, url: request.url }, [body]);
  }
}

/** A bridge of class K on a MessageChannel, answering API calls with `api()`; and a wire client. */
function setup(K, api) {
  const source = { app: { name: 'bench' }, getFile: async () => new Response(''), fetchApi: async () => api() };
  const bridge = new K(source, 'https://bench.fazt.invalid', () => {});
  const { port1, port2 } = new MessageChannel();
  const close = serveBridge(bridge, port1);
  let n = 0;
  const waiting = new Map();
  port2.onmessage = (e) => {
    const w = waiting.get(e.data.id);
    waiting.delete(e.data.id);
    w?.(e.data);
  };
  const call = (method, ...a) =>
    new Promise((resolve, reject) => {
      const id = `b${++n}`;
      waiting.set(id, (m) => (m.type === 'RAW' ? resolve(m.value) : reject(new Error(m.value?.value?.message))));
      port2.postMessage({ id, type: 'APPLY', path: [method], argumentList: a.map((value) => ({ type: 'RAW', value })) });
    });
  /** fetch as the runtime does it; `onChunk(bytes)` for each piece; resolves at the end. */
  const fetchAll = async (onChunk) => {
    const r = await call('fetch', { url: 'https://bench.fazt.invalid/api/x', method: 'GET', headers: [], body: null });
    if (r.body && r.body.byteLength) onChunk(r.body);
    if (r.stream) {
      for (;;) {
        const x = await call('read', r.stream);
        if (x.chunk) onChunk(x.chunk);
        if (x.done) break;
      }
    }
  };
  return {
    fetchAll,
    close: () => {
      bridge.close();
      close();
      port2.close();
    },
  };
}

const out = {};

// ---------------------------------------------------------------- json
{
  const payload = { items: Array.from({ length: 16 }, (_, i) => ({ id: i, text: 'x'.repeat(40) })) };
  const res = {};
  for (const [name, K] of [['whole', WholeBridge], ['stream', FrameBridge]]) {
    const b = setup(K, () => Response.json(payload));
    for (let i = 0; i < 50; i++) await b.fetchAll(() => {});
    const t = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      await b.fetchAll(() => {});
      t.push((performance.now() - t0) * 1000);
    }
    b.close();
    res[name] = { p50: r2(pct(t, 0.5)), p99: r2(pct(t, 0.99)) };
  }
  out.json = { bytes: JSON.stringify(payload).length, ...res, ratioP50: r2(res.stream.p50 / res.whole.p50) };
  log(`json ${out.json.bytes} B, fetch → body (µs): whole p50 ${res.whole.p50} p99 ${res.whole.p99} | stream p50 ${res.stream.p50} p99 ${res.stream.p99} | ratio p50 ${out.json.ratioP50}×`);
}

// ---------------------------------------------------------------- tokens
{
  const enc = new TextEncoder();
  const res = {};
  const lag = [];
  for (const [name, K] of [['whole', WholeBridge], ['stream', FrameBridge]]) {
    const sentAt = [];
    const b = setup(K, () =>
      new Response(
        new ReadableStream({
          async start(c) {
            for (let i = 0; i < TOKENS; i++) {
              await sleep(TOKEN_MS);
              sentAt.push(performance.now());
              c.enqueue(enc.encode(`data: {"type":"text-delta","delta":"t${i} "}\n\n`));
            }
            c.close();
          },
        }),
        { headers: { 'content-type': 'text/event-stream' } },
      ),
    );
    const first = [];
    const total = [];
    for (let run = 0; run < 5; run++) {
      sentAt.length = 0;
      const t0 = performance.now();
      let firstAt = 0;
      let seen = 0;
      await b.fetchAll((buf) => {
        const now = performance.now();
        if (!firstAt) firstAt = now;
        const n = new TextDecoder().decode(buf).split('\n\n').filter(Boolean).length;
        if (name === 'stream') for (let k = 0; k < n; k++) lag.push((now - sentAt[seen + k]) * 1000);
        seen += n;
      });
      first.push(firstAt - t0);
      total.push(performance.now() - t0);
    }
    b.close();
    res[name] = { firstMs: r2(pct(first, 0.5)), totalMs: r2(pct(total, 0.5)) };
  }
  out.tokens = { tokens: TOKENS, tokenMs: TOKEN_MS, ...res, perTokenUs: { p50: r2(pct(lag, 0.5)), p99: r2(pct(lag, 0.99)) } };
  log(
    `tokens ${TOKENS} × ${TOKEN_MS} ms: first token whole ${res.whole.firstMs} ms vs stream ${res.stream.firstMs} ms; end whole ${res.whole.totalMs} ms vs stream ${res.stream.totalMs} ms; ` +
      `upstream → client per token p50 ${out.tokens.perTokenUs.p50} µs p99 ${out.tokens.perTokenUs.p99} µs`,
  );
}

// ---------------------------------------------------------------- big
{
  const big = new Uint8Array(BIG_MIB * 1024 * 1024).fill(7);
  const res = {};
  for (const [name, K] of [['whole', WholeBridge], ['stream', FrameBridge]]) {
    const b = setup(K, () => new Response(big));
    const mbs = [];
    for (let run = 0; run < 5; run++) {
      let got = 0;
      const t0 = performance.now();
      await b.fetchAll((buf) => (got += buf.byteLength));
      if (got !== big.byteLength) throw new Error(`${name}: got ${got} bytes`);
      mbs.push(big.byteLength / 1e6 / ((performance.now() - t0) / 1000));
    }
    b.close();
    res[name] = { mbPerS: r2(pct(mbs, 0.5)) };
  }
  out.big = { mib: BIG_MIB, ...res, ratio: r2(res.stream.mbPerS / res.whole.mbPerS) };
  log(`big ${BIG_MIB} MiB: whole ${res.whole.mbPerS} MB/s vs stream (64 KiB pieces) ${res.stream.mbPerS} MB/s, ratio ${out.big.ratio}×`);
}

if (JSON_ONLY) console.log(JSON.stringify(out, null, 2));
process.exit(0);
