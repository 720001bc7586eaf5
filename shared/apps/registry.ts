import { FaztError } from '../errors.js';
import { externalWritesOf, type Cartridge } from '../cartridge/index.js';
import type { BlobInfo } from '../vfs/blobs.js';
import { LruCache } from '../lib/lru.js';
import { assertAppName } from './names.js';
import type { AppManifest } from './manifest.js';

/** An app as the admin API shows it. */
export interface AppRecord {
  /** Stable UUID; never changes. */
  id: string;
  /** Primary name (subdomain and `/a/<name>/`). */
  name: string;
  /** Human title. */
  title: string;
  /** Live version number, `null` before the first deploy completed. */
  currentVersion: number | null;
  /** Every alias pointing at the app, the name included. */
  aliases: string[];
  /** ms since epoch. */
  createdAt: number;
  /** ms since epoch. */
  updatedAt: number;
}

/** One immutable version of an app's file tree. */
export interface VersionRecord {
  version: number;
  /** ms since epoch. */
  createdAt: number;
  fileCount: number;
  /** Sum of file sizes, bytes. */
  totalBytes: number;
  /** SHA-256 over the sorted `path\0hash\n` list: equal trees have equal hashes. */
  treeHash: string;
  manifest: AppManifest;
  /** True for the live version. */
  current: boolean;
  /**
   * True while the version waits for the owner's approval (deployed by a non-admin to an app holding
   * secrets or grants): it is never live, and no rollback reaches it, until approved.
   */
  pending: boolean;
  /**
   * True when an admin deployed the version or the owner approved it; false for a version deployed
   * without the admin scope and never approved (a non-admin may not make it live again while the app
   * holds secrets or grants).
   */
  reviewed: boolean;
}

/** How a version deployed without the admin scope lands, see {@link AppRegistry.commitVersion}. */
export interface UnreviewedDeploy {
  /** Who deployed it: `token:<id>` or `session:<user id>`. */
  deployedBy: string;
  /** Store it without making it live: it waits for the owner's approval. */
  hold: boolean;
}

/** A version waiting for the owner's approval. */
export interface PendingVersion {
  version: number;
  /** Who deployed it: `token:<id>` or `session:<user id>`. */
  deployedBy: string;
  /** ms since epoch. */
  requestedAt: number;
}

/** A file of a version. */
export interface FileRecord {
  path: string;
  /** Bytes. */
  size: number;
  /** SHA-256 of the content. */
  hash: string;
}

/** A committed change of an app, as {@link AppRegistry.onChange} reports it. */
export interface AppChange {
  kind: 'deploy' | 'rollback' | 'rename' | 'remove';
  appId: string;
  /** The live version after the change (`null` after removal). */
  version: number | null;
}

/** The file served for a request: blob metadata plus the app version it belongs to. */
export interface ServedFile extends BlobInfo {
  path: string;
}

interface AppRow {
  id: string;
  name: string;
  title: string;
  current_version: number | null;
  created_at: number;
  updated_at: number;
}

/**
 * Apps, aliases and versions in the cartridge. Names and aliases point at the app's UUID, so
 * renaming or aliasing moves no file and loses nothing. All writes are single transactions stamped
 * with the node's HLC.
 */
export class AppRegistry {
  /**
   * File lookups by `appId NUL version NUL path`. Versions are immutable, so an entry never goes stale;
   * `null` records a miss (SPA fallbacks and clean URLs probe several paths).
   */
  private readonly files_ = new LruCache<string, ServedFile | null>(20_000);

  private readonly listeners = new Set<(change: AppChange) => void>();

  /**
   * {@link lookupLive} answers by alias. Cleared by every alias or app write of this registry; rows
   * another process committed are noticed through {@link ExternalWrites} within its interval.
   */
  private readonly live = new Map<string, { id: string; version: number | null; name: string } | null>();
  private liveGen = -1;

  constructor(private readonly cart: Cartridge) {}

  /**
   * Calls `listener` after every committed change of an app's live state (deploy, rollback, rename,
   * removal). Listener errors are not the writer's problem: they are swallowed.
   * @returns unsubscribe.
   */
  onChange(listener: (change: AppChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Tells the registry that sync wrote an app's rows (docs/sync-spec.md S21): lookups are cleared and
   * listeners hear the change, as after a local deploy, rollback, rename or removal.
   */
  replicated(change: AppChange): void {
    this.changed(change);
  }

  private changed(change: AppChange): void {
    this.live.clear();
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        /* a listener's failure must not undo a committed change */
      }
    }
  }

  private get db() {
    return this.cart.db;
  }

  private toRecord(r: AppRow): AppRecord {
    const aliases = this.db
      .query<{ alias: string }>('SELECT alias FROM app_aliases WHERE app_id = ? AND deleted = 0 ORDER BY is_name DESC, alias', [r.id])
      .map((a) => a.alias);
    return {
      id: r.id,
      name: r.name,
      title: r.title,
      currentVersion: r.current_version,
      aliases,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  /** Looks an app up by name, alias or id (live apps only). */
  resolve(ref: string): AppRecord | undefined {
    const row =
      this.db.get<AppRow>(
        'SELECT a.* FROM app_aliases al JOIN apps a ON a.id = al.app_id WHERE al.alias = ? AND al.deleted = 0 AND a.deleted = 0',
        [ref],
      ) ?? this.db.get<AppRow>('SELECT * FROM apps WHERE id = ? AND deleted = 0', [ref]);
    return row && this.toRecord(row);
  }

  /**
   * Hot path of static serving: app id and live version for an alias, without loading aliases.
   */
  lookupAlias(alias: string): { id: string; version: number | null; name: string } | undefined {
    const r = this.db.get<{ id: string; v: number | null; name: string }>(
      'SELECT a.id AS id, a.current_version AS v, a.name AS name FROM app_aliases al JOIN apps a ON a.id = al.app_id WHERE al.alias = ? AND al.deleted = 0 AND a.deleted = 0',
      [alias],
    );
    return r && { id: r.id, version: r.v, name: r.name };
  }

  /**
   * {@link lookupAlias} through a cache, for the request path (every request to an app asks). Never
   * call it inside a transaction: it could cache rows that are then rolled back.
   * @returns the same as {@link lookupAlias}; `undefined` for unknown aliases (also cached).
   */
  lookupLive(alias: string): { id: string; version: number | null; name: string } | undefined {
    const gen = externalWritesOf(this.db).generation();
    if (gen !== this.liveGen) {
      this.live.clear();
      this.liveGen = gen;
    }
    let hit = this.live.get(alias);
    if (hit === undefined) {
      hit = this.lookupAlias(alias) ?? null;
      if (this.live.size >= 4096) this.live.clear();
      this.live.set(alias, hit);
    }
    return hit ?? undefined;
  }

  /**
   * Like {@link resolve} but throws.
   * @throws FaztError `APP_NOT_FOUND`.
   */
  require(ref: string): AppRecord {
    const app = this.resolve(ref);
    if (!app) throw new FaztError('APP_NOT_FOUND', `No app named "${ref}". Run \`fazt app list\` to see the apps.`);
    return app;
  }

  /** All live apps, by name. */
  list(): AppRecord[] {
    return this.db.query<AppRow>('SELECT * FROM apps WHERE deleted = 0 ORDER BY name').map((r) => this.toRecord(r));
  }

  /** Versions of an app, newest first. */
  versions(appId: string): VersionRecord[] {
    const current = this.db.get<{ v: number | null }>('SELECT current_version AS v FROM apps WHERE id = ?', [appId])?.v;
    const unreviewed = new Map(
      this.db
        .query<{ version: number; held: number }>('SELECT version, held FROM app_version_approvals WHERE app_id = ? AND approved_at IS NULL', [appId])
        .map((r) => [r.version, r.held === 1]),
    );
    return this.db
      .query<{ version: number; created_at: number; file_count: number; total_bytes: number; tree_hash: string; manifest: string }>(
        'SELECT version, created_at, file_count, total_bytes, tree_hash, manifest FROM app_versions WHERE app_id = ? ORDER BY version DESC',
        [appId],
      )
      .map((r) => ({
        version: r.version,
        createdAt: r.created_at,
        fileCount: r.file_count,
        totalBytes: r.total_bytes,
        treeHash: r.tree_hash,
        manifest: JSON.parse(r.manifest) as AppManifest,
        current: r.version === current,
        pending: unreviewed.get(r.version) === true,
        reviewed: !unreviewed.has(r.version),
      }));
  }

  /** Versions of an app waiting for the owner's approval, newest first. */
  pendingVersions(appId: string): PendingVersion[] {
    return this.db
      .query<{ version: number; deployed_by: string; requested_at: number }>(
        'SELECT version, deployed_by, requested_at FROM app_version_approvals WHERE app_id = ? AND held = 1 AND approved_at IS NULL ORDER BY version DESC',
        [appId],
      )
      .map((r) => ({ version: r.version, deployedBy: r.deployed_by, requestedAt: r.requested_at }));
  }

  /**
   * The owner approves a version deployed without the admin scope (one waiting for approval, or an
   * earlier unreviewed one) and makes it live.
   * @throws FaztError `APP_NOT_FOUND`, `VERSION_NOT_FOUND` (no such unreviewed version).
   */
  approve(ref: string, version: number): { app: AppRecord; from: number | null; to: number } {
    const r = this.db.transaction(() => {
      const app = this.require(ref);
      const approved = this.db.run('UPDATE app_version_approvals SET approved_at = ? WHERE app_id = ? AND version = ? AND approved_at IS NULL', [
        this.cart.clock.now(),
        app.id,
        version,
      ]);
      if (approved.changes === 0) {
        throw new FaztError('VERSION_NOT_FOUND', `Version ${version} of "${app.name}" is not waiting for approval. Run \`fazt app versions ${app.name}\`.`);
      }
      this.db.run('UPDATE apps SET current_version = ?, updated_at = ?, hlc = ?, node_id = ? WHERE id = ?', [
        version,
        this.cart.clock.now(),
        this.cart.hlc.now(),
        this.cart.nodeId,
        app.id,
      ]);
      return { app: this.require(app.id), from: app.currentVersion, to: version };
    });
    this.changed({ kind: 'deploy', appId: r.app.id, version: r.to });
    return r;
  }

  /** The manifest of one version. */
  manifest(appId: string, version: number): AppManifest | undefined {
    const r = this.db.get<{ manifest: string }>('SELECT manifest FROM app_versions WHERE app_id = ? AND version = ?', [appId, version]);
    return r && (JSON.parse(r.manifest) as AppManifest);
  }

  /** Files of a version, by path. */
  files(appId: string, version: number): FileRecord[] {
    return this.db.query<FileRecord>(
      'SELECT f.path AS path, b.size AS size, b.hash AS hash FROM vfs_files f JOIN vfs_blobs b ON b.hash = f.blob_hash WHERE f.app_id = ? AND f.version = ? ORDER BY f.path',
      [appId, version],
    );
  }

  /** One file of a version with its blob metadata, or `undefined`. */
  file(appId: string, version: number, path: string): ServedFile | undefined {
    const key = `${appId}\u0000${version}\u0000${path}`;
    const cached = this.files_.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const found = this.fileUncached(appId, version, path);
    this.files_.set(key, found ?? null);
    return found;
  }

  private fileUncached(appId: string, version: number, path: string): ServedFile | undefined {
    const r = this.db.get<{ hash: string; size: number; chunk_size: number; chunk_count: number }>(
      'SELECT b.hash AS hash, b.size AS size, b.chunk_size AS chunk_size, b.chunk_count AS chunk_count FROM vfs_files f JOIN vfs_blobs b ON b.hash = f.blob_hash WHERE f.app_id = ? AND f.version = ? AND f.path = ?',
      [appId, version, path],
    );
    return r && { path, hash: r.hash, size: r.size, chunkSize: r.chunk_size, chunkCount: r.chunk_count };
  }

  /** True when the version has a file under `dir/` (a folder). */
  hasFolder(appId: string, version: number, dir: string): boolean {
    const prefix = dir.endsWith('/') ? dir : dir + '/';
    return !!this.db.get('SELECT 1 FROM vfs_files WHERE app_id = ? AND version = ? AND path > ? AND path < ? LIMIT 1', [
      appId,
      version,
      prefix,
      prefix + '\uffff',
    ]);
  }

  /**
   * Creates the next version of the app `name` (creating the app when the name is free) and makes
   * it live, in one transaction: either everything lands or nothing does.
   * @param files path → blob hash; the blobs must already be stored.
   * @param review called inside the transaction with the existing app (`undefined` for a new one)
   *   and the name: `undefined` for an admin's deploy; for anyone else's, who deployed it and whether
   *   the version must wait for the owner's approval (it is then stored but not made live). May throw
   *   to refuse the deploy.
   * @returns `live: false` for a version that waits for approval.
   * @throws FaztError `INVALID_NAME`, `RESERVED_NAME`, or what `review` throws.
   */
  commitVersion(
    name: string,
    manifest: AppManifest,
    files: Map<string, BlobInfo>,
    treeHash: string,
    review?: (app: AppRecord | undefined, name: string) => UnreviewedDeploy | undefined,
  ): { app: AppRecord; version: number; created: boolean; live: boolean } {
    assertAppName(name);
    const db = this.db;
    const result = db.transaction(() => {
      const now = this.cart.clock.now();
      const hlc = this.cart.hlc.now();
      let existing = this.lookupAlias(name);
      const unreviewed = review?.(existing ? this.require(existing.id) : undefined, name);
      let created = false;
      if (!existing) {
        const id = crypto.randomUUID();
        db.run('INSERT INTO apps (id, name, title, current_version, created_at, updated_at, deleted, hlc, node_id) VALUES (?, ?, ?, NULL, ?, ?, 0, ?, ?)', [
          id,
          name,
          manifest.title ?? name,
          now,
          now,
          hlc,
          this.cart.nodeId,
        ]);
        this.upsertAlias(name, id, true, hlc);
        existing = { id, version: null, name };
        created = true;
      }
      const appId = existing.id;
      const version = (db.get<{ v: number | null }>('SELECT MAX(version) AS v FROM app_versions WHERE app_id = ?', [appId])!.v ?? 0) + 1;
      let total = 0;
      for (const b of files.values()) total += b.size;
      db.run(
        'INSERT INTO app_versions (app_id, version, manifest, tree_hash, file_count, total_bytes, created_at, hlc, node_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [appId, version, JSON.stringify(manifest), treeHash, files.size, total, now, hlc, this.cart.nodeId],
      );
      for (const [path, blob] of files) {
        db.run('INSERT INTO vfs_files (app_id, version, path, blob_hash) VALUES (?, ?, ?, ?)', [appId, version, path, blob.hash]);
      }
      if (unreviewed) {
        db.run('INSERT INTO app_version_approvals (app_id, version, deployed_by, requested_at, held, approved_at) VALUES (?, ?, ?, ?, ?, NULL)', [
          appId,
          version,
          unreviewed.deployedBy,
          now,
          unreviewed.hold ? 1 : 0,
        ]);
        if (unreviewed.hold) return { app: this.require(appId), version, created, live: false };
      }
      db.run('UPDATE apps SET current_version = ?, title = ?, updated_at = ?, hlc = ?, node_id = ? WHERE id = ?', [
        version,
        manifest.title ?? existing.name,
        now,
        hlc,
        this.cart.nodeId,
        appId,
      ]);
      return { app: this.require(appId), version, created, live: true };
    });
    if (result.live) this.changed({ kind: 'deploy', appId: result.app.id, version: result.version });
    return result;
  }

  private upsertAlias(alias: string, appId: string, isName: boolean, hlc: string): void {
    this.live.clear();
    this.db.run(
      `INSERT INTO app_aliases (alias, app_id, is_name, deleted, hlc, node_id) VALUES (?, ?, ?, 0, ?, ?)
       ON CONFLICT(alias) DO UPDATE SET app_id = excluded.app_id, is_name = excluded.is_name, deleted = 0, hlc = excluded.hlc, node_id = excluded.node_id`,
      [alias, appId, isName ? 1 : 0, hlc, this.cart.nodeId],
    );
  }

  private assertFree(alias: string): void {
    assertAppName(alias);
    const taken = this.lookupAlias(alias);
    if (taken) throw new FaztError('NAME_TAKEN', `The name "${alias}" is already used by the app "${taken.name}".`);
  }

  /**
   * Makes an earlier version live again (default: the newest one before the live one that does not
   * wait for approval).
   * @param options.reviewedOnly refuse a version deployed without the admin scope and never approved
   *   (set for a non-admin caller on an app that holds secrets or grants).
   * @throws FaztError `APP_NOT_FOUND`, `VERSION_NOT_FOUND`, `CONFLICT` (the version waits for
   *   approval), `FORBIDDEN` (unreviewed, with `reviewedOnly`).
   */
  rollback(ref: string, version?: number, options: { reviewedOnly?: boolean } = {}): { app: AppRecord; from: number | null; to: number } {
    const r = this.db.transaction(() => {
      const app = this.require(ref);
      const from = app.currentVersion;
      let to = version;
      if (to === undefined) {
        to =
          this.db.get<{ v: number | null }>(
            'SELECT MAX(version) AS v FROM app_versions v WHERE app_id = ? AND version < ? AND NOT EXISTS (SELECT 1 FROM app_version_approvals p WHERE p.app_id = v.app_id AND p.version = v.version AND p.held = 1 AND p.approved_at IS NULL)',
            [app.id, from ?? 0],
          )!.v ?? undefined;
        if (to === undefined) throw new FaztError('VERSION_NOT_FOUND', `"${app.name}" has no version before ${from}; nothing to roll back to.`);
      }
      if (!this.db.get('SELECT 1 FROM app_versions WHERE app_id = ? AND version = ?', [app.id, to])) {
        throw new FaztError('VERSION_NOT_FOUND', `"${app.name}" has no version ${to}. Run \`fazt app versions ${app.name}\`.`);
      }
      const review = this.db.get<{ held: number }>('SELECT held FROM app_version_approvals WHERE app_id = ? AND version = ? AND approved_at IS NULL', [app.id, to]);
      if (review?.held === 1) {
        throw new FaztError('CONFLICT', `Version ${to} of "${app.name}" waits for the owner's approval; only \`fazt app approve ${app.name} ${to}\` (admin) makes it live.`);
      }
      if (review && options.reviewedOnly) {
        throw new FaztError(
          'FORBIDDEN',
          `Version ${to} of "${app.name}" was deployed without the admin scope and never approved, and the app now holds secrets or permission grants: only the owner can make it live (\`fazt app approve ${app.name} ${to}\`).`,
        );
      }
      this.db.run('UPDATE apps SET current_version = ?, updated_at = ?, hlc = ?, node_id = ? WHERE id = ?', [
        to,
        this.cart.clock.now(),
        this.cart.hlc.now(),
        this.cart.nodeId,
        app.id,
      ]);
      return { app: this.require(app.id), from, to };
    });
    this.changed({ kind: 'rollback', appId: r.app.id, version: r.to });
    return r;
  }

  /**
   * Renames an app. The old name stops resolving unless `keepOldAsAlias`.
   * @throws FaztError `APP_NOT_FOUND`, `INVALID_NAME`, `RESERVED_NAME`, `NAME_TAKEN`.
   */
  rename(ref: string, newName: string, keepOldAsAlias = false): AppRecord {
    const renamed = this.db.transaction(() => {
      const app = this.require(ref);
      if (newName === app.name) return app;
      const hlc = this.cart.hlc.now();
      const holder = this.lookupAlias(newName);
      if (holder && holder.id !== app.id) this.assertFree(newName);
      assertAppName(newName);
      if (keepOldAsAlias) this.db.run('UPDATE app_aliases SET is_name = 0, hlc = ?, node_id = ? WHERE alias = ?', [hlc, this.cart.nodeId, app.name]);
      else this.db.run('UPDATE app_aliases SET deleted = 1, is_name = 0, hlc = ?, node_id = ? WHERE alias = ?', [hlc, this.cart.nodeId, app.name]);
      this.upsertAlias(newName, app.id, true, hlc);
      this.db.run('UPDATE apps SET name = ?, updated_at = ?, hlc = ?, node_id = ? WHERE id = ?', [newName, this.cart.clock.now(), hlc, this.cart.nodeId, app.id]);
      return this.require(app.id);
    });
    this.changed({ kind: 'rename', appId: renamed.id, version: renamed.currentVersion });
    return renamed;
  }

  /**
   * Adds an alias (another subdomain/path) pointing at the app.
   * @throws FaztError `APP_NOT_FOUND`, `INVALID_NAME`, `RESERVED_NAME`, `NAME_TAKEN`.
   */
  addAlias(ref: string, alias: string): AppRecord {
    return this.db.transaction(() => {
      const app = this.require(ref);
      this.assertFree(alias);
      this.upsertAlias(alias, app.id, false, this.cart.hlc.now());
      return this.require(app.id);
    });
  }

  /**
   * Removes an alias. The app's primary name cannot be removed this way (rename it instead).
   * @throws FaztError `NOT_FOUND`, `CONFLICT`.
   */
  removeAlias(alias: string): AppRecord {
    return this.db.transaction(() => {
      const row = this.db.get<{ app_id: string; is_name: number }>('SELECT app_id, is_name FROM app_aliases WHERE alias = ? AND deleted = 0', [alias]);
      if (!row) throw new FaztError('NOT_FOUND', `No alias "${alias}".`);
      if (row.is_name) throw new FaztError('CONFLICT', `"${alias}" is the app's name, not an alias; rename the app instead.`);
      this.db.run('UPDATE app_aliases SET deleted = 1, hlc = ?, node_id = ? WHERE alias = ?', [this.cart.hlc.now(), this.cart.nodeId, alias]);
      this.live.clear();
      return this.require(row.app_id);
    });
  }

  /**
   * Removes an app: its row and aliases become tombstones (for sync), its versions and file lists
   * are deleted; blobs nothing else uses are then garbage-collected by the caller.
   * @throws FaztError `APP_NOT_FOUND`.
   */
  remove(ref: string): AppRecord {
    const removed = this.db.transaction(() => {
      const app = this.require(ref);
      const hlc = this.cart.hlc.now();
      this.db.run('UPDATE app_aliases SET deleted = 1, hlc = ?, node_id = ? WHERE app_id = ?', [hlc, this.cart.nodeId, app.id]);
      this.db.run('UPDATE apps SET deleted = 1, current_version = NULL, updated_at = ?, hlc = ?, node_id = ? WHERE id = ?', [
        this.cart.clock.now(),
        hlc,
        this.cart.nodeId,
        app.id,
      ]);
      this.db.run('DELETE FROM vfs_files WHERE app_id = ?', [app.id]);
      this.db.run('DELETE FROM app_versions WHERE app_id = ?', [app.id]);
      this.db.run('DELETE FROM app_version_approvals WHERE app_id = ?', [app.id]);
      return app;
    });
    this.changed({ kind: 'remove', appId: removed.id, version: null });
    return removed;
  }
}
