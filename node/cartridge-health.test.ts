/**
 * A damaged cartridge is found and said, not served silently: the start-up quick_check (worker
 * thread) reports through `/api/health` and the log, `doctor()` runs the full check, and a file
 * too damaged to start names itself and points to `fazt doctor`. All on real SQLite files damaged
 * on disk.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { doctor, formatDoctorReport } from './doctor.js';
import { LATEST_SCHEMA_VERSION } from '../shared/cartridge/index.js';
import { startNode } from './node.js';
import { damageTablePage, deployZip, createToken, memoryLogger, removeTempDirs, request, startTestNode, tempDir, zip } from './test-helpers.js';

afterAll(() => removeTempDirs());

/** A closed cartridge holding the apps `blog` and `shop`. */
async function cartridgeWithApps(): Promise<string> {
  const db = join(tempDir(), 'data.db');
  const t = await startTestNode({ db });
  const admin = createToken(t, 'admin').token;
  for (const name of ['blog', 'shop']) expect((await deployZip(t, admin, zip({ 'app.json': JSON.stringify({ name }), 'index.html': `<p>${name}</p>` }))).status).toBe(201);
  await t.stop();
  return db;
}

describe('the start-up integrity check', () => {
  it('reports a sound cartridge as ok in /api/health', async () => {
    const t = await startTestNode();
    try {
      const s = await t.node.integrity;
      expect(s).toMatchObject({ state: 'ok', check: 'quick', problems: [] });
      const h = (await request(`${t.url}/api/health`)).json();
      expect(h.integrity).toMatchObject({ state: 'ok', check: 'quick' });
      expect(typeof h.integrity.checkedAt).toBe('number');
      expect(t.logs.some((l) => l.msg === 'cartridge check: ok')).toBe(true);
    } finally {
      await t.stop();
    }
  });

  it('finds a damaged apps page that hides an app, and says so in /api/health and the log', async () => {
    const db = await cartridgeWithApps();
    damageTablePage(db, 'apps', 'hide-rows');
    const t = await startTestNode({ db });
    try {
      // the damage hides the apps: exactly what must not pass silently
      expect(t.node.kernel.apps.list()).toEqual([]);
      const s = await t.node.integrity;
      expect(s.state).toBe('damaged');
      const h = (await request(`${t.url}/api/health`)).json();
      expect(h.integrity).toMatchObject({ state: 'damaged', check: 'quick' });
      expect(h.integrity.problems).toBeGreaterThan(0);
      expect(JSON.stringify(h)).not.toMatch(/Fragmentation|page \d/); // SQLite's lines stay off the public route
      const warn = t.logs.find((l) => l.msg === 'cartridge check: DAMAGED');
      expect(warn?.level).toBe('warn');
      expect(String(warn?.fields?.advice)).toMatch(/fazt doctor --db .*data\.db/);
    } finally {
      await t.stop();
    }
  });
});

describe('doctor()', () => {
  it('passes a sound cartridge', async () => {
    const db = await cartridgeWithApps();
    const r = await doctor(db);
    expect(r).toMatchObject({ ok: true, headerProblem: null, integrity: { check: 'full', ok: true, problems: [] }, advice: [] });
    expect(r.facts).toMatchObject({ pageSize: 4096, freePages: 0, autoVacuum: 'incremental', schema: LATEST_SCHEMA_VERSION });
    expect(formatDoctorReport(r)).toMatch(/integrity_check: ok[\s\S]*The cartridge is sound\./);
  });

  it('describes a damaged page in words and says what to do', async () => {
    const db = await cartridgeWithApps();
    const page = damageTablePage(db, 'apps', 'hide-rows');
    const r = await doctor(db);
    expect(r.ok).toBe(false);
    expect(r.integrity?.problems.join('\n')).toMatch(new RegExp(`page ${page}`));
    const words = formatDoctorReport(r);
    expect(words).toMatch(/integrity_check: DAMAGED \(\d+ problems?\):/);
    expect(words).toMatch(/The cartridge is damaged\.[\s\S]*Restore the latest good backup[\s\S]*\.recover/);
  });

  it('reports a page too damaged to read (the check itself meets "malformed")', async () => {
    const db = await cartridgeWithApps();
    damageTablePage(db, 'app_aliases', 'zero');
    const r = await doctor(db);
    expect(r.ok).toBe(false);
    expect(r.integrity?.problems.join('\n')).toMatch(/malformed|page/);
  });
});

describe('a cartridge too damaged to start', () => {
  it('is refused with an error that names the file and points to fazt doctor and a backup', async () => {
    const db = await cartridgeWithApps();
    damageTablePage(db, 'cartridge_meta', 'zero');
    const err = await startNode({ db, port: 0, host: '127.0.0.1', domain: 'localhost', seedExample: false, logger: memoryLogger() }).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message: string },
    );
    expect(err?.code).toBe('CARTRIDGE_CORRUPT');
    expect(err?.message).toContain(db);
    expect(err?.message).toMatch(/database disk image is malformed/);
    expect(err?.message).toMatch(/fazt doctor --db .*data\.db/);
    expect(err?.message).toMatch(/restore a backup/);
  });
});
