/**
 * Files larger than one chunk (256 KiB) are written by the Node adapter straight from the blob
 * store's chunks (shared/lib/known-body.ts, `BlobStore.chunks`), served again from the hot-chunk
 * cache: whole, by ranges across chunk boundaries, HEAD, a client that leaves mid-body, and a chunk
 * missing from a damaged cartridge — against a real node over HTTP.
 */
import Database from 'better-sqlite3';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, deployZip, getFile, manifest, randomish, removeTempDirs, sha256, startTestNode, zip, type TestNode } from './test-helpers.js';

const CHUNK = 256 * 1024;
const big = randomish(4 * CHUNK + 12_345, 7);
const other = randomish(3 * CHUNK, 9);
let t: TestNode;

beforeAll(async () => {
  t = await startTestNode();
  const admin = createToken(t, 'admin', 'chunks').token;
  const r = await deployZip(t, admin, zip({ 'app.json': manifest({ name: 'files' }), 'big.bin': big, 'other.bin': other }));
  expect(r.status, r.text()).toBeLessThan(300);
});

afterAll(async () => {
  await t?.stop();
  removeTempDirs();
});

describe('a file of several chunks', () => {
  it('is served whole, twice (the second from the hot-chunk cache), byte-exact', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await getFile(t, '/a/files/big.bin');
      expect(r.status).toBe(200);
      expect(r.headers['content-length']).toBe(String(big.length));
      expect(sha256(r.body)).toBe(sha256(big));
    }
  });

  it.each([
    [CHUNK - 100, CHUNK + 100],
    [0, 2 * CHUNK],
    [3 * CHUNK + 1, big.length - 1],
    [CHUNK, CHUNK],
  ])('serves bytes=%i-%i across chunk boundaries', async (start, end) => {
    const r = await getFile(t, '/a/files/big.bin', { range: `bytes=${start}-${end}` });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes ${start}-${end}/${big.length}`);
    expect(Buffer.compare(r.body, Buffer.from(big.subarray(start, end + 1)))).toBe(0);
  });

  it('answers HEAD with the length and no body', async () => {
    const r = await new Promise<http.IncomingMessage & { bytes: number }>((resolve, reject) => {
      const req = http.request(`${t.url}/a/files/big.bin`, { method: 'HEAD' }, (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => (bytes += d.length));
        res.on('end', () => resolve(Object.assign(res, { bytes })));
      });
      req.on('error', reject);
      req.end();
    });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-length']).toBe(String(big.length));
    expect(r.bytes).toBe(0);
  });

  it('survives clients that leave mid-body', async () => {
    await Promise.all(
      Array.from({ length: 8 }, () =>
        new Promise<void>((resolve) => {
          const req = http.get(`${t.url}/a/files/big.bin`, (res) => {
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          });
          req.on('error', () => resolve());
        }),
      ),
    );
    const r = await getFile(t, '/a/files/big.bin');
    expect(sha256(r.body)).toBe(sha256(big));
  });

  it('a chunk missing from a damaged cartridge aborts that response; the node keeps serving', async () => {
    // damage the cartridge through a second connection: the last chunk of other.bin (never served, so not cached)
    const db = new Database(t.db);
    const blob = db.prepare("SELECT f.blob_hash AS h FROM vfs_files f WHERE f.path = 'other.bin'").get() as { h: string };
    const last = db.prepare('SELECT chunk_hash AS c FROM vfs_blob_chunks WHERE blob_hash = ? AND idx = 2').get(blob.h) as { c: string };
    db.pragma('foreign_keys = OFF');
    db.prepare('DELETE FROM vfs_chunks WHERE hash = ?').run(last.c);
    db.close();
    const outcome = await new Promise<{ status?: number; bytes: number; aborted: boolean }>((resolve) => {
      let bytes = 0;
      const req = http.get(`${t.url}/a/files/other.bin`, (res) => {
        res.on('data', (d: Buffer) => (bytes += d.length));
        res.on('end', () => resolve({ status: res.statusCode, bytes, aborted: false }));
        res.on('aborted', () => resolve({ status: res.statusCode, bytes, aborted: true }));
        res.on('error', () => resolve({ status: res.statusCode, bytes, aborted: true }));
      });
      req.on('error', () => resolve({ bytes, aborted: true }));
    });
    expect(outcome.aborted, 'a truncated body must not look complete').toBe(true);
    expect(outcome.bytes).toBeLessThan(other.length);
    expect((await getFile(t, '/api/health')).status).toBe(200);
    expect(sha256((await getFile(t, '/a/files/big.bin')).body)).toBe(sha256(big));
  });
});
