// @ts-check
/// <reference path="../../../types/fazt.d.ts" />
// Receives webhooks signed GitHub style: the header `X-Hub-Signature-256: sha256=<hex>` is the
// HMAC-SHA256 of the raw request body with a shared secret, the app secret WEBHOOK_SECRET.
//   POST /api/hook        a delivery → 201 {id} (200 for a repeated X-GitHub-Delivery); 401 when unsigned
//                         or wrongly signed, 400 when the body is not JSON, 503 when no secret is set
//   GET  /api/deliveries  → {deliveries}, newest first
// The signature is checked with crypto.subtle.verify, which compares in constant time.

/** @typedef {{ event: string | null, delivery: string | null, payload: unknown, receivedAt: number }} Delivery */

/** @type {FaztCollection<Delivery>} */
const deliveries = fazt.docs.collection('deliveries');

const fail = (/** @type {number} */ status, /** @type {string} */ code, /** @type {string} */ message) =>
  Response.json({ error: { code, message } }, { status });

/** Bytes of a hex string of even length. */
const fromHex = (/** @type {string} */ hex) => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));

/** True when `signature` ("sha256=<64 hex>") is the HMAC-SHA256 of `body` with `secret`. */
async function verify(/** @type {string} */ secret, /** @type {string | null} */ signature, /** @type {ArrayBuffer} */ body) {
  const m = /^sha256=([0-9a-f]{64})$/i.exec(signature ?? '');
  if (!m) return false;
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  return crypto.subtle.verify('HMAC', key, fromHex(m[1] ?? ''), body);
}

export default /** @satisfies {FaztHandlers} */ ({
  async fetch(request, env) {
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;

    if (route === 'POST /api/hook') {
      const secret = env.WEBHOOK_SECRET;
      if (!secret) return fail(503, 'NOT_CONFIGURED', 'The app secret WEBHOOK_SECRET is not set, so no delivery can be verified.');
      const body = await request.arrayBuffer(); // the raw bytes: the signature covers them exactly
      const signature = request.headers.get('x-hub-signature-256');
      if (!signature) return fail(401, 'SIGNATURE_MISSING', 'The X-Hub-Signature-256 header is missing; sign the body with HMAC-SHA256 and send "sha256=<hex>".');
      if (!(await verify(secret, signature, body))) return fail(401, 'SIGNATURE_INVALID', 'X-Hub-Signature-256 does not match the body: wrong secret, or the body was changed.');
      let payload;
      try {
        payload = JSON.parse(new TextDecoder().decode(body));
      } catch {
        return fail(400, 'BAD_JSON', 'The body is signed correctly but is not JSON.');
      }
      const delivery = request.headers.get('x-github-delivery');
      if (delivery && (await deliveries.get(delivery))) return { id: delivery, duplicate: true }; // a redelivery
      const doc = await deliveries.insert({
        ...(delivery && delivery.length <= 128 ? { _id: delivery } : {}),
        event: request.headers.get('x-github-event'),
        delivery,
        payload,
        receivedAt: Date.now(),
      });
      fazt.log.info('delivery verified', { id: doc._id, event: doc.event });
      return Response.json({ id: doc._id }, { status: 201 });
    }
    if (route === 'GET /api/deliveries') {
      const list = await deliveries.find({ sort: { receivedAt: -1 }, limit: 100 });
      return { deliveries: list.map(({ _id, ...d }) => ({ id: _id, ...d })) };
    }
    return fail(404, 'NOT_FOUND', `No route ${route}; see POST /api/hook and GET /api/deliveries.`);
  },
});
