import initSqlJs from 'sql.js';
import { describe, expect, it } from 'vitest';
import { SqlJsDatabase } from './sqljs.js';

/** The persistence hook of the sql.js driver (the browser node flushes the image to OPFS when it is dirty). */
describe('SqlJsDatabase dirty/commit hook', () => {
  const open = async () => SqlJsDatabase.open(await initSqlJs());

  it('marks dirty after an autocommit write, not after reads', async () => {
    const db = await open();
    db.exec('CREATE TABLE t (v INTEGER)');
    db.markClean();
    const commits: number[] = [];
    db.onCommit(() => commits.push(commits.length));
    db.query('SELECT * FROM t');
    db.get('SELECT count(*) AS n FROM t');
    expect(db.dirty).toBe(false);
    db.run('INSERT INTO t VALUES (1)');
    expect(db.dirty).toBe(true);
    expect(commits).toHaveLength(1);
    db.markClean();
    expect(db.get<{ v: number }>('INSERT INTO t VALUES (2) RETURNING v')).toEqual({ v: 2 });
    expect(db.dirty).toBe(true);
    db.close();
  });

  it('a write statement that changed no row is not a write (a prune that deleted nothing costs no persist)', async () => {
    const db = await open();
    db.exec('CREATE TABLE t (v INTEGER UNIQUE)');
    db.run('INSERT INTO t VALUES (1)');
    db.markClean();
    let commits = 0;
    db.onCommit(() => commits++);
    expect(db.run('DELETE FROM t WHERE v > 5').changes).toBe(0);
    expect(db.run('UPDATE t SET v = 2 WHERE v = 9').changes).toBe(0);
    expect(db.run('INSERT OR IGNORE INTO t VALUES (1)').changes).toBe(0);
    expect(db.query('DELETE FROM t WHERE v = 9 RETURNING v')).toEqual([]);
    db.transaction(() => db.run('DELETE FROM t WHERE v = 9'));
    expect(db.dirty).toBe(false);
    expect(commits).toBe(0);
    // a statement that changes rows right after one that did not
    expect(db.run('UPDATE t SET v = 3 WHERE v = 1').changes).toBe(1);
    expect(db.dirty).toBe(true);
    db.markClean();
    // DDL always counts (sqlite3_changes() does not report it)
    db.run('CREATE INDEX i ON t (v)');
    expect(db.dirty).toBe(true);
    expect(commits).toBe(2);
    db.close();
  });

  it('marks dirty once at the outermost commit, and not for a rolled-back transaction', async () => {
    const db = await open();
    db.exec('CREATE TABLE t (v INTEGER UNIQUE)');
    db.markClean();
    let commits = 0;
    db.onCommit(() => commits++);
    db.transaction(() => {
      db.run('INSERT INTO t VALUES (1)');
      db.transaction(() => db.run('INSERT INTO t VALUES (2)'));
      expect(db.dirty).toBe(false);
      expect(db.inTransaction).toBe(true);
    });
    expect(db.dirty).toBe(true);
    expect(commits).toBe(1);
    db.markClean();
    expect(() =>
      db.transaction(() => {
        db.run('INSERT INTO t VALUES (3)');
        db.run('INSERT INTO t VALUES (1)');
      }),
    ).toThrow();
    expect(db.dirty).toBe(false);
    expect(commits).toBe(1);
    // a read-only transaction is not a write
    db.transaction(() => db.query('SELECT * FROM t'));
    expect(db.dirty).toBe(false);
    db.close();
  });

  it('image() is a whole SQLite file that keeps prepared statements valid, and refuses inside a transaction', async () => {
    const SQL = await initSqlJs();
    const db = SqlJsDatabase.open(SQL);
    db.exec('CREATE TABLE t (v INTEGER)');
    db.run('INSERT INTO t VALUES (?)', [7]);
    const image = db.image();
    expect(new TextDecoder('latin1').decode(image.subarray(0, 16))).toBe('SQLite format 3\u0000');
    // the cached statement still works after the export
    db.run('INSERT INTO t VALUES (?)', [8]);
    expect(db.query('SELECT v FROM t ORDER BY v')).toEqual([{ v: 7 }, { v: 8 }]);
    const copy = SqlJsDatabase.open(SQL, image);
    expect(copy.query('SELECT v FROM t')).toEqual([{ v: 7 }]);
    expect(() => db.transaction(() => db.image())).toThrow(/transaction is open/);
    copy.close();
    db.close();
  });
});
