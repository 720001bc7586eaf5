import { z } from 'zod';
import { FaztError } from '../errors.js';
import { APP_NAME_PATTERN, APP_NAME_RULE } from './names.js';

/** Zod schema of an app name (see `names.ts`). */
export const AppNameSchema = z.string().regex(APP_NAME_PATTERN, APP_NAME_RULE);

/**
 * `app.json`, the app manifest, validated with zod. Unknown keys are kept and reported as warnings
 * (a manifest written for a newer Fazt still deploys).
 */

/**
 * Permission strings: `area` or `area:detail`. Known areas: `net:<host>` (outbound `fazt.net.fetch`
 * to that host; `*.example.com` for subdomains; `net:*` any public host), `events:<app>` (receive that
 * app's events), `ai`, `notify`, `kernel:deploy`.
 */
export const PermissionSchema = z.string().regex(/^[a-z][a-z0-9-]*(:[a-zA-Z0-9.*_-]+)?$/, 'a permission looks like "ai" or "net:example.com"');

/** Zod schema of `app.json`. */
export const AppManifestSchema = z.looseObject({
  /** Default name (and subdomain) of the app; `--name` at deploy overrides it. */
  name: AppNameSchema.optional(),
  /** Human title shown in the dashboard. */
  title: z.string().min(1).max(100).optional(),
  /** One-line description. */
  description: z.string().max(1000).optional(),
  /** Path of an icon file inside the app. */
  icon: z.string().max(1024).optional(),
  /** Serve `index.html` for unknown paths without a file extension (client-side routing). */
  spa: z.boolean().default(false),
  /** Path of a custom 404 page inside the app (default `404.html` when present). */
  notFound: z.string().max(1024).optional(),
  /** Permissions the app asks the owner for. */
  permissions: z.array(PermissionSchema).max(100).default([]),
  /**
   * Cron jobs (`fazt.schedule`): each runs the app's `scheduled(job)` export. `cron` is a 5- or
   * 6-field cron expression (croner syntax, evaluated in UTC unless `timezone` is given); `catchUp`
   * says what happens to runs missed while the node was down: `skip` them, run `once`, or run `all`
   * (at most 100).
   */
  schedule: z
    .array(
      z.looseObject({
        name: z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'a job name is 1–64 letters, digits, "_", "." or "-"').optional(),
        cron: z.string().min(1).max(200),
        catchUp: z.enum(['skip', 'once', 'all']).default('once'),
        timezone: z.string().max(64).optional(),
        state: z.unknown().optional(),
      }),
    )
    .max(100)
    .default([]),
  /**
   * Events (`fazt.events`). `subscribe` lists event types whose arrival runs the app's `on(event)`
   * export: `"note.created"` (its own), `"other-app:note.created"` or `"other-app:*"` (another app's,
   * delivered only when the owner granted the `events:other-app` permission). `emits` maps the
   * types this app emits to a JSON Schema (draft 2020-12) their payloads must satisfy.
   */
  events: z
    .looseObject({
      subscribe: z.array(z.string().regex(/^([a-z0-9][a-z0-9-]*:)?([a-zA-Z0-9_.-]+|\*)$/, 'an event type looks like "note.created" or "other-app:note.created"')).max(100).default([]),
      emits: z.record(z.string().regex(/^[a-zA-Z0-9_.-]{1,100}$/), z.record(z.string(), z.unknown())).default({}),
    })
    .default({ subscribe: [], emits: {} }),
  /** Document store (`fazt.docs`): per collection, the JSON field paths to index (`"done"`, `"author.name"`). */
  docs: z
    .looseObject({
      indexes: z.record(z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/), z.array(z.string().regex(/^[a-zA-Z_$][a-zA-Z0-9_$]*(\.[a-zA-Z_$][a-zA-Z0-9_$]*)*$/)).max(16)).default({}),
    })
    .default({ indexes: {} }),
  /**
   * Notification rules without code (docs/notify.md): `[{ "on": "note.created", "title": "New note",
   * "body": "{{payload.title}}", "url": "notes/{{payload.id}}" }]` — when the app emits `on`, the
   * owner is notified. Needs the `notify` permission; checked in full at deploy (`validateNotifyRules`).
   */
  notify: z.array(z.unknown()).optional(),
});

/** A validated manifest. */
export type AppManifest = z.infer<typeof AppManifestSchema>;

/** Keys this build understands; others produce warnings. */
const KNOWN_KEYS = new Set(['name', 'title', 'description', 'icon', 'spa', 'notFound', 'permissions', 'schedule', 'events', 'docs', 'notify', '$schema', 'version']);

/**
 * Parses and validates `app.json` bytes.
 * @returns the manifest and warnings (unknown keys).
 * @throws FaztError `INVALID_MANIFEST` with the JSON error position or the first schema problems.
 */
export function parseManifest(bytes: Uint8Array): { manifest: AppManifest; warnings: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new FaztError('INVALID_MANIFEST', `app.json is not valid JSON: ${(e as Error).message}. Nothing was deployed.`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new FaztError('INVALID_MANIFEST', 'app.json must be a JSON object like {"name": "blog", "title": "My blog"}. Nothing was deployed.');
  }
  const r = AppManifestSchema.safeParse(json);
  if (!r.success) {
    const problems = r.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new FaztError('INVALID_MANIFEST', `app.json is invalid: ${problems.join('; ')}. Nothing was deployed.`);
  }
  const warnings = Object.keys(json).filter((k) => !KNOWN_KEYS.has(k)).map((k) => `app.json: unknown key "${k}" ignored`);
  return { manifest: r.data, warnings };
}
