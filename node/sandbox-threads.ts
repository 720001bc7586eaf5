import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { FaztError, isFaztError, type FaztErrorCode } from '../shared/errors.js';
import { callOp, isHostOp, HOST_OPS, type AppCode, type EngineWait, type HandledOpName, type HostOps, type InvocationLimits, type InvocationResult, type InvocationSpec, type RuntimeLimits, type SandboxEngine, type WasmSource } from '../shared/runtime/index.js';
import { PACKAGE_ROOT } from './paths.js';

/**
 * The headless node's sandbox engine: QuickJS sandboxes run on a pool of `worker_threads`, so static
 * files, the admin API and other apps are served by the main thread while app code runs.
 *
 * - **Threads**: `threads` (default: the machine's cores), started when first needed; each runs an
 *   `EnginePool` of up to ⌈maxSandboxes / threads⌉ sandboxes (node/sandbox-worker.ts).
 * - **Host ops**: the kernel (cartridge, caches, event bus) stays on the main thread; a sandbox
 *   thread's `fazt.*` calls reach it as messages: synchronous ones block the calling thread in
 *   `Atomics.wait` until the answer is posted (docs/runtime.md, "Threads").
 * - **Placement**: a run goes to the thread with the fewest runs in flight; an app already running
 *   on `threads − 1` threads stays on those, so one app cannot occupy every thread.
 * - **Watchdog**: every sandbox publishes when it entered QuickJS and its CPU limit in shared
 *   memory; a thread that stays inside QuickJS longer than the limit plus {@link WATCHDOG_GRACE_MS}
 *   (the in-sandbox interrupt failed) is terminated (`worker.terminate()`) and replaced: its runaway
 *   answers `504 APP_TIMEOUT`, the other runs it held `503 APP_BUSY`.
 */

/** How far past its CPU limit a sandbox may stay inside QuickJS before its thread is terminated, ms (default of `RuntimeLimits.watchdogGraceMs`). */
export const WATCHDOG_GRACE_MS = 500;

/** An error as it crosses threads. */
export interface WireError {
  code: string;
  message: string;
  /** FaztError details (e.g. `retryAfterSeconds`). */
  details?: Record<string, unknown>;
}

/** Worker stats carried by its messages. */
interface Stats {
  size: number;
  idle: number;
  created: number;
}

/** Messages from a sandbox thread. */
export type ToMain =
  | { type: 'op'; inv: number; op: string; args: unknown; bytes?: Uint8Array; sync: boolean; seq?: number; noReply?: boolean }
  | { type: 'log'; inv: number; level: 'warn' | 'error'; message: string }
  | { type: 'result'; inv: number; result?: { response?: InvocationResult['response']; body?: Uint8Array; netBodies: Uint8Array[]; cpuMs: number }; error?: WireError; stats: Stats }
  | { type: 'done'; inv: number; stats: Stats }
  | { type: 'prewarmed'; inv: number; ok: boolean; stats: Stats }
  | { type: 'warm'; error?: WireError; stats: Stats };

/** Messages to a sandbox thread. */
export type ToWorker =
  | { type: 'opResult'; seq: number; ok?: unknown; err?: WireError }
  | { type: 'invoke'; inv: number; key: string; entry: AppCode['entry']; kind: InvocationSpec['kind']; arg: unknown; meta: InvocationSpec['meta']; limits: InvocationLimits; source: string }
  | { type: 'prewarm'; inv: number; key: string; entry: AppCode['entry']; limits: InvocationLimits }
  | { type: 'evict'; appId: string }
  | { type: 'warmUp' };

/** A run or prime registered with a thread: its ops answer the thread's calls. */
interface Registered {
  ops: HostOps;
  appId: string;
  cpuMs: number;
  resolve?: (r: InvocationResult) => void;
  reject?: (e: unknown) => void;
  done?: () => void;
  prewarmed?: (ok: boolean) => void;
}

interface Thread {
  worker: Worker;
  flag: Int32Array;
  watch: Float64Array;
  syncPort: MessagePort;
  runs: Map<number, Registered>;
  stats: Stats;
  warm?: { resolve: () => void; reject: (e: unknown) => void };
  dead: boolean;
  /** When it last had nothing to do (ms, `performance.now()`); `undefined` while busy. */
  idleSince?: number;
}

/** Default of `RuntimeLimits.threadIdleMs`: an idle thread is stopped after this long, ms. */
export const THREAD_IDLE_MS = 30_000;

let scriptPromise: Promise<string> | undefined;

/**
 * The sandbox thread's script: `dist/sandbox-worker.mjs` of the build (scripts/build.mjs); when the
 * node runs from its TypeScript sources (tests), it is bundled on first use into `dist/dev/`
 * (content-addressed, so processes never overwrite each other's file).
 */
function workerScript(): Promise<string> {
  scriptPromise ??= (async () => {
    const here = fileURLToPath(import.meta.url);
    if (!here.endsWith('.ts')) return join(PACKAGE_ROOT, 'dist', 'sandbox-worker.mjs');
    const { buildSandboxWorker } = (await import(pathToFileURL(join(PACKAGE_ROOT, 'scripts', 'sandbox-worker-build.mjs')).href)) as {
      buildSandboxWorker(o: { root: string; write: false }): Promise<string>;
    };
    const code = await buildSandboxWorker({ root: PACKAGE_ROOT, write: false });
    const dir = join(PACKAGE_ROOT, 'dist', 'dev');
    const file = join(dir, `sandbox-worker-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, code);
      renameSync(tmp, file);
    }
    return file;
  })();
  return scriptPromise;
}

const toError = (e: WireError, where: string): Error =>
  e.code === 'INTERNAL' && !/^[A-Z]/.test(e.message.slice(0, 1)) ? new Error(`${where}: ${e.message}`) : new FaztError(e.code as FaztErrorCode, e.message, e.details);

/** {@link SandboxEngine} on `worker_threads` (see the file comment). */
export class ThreadEngine implements SandboxEngine {
  private readonly threads: Thread[] = [];
  private readonly waiters: { spec: InvocationSpec; resolve: () => void; timer?: ReturnType<typeof setTimeout> }[] = [];
  private readonly perThread: number;
  private inv = 0;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  /** Threads terminated by the watchdog since start. */
  terminated = 0;

  constructor(
    private readonly wasm: WasmSource,
    private readonly limits: RuntimeLimits,
    readonly threadCount = Math.max(1, limits.threads ?? availableParallelism()),
  ) {
    this.perThread = Math.max(1, Math.ceil(limits.maxSandboxes / this.threadCount));
  }

  get size(): number {
    return this.threads.reduce((n, t) => n + t.stats.size, 0);
  }
  get idleCount(): number {
    return this.threads.reduce((n, t) => n + t.stats.idle, 0);
  }
  get created(): number {
    return this.threads.reduce((n, t) => n + t.stats.created, 0);
  }

  private async spawn(): Promise<Thread> {
    const [script, wasm] = await Promise.all([workerScript(), this.wasm()]);
    const { port1, port2 } = new MessageChannel();
    const flag = new SharedArrayBuffer(4);
    const watch = new SharedArrayBuffer(3 * 8);
    const per = { ...this.limits, maxSandboxes: this.perThread, warm: Math.max(1, Math.ceil(this.limits.warm / this.threadCount)) };
    const { net: _net, ...engineLimits } = per;
    const worker = new Worker(script, { workerData: { wasm, limits: engineLimits, flag, watch, syncPort: port2 }, transferList: [port2] });
    const t: Thread = { worker, flag: new Int32Array(flag), watch: new Float64Array(watch), syncPort: port1, runs: new Map(), stats: { size: 0, idle: 0, created: 0 }, dead: false };
    worker.on('message', (m: ToMain) => this.onMessage(t, m));
    worker.on('error', (e) => this.lose(t, new FaztError('INTERNAL', `a sandbox thread failed: ${e.message}`)));
    worker.on('exit', () => this.lose(t, new FaztError('APP_BUSY', 'The sandbox thread running this request stopped; try again.')));
    this.threads.push(t);
    this.hold(t);
    this.armWatchdog();
    return t;
  }

  private spawning: Promise<Thread> | undefined;

  /**
   * Keeps the process alive while a thread has work (a run, a prime, a warm-up), not when it is idle:
   * a node awaiting its warm-up sandbox before it listens must not exit (Node exits with code 13 on
   * an unsettled top-level await), and an idle thread must not keep a finished CLI command alive.
   */
  private hold(t: Thread): void {
    if (t.dead) return;
    if (t.runs.size > 0 || t.warm) {
      t.worker.ref();
      t.idleSince = undefined;
    } else {
      t.worker.unref();
      t.idleSince ??= performance.now();
      this.armReaper();
    }
  }

  private reaper: ReturnType<typeof setInterval> | undefined;

  /**
   * Stops threads idle for `threadIdleMs` (hibernation: an idle node holds no isolate and no QuickJS
   * instance). Checked every quarter of that time; the timer runs only while some thread is alive.
   */
  private armReaper(): void {
    const idleMs = this.limits.threadIdleMs ?? THREAD_IDLE_MS;
    if (this.reaper || idleMs <= 0 || this.closed) return;
    this.reaper = setInterval(() => {
      const now = performance.now();
      for (const t of [...this.threads]) {
        if (t.dead || t.runs.size > 0 || t.warm || t.idleSince === undefined || now - t.idleSince < idleMs) continue;
        this.lose(t, new FaztError('APP_BUSY', 'The sandbox thread was stopped while idle; try again.'));
        void t.worker.terminate();
        this.hibernated++;
      }
      if (!this.threads.some((t) => !t.dead)) {
        clearInterval(this.reaper);
        this.reaper = undefined;
      }
    }, Math.max(50, Math.floor(idleMs / 4)));
    this.reaper.unref();
  }

  /** Threads stopped because they were idle, since start. */
  hibernated = 0;

  /** A thread for a run of `appId`, or undefined when every allowed thread is full. */
  private async pick(appId: string): Promise<Thread | undefined> {
    const live = this.threads.filter((t) => !t.dead);
    const load = (t: Thread) => t.runs.size;
    const used = live.filter((t) => [...t.runs.values()].some((r) => r.appId === appId && r.resolve));
    const cap = Math.max(1, this.threadCount - 1);
    const candidates = used.length >= cap ? used : live;
    const free = candidates.filter((t) => load(t) < this.perThread).sort((a, b) => load(a) - load(b));
    // a new thread when every live one is busy and there is room for one
    if ((!free.length || load(free[0]!) > 0) && live.length < this.threadCount && !(used.length >= cap)) {
      this.spawning ??= this.spawn().finally(() => (this.spawning = undefined));
      return this.spawning;
    }
    return free[0];
  }

  /**
   * Starts the other threads (each with one sandbox) in the background once app code runs, so a
   * neighbour's first request does not wait for a thread to start while another app is busy.
   */
  private fillUp(): void {
    if (this.filling || this.closed) return;
    this.filling = true;
    void (async () => {
      while (!this.closed && this.threads.filter((t) => !t.dead).length < this.threadCount) {
        const t = await this.spawn().catch(() => undefined);
        if (!t) return;
        await new Promise<void>((resolve) => {
          t.warm = { resolve, reject: () => resolve() };
          this.hold(t);
          t.worker.postMessage({ type: 'warmUp' } satisfies ToWorker);
        });
      }
    })().finally(() => (this.filling = false));
  }
  private filling = false;

  async run(spec: InvocationSpec, wait?: EngineWait): Promise<InvocationResult> {
    if (this.closed) throw new FaztError('APP_BUSY', 'The node is stopping.');
    this.fillUp();
    const appId = spec.meta.app.id;
    let t = await this.pick(appId);
    const started = Date.now();
    while (!t) {
      await new Promise<void>((resolve, reject) => {
        const w: { spec: InvocationSpec; resolve: () => void; timer?: ReturnType<typeof setTimeout> } = { spec, resolve };
        if (wait) {
          w.timer = setTimeout(() => {
            const at = this.waiters.indexOf(w);
            if (at >= 0) this.waiters.splice(at, 1);
            reject(wait.error());
          }, Math.max(0, wait.ms - (Date.now() - started)));
        }
        this.waiters.push(w);
      });
      t = await this.pick(appId);
    }
    const inv = ++this.inv;
    const thread = t;
    return new Promise<InvocationResult>((resolve, reject) => {
      let done!: () => void;
      const donePromise = new Promise<void>((r) => (done = r));
      thread.runs.set(inv, {
        ops: spec.ops,
        appId,
        cpuMs: spec.limits.cpuMs,
        resolve: (r) => resolve({ ...r, done: donePromise }),
        reject,
        done,
      });
      const m: ToWorker = { type: 'invoke', inv, key: spec.app.key, entry: spec.app.entry, kind: spec.kind, arg: spec.arg, meta: spec.meta, limits: spec.limits, source: spec.ops.call.source };
      this.hold(thread);
      thread.worker.postMessage(m);
    });
  }

  private finish(t: Thread, inv: number): void {
    t.runs.delete(inv);
    this.hold(t);
    const w = this.waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  private onMessage(t: Thread, m: ToMain): void {
    if ('stats' in m) t.stats = m.stats;
    switch (m.type) {
      case 'op':
        return this.answer(t, m);
      case 'log':
        return t.runs.get(m.inv)?.ops.log(m.level, m.message);
      case 'result': {
        const r = t.runs.get(m.inv);
        if (!r) return;
        if (m.error) {
          this.finish(t, m.inv);
          r.reject?.(toError(m.error, 'sandbox thread'));
        } else r.resolve?.({ ...m.result!, done: Promise.resolve() });
        return;
      }
      case 'done': {
        const r = t.runs.get(m.inv);
        this.finish(t, m.inv);
        r?.done?.();
        return;
      }
      case 'prewarmed': {
        const r = t.runs.get(m.inv);
        this.finish(t, m.inv);
        r?.prewarmed?.(m.ok);
        return;
      }
      case 'warm':
        if (m.error) t.warm?.reject(toError(m.error, 'sandbox warm-up'));
        else t.warm?.resolve();
        t.warm = undefined;
        this.hold(t);
        return;
    }
  }

  /** Carries out a thread's host call with the ops of the run it belongs to. */
  private answer(t: Thread, m: Extract<ToMain, { type: 'op' }>): void {
    const r = t.runs.get(m.inv);
    const t0 = performance.now();
    const send = (ok: unknown, err?: WireError) => {
      if (m.sync) {
        // ms: the main thread's own time on the call (the thread counts it as the app's CPU time)
        t.syncPort.postMessage(err ? { err, ms: performance.now() - t0 } : { ok, ms: performance.now() - t0 });
        Atomics.store(t.flag, 0, 1);
        Atomics.notify(t.flag, 0);
      } else if (!t.dead && !m.noReply) t.worker.postMessage({ type: 'opResult', seq: m.seq!, ok, err } satisfies ToWorker);
    };
    const reply = (ok: unknown, err?: WireError) => {
      try {
        send(ok, err);
      } catch (e) {
        // a value that cannot cross threads (structured clone): the call fails, the thread goes on
        r?.ops.log('error', `host error: ${String((e as Error)?.stack ?? e)}`);
        send(undefined, { code: 'INTERNAL', message: 'the node failed to carry out this call; the error was logged' });
      }
    };
    const wire = (e: unknown): WireError => {
      if (isFaztError(e)) return { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) };
      r?.ops.log('error', `host error: ${String((e as Error)?.stack ?? e)}`);
      return { code: 'INTERNAL', message: 'the node failed to carry out this call; the error was logged' };
    };
    try {
      if (!r) throw new FaztError('INVALID_ARGUMENT', 'no invocation is running');
      const a = m.args as string[];
      let v: unknown;
      if (m.op === '$loadCommonJs') v = r.ops.loadCommonJs(a[0]!, a[1]!);
      else if (m.op === '$normalizeModule') v = r.ops.normalizeModule(a[0]!, a[1]!);
      else if (m.op === '$loadModule') v = r.ops.loadModule(a[0]!);
      else {
        if (!isHostOp(m.op) || HOST_OPS[m.op].place === 'sandbox' || ((HOST_OPS[m.op].kind === 'sync') !== m.sync && !(m.noReply && m.op === 'log'))) throw new FaztError('INVALID_ARGUMENT', `unknown host operation "${m.op}"`);
        v = callOp(r.ops.table, m.op as HandledOpName, m.args, m.bytes, r.ops.call);
      }
      if (v instanceof Promise) v.then((x) => reply(x), (e) => reply(undefined, wire(e)));
      else reply(v);
    } catch (e) {
      reply(undefined, wire(e));
    }
  }

  /** A thread is gone (terminated or crashed): fail its runs, replace it on the next pick. */
  private lose(t: Thread, error: Error, culprit?: number): void {
    if (t.dead) return;
    t.dead = true;
    const at = this.threads.indexOf(t);
    if (at >= 0) this.threads.splice(at, 1);
    for (const [inv, r] of t.runs) {
      const e =
        inv === culprit
          ? new FaztError('APP_TIMEOUT', `the request handler used more than ${Math.round(r.cpuMs)} ms of CPU time and was stopped`)
          : error;
      r.reject?.(e);
      r.done?.();
      r.prewarmed?.(false);
    }
    t.runs.clear();
    t.warm?.reject(error);
    // runs waiting for a slot may now get a new thread
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  private armWatchdog(): void {
    if (this.watchdog) return;
    this.watchdog = setInterval(() => {
      const now = performance.timeOrigin + performance.now();
      for (const t of [...this.threads]) {
        const entered = t.watch[0]!;
        if (!entered || t.dead) continue;
        if (now - entered > t.watch[1]! + (this.limits.watchdogGraceMs ?? WATCHDOG_GRACE_MS)) {
          const culprit = t.watch[2]!;
          this.terminated++;
          this.lose(t, new FaztError('APP_BUSY', 'The sandbox thread running this request was stopped because another request on it ran away; try again.'), culprit);
          void t.worker.terminate();
        }
      }
    }, 100);
    this.watchdog.unref();
  }

  async prewarmApp(code: AppCode, limits: InvocationLimits): Promise<boolean> {
    const appId = code.key.slice(0, code.key.indexOf('@'));
    const t = this.threads.find((x) => !x.dead && x.stats.idle > 0);
    if (!t) return false;
    const inv = ++this.inv;
    return new Promise<boolean>((resolve) => {
      t.runs.set(inv, { ops: code.ops, appId, cpuMs: limits.cpuMs * 5, prewarmed: resolve });
      this.hold(t);
      t.worker.postMessage({ type: 'prewarm', inv, key: code.key, entry: code.entry, limits } satisfies ToWorker);
    });
  }

  evictApp(appId: string): number {
    let n = 0;
    for (const t of this.threads) {
      if (t.dead) continue;
      t.worker.postMessage({ type: 'evict', appId } satisfies ToWorker);
      n += t.stats.idle;
    }
    return n;
  }

  async warmUp(): Promise<void> {
    if (this.threads.length) return;
    this.spawning ??= this.spawn().finally(() => (this.spawning = undefined));
    const t = await this.spawning;
    await new Promise<void>((resolve, reject) => {
      t.warm = { resolve, reject };
      this.hold(t);
      t.worker.postMessage({ type: 'warmUp' } satisfies ToWorker);
    });
  }

  drain(): void {
    this.closed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.reaper) clearInterval(this.reaper);
    for (const t of [...this.threads]) {
      this.lose(t, new FaztError('APP_BUSY', 'The node is stopping; try again when it is back.'));
      void t.worker.terminate();
    }
  }
}
