import { FaztError } from '../../errors.js';
import { checkMessageFields, checkTarget } from '../../notify/index.js';
import { jsonBody, param } from '../api-input.js';
import { json } from '../responses.js';
import type { ApiCall, ApiRouter } from '../router.js';

/**
 * Notifications (docs/notify.md, docs/api.md "Notifications"): the node's VAPID public key, the
 * browsers subscribed to Web Push per device and user, a test notification and the owner's own sends.
 *
 * Who is who: a session acts as its user (the owner or a family member); an API token acts as the
 * owner. A member sees and removes only their own subscriptions.
 */

/** The caller's user id: the session's user, else the owner. */
function userOf(c: ApiCall): string {
  return c.principal?.userId ?? c.kernel.notify.ownerId();
}

/** Adds `/api/push/vapid-public-key`, `/api/push/subscriptions[/:id]`, `/api/push/test`, `/api/push/send`. */
export function notifyRoutes(api: ApiRouter): void {
  // public: it is the key browsers pass as applicationServerKey (made on first need)
  api.route('GET', '/api/push/vapid-public-key', null, async (c) => json({ publicKey: await c.kernel.notify.vapidPublicKey(), canSend: !!c.kernel.ports.push || !!c.kernel.ports.notifier }));

  api.route('POST', '/api/push/subscriptions', 'admin', async (c) => {
    const b = await jsonBody(c, 8192);
    // the subscription itself, or { subscription, device }
    const sub = typeof b.subscription === 'object' && b.subscription !== null ? b.subscription : b;
    const r = c.kernel.notify.subscribe(userOf(c), sub, b.device);
    return json({ subscription: r.subscription }, r.created ? 201 : 200);
  });

  api.route('GET', '/api/push/subscriptions', 'admin', (c) => {
    const user = userOf(c);
    return json({ subscriptions: c.kernel.notify.list(c.kernel.notify.isOwner(user) ? undefined : user) });
  });

  api.route('DELETE', '/api/push/subscriptions/:id', 'admin', (c) => {
    const id = param(c, 0);
    const user = userOf(c);
    if (!c.kernel.notify.remove(id, c.kernel.notify.isOwner(user) ? undefined : user)) {
      throw new FaztError('NOT_FOUND', `No push subscription "${id.slice(0, 80)}". GET /api/push/subscriptions lists them.`);
    }
    return json({ removed: id });
  });

  // `fazt notify test`: a test notification to the caller's devices (the owner's, for a token)
  api.route('POST', '/api/push/test', 'admin', async (c) => {
    const user = userOf(c);
    const deliveries = await c.kernel.notify.send({
      to: c.kernel.notify.isOwner(user) ? 'owner' : { userId: user },
      title: 'Fazt test notification',
      body: `Sent ${new Date(c.kernel.cartridge.clock.now()).toISOString().slice(0, 16).replace('T', ' ')} UTC: notifications reach this device.`,
      url: '/#/settings',
      tag: 'fazt-test',
    });
    return json({ deliveries });
  });

  // the owner sends a notification: { to: "owner" | { userId }, title, body?, url?, tag? }
  api.route('POST', '/api/push/send', 'admin', async (c) => {
    const user = userOf(c);
    if (!c.kernel.notify.isOwner(user)) throw new FaztError('FORBIDDEN', 'Only the owner sends notifications to others.');
    const b = await jsonBody(c, 16384);
    const to = checkTarget(b.to ?? 'owner');
    const f = checkMessageFields(b);
    return json({ deliveries: await c.kernel.notify.send({ to, ...f }) });
  });
}
