/**
 * The mesh as a person uses it (issue 11): real headless nodes — separate processes, separate
 * cartridges — pair with the `fazt mesh` commands (by code and by words), connect by themselves over a
 * real WebRTC data channel (node-datachannel) through the inviter's own PeerJS signaling server on
 * 127.0.0.1, and exchange authenticated messages (a ping over the link). Bad input gets its clear error.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBundle, removeTempDirs, request, spawnNode, tempDir } from './test-helpers.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'fazt.js');
const run = promisify(execFile);

interface Node {
  proc: ChildProcess;
  url: string;
  db: string;
  token: string;
}

async function startNode(): Promise<Node> {
  const db = join(tempDir('fazt-mesh-cli-'), 'data.db');
  const { proc, url } = await spawnNode(db);
  const token = JSON.parse((await run(process.execPath, [BIN, 'token', 'create', '--db', db, '--scope', 'admin', '--json'])).stdout).token as string;
  return { proc, url, db, token };
}

/** `fazt …args --node URL --token T --json`: the parsed JSON on success, the error text on failure. */
async function fazt(n: Node, ...args: string[]): Promise<{ ok: true; json: any } | { ok: false; stderr: string; code: number }> {
  try {
    const r = await run(process.execPath, [BIN, ...args, '--node', n.url, '--token', n.token, '--json'], { env: { ...process.env, FAZT_NODE: '', FAZT_TOKEN: '' } });
    return { ok: true, json: JSON.parse(r.stdout) };
  } catch (e) {
    const err = e as { stderr?: string; code?: number };
    return { ok: false, stderr: String(err.stderr ?? ''), code: err.code ?? -1 };
  }
}

async function ok(n: Node, ...args: string[]): Promise<any> {
  const r = await fazt(n, ...args);
  if (!r.ok) throw new Error(`fazt ${args.join(' ')} failed: ${r.stderr}`);
  return r.json;
}

const waitFor = async (what: string, cond: () => Promise<boolean>, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

const nodes: Node[] = [];
let pi: Node;
let laptop: Node;

beforeAll(async () => {
  ensureBundle();
  [pi, laptop] = await Promise.all([startNode(), startNode()]);
  nodes.push(pi, laptop);
}, 60_000);

afterAll(async () => {
  for (const n of nodes) {
    if (n.proc.exitCode === null) {
      const done = new Promise((r) => n.proc.once('exit', r));
      n.proc.kill('SIGTERM');
      await done;
    }
  }
  removeTempDirs();
});

describe('fazt mesh between two real nodes', () => {
  it('each node has an id derived from its key, and a name that can change', async () => {
    const id = await ok(pi, 'mesh', 'id');
    expect(id.nodeId).toMatch(/^[a-z2-7]{16}$/);
    expect(id.publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const renamed = await ok(pi, 'mesh', 'name', 'kitchen pi');
    expect(renamed).toMatchObject({ nodeId: id.nodeId, name: 'kitchen pi' });
    expect(await ok(pi, 'mesh', 'id')).toEqual({ ...id, name: 'kitchen pi' });
  });

  it('pair by code: both list each other, connect over WebRTC, and a ping crosses the authenticated link', async () => {
    const t0 = performance.now();
    const inv = await ok(pi, 'mesh', 'invite');
    expect(inv.code).toMatch(/^FZ1[A-Z2-7]+$/);
    expect(inv.words.split(' ')).toHaveLength(12);
    expect(inv.expiresAt).toBeGreaterThan(Date.now());
    const joined = await ok(laptop, 'mesh', 'join', inv.code);
    const piId = (await ok(pi, 'mesh', 'id')).nodeId;
    const laptopId = (await ok(laptop, 'mesh', 'id')).nodeId;
    expect(joined.peer).toEqual({ nodeId: piId, name: 'kitchen pi' });
    await waitFor('the link', async () => {
      const [a, b] = await Promise.all([ok(pi, 'mesh', 'peers'), ok(laptop, 'mesh', 'peers')]);
      return a[0]?.connected === true && b[0]?.connected === true;
    });
    const ping = await request(`${laptop.url}/api/mesh/peers/${piId}/ping`, { method: 'POST', token: laptop.token, json: {} });
    expect(ping.status, ping.text()).toBe(200);
    console.log(`pairing by CLI → link up → first authenticated round trip: ${(performance.now() - t0).toFixed(0)} ms (ping ${ping.json().ms} ms)`);
    const peers = await ok(pi, 'mesh', 'peers');
    expect(peers).toEqual([{ nodeId: laptopId, name: expect.any(String), connected: true, lastSeen: expect.any(Number) }]);
  }, 60_000);

  it('the invitation was single-use; a mistyped word is named; garbage is refused', async () => {
    const inv = await ok(pi, 'mesh', 'invite');
    const third = await startNode();
    nodes.push(third);
    const words = inv.words.split(' ') as string[];
    const typo = [...words];
    typo[2] = typo[2]!.slice(0, -1) + (typo[2]!.endsWith('q') ? 'x' : 'q');
    const bad = await fazt(third, 'mesh', 'join', typo.join(' '));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.stderr).toMatch(/Word 3, “/);
    const garbage = await fazt(third, 'mesh', 'join', 'https://example.com/not-an-invitation');
    expect(garbage.ok).toBe(false);
    if (!garbage.ok) expect(garbage.stderr).toMatch(/neither an invitation code/);
    // by words, the right ones: paired
    const joined = await ok(third, 'mesh', 'join', inv.words);
    expect(joined.peer.name).toBe('kitchen pi');
    // the same invitation again: refused by the inviter
    const again = await fazt(laptop, 'mesh', 'join', inv.code);
    expect(again.ok).toBe(false);
    if (!again.ok) expect(again.stderr).toMatch(/already used|work once/);
  }, 60_000);

  it('unpairing on one side reaches the other', async () => {
    const piId = (await ok(pi, 'mesh', 'id')).nodeId;
    const laptopId = (await ok(laptop, 'mesh', 'id')).nodeId;
    await ok(laptop, 'mesh', 'unpair', piId);
    expect(await ok(laptop, 'mesh', 'peers')).toEqual([]);
    await waitFor('the pi to forget the laptop', async () => !(await ok(pi, 'mesh', 'peers')).some((p: { nodeId: string }) => p.nodeId === laptopId));
    const r = await fazt(laptop, 'mesh', 'unpair', piId);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.stderr).toMatch(/not paired/);
  }, 30_000);
});
