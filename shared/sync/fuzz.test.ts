import { describe, expect, it } from 'vitest';
import { drivers } from '../testing/drivers.js';
import { SimNet, SimNode, SimTime, prng } from '../testing/sync-net.js';

/**
 * Seeded fuzz of sync (docs/sync-spec.md S10–S35) on both SQLite drivers: 3–5 in-memory nodes,
 * random kv / document / blob writes and deploys, random partitions, dropped, duplicated, delayed and
 * reordered messages, restarts from the cartridge. At the end every node's replicated state digests
 * the same, and every acknowledged kv and blob write is present, knowingly overwritten, or a conflict.
 *
 * Replay: FAZT_SYNC_SEED=<seed> npx vitest run shared/sync/fuzz.test.ts   (FAZT_SYNC_OPS=<n> for a longer run)
 */

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const SEED = env.FAZT_SYNC_SEED ? Number(env.FAZT_SYNC_SEED) : Math.floor(Math.random() * 2 ** 31);
const OPS = Number(env.FAZT_SYNC_OPS ?? 1000);

/** One acknowledged write of a kv key or a blob key: its stamp, the stamp it replaced, its value. */
interface Write {
  kind: 'kv' | 'blob';
  app: string;
  key: string;
  h: string;
  prev: string | null;
  v: string | null;
}

const APPS = ['appA', 'appB'];
const KEYS = ['k1', 'k2', 'k3', 'k4', 'k5'];
const DOCS = ['d1', 'd2', 'd3'];
const FIELDS = ['a', 'b', 'c'];

for (const d of drivers) {
  describe(`sync fuzz on ${d.name}`, () => {
    it(`converges with nothing lost (seed ${SEED}, ${OPS} ops)`, async () => {
      console.log(`sync fuzz on ${d.name}: FAZT_SYNC_SEED=${SEED} FAZT_SYNC_OPS=${OPS} npx vitest run shared/sync/fuzz.test.ts`);
      const rand = prng(SEED);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
      const time = new SimTime();
      const count = 3 + Math.floor(rand() * 3);
      const hex16 = () => Array.from({ length: 16 }, () => Math.floor(rand() * 16).toString(16)).join('');
      const nodes: SimNode[] = [];
      for (let i = 0; i < count; i++) nodes.push(await new SimNode(`n${i}`, d, time).open(hex16()));
      for (const n of nodes) n.skew = Math.floor((rand() - 0.5) * 60_000); // clocks up to ±30 s off
      const net = new SimNet(nodes, rand);
      net.faults = { drop: 0.02, dup: 0.05, delay: 0.15 };
      const writes: Write[] = [];
      const stampOf = (n: SimNode, table: 'app_kv' | 'app_blobs', app: string, key: string) =>
        n.db.get<{ hlc: string }>(`SELECT hlc FROM ${table} WHERE app_id = ? AND key = ?`, [app, key])?.hlc ?? null;
      let restarts = 0;
      let lies = 0;
      let deploys = 0;

      try {
        for (let op = 0; op < OPS; op++) {
          time.advance(Math.floor(rand() * 20));
          const i = Math.floor(rand() * nodes.length);
          const n = nodes[i]!;
          const k = n.kernel;
          const r = rand();
          const app = pick(APPS);
          if (r < 0.3) {
            const key = pick(KEYS);
            const prev = stampOf(n, 'app_kv', app, key);
            const v = String(Math.floor(rand() * 1e6));
            k.kv.set(app, key, v);
            writes.push({ kind: 'kv', app, key, h: stampOf(n, 'app_kv', app, key)!, prev, v });
          } else if (r < 0.38) {
            const key = pick(KEYS);
            const prev = stampOf(n, 'app_kv', app, key);
            if (k.kv.delete(app, key)) writes.push({ kind: 'kv', app, key, h: stampOf(n, 'app_kv', app, key)!, prev, v: null });
          } else if (r < 0.62) {
            const id = pick(DOCS);
            const doc = k.docs.get(app, 'c', id);
            const x = rand();
            if (!doc) k.docs.insert(app, 'c', { _id: id, [pick(FIELDS)]: Math.floor(rand() * 100) });
            else if (x < 0.6) k.docs.update(app, 'c', id, { $set: { [pick(FIELDS)]: Math.floor(rand() * 100) } });
            else if (x < 0.8) k.docs.update(app, 'c', id, { $unset: { [pick(FIELDS)]: 1 } });
            else k.docs.delete(app, 'c', id);
          } else if (r < 0.7) {
            const key = pick(['b1', 'b2', 'b3']);
            const prev = stampOf(n, 'app_blobs', app, key);
            if (rand() < 0.75) {
              const size = rand() < 0.1 ? 300_000 : 1 + Math.floor(rand() * 500);
              const seed = Math.floor(rand() * 1e9);
              const body = new Uint8Array(size).map((_, j) => (j * 131 + seed) % 251);
              const info = await k.appBlobs.put(app, key, body);
              writes.push({ kind: 'blob', app, key, h: stampOf(n, 'app_blobs', app, key)!, prev, v: info.hash });
            } else if (k.appBlobs.delete(app, key)) writes.push({ kind: 'blob', app, key, h: stampOf(n, 'app_blobs', app, key)!, prev, v: null });
          } else if (r < 0.72) {
            deploys++;
            await n.deploy(pick(['site1', 'site2']), { 'index.html': `<p>${op}</p>`, 'same.txt': 'shared content' });
          } else if (r < 0.725) {
            restarts++;
            net.isolate(i);
            await n.restart();
          } else if (r < 0.76) {
            // S40: a lying peer is refused and changes nothing
            lies++;
            const e = k.sync.engine;
            const liar = nodes[(i + 1) % nodes.length]!.writer;
            const wall = k.cartridge.clock.now();
            const st = (ms: number, w: string) => `${ms.toString(16).padStart(13, '0')}-0000-${w}`;
            const lie = pick([
              { t: 'kv', app, key: 'k1', v: '"future"', exp: null, h: st(wall + 6 * 60_000, liar), b: null },
              { t: 'kv', app, key: 'k1', v: '"as you"', exp: null, h: st(wall + 60_000, n.writer), b: null },
              { t: 'kv', app, key: 'k1', v: 42, exp: null, h: st(wall, liar), b: null },
              { t: 'users', id: 'x', h: st(wall, liar) },
              { t: 'doc', app, col: 'c', id: 'd1', born: null, del: null, fields: { a: { v: 1, h: 'not a stamp', b: null } }, created: 0, updated: 0 },
            ]);
            const before = e.stateDigest();
            expect(() => e.apply(liar, { from: 0, to: 1, rows: [lie] })).toThrow();
            expect(e.stateDigest()).toBe(before);
          } else if (r < 0.8) {
            const j = Math.floor(rand() * nodes.length);
            if (rand() < 0.5) net.connect(i, j);
            else net.disconnect(i, j);
          }
          net.step(Math.floor(rand() * 30));
        }
        net.settle();
      } catch (e) {
        console.log(`sync fuzz FAILED on ${d.name}: replay with FAZT_SYNC_SEED=${SEED} FAZT_SYNC_OPS=${OPS}`);
        throw e;
      }

      const failHint = `replay: FAZT_SYNC_SEED=${SEED} FAZT_SYNC_OPS=${OPS} npx vitest run shared/sync/fuzz.test.ts`;
      // S33/S35: every node holds the same replicated state
      const digests = nodes.map((n) => n.kernel.sync.engine.stateDigest());
      if (new Set(digests).size !== 1) {
        const states = nodes.map((n) => n.kernel.sync.engine.stateRows());
        for (const section of Object.keys(states[0]!)) {
          for (let x = 1; x < states.length; x++) {
            const a = new Set(states[0]![section]);
            const b = new Set(states[x]![section]);
            const onlyA = [...a].filter((r) => !b.has(r));
            const onlyB = [...b].filter((r) => !a.has(r));
            if (onlyA.length || onlyB.length) console.log(`${section}: n0 vs n${x}\n  n0 only: ${onlyA.slice(0, 5).join('\n           ')}\n  n${x} only: ${onlyB.slice(0, 5).join('\n           ')}`);
          }
        }
      }
      if (env.FAZT_SYNC_DEBUG) for (const n of nodes) console.log('DBG', n.name, n.writer, JSON.stringify(n.db.query("SELECT a.current_version, v.version, v.hlc FROM apps a JOIN app_versions v ON v.app_id = a.id WHERE a.name = 'site2' ORDER BY v.hlc")), JSON.stringify(n.db.query('SELECT * FROM sync_pending')));
      expect(new Set(digests).size, failHint).toBe(1);
      // nothing refused among honest nodes
      expect(nodes.flatMap((n) => n.logs.filter((l) => l.level !== 'info')), failHint).toEqual([]);

      // S13: every acknowledged write is present, knowingly overwritten, or kept as a conflict
      const n0 = nodes[0]!;
      const prevOf = new Map(writes.map((w) => [w.h, w.prev]));
      const losers = n0.db.query<{ app_id: string; kind: string; key: string; loser_hlc: string; loser: string | null }>('SELECT app_id, kind, key, loser_hlc, loser FROM sync_conflicts');
      const safe = new Set<string>();
      const chain = (h: string | null) => {
        for (let s = h; s && !safe.has(s); s = prevOf.get(s) ?? null) safe.add(s);
      };
      for (const l of losers) chain(l.loser_hlc);
      const finals = new Map<string, string | null>();
      for (const w of writes) {
        const id = `${w.kind}\u0000${w.app}\u0000${w.key}`;
        if (finals.has(id)) continue;
        const h = stampOf(n0, w.kind === 'kv' ? 'app_kv' : 'app_blobs', w.app, w.key);
        finals.set(id, h);
        chain(h);
      }
      // a write that lost to an equal value (two deletes, the same value twice) lost nothing
      const safeValues = new Set(writes.filter((w) => safe.has(w.h)).map((w) => `${w.kind}\u0000${w.app}\u0000${w.key}\u0000${w.v}`));
      for (const l of losers) safeValues.add(`${l.kind}\u0000${l.app_id}\u0000${l.key}\u0000${l.loser === null ? null : l.kind === 'blob' ? JSON.parse(l.loser) : l.loser}`);
      // (and what such a write knowingly overwrote is safe too): a fixpoint
      const vkey = (w: Write) => `${w.kind}\u0000${w.app}\u0000${w.key}\u0000${w.v}`;
      for (let grew = true; grew; ) {
        grew = false;
        for (const w of writes) {
          if (safe.has(w.h) || !safeValues.has(vkey(w))) continue;
          chain(w.h);
          grew = true;
        }
        for (const w of writes) if (safe.has(w.h)) safeValues.add(vkey(w));
      }
      const lost = writes.filter((w) => !safe.has(w.h));
      if (env.FAZT_SYNC_DEBUG && lost.length) {
        const w = lost[lost.length - 1]!;
        console.log('DBG lost', JSON.stringify(lost.filter((x) => x.key === w.key && x.app === w.app).slice(-3)));
        console.log('DBG writes', JSON.stringify(writes.filter((x) => x.key === w.key && x.app === w.app && x.kind === w.kind).map((x) => [x.h.slice(8), x.prev?.slice(8), x.v])));
        console.log('DBG final', JSON.stringify(n0.db.get(`SELECT * FROM ${w.kind === 'kv' ? 'app_kv' : 'app_blobs'} WHERE app_id = ? AND key = ?`, [w.app, w.key])));
        console.log('DBG conflicts', JSON.stringify(losers.filter((l) => l.key === w.key && l.app_id === w.app)));
      }
      expect(lost, failHint).toEqual([]);
      console.log(
        `sync fuzz on ${d.name} (seed ${SEED}): ${nodes.length} nodes, ${OPS} ops, ${writes.length} kv/blob writes, ${deploys} deploys, ${restarts} restarts, ${lies} lies refused, ${net.delivered} messages, ${losers.length} conflicts`,
      );
    }, 180_000);
  });
}
