#!/usr/bin/env node
// Mesh benchmark (issue 11): two real headless nodes (separate processes and cartridges) on 127.0.0.1.
//
//   1. pairing → first authenticated round trip: from `POST /api/mesh/join` on the joiner to the first
//      ping that crosses the WebRTC link (target < 1 s)
//   2. round trip over the link: `POST /api/mesh/peers/:id/ping` N times; reported as the link's own
//      time (measured in the node) and as seen by the HTTP client
//   3. reconnect after a restart of the joiner: SIGTERM, start again on the same cartridge, time to
//      the first ping that crosses the link again
//
// Usage: `node bench/mesh.mjs [--pings 300] [--rounds 3] [--json]` (builds first when dist/ is missing).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { adminToken, nodeProcesses } from './lib/nodes.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const PINGS = arg('pings', 300);
const ROUNDS = arg('rounds', 3);
const JSON_ONLY = process.argv.includes('--json');
const log = (...a) => !JSON_ONLY && console.log(...a);
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const median = (xs) => pct(xs, 50);

const { tmp, procs, start: startNode, stop } = nodeProcesses('fazt-bench-mesh-');
const start = startNode;

const token = adminToken;

async function api(n, method, path, body) {
  const r = await fetch(n.url + path, { method, headers: { authorization: `Bearer ${n.token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const j = await r.json();
  if (!r.ok) throw Object.assign(new Error(j.error?.message ?? r.status), { code: j.error?.code });
  return j;
}

/** Pings until one crosses the link; returns ms since `t0`. */
async function firstPing(n, id, t0, timeoutMs = 30_000) {
  for (;;) {
    try {
      await api(n, 'POST', `/api/mesh/peers/${id}/ping`, {});
      return performance.now() - t0;
    } catch (e) {
      if (performance.now() - t0 > timeoutMs) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

const result = { pings: PINGS, rounds: ROUNDS, pairToFirstMessageMs: [], linkRttMs: null, httpRttMs: null, reconnectMs: [] };
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const a = await start(join(tmp, `a${round}.db`));
    const b = await start(join(tmp, `b${round}.db`));
    a.token = token(a.db);
    b.token = token(b.db);
    const aId = (await api(a, 'GET', '/api/mesh')).nodeId;
    const inv = await api(a, 'POST', '/api/mesh/invitations', {});
    const t0 = performance.now();
    await api(b, 'POST', '/api/mesh/join', { invitation: inv.code });
    const ms = await firstPing(b, aId, t0);
    result.pairToFirstMessageMs.push(ms);
    log(`round ${round}: pairing → first authenticated round trip ${ms.toFixed(0)} ms`);
    if (round === 1) {
      const link = [];
      const http = [];
      for (let i = 0; i < PINGS; i++) {
        const s = performance.now();
        const r = await api(b, 'POST', `/api/mesh/peers/${aId}/ping`, {});
        http.push(performance.now() - s);
        link.push(r.ms);
      }
      result.linkRttMs = { p50: median(link), p99: pct(link, 99) };
      result.httpRttMs = { p50: median(http), p99: pct(http, 99) };
    }
    await stop(b);
    const again = await start(b.db);
    again.token = b.token;
    const t1 = performance.now();
    const rc = await firstPing(again, aId, t1);
    result.reconnectMs.push(rc + 0);
    log(`round ${round}: reconnect after the joiner restarted ${rc.toFixed(0)} ms (from listening)`);
    await stop(again);
    await stop(a);
  }
} finally {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}

const fmt = (x) => `${x.toFixed(2)} ms`;
log('');
log(`pairing → first authenticated round trip   median ${median(result.pairToFirstMessageMs).toFixed(0)} ms over ${ROUNDS} (target < 1000 ms) ${median(result.pairToFirstMessageMs) < 1000 ? 'PASS' : 'FAIL'}`);
log(`round trip over the link (${PINGS} pings)    p50 ${fmt(result.linkRttMs.p50)}, p99 ${fmt(result.linkRttMs.p99)} (inside the node); HTTP client p50 ${fmt(result.httpRttMs.p50)}, p99 ${fmt(result.httpRttMs.p99)}`);
log(`reconnect after a restart of the joiner    median ${median(result.reconnectMs).toFixed(0)} ms over ${ROUNDS}`);
if (JSON_ONLY) console.log(JSON.stringify(result));
