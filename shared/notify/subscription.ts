import { FaztError } from '../errors.js';
import { fromBase64Url } from '../lib/encoding.js';

/**
 * Validation of what a browser hands over when it subscribes to Web Push: the JSON form of a
 * `PushSubscription` (W3C Push API §`toJSON()`):
 * `{ endpoint, expirationTime, keys: { p256dh, auth } }`.
 */

/** Longest accepted endpoint URL, characters (real ones are 150–500). */
export const MAX_ENDPOINT_LENGTH = 2048;
/** Longest device label, characters. */
export const MAX_DEVICE_LABEL = 100;

/** A push subscription as the browser's `PushSubscription.toJSON()` gives it, checked. */
export interface PushSubscriptionJSON {
  /** The push service URL, always `https:`. */
  endpoint: string;
  /** When the subscription expires, ms since epoch; `null` when it does not say. */
  expirationTime: number | null;
  /** `p256dh`: the browser's ECDH P-256 public key (65 bytes, uncompressed, RFC 8291 §3.1); `auth`: 16-byte secret. Base64url without padding. */
  keys: { p256dh: string; auth: string };
}

const B64URL = /^[A-Za-z0-9_-]+={0,2}$/;

function bad(message: string): never {
  throw new FaztError('BAD_REQUEST', `${message} Send the browser's PushSubscription.toJSON(): {"endpoint": "https://…", "expirationTime": null, "keys": {"p256dh": "…", "auth": "…"}}.`);
}

/** Decodes a base64url key and checks its length; returns it without padding. */
function key(v: unknown, name: string, bytes: number, check?: (b: Uint8Array) => boolean): string {
  if (typeof v !== 'string' || !B64URL.test(v)) bad(`keys.${name} must be a base64url string.`);
  const plain = (v as string).replace(/=+$/, '');
  let b: Uint8Array;
  try {
    b = fromBase64Url(plain);
  } catch {
    bad(`keys.${name} is not valid base64url.`);
  }
  if (b!.length !== bytes) bad(`keys.${name} must decode to ${bytes} bytes; it has ${b!.length}.`);
  if (check && !check(b!)) bad(`keys.${name} is not an uncompressed P-256 point (it must start with 0x04).`);
  return plain;
}

/**
 * Checks a subscription strictly: an `https:` endpoint without credentials of at most
 * {@link MAX_ENDPOINT_LENGTH} characters; `p256dh` a 65-byte uncompressed point (first byte 0x04);
 * `auth` 16 bytes; `expirationTime` null/absent or a future time in ms.
 * @param now the current time, ms (to refuse an already expired subscription).
 * @returns the normalised subscription (keys without padding).
 * @throws FaztError `BAD_REQUEST` naming the first problem.
 */
export function checkSubscription(input: unknown, now: number): PushSubscriptionJSON {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) bad('The body must be a JSON object.');
  const o = input as Record<string, unknown>;
  if (typeof o.endpoint !== 'string' || o.endpoint === '') bad('endpoint is missing.');
  const endpoint = o.endpoint as string;
  if (endpoint.length > MAX_ENDPOINT_LENGTH) bad(`endpoint is ${endpoint.length} characters; at most ${MAX_ENDPOINT_LENGTH} are accepted.`);
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    bad('endpoint is not a URL.');
  }
  if (url!.protocol !== 'https:') bad(`endpoint must be an https: URL (push services are reached over TLS); got ${url!.protocol}.`);
  if (url!.username || url!.password) bad('endpoint must not carry a user name or password.');
  let expirationTime: number | null = null;
  if (o.expirationTime !== undefined && o.expirationTime !== null) {
    if (typeof o.expirationTime !== 'number' || !Number.isFinite(o.expirationTime) || o.expirationTime < 0) bad('expirationTime must be null or a time in ms since epoch.');
    if ((o.expirationTime as number) <= now) bad('This subscription has already expired (expirationTime is in the past): subscribe again.');
    expirationTime = Math.floor(o.expirationTime as number);
  }
  const keys = o.keys;
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) bad('keys is missing.');
  const k = keys as Record<string, unknown>;
  return {
    endpoint: url!.href,
    expirationTime,
    keys: { p256dh: key(k.p256dh, 'p256dh', 65, (b) => b[0] === 0x04), auth: key(k.auth, 'auth', 16) },
  };
}

/**
 * Checks an optional device label (`"Pixel 8 — Chrome"`).
 * @returns the trimmed label, or `undefined` when absent or empty.
 * @throws FaztError `BAD_REQUEST` when it is not a string of at most {@link MAX_DEVICE_LABEL} characters.
 */
export function checkDeviceLabel(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > MAX_DEVICE_LABEL) throw new FaztError('BAD_REQUEST', `device must be a string of at most ${MAX_DEVICE_LABEL} characters (a name for this device, like "Pixel 8").`);
  return v.trim() || undefined;
}

/** A short name for a push service, from its endpoint's host (`fcm.googleapis.com` → "Chrome"). */
export function pushServiceName(endpoint: string): string {
  const host = new URL(endpoint).hostname;
  if (host.endsWith('googleapis.com')) return 'Chrome';
  if (host.endsWith('mozilla.com') || host.endsWith('mozaws.net')) return 'Firefox';
  if (host.endsWith('push.apple.com')) return 'Safari';
  if (host.endsWith('notify.windows.com')) return 'Edge';
  return host;
}
