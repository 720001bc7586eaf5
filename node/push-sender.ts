import type { Agent } from 'node:https';
import type { PushResult, PushSender } from '../shared/index.js';

/**
 * The Node host's Web Push sender: `web-push` 3.6 encrypts the payload (aes128gcm, RFC 8291 / RFC
 * 8188), signs a VAPID JWT (RFC 8292) and POSTs to the subscription's push service over HTTPS
 * (RFC 8030). Loaded on the first send, so a node that never notifies never loads it.
 */

/** Options of {@link webPushSender}. */
export interface WebPushSenderOptions {
  /**
   * The `https.Agent` requests go through (web-push's `agent` option). Tests pass one that trusts a
   * local push service's self-signed certificate; a process can also trust one with
   * `NODE_EXTRA_CA_CERTS`.
   */
  agent?: Agent;
}

type WebPush = typeof import('web-push');
let loaded: Promise<WebPush> | undefined;

/** web-push's module (CommonJS: its functions are on `default` when imported from ESM). */
function webPush(): Promise<WebPush> {
  return (loaded ??= import('web-push').then((m) => ((m as { default?: WebPush }).default ?? m) as WebPush));
}

/** Error shape web-push rejects with for a non-2xx answer (`WebPushError`). */
interface WebPushErrorLike {
  statusCode?: number;
  body?: string;
  headers?: Record<string, string | string[] | undefined>;
}

function retryAfter(h: Record<string, string | string[] | undefined> | undefined): number | undefined {
  const v = h?.['retry-after'];
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  if (/^\d+$/.test(s.trim())) return Number(s.trim());
  const at = Date.parse(s);
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - Date.now()) / 1000)) : undefined;
}

/**
 * A {@link PushSender} with `web-push`. It resolves with the push service's status for every HTTP
 * answer (web-push rejects non-2xx with a `WebPushError`; that is turned back into a result) and
 * rejects only when no answer came (connection refused, TLS failure, timeout).
 */
export function webPushSender(options: WebPushSenderOptions = {}): PushSender {
  return {
    async send(target, payload, o): Promise<PushResult> {
      const wp = await webPush();
      try {
        const r = await wp.sendNotification(target, payload, {
          vapidDetails: o.vapid,
          TTL: o.ttlSeconds,
          urgency: o.urgency,
          topic: o.topic,
          timeout: o.timeoutMs,
          contentEncoding: 'aes128gcm',
          ...(options.agent ? { agent: options.agent } : {}),
        });
        return { statusCode: r.statusCode, body: String(r.body ?? '').slice(0, 500) };
      } catch (e) {
        const w = e as WebPushErrorLike;
        if (typeof w?.statusCode === 'number') return { statusCode: w.statusCode, body: String(w.body ?? '').slice(0, 500), retryAfterSeconds: retryAfter(w.headers) };
        throw e;
      }
    },
  };
}
