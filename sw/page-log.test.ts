import initSqlJs from 'sql.js';
import { describe, expect, it } from 'vitest';
import { applyLog, changedPages, encodeHeader, encodeRecord, identityOf, pageSizeOf } from './page-log.js';

/** A log of records turning `images[0]` into each following image. */
async function logFor(images: Uint8Array[]): Promise<Uint8Array> {
  const parts = [encodeHeader(await identityOf(images[0]!))];
  for (let i = 1; i < images.length; i++) {
    const ps = pageSizeOf(images[i]!);
    parts.push(encodeRecord(images[i]!, changedPages(images[i - 1]!, images[i]!, ps), ps));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('page log', () => {
  it('replays real SQLite images: base + log = the latest image, byte for byte', async () => {
    const SQL = await initSqlJs();
    const db = new SQL.Database();
    db.run('CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB)');
    db.run('INSERT INTO t VALUES (?, ?)', ['big', new Uint8Array(300_000).fill(7)]);
    const images = [db.export()];
    for (let i = 0; i < 5; i++) {
      db.run('INSERT OR REPLACE INTO t VALUES (?, ?)', [`k${i}`, new Uint8Array(100).fill(i)]);
      images.push(db.export());
    }
    db.run("DELETE FROM t WHERE k = 'big'");
    db.run('VACUUM'); // the file shrinks
    images.push(db.export());
    const last = images[images.length - 1]!;
    expect(last.length).toBeLessThan(images[0]!.length);
    const ps = pageSizeOf(images[1]!);
    expect(changedPages(images[0]!, images[1]!, ps).length).toBeLessThan(6);
    const r = await applyLog(images[0]!, await logFor(images));
    expect(r.verdict).toBe('applied');
    expect(r.records).toBe(6);
    expect(r.image.length).toBe(last.length);
    expect(r.image.every((x, i) => x === last[i])).toBe(true);
    const check = new SQL.Database(r.image);
    expect(check.exec("SELECT count(*) FROM t")[0]!.values[0]![0]).toBe(5);
    db.close();
    check.close();
  });

  it('ignores a log that belongs to another base, and reports a damaged one', async () => {
    const a = new Uint8Array(8192).fill(1);
    a.set(new TextEncoder().encode('SQLite format 3\0'));
    a[16] = 0x10; // page size 4096
    const b = a.slice();
    b[5000] = 9;
    const c = a.slice();
    c[30] = 2; // another base: its first page differs
    const log = await logFor([a, b]);
    expect((await applyLog(c, log)).verdict).toBe('stale');
    const damaged = log.slice();
    damaged[log.length - 10] = damaged[log.length - 10]! ^ 0xff;
    expect((await applyLog(a, damaged)).verdict).toBe('damaged');
    expect((await applyLog(a, log.subarray(0, log.length - 3))).verdict).toBe('damaged');
    expect((await applyLog(a, log)).image[5000]).toBe(9);
    expect(a[5000]).toBe(1); // not in place unless asked
  });

  it('in place: writes into the base, reports the identity the base had, and a damaged later record changes nothing', async () => {
    const a = new Uint8Array(8192).fill(1);
    a.set(new TextEncoder().encode('SQLite format 3\0'));
    a[16] = 0x10;
    const b = a.slice();
    b[5000] = 9;
    const c = b.slice();
    c[6000] = 7;
    const log = await logFor([a, b, c]);
    const idBefore = await identityOf(a);
    // the second record is damaged: the first one must not have been applied either
    const damaged = log.slice();
    damaged[log.length - 10] = damaged[log.length - 10]! ^ 0xff;
    const base = a.slice();
    expect((await applyLog(base, damaged, { inPlace: true })).verdict).toBe('damaged');
    expect(base).toEqual(a);
    const r = await applyLog(base, log, { inPlace: true });
    expect(r.verdict).toBe('applied');
    expect(r.image).toBe(base);
    expect(base[5000]).toBe(9);
    expect(base[6000]).toBe(7);
    expect(r.base).toEqual(idBefore);
  });
});
