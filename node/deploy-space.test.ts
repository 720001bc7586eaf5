/**
 * Deploys must not stall the node or fill the cartridge (issue 15 §3), against the real node:
 * - a zip bomb is refused after unpacking a small fraction of it (counted by the node, reported in
 *   the 413's `unpackedBytes`), whether its headers tell the truth about its sizes or lie;
 * - failed and aborted deploys remove what they staged at once, and the file gives the space back;
 * - a backup carries no free pages.
 * The latency other apps see during a bomb is measured by bench/deploy-bomb.mjs, not here.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { constants, createDeflateRaw } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { craftZip, createToken, deployZip, expectError, internalErrors, randomish, removeTempDirs, request, startTestNode, tempDir, zip } from './test-helpers.js';

const MiB = 1024 * 1024;
afterAll(() => removeTempDirs());

/** `n` zero bytes deflated by zlib at level 9 (≈ 1030:1, like a real bomb), streamed: never held whole. */
async function zlibZeros(n: number): Promise<Uint8Array> {
  const d = createDeflateRaw({ level: constants.Z_BEST_COMPRESSION, memLevel: 9 });
  const out: Buffer[] = [];
  d.on('data', (b: Buffer) => out.push(b));
  const done = new Promise((r) => d.on('end', r));
  const block = Buffer.alloc(MiB);
  for (let left = n; left > 0; left -= MiB) {
    if (!d.write(left >= MiB ? block : block.subarray(0, left))) await new Promise((r) => d.once('drain', r));
  }
  d.end();
  await done;
  return Buffer.concat(out);
}

const app = new TextEncoder().encode(JSON.stringify({ name: 'bomb' }));

describe('a zip bomb (5 × 450 MiB of zeros in a few MB) under the default limits', () => {
  it('is refused after unpacking a small fraction of it, whether its headers lie about the sizes or not', async () => {
    const t = await startTestNode();
    try {
      const admin = createToken(t, 'admin').token;
      const entry = 450 * MiB;
      const payload = await zlibZeros(entry);
      expect(payload.length).toBeLessThan(entry / 900);
      const entries = (declared: number) => [
        { name: 'app.json', data: app },
        ...Array.from({ length: 5 }, (_, i) => ({ name: `zeros${i}.bin`, deflated: payload, size: declared })),
      ];
      // honest headers: refused on what the zip declares, before a byte of the entry is unpacked
      const honest = craftZip(entries(entry));
      const e1 = expectError(await deployZip(t, admin, honest), 413, 'PAYLOAD_TOO_LARGE', /unpacks .* into 450 MiB, more than 200×/);
      expect((e1 as unknown as { unpackedBytes: number }).unpackedBytes).toBeLessThan(MiB);
      // lying headers (each entry "10 bytes"): refused on the bytes actually unpacked, once they
      // pass the ratio floor (32 MiB) at more than 200× the zip bytes fed in
      const liar = craftZip(entries(10));
      const r = await deployZip(t, admin, liar);
      const e2 = expectError(r, 413, 'PAYLOAD_TOO_LARGE', /more than 200× \(the limit; a zip bomb\?\)/) as unknown as { unpackedBytes: number; receivedBytes: number };
      expect(e2.unpackedBytes).toBeGreaterThan(32 * MiB);
      expect(e2.unpackedBytes).toBeLessThan(48 * MiB); // of 2250 MiB in the zip: ≤ 2 %
      expect(e2.receivedBytes).toBeLessThanOrEqual(liar.length);
      expect(t.node.kernel.apps.list()).toEqual([]);
      expect(t.logs.filter((l) => l.msg === 'deploy refused').map((l) => l.fields?.code)).toEqual(['PAYLOAD_TOO_LARGE', 'PAYLOAD_TOO_LARGE']);
      expect(internalErrors(t)).toEqual([]);
    } finally {
      await t.stop();
    }
  }, 60_000);

  it('still deploys an ordinary app whose files compress well (a big JSON file) under the ratio limit', async () => {
    const t = await startTestNode();
    try {
      const admin = createToken(t, 'admin').token;
      const rows = Array.from({ length: 60_000 }, (_, i) => ({ id: i, name: `item ${i}`, done: i % 3 === 0, tags: ['a', 'b'] }));
      const r = await deployZip(t, admin, zip({ 'app.json': JSON.stringify({ name: 'data' }), 'data.json': JSON.stringify(rows) }));
      expect(r.status).toBe(201);
    } finally {
      await t.stop();
    }
  });
});

describe('failed and aborted deploys', () => {
  it('leave the cartridge file near its original size (two of 24 MiB of incompressible data each)', async () => {
    const db = join(tempDir(), 'data.db');
    const limits = { maxTotalBytes: 24 * MiB, maxUploadBytes: 64 * MiB };
    const t = await startTestNode({ db, limits });
    const admin = createToken(t, 'admin').token;
    const file = t.node.file.db;
    const pages = () => (file.db.pragma('page_count', { simple: true }) as number) - (file.db.pragma('freelist_count', { simple: true }) as number);
    const startPages = pages();
    // 1: refused by a limit after 24 MiB were staged (stored entries: no compression to hide behind)
    const big = craftZip([
      { name: 'app.json', data: app },
      ...Array.from({ length: 5 }, (_, i) => ({ name: `noise${i}.bin`, data: randomish(6 * MiB, i + 1), method: 0 as const })),
    ]);
    expectError(await deployZip(t, admin, big), 413, 'PAYLOAD_TOO_LARGE', /more than 24 MiB once unpacked/);
    expect(file.db.pragma('freelist_count', { simple: true })).toBe(0);
    expect(pages() - startPages).toBeLessThan(64);
    // 2: aborted by the client after ~20 MiB
    let sent = 0;
    async function* thenHangUp() {
      for (let off = 0; off < big.length; off += 256 * 1024) {
        if (sent > 20 * MiB) throw new Error('client hangs up');
        sent += 256 * 1024;
        yield big.subarray(off, off + 256 * 1024);
        await new Promise((r) => setImmediate(r));
      }
    }
    await expect(request(`${t.url}/api/apps`, { method: 'POST', token: admin, headers: { 'content-type': 'application/zip' }, body: thenHangUp() })).rejects.toThrow();
    for (let i = 0; i < 200 && t.logs.filter((l) => l.msg === 'removed what a failed deploy staged').length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(t.logs.filter((l) => l.msg === 'removed what a failed deploy staged')).toHaveLength(2);
    expect(file.db.pragma('freelist_count', { simple: true })).toBe(0);
    expect(pages() - startPages).toBeLessThan(64);
    expect(t.node.kernel.apps.list()).toEqual([]);
    // and the file itself, while the node runs (the clean-up ends with a WAL checkpoint)
    const fileBytes = () => statSync(db).size;
    for (let i = 0; i < 100 && fileBytes() > startPages * 4096 + MiB; i++) await new Promise((r) => setTimeout(r, 50));
    expect(fileBytes()).toBeLessThan(startPages * 4096 + MiB);
    expect(internalErrors(t)).toEqual([]);
    await t.stop();
    // closed (WAL checkpointed): the file itself is back near where it started
    expect(statSync(db).size).toBeLessThan(startPages * 4096 + 1 * MiB);
  }, 60_000);
});

describe('a backup', () => {
  it('carries no free pages (GET /api/backup), and restores to a node serving the same apps', async () => {
    const t = await startTestNode();
    const admin = createToken(t, 'admin').token;
    expect((await deployZip(t, admin, zip({ 'app.json': JSON.stringify({ name: 'keep' }), 'index.html': '<p>kept</p>' }))).status).toBe(201);
    // free pages in the live file, as deleted rows leave them until they are reclaimed
    const live = t.node.file.db;
    live.exec('CREATE TABLE scratch (x BLOB)');
    for (let i = 0; i < 40; i++) live.run('INSERT INTO scratch VALUES (?)', [randomish(64 * 1024, i + 1)]);
    live.exec('DROP TABLE scratch');
    expect(live.db.pragma('freelist_count', { simple: true })).toBeGreaterThan(500);
    const res = await request(`${t.url}/api/backup`, { token: admin });
    expect(res.status).toBe(200);
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    await t.stop();
    const out = join(tempDir(), 'restored.db');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(out, res.body);
    const copy = new Database(out, { readonly: true });
    expect(copy.pragma('freelist_count', { simple: true })).toBe(0);
    expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
    copy.close();
    const restored = await startTestNode({ db: out });
    try {
      expect((await request(`${restored.url}/a/keep/`)).text()).toBe('<p>kept</p>');
    } finally {
      await restored.stop();
    }
  });
});
