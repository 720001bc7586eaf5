import { describe, expect, it } from 'vitest';
import { drivers } from '../testing/drivers.js';
import { openCartridge, checkSqliteHeader, FAZT_APPLICATION_ID, MIGRATIONS, autoVacuumMode, freePages, reclaimFreePages } from './index.js';
import { FaztError } from '../errors.js';

for (const d of drivers) {
  describe(`cartridge on ${d.name}`, () => {
    it('creates the schema, marks the file as a Fazt cartridge and gives the node an id', async () => {
      const db = await d.open();
      const c = openCartridge(db);
      expect(c.created).toBe(true);
      expect(c.nodeId).toMatch(/^[0-9a-f]{16}$/);
      expect(db.get<{ application_id: number }>('PRAGMA application_id')!.application_id).toBe(FAZT_APPLICATION_ID);
      expect(db.query('SELECT version FROM schema_migrations')).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
      // every table is classified for sync
      const tables = db.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").map((r) => r.name);
      const classified = db.query<{ name: string }>('SELECT name FROM cartridge_tables').map((r) => r.name);
      expect(new Set(classified)).toEqual(new Set(tables));
      // reopening keeps the id and applies nothing twice
      const again = openCartridge(db);
      expect(again.created).toBe(false);
      expect(again.nodeId).toBe(c.nodeId);
    });

    it('replicated tables carry hlc and node_id columns', async () => {
      const db = await d.open();
      openCartridge(db);
      for (const { name } of db.query<{ name: string }>("SELECT name FROM cartridge_tables WHERE sync = 'replicated'")) {
        const cols = db.query<{ name: string }>(`PRAGMA table_info(${name})`).map((r) => r.name);
        expect(cols, name).toEqual(expect.arrayContaining(['hlc', 'node_id', 'deleted'].filter((c) => name !== 'app_versions' || c !== 'deleted')));
      }
    });

    it('applies a new migration on open and records it', async () => {
      const db = await d.open();
      openCartridge(db);
      const next = MIGRATIONS[MIGRATIONS.length - 1]!.version + 1; // versions may have gaps while branches merge
      const more = [...MIGRATIONS, { version: next, name: 'test', sql: 'CREATE TABLE extra (x INTEGER);' }];
      const c = openCartridge(db, { migrations: more });
      expect(c.schemaVersion).toBe(next);
      expect(db.get("SELECT name FROM sqlite_master WHERE name = 'extra'")).toBeDefined();
    });

    it('a failing migration leaves the cartridge at the previous version', async () => {
      const db = await d.open();
      openCartridge(db);
      const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
      const bad = [...MIGRATIONS, { version: latest + 1, name: 'bad', sql: 'CREATE TABLE half (x); SELECT * FROM no_such_table;' }];
      expect(() => openCartridge(db, { migrations: bad })).toThrow();
      expect(db.get<{ v: number }>('SELECT MAX(version) AS v FROM schema_migrations')!.v).toBe(latest);
      expect(db.get("SELECT name FROM sqlite_master WHERE name = 'half'")).toBeUndefined();
    });

    it('refuses a cartridge written by a newer Fazt, changing nothing', async () => {
      const db = await d.open();
      openCartridge(db);
      db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
      const before = db.query('SELECT * FROM schema_migrations');
      let err: unknown;
      try {
        openCartridge(db, { label: 'phone.db' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FaztError);
      expect((err as FaztError).code).toBe('CARTRIDGE_TOO_NEW');
      expect((err as FaztError).message).toMatch(/phone\.db was written by a newer Fazt \(schema 999/);
      expect(db.query('SELECT * FROM schema_migrations')).toEqual(before);
    });

    it('is created with auto_vacuum = INCREMENTAL, and gives the pages of deleted rows back', async () => {
      const db = await d.open();
      openCartridge(db);
      expect(autoVacuumMode(db)).toBe('incremental');
      const pages = () => db.get<{ page_count: number }>('PRAGMA page_count')!.page_count;
      const empty = pages();
      const blob = new Uint8Array(256 * 1024).fill(7);
      for (let i = 0; i < 16; i++) db.run('INSERT INTO vfs_chunks (hash, size, data) VALUES (?, ?, ?)', [`h${i}`, blob.length, blob]);
      expect(pages()).toBeGreaterThan(empty + 1000);
      db.run('DELETE FROM vfs_chunks');
      expect(freePages(db)).toBeGreaterThan(1000);
      expect(await reclaimFreePages(db)).toBeGreaterThan(1000);
      expect(freePages(db)).toBe(0);
      expect(pages()).toBeLessThanOrEqual(empty + 2);
    });

    it('migration 3 converts a cartridge made before it (auto_vacuum NONE) keeping its rows, crash-safely', async () => {
      const db = await d.open();
      // a cartridge as schema 2 made it: no auto-vacuum
      db.exec(`PRAGMA auto_vacuum = NONE; PRAGMA application_id = ${FAZT_APPLICATION_ID};`);
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      const old = openCartridge(db, { migrations: MIGRATIONS.slice(0, 2) });
      db.exec('PRAGMA auto_vacuum = NONE');
      db.exec('VACUUM'); // (a new better-sqlite3 file is made incremental before WAL mode is set)
      expect(autoVacuumMode(db)).toBe('none');
      db.run("INSERT INTO cartridge_meta (key, value) VALUES ('keep', 'me')");
      const blob = new Uint8Array(256 * 1024).fill(3);
      for (let i = 0; i < 8; i++) db.run('INSERT INTO vfs_chunks (hash, size, data) VALUES (?, ?, ?)', [`h${i}`, blob.length, blob]);
      db.run("DELETE FROM vfs_chunks WHERE hash <> 'h0'");
      expect(freePages(db)).toBeGreaterThan(300);
      // a crash after the VACUUM but before the version was recorded: the next open finishes the job
      MIGRATIONS[2]!.before!(db);
      expect(autoVacuumMode(db)).toBe('incremental');
      expect(db.get<{ v: number }>('SELECT MAX(version) AS v FROM schema_migrations')!.v).toBe(2);
      const c = openCartridge(db);
      expect(c.schemaVersion).toBe(MIGRATIONS[MIGRATIONS.length - 1]!.version);
      expect(c.nodeId).toBe(old.nodeId);
      expect(autoVacuumMode(db)).toBe('incremental');
      expect(freePages(db)).toBe(0); // the VACUUM dropped them
      expect(db.get<{ value: string }>("SELECT value FROM cartridge_meta WHERE key = 'keep'")!.value).toBe('me');
      expect(db.get<{ n: number }>('SELECT length(data) AS n FROM vfs_chunks')!.n).toBe(blob.length);
      expect(db.query('SELECT version FROM schema_migrations')).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
    });

    it('refuses an SQLite database of another application', async () => {
      const db = await d.open();
      db.exec('CREATE TABLE customers (id INTEGER)');
      expect(() => openCartridge(db, { label: 'crm.db' })).toThrow(/crm\.db is an SQLite database but not a Fazt cartridge/);
      expect(db.query("SELECT name FROM sqlite_master WHERE type = 'table'")).toEqual([{ name: 'customers' }]);
    });
  });
}

describe('SQLite header check', () => {
  const header = (pageSize: number, pages: number, appId = FAZT_APPLICATION_ID) => {
    const h = new Uint8Array(100);
    h.set(new TextEncoder().encode('SQLite format 3\u0000'));
    const v = new DataView(h.buffer);
    v.setUint16(16, pageSize === 65536 ? 1 : pageSize);
    v.setUint32(24, 7); // change counter
    v.setUint32(28, pages);
    v.setUint32(68, appId);
    v.setUint32(92, 7); // version-valid-for = change counter
    return h;
  };
  it('accepts an empty file (a new cartridge) and a whole one', () => {
    expect(checkSqliteHeader(new Uint8Array(0), 0, 'x')).toBeUndefined();
    expect(checkSqliteHeader(header(4096, 10), 40960, 'x')).toMatchObject({ pageSize: 4096, pageCount: 10 });
  });
  it('rejects a file that is not SQLite', () => {
    expect(() => checkSqliteHeader(new TextEncoder().encode('hello, this is a text file'.padEnd(120)), 120, 'notes.txt')).toThrow(/notes\.txt is not a Fazt cartridge/);
  });
  it('rejects a truncated file with a clear message', () => {
    expect(() => checkSqliteHeader(header(4096, 10), 4096 * 3, 'data.db')).toThrow(/data\.db is truncated: 12288 bytes on disk, the header says 40960/);
  });
  it('rejects another application id', () => {
    expect(() => checkSqliteHeader(header(4096, 1, 1234), 4096, 'x.db')).toThrow(/another application/);
  });
});
