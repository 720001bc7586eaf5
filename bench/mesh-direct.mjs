#!/usr/bin/env node
// Direct pairing benchmark (issue 11 item 4; docs/mesh.md "Pairing with no reachable server"): two
// real headless nodes (separate processes and cartridges) on 127.0.0.1 pair with no server between
// them — the invitation names no address; only the offer code and the answer code pass — and the
// same two kinds of node pair over HTTP + signaling in the same run, as the baseline.
//
//   direct: POST /api/mesh/invitations {direct, addresses: []} (offer gathered) → POST /api/mesh/join
//           on the joiner (answer gathered, certificate made) → POST /api/mesh/invitations/answer on
//           the inviter (data channel, pairing on it, link) → first ping over the link
//   http:   POST /api/mesh/invitations → POST /api/mesh/join → first ping (bench/mesh.mjs's round 1)
//
// The time the owner takes to carry the codes is not in it. Usage: `node bench/mesh-direct.mjs
// [--rounds 3] [--json]` (builds first when dist/ is missing).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { nodeProcesses } from './lib/nodes.mjs';

const i = process.argv.indexOf('--rounds');
const ROUNDS = i > 0 ? Number(process.argv[i + 1]) : 3;
const JSON_ONLY = process.argv.includes('--json');
const log = (...a) => !JSON_ONLY && console.log(...a);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const { tmp, procs, start: startNode } = nodeProcesses('fazt-bench-direct-');
const start = (db) => startNode(db, { token: true });

async function api(n, method, path, body) {
  const r = await fetch(n.url + path, { method, headers: { authorization: `Bearer ${n.token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const j = await r.json();
  if (!r.ok) throw Object.assign(new Error(j.error?.message ?? r.status), { code: j.error?.code });
  return j;
}

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

const result = { rounds: ROUNDS, direct: { inviteMs: [], joinMs: [], acceptMs: [], totalMs: [] }, httpMs: [] };
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const [a, b, c] = await Promise.all([start(join(tmp, `a${round}.db`)), start(join(tmp, `b${round}.db`)), start(join(tmp, `c${round}.db`))]);
    const aId = (await api(a, 'GET', '/api/mesh')).nodeId;
    // direct: a invites b
    const t0 = performance.now();
    const inv = await api(a, 'POST', '/api/mesh/invitations', { direct: true, addresses: [] });
    const t1 = performance.now();
    const joined = await api(b, 'POST', '/api/mesh/join', { invitation: inv.code });
    const t2 = performance.now();
    await api(a, 'POST', '/api/mesh/invitations/answer', { answer: joined.answer });
    const t3 = performance.now();
    const total = await firstPing(b, aId, t0);
    result.direct.inviteMs.push(t1 - t0);
    result.direct.joinMs.push(t2 - t1);
    result.direct.acceptMs.push(t3 - t2);
    result.direct.totalMs.push(total);
    // baseline: a invites c over HTTP and signaling
    const inv2 = await api(a, 'POST', '/api/mesh/invitations', {});
    const t4 = performance.now();
    await api(c, 'POST', '/api/mesh/join', { invitation: inv2.code });
    const http = await firstPing(c, aId, t4);
    result.httpMs.push(http);
    log(`round ${round}: direct ${total.toFixed(0)} ms (invite ${(t1 - t0).toFixed(0)}, join ${(t2 - t1).toFixed(0)}, accept ${(t3 - t2).toFixed(0)}); over HTTP ${http.toFixed(0)} ms`);
    for (const n of [a, b, c]) {
      const done = new Promise((r) => n.proc.once('exit', r));
      n.proc.kill('SIGTERM');
      await done;
      procs.delete(n.proc);
    }
  }
} finally {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}

const d = median(result.direct.totalMs);
const h = median(result.httpMs);
log('');
log(`direct pairing → first authenticated round trip   median ${d.toFixed(0)} ms over ${ROUNDS} (invite ${median(result.direct.inviteMs).toFixed(0)}, join ${median(result.direct.joinMs).toFixed(0)}, accept ${median(result.direct.acceptMs).toFixed(0)}); target < 1000 ms ${d < 1000 ? 'PASS' : 'FAIL'}`);
log(`pairing over HTTP + signaling (baseline)           median ${h.toFixed(0)} ms; direct / HTTP = ${(d / h).toFixed(2)}`);
if (JSON_ONLY) console.log(JSON.stringify(result));
