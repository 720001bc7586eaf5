import { AppRegistry, type AppChange, type AppRecord } from './apps/index.js';
import { AuthService } from './auth/index.js';
import type { Cartridge } from './cartridge/index.js';
import { DeployService, DEFAULT_DEPLOY_LIMITS, type DeployInput, type DeployLimits, type DeployResult } from './deploy/index.js';
import { FaztError } from './errors.js';
import { defaultPorts, type KernelPorts } from './ports.js';
import { BlobStore } from './vfs/blobs.js';
import { checkPermission, PermissionStore, type PermissionStatus } from './apps/permissions.js';
import { EventBus, validateEventSchemas } from './events/index.js';
import { JobStore, Scheduler, validateSchedule } from './schedule/index.js';
import { AppBlobStore, AppLogStore, DocStore, KvStore, SecretStore, type CollectionInfo } from './storage/index.js';
import { AppRuntime, type RuntimeHostOptions } from './runtime/index.js';
import { MeshService } from './mesh/index.js';
import { AiService, type AiServiceOptions } from './ai/index.js';
import { SyncEngine, SyncService } from './sync/index.js';
import { NotifyService, validateNotifyRules, type NotifyOptions } from './notify/index.js';
import { RealtimeService, type RealtimeOptions } from './realtime/index.js';
import { DiskGuard, EgressStore, type DiskGuardOptions } from './guards/index.js';
import { PulseService, type PulseOptions } from './pulse/index.js';

/** Options of {@link createKernel}. */
/** Where an app's cron jobs run (docs/sync-spec.md S17), as `GET /api/apps/:app/home` answers. */
export interface AppHome {
  /** The app's name. */
  app: string;
  appId: string;
  /** The home's cartridge writer id (16 hex digits). */
  writerId: string;
  /** The home is this node. */
  self: boolean;
  /** The home's mesh node id (`null`: a writer this node is not paired with). */
  nodeId: string | null;
  /** The home's name (`null` when unknown). */
  name: string | null;
}

export interface KernelOptions {
  /** The open cartridge. */
  cartridge: Cartridge;
  /** Host ports; missing ones use the portable defaults. */
  ports?: Partial<KernelPorts>;
  /** Base domain for app subdomains (`blog.<domain>`). Default `localhost`. */
  domain?: string;
  /** Upload limits. */
  limits?: Partial<DeployLimits>;
  /** Version string reported by `/api/health`. */
  version?: string;
  /**
   * The serverless runtime's host facilities (QuickJS wasm, standard library, DNS). Absent: app
   * `/api/*` requests answer 501 and scheduled jobs and events wait until a runtime is present.
   */
  runtime?: RuntimeHostOptions;
  /** Key for secrets at rest (32 bytes); default: a key kept in the cartridge (see `SecretStore`). */
  secretKey?: Uint8Array;
  /** The name a new mesh identity gets (the host name, say); default `fazt node`. Editable later. */
  nodeName?: string;
  /** AI calls: timeouts, the fetch providers are reached with, a hint for the "no provider" message (docs/ai.md). */
  ai?: AiServiceOptions;
  /** Notifications: VAPID subject, retries, timeouts (docs/notify.md). */
  notify?: NotifyOptions;
  /** Realtime: replay window, stream cap, heartbeat (docs/realtime.md). */
  realtime?: RealtimeOptions;
  /** The disk guard's cache and refresh period (docs/safeguards.md); the limit itself is kept in the cartridge. */
  diskGuard?: Omit<DiskGuardOptions, 'logger'>;
  /** Pulse: an interval override (ms), timers, alert thresholds (docs/pulse.md). */
  pulse?: PulseOptions;
}

/** What {@link Kernel.deployApp} reports: the deploy's result and the app's permission state after it. */
export interface AppDeployed extends DeployResult {
  /** The live version's requested permissions, granted, pending and dormant (see {@link Kernel.permissionStatus}). */
  permissions: AppPermissions;
}

/** An app's permissions: those its live version requests (granted or pending), and dormant grants it no longer requests. */
export interface AppPermissions extends PermissionStatus {
  /** Granted but not requested by the live version (unused until a version asks again). */
  dormant: string[];
}

/** What {@link Kernel.storageSummary} reports about an app's stored data. */
export interface StorageSummary {
  /** Live (not expired) kv keys. */
  kv: { count: number };
  /** Document collections with their counts and indexes. */
  collections: CollectionInfo[];
  /** Live blobs: how many and their total size, bytes. */
  blobs: { count: number; bytes: number };
}

/**
 * The kernel: the composition root of a node. It builds the services over one cartridge, starts and
 * stops their background work, and offers the use cases (deploy, rollback, rename, remove an app,
 * set or remove a secret, grant or revoke a permission), each doing everything that use case implies.
 * Callers — the admin API routes, the CLI's offline path, the seeding of examples — call these
 * methods, never the stores behind them, for anything with consequences. Host-neutral; the HTTP face
 * is `createFetch(kernel)` in `http/`.
 */
export class Kernel {
  readonly ports: KernelPorts;
  readonly blobs: BlobStore;
  readonly apps: AppRegistry;
  readonly auth: AuthService;
  readonly deploy: DeployService;
  /** Base domain for app subdomains. */
  readonly domain: string;
  /** Version string. */
  readonly version: string;
  readonly kv: KvStore;
  readonly docs: DocStore;
  readonly appBlobs: AppBlobStore;
  readonly secrets: SecretStore;
  readonly logs: AppLogStore;
  readonly permissions: PermissionStore;
  readonly jobs: JobStore;
  readonly events: EventBus;
  readonly scheduler: Scheduler;
  /** The serverless runtime, when the host provided one. */
  readonly runtime: AppRuntime | undefined;
  /** The mesh: this node's identity, pairing, the paired peers and the links to them (docs/mesh.md). */
  readonly mesh: MeshService;
  /** AI: providers (keys sealed), model calls, usage and budgets (docs/ai.md). The AI SDK loads on the first call. */
  readonly ai: AiService;
  /** Cartridge sync with the paired peers over the mesh's links (docs/sync-spec.md). */
  readonly sync: SyncService;
  /** Notifications: Web Push subscriptions per device and user, VAPID keys, sending, `app.json` rules (docs/notify.md). */
  readonly notify: NotifyService;
  /** Realtime: per-app channels, the pages following them, resume windows (in memory; docs/realtime.md). */
  readonly realtime: RealtimeService;
  /**
   * The disk guard (docs/safeguards.md): above the owner's limit of disk use (default 80 %), writes
   * that grow the cartridge are refused with `DISK_FULL`. `status()` and `onTrip(fn)` are what
   * Pulse and notify use.
   */
  readonly diskGuard: DiskGuard;
  /** Per-app monthly egress quotas and usage of `fazt.net.fetch` (docs/safeguards.md). */
  readonly egress: EgressStore;
  /** Pulse: health snapshots, history, alerts (`kernel.pulse.onAlert`), docs/pulse.md. */
  readonly pulse: PulseService;
  private detachSync: (() => void) | undefined;

  constructor(
    readonly cartridge: Cartridge,
    options: Omit<KernelOptions, 'cartridge'> = {},
  ) {
    this.ports = { ...defaultPorts, ...options.ports } as KernelPorts;
    this.domain = (options.domain ?? 'localhost').toLowerCase();
    this.version = options.version ?? '0.0.0';
    this.diskGuard = new DiskGuard(cartridge, this.ports.diskSpace, { ...options.diskGuard, logger: this.ports.logger });
    cartridge.growth = this.diskGuard; // the stores ask it before a write that grows the cartridge
    this.egress = new EgressStore(cartridge);
    this.blobs = new BlobStore(cartridge.db, this.ports, () => cartridge.clock.now());
    this.apps = new AppRegistry(cartridge);
    this.auth = new AuthService(cartridge, this.ports);
    this.deploy = new DeployService(cartridge.db, this.blobs, this.apps, this.ports, { ...DEFAULT_DEPLOY_LIMITS, ...options.limits });
    this.kv = new KvStore(cartridge);
    this.docs = new DocStore(cartridge);
    this.appBlobs = new AppBlobStore(cartridge, this.blobs);
    this.secrets = new SecretStore(cartridge, { key: options.secretKey });
    this.logs = new AppLogStore(cartridge);
    this.permissions = new PermissionStore(cartridge);
    this.jobs = new JobStore(cartridge);
    this.mesh = new MeshService(cartridge, this.secrets, this.ports.logger, options.nodeName);
    this.ai = new AiService(cartridge, this.secrets, { logger: this.ports.logger, ...options.ai });
    // model calls relayed through paired nodes ride the mesh's links (docs/ai.md "Relay through a paired node")
    const relay = this.ai.attachRelay({
      connected: () => this.mesh.connectedIds(),
      name: (id) => this.mesh.peers.get(id)?.name,
      send: (id, m) => this.mesh.sendAi(id, m),
    });
    this.mesh.setAiHandler((id, m) => relay.receive(id, m));
    this.mesh.onLink((id, up) => {
      if (!up) relay.linkClosed(id);
    });
    this.sync = new SyncService(
      new SyncEngine(cartridge, {
        blobs: this.blobs,
        sha256: this.ports.sha256,
        logger: this.ports.logger,
        onAppChanged: (change) => this.replicatedAppChange(change),
        onHomeChanged: (appId) => this.followHome(appId),
      }),
      this.ports.logger,
      { persisted: this.ports.persisted },
    );
    this.realtime = new RealtimeService(options.realtime);
    // the disk alert warns before the disk guard refuses, at whatever limit the owner set (docs/pulse.md)
    this.pulse = new PulseService({ cart: cartridge, apps: this.apps, mesh: this.mesh, ports: this.ports }, { diskLimit: () => this.diskGuard.status().limitFraction, ...options.pulse });
    const invoke = (appId: string, name: 'scheduled' | 'on', arg: unknown) => {
      const run = this.runtime ? this.runtime.invokeExport(appId, name, arg) : Promise.reject(new FaztError('NO_HANDLER', 'This node has no serverless runtime.'));
      this.pulse.observe(appId, name, arg, run); // job and delivery counts (docs/pulse.md)
      return run;
    };
    this.events = new EventBus(cartridge, this.apps, (appId) => this.permissions.granted(appId), invoke, { logger: this.ports.logger });
    this.scheduler = new Scheduler(cartridge, this.jobs, invoke, { logger: this.ports.logger });
    this.notify = new NotifyService(
      cartridge,
      {
        secrets: this.secrets,
        apps: this.apps,
        permissions: this.permissions,
        push: this.ports.push,
        notifier: this.ports.notifier,
        logger: this.ports.logger,
        appLog: (appId, level, message) => this.logs.append(appId, { level, message, source: 'notify' }),
        onDeliveryFailed: () => this.pulse.counters.recordPushFailure(),
      },
      options.notify,
    );
    this.events.onEmit((e) => this.notify.onEvent(e));
    // critical conditions reach the owner's devices (docs/pulse.md "Alerts", docs/safeguards.md)
    const tellOwner = (title: string, body: string, tag: string, url: string) =>
      void this.notify.send({ to: 'owner', title: title.slice(0, 200), body: body.slice(0, 1000), tag, url }).catch((e: unknown) =>
        this.ports.logger.warn('notify: telling the owner failed', { tag, error: String((e as Error)?.message ?? e) }),
      );
    // …and are the node's own events, for apps granted `events:fazt` (docs/pulse.md "Alerts")
    const emitSystem = (type: string, payload: unknown) => {
      try {
        this.events.emitSystem(type, payload);
      } catch (e) {
        this.ports.logger.warn('events: a system event was not stored', { type, error: String((e as Error)?.message ?? e) });
      }
    };
    this.pulse.onAlert((a) => {
      emitSystem('pulse.alert', a);
      tellOwner(a.title, a.message, `pulse-${a.condition}`, '/#/health');
    });
    this.diskGuard.onTrip((st) => emitSystem('disk.full', st));
    this.diskGuard.onTrip((st) =>
      tellOwner(
        'Disk almost full: Fazt refuses new data',
        `The disk is ${Math.round(st.usedFraction * 100)}% used (limit ${Math.round(st.limitFraction * 100)}%). Apps can read and delete but not add data until space is freed or the limit is raised (fazt disk limit).`,
        'disk-guard',
        '/#/health',
      ),
    );
    this.runtime = options.runtime
      ? new AppRuntime(
          {
            cart: cartridge,
            apps: this.apps,
            blobs: this.blobs,
            kv: this.kv,
            docs: this.docs,
            appBlobs: this.appBlobs,
            secrets: this.secrets,
            logs: this.logs,
            permissions: this.permissions,
            events: this.events,
            jobs: this.jobs,
            logger: this.ports.logger,
            ai: this.ai,
            notify: this.notify,
            realtime: this.realtime,
            egress: this.egress,
          },
          options.runtime,
        )
      : undefined;
    // refusals a deploy must meet before anything is committed
    this.deploy.checks.push(({ manifest }) => {
      validateSchedule(manifest.schedule, cartridge.clock.now());
      validateEventSchemas(manifest.events);
      validateNotifyRules(manifest.notify, manifest.permissions ?? []);
    });
    if (this.runtime) {
      const rt = this.runtime;
      this.deploy.checks.push(({ files, manifest, readText }) => rt.checkUpload([...files.keys()], manifest, readText));
    }
  }

  /**
   * Starts background work: the scheduler (with catch-up of missed cron runs), event delivery, and
   * the runtime's warm-up sandbox (see `AppRuntime.start`).
   * @returns resolves when the warm-up sandbox is ready (never rejects); a host may await it before
   *   it takes requests, so the first app request after a start does not instantiate QuickJS.
   */
  start(): Promise<void> {
    this.mesh.id(); // a node's identity is made with its cartridge (docs/mesh.md)
    this.detachSync ??= this.sync.attachToMesh(this.mesh);
    this.diskGuard.start();
    this.scheduler.start();
    this.events.start();
    this.pulse.start();
    return this.runtime?.start() ?? Promise.resolve();
  }

  /** Stops background work; resolves when runs in progress have finished. */
  async stop(): Promise<void> {
    this.detachSync?.();
    this.detachSync = undefined;
    this.diskGuard.stop();
    this.sync.engine.flush(); // captured changes into the durable change log (docs/sync-spec.md S30)
    await Promise.all([this.scheduler.stop(), this.events.stop()]);
    this.realtime.closeAll();
    await Promise.all([this.scheduler.stop(), this.events.stop(), this.pulse.stop()]);
    this.runtime?.pool.drain();
  }

  // ---------------------------------------------------------------- use cases: apps

  /**
   * Deploys an upload as the app's new live version, with everything a deploy implies, in order:
   * 1. the upload lands whole or not at all (`DeployService.deploy`: staging, `app.json`, the
   *    runtime's syntax check, cron and event-schema checks, one transaction);
   * 2. the new live version takes effect ({@link Kernel.followLiveVersion}: cron jobs re-synced with
   *    its `schedule`, its `docs.indexes` created, sandboxes primed with the old code replaced);
   * 3. blobs nothing references any more (replaced files, leftovers of refused uploads) are collected;
   * 4. the permissions the owner approved with this deploy are granted.
   * @param input the upload (see `DeployInput`) and `grant`: `'all'` (everything the new version
   *   requests) or a list of permissions; absent: nothing is granted, new requests stay pending.
   *   Whether the caller may grant is the caller's check (the admin API needs the `admin` scope).
   * @throws FaztError from the deploy (`BAD_REQUEST`, `INVALID_MANIFEST`, `PAYLOAD_TOO_LARGE` …) —
   *   nothing changed then — `INVALID_ARGUMENT` for a malformed permission in `grant`, and
   *   `DISK_FULL` (507) while the disk guard is tripped (refused before the upload is read).
   */
  async deployApp(input: DeployInput & { grant?: 'all' | readonly string[] }): Promise<AppDeployed> {
    this.diskGuard.assertCanGrow('this deploy');
    const grant = input.grant === undefined || input.grant === 'all' ? input.grant : input.grant.map(checkPermission);
    const r = await this.deploy.deploy(input);
    // a version waiting for the owner's approval (see DeployInput.review) is stored, not live: nothing follows yet
    if (r.live) this.followLiveVersion({ kind: 'deploy', appId: r.id, version: r.version });
    this.collectGarbage();
    const list = !r.live ? [] : grant === 'all' ? (r.manifest.permissions ?? []) : (grant ?? []);
    if (list.length) this.permissions.grant(r.id, list);
    return { ...r, permissions: this.permissionStatus(r.id) };
  }

  /**
   * The owner approves a version that waits for approval (deployed without the admin scope to an app
   * holding secrets or grants): it becomes live and takes effect ({@link Kernel.followLiveVersion}).
   * @throws FaztError `APP_NOT_FOUND`, `VERSION_NOT_FOUND`, `CONFLICT` (see `AppRegistry.approve`).
   */
  approveVersion(ref: string, version: number): { app: AppRecord; from: number | null; to: number } {
    const r = this.apps.approve(ref, version);
    this.followLiveVersion({ kind: 'rollback', appId: r.app.id, version: r.to });
    return r;
  }

  /**
   * Moves an app's live pointer back to an earlier version (default: the one before the live one),
   * then lets that version take effect ({@link Kernel.followLiveVersion}).
   * @param options.reviewedOnly refuse versions deployed without the admin scope and never approved
   *   (for a non-admin caller on an app holding secrets or grants; see `AppRegistry.rollback`).
   * @throws FaztError `APP_NOT_FOUND`, `VERSION_NOT_FOUND`, `CONFLICT`, `FORBIDDEN`.
   */
  rollbackApp(ref: string, version?: number, options: { reviewedOnly?: boolean } = {}): { app: AppRecord; from: number | null; to: number } {
    const r = this.apps.rollback(ref, version, options);
    this.followLiveVersion({ kind: 'rollback', appId: r.app.id, version: r.to });
    return r;
  }

  /**
   * Renames an app (its id, data and versions stay); the old name is kept as an alias when asked.
   * Sandboxes primed under the old name are replaced.
   * @throws FaztError `APP_NOT_FOUND`, `INVALID_NAME`, `NAME_TAKEN`.
   */
  renameApp(ref: string, name: string, keepOldAsAlias = false): AppRecord {
    const app = this.apps.rename(ref, name, keepOldAsAlias);
    this.followLiveVersion({ kind: 'rename', appId: app.id, version: app.currentVersion });
    return app;
  }

  /**
   * Removes an app with its versions, names and aliases. Its jobs are deleted (they would fail), its
   * logs cleared (they describe code that is gone), its sandboxes dropped, and blobs nothing else
   * references are collected. Its stored data (kv, docs, blobs, secrets, grants) stays in the
   * cartridge, keyed by the removed app's id.
   * @returns the removed app and what garbage collection freed (`null` when it was skipped because a
   *   write was open).
   * @throws FaztError `APP_NOT_FOUND`.
   */
  removeApp(ref: string): { app: AppRecord; freed: { blobs: number; chunks: number } | null } {
    const app = this.apps.remove(ref);
    this.jobs.removeApp(app.id);
    this.logs.clear(app.id);
    this.realtime.closeApp(app.id);
    this.pulse.counters.forgetApp(app.id); // its failing jobs no longer hold an alert
    this.runtime?.appChanged({ kind: 'remove', appId: app.id, version: null });
    return { app, freed: this.collectGarbage() ?? null };
  }

  /**
   * What follows from an app's live state changing (deploy, rollback, rename): its cron jobs are
   * re-synced with the live manifest's `schedule`, the `docs.indexes` it declares are created, and
   * the runtime replaces sandboxes primed with the old code. Failures are logged, never thrown: the
   * change itself is committed (and the schedule was validated before it was).
   */
  private followLiveVersion(change: AppChange): void {
    try {
      const manifest = change.version === null ? undefined : this.apps.manifest(change.appId, change.version);
      if (manifest) {
        // an app's cron jobs run on its home node only (docs/sync-spec.md S17)
        this.jobs.syncCron(change.appId, this.isHome(change.appId) ? manifest.schedule : undefined);
        this.docs.ensureIndexes(change.appId, manifest.docs?.indexes ?? {});
      }
    } catch (e) {
      this.ports.logger.error('applying a new live version failed', { appId: change.appId, kind: change.kind, error: String((e as Error)?.message ?? e) });
    }
    this.runtime?.appChanged(change);
  }

  /**
   * The node an app's cron jobs run on (docs/sync-spec.md S17).
   * @param ref app name, alias or id.
   * @returns the app, the home's cartridge writer id, and who that is: this node (`self`), a paired
   *   node (`nodeId`, `name`), or a writer this node does not know (a node no longer paired).
   * @throws FaztError `APP_NOT_FOUND`.
   */
  appHome(ref: string): AppHome {
    const app = this.apps.resolve(ref);
    if (!app) throw new FaztError('APP_NOT_FOUND', `No app named "${ref}".`);
    const writerId = this.cartridge.db.get<{ home: string }>('SELECT home FROM app_homes WHERE app_id = ? AND deleted = 0', [app.id])?.home ?? this.cartridge.nodeId;
    const self = writerId === this.cartridge.nodeId;
    const peer = self ? undefined : this.mesh.peers.list().find((p) => p.writerId === writerId);
    return { app: app.name, appId: app.id, writerId, self, nodeId: self ? this.mesh.id().nodeId : (peer?.nodeId ?? null), name: self ? this.mesh.id().name : (peer?.name ?? null) };
  }

  /**
   * Moves an app's home (S17): its manifest's cron jobs stop here and start on the new home once the
   * change reaches it (the home row replicates, last writer wins).
   * @param ref app name, alias or id.
   * @param node a paired node's id (`fazt mesh peers`), or `self` for this node.
   * @returns the new home, as {@link appHome}.
   * @throws FaztError `APP_NOT_FOUND`; `NOT_PAIRED` when `node` is neither `self`, this node's id nor a paired node.
   */
  moveAppHome(ref: string, node: string): AppHome {
    const app = this.apps.resolve(ref);
    if (!app) throw new FaztError('APP_NOT_FOUND', `No app named "${ref}".`);
    let writerId: string;
    if (node === 'self' || node === this.mesh.id().nodeId) writerId = this.cartridge.nodeId;
    else {
      const peer = this.mesh.peers.get(node);
      if (!peer) throw new FaztError('NOT_PAIRED', `Node "${String(node).slice(0, 40)}" is not paired with this node; \`fazt mesh peers\` lists the nodes an app can live on.`);
      writerId = peer.writerId;
    }
    const hlc = this.cartridge.hlc.now();
    this.cartridge.db.run(
      `INSERT INTO app_homes (app_id, home, deleted, hlc, node_id) VALUES (?, ?, 0, ?, ?)
       ON CONFLICT(app_id) DO UPDATE SET home = excluded.home, deleted = 0, hlc = excluded.hlc, node_id = excluded.node_id`,
      [app.id, writerId, hlc, this.cartridge.nodeId],
    );
    this.followHome(app.id);
    this.sync.engine.flush();
    return this.appHome(app.id);
  }

  /** An app's cron jobs follow its home (S17): present here only when this node is the home. */
  private followHome(appId: string): void {
    const app = this.apps.resolve(appId);
    if (!app || app.currentVersion === null) return;
    const manifest = this.apps.manifest(appId, app.currentVersion);
    this.jobs.syncCron(appId, this.isHome(appId) ? manifest?.schedule : undefined);
  }

  /** True when this node is the app's home (runs its cron jobs, docs/sync-spec.md S17); true when no home is recorded. */
  isHome(appId: string): boolean {
    const home = this.cartridge.db.get<{ home: string }>('SELECT home FROM app_homes WHERE app_id = ? AND deleted = 0', [appId])?.home;
    return home === undefined || home === this.cartridge.nodeId;
  }

  /**
   * What follows from sync having written an app's rows (docs/sync-spec.md S21): the same effects
   * as the local use case (deploy/rollback/rename: {@link followLiveVersion}; removal: jobs, logs and
   * sandboxes of the app go, unreferenced blobs are collected).
   */
  private replicatedAppChange(change: AppChange): void {
    this.apps.replicated(change);
    if (change.kind === 'remove') {
      this.jobs.removeApp(change.appId);
      this.logs.clear(change.appId);
      this.realtime.closeApp(change.appId);
      this.runtime?.appChanged(change);
      this.collectGarbage();
      return;
    }
    this.followLiveVersion(change);
  }

  /** Removes blobs and chunks nothing references (after app removal, crashed deploys). `undefined`: skipped, a write is open. */
  collectGarbage(): { blobs: number; chunks: number } | undefined {
    return this.blobs.collectGarbage();
  }

  // ---------------------------------------------------------------- use cases: permissions

  /**
   * The app's permissions: `requested` by the live version, of those `granted` (in force) and
   * `pending`, plus `dormant`: granted but not requested by the live version.
   */
  permissionStatus(appId: string): AppPermissions {
    const status = this.permissions.status(appId, this.requestedBy(appId));
    const req = new Set(status.requested);
    return { ...status, dormant: this.permissions.granted(appId).filter((p) => !req.has(p)) };
  }

  /**
   * Grants an app permissions (the owner approved them). Permissions are checked at every call, so
   * they are in force at once.
   * @param grant `'all'`: everything the live version requests; or a list (any permission, even one
   *   not requested yet: it stays dormant until a version asks).
   * @returns the permissions granted now (deduplicated).
   * @throws FaztError `APP_NOT_FOUND`, `INVALID_ARGUMENT` for a malformed permission (nothing granted).
   */
  grantPermissions(ref: string, grant: 'all' | readonly string[]): string[] {
    const app = this.apps.require(ref);
    const list = grant === 'all' ? this.requestedBy(app.id) : grant.map(checkPermission);
    if (list.length) this.permissions.grant(app.id, list);
    return [...new Set(list)];
  }

  /** Grants an app every permission its live manifest requests. @returns the granted list. */
  grantRequested(ref: string): string[] {
    return this.grantPermissions(ref, 'all');
  }

  /**
   * Revokes one permission; calls the app makes from now on are refused.
   * @throws FaztError `APP_NOT_FOUND`, `INVALID_ARGUMENT` for a malformed permission, `NOT_FOUND` when it was not granted.
   */
  revokePermission(ref: string, permission: string): void {
    const app = this.apps.require(ref);
    if (!this.permissions.revoke(app.id, checkPermission(permission))) {
      throw new FaztError('NOT_FOUND', `"${permission}" is not granted to "${app.name}"; nothing was revoked.`);
    }
  }

  /** What the app's live version requests in its manifest (`[]` before the first deploy). */
  private requestedBy(appId: string): string[] {
    const app = this.apps.resolve(appId);
    if (!app || app.currentVersion === null) return [];
    return this.apps.manifest(app.id, app.currentVersion)?.permissions ?? [];
  }

  // ---------------------------------------------------------------- use cases: secrets

  /**
   * Sets an app secret (encrypted at rest; the app reads it as `fazt.env[name]`). Sandboxes primed
   * with the old values are dropped, so the next request sees the new one.
   * @returns whether it was `created` (else replaced) and when it was stored (ms epoch).
   * @throws FaztError `APP_NOT_FOUND`; `INVALID_ARGUMENT` / `LIMIT_EXCEEDED` from `SecretStore.set`.
   */
  setSecret(ref: string, name: string, value: string): { created: boolean; updatedAt: number | null } {
    const app = this.apps.require(ref);
    const existed = this.secrets.names(app.id).some((s) => s.name === name);
    this.secrets.set(app.id, name, value);
    this.runtime?.secretsChanged(app.id);
    const stored = this.secrets.names(app.id).find((s) => s.name === name);
    return { created: !existed, updatedAt: stored?.updatedAt ?? null };
  }

  /**
   * Removes an app secret; sandboxes primed with it are dropped.
   * @throws FaztError `APP_NOT_FOUND`; `NOT_FOUND` when the app has no such secret.
   */
  removeSecret(ref: string, name: string): void {
    const app = this.apps.require(ref);
    if (!this.secrets.delete(app.id, name)) throw new FaztError('NOT_FOUND', `"${app.name}" has no secret ${name}. See \`fazt app secret list ${app.name}\`.`);
    this.runtime?.secretsChanged(app.id);
  }

  // ---------------------------------------------------------------- queries

  /**
   * True when the app holds the owner's decisions: secrets or permission grants. A version a
   * non-admin deploys to such an app waits for the owner's approval (see `deployNeedsApproval`).
   */
  holdsOwnerDecisions(appId: string): boolean {
    return this.secrets.names(appId).length > 0 || this.permissions.granted(appId).length > 0;
  }

  /** An app's stored data at a glance (the storage browser's summary). */
  storageSummary(appId: string): StorageSummary {
    return { kv: { count: this.kv.count(appId) }, collections: this.docs.collections(appId), blobs: this.appBlobs.usage(appId) };
  }
}

/** Creates a kernel on an open cartridge. */
export function createKernel(options: KernelOptions): Kernel {
  const { cartridge, ...rest } = options;
  return new Kernel(cartridge, rest);
}
