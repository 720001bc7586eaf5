/**
 * Realtime on the real node over real HTTP (docs/realtime.md): an app's server code publishes from a
 * request, a scheduled job and an event handler; pages follow channels over one Server-Sent Events
 * stream each, on the app's own origin (`<name>.localhost`) and under `/a/<name>/`; a resume with
 * `Last-Event-ID` replays what was missed within the window and says `reset` when it cannot; another
 * app's origin is refused; channel, data and stream limits answer clear errors.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DATA_BYTES, RealtimeService, serveNodePath } from '../shared/realtime/index.js';
import { PACKAGE_ROOT } from './paths.js';
import { listDir } from './zip-dir.js';
import { createToken, deployZip, expectError, internalErrors, removeTempDirs, request, startTestNode, zip, type TestNode } from './test-helpers.js';

let t: TestNode;
let admin: string;

/** The test app: publishes from a request, from `on(event)` and from `scheduled(job)`. */
const LIVE_MAIN = `
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/api/publish' && request.method === 'POST') {
      const { channel, data } = await request.json();
      try {
        return await fazt.realtime.publish(channel, data);
      } catch (e) {
        return Response.json({ error: { code: e.code, message: e.message } }, { status: e.code === 'PAYLOAD_TOO_LARGE' ? 413 : 400 });
      }
    }
    if (url.pathname === '/api/emit') {
      await fazt.events.emit('item.added', { text: url.searchParams.get('text') });
      return { ok: true };
    }
    if (url.pathname === '/api/later') {
      return fazt.schedule.after(0, { text: url.searchParams.get('text') });
    }
    return new Response('no', { status: 404 });
  },
  async on(event) {
    await fazt.realtime.publish('events', { from: 'on', type: event.type, text: event.payload.text });
  },
  async scheduled(job) {
    await fazt.realtime.publish('jobs', { from: 'scheduled', text: job.state.text });
  },
};`;

const liveApp = (name: string) =>
  zip({
    'app.json': JSON.stringify({ name, events: { subscribe: ['item.added'] } }),
    'index.html': '<!doctype html><title>live</title>',
    'api/main.js': LIVE_MAIN,
  });

beforeAll(async () => {
  t = await startTestNode({ runtimeLimits: { cpuMs: 5000 } });
  admin = createToken(t, 'admin', 'realtime').token;
  for (const name of ['live', 'other']) expect((await deployZip(t, admin, liveApp(name))).status).toBe(201);
});

afterAll(async () => {
  await t?.stop();
  removeTempDirs();
});

/** One parsed server-sent event. */
interface Sse {
  event: string;
  id: string;
  data: string;
}

/** A real SSE client on node:http: collects events, lets a test wait for the next ones. */
interface SseClient {
  status: number;
  headers: http.IncomingHttpHeaders;
  events: Sse[];
  comments: string[];
  /** Resolves when `n` events (of `event`, default any) have arrived in total. */
  waitFor(n: number, event?: string, timeoutMs?: number): Promise<Sse[]>;
  /** The body, for an answer that is not a stream. */
  text(): Promise<string>;
  ended: Promise<void>;
  close(): void;
}

/** Opens `GET path` on the app's host (or the node's) and parses the event stream (WHATWG HTML §9.2). */
function sse(path: string, o: { host?: string; origin?: string; lastEventId?: string } = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (o.host) headers.host = `${o.host}:${t.port}`;
    if (o.origin) headers.origin = o.origin;
    if (o.lastEventId) headers['last-event-id'] = o.lastEventId;
    const req = http.get(`${t.url}${path}`, { headers }, (res) => {
      const events: Sse[] = [];
      const comments: string[] = [];
      const waiters = new Set<() => void>();
      let buf = '';
      let raw = '';
      let endResolve!: () => void;
      const ended = new Promise<void>((r) => (endResolve = r));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const e: Sse = { event: 'message', id: '', data: '' };
          const data: string[] = [];
          let any = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('event: ')) (e.event = line.slice(7)), (any = true);
            else if (line.startsWith('id: ')) (e.id = line.slice(4)), (any = true);
            else if (line.startsWith('data: ')) data.push(line.slice(6)), (any = true);
          }
          e.data = data.join('\n');
          if (any && (data.length || e.event !== 'message')) events.push(e);
        }
        for (const w of [...waiters]) w();
      });
      res.on('end', () => endResolve());
      res.on('close', () => endResolve());
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        comments,
        ended,
        waitFor(n, event, timeoutMs = 5000) {
          const pick = () => events.filter((e) => !event || e.event === event);
          return new Promise((ok, fail) => {
            const check = () => {
              if (pick().length >= n) {
                waiters.delete(check);
                clearTimeout(timer);
                ok(pick());
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`waited ${timeoutMs} ms for ${n} ${event ?? ''} events; got ${JSON.stringify(events)}`));
            }, timeoutMs);
            waiters.add(check);
            check();
          });
        },
        async text() {
          await ended;
          return raw;
        },
        close() {
          req.destroy();
        },
      });
    });
    req.on('error', reject);
  });
}

const publish = (app: string, channel: unknown, data: unknown) =>
  request(`${t.url}/api/publish`, { method: 'POST', json: { channel, data }, headers: { host: `${app}.localhost:${t.port}` } });

const messages = (events: Sse[]) => events.filter((e) => e.event === 'message').map((e) => ({ id: e.id, ...JSON.parse(e.data) }));

describe('realtime over SSE on the real node', () => {
  it('one publish reaches two pages on the app origin and under /a/<name>/, in order, with the app origin only', async () => {
    const a = await sse('/_fazt/realtime?channels=list,other', { host: 'live.localhost' });
    const b = await sse('/a/live/_fazt/realtime?channels=list');
    expect(a.status).toBe(200);
    expect(a.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(b.headers['access-control-allow-origin']).toBe('*'); // the sandboxed page under /a/ reads it
    await Promise.all([a.waitFor(1, 'ready'), b.waitFor(1, 'ready')]);
    const r1 = await publish('live', 'list', { text: 'milk' });
    expect(r1.status).toBe(200);
    expect(r1.json()).toMatchObject({ delivered: 2 });
    await publish('live', 'list', { text: 'bread' });
    const [ma, mb] = await Promise.all([a.waitFor(3), b.waitFor(3)]);
    expect(messages(ma)).toEqual([
      { id: r1.json().id, channel: 'list', data: { text: 'milk' } },
      { id: expect.any(String), channel: 'list', data: { text: 'bread' } },
    ]);
    expect(messages(mb).map((m) => m.data.text)).toEqual(['milk', 'bread']);
    // the same channel name in another app is another channel
    const o = await publish('other', 'list', { text: 'not yours' });
    expect(o.json().delivered).toBe(0);
    a.close();
    b.close();
  });

  it('publishes from a request, an event handler and a scheduled job', async () => {
    const s = await sse('/_fazt/realtime?channels=events,jobs', { host: 'live.localhost' });
    await s.waitFor(1, 'ready');
    expect((await request(`${t.url}/a/live/api/emit?text=e1`)).status).toBe(200);
    await s.waitFor(1, 'message', 10_000); // the bus delivers on its own
    expect((await request(`${t.url}/a/live/api/later?text=j1`)).status).toBe(200);
    await t.node.kernel.scheduler.tick();
    const got = messages(await s.waitFor(2, 'message', 10_000));
    expect(got.map((m) => [m.channel, m.data])).toEqual([
      ['events', { from: 'on', type: 'item.added', text: 'e1' }],
      ['jobs', { from: 'scheduled', text: 'j1' }],
    ]);
    s.close();
  });

  it('a page that reconnects with Last-Event-ID gets what was published meanwhile, and only that', async () => {
    const first = await sse('/_fazt/realtime?channels=resume', { host: 'live.localhost' });
    const ready = (await first.waitFor(1, 'ready'))[0]!;
    await publish('live', 'resume', 1);
    const seen = messages(await first.waitFor(2));
    first.close();
    await first.ended;
    await publish('live', 'resume', 2);
    await publish('live', 'elsewhere', 'not followed');
    await publish('live', 'resume', 3);
    const again = await sse('/_fazt/realtime?channels=resume', { host: 'live.localhost', lastEventId: seen[0]!.id });
    const evs = await again.waitFor(1, 'ready');
    expect(messages(again.events).map((m) => m.data)).toEqual([2, 3]);
    expect(again.events.some((e) => e.event === 'reset')).toBe(false);
    // the query form (a page opening a new stream) is the same
    const q = await sse(`/_fazt/realtime?channels=resume&lastEventId=${encodeURIComponent(ready.id)}`, { host: 'live.localhost' });
    await q.waitFor(1, 'ready');
    expect(messages(q.events).map((m) => m.data)).toEqual([1, 2, 3]);
    // the ready event carries the head, so a page that saw nothing still resumes from there
    expect(evs.at(-1)!.id).toBe(JSON.parse(evs.at(-1)!.data).id);
    again.close();
    q.close();
  });

  it('says reset when the id is from before a restart, unknown, or older than the window', async () => {
    const restarted = await sse('/_fazt/realtime?channels=resume', { host: 'live.localhost', lastEventId: 'zzzz-5' });
    const r = (await restarted.waitFor(1, 'reset'))[0]!;
    expect(JSON.parse(r.data)).toEqual({ reason: 'restarted', channels: ['resume'] });
    await restarted.waitFor(1, 'ready');
    restarted.close();
    const epoch = t.node.kernel.realtime.epoch;
    const unknown = await sse('/_fazt/realtime?channels=resume', { host: 'live.localhost', lastEventId: `${epoch}-999999` });
    expect(JSON.parse((await unknown.waitFor(1, 'reset'))[0]!.data).reason).toBe('unknown');
    unknown.close();
    // the window keeps 100 messages per channel: 150 later, the first 50 are gone
    const start = await sse('/_fazt/realtime?channels=flood', { host: 'live.localhost' });
    const head = (await start.waitFor(1, 'ready'))[0]!.id;
    start.close();
    for (let i = 0; i < 150; i++) t.node.kernel.realtime.publish(t.node.kernel.apps.require('live').id, 'flood', i);
    const late = await sse('/_fazt/realtime?channels=flood', { host: 'live.localhost', lastEventId: head });
    await late.waitFor(1, 'ready');
    expect(JSON.parse(late.events.find((e) => e.event === 'reset')!.data)).toEqual({ reason: 'expired', channels: ['flood'] });
    expect(messages(late.events).map((m) => m.data)).toEqual(Array.from({ length: 100 }, (_, i) => i + 50));
    late.close();
  });

  it("refuses a page of another app's origin, and keeps apps apart", async () => {
    const liveStreams = () => t.node.kernel.realtime.streams(t.node.kernel.apps.require('live').id);
    await expect.poll(liveStreams).toBe(0); // the streams of the tests before have been released
    const before = liveStreams();
    const cross = await sse('/_fazt/realtime?channels=list', { host: 'live.localhost', origin: `http://other.localhost:${t.port}` });
    expect(cross.status).toBe(403);
    expect(JSON.parse(await cross.text()).error.code).toBe('FORBIDDEN');
    expect(liveStreams()).toBe(before); // nothing subscribed
    // a foreign origin under /a/ too; a sandboxed page's "null" origin is accepted there only
    expect((await sse('/a/live/_fazt/realtime?channels=list', { origin: 'http://evil.example' })).status).toBe(403);
    expect((await sse('/_fazt/realtime?channels=list', { host: 'live.localhost', origin: 'null' })).status).toBe(403);
    const sandboxed = await sse('/a/live/_fazt/realtime?channels=list', { origin: 'null' });
    expect(sandboxed.status).toBe(200);
    sandboxed.close();
    // the page's own origin is fine
    const own = await sse('/_fazt/realtime?channels=list', { host: 'live.localhost', origin: `http://live.localhost:${t.port}` });
    expect(own.status).toBe(200);
    // what the other app publishes on "list" never reaches live's stream
    await own.waitFor(1, 'ready');
    await publish('other', 'list', 'other app');
    await publish('live', 'list', 'live app');
    expect(messages(await own.waitFor(2)).map((m) => m.data)).toEqual(['live app']);
    own.close();
  });

  it('answers bad channels, too much data and a full stream cap with clear errors', async () => {
    const noChannels = await request(`${t.url}/_fazt/realtime`, { headers: { host: `live.localhost:${t.port}` } });
    expectError(noChannels, 400, 'BAD_REQUEST', /channels=a,b/);
    expectError(await request(`${t.url}/a/live/_fazt/realtime?channels=a,b%20c`), 400, 'BAD_REQUEST', /not a channel name/);
    const many = Array.from({ length: 33 }, (_, i) => `c${i}`).join(',');
    expectError(await request(`${t.url}/a/live/_fazt/realtime?channels=${many}`), 400, 'BAD_REQUEST', /at most 32 channels/);
    expectError(await request(`${t.url}/a/live/_fazt/realtime?channels=a`, { method: 'POST' }), 405, 'METHOD_NOT_ALLOWED');
    expectError(await request(`${t.url}/a/live/_fazt/nothing`), 404, 'NOT_FOUND');
    // from app code: the FaztError reaches the handler with its code
    expectError(await publish('live', '../x', 1), 400, 'INVALID_ARGUMENT', /not a channel name/);
    expectError(await publish('live', 'x'.repeat(65), 1), 400, 'INVALID_ARGUMENT');
    expectError(await publish('live', 'big', 'x'.repeat(MAX_DATA_BYTES)), 413, 'PAYLOAD_TOO_LARGE', /at most 65536/);
    expect((await publish('live', 'big', 'x'.repeat(MAX_DATA_BYTES - 2))).status).toBe(200); // the quotes make 64 KiB exactly
    // the stream cap, per app
    const rt = t.node.kernel.realtime;
    const liveId = t.node.kernel.apps.require('live').id;
    const holds: (() => void)[] = [];
    while (rt.streams(liveId) < rt.options.maxStreamsPerApp) holds.push(rt.acquireStream(liveId, 'live'));
    const full = await request(`${t.url}/a/live/_fazt/realtime?channels=a`);
    expectError(full, 429, 'RATE_LIMITED', /realtime streams open/);
    expect(full.headers['retry-after']).toBe('5');
    holds.forEach((h) => h());
    await expect.poll(() => rt.streams(liveId)).toBe(0);
  });

  it('serves the page client and closes streams when the client goes away or the app is removed', async () => {
    const js = await request(`${t.url}/_fazt/realtime.js`, { headers: { host: `live.localhost:${t.port}` } });
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.text()).toContain('new EventSource(url)');
    const liveId = t.node.kernel.apps.require('live').id;
    const s = await sse('/_fazt/realtime?channels=list', { host: 'live.localhost' });
    await s.waitFor(1, 'ready');
    expect(t.node.kernel.realtime.streams(liveId)).toBe(1);
    s.close();
    await expect.poll(() => t.node.kernel.realtime.streams(liveId)).toBe(0);
    const kept = await sse('/_fazt/realtime?channels=list', { host: 'other.localhost' });
    await kept.waitFor(1, 'ready');
    const del = await request(`${t.url}/api/apps/other`, { method: 'DELETE', token: admin });
    expect(del.status).toBeLessThan(300);
    await kept.ended; // the node ended the stream
    expect(kept.comments).toContain('closed by the node');
    expect(internalErrors(t)).toEqual([]);
  });
});

describe('examples/live-list', () => {
  it('publishes every add and remove to the pages following "items"', async () => {
    const files: Record<string, Uint8Array> = {};
    for (const f of listDir(join(PACKAGE_ROOT, 'examples', 'live-list'))) files[f.path] = readFileSync(f.abs);
    const d = await deployZip(t, admin, zip(files));
    expect(d.status, d.text()).toBe(201);
    const host = { headers: { host: `live-list.localhost:${t.port}` } };
    const page = await request(`${t.url}/`, host);
    expect(page.text()).toContain('<script src="_fazt/realtime.js"></script>');
    const tab = await sse('/_fazt/realtime?channels=items', { host: 'live-list.localhost' });
    await tab.waitFor(1, 'ready');
    const added = await request(`${t.url}/api/items`, { method: 'POST', json: { text: 'milk' }, ...host });
    expect(added.status).toBe(201);
    const item = added.json();
    expectError(await request(`${t.url}/api/items`, { method: 'POST', json: { text: ' ' }, ...host }), 400, 'INVALID_ITEM');
    expect((await request(`${t.url}/api/items/${item.id}`, { method: 'DELETE', ...host })).status).toBe(204);
    expect(messages(await tab.waitFor(3)).map((m) => m.data)).toEqual([
      { op: 'add', item },
      { op: 'remove', id: item.id },
    ]);
    expect((await request(`${t.url}/api/items`, host)).json()).toEqual({ items: [] });
    tab.close();
  });
});

describe('RealtimeService', () => {
  it('drops messages older than the window and says so on resume', () => {
    let now = 1_000_000;
    const rt = new RealtimeService({ replayMs: 1000, now: () => now });
    const got: number[] = [];
    const sub = { channels: new Set(['a']), deliver: (m: { json: string }) => got.push(JSON.parse(m.json)) };
    const s0 = rt.subscribe('app', sub);
    rt.publish('app', 'a', 1);
    now += 600;
    rt.publish('app', 'a', 2);
    now += 600; // message 1 is 1200 ms old now
    s0.unsubscribe();
    const r = rt.subscribe('app', { channels: new Set(['a', 'b']), deliver: () => {} }, s0.head);
    expect(r.replay.map((m) => JSON.parse(m.json))).toEqual([2]);
    expect(r.reset).toEqual({ reason: 'expired', channels: ['a'] });
    expect(got).toEqual([1, 2]);
    // a channel that had nothing published loses nothing, however long the page was away
    now += 60_000;
    expect(rt.subscribe('app', { channels: new Set(['b']), deliver: () => {} }, s0.head).reset).toBeUndefined();
  });

  it('drops the least recently published channel buffer beyond maxChannelsKept, and resumes over it say reset', () => {
    const rt = new RealtimeService({ maxChannelsKept: 2 });
    const head = rt.subscribe('app', { channels: new Set(['x']), deliver: () => {} }).head;
    rt.publish('app', 'a', 1);
    rt.publish('app', 'b', 2);
    rt.publish('app', 'c', 3); // "a" loses its buffer
    const r = rt.subscribe('app', { channels: new Set(['a']), deliver: () => {} }, head);
    expect(r.reset?.reason).toBe('expired');
    const c = rt.subscribe('app', { channels: new Set(['c']), deliver: () => {} }, head);
    expect(c.replay.map((m) => m.json)).toEqual(['3']);
  });

  it('sends heartbeats on idle streams, and ends a stream that falls too far behind (it resumes on reconnect)', async () => {
    const rt = new RealtimeService({ heartbeatMs: 30, maxQueuedEvents: 5 });
    const open = () => {
      const url = new URL('http://app.localhost/_fazt/realtime?channels=a');
      return serveNodePath(rt, new Request(url), url, { id: 'app', name: 'app' }, url.pathname, { basePath: '', headers: {} });
    };
    const idle = open().body!.getReader();
    const dec = new TextDecoder();
    let text = '';
    while (!text.includes(': heartbeat')) text += dec.decode((await idle.read()).value);
    await idle.cancel();
    expect(rt.streams('app')).toBe(0);
    // a reader that never reads: 5 events queued beyond the start are its allowance
    const slow = open();
    expect(rt.streams('app')).toBe(1);
    for (let i = 0; i < 20; i++) rt.publish('app', 'a', i);
    expect(rt.streams('app')).toBe(0); // ended and released at once
    const body = await slow.text();
    expect(body).toContain(': too far behind; reconnect with Last-Event-ID');
    expect(body.match(/^data: \{"channel"/gm)!.length).toBeLessThan(20);
    const ready = /id: (\S+)\nevent: ready/.exec(body)![1]!;
    const again = rt.subscribe('app', { channels: new Set(['a']), deliver: () => {} }, ready);
    expect(again.replay.map((m) => JSON.parse(m.json))).toEqual(Array.from({ length: 20 }, (_, i) => i));
    again.unsubscribe();
  });

  it('refuses data that is not JSON', () => {
    const rt = new RealtimeService();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => rt.publish('app', 'a', cyclic)).toThrow(/cannot be sent as JSON/);
    expect(() => rt.publish('app', 'a', 10n)).toThrow(/cannot be sent as JSON/);
    expect(rt.publish('app', 'a', undefined).id).toMatch(/-1$/);
  });
});
