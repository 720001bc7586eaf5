// @ts-check
/// <reference path="../../../types/fazt.d.ts" />
// The live list's API, on fazt.docs (collection "items"); every change is published on the
// realtime channel "items", so every open page shows it at once (docs/realtime.md):
//   GET    /api/items            the list, oldest first
//   POST   /api/items  {text}    adds one → 201, publishes {op: "add", item}
//   DELETE /api/items/:id        removes it → 204, publishes {op: "remove", id}
// Errors are JSON: {error: {code, message}} with 400, 404, 405 or 415.

/** @typedef {{ text: string, createdAt: number }} Item */

/** @type {FaztCollection<Item>} */
const items = fazt.docs.collection('items');

const fail = (/** @type {number} */ status, /** @type {string} */ code, /** @type {string} */ message) =>
  Response.json({ error: { code, message } }, { status });

const show = (/** @type {Item & {_id: string}} */ { _id, ...item }) => ({ id: _id, ...item });

export default /** @satisfies {FaztHandlers} */ ({
  async fetch(request) {
    const url = new URL(request.url);
    const method = request.method;
    if (url.pathname === '/api/items') {
      if (method === 'GET') return { items: (await items.find({ sort: { createdAt: 1 }, limit: 1000 })).map(show) };
      if (method === 'POST') {
        if (!/^application\/json\b/i.test(request.headers.get('content-type') ?? '')) {
          return fail(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the item as JSON with "Content-Type: application/json".');
        }
        /** @type {any} */
        let body;
        try {
          body = await request.json();
        } catch {
          return fail(400, 'BAD_JSON', 'The request body is not valid JSON.');
        }
        const text = typeof body?.text === 'string' ? body.text.trim() : '';
        if (!text || text.length > 500) return fail(400, 'INVALID_ITEM', 'Send {"text": "…"} with 1 to 500 characters.');
        const item = show(await items.insert({ text, createdAt: Date.now() }));
        await fazt.realtime.publish('items', { op: 'add', item });
        return Response.json(item, { status: 201 });
      }
      return fail(405, 'METHOD_NOT_ALLOWED', `${method} is not supported on /api/items; use GET or POST.`);
    }
    const m = /^\/api\/items\/([^/]+)$/.exec(url.pathname);
    if (m) {
      const id = decodeURIComponent(m[1] ?? '');
      if (method !== 'DELETE') return fail(405, 'METHOD_NOT_ALLOWED', `${method} is not supported on an item; use DELETE.`);
      if (!(await items.delete(id))) return fail(404, 'NOT_FOUND', `No item with id "${id}".`);
      await fazt.realtime.publish('items', { op: 'remove', id });
      return new Response(null, { status: 204 });
    }
    return fail(404, 'NOT_FOUND', `No route ${method} ${url.pathname}; see /api/items.`);
  },
});
