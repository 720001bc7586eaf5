import { base64 } from '@scure/base';
import { zipSync } from 'fflate';
import { FaztError } from '../errors.js';
import type { AppDeployed, Kernel } from '../kernel.js';
import { deployNeedsApproval } from '../auth/index.js';
import type { ToolContext } from './types.js';

/** Largest file `read_file` returns, bytes (1 MiB): a model's context cannot take more anyway. */
export const MAX_READ_BYTES = 1024 * 1024;

/**
 * Largest live tree `write_files` rebuilds, bytes (32 MiB). The new version is the live tree with
 * the changes applied, assembled in memory as one upload; larger apps are deployed from a folder
 * (`fazt app deploy DIR`).
 */
export const MAX_EDIT_TREE_BYTES = 32 * 1024 * 1024;

/** A file read from an app version: UTF-8 text when it decodes as such, else base64. */
export interface FileContent {
  app: string;
  version: number;
  path: string;
  /** Bytes. */
  size: number;
  /** SHA-256 of the content, hex. */
  hash: string;
  encoding: 'utf8' | 'base64';
  content: string;
}

/**
 * Reads one file of an app's live version (or of `version`).
 * @throws FaztError `APP_NOT_FOUND`, `VERSION_NOT_FOUND`, `NOT_FOUND` (no such file; the message
 *   names the tool that lists them), `LIMIT_EXCEEDED` (over {@link MAX_READ_BYTES}).
 */
export function readAppFile(kernel: Kernel, ref: string, path: string, version?: number): FileContent {
  const app = kernel.apps.require(ref);
  const v = liveOr(kernel, app.id, app.name, app.currentVersion, version);
  const file = kernel.apps.file(app.id, v, path.replace(/^\/+/, ''));
  if (!file) throw new FaztError('NOT_FOUND', `Version ${v} of "${app.name}" has no file "${path}". The list_files tool lists them.`);
  if (file.size > MAX_READ_BYTES) {
    throw new FaztError('LIMIT_EXCEEDED', `"${path}" is ${file.size} bytes; read_file returns files up to ${MAX_READ_BYTES} bytes. Fetch it from the app's URL instead.`);
  }
  const bytes = kernel.blobs.readAll(file);
  let text: string | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = undefined;
  }
  return { app: app.name, version: v, path: file.path, size: file.size, hash: file.hash, encoding: text === undefined ? 'base64' : 'utf8', content: text ?? base64.encode(bytes) };
}

/** The version to read: the one asked for (it must exist), else the live one. */
function liveOr(kernel: Kernel, appId: string, name: string, live: number | null, version: number | undefined): number {
  if (version === undefined) {
    if (live === null) throw new FaztError('VERSION_NOT_FOUND', `"${name}" has no live version.`);
    return live;
  }
  if (!kernel.apps.versions(appId).some((x) => x.version === version)) throw new FaztError('VERSION_NOT_FOUND', `"${name}" has no version ${version}.`);
  return version;
}

/** One file to write with {@link writeAppFiles}. */
export interface FileWrite {
  /** Path in the app, `/`-separated (a leading `/` is dropped). */
  path: string;
  /** The content: text, or base64 when `encoding` is `base64`. */
  content: string;
  encoding?: 'utf8' | 'base64';
}

/** What {@link writeAppFiles} reports: the deploy's outcome and what changed. */
export interface FilesWritten {
  app: string;
  id: string;
  version: number;
  /** False when the version waits for the owner's approval (see `AppRegistry.approve`). */
  live: boolean;
  created: boolean;
  files: number;
  bytes: number;
  written: string[];
  deleted: string[];
  warnings: string[];
  permissions: AppDeployed['permissions'];
  /** Where the app is served, when the context knows the node's origin. */
  urls: string[];
}

/**
 * Deploys a new version of an app made of its live version's files with `writes` and `deletes`
 * applied (a new app when none has that name: then `writes` are its files). It goes through the
 * kernel's one deploy path (`Kernel.deployApp`): `app.json` validation, the runtime's syntax check,
 * the cron and event-schema checks, one transaction; a refused deploy changes nothing. Permissions
 * the new version requests stay pending (the owner grants them). A non-admin caller's version of an
 * app holding secrets or grants waits for the owner's approval, as on the admin API.
 * Another deploy of the app landing meanwhile is not overwritten: the write is refused (`CONFLICT`).
 * @param options.ifVersion refuse (`CONFLICT`) unless this is the live version (the one the caller read).
 * @throws FaztError `CONFLICT` (see above), `INVALID_ARGUMENT` (nothing to change, a path both written and deleted, bad
 *   base64), `NOT_FOUND` (deleting a file the app does not have), `LIMIT_EXCEEDED` (a live tree over
 *   {@link MAX_EDIT_TREE_BYTES}), and whatever the deploy throws (`UNSAFE_PATH`, `INVALID_MANIFEST`,
 *   `INVALID_NAME`, `INVALID_CODE` for server code that does not parse …).
 */
export async function writeAppFiles(
  ctx: ToolContext,
  ref: string,
  writes: readonly FileWrite[],
  deletes: readonly string[] = [],
  options: { ifVersion?: number } = {},
): Promise<FilesWritten> {
  const { kernel, principal } = ctx;
  if (writes.length === 0 && deletes.length === 0) throw new FaztError('INVALID_ARGUMENT', 'Nothing to change: give files to write or paths to delete.');
  const clean = (p: string) => p.replace(/^\/+/, '');
  const app = kernel.apps.resolve(ref);
  const base = app?.currentVersion ?? null;
  if (options.ifVersion !== undefined && base !== options.ifVersion) {
    throw new FaztError('CONFLICT', app ? `The live version of "${app.name}" is ${base ?? 'none'}, not ${options.ifVersion}: read the files again, then retry. Nothing was deployed.` : `No app "${ref}" exists, so it has no version ${options.ifVersion}. Nothing was deployed.`);
  }
  const tree = new Map<string, Uint8Array>();
  if (app && app.currentVersion !== null) {
    const files = kernel.apps.files(app.id, app.currentVersion);
    const total = files.reduce((s, f) => s + f.size, 0);
    if (total > MAX_EDIT_TREE_BYTES) {
      throw new FaztError('LIMIT_EXCEEDED', `"${app.name}" holds ${total} bytes of files; write_files edits apps up to ${MAX_EDIT_TREE_BYTES} bytes. Deploy it from a folder: \`fazt app deploy DIR\`.`);
    }
    for (const f of files) tree.set(f.path, kernel.blobs.readAll(kernel.apps.file(app.id, app.currentVersion, f.path)!));
  }
  const deleted: string[] = [];
  for (const d of deletes) {
    const p = clean(d);
    if (!tree.delete(p)) throw new FaztError('NOT_FOUND', `${app ? `The live version of "${app.name}"` : 'The new app'} has no file "${d}" to delete. The list_files tool lists them.`);
    deleted.push(p);
  }
  const written: string[] = [];
  for (const w of writes) {
    const p = clean(w.path);
    if (deleted.includes(p)) throw new FaztError('INVALID_ARGUMENT', `"${w.path}" is both written and deleted; do one.`);
    let bytes: Uint8Array;
    if (w.encoding === 'base64') {
      try {
        bytes = base64.decode(w.content.replace(/\s+/g, ''));
      } catch {
        throw new FaztError('INVALID_ARGUMENT', `The content of "${w.path}" is not valid base64.`);
      }
    } else {
      bytes = new TextEncoder().encode(w.content);
    }
    tree.set(p, bytes);
    written.push(p);
  }
  if (tree.size === 0) throw new FaztError('INVALID_ARGUMENT', 'The new version would hold no files; an app needs at least one. Remove the app from the dashboard or the CLI instead.');
  // stored (level 0): the deploy reads it as it reads any zip; paths travel as UTF-8, unescaped
  const archive = zipSync(Object.fromEntries(tree), { level: 0 });
  const name = app?.name ?? ref;
  const r = await kernel.deployApp({
    body: new Response(archive).body!,
    contentType: 'application/zip',
    contentLength: archive.length,
    name,
    // called again inside the committing transaction: a deploy that landed since the tree was read
    // would be overwritten without its changes, so it is refused instead
    review: (target) => {
      if (target?.id !== app?.id || (target?.currentVersion ?? null) !== base) {
        throw new FaztError('CONFLICT', `"${name}" changed while these files were being deployed (live version ${target?.currentVersion ?? 'none'} now, ${base ?? 'none'} before): read it again, then retry. Nothing was deployed.`);
      }
      if (principal.scope === 'admin') return undefined;
      return { deployedBy: principal.tokenId ? `token:${principal.tokenId}` : 'mcp', hold: deployNeedsApproval(principal, !!target && kernel.holdsOwnerDecisions(target.id)) };
    },
  });
  return {
    app: r.name,
    id: r.id,
    version: r.version,
    live: r.live,
    created: r.created,
    files: r.files,
    bytes: r.bytes,
    written,
    deleted,
    warnings: r.warnings,
    permissions: r.permissions,
    urls: appUrls(ctx, r.name),
  };
}

/** The URLs an app is served at, seen from `ctx.origin` (its subdomain and `/a/<name>/`); none without an origin. */
export function appUrls(ctx: ToolContext, name: string): string[] {
  if (!ctx.origin) return [];
  const u = new URL(ctx.origin);
  return [`${u.protocol}//${name}.${ctx.kernel.domain}${u.port ? ':' + u.port : ''}/`, `${u.origin}/a/${name}/`];
}
