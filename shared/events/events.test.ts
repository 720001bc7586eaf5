import { faztError as fazt } from '../testing/errors.js';
import { describe, expect, it } from 'vitest';
import { drivers, type DriverFactory } from '../testing/drivers.js';
import { openCartridge, type Cartridge } from '../cartridge/index.js';
import { AppRegistry } from '../apps/registry.js';
import { AppManifestSchema } from '../apps/manifest.js';
import { FaztError } from '../errors.js';
import type { InvokeExport } from '../lib/invoke.js';
import type { HostTimers } from '../schedule/index.js';
import type { SqlDatabase } from '../sql/index.js';
import { EventBus, validateEventSchemas, type EventBusOptions, type EventRecord } from './index.js';

const T0 = Date.UTC(2024, 0, 1, 12);

class FakeClock {
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
}

function fakeTimers() {
  const live = new Map<number, () => void>();
  let seq = 0;
  const timers: HostTimers = {
    setTimeout(fn) {
      live.set(++seq, fn);
      return seq;
    },
    clearTimeout(h) {
      live.delete(h as number);
    },
  };
  return {
    timers,
    live,
    fire() {
      const due = [...live.values()];
      live.clear();
      for (const f of due) f();
    },
  };
}

/** Stand-in for the sandbox: records deliveries; can fail per app (a number of times, or always). */
function recorder() {
  const calls: { appId: string; exportName: string; event: EventRecord }[] = [];
  const failures = new Map<string, { times: number; error: Error }>();
  const state = { active: new Map<string, number>(), maxPerApp: 0, delay: 0 };
  const invoke: InvokeExport = async (appId, exportName, arg) => {
    calls.push({ appId, exportName, event: arg as EventRecord });
    const n = (state.active.get(appId) ?? 0) + 1;
    state.active.set(appId, n);
    state.maxPerApp = Math.max(state.maxPerApp, n);
    try {
      await (state.delay ? new Promise((r) => setTimeout(r, state.delay)) : Promise.resolve());
      const f = failures.get(appId);
      if (f && f.times > 0) {
        f.times--;
        throw f.error;
      }
    } finally {
      state.active.set(appId, state.active.get(appId)! - 1);
    }
  };
  return { calls, invoke, failures, state };
}

interface Fixture {
  db: SqlDatabase;
  clock: FakeClock;
  cart: Cartridge;
  apps: AppRegistry;
  grants: Map<string, string[]>;
  rec: ReturnType<typeof recorder>;
  ft: ReturnType<typeof fakeTimers>;
  bus: EventBus;
  deploy(name: string, manifest: Record<string, unknown>): string;
}

async function setup(d: DriverFactory, opts: EventBusOptions = {}, db?: SqlDatabase, clock = new FakeClock(T0)): Promise<Fixture> {
  db ??= await d.open();
  const cart = openCartridge(db, { clock });
  const apps = new AppRegistry(cart);
  const grants = new Map<string, string[]>();
  const rec = recorder();
  const ft = fakeTimers();
  const bus = new EventBus(cart, apps, (id) => grants.get(id) ?? [], rec.invoke, { timers: ft.timers, ...opts });
  const deploy = (name: string, manifest: Record<string, unknown>) => apps.commitVersion(name, AppManifestSchema.parse(manifest), new Map(), 'tree-' + name).app.id;
  return { db, clock, cart, apps, grants, rec, ft, bus, deploy };
}


const NOTE_SCHEMA = { type: 'object', required: ['title'], properties: { title: { type: 'string', maxLength: 20 }, tags: { type: 'array', items: { type: 'string' } } } };

for (const d of drivers) {
  describe(`events on ${d.name}`, () => {
    it('delivers an app its own events only for the types it subscribed to', async () => {
      const f = await setup(d);
      const notes = f.deploy('notes', { events: { subscribe: ['note.created'] } });
      const other = f.deploy('other', { events: { subscribe: ['note.created'] } }); // its own note.created, not notes'
      const ev = f.bus.emit(notes, 'note.created', { title: 'hi' });
      expect(ev).toEqual({ id: expect.any(String), app: 'notes', appId: notes, type: 'note.created', payload: { title: 'hi' }, createdAt: T0 });
      f.bus.emit(notes, 'note.deleted', { id: 1 });
      expect(f.bus.subscribersOf(notes, 'note.created')).toEqual([notes]);
      expect(f.bus.subscribersOf(notes, 'note.deleted')).toEqual([]);
      expect(f.bus.subscribersOf(other, 'note.created')).toEqual([other]);
      expect(f.bus.pendingCount()).toBe(1);
      expect(await f.bus.drain()).toBe(1);
      expect(f.rec.calls).toEqual([{ appId: notes, exportName: 'on', event: ev }]);
      expect(f.bus.deliveries(ev.id)).toEqual([{ eventId: ev.id, appId: notes, status: 'done', attempts: 1, nextAt: T0, lastError: null }]);
    });

    it('never delivers an app its own event when it did not subscribe to it', async () => {
      const f = await setup(d);
      const notes = f.deploy('notes', { events: { subscribe: ['other-app:note.created'] } });
      f.bus.emit(notes, 'note.created', null);
      expect(f.bus.pendingCount()).toBe(0);
      expect(await f.bus.drain()).toBe(0);
    });

    it('delivers another app\'s events only with the owner\'s events:<app> grant', async () => {
      const f = await setup(d);
      const notes = f.deploy('notes', {});
      const logger = f.deploy('logger', { permissions: ['events:notes'], events: { subscribe: ['notes:note.created'] } });
      f.bus.emit(notes, 'note.created', { n: 1 });
      expect(f.bus.pendingCount()).toBe(0); // requested in app.json, not granted: nothing
      f.grants.set(logger, ['events:other']);
      f.bus.emit(notes, 'note.created', { n: 2 });
      expect(f.bus.pendingCount()).toBe(0);
      f.grants.set(logger, ['events:notes']);
      const ev = f.bus.emit(notes, 'note.created', { n: 3 });
      f.bus.emit(notes, 'note.updated', { n: 4 }); // not subscribed
      await f.bus.drain();
      expect(f.rec.calls.map((c) => [c.appId, c.event.id])).toEqual([[logger, ev.id]]);
    });

    it('wildcards: "<app>:*" receives every type of that app, "*" every own type', async () => {
      const f = await setup(d);
      const notes = f.deploy('notes', { events: { subscribe: ['*'] } });
      const blog = f.deploy('blog', {});
      const feed = f.deploy('feed', { events: { subscribe: ['notes:*'] } });
      f.grants.set(feed, ['events:notes']);
      f.bus.emit(notes, 'a', 1);
      f.bus.emit(notes, 'b.c', 2);
      f.bus.emit(blog, 'a', 3);
      await f.bus.drain();
      const got = (app: string) => f.rec.calls.filter((c) => c.appId === app).map((c) => c.event.payload);
      expect(got(feed)).toEqual([1, 2]);
      expect(got(notes)).toEqual([1, 2]);
      expect(got(blog)).toEqual([]);
    });

    it('matches the emitter by alias too, and follows the live version\'s manifest', async () => {
      const f = await setup(d);
      const notes = f.deploy('notes', {});
      f.apps.addAlias('notes', 'jottings');
      const feed = f.deploy('feed', { events: { subscribe: ['jottings:x'] } });
      f.grants.set(feed, ['events:jottings']);
      expect(f.bus.subscribersOf(notes, 'x')).toEqual([feed]);
      f.deploy('feed', {}); // v2 drops the subscription
      expect(f.bus.subscribersOf(notes, 'x')).toEqual([]);
      f.apps.rollback('feed'); // back to v1
      expect(f.bus.subscribersOf(notes, 'x')).toEqual([feed]);
    });

    it('validates payloads against the emitter\'s declared schema', async () => {
      const f = await setup(d);
      const notes = f.deploy('notes', { events: { emits: { 'note.created': NOTE_SCHEMA } } });
      let e = fazt(() => f.bus.emit(notes, 'note.created', { tags: ['a', 3] }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toBe(
        'event "note.created" payload does not match its schema: #: Instance does not have required property "title"; #/tags/1: Instance type "number" is invalid. Expected "string"',
      );
      e = fazt(() => f.bus.emit(notes, 'note.created', { title: 'x'.repeat(21) }));
      expect(e.message).toMatch(/#\/title: String is too long/);
      expect(f.bus.emit(notes, 'note.created', { title: 'ok', tags: ['a'] }).payload).toEqual({ title: 'ok', tags: ['a'] });
      expect(f.bus.emit(notes, 'undeclared', 'anything').payload).toBe('anything');
      expect(f.bus.recent(notes).length).toBe(2); // rejected events are not stored
    });

    it('rejects malformed types, oversized or non-JSON payloads and unknown apps', async () => {
      const f = await setup(d);
      const notes = f.deploy('notes', {});
      for (const t of ['', 'a b', 'x'.repeat(101), 'notes:x', 'é']) expect(fazt(() => f.bus.emit(notes, t, 1)).code).toBe('INVALID_ARGUMENT');
      expect(fazt(() => f.bus.emit(notes, 'x', 'y'.repeat(64 * 1024))).code).toBe('LIMIT_EXCEEDED');
      expect(fazt(() => f.bus.emit(notes, 'x', { n: 1n })).code).toBe('INVALID_ARGUMENT');
      expect(fazt(() => f.bus.emit('no-such-id', 'x', 1)).code).toBe('APP_NOT_FOUND');
      expect(f.bus.emit(notes, 'x', undefined).payload).toBeNull();
      expect(f.bus.emit(notes, 'x', { when: new Date(T0) }).payload).toEqual({ when: new Date(T0).toISOString() });
    });

    it('rejects unusable schemas at deploy time (validateEventSchemas)', () => {
      validateEventSchemas({ emits: { a: NOTE_SCHEMA } });
      validateEventSchemas(undefined);
      let err: unknown;
      try {
        validateEventSchemas({ emits: { 'x.y': { $ref: '#/$defs/missing' } } });
      } catch (e) {
        err = e;
      }
      expect((err as FaztError).code).toBe('INVALID_MANIFEST');
      expect((err as FaztError).message).toMatch(/events\.emits\["x\.y"\] is not a usable JSON Schema/);
    });

    it('retries a failing delivery with exponential backoff, then marks it failed', async () => {
      const f = await setup(d, { retryBaseMs: 1000, maxAttempts: 3 });
      const notes = f.deploy('notes', { events: { subscribe: ['ping'] } });
      f.rec.failures.set(notes, { times: Infinity, error: new FaztError('APP_ERROR', 'on() threw') });
      const ev = f.bus.emit(notes, 'ping', {});
      expect(await f.bus.drain()).toBe(1);
      expect(f.bus.deliveries(ev.id)[0]).toMatchObject({ status: 'pending', attempts: 1, nextAt: T0 + 1000, lastError: 'APP_ERROR: on() threw' });
      expect(await f.bus.drain()).toBe(0); // not due yet
      f.clock.t = T0 + 1000;
      expect(await f.bus.drain()).toBe(1);
      expect(f.bus.deliveries(ev.id)[0]).toMatchObject({ status: 'pending', attempts: 2, nextAt: T0 + 1000 + 2000 });
      f.clock.t = T0 + 3000;
      expect(await f.bus.drain()).toBe(1);
      expect(f.bus.deliveries(ev.id)[0]).toMatchObject({ status: 'failed', attempts: 3, lastError: 'APP_ERROR: on() threw' });
      f.clock.t = T0 + 100_000;
      expect(await f.bus.drain()).toBe(0);
      expect(f.rec.calls.length).toBe(3);
    });

    it('fails at once when the subscriber has no on() export', async () => {
      const f = await setup(d);
      const notes = f.deploy('notes', { events: { subscribe: ['ping'] } });
      f.rec.failures.set(notes, { times: Infinity, error: new FaztError('NO_HANDLER', 'no "on" export') });
      const ev = f.bus.emit(notes, 'ping', {});
      await f.bus.drain();
      expect(f.bus.deliveries(ev.id)[0]).toMatchObject({ status: 'failed', attempts: 1 });
    });

    it('delivers in emission order per subscriber; a retrying delivery holds back later ones', async () => {
      const f = await setup(d, { retryBaseMs: 1000 });
      const notes = f.deploy('notes', {});
      const a = f.deploy('sub-a', { events: { subscribe: ['notes:*'] } });
      const b = f.deploy('sub-b', { events: { subscribe: ['notes:*'] } });
      f.grants.set(a, ['events:notes']);
      f.grants.set(b, ['events:notes']);
      f.rec.failures.set(a, { times: 1, error: new Error('transient') });
      f.rec.state.delay = 1;
      const ids = [1, 2, 3, 4, 5].map((n) => f.bus.emit(notes, 'n', n).id);
      expect([...ids].sort()).toEqual(ids); // ids sort in emission order
      await f.bus.drain();
      const got = (app: string) => f.rec.calls.filter((c) => c.appId === app).map((c) => c.event.payload);
      expect(got(b)).toEqual([1, 2, 3, 4, 5]); // b is not held up by a's failure (isolation)
      expect(got(a)).toEqual([1]);
      f.clock.t = T0 + 1000;
      await f.bus.drain();
      expect(got(a)).toEqual([1, 1, 2, 3, 4, 5]);
      expect(f.rec.state.maxPerApp).toBe(1);
    });

    it('checks subscription and grant again at delivery time', async () => {
      const f = await setup(d);
      const notes = f.deploy('notes', {});
      const spy = f.deploy('spy', { events: { subscribe: ['notes:secret'] } });
      f.grants.set(spy, ['events:notes']);
      const ev = f.bus.emit(notes, 'secret', { s: 1 });
      f.grants.set(spy, []); // the owner revokes before delivery
      await f.bus.drain();
      expect(f.rec.calls).toEqual([]);
      expect(f.bus.deliveries(ev.id)[0]).toMatchObject({ status: 'failed', lastError: expect.stringMatching(/permission/) });
    });

    it('survives a restart: a new bus on the same database delivers what was pending', async () => {
      const first = await setup(d);
      const notes = first.deploy('notes', { events: { subscribe: ['ping'] } });
      first.bus.emit(notes, 'ping', 1);
      first.bus.emit(notes, 'ping', 2);
      // the node stops before dispatching
      const second = await setup(d, {}, first.db, new FakeClock(T0 + 60_000));
      expect(second.bus.pendingCount()).toBe(2);
      second.bus.start();
      expect(second.ft.live.size).toBe(1);
      second.ft.fire();
      await second.bus.drain();
      expect(second.rec.calls.map((c) => c.event.payload)).toEqual([1, 2]);
      expect(second.bus.pendingCount()).toBe(0);
      expect(second.ft.live.size).toBe(0); // idle: no timer
      await second.bus.stop();
      expect(first.rec.calls).toEqual([]);
    });

    it('dispatches asynchronously after emit when started (real timers)', async () => {
      const db = await d.open();
      const cart = openCartridge(db);
      const apps = new AppRegistry(cart);
      const rec = recorder();
      const bus = new EventBus(cart, apps, () => [], rec.invoke);
      const notes = apps.commitVersion('notes', AppManifestSchema.parse({ events: { subscribe: ['ping'] } }), new Map(), 't').app.id;
      bus.start();
      bus.emit(notes, 'ping', 'hello');
      expect(rec.calls.length).toBe(0); // emit returned before any delivery
      await expect.poll(() => rec.calls.length, { timeout: 2000 }).toBe(1);
      await expect.poll(() => bus.pendingCount()).toBe(0);
      await bus.stop();
    });

    it('recent() lists events newest first, per app, bounded', async () => {
      const f = await setup(d);
      const notes = f.deploy('notes', {});
      const blog = f.deploy('blog', {});
      for (let i = 0; i < 5; i++) f.bus.emit(i % 2 ? blog : notes, 'e', i);
      expect(f.bus.recent(undefined, 10).map((e) => e.payload)).toEqual([4, 3, 2, 1, 0]);
      expect(f.bus.recent(notes).map((e) => [e.app, e.payload])).toEqual([
        ['notes', 4],
        ['notes', 2],
        ['notes', 0],
      ]);
      expect(f.bus.recent(undefined, 2).length).toBe(2);
      expect(f.bus.recent(undefined, 0).length).toBe(1);
      f.apps.rename('notes', 'jottings');
      expect(f.bus.recent(notes, 1)[0]!.app).toBe('jottings');
    });
  });
}
