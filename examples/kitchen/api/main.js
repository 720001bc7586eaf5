// @ts-check
/// <reference path="../../../types/fazt.d.ts" />
// Receives "order.placed" from the orders app (app.json subscribes to "orders:order.placed"; the owner
// must grant "events:orders") and keeps a ticket per order.
//   GET /api/tickets   → {tickets}, oldest first (the kitchen's queue)

/** @typedef {{ orderId: string, items: { name: string, qty: number }[], table?: number, note?: string, placedAt: number }} Order */
/** @typedef {Order & { eventId: string, receivedAt: number }} Ticket */

/** @type {FaztCollection<Ticket>} */
const tickets = fazt.docs.collection('tickets');

export default /** @satisfies {FaztHandlers} */ ({
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/api/tickets' && request.method === 'GET') {
      const list = await tickets.find({ sort: { receivedAt: 1 }, limit: 1000 });
      return { tickets: list.map(({ _id, ...t }) => t) };
    }
    return Response.json({ error: { code: 'NOT_FOUND', message: `No route ${request.method} ${url.pathname}; see GET /api/tickets.` } }, { status: 404 });
  },

  // Delivery is at least once: the same event may come again after a crash, so the ticket's _id is
  // the event id and a repeat is ignored.
  async on(event) {
    if (event.type !== 'order.placed') return;
    if (await tickets.get(event.id)) return;
    const order = /** @type {Order} */ (event.payload);
    await tickets.insert({ _id: event.id, ...order, eventId: event.id, receivedAt: Date.now() });
    fazt.log.info(`ticket for order ${order.orderId}`, { table: order.table, items: order.items.length });
  },
});
