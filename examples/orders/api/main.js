// @ts-check
/// <reference path="../../../types/fazt.d.ts" />
// Takes orders and emits "order.placed" for other apps (see examples/kitchen).
//   POST /api/orders  {items: [{name, qty}], table?, note?}  → 201 the order
//   GET  /api/orders                                         → {orders}, newest first
//   GET  /api/orders/:id                                     → one order
// The order is checked by the JSON Schema of "order.placed" in app.json: fazt.events.emit refuses
// a payload that does not match it (INVALID_ARGUMENT), and the order is stored only once emitted.

/** @typedef {{ orderId: string, items: { name: string, qty: number }[], table?: number, note?: string, placedAt: number }} Order */

/** @type {FaztCollection<Order>} */
const orders = fazt.docs.collection('orders');

const fail = (/** @type {number} */ status, /** @type {string} */ code, /** @type {string} */ message) =>
  Response.json({ error: { code, message } }, { status });

const show = (/** @type {Order & { _id: string }} */ { _id, ...order }) => order;

export default /** @satisfies {FaztHandlers} */ ({
  async fetch(request) {
    const url = new URL(request.url);
    const method = request.method;

    if (url.pathname === '/api/orders') {
      if (method === 'GET') {
        return { orders: (await orders.find({ sort: { placedAt: -1 }, limit: 100 })).map(show) };
      }
      if (method === 'POST') {
        /** @type {any} */
        let body;
        try {
          body = await request.json();
        } catch {
          return fail(400, 'BAD_JSON', 'Send the order as JSON: {"items": [{"name": "soup", "qty": 1}], "table": 4}.');
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail(400, 'INVALID_ORDER', 'The order must be a JSON object.');
        /** @type {Order} */
        const order = { orderId: crypto.randomUUID(), items: body.items, table: body.table, note: body.note, placedAt: Date.now() };
        try {
          await fazt.events.emit('order.placed', order); // undefined fields (no table, no note) are left out
        } catch (e) {
          const err = /** @type {FaztError} */ (e);
          if (err.code === 'INVALID_ARGUMENT') return fail(400, 'INVALID_ORDER', err.message);
          throw e;
        }
        await orders.insert({ _id: order.orderId, ...order });
        return Response.json(order, { status: 201 });
      }
      return fail(405, 'METHOD_NOT_ALLOWED', `${method} is not supported on /api/orders; use GET or POST.`);
    }

    const m = /^\/api\/orders\/([^/]+)$/.exec(url.pathname);
    if (m && method === 'GET') {
      const order = await orders.get(m[1] ?? '');
      return order ? show(order) : fail(404, 'NOT_FOUND', `No order "${m[1]}".`);
    }
    return fail(404, 'NOT_FOUND', `No route ${method} ${url.pathname}; see /api/orders.`);
  },
});
