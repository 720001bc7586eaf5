import { z } from 'zod';
import { FaztError } from '../errors.js';
import { deployNeedsApproval } from '../auth/index.js';
import { LOG_LEVELS } from '../storage/index.js';
import { appUrls, readAppFile, writeAppFiles } from './files.js';
import type { ToolAnnotations, ToolContext, ToolDefinition } from './types.js';

/**
 * The kernel's tool catalogue: what an agent may do on a node, one tool per use case, each calling
 * the kernel's use-case methods and stores — the ones the admin API and the CLI call. Covers what
 * the CLI does with apps and their data: list and inspect apps, read and write their files (a write
 * deploys a new version), roll back, logs, jobs, kv and documents, events, health.
 *
 * Left out on purpose, as owner decisions an agent should not take: granting or revoking
 * permissions, secrets, tokens, removing or renaming apps, pairing devices, backups.
 */

const READ: ToolAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
/** A write that only adds (a new document, an event). */
const ADDS: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };
/** A write that replaces or removes something, repeated to no further effect. */
const REPLACES: ToolAnnotations = { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false };
/** A write that replaces something, and again when repeated (a new version, a rollback). */
const CHANGES: ToolAnnotations = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false };

/** Defines a tool, inferring its argument type from its schema. */
function tool<S extends z.ZodType>(t: ToolDefinition<S>): ToolDefinition<S> {
  return t;
}

const app = z.string().min(1).max(200).describe('The app: its name, one of its aliases, or its id.');
const version = z.number().int().min(1).describe('A version number (see list_versions); default: the live version.');
const collection = z
  .string()
  .regex(/^[a-zA-Z0-9_-]{1,64}$/, 'a collection name is 1–64 letters, digits, "_" or "-"')
  .describe('The document collection (1–64 letters, digits, "_" or "-").');
const filter = z
  .record(z.string(), z.unknown())
  .describe('A filter: field path → value (equality) or operators {$eq,$ne,$gt,$gte,$lt,$lte,$in,$nin,$contains}, e.g. {"done": false, "votes": {"$gte": 10}}.');

/** The app record an agent sees (the `AppRecord` with its URLs). */
function appView(ctx: ToolContext, ref: string) {
  const a = ctx.kernel.apps.require(ref);
  return { ...a, urls: a.currentVersion === null ? [] : appUrls(ctx, a.name) };
}

/** Every tool of the catalogue, in a stable order (read-only first). */
export const TOOLS: readonly ToolDefinition[] = [
  tool({
    name: 'health',
    title: 'Node health',
    description: "The node's id, software version, cartridge schema version and integrity check state, and how many apps it holds.",
    input: z.strictObject({}),
    annotations: READ,
    run: ({ kernel }) => ({
      ok: true,
      node: kernel.cartridge.nodeId,
      version: kernel.version,
      schema: kernel.cartridge.schemaVersion,
      integrity: kernel.cartridge.integrity.state,
      apps: kernel.apps.list().length,
      runtime: kernel.runtime !== undefined,
    }),
  }),
  tool({
    name: 'list_apps',
    title: 'List apps',
    description: 'Every app on the node: id, name, title, live version, aliases and URLs.',
    input: z.strictObject({}),
    annotations: READ,
    run: (ctx) => ({ apps: ctx.kernel.apps.list().map((a) => appView(ctx, a.id)) }),
  }),
  tool({
    name: 'get_app',
    title: 'Inspect an app',
    description:
      "One app in detail: its record, the live version's manifest (app.json), file count and size, how many versions it has, its permissions (requested, granted, pending) and a summary of its stored data (kv keys, document collections, blobs).",
    input: z.strictObject({ app }),
    annotations: READ,
    run: (ctx, a) => {
      const { kernel } = ctx;
      const rec = appView(ctx, a.app);
      const versions = kernel.apps.versions(rec.id);
      const live = versions.find((v) => v.current);
      return {
        ...rec,
        manifest: live?.manifest ?? null,
        versions: versions.length,
        files: live?.fileCount ?? 0,
        bytes: live?.totalBytes ?? 0,
        permissions: kernel.permissionStatus(rec.id),
        storage: kernel.storageSummary(rec.id),
      };
    },
  }),
  tool({
    name: 'list_versions',
    title: "List an app's versions",
    description: 'The versions of an app, newest first: number, time (ms since epoch), files, bytes, whether it is live, waiting for approval, reviewed.',
    input: z.strictObject({ app }),
    annotations: READ,
    run: ({ kernel }, a) => {
      const rec = kernel.apps.require(a.app);
      return { app: rec.name, versions: kernel.apps.versions(rec.id).map(({ manifest: _m, treeHash: _t, ...v }) => v) };
    },
  }),
  tool({
    name: 'list_files',
    title: "List an app's files",
    description: 'The files of the live version of an app (or of `version`): path, size in bytes, SHA-256.',
    input: z.strictObject({ app, version: version.optional() }),
    annotations: READ,
    run: ({ kernel }, a) => {
      const rec = kernel.apps.require(a.app);
      const v = a.version ?? rec.currentVersion;
      if (v === null) throw new FaztError('VERSION_NOT_FOUND', `"${rec.name}" has no live version.`);
      if (!kernel.apps.versions(rec.id).some((x) => x.version === v)) throw new FaztError('VERSION_NOT_FOUND', `"${rec.name}" has no version ${v}.`);
      return { app: rec.name, version: v, files: kernel.apps.files(rec.id, v) };
    },
  }),
  tool({
    name: 'read_file',
    title: "Read an app's file",
    description: 'The content of one file of an app (live version, or `version`): UTF-8 text, or base64 for binary files (`encoding` says which). Files up to 1 MiB.',
    input: z.strictObject({ app, path: z.string().min(1).max(1024).describe('The file path in the app, e.g. "index.html" or "api/main.js".'), version: version.optional() }),
    annotations: READ,
    run: ({ kernel }, a) => readAppFile(kernel, a.app, a.path, a.version),
  }),
  tool({
    name: 'read_logs',
    title: "Read an app's log",
    description: "The latest entries of an app's log (its console.* output and runtime errors), oldest first; `after` pages forward from an entry id.",
    input: z.strictObject({
      app,
      limit: z.number().int().min(1).max(1000).default(50).describe('How many entries (1–1000, default 50).'),
      level: z.enum(LOG_LEVELS as [string, ...string[]]).optional().describe('Only this level and above: debug, info, warn or error.'),
      after: z.number().int().min(0).optional().describe('Only entries after this entry id (the `id` of the last entry seen).'),
    }),
    annotations: READ,
    run: ({ kernel }, a) => {
      const rec = kernel.apps.require(a.app);
      const level = a.level as (typeof LOG_LEVELS)[number] | undefined;
      const logs = a.after !== undefined ? kernel.logs.query(rec.id, { afterId: a.after, limit: a.limit, level }) : kernel.logs.tail(rec.id, a.limit, level);
      return { app: rec.name, logs: logs.map(({ appId: _id, ...e }) => e) };
    },
  }),
  tool({
    name: 'list_jobs',
    title: "List an app's jobs",
    description: "An app's scheduled, running and failed jobs (cron entries from app.json and one-shot jobs): next run time (ms since epoch), attempts, last error.",
    input: z.strictObject({ app }),
    annotations: READ,
    run: ({ kernel }, a) => {
      const rec = kernel.apps.require(a.app);
      return { app: rec.name, jobs: kernel.jobs.list(rec.id) };
    },
  }),
  tool({
    name: 'list_events',
    title: 'List recent events',
    description: 'The latest events apps emitted, newest first: id, emitting app, type, payload, time (ms since epoch).',
    input: z.strictObject({
      app: app.optional().describe('Only events this app emitted (its name, alias or id); default: every app.'),
      limit: z.number().int().min(1).max(1000).default(20).describe('How many (1–1000, default 20).'),
    }),
    annotations: READ,
    run: ({ kernel }, a) => ({ events: kernel.events.recent(a.app === undefined ? undefined : kernel.apps.require(a.app).id, a.limit) }),
  }),
  tool({
    name: 'kv_get',
    title: 'Read a kv key',
    description: "One key of an app's key-value store (what its code reads with fazt.kv.get): the stored JSON value, or found: false.",
    input: z.strictObject({ app, key: z.string().min(1).max(512).describe('The key.') }),
    annotations: READ,
    run: ({ kernel }, a) => {
      const rec = kernel.apps.require(a.app);
      const json = kernel.kv.get(rec.id, a.key);
      return json === undefined ? { app: rec.name, key: a.key, found: false } : { app: rec.name, key: a.key, found: true, value: JSON.parse(json) as unknown };
    },
  }),
  tool({
    name: 'kv_list',
    title: 'List kv keys',
    description: "Keys of an app's key-value store with their values, in key order, a page at a time (`cursor` from the previous page).",
    input: z.strictObject({
      app,
      prefix: z.string().max(512).optional().describe('Only keys starting with exactly this text.'),
      limit: z.number().int().min(1).max(1000).default(100).describe('Page size (1–1000, default 100).'),
      cursor: z.string().max(2048).optional().describe('The `cursor` of the previous page.'),
    }),
    annotations: READ,
    run: ({ kernel }, a) => {
      const rec = kernel.apps.require(a.app);
      const page = kernel.kv.list(rec.id, { prefix: a.prefix, limit: a.limit, cursor: a.cursor });
      return { app: rec.name, items: page.items.map((i) => ({ ...i, value: JSON.parse(i.value) as unknown })), ...(page.cursor ? { cursor: page.cursor } : {}) };
    },
  }),
  tool({
    name: 'docs_collections',
    title: 'List document collections',
    description: "An app's document collections (what its code uses through fazt.docs) with their document counts.",
    input: z.strictObject({ app }),
    annotations: READ,
    run: ({ kernel }, a) => {
      const rec = kernel.apps.require(a.app);
      return { app: rec.name, collections: kernel.docs.collections(rec.id) };
    },
  }),
  tool({
    name: 'docs_find',
    title: 'Find documents',
    description: "Documents of an app's collection that match a filter, sorted and paged, with the total count of matches.",
    input: z.strictObject({
      app,
      collection,
      where: filter.optional(),
      sort: z.record(z.string(), z.union([z.literal(1), z.literal(-1)])).optional().describe('Field path → 1 (ascending) or -1 (descending); default: by _id.'),
      limit: z.number().int().min(1).max(1000).default(50).describe('How many (1–1000, default 50).'),
      offset: z.number().int().min(0).default(0).describe('How many matches to skip.'),
    }),
    annotations: READ,
    run: ({ kernel }, a) => {
      const rec = kernel.apps.require(a.app);
      return {
        app: rec.name,
        collection: a.collection,
        total: kernel.docs.count(rec.id, a.collection, a.where),
        documents: kernel.docs.find(rec.id, a.collection, { where: a.where, sort: a.sort, limit: a.limit, offset: a.offset }),
      };
    },
  }),
  // ------------------------------------------------------------------ writes
  tool({
    name: 'write_files',
    title: "Write an app's files and deploy",
    description:
      "Deploys a new version of an app: its live files with these written (created or replaced) and those deleted; a name no app has yet creates a new app from the files. It goes through the node's deploy checks (app.json, code syntax, cron, event schemas): a refused deploy changes nothing. The old version stays and rollback returns to it. Permissions a new app.json requests stay pending until the owner grants them. Returns the new version number.",
    input: z.strictObject({
      app: app.describe('The app to change (name, alias or id), or the name of a new app.'),
      files: z
        .array(
          z.strictObject({
            path: z.string().min(1).max(1024).describe('The file path in the app, e.g. "index.html".'),
            content: z.string().describe('The whole new content.'),
            encoding: z.enum(['utf8', 'base64']).default('utf8').describe('How `content` is given: text (utf8, default) or base64 for binary files.'),
          }),
        )
        .max(1000)
        .default([])
        .describe('Files to create or replace.'),
      delete: z.array(z.string().min(1).max(1024)).max(1000).default([]).describe('Paths of files to remove.'),
      ifVersion: z.number().int().min(1).optional().describe('Deploy only if this is still the live version (the one you read); otherwise CONFLICT and nothing changes.'),
    }),
    annotations: CHANGES,
    run: (ctx, a) => writeAppFiles(ctx, a.app, a.files, a.delete, { ifVersion: a.ifVersion }),
  }),
  tool({
    name: 'rollback',
    title: 'Roll an app back',
    description: "Makes an earlier version of an app live again (default: the version before the live one). Nothing is deleted: rolling forward is another rollback to the newer version.",
    input: z.strictObject({ app, version: version.optional().describe('The version to make live; default: the one before the live one.') }),
    annotations: CHANGES,
    run: (ctx, a) => {
      const { kernel, principal } = ctx;
      const rec = kernel.apps.require(a.app);
      const r = kernel.rollbackApp(rec.id, a.version, { reviewedOnly: deployNeedsApproval(principal, kernel.holdsOwnerDecisions(rec.id)) });
      return { app: r.app.name, from: r.from, to: r.to, urls: appUrls(ctx, r.app.name) };
    },
  }),
  tool({
    name: 'kv_set',
    title: 'Write a kv key',
    description: "Sets a key of an app's key-value store to a JSON value (what its code reads with fazt.kv.get), replacing any value; optionally expiring after ttlMs.",
    input: z.strictObject({
      app,
      key: z.string().min(1).max(512).describe('The key.'),
      value: z.unknown().refine((v) => v !== undefined, 'a value is required (any JSON value)').describe('Any JSON value.'),
      ttlMs: z.number().int().positive().optional().describe('Expire the key this many milliseconds from now.'),
    }),
    annotations: REPLACES,
    run: ({ kernel }, a) => {
      const rec = kernel.apps.require(a.app);
      kernel.kv.set(rec.id, a.key, JSON.stringify(a.value), a.ttlMs === undefined ? undefined : { ttlMs: a.ttlMs });
      return { app: rec.name, key: a.key, set: true };
    },
  }),
  tool({
    name: 'kv_delete',
    title: 'Delete a kv key',
    description: "Removes a key from an app's key-value store; `deleted` says whether it existed.",
    input: z.strictObject({ app, key: z.string().min(1).max(512).describe('The key.') }),
    annotations: REPLACES,
    run: ({ kernel }, a) => {
      const rec = kernel.apps.require(a.app);
      return { app: rec.name, key: a.key, deleted: kernel.kv.delete(rec.id, a.key) };
    },
  }),
  tool({
    name: 'docs_insert',
    title: 'Insert a document',
    description: "Adds a JSON object to an app's document collection; an `_id` is made when the document has none. Returns the stored document.",
    input: z.strictObject({ app, collection, doc: z.record(z.string(), z.unknown()).describe('The document: a JSON object (optionally with a string `_id`).') }),
    annotations: ADDS,
    run: ({ kernel }, a) => {
      const rec = kernel.apps.require(a.app);
      return { app: rec.name, collection: a.collection, doc: kernel.docs.insert(rec.id, a.collection, a.doc) };
    },
  }),
  tool({
    name: 'docs_update',
    title: 'Update documents',
    description: 'Changes the document with `id`, or every document matching `where` ({} = all), with $set / $unset / $inc. Returns how many changed.',
    input: z.strictObject({
      app,
      collection,
      id: z.string().min(1).max(128).optional().describe('The `_id` of the one document to change.'),
      where: filter.optional(),
      update: z
        .strictObject({
          $set: z.record(z.string(), z.unknown()).optional(),
          $unset: z.record(z.string(), z.unknown()).optional(),
          $inc: z.record(z.string(), z.number()).optional(),
        })
        .describe('{"$set": {path: value}, "$unset": {path: true}, "$inc": {path: number}}.'),
    }),
    annotations: { ...CHANGES },
    run: ({ kernel }, a) => {
      const rec = kernel.apps.require(a.app);
      return { app: rec.name, collection: a.collection, updated: kernel.docs.update(rec.id, a.collection, selector(a), a.update) };
    },
  }),
  tool({
    name: 'docs_delete',
    title: 'Delete documents',
    description: 'Removes the document with `id`, or every document matching `where` ({} = all). Returns how many were removed.',
    input: z.strictObject({ app, collection, id: z.string().min(1).max(128).optional().describe('The `_id` of the one document to remove.'), where: filter.optional() }),
    annotations: REPLACES,
    run: ({ kernel }, a) => {
      const rec = kernel.apps.require(a.app);
      return { app: rec.name, collection: a.collection, deleted: kernel.docs.delete(rec.id, a.collection, selector(a)) };
    },
  }),
  tool({
    name: 'emit_event',
    title: 'Emit an event',
    description:
      "Emits an event as the app (what its code does with fazt.events.emit): stored, then delivered to the apps subscribed to it. The payload must match the schema the app's manifest declares for the type, if any.",
    input: z.strictObject({
      app: app.describe('The emitting app (name, alias or id).'),
      type: z.string().regex(/^[a-zA-Z0-9_.-]{1,100}$/, 'an event type is 1–100 letters, digits, "_", "." or "-"').describe('The event type, e.g. "note.created".'),
      payload: z.unknown().optional().describe('Any JSON value (default null), at most 64 KiB as JSON.'),
    }),
    annotations: ADDS,
    run: ({ kernel }, a) => {
      const rec = kernel.apps.require(a.app);
      return { event: kernel.events.emit(rec.id, a.type, a.payload ?? null) };
    },
  }),
];

/** `id` or `where` of a docs write: exactly one. @throws FaztError `INVALID_ARGUMENT`. */
function selector(a: { id?: string; where?: Record<string, unknown> }): string | Record<string, unknown> {
  if ((a.id === undefined) === (a.where === undefined)) throw new FaztError('INVALID_ARGUMENT', 'Give either `id` (one document) or `where` (a filter; {} means every document), not both or neither.');
  return a.id ?? a.where!;
}
