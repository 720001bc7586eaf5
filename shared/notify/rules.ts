import { FaztError } from '../errors.js';
import { MAX_BODY, MAX_TAG, MAX_TITLE, MAX_URL } from './message.js';

/**
 * Notification rules without code (`app.json` `"notify"`): when the app emits an event of type
 * `on`, the owner is notified with `title` / `body` / `url` / `tag`, in which `{{payload.path}}`,
 * `{{type}}` and `{{app}}` are replaced (docs/notify.md):
 *
 * ```json
 * "permissions": ["notify"],
 * "notify": [{ "on": "note.created", "title": "New note", "body": "{{payload.title}}", "url": "notes/{{payload.id}}" }]
 * ```
 */

/** One rule as written in `app.json`. */
export interface NotifyRule {
  /** An event type the app itself emits (`note.created`). */
  on: string;
  /** Title template. */
  title: string;
  /** Body template. */
  body?: string;
  /** Path inside the app, template. */
  url?: string;
  /** Tag template. */
  tag?: string;
}

/** Most rules per app. */
export const MAX_NOTIFY_RULES = 20;

const PLACEHOLDER = /\{\{\s*([^}]*?)\s*\}\}/g;
const PATH = /^(type|app|payload(\.[A-Za-z0-9_$-]+)*)$/;
const EVENT_TYPE = /^[a-zA-Z0-9_.-]{1,100}$/;

/**
 * Checks the `notify` rules of a manifest at deploy: each rule's `on` is an event type, its
 * templates use only `{{type}}`, `{{app}}` and `{{payload…}}`, and the app requests the `notify`
 * permission (the owner grants it, as for `fazt.notify`).
 * @param rules the manifest's `notify` (absent: nothing to check).
 * @param permissions the manifest's `permissions`.
 * @throws FaztError `INVALID_MANIFEST` naming the rule and the problem; nothing is deployed then.
 */
export function validateNotifyRules(rules: unknown, permissions: readonly string[]): void {
  if (rules === undefined) return;
  const fail = (m: string): never => {
    throw new FaztError('INVALID_MANIFEST', `app.json notify: ${m} See docs/notify.md. Nothing was deployed.`);
  };
  if (!Array.isArray(rules)) fail('must be a list of rules like [{"on": "note.created", "title": "New note"}].');
  const list = rules as unknown[];
  if (list.length > MAX_NOTIFY_RULES) fail(`has ${list.length} rules; at most ${MAX_NOTIFY_RULES}.`);
  if (list.length && !permissions.includes('notify')) fail('rules need the "notify" permission: add "notify" to "permissions" (the owner grants it).');
  list.forEach((r, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) fail(`rule ${i + 1} must be an object like {"on": "note.created", "title": "New note"}.`);
    const o = r as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['on', 'title', 'body', 'url', 'tag'].includes(k)) fail(`rule ${i + 1} has an unknown key "${k}" (known: on, title, body, url, tag).`);
    if (typeof o.on !== 'string' || !EVENT_TYPE.test(o.on)) fail(`rule ${i + 1}: "on" must be an event type this app emits, like "note.created".`);
    const limits: Record<string, number> = { title: MAX_TITLE, body: MAX_BODY, url: MAX_URL, tag: MAX_TAG };
    for (const f of ['title', 'body', 'url', 'tag']) {
      const v = o[f];
      if (v === undefined && f !== 'title') continue;
      if (typeof v !== 'string' || (f === 'title' && v.trim() === '')) fail(`rule ${i + 1}: "${f}" must be ${f === 'title' ? 'a non-empty' : 'a'} string.`);
      if ((v as string).length > limits[f]!) fail(`rule ${i + 1}: "${f}" is longer than ${limits[f]} characters.`);
      for (const m of (v as string).matchAll(PLACEHOLDER)) {
        if (!PATH.test(m[1]!)) fail(`rule ${i + 1}: "${f}" uses {{${m[1]}}}; placeholders are {{type}}, {{app}} and {{payload}} or {{payload.field.sub}}.`);
      }
    }
  });
}

function lookup(path: string, ctx: { type: string; app: string; payload: unknown }): string {
  if (path === 'type') return ctx.type;
  if (path === 'app') return ctx.app;
  let v: unknown = ctx.payload;
  for (const part of path.split('.').slice(1)) {
    if (typeof v !== 'object' || v === null || !Object.prototype.hasOwnProperty.call(v, part)) return '';
    v = (v as Record<string, unknown>)[part];
  }
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * Fills a template: each `{{path}}` becomes the value at that path (strings as they are, other
 * values as JSON, missing ones as ""), and the result is cut to `max` characters.
 */
export function renderTemplate(template: string, ctx: { type: string; app: string; payload: unknown }, max: number): string {
  return template.replace(PLACEHOLDER, (_, p: string) => lookup(p, ctx)).slice(0, max);
}

/** The rules of a manifest that match an event type. */
export function rulesFor(rules: unknown, type: string): NotifyRule[] {
  return Array.isArray(rules) ? (rules as NotifyRule[]).filter((r) => r && r.on === type) : [];
}
