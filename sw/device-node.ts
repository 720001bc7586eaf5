/**
 * The device node: the `shared/` kernel running in this origin's service worker, on a sql.js
 * cartridge persisted in OPFS (docs/architecture.md §1, docs/browser-node.md).
 *
 * Persistence: the sql.js driver marks itself dirty after every committed write
 * (`SqlJsDatabase.onCommit`). A request that wrote (or ran while something else wrote) gets its
 * response only after the image was written to OPFS ({@link DeviceNode.fetch}); writes of background
 * work (scheduler, events) are flushed right after they commit, and the worker's events `waitUntil`
 * {@link DeviceNode.idle}. If a write cannot be persisted (quota exceeded), the in-memory database is
 * reloaded from the last persisted image, so memory and disk agree and nothing half-applied remains;
 * the request answers 507 `QUOTA_EXCEEDED`.
 *
 * Worker versions: opening and writing run under the Web Lock `fazt-cartridge`; every open writes an
 * owner mark, and a write checks it first, so a worker replaced by a newer version (which opened the
 * committed file after the old one's last write) never overwrites the newer one's writes: the old
 * one's late write answers 503 `SUPERSEDED` instead (nothing was saved; the page retries and reaches
 * the new worker).
 */
import initSqlJs, { type SqlJsStatic } from 'sql.js';
import type { DiskSpacePort } from '../shared/ports.js';
import { checkSqliteHeader, createFetch, createKernel, errorBody, type FetchHandler, getMeta, isFaztError, openCartridge, setMeta, SqlJsDatabase, statusOf, type FaztErrorCode, type Kernel, type LocalNotifier, type Logger, type Principal } from '../shared/index.js';
import { hashPassword, verifyPassword } from '../shared/auth/index.js';
import { prestartSandbox, type RuntimeHostOptions, type Sandbox, type StdlibSource } from '../shared/runtime/index.js';
import { CARTRIDGE_LOCK, CartridgeStore, isDomError, PREVIOUS } from './cartridge-store.js';
import type { DeviceLogEntry, DeviceState, DeviceStatus, FollowLogsOptions } from './device-api.js';
import { compilePrecachedWasm, loadStdlib } from './precached.js';
import { loadPreludeImage, savePreludeImage } from './prelude-cache.js';

/** How the cartridge is named in error messages. */
const LABEL = 'The cartridge in this browser';
/** `cartridge_meta` key of the guided-mode lock (a scrypt hash of the PIN). */
const LOCK_KEY = 'device_lock_pin';
/** Base domain of the device kernel: reserved (RFC 2606), so no request ever addresses an app subdomain or is redirected to one. */
export const DEVICE_DOMAIN = 'device.invalid';
/** Runtime limits of the device node: fewer sandboxes than a server (a phone's memory). */
const DEVICE_RUNTIME_LIMITS: RuntimeHostOptions['limits'] = { maxSandboxes: 2, warm: 1 };
/** The principal the service worker vouches for: whoever holds the device (the dashboard's own window). */
export const DEVICE_OWNER: Principal = { kind: 'session', scope: 'admin' };

/** An error whose message starts with a stable code (`LOCKED: …`), so it survives comlink's error cloning. */
export class DeviceError extends Error {
  constructor(
    readonly code: FaztErrorCode,
    message: string,
    /** HTTP status when it becomes a response (default: the code's, `statusOf`). */
    readonly status = statusOf(code),
  ) {
    super(`${code}: ${message}`);
    this.name = 'DeviceError';
  }

  /** The message without the code prefix. */
  get plain(): string {
    return this.message.slice(this.code.length + 2);
  }
}

/** A JSON error response in the kernel's shape: `{ error: { code, message } }`. */
export function errorJson(status: number, code: FaztErrorCode, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(errorBody(code, message)), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  });
}

const quotaError = () =>
  new DeviceError(
    'QUOTA_EXCEEDED',
    'This device has no storage space left for Fazt, so the change was not saved (nothing was lost). Free some space or delete kept copies of the cartridge, then try again.',
    507,
  );
const supersededError = () =>
  new DeviceError('SUPERSEDED', 'Fazt was updated on this device while the request ran, so the change was not saved. Try again.', 503);

/** Logger of the device kernel: JSON lines on the worker's console. */
const consoleLogger: Logger = {
  info: (msg, fields) => console.info(JSON.stringify({ level: 'info', msg, ...fields })),
  warn: (msg, fields) => console.warn(JSON.stringify({ level: 'warn', msg, ...fields })),
  error: (msg, fields) => console.error(JSON.stringify({ level: 'error', msg, ...fields })),
};

/** Build URLs of the WebAssembly binaries the device node loads from the precache (see `assetUrls` in precached.ts). */
export interface DeviceAssets {
  /** sql.js (`sql-wasm-browser.wasm`). */
  sqlWasm: string;
  /** QuickJS (`@jitl/quickjs-wasmfile-release-sync`, `emscripten-module.wasm`). */
  quickjsWasm: string;
}
let assets: DeviceAssets | undefined;
function asset(name: keyof DeviceAssets): string {
  if (!assets) throw new Error('The device node was started without its asset URLs (DeviceNode.prefetch was not called).');
  return assets[name];
}

/**
 * Resolves when the first open's cartridge read is under way (`CartridgeStore.read`'s `onIssued`).
 * Instantiating sql.js and QuickJS is CPU work of tens of ms on the worker's one thread; started
 * first, it queued the read's OPFS lookups behind it and the 10 MB read began ~45 ms late.
 */
let readIssued!: () => void;
const readUnderWay = new Promise<void>((resolve) => (readIssued = resolve));

let sqlJsModule: Promise<WebAssembly.Module> | undefined;
/** sql.js's compiled module (streaming compilation runs off the worker's thread). */
function sqlJsWasm(): Promise<WebAssembly.Module> {
  sqlJsModule ??= Promise.resolve().then(() => compilePrecachedWasm(asset('sqlWasm')));
  sqlJsModule.catch(() => (sqlJsModule = undefined));
  return sqlJsModule;
}

let sqlJs: Promise<SqlJsStatic> | undefined;
/** sql.js, instantiated from the precached wasm (compiled once per worker). */
function loadSqlJs(): Promise<SqlJsStatic> {
  sqlJs ??= sqlJsWasm().then((module) =>
    initSqlJs({
      instantiateWasm(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) {
        void WebAssembly.instantiate(module, imports).then((instance) => receive(instance, module));
        return {};
      },
    } as unknown as Parameters<typeof initSqlJs>[0]),
  );
  sqlJs.catch(() => (sqlJs = undefined));
  return sqlJs;
}

let quickjs: Promise<WebAssembly.Module> | undefined;
/** The QuickJS module, compiled from the precache once per worker. */
function quickjsWasm(): Promise<WebAssembly.Module> {
  quickjs ??= Promise.resolve().then(() => compilePrecachedWasm(asset('quickjsWasm')));
  quickjs.catch(() => (quickjs = undefined));
  return quickjs;
}

let early: Promise<Sandbox> | undefined;
/** When the early sandbox was ready (ms since the worker started) and how it was made (for Server-Timing). */
let earlySandbox: { readyMs: number; fromImage: boolean } | undefined;
/** Starts creating the runtime's first sandbox (the next kernel adopts it). */
function startEarlySandbox(): void {
  if (early) return;
  early = readUnderWay.then(() => prestartSandbox(quickjsWasm, DEVICE_RUNTIME_LIMITS, { moduleKey: asset('quickjsWasm'), load: loadPreludeImage }));
  early.then(
    (sb) => {
      earlySandbox = { readyMs: performance.now(), fromImage: sb.fromImage };
      // made the slow way (first start of this build): keep its image for the next start, once the
      // cold start is over (the save is a 460 KB copy, a digest and a cache write)
      if (sb.fromImage) return;
      const image = sb.preludeImage();
      if (image) setTimeout(() => void savePreludeImage(image).catch((e) => consoleLogger.warn('QuickJS prelude image not saved', { error: String((e as Error)?.message ?? e) })), 250);
    },
    () => {}, // adopted or not, a failure only means the first request creates one
  );
}
/** The early sandbox for the kernel being created (only the first kernel of a worker gets it). */
function takeEarlySandbox(): Promise<Sandbox> | undefined {
  const p = early;
  early = undefined;
  return p;
}

let stdlib: Promise<StdlibSource> | undefined;
function loadStdlibOnce(): Promise<StdlibSource> {
  stdlib ??= loadStdlib();
  stdlib.catch(() => (stdlib = undefined));
  return stdlib;
}

/** Runs `fn` holding the cartridge's Web Lock (exclusive, across worker versions). */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  return (await navigator.locks.request(CARTRIDGE_LOCK, fn)) as T;
}

/** Normalizes bytes for sql.js: a file from a WAL-mode database (header bytes 18–19 = 2) whose pages are all in the main file (`fazt backup`, `VACUUM INTO`). */
function legacyHeader(bytes: Uint8Array): Uint8Array {
  if (bytes.length >= 100 && (bytes[18] === 2 || bytes[19] === 2)) {
    bytes = bytes.slice();
    bytes[18] = 1;
    bytes[19] = 1;
  }
  return bytes;
}

/** Options of {@link DeviceNode}. */
export interface DeviceNodeOptions {
  /** Fazt version of this build (reported by `/api/health`). */
  version: string;
  /** The OPFS files (default: folder `fazt`). */
  store?: CartridgeStore;
  /** Logger (default: JSON lines on the console). */
  logger?: Logger;
  /** ms from the worker's start until its script was evaluated (reported in Server-Timing). */
  scriptMs?: number;
  /** Called with each kernel this node opens (the worker gives it the page's WebRTC for direct pairing). */
  onKernel?: (kernel: Kernel) => void;
  /** Shows notifications on this device (`registration.showNotification`, sw/push.ts): `fazt.notify` of this node (docs/notify.md). */
  notifier?: LocalNotifier;
}

/** The kernel of this device, its cartridge and its persistence. One per service worker instance. */
export class DeviceNode {
  readonly store: CartridgeStore;
  private readonly logger: Logger;
  private state: DeviceState = 'starting';
  private message: string | undefined;
  private code: FaztErrorCode | undefined;
  private kernel: Kernel | undefined;
  /** The kernel's HTTP face (`createFetch`), made with the kernel. */
  private http: FetchHandler | undefined;
  private db: SqlJsDatabase | undefined;
  private opening: Promise<void> | undefined;
  /** This instance's owner mark (see the module comment). */
  private readonly ownerId = crypto.randomUUID();
  private flushTail: Promise<void> = Promise.resolve();
  /** Committed writes seen (all databases of this instance). */
  private commits = 0;
  /** Bumped whenever the in-memory database was replaced after a failed write. */
  private epoch = 0;
  private lastFailure: DeviceError | undefined;
  /** Where the time of the last successful persist went, ms (for Server-Timing). */
  openMarks: Record<string, number> | undefined;
  lastPersist: { exportMs: number; lockMs: number; ownerMs: number; writeMs: number; bytes: number } | undefined;
  private backgroundFlush: ReturnType<typeof setTimeout> | undefined;
  private locked = false;
  private pinFailures = 0;
  private pinBlockedUntil = 0;

  constructor(private readonly options: DeviceNodeOptions) {
    this.store = options.store ?? new CartridgeStore();
    this.logger = options.logger ?? consoleLogger;
  }

  /** Opens the cartridge once (later calls wait for the same open); a failed open with state `error` is retried on the next call. */
  ready(): Promise<void> {
    this.opening ??= this.open().finally(() => {
      if (this.state === 'error' && this.code !== 'SUPERSEDED') this.opening = undefined;
    });
    return this.opening;
  }

  /**
   * Starts loading the wasm binaries and the standard library, and creating the runtime's first
   * QuickJS sandbox: a cold start overlaps them with reading the cartridge from OPFS. Call once, at
   * the worker's start, before any {@link ready}.
   * @param urls where the build put the WebAssembly binaries.
   */
  static prefetch(urls: DeviceAssets): void {
    assets = urls;
    void sqlJsWasm().catch(() => {});
    void readUnderWay.then(loadSqlJs).catch(() => {});
    void quickjsWasm().catch(() => {});
    void loadStdlibOnce().catch(() => {});
    startEarlySandbox();
  }

  private async open(): Promise<void> {
    this.state = 'starting';
    this.message = this.code = undefined;
    try {
      void quickjsWasm().catch(() => {});
      await withLock(async () => {
        // reading the file overlaps loading the wasm and the library (all started by prefetch())
        const marks: Record<string, number> = {};
        const mark = <T>(name: string, p: Promise<T>) => p.then((v) => ((marks[name] = performance.now() - tOpen), v));
        const tOpen = performance.now();
        // the owner mark is written while the cartridge is read and opened (under the lock, so no
        // older worker can write between the read and the claim)
        const claimed = this.store.claim(this.ownerId).then(
          () => undefined,
          (e: unknown) => e,
        );
        const [stored, SQL, std] = await Promise.all([mark('read', this.store.read(readIssued).finally(readIssued)), mark('sqljs', readUnderWay.then(loadSqlJs)), mark('stdlib', loadStdlibOnce())]);
        const bytes = stored ? legacyHeader(stored.bytes) : undefined;
        if (bytes) checkSqliteHeader(bytes.subarray(0, 100), bytes.length, LABEL);
        const db = SqlJsDatabase.open(SQL, bytes);
        marks.db = performance.now() - tOpen;
        let kernel: Kernel;
        try {
          const cartridge = openCartridge(db, { label: LABEL });
          kernel = createKernel({
            cartridge,
            // sync tells a peer only of state already persisted to OPFS (docs/sync-spec.md S39)
            ports: { logger: this.logger, backup: async () => this.backupStream(), notifier: this.options.notifier, diskSpace: storageEstimateSpace(), processStats: browserProcessStats, persisted: () => this.flush() },
            // the device node's apps are under /~device/a/ (their icons too)
            notify: { appPathPrefix: '/~device/a/' },
            domain: DEVICE_DOMAIN,
            version: this.options.version,
            runtime: { wasm: quickjsWasm, stdlib: std, limits: DEVICE_RUNTIME_LIMITS, prestarted: takeEarlySandbox() },
            // model calls go from this worker with the device's own keys, or — with none — through a
            // connected paired node (docs/ai.md "Relay through a paired node")
            ai: { browserCalls: true, unavailableHint: 'No paired node is connected to relay the call through: add a key on this device, or connect to your paired node (Devices).' },
          });
          marks.kernel = performance.now() - tOpen;
          const claimError = await claimed;
          if (claimError) throw claimError;
          marks.claim = performance.now() - tOpen;
          this.openMarks = marks;
          if (db.dirty) {
            await this.store.persist(db.image());
            db.markClean();
          }
        } catch (e) {
          db.close();
          throw e;
        }
        this.db = db;
        this.kernel = kernel;
        this.options.onKernel?.(kernel);
        this.http = createFetch(kernel);
      });
      const db = this.db!;
      this.locked = getMeta(db, LOCK_KEY) !== undefined;
      db.onCommit(() => {
        this.commits++;
        this.scheduleBackgroundFlush();
      });
      // scheduler, events, and the runtime's warm-up sandbox (the first app request takes it)
      void this.kernel!.start();
      this.state = 'ready';
    } catch (e) {
      this.kernel = undefined;
      this.http = undefined;
      this.db = undefined;
      const code = isFaztError(e) ? e.code : e instanceof DeviceError ? e.code : isDomError(e, 'QuotaExceededError') ? 'QUOTA_EXCEEDED' : 'START_FAILED';
      this.code = code;
      this.state = code === 'CARTRIDGE_TOO_NEW' ? 'too-new' : code === 'CARTRIDGE_CORRUPT' || code === 'NOT_A_CARTRIDGE' ? 'corrupt' : 'error';
      this.message =
        e instanceof DeviceError
          ? e.plain
          : isFaztError(e)
            ? e.message
            : /malformed|not a database|corrupt/i.test(String((e as Error)?.message ?? e))
              ? ((this.state = 'corrupt'), (this.code = 'CARTRIDGE_CORRUPT'), `${LABEL} is damaged (${String((e as Error).message)}). It was left untouched; restore a kept copy or start fresh.`)
              : `The device node could not start: ${String((e as Error)?.message ?? e)}`;
      this.logger.error('device node did not open', { code: this.code, message: this.message });
    }
  }

  /** A consistent copy of the cartridge for `GET /api/backup`. */
  private backupStream(): { stream: ReadableStream<Uint8Array>; size: number } {
    const bytes = this.db!.image();
    return { stream: new Blob([bytes as Uint8Array<ArrayBuffer>]).stream(), size: bytes.length };
  }

  /** Stops the kernel and closes the database (unflushed writes are dropped: flush first when they matter). */
  private close(): void {
    const kernel = this.kernel;
    const db = this.db;
    this.kernel = undefined;
    this.http = undefined;
    this.db = undefined;
    this.opening = undefined;
    if (kernel) void kernel.stop().catch(() => {});
    try {
      db?.close();
    } catch {
      // already closed
    }
  }


  private scheduleBackgroundFlush(): void {
    if (this.backgroundFlush !== undefined) return;
    this.backgroundFlush = setTimeout(() => {
      this.backgroundFlush = undefined;
      this.flush().catch((e) => this.logger.error('background write not persisted', { error: String((e as Error)?.message ?? e) }));
    }, 0);
  }

  /**
   * Persists the in-memory database when it is dirty. Calls are serialized; a call made after a write
   * returns after an image containing that write was stored (or throws).
   * @throws DeviceError `QUOTA_EXCEEDED` (memory was reloaded from disk), `SUPERSEDED` (a newer worker owns the cartridge).
   */
  flush(): Promise<void> {
    const run = this.flushTail.catch(() => {}).then(() => this.persist());
    this.flushTail = run;
    return run;
  }

  private async persist(): Promise<void> {
    const db = this.db;
    if (!db || !db.dirty) return;
    if (db.inTransaction) {
      // cannot happen with the driver's synchronous transactions; if it does, try again after it ends
      this.scheduleBackgroundFlush();
      return;
    }
    // the sync engine's captured changes go into its durable change log first (docs/sync-spec.md
    // S30), so the image that acknowledges a write also holds its log entry: the worker may be
    // stopped right after, before the engine's one-second flush timer would have run
    try {
      this.kernel?.sync.engine.flush();
    } catch (e) {
      // not fatal: a restart logs every row stamped past `sync.flushed_hlc` (S30)
      this.logger.error('sync: flushing the change log failed', { error: String((e as Error)?.message ?? e) });
    }
    const t0 = performance.now();
    const image = db.image();
    db.markClean();
    const t1 = performance.now();
    try {
      await withLock(async () => {
        const t2 = performance.now();
        if ((await this.store.owner()) !== this.ownerId) throw supersededError();
        const t3 = performance.now();
        await this.store.persist(image);
        this.lastPersist = { exportMs: t1 - t0, lockMs: t2 - t1, ownerMs: t3 - t2, writeMs: performance.now() - t3, bytes: image.length };
      });
    } catch (e) {
      const failure = e instanceof DeviceError ? e : isDomError(e, 'QuotaExceededError') ? quotaError() : new DeviceError('PERSIST_FAILED', `The change could not be saved on this device (${String((e as Error)?.message ?? e)}); nothing was lost.`, 500);
      this.lastFailure = failure;
      this.epoch++;
      this.close();
      if (failure.code === 'SUPERSEDED') {
        this.state = 'error';
        this.code = failure.code;
        this.message = 'A newer version of Fazt took over this device; reload the page.';
        this.opening = Promise.resolve();
      } else {
        // memory and disk must agree: reload the last persisted image
        await this.ready();
      }
      this.logger.error('write not persisted', { code: failure.code, error: String((e as Error)?.message ?? e) });
      throw failure;
    }
  }

  /** Resolves when no write is waiting to be persisted (for `ExtendableEvent.waitUntil`); at most ~30 s. */
  async idle(): Promise<void> {
    const deadline = Date.now() + 30_000;
    do {
      await new Promise((r) => setTimeout(r, 10));
      await this.flushTail.catch(() => {});
    } while ((this.backgroundFlush !== undefined || this.db?.dirty) && Date.now() < deadline);
  }

  /**
   * Handles a request for the device node. `url` is the inner URL (`/~device` stripped).
   * @param principal the owner principal when the service worker vouches for the client (the dashboard window).
   */
  async fetch(request: Request, url: URL, principal: Principal | undefined): Promise<Response> {
    const t0 = performance.now();
    const opened = this.state !== 'ready';
    await this.ready();
    if (this.state !== 'ready' || !this.kernel) {
      return errorJson(503, this.code ?? 'NOT_READY', this.message ?? 'The device node is starting.', { 'retry-after': '1' });
    }
    const mutating = request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS';
    const admin = url.pathname === '/api' || url.pathname.startsWith('/api/');
    // locked: no admin writes, and no copy of the whole cartridge (as exportCartridge refuses)
    if (this.locked && admin && (mutating || url.pathname.replace(/\/$/, '') === '/api/backup')) {
      return errorJson(423, 'LOCKED', 'Guided mode is locked: unlock it with the owner PIN to change this device.');
    }
    const epoch = this.epoch;
    const before = this.commits;
    const inner = new Request(url, {
      method: request.method,
      headers: request.headers,
      body: mutating ? await request.blob() : undefined,
      redirect: 'manual',
      signal: request.signal,
    });
    const t1 = performance.now();
    const response = await this.http!(inner, { principal });
    const t2 = performance.now();
    let t3 = t2;
    if (this.commits !== before || this.epoch !== epoch) {
      try {
        await this.flush();
        if (this.epoch !== epoch) throw this.lastFailure ?? quotaError();
      } catch (e) {
        void response.body?.cancel().catch(() => {});
        const d = e instanceof DeviceError ? e : new DeviceError('PERSIST_FAILED', String((e as Error)?.message ?? e));
        return errorJson(d.status, d.code, d.plain);
      }
      t3 = performance.now();
    }
    // Server-Timing (W3C): where the time went, for the dashboard's devtools and bench/pwa.mjs
    const p = t3 > t2 ? this.lastPersist : undefined;
    const timing = [
      opened ? `script;dur=${(this.options.scriptMs ?? 0).toFixed(1)}, boot;dur=${t0.toFixed(1)}, open;dur=${(t1 - t0).toFixed(1)}` : '',
      opened && earlySandbox ? `sandbox;desc="${earlySandbox.fromImage ? 'from the saved prelude image' : 'prelude evaluated'}";dur=${earlySandbox.readyMs.toFixed(1)}` : '',
      opened && this.openMarks ? Object.entries(this.openMarks).map(([k, v]) => `open-${k};dur=${v.toFixed(1)}`).join(', ') : '',
      `kernel;dur=${(t2 - t1).toFixed(1)}`,
      t3 > t2 ? `persist;dur=${(t3 - t2).toFixed(1)}` : '',
      p ? `export;dur=${p.exportMs.toFixed(1)}, lock;dur=${p.lockMs.toFixed(1)}, owner;dur=${p.ownerMs.toFixed(1)}, opfs;dur=${p.writeMs.toFixed(1)}` : '',
      p && this.store.lastWrite
        ? `${this.store.lastWrite.kind === 'log' ? `log-pages;desc="${this.store.lastWrite.pages} pages";dur=${this.store.lastWrite.diffMs.toFixed(1)}` : `rm-prev;dur=${this.store.lastWrite.removeMs.toFixed(1)}`}, write;dur=${this.store.lastWrite.writeMs.toFixed(1)}, swap;dur=${this.store.lastWrite.swapMs.toFixed(1)}`
        : '',
    ]
      .filter(Boolean)
      .join(', ');
    try {
      response.headers.append('server-timing', timing);
    } catch {
      // immutable headers (a response passed through as is): no timing then
    }
    return response;
  }

  /** The node's state (never throws). */
  async status(): Promise<DeviceStatus> {
    let cartridgeBytes = 0;
    let backups: DeviceStatus['backups'] = [];
    try {
      cartridgeBytes = await this.store.liveBytes();
      backups = await this.store.backups();
    } catch {
      // OPFS unavailable: the state says why
    }
    const cart = this.kernel?.cartridge;
    return {
      state: this.state,
      ...(this.message !== undefined ? { message: this.message } : {}),
      ...(this.code !== undefined ? { code: this.code } : {}),
      cartridgeBytes,
      ...(cart ? { schemaVersion: cart.schemaVersion, nodeId: cart.nodeId } : {}),
      version: this.options.version,
      locked: this.locked,
      backups,
    };
  }

  private assertUnlocked(): void {
    if (this.locked) throw new DeviceError('LOCKED', 'Guided mode is locked: unlock it with the owner PIN first.', 423);
  }

  private async readyKernel(): Promise<Kernel> {
    await this.ready();
    if (this.state !== 'ready' || !this.kernel) throw new DeviceError(this.code ?? 'NOT_READY', this.message ?? 'The device node is not ready.', 503);
    return this.kernel;
  }

  /** A whole SQLite image of the live cartridge; the raw file when it is damaged. */
  async exportCartridge(): Promise<Uint8Array> {
    await this.ready();
    this.assertUnlocked();
    if (this.state === 'ready' && this.db) return this.db.image();
    const raw = await withLock(() => this.store.rawLive());
    if (!raw) throw new DeviceError('NOT_FOUND', 'There is no cartridge on this device yet.', 404);
    return raw;
  }

  /**
   * Checks that `bytes` are a cartridge this build can open: header, application id, size, `PRAGMA
   * quick_check`, schema version. Works on a copy; `bytes` are not changed.
   * @returns the bytes to store (WAL header bytes normalized).
   * @throws FaztError `NOT_A_CARTRIDGE`, `CARTRIDGE_CORRUPT`, `CARTRIDGE_TOO_NEW`.
   */
  private async validate(bytes: Uint8Array, label: string): Promise<Uint8Array> {
    const SQL = await loadSqlJs();
    const image = legacyHeader(bytes);
    if (image.length === 0) throw new DeviceError('NOT_A_CARTRIDGE', `${label} is empty.`, 400);
    checkSqliteHeader(image.subarray(0, 100), image.length, label);
    const db = SqlJsDatabase.open(SQL, image);
    try {
      let check: string;
      try {
        check = String(db.get<{ quick_check: string }>('PRAGMA quick_check')?.quick_check ?? '');
      } catch (e) {
        throw new DeviceError('CARTRIDGE_CORRUPT', `${label} is damaged (${String((e as Error).message)}).`, 400);
      }
      if (check !== 'ok') throw new DeviceError('CARTRIDGE_CORRUPT', `${label} is damaged (${check.slice(0, 200)}).`, 400);
      openCartridge(db, { label });
    } finally {
      db.close();
    }
    return image;
  }

  /** Replaces the live cartridge (after checking the new one); the old live file goes to `backups/<prefix>-<time>.db`. */
  private async replaceLive(image: Uint8Array, prefix: string): Promise<DeviceStatus> {
    if (this.state === 'ready') await this.flush();
    this.close();
    await withLock(async () => {
      await this.store.setAsideLive(prefix);
      await this.store.write(image);
    });
    await this.ready();
    return this.status();
  }

  /** See {@link DeviceNodeApi.importCartridge}. */
  async importCartridge(bytes: Uint8Array): Promise<DeviceStatus> {
    await this.ready();
    this.assertUnlocked();
    const image = await this.validate(bytes, 'The imported file');
    return this.replaceLive(image, 'before-import');
  }

  /** See {@link DeviceNodeApi.restoreBackup}. */
  async restoreBackup(name: string): Promise<DeviceStatus> {
    await this.ready();
    this.assertUnlocked();
    const bytes = await withLock(() => this.store.readBackup(name));
    const image = await this.validate(bytes, `The kept copy ${name}`);
    return this.replaceLive(image, 'before-restore');
  }

  /** See {@link DeviceNodeApi.deleteBackup}. */
  async deleteBackup(name: string): Promise<DeviceStatus> {
    await this.ready();
    this.assertUnlocked();
    await withLock(() => this.store.deleteBackup(name));
    return this.status();
  }

  /** See {@link DeviceNodeApi.startFresh}. */
  async startFresh(): Promise<DeviceStatus> {
    await this.ready();
    this.assertUnlocked();
    if (this.state === 'ready') await this.flush();
    this.close();
    await withLock(() => this.store.setAsideLive('set-aside'));
    await this.ready();
    return this.status();
  }

  /** See {@link DeviceNodeApi.followLogs}. */
  async followLogs(appRef: string, onEntry: (entry: DeviceLogEntry) => void, options: FollowLogsOptions = {}): Promise<() => void> {
    const kernel = await this.readyKernel();
    let app;
    try {
      app = kernel.apps.require(appRef);
    } catch (e) {
      throw isFaztError(e) ? new DeviceError(e.code, e.message, e.status) : e;
    }
    let last = 0;
    const send = (e: DeviceLogEntry) => {
      if (e.id <= last) return;
      last = e.id;
      Promise.resolve(onEntry(e)).catch(() => {});
    };
    // backlog then live: both run synchronously here, so nothing is written in between
    if (options.after !== undefined) {
      last = options.after;
      for (const e of kernel.logs.query(app.id, { afterId: options.after, limit: 1000 })) send(e);
    }
    const off = kernel.logs.subscribe(app.id, send);
    return off;
  }

  /** See {@link DeviceNodeApi.lock}. */
  async lock(pin: string): Promise<void> {
    const kernel = await this.readyKernel();
    if (this.locked) throw new DeviceError('CONFLICT', 'Guided mode is already locked.', 409);
    if (typeof pin !== 'string' || pin.length < 4 || pin.length > 64) throw new DeviceError('BAD_REQUEST', 'Choose a PIN of 4 to 64 characters.', 400);
    const hash = await hashPassword(kernel.ports, pin);
    setMeta(kernel.cartridge.db, LOCK_KEY, hash);
    this.locked = true;
    await this.flush();
  }

  /** See {@link DeviceNodeApi.unlock}. */
  async unlock(pin: string): Promise<void> {
    const kernel = await this.readyKernel();
    const hash = getMeta(kernel.cartridge.db, LOCK_KEY);
    if (!this.locked || hash === undefined) {
      this.locked = false;
      return;
    }
    const wait = this.pinBlockedUntil - Date.now();
    if (wait > 0) throw new DeviceError('RATE_LIMITED', `Too many wrong PINs: wait ${Math.ceil(wait / 1000)} s and try again.`, 429);
    if (typeof pin !== 'string' || !(await verifyPassword(kernel.ports, pin, hash))) {
      if (++this.pinFailures >= 5) {
        this.pinFailures = 0;
        this.pinBlockedUntil = Date.now() + 30_000;
      }
      throw new DeviceError('FORBIDDEN', 'Wrong PIN.', 403);
    }
    this.pinFailures = 0;
    setMeta(kernel.cartridge.db, LOCK_KEY, null);
    this.locked = false;
    await this.flush();
  }

  /** See {@link DeviceNodeApi.isLocked}. */
  async isLocked(): Promise<boolean> {
    await this.ready();
    return this.locked;
  }

  /** The open kernel (tests and the bench use it through the worker; `undefined` unless ready). */
  get current(): Kernel | undefined {
    return this.kernel;
  }

  /** Name of the image kept before the last write. */
  static readonly PREVIOUS = PREVIOUS;
}

/**
 * The browser node's disk numbers for the disk guard (docs/safeguards.md): the origin's storage
 * quota and usage from `navigator.storage.estimate()` (https://storage.spec.whatwg.org/#dom-storagemanager-estimate);
 * free = quota − usage. Absent where the browser has no StorageManager (the guard then never trips;
 * OPFS writes past the real quota still fail with `QUOTA_EXCEEDED`).
 */
function storageEstimateSpace(): DiskSpacePort | undefined {
  const storage = (self.navigator as { storage?: StorageManager } | undefined)?.storage;
  if (!storage?.estimate) return undefined;
  return {
    async usage() {
      const e = await storage.estimate();
      const total = e.quota ?? 0;
      return { freeBytes: Math.max(0, total - (e.usage ?? 0)), totalBytes: total };
    },
  };
}

/**
 * What a service worker can tell Pulse about itself: only Chromium's non-standard
 * `performance.memory.usedJSHeapSize` (where exposed); RSS and CPU time are not available in a
 * browser, so they are `null`.
 */
const browserProcessStats = {
  read() {
    const mem = (performance as unknown as { memory?: { usedJSHeapSize?: number } }).memory;
    return { rssBytes: null, heapUsedBytes: typeof mem?.usedJSHeapSize === 'number' ? mem.usedJSHeapSize : null, cpuMs: null };
  },
};
