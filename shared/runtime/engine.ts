import type { AppCode, InvocationLimits, InvocationResult, InvocationSpec, Sandbox, SandboxLimits } from './sandbox.js';
import { DEFAULT_SANDBOX_LIMITS } from './limits.js';

/**
 * The pool of QuickJS sandboxes (docs/runtime.md). One invocation leases one sandbox; a sandbox is
 * primed with one app's code at a time and the pool prefers a sandbox already primed with the
 * requested app, so a warm invocation skips module evaluation. Idle sandboxes beyond `warm` are
 * freed after `idleMs` ("hibernate": an idle node holds only a couple of sandboxes).
 */

/** Limits of the pool. */
export interface EngineLimits extends SandboxLimits {
  /** Most sandboxes alive at once = most invocations in flight on this node (default 8). */
  maxSandboxes: number;
  /** Idle sandboxes kept (default 2); the others are freed after {@link idleMs}. */
  warm: number;
  /** How long an idle sandbox beyond `warm` lives, ms (default 30 s). */
  idleMs: number;
}

/** Defaults of {@link EngineLimits}. */
export const DEFAULT_ENGINE_LIMITS: EngineLimits = { ...DEFAULT_SANDBOX_LIMITS, maxSandboxes: 8, warm: 2, idleMs: 30_000 };

/** How the host hands the engine the QuickJS WebAssembly binary (compiled once, instantiated per sandbox). */
export type WasmSource = () => Promise<WebAssembly.Module>;

/** How long a run may wait for a free sandbox, and the error it gets then. */
export interface EngineWait {
  ms: number;
  error: () => Error;
}

/**
 * Where invocations run. {@link EnginePool} runs sandboxes on the calling thread (the browser node);
 * the headless node runs them on a pool of threads (node/sandbox-threads.ts) behind the same face.
 */
export interface SandboxEngine {
  /** Sandboxes alive (busy and idle). */
  readonly size: number;
  /** Idle sandboxes. */
  readonly idleCount: number;
  /** Sandboxes created since start. */
  readonly created: number;
  /**
   * Runs one invocation in a free sandbox (preferably one primed with `spec.app.key`), waiting up to
   * `wait` for one. The sandbox is busy until `result.done` settles.
   * @throws `wait.error()`, and the invocation's FaztErrors (see `Sandbox.invoke`).
   */
  run(spec: InvocationSpec, wait?: EngineWait): Promise<InvocationResult>;
  /** Primes an idle sandbox with `code` in the background (never creates one). @returns true when one was primed. */
  prewarmApp(code: AppCode, limits: InvocationLimits): Promise<boolean>;
  /** Un-primes idle sandboxes primed with a version of app `appId` (its code or secrets changed). @returns how many. */
  evictApp(appId: string): number;
  /** Creates one sandbox ahead of the first invocation when none exists. */
  warmUp(): Promise<void>;
  /** Takes a sandbox the host began creating before the engine existed (see {@link EnginePool.adopt}). */
  adopt?(pending: Promise<Sandbox>): void;
  /** Frees every idle sandbox; a threaded engine also stops its threads (shutdown). */
  drain(): void;
}

/** A pool of sandboxes on the calling thread. `lease()` waits (FIFO) when all are busy. */
export class EnginePool implements SandboxEngine {
  private compiled: Promise<WebAssembly.Module> | undefined;
  private idle: { sb: Sandbox; since: number }[] = [];
  private live = 0;
  private waiters: { key: string | undefined; resolve: (s: Sandbox) => void; reject: (e: unknown) => void }[] = [];
  private sweepTimer: ReturnType<typeof setTimeout> | undefined;
  /** The {@link warmUp} in progress. */
  private warming: Promise<void> | undefined;
  /** Sandboxes created since start. */
  created = 0;

  /**
   * @param watch handed to every sandbox it creates (see `SandboxCreateOptions.watch`): a thread
   *   pool's watchdog reads it.
   */
  constructor(
    private readonly wasm: WasmSource,
    readonly limits: EngineLimits = DEFAULT_ENGINE_LIMITS,
    private readonly watch?: Float64Array,
  ) {}

  /** Sandboxes alive (busy and idle). */
  get size(): number {
    return this.live;
  }

  /** {@link SandboxEngine.run}: lease, invoke, release when the invocation's work is done. */
  async run(spec: InvocationSpec, wait?: EngineWait): Promise<InvocationResult> {
    const sb = await this.lease(spec.app.key, wait);
    let result: InvocationResult;
    try {
      result = await sb.invoke(spec);
    } catch (e) {
      this.release(sb);
      throw e;
    }
    const release = () => this.release(sb);
    result.done.then(release, release);
    return result;
  }

  /** {@link SandboxEngine.prewarmApp}. */
  prewarmApp(code: AppCode, limits: InvocationLimits): Promise<boolean> {
    return this.prewarm((sb) => sb.prime(code, limits));
  }

  /** {@link SandboxEngine.evictApp}. */
  evictApp(appId: string): number {
    return this.evict((key) => key.startsWith(appId + '@'));
  }

  /** Idle sandboxes. */
  get idleCount(): number {
    return this.idle.length;
  }

  /**
   * A free sandbox, preferably one primed with `appKey`; creates one when under `maxSandboxes`,
   * otherwise waits for a release.
   * @param wait how long to wait when every sandbox is busy (ms), and the error to reject with then.
   *   Without it the wait is unbounded. (A timer is armed only when the call has to wait.)
   * @throws `wait.error()` after `wait.ms`, or the WebAssembly instantiation error.
   */
  async lease(appKey?: string, wait?: { ms: number; error: () => Error }): Promise<Sandbox> {
    // a request during the warm-up takes the warm-up's sandbox rather than instantiating a second one
    if (this.warming && !this.idle.length) await this.warming.catch(() => {});
    let i = this.idle.findLastIndex((e) => e.sb.appKey === appKey);
    if (i < 0 && (this.live >= this.limits.maxSandboxes || this.idle.length > 0)) i = this.idle.length - 1;
    if (i >= 0) return this.idle.splice(i, 1)[0]!.sb;
    if (this.live < this.limits.maxSandboxes) {
      this.live++;
      try {
        return await this.create();
      } catch (e) {
        this.live--;
        throw e;
      }
    }
    return new Promise<Sandbox>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter = {
        key: appKey,
        resolve: (sb: Sandbox) => {
          clearTimeout(timer);
          resolve(sb);
        },
        reject: (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(waiter);
      if (wait) {
        timer = setTimeout(() => {
          const at = this.waiters.indexOf(waiter);
          if (at >= 0) this.waiters.splice(at, 1);
          reject(wait.error());
        }, wait.ms);
      }
    });
  }

  /** Returns a sandbox. Poisoned ones are dropped (their memory goes with them) and replaced for a waiter. */
  release(sb: Sandbox): void {
    if (sb.poisoned) {
      this.live--;
      const w = this.waiters.shift();
      if (w) {
        this.live++;
        this.create().then(w.resolve, (e) => {
          this.live--;
          w.reject(e);
        });
      }
      return;
    }
    const at = this.waiters.findIndex((w) => w.key === sb.appKey);
    const w = at >= 0 ? this.waiters.splice(at, 1)[0] : this.waiters.shift();
    if (w) return w.resolve(sb);
    this.idle.push({ sb, since: Date.now() });
    this.armSweep();
  }

  /** Frees every idle sandbox (tests, shutdown). */
  drain(): void {
    this.live -= this.idle.length;
    this.idle = [];
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /**
   * Un-primes idle sandboxes primed with a key for which `stale(key)` is true (after a deploy or a
   * secret change): they stay in the pool and prime again on their next use. Busy ones re-prime
   * when their key no longer matches.
   * @returns how many were un-primed.
   */
  evict(stale: (key: string) => boolean): number {
    let n = 0;
    for (const e of this.idle) {
      if (e.sb.appKey && stale(e.sb.appKey)) {
        e.sb.unprime();
        n++;
      }
    }
    return n;
  }

  /**
   * Primes an idle sandbox in the background (after a deploy, so the first request finds the new
   * version loaded). Prefers an un-primed sandbox, then the longest idle one. Never creates a sandbox:
   * with none idle it does nothing.
   * @param prime loads the app into the sandbox; its failure is left for the first request to report.
   * @returns true when a sandbox was primed.
   */
  async prewarm(prime: (sb: Sandbox) => Promise<void>): Promise<boolean> {
    if (!this.idle.length) return false;
    let i = this.idle.findIndex((e) => e.sb.appKey === undefined);
    if (i < 0) i = 0;
    const sb = this.idle.splice(i, 1)[0]!.sb;
    try {
      await prime(sb);
      return true;
    } catch {
      return false;
    } finally {
      this.release(sb);
    }
  }

  /**
   * Takes a sandbox the host began creating before the pool existed as the pool's warm-up sandbox
   * (the service worker overlaps instantiating QuickJS with reading the cartridge). Until it is ready,
   * a lease waits for it rather than instantiating a second one, and {@link warmUp} joins it. A
   * sandbox created with other sandbox limits than the pool's is dropped; a failed creation only
   * means the first lease creates one. Does nothing when the pool already has or makes a sandbox.
   * @param pending the sandbox being created (`Sandbox.create`).
   */
  adopt(pending: Promise<Sandbox>): void {
    if (this.warming || this.live > 0) return;
    this.live++;
    const limits = this.limits;
    this.warming = pending
      .then(
        (sb) => {
          if (sb.limits.memoryBytes !== limits.memoryBytes || sb.limits.heapBytes !== limits.heapBytes || sb.limits.stackBytes !== limits.stackBytes || sb.limits.responseBytes !== limits.responseBytes) {
            this.live--;
            return;
          }
          this.created++;
          this.release(sb);
        },
        () => {
          this.live--;
        },
      )
      .finally(() => {
        this.warming = undefined;
      });
  }

  /**
   * Creates one sandbox ahead of the first invocation when none exists (after the node starts), so
   * the first request pays only for loading its app, not for instantiating QuickJS.
   */
  async warmUp(): Promise<void> {
    if (this.warming) return this.warming;
    if (this.live > 0) return;
    this.warming = (async () => {
      this.live++;
      let sb: Sandbox;
      try {
        sb = await this.create();
      } catch (e) {
        this.live--;
        throw e;
      }
      this.release(sb);
    })();
    try {
      await this.warming;
    } finally {
      this.warming = undefined;
    }
  }

  private armSweep(): void {
    if (this.sweepTimer || this.idle.length <= this.limits.warm) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      const cutoff = Date.now() - this.limits.idleMs;
      while (this.idle.length > this.limits.warm && this.idle[0]!.since <= cutoff) {
        this.idle.shift();
        this.live--;
      }
      this.armSweep();
    }, this.limits.idleMs);
    (this.sweepTimer as { unref?: () => void }).unref?.();
  }

  private async create(): Promise<Sandbox> {
    this.compiled ??= this.wasm();
    // QuickJS's glue is loaded on the first invocation: a node that only serves files never pays for it.
    const { Sandbox } = await import('./sandbox.js');
    const sb = await Sandbox.create(await this.compiled, this.limits, { watch: this.watch });
    this.created++;
    return sb;
  }
}
