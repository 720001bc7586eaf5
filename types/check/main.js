// @ts-check
// An example app handler (api/main.js) written against types/fazt.d.ts. Only type-checked, never run.

const _ = require('lodash');
const { z } = require('zod');

/** @typedef {{ title: string; done: boolean; priority: number; tags: string[]; owner: string }} Todo */

const NewTodo = z.object({ title: z.string().min(1), priority: z.number().int().default(1), tags: z.array(z.string()).default([]) });

/** @param {unknown} error */
function errorResponse(error) {
  const e = /** @type {FaztError} */ (error);
  const status = e.code === 'PERMISSION_DENIED' ? 403 : e.code === 'NOT_FOUND' ? 404 : e.code === 'INVALID_ARGUMENT' ? 400 : 500;
  return Response.json({ error: e.message, code: e.code }, { status });
}

/** @param {ArrayBuffer} buffer */
function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export default /** @satisfies {FaztHandlers} */ ({
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    fazt.log.info('request', { method: request.method, path: url.pathname, requestId: ctx.requestId });

    try {
      // --- kv -------------------------------------------------------------------------------------
      if (url.pathname === '/api/hits') {
        const hits = await fazt.kv.increment('hits', 1, { ttl: 24 * 60 * 60 * 1000 });
        /** @type {{ at: number } | null} */
        const last = await fazt.kv.get('last-visit');
        await fazt.kv.set('last-visit', { at: Date.now() }, { ttl: 60_000 });
        const page = await fazt.kv.list({ prefix: 'session:', limit: 10 });
        const keys = page.items.map((item) => item.key + (item.expiresAt ? ` (expires ${new Date(item.expiresAt).toISOString()})` : ''));
        const deleted = await fazt.kv.delete('stale');
        return { hits, last: last?.at ?? null, keys, next: page.cursor, deleted };
      }

      // --- docs -----------------------------------------------------------------------------------
      /** @type {FaztCollection<Todo>} */
      const todos = fazt.docs.collection('todos');
      if (url.pathname === '/api/todos' && request.method === 'POST') {
        if (!fazt.user) return new Response('sign in first', { status: 401 });
        const input = NewTodo.parse(await request.json());
        const todo = await todos.insert({ ...input, done: false, owner: fazt.user.id });
        ctx.waitUntil(fazt.events.emit('todo.created', { id: todo._id }));
        return Response.json(todo, { status: 201 });
      }
      if (url.pathname === '/api/todos') {
        const list = await todos.find({
          where: { done: false, priority: { $gte: 2 }, tags: { $contains: 'urgent' }, owner: { $in: ['a', 'b'] } },
          sort: { priority: -1, title: 1 },
          limit: 20,
          offset: 0,
        });
        const open = await todos.count({ done: false });
        const changed = await todos.update({ 'tags.0': 'later' }, { $set: { done: true }, $inc: { priority: -1 }, $unset: { note: true } });
        const one = list[0] ? await todos.get(list[0]._id) : null;
        const removed = await todos.delete({ done: true });
        return { titles: _.map(list, 'title'), open, changed, removed, first: one?.title };
      }

      // --- blobs ----------------------------------------------------------------------------------
      if (url.pathname.startsWith('/api/files/')) {
        const key = decodeURIComponent(url.pathname.slice('/api/files/'.length));
        if (request.method === 'PUT') {
          const info = await fazt.blobs.put(key, request, { contentType: request.headers.get('content-type') ?? 'application/octet-stream' });
          return { key: info.key, bytes: info.size, type: info.contentType, updated: new Date(info.updatedAt).toISOString() };
        }
        if (request.method === 'DELETE') return { deleted: await fazt.blobs.delete(key) };
        const head = await fazt.blobs.head(key);
        if (!head) return new Response('not found', { status: 404 });
        const blob = await fazt.blobs.get(key);
        if (!blob) return new Response('not found', { status: 404 });
        if (url.searchParams.has('sha256')) {
          return { sha256: hex(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())) };
        }
        // Streamed by the host; FaztBlob is not a DOM BodyInit, hence the cast.
        return new Response(/** @type {any} */ (blob), { headers: { 'content-type': blob.contentType } });
      }
      if (url.pathname === '/api/files') {
        const { items, cursor } = await fazt.blobs.list({ prefix: 'uploads/', limit: 50, cursor: url.searchParams.get('cursor') ?? undefined });
        await fazt.blobs.put('uploads/readme.txt', 'hello', { contentType: 'text/plain' });
        await fazt.blobs.put('uploads/bytes.bin', new Uint8Array([1, 2, 3]));
        return { files: items.map((i) => `${i.key} ${i.size} B`), cursor };
      }

      // --- schedule -------------------------------------------------------------------------------
      if (url.pathname === '/api/remind') {
        const soon = await fazt.schedule.after(5 * 60_000, { kind: 'remind', user: fazt.user?.username });
        const later = await fazt.schedule.at(new Date(Date.now() + 86_400_000), { kind: 'digest' });
        const iso = await fazt.schedule.at('2030-01-01T00:00:00Z');
        const cancelled = await fazt.schedule.cancel(iso.id);
        const jobs = await fazt.schedule.list();
        return { soon: soon.runAt, later: later.id, cancelled, jobs: jobs.map((j) => `${j.kind}:${j.name ?? j.id}@${j.runAt} ${j.status}`) };
      }

      // --- net + crypto ---------------------------------------------------------------------------
      if (url.pathname === '/api/weather') {
        const apiKey = env.WEATHER_KEY ?? fazt.env.WEATHER_KEY;
        if (!apiKey) return new Response('WEATHER_KEY not set', { status: 500 });
        const upstream = await fazt.net.fetch(new URL('https://api.example.com/weather?city=Oslo'), {
          headers: { authorization: `Bearer ${apiKey}` },
          timeout: 5_000,
        });
        if (!upstream.ok) return new Response('upstream failed', { status: 502 });
        const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(apiKey), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
        const body = await upstream.text();
        const signature = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(body));
        const valid = await crypto.subtle.verify('HMAC', key, signature, new TextEncoder().encode(body));
        return new Response(body, { headers: { 'content-type': 'application/json', 'x-signature': btoa(hex(signature)), 'x-valid': String(valid) } });
      }

      if (url.pathname === '/api/whoami') {
        return `${fazt.app.name} v${fazt.app.version} (${fazt.app.id}) for ${fazt.user ? `${fazt.user.username} (${fazt.user.role})` : 'anonymous'} ${crypto.randomUUID()}`;
      }
      return new Response('not found', { status: 404 });
    } catch (error) {
      fazt.log.error('request failed', { error: String(error) });
      return errorResponse(error);
    }
  },

  async scheduled(job, env, ctx) {
    fazt.log.debug(`job ${job.id} (${job.kind}${job.cron ? ` ${job.cron}` : ''}) attempt ${job.attempt}`, {
      due: new Date(job.scheduledAt).toISOString(),
      name: job.name,
      requestId: ctx.requestId,
      hasSecret: 'WEATHER_KEY' in env,
    });
    const state = /** @type {{ kind?: string } | null} */ (job.state);
    if (state?.kind === 'digest') {
      const open = await fazt.docs.collection('todos').count({ done: false });
      await fazt.events.emit('digest.ready', { open });
    }
  },

  async on(event, env, ctx) {
    if (event.type !== 'todo.created') return;
    const { id } = /** @type {{ id: string }} */ (event.payload);
    fazt.log.warn(`todo ${id} created by app ${event.app} at ${new Date(event.createdAt).toISOString()}`, { eventId: event.id, requestId: ctx.requestId, env: Object.keys(env).length });
    setTimeout(() => console.debug('later'), 10);
  },
});
