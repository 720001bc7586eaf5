import { FaztError } from '../errors.js';

/**
 * What a notification says and who gets it, checked; and the payload the service worker's `push`
 * handler reads (sw/push.ts).
 */

/** Who a notification is for: the owner (every device the owner subscribed), or one user (a family member) by id. */
export type NotifyTarget = 'owner' | { userId: string };

/** A notification to send (`kernel.notify.send`). */
export interface NotifyMessage {
  /** The owner, or one user: only that user's devices receive it. */
  to: NotifyTarget;
  /** 1–{@link MAX_TITLE} characters. */
  title: string;
  /** Up to {@link MAX_BODY} characters. */
  body?: string;
  /**
   * What a tap opens. With `appId`: a path inside that app (`"notes/42"`, `"/notes/42"`; no other
   * origin). Without: a path on the node (`"/#/settings"`) or an `https:` URL. Default: the app, or the dashboard.
   */
  url?: string;
  /** A newer notification with the same tag replaces the older one on the device (≤ {@link MAX_TAG} characters). */
  tag?: string;
  /** The app sending it: the notification carries the app's title and icon and opens the app. */
  appId?: string;
}

/** What the service worker receives, JSON in the encrypted push message. */
export interface PushPayload {
  /** Always `fazt-notify/1`, so the service worker ignores other pushes. */
  v: 'fazt-notify/1';
  title: string;
  body?: string;
  /** Absolute path (`/#/open/notes`) or https URL a click opens. */
  url: string;
  /** Same-origin icon path. */
  icon: string;
  tag?: string;
  /** The sending app's name, when an app sent it. */
  app?: string;
}

/** Longest title, characters. */
export const MAX_TITLE = 200;
/** Longest body, characters. */
export const MAX_BODY = 1000;
/** Longest tag, characters. */
export const MAX_TAG = 64;
/** Longest url, characters. */
export const MAX_URL = 1000;
/**
 * Largest payload JSON, bytes. A Web Push message carries at most 4,096 bytes of ciphertext
 * (RFC 8291 §4 leaves 3,993 bytes of plaintext after the aes128gcm header and padding delimiter).
 */
export const MAX_PAYLOAD_BYTES = 3993;

function str(v: unknown, name: string, max: number, required = false): string | undefined {
  if (v === undefined || v === null) {
    if (required) throw new FaztError('INVALID_ARGUMENT', `notify: ${name} is required (a string of 1–${max} characters).`);
    return undefined;
  }
  if (typeof v !== 'string') throw new FaztError('INVALID_ARGUMENT', `notify: ${name} must be a string.`);
  if (required && v.trim() === '') throw new FaztError('INVALID_ARGUMENT', `notify: ${name} must not be empty.`);
  if (v.length > max) throw new FaztError('INVALID_ARGUMENT', `notify: ${name} is ${v.length} characters; at most ${max}.`);
  return v;
}

/**
 * Checks a message's fields (not the recipient).
 * @throws FaztError `INVALID_ARGUMENT` naming the field: title missing/empty/too long, body, url or tag
 *   not a string or too long.
 */
export function checkMessageFields(m: unknown): { title: string; body?: string; url?: string; tag?: string } {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new FaztError('INVALID_ARGUMENT', 'notify: pass an object like { title: "Backup done", body: "3 files" }.');
  const o = m as Record<string, unknown>;
  return {
    title: str(o.title, 'title', MAX_TITLE, true)!,
    body: str(o.body, 'body', MAX_BODY),
    url: str(o.url, 'url', MAX_URL),
    tag: str(o.tag, 'tag', MAX_TAG),
  };
}

/**
 * Checks a recipient.
 * @throws FaztError `INVALID_ARGUMENT` unless it is `'owner'` or `{ userId: string }`.
 */
export function checkTarget(to: unknown): NotifyTarget {
  if (to === 'owner') return 'owner';
  if (typeof to === 'object' && to !== null && typeof (to as { userId?: unknown }).userId === 'string' && (to as { userId: string }).userId !== '') {
    return { userId: (to as { userId: string }).userId };
  }
  throw new FaztError('INVALID_ARGUMENT', 'notify: "to" must be "owner" or { userId: "…" }.');
}

/**
 * Where a tap on an app's notification goes: a path inside the app, as the dashboard route that
 * opens it (`#/open/<app>/<path>`, so the PWA's own window shows it).
 * @throws FaztError `INVALID_ARGUMENT` for a URL with a scheme or host (an app's notification may
 *   only open the app).
 */
export function appUrl(appName: string, url: string | undefined): string {
  const base = `/#/open/${encodeURIComponent(appName)}`;
  if (url === undefined || url === '' || url === '/') return base;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(url) || url.startsWith('//') || url.startsWith('\\')) {
    throw new FaztError('INVALID_ARGUMENT', `notify: url must be a path inside the app (like "notes/42"); "${url.slice(0, 80)}" points elsewhere.`);
  }
  return `${base}/${encodeURIComponent(url.replace(/^\/+/, ''))}`;
}

/**
 * Where a tap on the node's own notification goes: a path on the node or an `https:` URL.
 * @throws FaztError `INVALID_ARGUMENT` otherwise.
 */
export function nodeUrl(url: string | undefined): string {
  if (url === undefined || url === '') return '/';
  if (url.startsWith('/') && !url.startsWith('//')) return url;
  if (/^https:\/\//i.test(url)) {
    try {
      return new URL(url).href;
    } catch {
      /* fall through */
    }
  }
  throw new FaztError('INVALID_ARGUMENT', `notify: url must be a path on the node (like "/#/settings") or an https: URL; got "${url.slice(0, 80)}".`);
}
