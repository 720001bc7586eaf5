import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, truncateSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { openCartridgeFile, backupCartridge } from './cartridge-file.js';
import { kernelForFile, deployDir } from './node.js';
import { createFetch } from '../shared/index.js';
import { EXAMPLE_APP_DIR } from './paths.js';
import { jsonLogger } from './ports.js';
import { Writable } from 'node:stream';

const quiet = jsonLogger(new Writable({ write: (_c, _e, cb) => cb() }));
const tmp = () => mkdtempSync(join(tmpdir(), 'fazt-cf-'));
const digest = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('cartridge files', () => {
  it('creates a new cartridge in WAL mode, with parent folders', () => {
    const p = join(tmp(), 'deep', 'er', 'data.db');
    const f = openCartridgeFile(p);
    expect(f.db.db.pragma('journal_mode', { simple: true })).toBe('wal');
    f.db.close();
    expect(existsSync(p)).toBe(true);
  });

  it('refuses a text file and leaves it byte-identical', () => {
    const p = join(tmp(), 'notes.db');
    writeFileSync(p, 'these are my notes, not a database\n'.repeat(20));
    const before = digest(p);
    expect(() => openCartridgeFile(p)).toThrow(/notes\.db is not a Fazt cartridge \(not an SQLite database\)\. It was left untouched/);
    expect(digest(p)).toBe(before);
  });

  it('refuses a truncated cartridge and leaves it byte-identical', () => {
    const dir = tmp();
    const p = join(dir, 'data.db');
    const f = openCartridgeFile(p);
    const k = kernelForFile(f, { logger: quiet });
    return deployDir(k, EXAMPLE_APP_DIR).then(() => {
      f.db.db.pragma('wal_checkpoint(TRUNCATE)');
      f.db.close();
      const size = statSync(p).size;
      truncateSync(p, Math.floor(size / 2));
      const before = digest(p);
      expect(() => openCartridgeFile(p)).toThrow(/is truncated: \d+ bytes on disk, the header says \d+/);
      expect(digest(p)).toBe(before);
    });
  });

  it('refuses an SQLite database of another program and leaves it untouched', () => {
    const p = join(tmp(), 'other.db');
    const other = new Database(p);
    other.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);');
    other.close();
    const before = digest(p);
    expect(() => openCartridgeFile(p)).toThrow(/not a Fazt cartridge/);
    expect(digest(p)).toBe(before);
  });

  it('refuses a cartridge from a newer Fazt with the versions in the message', () => {
    const p = join(tmp(), 'data.db');
    const f = openCartridgeFile(p);
    f.db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (42, 'from the future', 0)");
    f.db.close();
    expect(() => openCartridgeFile(p)).toThrow(/written by a newer Fazt \(schema 42; this build knows up to \d+\)/);
  });

  it('backs up to a single self-contained file that opens as a cartridge, and never overwrites', async () => {
    const dir = tmp();
    const f = openCartridgeFile(join(dir, 'data.db'));
    const k = kernelForFile(f, { logger: quiet });
    await deployDir(k, EXAMPLE_APP_DIR);
    const out = join(dir, 'backup.db');
    const { bytes } = await backupCartridge(f.db, out);
    expect(bytes).toBe(statSync(out).size);
    await expect(backupCartridge(f.db, out)).rejects.toThrow(/already exists/);
    f.db.close();
    expect(existsSync(out + '-wal')).toBe(false);
    const copy = openCartridgeFile(out);
    expect(copy.db.get<{ integrity_check: string }>('PRAGMA integrity_check')!.integrity_check).toBe('ok');
    const k2 = kernelForFile(copy, { logger: quiet });
    const res = await createFetch(k2)(new Request('http://localhost/a/hello/'));
    expect(await res.text()).toContain('Hello from your Fazt node');
    copy.db.close();
  });
});
