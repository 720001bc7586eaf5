/**
 * The frame bridge's response streaming (web/frame/streams.ts, and bridge.ts's fetch/read/cancel
 * over a real MessageChannel in comlink's wire format, as the frame runtime speaks it): whole vs
 * streamed answers, order, chunk bound, pull-only reads (backpressure), cancel reaching the
 * upstream, the open-body limit, close, and ids that mean nothing on another frame's port.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FrameBridge, serveBridge } from './bridge.js';
import type { AppSource } from './source.js';
import { BodyStreamError, BodyStreams, MAX_BODY_CHUNK, MAX_OPEN_BODIES } from './streams.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A body the test feeds by hand; records how often it was pulled and why it was cancelled. */
function manualBody() {
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const seen = { pulls: 0, cancelled: undefined as unknown, isCancelled: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        ctl = c;
      },
      pull() {
        seen.pulls++;
      },
      cancel(reason) {
        seen.isCancelled = true;
        seen.cancelled = reason;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, push: (s: string | Uint8Array) => ctl.enqueue(typeof s === 'string' ? enc.encode(s) : s), end: () => ctl.close(), fail: (e: Error) => ctl.error(e), seen };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('BodyStreams', () => {
  it('a body that is already there comes back whole; an empty or missing body as 0 bytes', async () => {
    const t = new BodyStreams();
    const r = await t.open(new Response('{"ok":true}').body);
    expect('whole' in r && dec.decode(r.whole)).toBe('{"ok":true}');
    expect(await t.open(null)).toEqual({ whole: new ArrayBuffer(0) });
    expect(t.size).toBe(0);
  });

  it('a body that goes on: head now, then the pieces in order, read from upstream only when asked', async () => {
    const t = new BodyStreams({ inlineWaitMs: 5 });
    const up = manualBody();
    up.push('data: one\n\n');
    const opened = await t.open(up.stream);
    if (!('stream' in opened)) throw new Error('expected a stream');
    expect(dec.decode(opened.head)).toBe('data: one\n\n');
    await tick(20);
    const pullsBefore = up.seen.pulls; // nothing asked: the host does not read ahead
    await tick(30);
    expect(up.seen.pulls).toBe(pullsBefore);
    const next = t.read(opened.stream);
    up.push('data: two\n\n');
    expect(dec.decode((await next).chunk!)).toBe('data: two\n\n');
    // a second read while one waits is refused
    const third = t.read(opened.stream);
    await expect(t.read(opened.stream)).rejects.toThrow(/already waiting/);
    up.push('data: three\n\n');
    expect(dec.decode((await third).chunk!)).toBe('data: three\n\n');
    up.end();
    expect(await t.read(opened.stream)).toEqual({ chunk: null, done: true });
    expect(t.size).toBe(0);
    await expect(t.read(opened.stream)).rejects.toThrow(BodyStreamError);
  });

  it('backpressure: after the head, the host pulls its upstream once per read of the frame, never ahead', async () => {
    const t = new BodyStreams();
    let pulls = 0;
    const endless = new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(1024).fill(++pulls % 256)) }, { highWaterMark: 0 });
    const opened = await t.open(endless);
    if (!('stream' in opened)) throw new Error('expected a stream');
    expect(opened.head.byteLength).toBeLessThanOrEqual(MAX_BODY_CHUNK);
    const afterOpen = pulls; // the inline wait read up to 64 KiB and stopped
    expect(afterOpen).toBeLessThanOrEqual(66);
    await tick(50);
    expect(pulls).toBe(afterOpen);
    let got = 0;
    for (let i = 0; i < 5; i++) got += (await t.read(opened.stream)).chunk!.byteLength;
    expect(got).toBeGreaterThan(0);
    expect(pulls).toBeLessThanOrEqual(afterOpen + 5);
    await tick(50);
    expect(pulls).toBeLessThanOrEqual(afterOpen + 5);
    await t.cancel(opened.stream);
  });

  it('no piece is over 64 KiB: a big upstream chunk is split, the bytes are the same', async () => {
    const t = new BodyStreams();
    const big = new Uint8Array(200_000).map((_, i) => i % 251);
    const opened = await t.open(new Response(big).body);
    if (!('stream' in opened)) throw new Error('a body over 64 KiB is streamed');
    const parts = [new Uint8Array(opened.head)];
    for (;;) {
      const r = await t.read(opened.stream);
      if (r.done) break;
      parts.push(new Uint8Array(r.chunk!));
    }
    expect(Math.max(...parts.map((p) => p.byteLength))).toBeLessThanOrEqual(MAX_BODY_CHUNK);
    expect(parts.every((p) => p.byteLength > 0)).toBe(true);
    expect(Buffer.concat(parts).equals(Buffer.from(big))).toBe(true);
  });

  it('cancel reaches the upstream and closes the id; an upstream error rejects the read', async () => {
    const t = new BodyStreams();
    const up = manualBody();
    const opened = await t.open(up.stream);
    if (!('stream' in opened)) throw new Error('expected a stream');
    await t.cancel(opened.stream);
    expect(up.seen.isCancelled).toBe(true);
    await expect(t.read(opened.stream)).rejects.toThrow(/No open response body/);
    await t.cancel(opened.stream); // again: a no-op

    const bad = manualBody();
    const o2 = await t.open(bad.stream);
    if (!('stream' in o2)) throw new Error('expected a stream');
    const r = t.read(o2.stream);
    bad.fail(new Error('stream cut'));
    await expect(r).rejects.toThrow('stream cut');
    expect(t.size).toBe(0);
  });

  it(`at most ${MAX_OPEN_BODIES} bodies open per frame: one more fails and its upstream is cancelled; close cancels all`, async () => {
    const t = new BodyStreams({ inlineWaitMs: 1 });
    const ups = Array.from({ length: MAX_OPEN_BODIES }, () => manualBody());
    for (const u of ups) expect('stream' in (await t.open(u.stream))).toBe(true);
    const extra = manualBody();
    await expect(t.open(extra.stream)).rejects.toThrow(/already reads 16 response bodies/);
    expect(extra.seen.isCancelled).toBe(true);
    t.close();
    expect(ups.every((u) => u.seen.isCancelled)).toBe(true);
    await expect(t.open(manualBody().stream)).rejects.toThrow(/closed/);
  });
});

/** A frame runtime's side of the port: comlink APPLY calls and their answers. */
function wireClient(port: MessagePort) {
  let n = 0;
  const waiting = new Map<string, (m: any) => void>(); // eslint-disable-line @typescript-eslint/no-explicit-any
  port.onmessage = (e) => waiting.get(e.data.id)?.(e.data);
  return {
    raw: (m: unknown) =>
      new Promise<any>((resolve) => { // eslint-disable-line @typescript-eslint/no-explicit-any
        waiting.set((m as { id: string }).id, resolve);
        port.postMessage(m);
      }),
    call(method: string, ...args: unknown[]) {
      const id = `t${++n}`;
      return this.raw({ id, type: 'APPLY', path: [method], argumentList: args.map((value) => ({ type: 'RAW', value })) });
    },
  };
}

describe('the bridge streams fetch answers over its port', () => {
  const closers: (() => void)[] = [];
  afterEach(() => closers.splice(0).forEach((c) => c()));

  /** A bridge for app `name` whose API answers with `api(request)`, served on a real MessageChannel. */
  function frame(name: string, api: (req: Request) => Response) {
    const source: AppSource = { app: { name }, getFile: async () => new Response('file'), fetchApi: async (req) => api(req) };
    const bridge = new FrameBridge(source, `https://${name}.fazt.invalid`, () => {});
    const { port1, port2 } = new MessageChannel();
    const close = serveBridge(bridge, port1);
    closers.push(() => {
      bridge.close();
      close();
      port2.close();
    });
    return { bridge, client: wireClient(port2) };
  }

  it('headers before the body, pieces in order, a JSON answer whole; ids are per frame; cancel from the frame', async () => {
    const ups: ReturnType<typeof manualBody>[] = [];
    const a = frame('chat', (req) => {
      if (new URL(req.url).pathname === '/api/plain') return Response.json({ ok: 1 });
      const up = manualBody();
      ups.push(up);
      return new Response(up.stream, { headers: { 'content-type': 'text/event-stream' } });
    });
    const b = frame('other', () => new Response('x'));

    const plain = await a.client.call('fetch', { url: 'https://chat.fazt.invalid/api/plain', method: 'GET', headers: [], body: null });
    expect(plain.type).toBe('RAW');
    expect(plain.value.stream).toBeUndefined();
    expect(JSON.parse(dec.decode(plain.value.body))).toEqual({ ok: 1 });

    const head = await a.client.call('fetch', { url: 'https://chat.fazt.invalid/api/chat', method: 'POST', headers: [], body: null });
    expect(head.value.status).toBe(200);
    expect(head.value.headers).toContainEqual(['content-type', 'text/event-stream']);
    const id = head.value.stream;
    expect(typeof id).toBe('number');
    expect(head.value.body.byteLength).toBe(0); // headers came before any token

    const r1 = a.client.call('read', id);
    ups[0]!.push('data: Hel\n\n');
    expect(dec.decode((await r1).value.chunk)).toBe('data: Hel\n\n');
    // another frame's port does not know this id
    const foreign = await b.client.call('read', id);
    expect(foreign.type).toBe('HANDLER');
    expect(foreign.value.value.message).toMatch(/No open response body/);
    await b.client.call('cancel', id);
    expect(ups[0]!.seen.isCancelled).toBe(false);
    const r2 = a.client.call('read', id);
    ups[0]!.push('data: lo\n\n');
    expect(dec.decode((await r2).value.chunk)).toBe('data: lo\n\n');
    // the frame cancels: the upstream sees it
    expect((await a.client.call('cancel', id)).type).toBe('RAW');
    expect(ups[0]!.seen.isCancelled).toBe(true);

    // a forged read of a method that is not the bridge's is refused as before
    const refused = await a.client.raw({ id: 'x', type: 'GET', path: ['bodies'] });
    expect(refused.value.value.message).toMatch(/accepts only calls of page, asset, fetch, navigate, realtime, read, cancel/);
  });

  it('the frame going away cancels its open streams', async () => {
    const ups: ReturnType<typeof manualBody>[] = [];
    const a = frame('chat', () => {
      const up = manualBody();
      ups.push(up);
      return new Response(up.stream);
    });
    for (let i = 0; i < 3; i++) expect(typeof (await a.client.call('fetch', { url: 'https://chat.fazt.invalid/api/s', method: 'GET', headers: [], body: null })).value.stream).toBe('number');
    expect(a.bridge.bodies.size).toBe(3);
    closers.shift()!();
    expect(ups.map((u) => u.seen.isCancelled)).toEqual([true, true, true]);
    expect(a.bridge.bodies.size).toBe(0);
  });
});
