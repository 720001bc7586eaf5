/**
 * A signaling server that goes down (issue 11, "bad input": "a signaling server that is down"): a
 * node that paired over HTTP keeps a PeerJS client on the inviter's signaling server; when the
 * inviting node stops, that client's WebSocket gets ECONNRESET. Before the fix in node/mesh-host.ts
 * (`QuietWebSocket`) that error had no listener and killed the joining node; now the joiner stays up,
 * answers requests and shows the peer as not connected.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { ensureBundle, removeTempDirs, request, spawnNode, tempDir } from './test-helpers.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'fazt.js');
const run = promisify(execFile);
const procs: ChildProcess[] = [];

afterAll(async () => {
  for (const p of procs) {
    if (p.exitCode === null && p.signalCode === null) {
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await done;
    }
  }
  removeTempDirs();
});

async function node() {
  const db = join(tempDir('fazt-sigdown-'), 'data.db');
  const { proc, url } = await spawnNode(db);
  procs.push(proc);
  const token = JSON.parse((await run(process.execPath, [BIN, 'token', 'create', '--db', db, '--scope', 'admin', '--json'])).stdout).token as string;
  return { proc, url, token };
}

it('the joining node survives the inviting node (and its signaling server) stopping', async () => {
  ensureBundle();
  const [pi, laptop] = await Promise.all([node(), node()]);
  const inv = (await request(`${pi.url}/api/mesh/invitations`, { method: 'POST', token: pi.token, json: {} })).json();
  const joined = await request(`${laptop.url}/api/mesh/join`, { method: 'POST', token: laptop.token, json: { invitation: inv.code } });
  expect(joined.status, joined.text()).toBe(201);
  const piId = joined.json().peer.nodeId as string;
  const peers = async () => (await request(`${laptop.url}/api/mesh/peers`, { token: laptop.token })).json().peers as { connected: boolean }[];
  for (let end = Date.now() + 20_000; !(await peers())[0]?.connected; ) {
    if (Date.now() > end) throw new Error('no link');
    await new Promise((r) => setTimeout(r, 100));
  }
  expect((await request(`${laptop.url}/api/mesh/peers/${piId}/ping`, { method: 'POST', token: laptop.token, json: {} })).status).toBe(200);
  const exited = new Promise((r) => pi.proc.once('exit', r));
  pi.proc.kill('SIGTERM');
  await exited;
  await new Promise((r) => setTimeout(r, 2_000));
  expect(laptop.proc.exitCode).toBeNull();
  expect((await request(`${laptop.url}/api/health`)).status).toBe(200);
  expect((await peers())[0]).toMatchObject({ connected: false });
}, 60_000);
