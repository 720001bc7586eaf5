import { describe, expect, it } from 'vitest';
import { drivers } from '../testing/drivers.js';
import { openCartridge, checkSqliteHeader, FAZT_APPLICATION_ID, MIGRATIONS } from './index.js';
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
      const more = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'test', sql: 'CREATE TABLE extra (x INTEGER);' }];
      const c = openCartridge(db, { migrations: more });
      expect(c.schemaVersion).toBe(MIGRATIONS.length + 1);
      expect(db.get("SELECT name FROM sqlite_master WHERE name = 'extra'")).toBeDefined();
    });

    it('a failing migration leaves the cartridge at the previous version', async () => {
      const db = await d.open();
      openCartridge(db);
      const bad = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: 'bad', sql: 'CREATE TABLE half (x); SELECT * FROM no_such_table;' }];
      expect(() => openCartridge(db, { migrations: bad })).toThrow();
      expect(db.get<{ v: number }>('SELECT MAX(version) AS v FROM schema_migrations')!.v).toBe(MIGRATIONS.length);
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
