/**
 * Safeguards (issue 14 §4, docs/safeguards.md) against a real node: a real cartridge file, the
 * node's own DiskSpacePort (`fs.statfs` with a small fake quota from FAZT_DISK_QUOTA_BYTES), apps
 * running in the real sandbox, and a real HTTP server on 127.0.0.1 for `fazt.net.fetch`.
 */
import { statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DiskGuardStatus } from '../shared/guards/index.js';
import { createToken, deployZip, expectError, internalErrors, removeTempDirs, request, startTestNode, zip, type TestNode } from './test-helpers.js';

const APP_CODE = `
export default {
  async fetch(req) {
    const u = new URL(req.url);
    const key = u.searchParams.get('key') ?? 'k';
    if (u.pathname.endsWith('/api/kv')) {
      if (req.method === 'PUT') { await fazt.kv.set(key, await req.text()); return Response.json({ ok: true }); }
      if (req.method === 'DELETE') return Response.json({ deleted: await fazt.kv.delete(key) });
      return Response.json({ value: (await fazt.kv.get(key)) ?? null });
    }
    if (u.pathname.endsWith('/api/fetch')) {
      const init = req.method === 'POST' ? { method: 'POST', body: await req.text() } : {};
      const r = await fazt.net.fetch(u.searchParams.get('url'), init);
      const b = await r.arrayBuffer();
      return Response.json({ status: r.status, bytes: b.byteLength });
    }
    return new Response('no such route', { status: 404 });
  },
};
`;

let t: TestNode;
let admin: string;
const savedQuota = process.env.FAZT_DISK_QUOTA_BYTES;

beforeAll(async () => {
  delete process.env.FAZT_DISK_QUOTA_BYTES;
  t = await startTestNode();
  admin = createToken(t, 'admin').token;
  const files = { 'app.json': JSON.stringify({ name: 'store', permissions: ['net:127.0.0.1'] }), 'api/main.js': APP_CODE };
  const r = await request(`${t.url}/api/apps?grant=all`, { method: 'POST', token: admin, headers: { 'content-type': 'application/zip' }, body: zip(files) });
  expect(r.status, r.text()).toBe(201);
});

afterAll(async () => {
  if (savedQuota === undefined) delete process.env.FAZT_DISK_QUOTA_BYTES;
  else process.env.FAZT_DISK_QUOTA_BYTES = savedQuota;
  await t?.stop();
  removeTempDirs();
});

const app = (path: string, init: { method?: string; body?: string } = {}) => request(`${t.url}/a/store${path}`, init);
const adminApi = (method: string, path: string, json?: unknown) => request(`${t.url}${path}`, { method, token: admin, ...(json === undefined ? {} : { json }) });

/** Bytes of the cartridge file and its WAL/SHM, as the node's DiskSpacePort counts them under a fake quota. */
function cartridgeBytes(): number {
  let n = 0;
  for (const p of [t.db, `${t.db}-wal`, `${t.db}-shm`]) {
    try {
      n += statSync(p).size;
    } catch {
      /* absent */
    }
  }
  return n;
}

describe('the disk guard with a small fake disk (FAZT_DISK_QUOTA_BYTES)', () => {
  it('trips above the limit: growing writes (kv, deploy) get 507 DISK_FULL, reads and deletes work, onTrip fires once; deleting data or a larger disk clears it', async () => {
    const guard = t.node.kernel.diskGuard;
    const trips: DiskGuardStatus[] = [];
    const off = guard.onTrip((s) => trips.push(s));
    try {
      // the "disk" holds only the cartridge (its write-ahead log folded in first) and 3 MiB more:
      // well under the 80 % limit
      t.node.kernel.cartridge.db.get('PRAGMA wal_checkpoint(TRUNCATE)');
      process.env.FAZT_DISK_QUOTA_BYTES = String(cartridgeBytes() + 3 * 1024 * 1024);
      let s = await guard.refresh();
      expect(s).toMatchObject({ known: true, tripped: false, limitFraction: 0.8 });
      expect(s.usedFraction).toBeGreaterThan(0);
      expect(s.usedFraction).toBeLessThan(0.5);
      expect((await app('/api/kv?key=a', { method: 'PUT', body: '"first"' })).status).toBe(200);

      // the apps' data grows the cartridge past 80 % of the fake disk
      const big = JSON.stringify('x'.repeat(300_000));
      let fills = 0;
      for (; cartridgeBytes() < Number(process.env.FAZT_DISK_QUOTA_BYTES) * 0.92; fills++) {
        const r = await app(`/api/kv?key=fill${fills}`, { method: 'PUT', body: big });
        if (r.status === 507) break; // a lazy refresh of the guard may already have noticed
        expect(r.status, r.text()).toBe(200);
      }
      s = await guard.refresh();
      expect(s.tripped).toBe(true);
      expect(s.usedFraction).toBeGreaterThanOrEqual(0.8);
      expect(trips).toHaveLength(1);
      expect(trips[0]!.tripped).toBe(true);

      // a kv write through the app: 507 with a message that says what to do
      const e = expectError(await app('/api/kv?key=b', { method: 'PUT', body: '"more"' }), 507, 'DISK_FULL', /above the limit of 80%.*writing kv key "b".*Reading and deleting still work.*fazt disk limit/);
      expect(e).toMatchObject({ limitFraction: 0.8 });
      // a deploy: 507, nothing deployed
      const before = t.node.kernel.apps.list().length;
      expectError(await deployZip(t, admin, zip({ 'app.json': JSON.stringify({ name: 'late' }), 'index.html': 'hi' })), 507, 'DISK_FULL', /this deploy was not done/);
      expect(t.node.kernel.apps.list()).toHaveLength(before);
      // reads work
      const read = await app('/api/kv?key=a');
      expect(read.status).toBe(200);
      expect(read.json().value).toBe('"first"'); // the app stored the body text as the value
      expect((await request(`${t.url}/a/store/`)).status).toBeLessThan(500);
      // deletes work
      const del = await app('/api/kv?key=a', { method: 'DELETE' });
      expect(del.status, del.text()).toBe(200);
      expect(del.json().deleted).toBe(true);
      // the admin API tells
      const st = await adminApi('GET', '/api/disk');
      expect(st.json().disk).toMatchObject({ tripped: true, limitFraction: 0.8, known: true });
      // still tripped (the check folded the log into the file: the data is still there): no second notification
      expect((await guard.refresh()).tripped).toBe(true);
      expect(trips).toHaveLength(1);

      // the owner deletes the data: the next check gives the freed pages back to the disk and un-trips
      const full = cartridgeBytes();
      for (let i = 0; i < fills; i++) expect((await app(`/api/kv?key=fill${i}`, { method: 'DELETE' })).status).toBe(200);
      s = await guard.refresh();
      expect(cartridgeBytes()).toBeLessThan(full * 0.8);
      expect(s.tripped).toBe(false);
      expect((await app('/api/kv?key=b', { method: 'PUT', body: '"more"' })).status).toBe(200);
      expect(trips).toHaveLength(1);
      // space comes back another way (the disk is larger now)
      process.env.FAZT_DISK_QUOTA_BYTES = String(Math.ceil(cartridgeBytes() / 0.85));
      expect((await guard.refresh()).tripped).toBe(true);
      expect(trips).toHaveLength(2);
      process.env.FAZT_DISK_QUOTA_BYTES = String(cartridgeBytes() * 4);
      s = await guard.refresh();
      expect(s.tripped).toBe(false);
      expect((await app('/api/kv?key=b', { method: 'PUT', body: '"more"' })).status).toBe(200);
      // raising the limit also un-trips; a new crossing notifies again
      process.env.FAZT_DISK_QUOTA_BYTES = String(Math.ceil(cartridgeBytes() / 0.9));
      expect((await guard.refresh()).tripped).toBe(true);
      expect(trips).toHaveLength(3);
      const raised = await adminApi('PUT', '/api/disk', { limit: '95%' });
      expect(raised.status, raised.text()).toBe(200);
      expect(raised.json().disk).toMatchObject({ limitFraction: 0.95, tripped: false });
      expect((await app('/api/kv?key=c', { method: 'PUT', body: '"ok"' })).status).toBe(200);
      expectError(await adminApi('PUT', '/api/disk', { limit: '300%' }), 400, 'INVALID_ARGUMENT', /between 5% and 100%/);
      expectError(await adminApi('PUT', '/api/disk', {}), 400, 'BAD_REQUEST');
      expect((await adminApi('PUT', '/api/disk', { limit: 0.8 })).json().disk.limitFraction).toBe(0.8);
      expect(internalErrors(t)).toEqual([]);
    } finally {
      off();
      process.env.FAZT_DISK_QUOTA_BYTES = String(1e15); // far away: the other tests write freely
      delete process.env.FAZT_DISK_QUOTA_BYTES;
      await guard.refresh();
    }
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------
// Egress

interface Upstream {
  port: number;
  requests: number;
  /** Bytes of request bodies received. */
  received: number;
  /** Bytes of response bodies written before the client went away or the answer ended. */
  written: number;
  /** Answers the client stopped reading (connection closed before the end). */
  cutOff: number;
  close(): Promise<void>;
}

/**
 * A real HTTP server: `GET /data?n=N` answers N bytes (with Content-Length), `GET /stream?n=N`
 * answers N bytes chunked (no length) in 16 KiB pieces, 2 ms apart; `POST /echo` reads the body
 * and answers `ok`.
 */
async function upstream(): Promise<Upstream> {
  const state = { requests: 0, received: 0, written: 0, cutOff: 0 };
  const server: Server = createServer((req, res) => {
    state.requests++;
    const u = new URL(req.url!, 'http://x');
    const n = Number(u.searchParams.get('n') ?? 0);
    if (u.pathname === '/echo') {
      req.on('data', (d: Buffer) => (state.received += d.length));
      req.on('end', () => res.end('ok'));
      return;
    }
    if (u.pathname === '/data') {
      state.written += n;
      res.writeHead(200, { 'content-length': String(n) }).end(Buffer.alloc(n, 97));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    let left = n;
    const piece = Buffer.alloc(16 * 1024, 98);
    const tick = () => {
      if (res.destroyed || res.writableEnded) return;
      if (left <= 0) return void res.end();
      const b = piece.subarray(0, Math.min(piece.length, left));
      left -= b.length;
      state.written += b.length;
      res.write(b);
      setTimeout(tick, 2);
    };
    res.on('close', () => {
      if (left > 0) state.cutOff++;
    });
    tick();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(state, {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}

describe('the egress quota of fazt.net.fetch', () => {
  let up: Upstream;
  beforeAll(async () => {
    up = await upstream();
  });
  afterAll(() => up?.close());

  const fetchVia = (path: string, body?: string) =>
    app(`/api/fetch?url=${encodeURIComponent(`http://127.0.0.1:${up.port}${path}`)}`, body === undefined ? {} : { method: 'POST', body });

  it('counts request and response bodies, refuses once spent (before sending), and stops reading a response that passes it', async () => {
    // no quota yet: fetches go through and are counted
    let r = await fetchVia('/data?n=4000');
    expect(r.status, r.text()).toBe(200);
    expect(r.json()).toEqual({ status: 200, bytes: 4000 });
    let v = (await adminApi('GET', '/api/apps/store/egress')).json();
    expect(v).toMatchObject({ app: 'store', quotaBytes: null, usedBytes: 4000, usage: { requestBytes: 0, responseBytes: 4000, requests: 1, refused: 0 } });

    // 100 KiB a month
    const set = await adminApi('PUT', '/api/apps/store/egress', { bytesPerMonth: 100 * 1024 });
    expect(set.status, set.text()).toBe(200);
    expect(set.json()).toMatchObject({ quotaBytes: 102400, usedBytes: 4000 });

    // a request body counts
    r = await fetchVia('/echo', 'y'.repeat(3000));
    expect(r.status, r.text()).toBe(200);
    expect(up.received).toBe(3000);
    v = (await adminApi('GET', '/api/apps/store/egress')).json();
    expect(v.usage).toMatchObject({ requestBytes: 3000, responseBytes: 4002, requests: 2 });

    // a long chunked answer (1 MiB) passes the quota mid-response: refused, and the read stops there
    const writtenBefore = up.written;
    const cut = expectError(await fetchVia('/stream?n=1048576'), 429, 'EGRESS_QUOTA_EXCEEDED', /"store" passed its quota while receiving a response from http:\/\/127\.0\.0\.1:\d+.*of its 100 KiB egress quota this month.*resets on \d{4}-\d{2}-01 \(UTC\).*fazt app quota store --egress/);
    expect(cut).toMatchObject({ quotaBytes: 102400, resetsAt: expect.stringMatching(/^\d{4}-\d{2}-01T00:00:00\.000Z$/) });
    await vi.waitFor(() => expect(up.cutOff).toBe(1));
    expect(up.written - writtenBefore).toBeLessThan(512 * 1024); // not the whole MiB
    v = (await adminApi('GET', '/api/apps/store/egress')).json();
    expect(v.usedBytes).toBeGreaterThan(102400); // what was received counts …
    expect(v.usedBytes).toBeLessThan(102400 + 64 * 1024); // … up to the chunk that passed it

    // spent: refused before anything is sent
    const requestsBefore = up.requests;
    const spent = await fetchVia('/data?n=10');
    expectError(spent, 429, 'EGRESS_QUOTA_EXCEEDED', /used its quota/);
    expect(Number(spent.headers['retry-after'])).toBeGreaterThan(0); // seconds until the month ends
    expect(up.requests).toBe(requestsBefore);
    v = (await adminApi('GET', '/api/apps/store/egress')).json();
    expect(v.usage.refused).toBe(2);
    const list = (await adminApi('GET', '/api/egress')).json();
    expect(list.usage).toEqual([expect.objectContaining({ app: 'store', quotaBytes: 102400 })]);
    expect(list.quotas).toEqual([{ appId: expect.any(String), app: 'store', bytesPerMonth: 102400 }]);

    // a response declared larger than what is left is refused before it is read
    await adminApi('PUT', '/api/apps/store/egress', { bytesPerMonth: v.usedBytes + 1000 });
    expectError(await fetchVia('/data?n=5000'), 429, 'EGRESS_QUOTA_EXCEEDED', /would receive a 4\.9 KiB response/);
    // a request body larger than what is left is never sent
    const receivedBefore = up.received;
    expectError(await fetchVia('/echo', 'z'.repeat(2000)), 429, 'EGRESS_QUOTA_EXCEEDED', /would send a 2\.0 KiB request body/);
    expect(up.received).toBe(receivedBefore);

    // bad input
    expectError(await adminApi('PUT', '/api/apps/store/egress', { bytesPerMonth: -1 }), 400, 'BAD_REQUEST');
    expectError(await adminApi('PUT', '/api/apps/store/egress', { bytesPerMonth: '5MB' }), 400, 'BAD_REQUEST');
    expectError(await adminApi('PUT', '/api/apps/nope/egress', { bytesPerMonth: 5 }), 404, 'APP_NOT_FOUND');
    expectError(await adminApi('GET', '/api/egress?period=december'), 400, 'BAD_REQUEST');

    // no quota again: fetches go on
    expect((await adminApi('PUT', '/api/apps/store/egress', { bytesPerMonth: null })).json().quotaBytes).toBe(null);
    expect((await fetchVia('/data?n=10')).status).toBe(200);
    expect(internalErrors(t)).toEqual([]);
  }, 60_000);

  it('resets at the start of the next UTC month (fake clock)', async () => {
    const clock = t.node.kernel.cartridge.clock;
    const real = clock.now.bind(clock);
    let at = Date.UTC(2031, 0, 31, 23, 59, 0); // 31 January 2031, 23:59 UTC
    const spy = vi.spyOn(clock, 'now').mockImplementation(() => at);
    try {
      await adminApi('PUT', '/api/apps/store/egress', { bytesPerMonth: 5000 });
      expect((await fetchVia('/data?n=5000')).status).toBe(200);
      expectError(await fetchVia('/data?n=10'), 429, 'EGRESS_QUOTA_EXCEEDED', /resets on 2031-02-01 \(UTC\)/);
      let v = (await adminApi('GET', '/api/apps/store/egress')).json();
      expect(v).toMatchObject({ period: '2031-01', usedBytes: 5000, resetsAt: '2031-02-01T00:00:00.000Z' });
      at = Date.UTC(2031, 1, 1, 0, 0, 1); // one minute later: February
      expect((await fetchVia('/data?n=3000')).status).toBe(200);
      v = (await adminApi('GET', '/api/apps/store/egress')).json();
      expect(v).toMatchObject({ period: '2031-02', usedBytes: 3000, resetsAt: '2031-03-01T00:00:00.000Z' });
      // January's record stays
      expect((await adminApi('GET', '/api/egress?period=2031-01')).json().usage).toEqual([expect.objectContaining({ app: 'store', responseBytes: 5000, refused: 1 })]);
    } finally {
      spy.mockRestore();
      expect(Math.abs(clock.now() - real())).toBeLessThan(1000);
      await adminApi('PUT', '/api/apps/store/egress', { bytesPerMonth: null });
    }
  });
});

describe('what counts against the egress quota (netFetch on a real cartridge, a real 127.0.0.1 server)', () => {
  it('decoded response bodies, request bodies once per hop, not the bodies of redirects', async () => {
    const { gzipSync } = await import('node:zlib');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { BetterSqliteDatabase } = await import('./sqlite.js');
    const { openCartridge } = await import('../shared/cartridge/index.js');
    const { EgressStore } = await import('../shared/guards/index.js');
    const { netFetch, DEFAULT_NET_LIMITS } = await import('../shared/runtime/net.js');
    const server = createServer((req, res) => {
      const u = new URL(req.url!, 'http://x');
      let n = 0;
      req.on('data', (d: Buffer) => (n += d.length));
      req.on('end', () => {
        if (u.pathname === '/gz') return void res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(10_000, 97)));
        if (u.pathname === '/r307') return void res.writeHead(307, { location: '/echo' }).end();
        if (u.pathname === '/r302') return void res.writeHead(302, { location: '/data' }).end(Buffer.alloc(500, 98));
        if (u.pathname === '/data') return void res.end(Buffer.alloc(100, 99));
        res.end(`got ${n}`);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const db = BetterSqliteDatabase.open(join(mkdtempSync(join(tmpdir(), 'fazt-egress-')), 'c.db'));
    try {
      const egress = new EgressStore(openCartridge(db));
      const call = (app: string, path: string, body?: Uint8Array) =>
        netFetch({ url: base + path, method: body ? 'POST' : 'GET', headers: [], body }, ['net:127.0.0.1'], DEFAULT_NET_LIMITS, undefined, fetch, egress.meter(app, app));
      // gzip on the wire, 10,000 bytes decoded: 10,000 count
      expect((await call('gz', '/gz')).body.length).toBe(10_000);
      expect(egress.usage('gz')[0]).toMatchObject({ requestBytes: 0, responseBytes: 10_000, requests: 1 });
      // a 307 sends the body again: 2 × 1,000
      const r = await call('post', '/r307', new Uint8Array(1000));
      expect(new TextDecoder().decode(r.body)).toBe('got 1000');
      expect(egress.usage('post')[0]).toMatchObject({ requestBytes: 2000, responseBytes: 8, requests: 2 });
      // the 302's own 500-byte body is never read: only the 100 bytes the app gets
      expect((await call('redir', '/r302')).body.length).toBe(100);
      expect(egress.usage('redir')[0]).toMatchObject({ requestBytes: 0, responseBytes: 100, requests: 2 });
    } finally {
      db.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
