import { describe, expect, it } from 'vitest';
import { MAX_CACHED_STATEMENTS } from './index.js';
import { drivers } from '../testing/drivers.js';

for (const d of drivers) {
  describe(`SqlDatabase contract: ${d.name}`, () => {
    it('runs DDL, binds all value types and reads them back', async () => {
      const db = await d.open();
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, n REAL, b BLOB, z TEXT)');
      const blob = new Uint8Array([0, 1, 2, 255]);
      const r = db.run('INSERT INTO t (s, n, b, z) VALUES (?, ?, ?, ?)', ['héllo', 1.5, blob, null]);
      expect(r).toEqual({ changes: 1, lastInsertRowid: 1 });
      const row = db.get<{ s: string; n: number; b: Uint8Array; z: null }>('SELECT s, n, b, z FROM t WHERE id = ?', [1])!;
      expect(row.s).toBe('héllo');
      expect(row.n).toBe(1.5);
      expect(Array.from(row.b)).toEqual([0, 1, 2, 255]);
      expect(row.z).toBeNull();
      expect(db.get('SELECT * FROM t WHERE id = ?', [99])).toBeUndefined();
      expect(db.query('SELECT id FROM t')).toEqual([{ id: 1 }]);
      db.close();
    });

    it('commits a transaction and returns its value', async () => {
      const db = await d.open();
      db.exec('CREATE TABLE t (v INTEGER)');
      const out = db.transaction(() => {
        db.run('INSERT INTO t VALUES (1)');
        db.run('INSERT INTO t VALUES (2)');
        return 'done';
      });
      expect(out).toBe('done');
      expect(db.query('SELECT v FROM t ORDER BY v')).toEqual([{ v: 1 }, { v: 2 }]);
      db.close();
    });

    it('rolls back everything when the transaction throws, and rethrows', async () => {
      const db = await d.open();
      db.exec('CREATE TABLE t (v INTEGER UNIQUE)');
      db.run('INSERT INTO t VALUES (1)');
      expect(() =>
        db.transaction(() => {
          db.run('INSERT INTO t VALUES (2)');
          db.run('INSERT INTO t VALUES (1)'); // constraint violation
        }),
      ).toThrow(/UNIQUE/);
      expect(db.query('SELECT v FROM t')).toEqual([{ v: 1 }]);
      db.close();
    });

    it('nests transactions as savepoints: an inner failure caught by the outer keeps the outer work', async () => {
      const db = await d.open();
      db.exec('CREATE TABLE t (v INTEGER)');
      db.transaction(() => {
        db.run('INSERT INTO t VALUES (1)');
        try {
          db.transaction(() => {
            db.run('INSERT INTO t VALUES (2)');
            throw new Error('inner');
          });
        } catch {
          /* expected */
        }
        db.run('INSERT INTO t VALUES (3)');
      });
      expect(db.query<{ v: number }>('SELECT v FROM t ORDER BY v').map((r) => r.v)).toEqual([1, 3]);
      db.close();
    });

    it('reports changes of UPDATE and DELETE', async () => {
      const db = await d.open();
      db.exec('CREATE TABLE t (v INTEGER)');
      for (let i = 0; i < 5; i++) db.run('INSERT INTO t VALUES (?)', [i]);
      expect(db.run('UPDATE t SET v = v + 10 WHERE v < ?', [3]).changes).toBe(3);
      expect(db.run('DELETE FROM t WHERE v >= ?', [10]).changes).toBe(3);
      db.close();
    });

    it('keeps at most MAX_CACHED_STATEMENTS prepared statements, and every statement still works past the bound', async () => {
      const db = await d.open();
      db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)');
      db.run('INSERT INTO t VALUES (1, 10)');
      // distinct SQL shapes, as doc queries built from app input make
      for (let i = 0; i < MAX_CACHED_STATEMENTS + 100; i++) {
        expect(db.get<{ x: number }>(`SELECT v + ${i} AS x FROM t WHERE k = ?`, [1])!.x).toBe(10 + i);
        expect(db.cachedStatements).toBeLessThanOrEqual(MAX_CACHED_STATEMENTS);
      }
      // statements cached before the cache started over are prepared again
      expect(db.get<{ x: number }>('SELECT v + 0 AS x FROM t WHERE k = ?', [1])!.x).toBe(10);
      expect(db.run('UPDATE t SET v = ? WHERE k = ?', [11, 1]).changes).toBe(1);
      expect(db.get<{ v: number }>('SELECT v FROM t WHERE k = 1')!.v).toBe(11);
      db.close();
    });

    it('throws on invalid SQL', async () => {
      const db = await d.open();
      expect(() => db.query('SELEKT 1')).toThrow();
      db.close();
    });
  });
}
