import { parseMultipart, getMultipartBoundary } from '@remix-run/multipart-parser';
import type { AppChange, AppRegistry } from '../apps/index.js';
import type { AppManifest } from '../apps/manifest.js';
import type { PermissionStore } from '../apps/permissions.js';
import { externalWritesOf, type Cartridge } from '../cartridge/index.js';
import { errorBody, FaztError, isFaztError } from '../errors.js';
import type { EventBus } from '../events/index.js';
import type { Logger } from '../ports.js';
import { AppAiCalls, type AiService } from '../ai/index.js';
import type { NotifyService } from '../notify/index.js';
import type { RealtimeService } from '../realtime/index.js';
import type { JobStore } from '../schedule/index.js';
import type { AppBlobStore, AppLogStore, DocStore, KvStore, SecretStore } from '../storage/index.js';
import type { BlobStore } from '../vfs/blobs.js';
import { LruCache } from '../lib/lru.js';
import { DEFAULT_ENGINE_LIMITS, EnginePool, type EngineLimits, type SandboxEngine, type WasmSource } from './engine.js';
import { isEsModule, loadCommonJs, loadEsModule, resolveModule, type ModuleSource, type StdlibModule } from './modules.js';
import { readCapped } from '../lib/read-capped.js';
import { bytesResponse } from '../lib/known-body.js';
import type { EgressStore } from '../guards/egress.js';
import { DEFAULT_NET_LIMITS, netFetch, type NetLimits, type ResolveHost } from './net.js';
import type { AppBoundOps, AppCode, HostOps, InvocationResult, PreludeImage, Sandbox } from './sandbox.js';
import { PURE_OPS, noRequest, urlParts, type BlobFacts, type FormPart, type HostOpTable, type LogLevel, type OpCall, type RequestIo } from './host-ops.js';

export { EnginePool, DEFAULT_ENGINE_LIMITS, type EngineLimits, type EngineWait, type SandboxEngine, type WasmSource } from './engine.js';
export { hostWaited, type Sandbox, type InvocationLimits, type InvocationResult, type InvocationSpec, type PreludeImage, type AppCode, type AppBoundOps, type HostOps } from './sandbox.js';
export { DEFAULT_SANDBOX_LIMITS, type SandboxLimits } from './limits.js';
export { isEsModule, resolveModule, type StdlibModule, type ModuleSource } from './modules.js';
export { netFetch, DEFAULT_NET_LIMITS, type NetLimits, type ResolveHost, type NetRequest, type NetResponse } from './net.js';
export type { InvokeExport } from '../lib/invoke.js';
export { HOST_OPS, PURE_OPS, isHostOp, callOp, type HandledOpName, type HostOpName, type HostOpTable, type HostOpSignatures, type OpCall, type RequestIo } from './host-ops.js';

/**
 * The serverless runtime: requests to an app's `/api/*` paths, its scheduled jobs and its event
 * subscriptions run `api/main.js` in a QuickJS sandbox (see `sandbox.ts`) with the `fazt.*` host
 * API, every call bound to the calling app by the kernel.
 */

/** The bundled standard library, as the host provides it (built by scripts/build-stdlib.mjs). */
export interface StdlibSource {
  /** A module by package name, or `undefined`. */
  get(name: string): StdlibModule | undefined;
  /** The names apps can import. */
  names(): string[];
}

/** Runtime limits. */
export interface RuntimeLimits extends EngineLimits {
  /** CPU time per invocation inside QuickJS, ms (default 1,000). */
  cpuMs: number;
  /** Wall time per invocation, ms (default 30,000). */
  wallMs: number;
  /** Invocations of one app in flight at once; more wait in the app's queue (default 4). */
  perAppConcurrency: number;
  /**
   * Invocations of one app that may wait for a free slot (FIFO) beyond {@link perAppConcurrency}
   * (default 16): a page firing a burst of parallel fetches is served, not refused. Past it, 503
   * `APP_BUSY` at once; `0` refuses at once whenever the app is at its limit.
   */
  perAppQueue: number;
  /** Longest wait in the app's queue, ms (default 5,000); then 503 `APP_BUSY`. */
  queueMs: number;
  /**
   * CPU time one app may use per {@link cpuWindowMs}, ms, summed over its invocations (default
   * 30,000: half a core on average). Past it the app's invocations are refused with 429
   * `APP_OVER_BUDGET` until the window ends, so one app's flood cannot starve the others.
   */
  cpuBudgetMs: number;
  /** The window of {@link cpuBudgetMs}, ms (default 60,000). */
  cpuWindowMs: number;
  /** Largest request body an app reads, bytes (default 10 MiB). */
  requestBytes: number;
  /** Outbound `fazt.net.fetch` limits. */
  net: NetLimits;
  /** Sandbox threads, for a host that runs sandboxes on threads (the headless node; default: one per core). */
  threads?: number;
  /**
   * Headless node: how far past its CPU limit a sandbox may stay inside QuickJS before the watchdog
   * terminates its thread, ms (default 500). Only a built-in that never polls for interrupts gets
   * there; tests set it below 0 to make the watchdog act before the interrupt.
   */
  watchdogGraceMs?: number;
  /**
   * Headless node: a sandbox thread that ran no app code for this long is stopped, and its memory
   * (an isolate and a QuickJS instance, ~20 MB) given back, ms (default 30,000; 0 keeps threads).
   * The next invocation starts one again (~100 ms). Idle apps cost no memory (docs/runtime.md).
   */
  threadIdleMs?: number;
}

/** Defaults of {@link RuntimeLimits}. */
export const DEFAULT_RUNTIME_LIMITS: RuntimeLimits = {
  ...DEFAULT_ENGINE_LIMITS,
  cpuMs: 1_000,
  wallMs: 30_000,
  perAppConcurrency: 4,
  perAppQueue: 16,
  queueMs: 5_000,
  cpuBudgetMs: 30_000,
  cpuWindowMs: 60_000,
  requestBytes: 10 * 1024 * 1024,
  net: DEFAULT_NET_LIMITS,
};

/** Host facilities of the runtime. */
export interface RuntimeHostOptions {
  /** The QuickJS WebAssembly module. */
  wasm: WasmSource;
  /** The bundled standard library; absent → only relative imports work. */
  stdlib?: StdlibSource;
  /** DNS resolution for the private-address check of `fazt.net.fetch` (Node host). */
  resolveHost?: ResolveHost;
  /** Outbound fetch (default: the global `fetch`). */
  fetch?: typeof fetch;
  /** Limits. */
  limits?: Partial<RuntimeLimits>;
  /**
   * Where sandboxes run (default: an {@link EnginePool} on the calling thread). The headless node
   * runs them on a pool of threads (node/sandbox-threads.ts).
   */
  engine?: (wasm: WasmSource, limits: RuntimeLimits) => SandboxEngine;
  /**
   * Create one sandbox in the background when the kernel starts and the cartridge holds server code
   * (default true): the first request then skips instantiating QuickJS (~100+ ms once per process),
   * at the price of that sandbox's memory (≈ 16–20 MiB) from the start.
   */
  warmUp?: boolean;
  /**
   * A sandbox the host began creating before the kernel existed ({@link prestartSandbox}): the pool
   * adopts it as its warm-up sandbox (see `EnginePool.adopt`). The service worker starts it while it
   * reads the cartridge from OPFS, so a cold start does not instantiate QuickJS after the open.
   */
  prestarted?: Promise<Sandbox>;
}

/**
 * Starts creating a sandbox before any kernel exists (instantiates QuickJS and evaluates the
 * prelude, or applies a saved {@link PreludeImage} from `image`), with the limits an
 * {@link AppRuntime} given the same `limits` would use; hand the promise to the runtime as
 * {@link RuntimeHostOptions.prestarted}. With `image`, the sandbox can export its own image
 * (`Sandbox.preludeImage()`) for the next start.
 * @throws (the promise) the WebAssembly instantiation error.
 */
export async function prestartSandbox(wasm: WasmSource, limits?: Partial<RuntimeLimits>, image?: PreludeImageSource): Promise<Sandbox> {
  const { Sandbox: SandboxClass, preludeImageKey } = await import('./sandbox.js');
  const all = { ...DEFAULT_RUNTIME_LIMITS, ...limits };
  const imageKey = image ? preludeImageKey(image.moduleKey, all) : undefined;
  const [module, saved] = await Promise.all([wasm(), imageKey && image?.load ? image.load(imageKey).catch(() => undefined) : undefined]);
  return SandboxClass.create(module, all, { imageKey, image: saved });
}

/** Where {@link prestartSandbox} finds a saved {@link PreludeImage} (the service worker keeps one in Cache Storage). */
export interface PreludeImageSource {
  /** Identifies the QuickJS WebAssembly binary (e.g. its hashed build URL); part of the image key. */
  moduleKey: string;
  /** The saved image for `key`, or `undefined`; a failure counts as none. */
  load?(key: string): Promise<PreludeImage | undefined>;
}

/** The services the runtime binds to apps. */
export interface RuntimeServices {
  cart: Cartridge;
  apps: AppRegistry;
  blobs: BlobStore;
  kv: KvStore;
  docs: DocStore;
  appBlobs: AppBlobStore;
  secrets: SecretStore;
  logs: AppLogStore;
  permissions: PermissionStore;
  events: EventBus;
  jobs: JobStore;
  logger: Logger;
  /** `fazt.ai` (absent: AI calls answer AI_UNAVAILABLE). */
  ai?: AiService;
  /** `fazt.notify` (absent: it answers NOT_READY). */
  notify?: NotifyService;
  /** `fazt.realtime` (absent: publishing answers NO_HANDLER). */
  realtime?: RealtimeService;
  /** Egress quotas of `fazt.net.fetch` (absent: no quota; docs/safeguards.md). */
  egress?: EgressStore;
}

/** An app as the runtime addresses it. */
export interface RuntimeApp {
  id: string;
  name: string;
  version: number | null;
}

/** Where the request came in. */
export interface RuntimeMount {
  /** Path prefix of the app on this host (`''` on its own origin, `/a/<name>` on the node's host). */
  basePath: string;
  /** Headers added to every response. */
  headers: Record<string, string>;
}

/** Statuses whose responses have no body (Fetch standard, "null body status"). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'content-length', 'proxy-connection', 'te', 'trailer']);

/** Removes the owner's credentials from headers handed to app code. */
function appVisibleHeaders(headers: Headers): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of headers) {
    if (k === 'cookie') {
      const kept = v
        .split(';')
        .map((c) => c.trim())
        .filter((c) => c && !/^fazt_session=/i.test(c));
      if (kept.length) out.push([k, kept.join('; ')]);
    } else if (k === 'authorization' && /^bearer\s+fazt_/i.test(v)) {
      continue;
    } else out.push([k, v]);
  }
  return out;
}

/**
 * The serverless runtime of a kernel.
 */
export class AppRuntime {
  /** Where the sandboxes run. */
  readonly pool: SandboxEngine;
  readonly limits: RuntimeLimits;
  private readonly sources = new LruCache<string, string>(16 * 1024 * 1024);
  /** Per app: invocations in flight and the FIFO of those waiting for a slot. */
  private readonly slots = new Map<string, { inflight: number; queue: { resolve: () => void; timer: ReturnType<typeof setTimeout> }[] }>();
  private readonly secretGen = new Map<string, number>();
  private readonly envCache = new Map<string, { stamp: string; env: Record<string, string> }>();
  /** Entry modules by code key (immutable per app version and secrets generation); `null`: none. */
  private readonly entries = new Map<string, AppCode['entry'] | null>();
  /** Op tables by app version (see {@link appOps}). */
  private readonly opsCache = new Map<string, AppBoundOps>();
  private seq = 0;
  /** CPU used per app in the current budget window (see {@link RuntimeLimits.cpuBudgetMs}). */
  private readonly cpuSpent = new Map<string, { windowStart: number; ms: number }>();
  /** Open `fazt.ai` calls (their tools run in the sandbox; their streams are served from here). */
  readonly aiCalls: AppAiCalls | undefined;

  constructor(
    private readonly s: RuntimeServices,
    private readonly host: RuntimeHostOptions,
  ) {
    this.limits = { ...DEFAULT_RUNTIME_LIMITS, ...host.limits, net: { ...DEFAULT_NET_LIMITS, ...host.limits?.net } };
    this.pool = host.engine ? host.engine(host.wasm, this.limits) : new EnginePool(host.wasm, this.limits);
    this.aiCalls = s.ai ? new AppAiCalls(s.ai) : undefined;
    if (host.prestarted) this.pool.adopt?.(host.prestarted);
  }

  /**
   * Tells the runtime an app's live state changed (deploy, rollback, rename, removal): sandboxes
   * primed with its old code are dropped and, when the app was in use, its new live version is
   * loaded into an idle sandbox now rather than on its next request. The kernel's use cases call it.
   */
  appChanged(c: AppChange): void {
    const unprimed = this.pool.evictApp(c.appId);
    if (unprimed > 0 && c.version !== null && c.kind !== 'remove') setTimeout(() => void this.prewarm(c.appId), 0);
  }

  /** Sandboxes alive (busy and idle), for diagnostics. */
  get sandboxes(): number {
    return this.pool.size;
  }

  /**
   * Background start: creates one sandbox when the cartridge holds server code (unless the host
   * turned `warmUp` off), so the first request after a node start skips instantiating QuickJS. When
   * it holds none, a {@link RuntimeHostOptions.prestarted} sandbox is freed.
   * Failures are logged, never thrown (the first request reports them).
   */
  async start(): Promise<void> {
    if (this.host.warmUp === false) return;
    try {
      const any = this.s.apps.list().some((a) => a.currentVersion !== null && this.s.apps.file(a.id, a.currentVersion, 'api/main.js'));
      if (any) await this.pool.warmUp();
      else if (this.host.prestarted) {
        // nothing to run: free the host's early sandbox (its memory) once it exists
        await this.host.prestarted.catch(() => {});
        if (this.pool.idleCount === this.pool.size) this.pool.drain();
      }
    } catch (e) {
      this.s.logger.warn('runtime warm-up failed', { error: String((e as Error)?.message ?? e) });
    }
  }

  /** Primes an idle sandbox with an app's live version (see {@link EnginePool.prewarm}). @returns true when one was primed. */
  async prewarm(appId: string): Promise<boolean> {
    const app = this.s.apps.resolve(appId);
    if (!app || app.currentVersion === null) return false;
    const live = { id: app.id, name: app.name, version: app.currentVersion };
    const code = this.appCode(live, this.invocationOps(live, { source: 'prime' }));
    if (!code) return false;
    return this.pool.prewarmApp(code, { cpuMs: this.limits.cpuMs, wallMs: this.limits.wallMs });
  }

  /** Tells the runtime an app's secrets changed (sandboxes primed with the old values are dropped). */
  secretsChanged(appId: string): void {
    this.secretGen.set(appId, (this.secretGen.get(appId) ?? 0) + 1);
    this.pool.evictApp(appId);
  }

  /**
   * The app's decrypted secrets (`fazt.env`), cached until {@link secretsChanged} or a write by
   * another process (see `ExternalWrites`).
   * @throws FaztError `INTERNAL` when a value cannot be decrypted (not cached).
   */
  private env(appId: string): Record<string, string> {
    const stamp = `${this.secretGen.get(appId) ?? 0}:${this.s.secrets.writes}:${externalWritesOf(this.s.cart.db).generation()}`;
    const hit = this.envCache.get(appId);
    if (hit && hit.stamp === stamp) return hit.env;
    const env = this.s.secrets.all(appId);
    if (this.envCache.size >= 1000) this.envCache.clear();
    this.envCache.set(appId, { stamp, env });
    return env;
  }

  /** Permissions in force for an app: requested by its live manifest ∩ granted by the owner. */
  effectivePermissions(appId: string, manifest: AppManifest | undefined): string[] {
    const granted = new Set(this.s.permissions.granted(appId));
    return (manifest?.permissions ?? []).filter((p) => granted.has(p));
  }

  private text(appId: string, version: number, path: string): string | undefined {
    const f = this.s.apps.file(appId, version, path);
    if (!f) return undefined;
    let t = this.sources.get(f.hash);
    if (t === undefined) {
      t = new TextDecoder().decode(this.s.blobs.readAll(f));
      this.sources.set(f.hash, t, t.length * 2 + 64);
    }
    return t;
  }

  private moduleSource(appId: string, version: number): ModuleSource {
    const std = this.host.stdlib;
    return {
      readFile: (p) => this.text(appId, version, p),
      stdlib: (n) => std?.get(n),
      stdlibNames: () => std?.names() ?? [],
    };
  }

  /**
   * The host ops of one app version: its op table (built once per app version and reused by every
   * invocation; the per-invocation facts come as {@link OpCall}) and its module loading.
   */
  private appOps(app: RuntimeApp & { version: number }): AppBoundOps {
    const key = `${app.id}@${app.version}`;
    let ops = this.opsCache.get(key);
    if (!ops) {
      ops = this.buildAppOps(app);
      if (this.opsCache.size >= 256) this.opsCache.clear();
      this.opsCache.set(key, ops);
    }
    return ops;
  }

  private buildAppOps(app: RuntimeApp & { version: number }): AppBoundOps {
    const { s } = this;
    const id = app.id;
    const mods = this.moduleSource(id, app.version);
    const manifest = () => s.apps.manifest(id, app.version);
    const log = (level: LogLevel, message: string, source: string, data?: unknown) => s.logs.append(id, { level, message, data, source });
    const parseKv = (v: string) => JSON.parse(v) as unknown;
    const facts = (h: BlobFacts) => ({ key: h.key, size: h.size, contentType: h.contentType, updatedAt: h.updatedAt });
    const ttl = (v: number | null | undefined) => (v === undefined || v === null ? undefined : { ttlMs: v });
    const aiCalls = () => this.aiCalls ?? (() => {
      throw new FaztError('AI_UNAVAILABLE', 'fazt.ai: this node has no AI service.');
    })();
    const table: HostOpTable = {
      ...PURE_OPS,
      log: (a, _b, call) => {
        log(['debug', 'info', 'warn', 'error'].includes(a.level) ? a.level : 'info', String(a.message), call.source, a.data);
        return null;
      },
      'kv.get': (a) => {
        const v = s.kv.get(id, a.key);
        return v === undefined ? null : parseKv(v);
      },
      'kv.set': (a) => {
        s.kv.set(id, a.key, JSON.stringify(a.value), ttl(a.ttl));
        return null;
      },
      'kv.delete': (a) => s.kv.delete(id, a.key),
      'kv.list': (a) => {
        const page = s.kv.list(id, a ?? {});
        return { items: page.items.map((i) => ({ ...i, value: parseKv(i.value) })), cursor: page.cursor };
      },
      'kv.increment': (a) => s.kv.increment(id, a.key, a.by ?? 1, ttl(a.ttl)),
      'docs.insert': (a) => s.docs.insert(id, a.collection, a.doc),
      'docs.get': (a) => s.docs.get(id, a.collection, a.id) ?? null,
      'docs.find': (a) => s.docs.find(id, a.collection, a.query ?? {}),
      'docs.update': (a) => s.docs.update(id, a.collection, a.target, a.update),
      'docs.delete': (a) => s.docs.delete(id, a.collection, a.target),
      'docs.count': (a) => s.docs.count(id, a.collection, a.where),
      'blobs.head': (a) => {
        const h = s.appBlobs.head(id, a.key);
        return h ? facts(h) : null;
      },
      'blobs.delete': (a) => s.appBlobs.delete(id, a.key),
      'blobs.list': (a) => {
        const page = s.appBlobs.list(id, a ?? {});
        return { items: page.items.map(facts), cursor: page.cursor };
      },
      'blobs.read': async (key) => {
        const bytes = s.appBlobs.read(id, key);
        if (!bytes) throw new FaztError('NOT_FOUND', `fazt.blobs: no blob "${key}"`);
        return bytes;
      },
      'blobs.put': async (a, b, call) => {
        if (a.ref === 'request') return (call.request ?? noRequest('fazt.blobs.put(key, request)')).putBlob(a.key, a.contentType);
        let body: Uint8Array | ReadableStream<Uint8Array> = b ?? new Uint8Array(0);
        if (a.ref === 'blob') {
          const src = s.appBlobs.stream(id, a.from ?? '');
          if (!src) throw new FaztError('NOT_FOUND', `fazt.blobs: no blob "${a.from}"`);
          body = src.stream;
        }
        return facts(await s.appBlobs.put(id, a.key, body, a.contentType));
      },
      'events.emit': (a) => ({ id: s.events.emit(id, a.type, a.payload).id }),
      'realtime.publish': (a) => {
        if (!s.realtime) throw new FaztError('NO_HANDLER', 'fazt.realtime: this node has no realtime service.');
        return s.realtime.publish(id, a.channel, a.data);
      },
      'schedule.after': (a) => {
        const j = s.jobs.after(id, a.ms, a.state);
        return { id: j.id, runAt: j.runAt };
      },
      'schedule.at': (a) => {
        if (!Number.isFinite(a.at)) throw new FaztError('INVALID_ARGUMENT', 'fazt.schedule.at: the date is not valid');
        const j = s.jobs.at(id, a.at, a.state);
        return { id: j.id, runAt: j.runAt };
      },
      'schedule.cancel': (a) => s.jobs.cancel(id, a.id),
      'schedule.list': () => s.jobs.list(id).map((j) => ({ id: j.id, kind: j.kind, name: j.name ?? undefined, runAt: j.runAt, status: j.status })),
      'net.fetch': async (a, b) => netFetch({ ...a, body: b }, this.effectivePermissions(id, manifest()), this.limits.net, this.host.resolveHost, this.host.fetch, s.egress?.meter(id, app.name)),
      'ai.begin': (a) => {
        if (!this.effectivePermissions(id, manifest()).includes('ai')) {
          throw new FaztError('PERMISSION_DENIED', `fazt.ai: the app "${app.name}" may not call models. Add "ai" to "permissions" in its app.json and have the owner grant it (fazt app grant ${app.name} ai, or the dashboard).`);
        }
        return aiCalls().begin({ appId: id, appName: app.name }, a);
      },
      'ai.result': async (a) => aiCalls().result(id, a.id),
      'ai.next': async (a) => aiCalls().next(id, a.id, a.cursor),
      'ai.tool': async (a) => aiCalls().tool(id, a.id),
      'ai.toolResult': (a) => aiCalls().toolResult(id, a.id, a),
      'notify.send': async (a) => {
        if (!s.notify) throw new FaztError('NOT_READY', 'fazt.notify: this node has no notification service.');
        return s.notify.sendFromApp(id, manifest()?.permissions ?? [], a);
      },
      'body.read': async (_a, _b, call) => (call.request ?? noRequest('request body')).bytes(),
      'body.formData': async (_a, _b, call) => (call.request ?? noRequest('formData()')).formData(),
      'body.formDataFiles': (_a, _b, call) => (call.request ?? noRequest('formData()')).files(),
    };
    return {
      table,
      loadCommonJs: (spec, from) => loadCommonJs(mods, spec, from),
      normalizeModule: (base, spec) => resolveModule(mods, spec, base),
      loadModule: (mid) => loadEsModule(mods, mid),
    };
  }

  /** The ops of one invocation: the app's table and module loading, with this invocation's facts. */
  private invocationOps(app: RuntimeApp & { version: number }, call: OpCall): HostOps {
    const bound = this.appOps(app);
    return { ...bound, call, log: (level, message) => this.s.logs.append(app.id, { level, message, source: call.source }) };
  }

  /** The code of an app's live version, or `undefined` when it has no `api/main.js`. */
  private appCode(app: RuntimeApp & { version: number }, ops: HostOps): AppCode | undefined {
    const key = `${app.id}@${app.version}#${this.secretGen.get(app.id) ?? 0}`;
    let entry = this.entries.get(key);
    if (entry === undefined) {
      const path = 'api/main.js';
      const source = this.text(app.id, app.version, path);
      entry = source === undefined ? null : { path, source, isModule: isEsModule(path, source) };
      if (this.entries.size > 1000) this.entries.clear();
      this.entries.set(key, entry);
    }
    return entry ? { key, entry, ops } : undefined;
  }

  /**
   * Refuses an app that used its CPU budget in the current window.
   * @throws FaztError `APP_OVER_BUDGET` (429) naming the budget and when the window ends.
   */
  private checkBudget(app: RuntimeApp): void {
    const spent = this.cpuSpent.get(app.id);
    if (!spent) return;
    const now = Date.now();
    if (now - spent.windowStart >= this.limits.cpuWindowMs) {
      this.cpuSpent.delete(app.id);
      return;
    }
    if (spent.ms >= this.limits.cpuBudgetMs) {
      const wait = Math.ceil((spent.windowStart + this.limits.cpuWindowMs - now) / 1000);
      throw new FaztError(
        'APP_OVER_BUDGET',
        `The app "${app.name}" used its CPU budget (${this.limits.cpuBudgetMs} ms per ${this.limits.cpuWindowMs / 1000} s); try again in ${wait} s.`,
      );
    }
  }

  /** Adds an invocation's CPU time to its app's budget window. */
  private spend(appId: string, ms: number): void {
    if (!(ms > 0)) return;
    const now = Date.now();
    let spent = this.cpuSpent.get(appId);
    if (!spent || now - spent.windowStart >= this.limits.cpuWindowMs) {
      spent = { windowStart: now, ms: 0 };
      if (this.cpuSpent.size >= 10_000) this.cpuSpent.clear();
      this.cpuSpent.set(appId, spent);
    }
    spent.ms += ms;
  }

  /** Seconds until an app's budget window ends (for `Retry-After`). */
  private budgetRetryAfter(appId: string): number {
    const spent = this.cpuSpent.get(appId);
    return spent ? Math.max(1, Math.ceil((spent.windowStart + this.limits.cpuWindowMs - Date.now()) / 1000)) : 1;
  }

  /**
   * Takes one of the app's invocation slots, waiting in its FIFO queue when all are taken.
   * @throws FaztError `APP_BUSY` when the queue is full, or after waiting `queueMs`.
   */
  private acquireSlot(app: RuntimeApp): Promise<void> | void {
    let slot = this.slots.get(app.id);
    if (!slot) {
      slot = { inflight: 0, queue: [] };
      this.slots.set(app.id, slot);
    }
    const { perAppConcurrency: limit, perAppQueue, queueMs } = this.limits;
    if (slot.inflight < limit) {
      slot.inflight++;
      return;
    }
    if (slot.queue.length >= perAppQueue) {
      const waiting = slot.queue.length ? ` and ${slot.queue.length} more are waiting` : '';
      throw new FaztError('APP_BUSY', `The app "${app.name}" is already handling ${slot.inflight} requests (its limit)${waiting}; try again shortly.`);
    }
    const queue = slot.queue;
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve,
        timer: setTimeout(() => {
          const at = queue.indexOf(waiter);
          if (at >= 0) queue.splice(at, 1);
          reject(new FaztError('APP_BUSY', `The app "${app.name}" stayed busy with ${limit} requests (its limit) for the ${queueMs} ms this one waited; try again shortly.`));
        }, queueMs),
      };
      queue.push(waiter);
    });
  }

  /** Returns a slot: hands it to the longest waiting invocation of the app, if any. */
  private releaseSlot(appId: string): void {
    const slot = this.slots.get(appId);
    if (!slot) return;
    const next = slot.queue.shift();
    if (next) {
      clearTimeout(next.timer);
      next.resolve();
      return;
    }
    slot.inflight--;
    if (slot.inflight <= 0) this.slots.delete(appId);
  }

  private async run(
    app: RuntimeApp & { version: number },
    kind: 'fetch' | 'scheduled' | 'on',
    arg: unknown,
    extra: { request?: RequestIo; basePath: string; source: string; requestId: string },
  ): Promise<InvocationResult> {
    const ops = this.invocationOps(app, { source: extra.source, request: extra.request });
    const code = this.appCode(app, ops);
    if (!code) throw new FaztError('NO_HANDLER', `The app "${app.name}" has no api/main.js, so it has no ${kind === 'fetch' ? 'API' : kind + ' handler'}.`);
    this.checkBudget(app);
    await this.acquireSlot(app);
    let result: InvocationResult;
    try {
      let env: Record<string, string> = {};
      try {
        env = this.env(app.id);
      } catch (e) {
        this.s.logs.append(app.id, { level: 'error', message: (e as Error).message, source: extra.source });
      }
      result = await this.pool.run(
        {
          app: code,
          kind,
          arg,
          meta: { app: { id: app.id, name: app.name, version: app.version }, user: null, env, requestId: extra.requestId, basePath: extra.basePath },
          limits: { cpuMs: this.limits.cpuMs, wallMs: this.limits.wallMs },
          ops,
        },
        { ms: this.limits.wallMs, error: () => new FaztError('APP_BUSY', `No sandbox became free within ${this.limits.wallMs} ms; the node is busy.`) },
      );
    } catch (e) {
      this.releaseSlot(app.id);
      // a stopped runaway used its whole CPU limit
      if (isFaztError(e) && e.code === 'APP_TIMEOUT' && /CPU time/.test(e.message)) this.spend(app.id, this.limits.cpuMs);
      throw e;
    }
    this.spend(app.id, result.cpuMs);
    const release = () => this.releaseSlot(app.id);
    result.done.then(release, release);
    return result;
  }

  /**
   * Serves a request to an app's `/api/…` path.
   * @param pathname the path inside the app (starting `/api`).
   * @returns the app's response, or a JSON error (`{error: {code, message, requestId}}`) with the
   *   status of the failure; never throws.
   */
  async handleRequest(request: Request, app: RuntimeApp, pathname: string, mount: RuntimeMount): Promise<Response> {
    const requestId = `${Date.now().toString(36)}-${(++this.seq).toString(36)}`;
    const source = `${request.method} ${pathname}`;
    const url = new URL(request.url);
    const appUrl = `${url.origin}${pathname}${url.search}`;
    const headersOut = (extra: Record<string, string> = {}) => ({ ...mount.headers, 'x-fazt-request-id': requestId, ...extra });
    let bodyTooLarge: FaztError | undefined;
    try {
      if (app.version === null) throw new FaztError('NO_HANDLER', `The app "${app.name}" has no live version yet.`);
      const version = app.version;
      let body: Uint8Array | undefined;
      let files: Uint8Array | undefined;
      const hasBody = request.body !== null && request.method !== 'GET' && request.method !== 'HEAD';
      const bodyBytes = async () => {
        try {
          return (body ??= await readCapped(request, this.limits.requestBytes, 'The request body of an app request'));
        } catch (e) {
          if (isFaztError(e) && e.code === 'LIMIT_EXCEEDED') bodyTooLarge = e;
          throw e;
        }
      };
      const result = await this.run({ ...app, version }, 'fetch', { url: appUrl, urlParts: urlParts(new URL(appUrl)), method: request.method, headers: appVisibleHeaders(request.headers), hasBody }, {
        basePath: mount.basePath,
        source,
        requestId,
        request: {
          bytes: bodyBytes,
          formData: async () => {
            const bytes = await bodyBytes();
            const boundary = getMultipartBoundary(request.headers.get('content-type') ?? '');
            if (!boundary) throw new FaztError('INVALID_ARGUMENT', 'formData(): the multipart body has no boundary');
            const parts: FormPart[] = [];
            const chunks: Uint8Array[] = [];
            let o = 0;
            try {
              for (const part of parseMultipart(bytes, { boundary })) {
                if (part.filename !== undefined) {
                  const b = part.bytes;
                  parts.push({ name: part.name ?? '', file: true, filename: part.filename, type: part.mediaType ?? 'application/octet-stream', start: o, end: o + b.length });
                  chunks.push(b);
                  o += b.length;
                } else parts.push({ name: part.name ?? '', value: part.text });
              }
            } catch (e) {
              throw new FaztError('INVALID_ARGUMENT', `formData(): the multipart body is malformed (${(e as Error).message})`);
            }
            files = new Uint8Array(o);
            let at = 0;
            for (const c of chunks) {
              files.set(c, at);
              at += c.length;
            }
            return parts;
          },
          files: () => files ?? new Uint8Array(0),
          putBlob: async (key, contentType) => {
            const info = await this.s.appBlobs.put(app.id, key, body ?? request.body ?? new Uint8Array(0), contentType);
            return { key: info.key, size: info.size, contentType: info.contentType, updatedAt: info.updatedAt };
          },
        },
      });
      const r = result.response!;
      const headers = new Headers();
      for (const [k, v] of r.headers) if (!HOP_HEADERS.has(k)) headers.append(k, v);
      for (const [k, v] of Object.entries(headersOut())) headers.set(k, v);
      let out: BodyInit | null = null;
      if (r.blob !== undefined) {
        const b = this.s.appBlobs.stream(app.id, r.blob);
        if (!b) throw new FaztError('NOT_FOUND', `The response names the blob "${r.blob}", which does not exist.`);
        if (!headers.has('content-type')) headers.set('content-type', b.info.contentType);
        headers.set('content-length', String(b.info.size));
        out = b.stream;
      } else if (r.echo) {
        out = (body as BodyInit | undefined) ?? request.body;
      } else if (r.net !== undefined) {
        out = result.netBodies[r.net] as BodyInit;
      } else if (r.ai !== undefined) {
        if (!this.aiCalls) throw new FaztError('AI_UNAVAILABLE', 'fazt.ai: this node has no AI service.');
        const b = this.aiCalls.body(app.id, r.ai.id, r.ai.format === 'sse' ? 'sse' : 'text');
        // a call that failed before any output answers with its error and status, not a 200 stream
        const early = await b.ready;
        if (early) {
          void b.stream.cancel().catch(() => {});
          throw early;
        }
        headers.delete('content-length');
        out = b.stream;
      } else if (result.body) {
        // bytes in memory: a content-length instead of chunked encoding, written directly by the Node host
        if (NULL_BODY_STATUS.has(r.status)) {
          headers.delete('content-length');
          return new Response(null, { status: r.status, statusText: r.statusText, headers });
        }
        headers.set('content-length', String(result.body.byteLength));
        return bytesResponse(request.method === 'HEAD' ? null : result.body, { status: r.status, statusText: r.statusText, headers });
      }
      if (request.method === 'HEAD') out = null;
      return new Response(out, { status: r.status, statusText: r.statusText, headers });
    } catch (e) {
      let err = isFaztError(e) ? e : new FaztError('INTERNAL', 'The node failed to run this request; the error was logged.');
      // when the client sent too large a body, a failing handler failed because of it: 413, not the app's 500
      if (bodyTooLarge && err.code === 'APP_ERROR') err = bodyTooLarge;
      if (!isFaztError(e)) this.s.logger.error('runtime failure', { app: app.name, error: String((e as Error)?.stack ?? e) });
      if (err.code !== 'LIMIT_EXCEEDED' || !/request body/.test(err.message)) {
        try {
          this.s.logs.append(app.id, { level: 'error', message: err.message, data: { code: err.code, requestId }, source });
        } catch {
          /* logging must not hide the error */
        }
      }
      // the public response gets the first line only; the stack is in the app's log
      const message = err.message.split('\n')[0]!;
      // AI failures and safeguard refusals carry their details (retryAfterSeconds, quota, disk use) to the client
      const ai = err.code.startsWith('AI_') || err.code === 'EGRESS_QUOTA_EXCEEDED' || err.code === 'DISK_FULL';
      const retryAfter = ai && typeof err.details?.retryAfterSeconds === 'number' ? { 'retry-after': String(err.details.retryAfterSeconds) } : {};
      return new Response(JSON.stringify(errorBody(err.code, message, { ...(ai ? err.details : {}), requestId })), {
        status: err.status,
        headers: headersOut({ 'content-type': 'application/json; charset=utf-8', ...retryAfter, ...(err.code === 'APP_BUSY' ? { 'retry-after': '1' } : err.code === 'APP_OVER_BUDGET' ? { 'retry-after': String(this.budgetRetryAfter(app.id)) } : {}) }),
      });
    }
  }

  /**
   * Runs an app's `scheduled` or `on` export (for the scheduler and the event bus).
   * @throws FaztError `APP_NOT_FOUND`, `NO_HANDLER`, and the invocation's failures.
   */
  async invokeExport(appId: string, exportName: 'scheduled' | 'on', arg: unknown): Promise<void> {
    const app = this.s.apps.resolve(appId);
    if (!app || app.currentVersion === null) throw new FaztError('APP_NOT_FOUND', `No live app with id ${appId}.`);
    const source = exportName === 'scheduled' ? `schedule ${(arg as { name?: string; id?: string })?.name ?? (arg as { id?: string })?.id ?? ''}` : `event ${(arg as { type?: string })?.type ?? ''}`;
    const requestId = `${Date.now().toString(36)}-${(++this.seq).toString(36)}`;
    try {
      const r = await this.run({ id: app.id, name: app.name, version: app.currentVersion }, exportName, arg, { basePath: '', source, requestId });
      await r.done;
    } catch (e) {
      const err = isFaztError(e) ? e : new FaztError('INTERNAL', String(e));
      this.s.logs.append(app.id, { level: 'error', message: err.message, data: { code: err.code }, source });
      throw err;
    }
  }

  /**
   * Deploy-time check of an upload's server code: every `api/**.js|mjs|cjs` file must parse, and
   * `api/main.js` must exist when there is any server code or the manifest schedules jobs or
   * subscribes to events.
   * @throws FaztError `INVALID_CODE` naming the file and line.
   */
  async checkUpload(paths: string[], manifest: AppManifest, readText: (path: string) => string | undefined): Promise<void> {
    const code = paths.filter((p) => p.startsWith('api/') && /\.(m|c)?js$/.test(p));
    const needsEntry = code.length > 0 || manifest.schedule.length > 0 || manifest.events.subscribe.length > 0;
    if (needsEntry && !paths.includes('api/main.js')) {
      const why = code.length ? `it has server code (${code.slice(0, 3).join(', ')})` : manifest.schedule.length ? 'app.json schedules jobs' : 'app.json subscribes to events';
      throw new FaztError('INVALID_CODE', `The app has no api/main.js, but ${why}. Add api/main.js with export default { fetch(request) { … } }. Nothing was deployed.`);
    }
    if (!code.length) return;
    const std = this.host.stdlib;
    const mods: ModuleSource = { readFile: readText, stdlib: (n) => std?.get(n), stdlibNames: () => std?.names() ?? [] };
    const { checkModuleSyntax } = await import('./syntax.js');
    for (const p of code) {
      const src = readText(p) ?? '';
      const problem = checkModuleSyntax(p, src, isEsModule(p, src), (spec) => resolveModule(mods, spec, p));
      if (problem) throw new FaztError('INVALID_CODE', `${problem.replace(/\.$/, '')}. Nothing was deployed; the live version is unchanged.`);
    }
  }
}
