import { newQuickJSWASMModuleFromVariant, newVariant, type QuickJSContext, type QuickJSHandle, type QuickJSRuntime, type QuickJSSyncVariant, type QuickJSWASMModule } from 'quickjs-emscripten-core';
import releaseSyncImport from '@jitl/quickjs-wasmfile-release-sync';
import { FaztError, isFaztError, type FaztErrorCode } from '../errors.js';
import PRELUDE from './prelude.sandbox.js?raw';
import { DEFAULT_SANDBOX_LIMITS, type SandboxLimits } from './limits.js';
import { HOST_OPS, callOp, isHostOp, type HandledOpName, type HostOpTable, type OpCall } from './host-ops.js';

export { DEFAULT_SANDBOX_LIMITS, type SandboxLimits } from './limits.js';

/**
 * A QuickJS sandbox that starts every invocation from a memory snapshot.
 *
 * **Isolation.** Each sandbox is its own instance of the QuickJS WebAssembly module with its own
 * bounded `WebAssembly.Memory`: the memory cap that really holds (quickjs-emscripten's
 * `setMemoryLimit` alone lets big typed arrays and strings through, docs/architecture.md §8). After the prelude
 * (Fetch API classes, `fazt.*`) and again after the app's modules are evaluated, the sandbox copies
 * its linear memory aside; after every invocation — finished, failed, interrupted or out of memory —
 * it copies that snapshot back. Whatever app code changed (globals, module variables, prototypes,
 * caches) is gone byte for byte, so nothing survives from one invocation to the next and nothing
 * passes between apps, while a warm invocation costs one handler call plus a memcpy of the used heap
 * (~0.5 MiB) instead of re-parsing ~30 KB of prelude and the app's libraries (lodash alone ≈ 30 ms).
 *
 * **What a snapshot covers.** Emscripten lays the memory out as static data, the C stack, then the
 * heap growing from the `sbrk` break. The stack holds only dead frames between calls and is not
 * copied; static data (including the allocator's state) and the heap up to the break are. The
 * break's address is found once per process by watching which word moves when `malloc` grows the
 * heap. State outside linear memory — quickjs-emscripten's handle objects on the host side — is
 * created before the first snapshot and never changed afterwards: per-invocation handles are simply
 * dropped, never disposed, since the restore frees them.
 */

const releaseSync = ((releaseSyncImport as unknown as { default?: QuickJSSyncVariant }).default ?? releaseSyncImport) as unknown as QuickJSSyncVariant;

/** WebAssembly page size, bytes (WebAssembly core spec §2.5.10). */
const WASM_PAGE = 65536;

/** Per-invocation limits. */
export interface InvocationLimits {
  /** CPU time inside QuickJS, ms (interrupt handler). */
  cpuMs: number;
  /** Wall time from start to the handler's result, ms (host ops included). */
  wallMs: number;
}

/**
 * The host side of the bridge for one app version, already bound to it: its op table (see
 * `host-ops.ts`) and module loading. A handler throws FaztError for a failure the app should see (it
 * becomes an Error with `.code` in the sandbox).
 */
export interface AppBoundOps {
  /** The app's op handlers, built once per app version. */
  table: HostOpTable;
  /** Resolves and reads a module for `require(spec)` from module `from`. @throws FaztError */
  loadCommonJs(spec: string, from: string): { id: string; kind: 'cjs' | 'json'; source: string };
  /** ES module resolution for the engine's loader: `(base, spec) → id`. @throws FaztError */
  normalizeModule(base: string, spec: string): string;
  /** ES module source for an id returned by {@link normalizeModule}. @throws FaztError */
  loadModule(id: string): string;
}

/** The bridge of one invocation: the app's ops with this invocation's facts. */
export interface HostOps extends AppBoundOps {
  /** Handed to every op as its third argument. */
  call: OpCall;
  /** A line for the app's log (host failures, rejected `waitUntil` work). */
  log(level: 'warn' | 'error', message: string): void;
}

/** Prefix of a module name that could not be resolved; the rest is the reason. */
const UNRESOLVED = 'fazt:unresolved:';

/** ES module resolution alone. */
export type ModuleOps = Pick<HostOps, 'normalizeModule' | 'loadModule'>;

/** The app code a sandbox is primed with. */
export interface AppCode {
  /** Identity of this code and its configuration: a changed key re-primes the sandbox. */
  key: string;
  /** The entry module (`api/main.js`), relative to the app root. */
  entry: { path: string; source: string; isModule: boolean };
  /** Bridge for module loading and for host calls made by top-level code. */
  ops: HostOps;
}

/** One call into app code. */
export interface InvocationSpec {
  app: AppCode;
  /** Which export to call. */
  kind: 'fetch' | 'scheduled' | 'on';
  /** JSON argument: the request facts for `fetch` ({url, method, headers, hasBody}), the job or event otherwise. */
  arg: unknown;
  /** Facts for `fazt.app`, `fazt.user`, `fazt.env` and `ctx`. */
  meta: { app: { id: string; name: string; version: number }; user: unknown; env: Record<string, string>; requestId: string; basePath: string };
  limits: InvocationLimits;
  /** Bridge for this invocation (normally `app.ops`). */
  ops: HostOps;
  /** A number the host gives the invocation, shown to a watchdog (`SandboxCreateOptions.watch`). */
  tag?: number;
}

/** The handler's result. */
export interface InvocationResult {
  /** Response facts (`fetch` only): status, headers and where the body is. */
  response?: { status: number; statusText: string; headers: [string, string][]; blob?: string; echo?: boolean; net?: number; ai?: { id: string; format: 'text' | 'sse' } };
  /** Body bytes built in the sandbox. */
  body?: Uint8Array;
  /** Bodies of `fazt.net.fetch` responses, by index (for `response.net`). */
  netBodies: Uint8Array[];
  /** CPU time used inside QuickJS, ms. */
  cpuMs: number;
  /** Settles when `ctx.waitUntil` work has finished and the sandbox is free again. */
  done: Promise<void>;
}

/** Saved linear memory: static data below the stack, and the heap up to the break. */
interface Snapshot {
  low: Uint8Array;
  heapStart: number;
  heap: Uint8Array;
}

/** Memory layout facts, equal for every instance of the module (found once). */
interface Layout {
  /** Address of the `sbrk` break variable. */
  sbrkAddr: number;
  /** [start, end) of the C stack region, skipped by snapshots. */
  stackStart: number;
  stackEnd: number;
}
let layout: Layout | undefined;

const now = () => performance.now();

/** QuickJS's `JS_INTERRUPT_COUNTER_INIT`: polls between two calls of the interrupt handler. */
const POLL_COUNTER_INIT = 10_000;
/** How often the interrupt handler should run while guest code runs, ms (see `Sandbox.pace`). */
const PACE_MS = 2;
/**
 * Most polls between two calls of the interrupt handler. A call costs ~0.5 µs; at this pace a tight
 * loop asks every ~25 µs (measured: within the noise of 10,000), and a guest whose polls suddenly
 * become slow (caught stack overflows, ~1 ms each) is asked again after at most this many.
 */
const POLL_EVERY_MAX = 256;
/** Offset of `interrupt_counter` in QuickJS's `JSContext`; -1 when it could not be found; found once per process. */
let pollCounterOffset: number | undefined;

/**
 * Finds `JSContext.interrupt_counter`: QuickJS resets it to {@link POLL_COUNTER_INIT} right before it
 * calls the interrupt handler, so inside the handler it is the one word of the context struct that
 * holds exactly that value (checked: exactly one candidate, else -1 and the handler keeps QuickJS's
 * own pace).
 */
function findPollCounter(memory: WebAssembly.Memory, ctxPtr: number): number {
  const words = new Int32Array(memory.buffer, ctxPtr & ~3, 256);
  const hits: number[] = [];
  for (let i = 0; i < words.length; i++) if (words[i] === POLL_COUNTER_INIT) hits.push(i * 4);
  return hits.length === 1 ? hits[0]! : -1;
}

/** FNV-1a (32 bits) of a string's UTF-16 code units, as 8 hex digits: a cheap identity of the prelude's text. */
function fnv1aHex(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
let preludeHash: string | undefined;

/**
 * A sandbox's memory right after its prelude was evaluated: a new sandbox of the same QuickJS build,
 * prelude and limits can start from it instead of evaluating the prelude again (the largest part
 * of creating a sandbox, 15–30 ms; the service worker keeps one across restarts).
 *
 * Applying it is safe only when the new instance reached the same state as the one it was taken
 * from, up to the prelude: the host objects of quickjs-emscripten (runtime, context, the bridge's
 * functions) point into linear memory, and those pointers must be the same. Every instance makes
 * the same allocations in the same order before the prelude, so they are; {@link PreludeImage.check}
 * records them, and an image whose pointers do not match is not applied (the prelude runs instead).
 */
export interface PreludeImage {
  /** What the image is valid for: `<module key>/<prelude hash>/<memory,heap,stack limits>` (see {@link preludeImageKey}). */
  key: string;
  /** Pointers of the instance before its prelude: runtime, context, global object, bridge object and functions, heap break. */
  check: number[];
  /** Handles the prelude created: its function and the bridge it returned (pointers). */
  handles: number[];
  /** The memory layout the image was taken with. */
  layout: { sbrkAddr: number; stackStart: number; stackEnd: number };
  /** Bytes of linear memory when the image was taken. */
  byteLength: number;
  /** Static data below the C stack. */
  low: Uint8Array;
  /** Where {@link heap} starts (the end of the C stack). */
  heapStart: number;
  /** The heap up to the break. */
  heap: Uint8Array;
}

/**
 * The key a {@link PreludeImage} must carry to be applied to sandboxes of this QuickJS build and
 * these limits.
 * @param moduleKey identifies the QuickJS WebAssembly binary (the service worker uses its hashed build URL).
 */
export function preludeImageKey(moduleKey: string, limits: SandboxLimits): string {
  preludeHash ??= fnv1aHex(PRELUDE);
  return `${moduleKey}/${preludeHash}/${limits.memoryBytes},${limits.heapBytes},${limits.stackBytes}`;
}

/** Options of {@link Sandbox.create}. */
export interface SandboxCreateOptions {
  /** Start from this image instead of evaluating the prelude, when its key and pointers match. */
  image?: PreludeImage;
  /** The key of images this sandbox takes and accepts ({@link preludeImageKey}); without it, none. */
  imageKey?: string;
  /**
   * Where the sandbox tells a watchdog on another thread what it runs (a view of a
   * `SharedArrayBuffer`, ≥ 3 slots): `[0]` the time it entered QuickJS (`performance.timeOrigin +
   * performance.now()`, ms; 0 while outside), `[1]` the running invocation's CPU limit (ms), `[2]`
   * its tag ({@link InvocationSpec.tag}).
   */
  watch?: Float64Array;
}

/** Size of the allocation every instance makes (and frees) before its runtime: the break probe of {@link discoverLayout}. */
const PROBE_BYTES = 4 << 20;

/** Finds the break variable and the stack region on a fresh instance. */
function discoverLayout(memory: WebAssembly.Memory, malloc: (n: number) => number, free: (p: number) => void): Layout {
  const scan = 1 << 20;
  const before = new Uint32Array(memory.buffer.slice(0, scan));
  const grow = PROBE_BYTES;
  const p = malloc(grow);
  const after = new Uint32Array(memory.buffer, 0, scan / 4);
  const candidates: number[] = [];
  for (let i = 0; i < before.length; i++) {
    if (before[i]! > 0 && after[i]! - before[i]! >= grow && after[i]! <= memory.buffer.byteLength) candidates.push(i * 4);
  }
  free(p);
  if (candidates.length !== 1) throw new Error(`cannot locate the heap break (${candidates.length} candidates)`);
  const sbrkAddr = candidates[0]!;
  const heapBase = new Uint32Array(memory.buffer, sbrkAddr, 1)[0]!;
  // the C stack: the long run of never-touched pages just below the heap
  // whole 32-bit words: a page is 1,024 reads (the byte-wise scan cost ~10 ms of a cold start)
  const words = new Uint32Array(memory.buffer, 0, Math.floor(heapBase / 4));
  let end = heapBase - (heapBase % WASM_PAGE);
  // skip the stack's used top (non-zero) down to where it is untouched
  const zeroPage = (at: number) => {
    for (let i = at >> 2, stop = (at + 4096) >> 2; i < stop; i++) if (words[i]) return false;
    return true;
  };
  while (end > 4096 && !zeroPage(end - 4096)) end -= 4096;
  let start = end;
  while (start > 4096 && zeroPage(start - 4096)) start -= 4096;
  if (end - start < 1 << 20) {
    // no stack region found: snapshot everything below the heap
    return { sbrkAddr, stackStart: heapBase, stackEnd: heapBase };
  }
  return { sbrkAddr, stackStart: start, stackEnd: end };
}

/** The sandbox running QuickJS on this thread right now (one at a time per thread). */
let entered: Sandbox | undefined;

/**
 * Tells the sandbox running on this thread that it spent `ms` waiting for another thread inside a
 * synchronous host call (a sandbox thread waiting for the node's main thread, which was busy with
 * other work): that time is not the app's CPU time and does not count towards the watchdog's limit.
 */
export function hostWaited(ms: number): void {
  entered?.shiftEntry(ms);
}

/** Per-invocation state the long-lived host functions dispatch to. */
interface Invocation {
  gen: number;
  /** {@link InvocationSpec.tag} */
  tag: number;
  ops: HostOps;
  cpuMs: number;
  wallDeadline: number;
  pending: number;
  wake?: () => void;
  timers: Map<number, ReturnType<typeof setTimeout>>;
  netBodies: Uint8Array[];
}

/**
 * One sandbox: a QuickJS module instance with a runtime and context that live as long as it does,
 * restored to a snapshot after every invocation.
 */
export class Sandbox {
  /** Key of the app code it is primed with, if any. */
  appKey: string | undefined;
  /** Set when the sandbox must be discarded (memory grew past its initial size, or an internal error). */
  poisoned = false;
  /** Invocations served. */
  uses = 0;
  private base!: Snapshot;
  private appSnap: Snapshot | undefined;
  private ns: QuickJSHandle | undefined;
  private bridge!: QuickJSHandle;
  private current: Invocation | undefined;
  private gen = 0;
  private cpuUsed = 0;
  private enteredAt = 0;
  private depth = 0;
  private stop: 'cpu' | 'wall' | undefined;
  /** When the interrupt handler last ran (or QuickJS was entered), performance.now() ms. */
  private lastPoll = 0;
  /** The poll countdown the handler set last ({@link pace}). */
  private pollEvery = POLL_EVERY_MAX;
  private pollWords: Int32Array | undefined;
  /** Address of the QuickJS context (`JSContext *`) in linear memory. */
  private get ctxPointer(): number {
    return (this.ctx as unknown as { ctx: { value: number } }).ctx.value;
  }
  /** True when the sandbox started from a {@link PreludeImage} instead of evaluating the prelude. */
  fromImage = false;
  /** Pointers before the prelude and handles after it, kept to export a {@link PreludeImage}. */
  private imageFacts: { check: number[]; handles: number[] } | undefined;
  private imageKey: string | undefined;
  private watch: Float64Array | undefined;

  private constructor(
    private readonly module: QuickJSWASMModule,
    readonly memory: WebAssembly.Memory,
    private readonly rt: QuickJSRuntime,
    private readonly ctx: QuickJSContext,
    readonly limits: SandboxLimits,
  ) {}

  /**
   * Instantiates the module on a new bounded memory, evaluates the prelude and takes the base snapshot.
   * @param wasmModule the compiled QuickJS module (`@jitl/quickjs-wasmfile-release-sync`).
   * @throws the WebAssembly instantiation error, or Error when the prelude fails (a bug).
   */
  static async create(wasmModule: WebAssembly.Module, limits: SandboxLimits = DEFAULT_SANDBOX_LIMITS, options: SandboxCreateOptions = {}): Promise<Sandbox> {
    const initialPages = 256;
    const maximum = Math.max(initialPages, Math.floor(limits.memoryBytes / WASM_PAGE));
    const memory = new WebAssembly.Memory({ initial: initialPages, maximum });
    const module = await newQuickJSWASMModuleFromVariant(newVariant(releaseSync, { wasmModule, wasmMemory: memory }));
    const em = (module as unknown as { module: { _malloc(n: number): number; _free(p: number): void } }).module;
    const image = options.image && options.imageKey && options.image.key === options.imageKey ? options.image : undefined;
    // every instance makes the same allocations before its runtime (the probe included), so the
    // pointers of its host objects are the same in every instance: what makes an image applicable
    const layoutFromImage = !layout && !!image;
    if (layoutFromImage) layout = { ...image!.layout };
    if (layout) em._free(em._malloc(PROBE_BYTES));
    else layout = discoverLayout(memory, (n) => em._malloc(n), (p) => em._free(p));
    const rt = module.newRuntime();
    rt.setMaxStackSize(limits.stackBytes);
    rt.setMemoryLimit(limits.heapBytes);
    const ctx = rt.newContext();
    const sb = new Sandbox(module, memory, rt, ctx, limits);
    sb.imageKey = options.imageKey;
    sb.watch = options.watch;
    sb.install(image);
    sb.discoverPollCounter();
    if (layoutFromImage && !sb.fromImage) {
      // the image did not fit, so its layout is not trusted either: find it on a fresh instance
      layout = undefined;
      return Sandbox.create(wasmModule, limits, { imageKey: options.imageKey });
    }
    return sb;
  }

  /**
   * This sandbox's state right after its prelude, for {@link SandboxCreateOptions.image}; `undefined`
   * when it was created without an `imageKey`. The arrays are shared with the sandbox: copy them
   * before changing them.
   */
  preludeImage(): PreludeImage | undefined {
    if (!this.imageKey || !this.imageFacts) return undefined;
    return {
      key: this.imageKey,
      check: this.imageFacts.check,
      handles: this.imageFacts.handles,
      layout: { ...layout! },
      byteLength: this.memory.buffer.byteLength,
      low: this.base.low,
      heapStart: this.base.heapStart,
      heap: this.base.heap,
    };
  }

  /** Bytes a snapshot of the current state would copy (static data plus used heap). */
  get snapshotBytes(): number {
    return (this.appSnap ?? this.base).low.length + (this.appSnap ?? this.base).heap.length;
  }

  private take(): Snapshot {
    const L = layout!;
    const brk = new Uint32Array(this.memory.buffer, L.sbrkAddr, 1)[0]!;
    const buf = this.memory.buffer;
    return { low: new Uint8Array(buf.slice(0, L.stackStart)), heapStart: L.stackEnd, heap: new Uint8Array(buf.slice(L.stackEnd, brk)) };
  }

  private restore(s: Snapshot): void {
    const u8 = new Uint8Array(this.memory.buffer);
    u8.set(s.low, 0);
    u8.set(s.heap, s.heapStart);
    if (this.memory.buffer.byteLength > 256 * WASM_PAGE) this.poisoned = true;
  }

  /**
   * Sets how many interrupt polls QuickJS makes before it asks the interrupt handler again.
   *
   * QuickJS polls at every call and jump but asks the handler only every 10,000 polls
   * (`JS_INTERRUPT_COUNTER_INIT`), and a poll can be expensive: a caught stack overflow builds a
   * backtrace thousands of frames deep, so `try { f() } catch { f() }` ran 5–13 s between two
   * questions. The handler therefore writes the countdown (`JSContext.interrupt_counter`, found by
   * {@link findPollCounter}) itself: at most {@link POLL_EVERY_MAX}, scaled so the next question comes
   * about {@link PACE_MS} later at the pace the guest is polling now (down to 1 poll when polls are
   * slow), and 1 once the invocation is over
   * its limit, so every later poll, in any `catch`, `finally` or promise job, stops it again.
   */
  private pace(t: number): void {
    let next = 1;
    if (this.stop === undefined) {
      const gap = t - this.lastPoll;
      next = gap <= 0 ? POLL_EVERY_MAX : Math.max(1, Math.min(POLL_EVERY_MAX, Math.floor((this.pollEvery * PACE_MS) / gap)));
    }
    this.lastPoll = t;
    this.setPollCountdown(next);
  }

  /** Writes QuickJS's poll countdown (when its address is known). */
  private setPollCountdown(n: number): void {
    this.pollEvery = n;
    if (pollCounterOffset === undefined || pollCounterOffset < 0) return;
    if (this.pollWords?.buffer !== this.memory.buffer) this.pollWords = new Int32Array(this.memory.buffer);
    this.pollWords[(this.ctxPointer + pollCounterOffset) >> 2] = n;
  }

  /**
   * Finds the poll countdown once per process ({@link findPollCounter}): runs a loop long enough for
   * QuickJS to call the interrupt handler, then restores the base snapshot (so the sandbox's memory
   * is as if it never ran).
   */
  private discoverPollCounter(): void {
    if (pollCounterOffset !== undefined) return;
    const r = this.ctx.evalCode(`for (let i = 0; i < ${POLL_COUNTER_INIT * 2}; i++);`, 'fazt:probe', { type: 'global' });
    if (r.error) r.error.dispose();
    else r.value.dispose();
    this.restore(this.base);
    pollCounterOffset ??= -1;
  }

  /** See {@link hostWaited}. */
  shiftEntry(ms: number): void {
    if (this.depth === 0 || !(ms > 0)) return;
    this.enteredAt += ms;
    this.lastPoll += ms;
    if (this.watch) this.watch[0] = performance.timeOrigin + this.enteredAt;
  }

  /** Runs `fn` inside QuickJS, accounting CPU time (nested entries count once). */
  private enter<T>(fn: () => T): T {
    if (this.depth++ === 0) {
      entered = this;
      this.enteredAt = now();
      this.lastPoll = this.enteredAt;
      // a restored snapshot holds whatever countdown it was taken with
      this.setPollCountdown(this.stop === undefined ? this.pollEvery : 1);
      if (this.watch && this.current) {
        this.watch[1] = this.current.cpuMs;
        this.watch[2] = this.current.tag;
        this.watch[0] = performance.timeOrigin + this.enteredAt;
      }
    }
    try {
      return fn();
    } finally {
      if (--this.depth === 0) {
        entered = undefined;
        this.cpuUsed += now() - this.enteredAt;
        if (this.watch) this.watch[0] = 0;
      }
    }
  }

  /** Who resolves imports now: the running invocation's app. */
  private moduleOps(): ModuleOps {
    const m = this.current?.ops;
    if (!m) throw new Error('imports cannot be resolved outside an invocation');
    return m;
  }

  private install(image?: PreludeImage): void {
    const { ctx, rt } = this;
    rt.setInterruptHandler(() => {
      if (pollCounterOffset === undefined) pollCounterOffset = findPollCounter(this.memory, this.ctxPointer);
      const inv = this.current;
      if (!inv) return false;
      const t = now();
      if (this.stop === undefined) {
        if (this.cpuUsed + (t - this.enteredAt) > inv.cpuMs) this.stop = 'cpu';
        else if (t > inv.wallDeadline) this.stop = 'wall';
      }
      this.pace(t);
      return this.stop !== undefined;
    });
    rt.setModuleLoader(
      (id) => {
        try {
          if (id.startsWith(UNRESOLVED)) throw new Error(id.slice(UNRESOLVED.length));
          return this.moduleOps().loadModule(id);
        } catch (e) {
          return { error: new Error((e as Error).message) };
        }
      },
      (base, requested) => {
        try {
          return this.moduleOps().normalizeModule(base, requested);
        } catch (e) {
          // quickjs-emscripten drops a normalizer's error (the loader is then asked for ""), so the
          // reason travels to the loader in the module name, which fails with it
          return UNRESOLVED + (e as Error).message;
        }
      },
    );
    const toHandle = (value: unknown): QuickJSHandle => {
      if (value instanceof Uint8Array) {
        const copy = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength ? value : value.slice();
        return ctx.newArrayBuffer(copy.buffer as ArrayBuffer);
      }
      return ctx.newString(JSON.stringify({ ok: value === undefined ? null : value }));
    };
    const errEnvelope = (e: unknown): QuickJSHandle => {
      if (isFaztError(e)) return ctx.newString(JSON.stringify({ err: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } }));
      this.current?.ops.log('error', `host error: ${String((e as Error)?.stack ?? e)}`);
      return ctx.newString(JSON.stringify({ err: { code: 'INTERNAL', message: 'the node failed to carry out this call; the error was logged' } }));
    };
    const readArgs = (jsonH?: QuickJSHandle, bytesH?: QuickJSHandle): [unknown, Uint8Array | undefined] => {
      const text = jsonH ? ctx.getString(jsonH) : '';
      let bytes: Uint8Array | undefined;
      if (bytesH && ctx.typeof(bytesH) === 'object') {
        const lt = ctx.getArrayBuffer(bytesH);
        bytes = lt.value.slice();
        lt.dispose();
      }
      return [text ? JSON.parse(text) : undefined, bytes];
    };
    const host = ctx.newObject();
    const callFn = ctx.newFunction('call', (opH, jsonH, bytesH) => {
      const inv = this.current;
      const op = ctx.getString(opH);
      try {
        if (!inv) throw new FaztError('INVALID_ARGUMENT', 'no invocation is running');
        const [args, bytes] = readArgs(jsonH, bytesH);
        if (op === 'net.body') return toHandle(inv.netBodies[args as number] ?? new Uint8Array(0));
        if (op === 'timer.clear') {
          const id = (args as { id: number }).id;
          const t = inv.timers.get(id);
          if (t) {
            clearTimeout(t);
            inv.timers.delete(id);
            inv.pending--;
            inv.wake?.();
          }
          return toHandle(null);
        }
        if (!isHostOp(op) || HOST_OPS[op].kind !== 'sync' || HOST_OPS[op].place === 'sandbox') throw new FaztError('INVALID_ARGUMENT', `unknown host operation "${op}"`);
        return toHandle(callOp(inv.ops.table, op as HandledOpName, args, bytes, inv.ops.call));
      } catch (e) {
        return errEnvelope(e);
      }
    });
    const asyncFn = ctx.newFunction('async', (opH, jsonH, bytesH) => {
      const inv = this.current!;
      const op = ctx.getString(opH);
      const deferred = ctx.newPromise();
      let work: Promise<unknown>;
      try {
        const [args, bytes] = readArgs(jsonH, bytesH);
        if (op === 'timer') {
          const { id, ms } = args as { id: number; ms: number };
          work = new Promise((resolve) => {
            inv.timers.set(
              id,
              setTimeout(() => {
                inv.timers.delete(id);
                resolve(null);
              }, Math.min(ms, Math.max(0, inv.wallDeadline - now()) + 10)),
            );
          });
        } else {
          if (!isHostOp(op) || HOST_OPS[op].kind !== 'async' || HOST_OPS[op].place === 'sandbox') throw new FaztError('INVALID_ARGUMENT', `unknown host operation "${op}"`);
          work = callOp(inv.ops.table, op as HandledOpName, args, bytes, inv.ops.call) as Promise<unknown>;
          if (op === 'net.fetch') {
            work = work.then((r) => {
              const res = r as { body: Uint8Array };
              inv.netBodies.push(res.body);
              return { ...res, body: inv.netBodies.length - 1 };
            });
          }
        }
      } catch (e) {
        work = Promise.reject(e);
      }
      inv.pending++;
      const settleWith = (make: () => QuickJSHandle) => {
        // the invocation may be over (and the memory restored): then the handles are gone
        if (this.current !== inv || inv.gen !== this.gen) return;
        const h = make();
        this.enter(() => deferred.resolve(h));
      };
      work
        .then(
          (v) => settleWith(() => toHandle(v)),
          (e) => settleWith(() => errEnvelope(e)),
        )
        .finally(() => {
          if (this.current !== inv) return;
          inv.pending--;
          inv.wake?.();
        });
      return deferred.handle;
    });
    const loadFn = ctx.newFunction('load', (specH, fromH) => {
      try {
        const m = this.current!.ops.loadCommonJs(ctx.getString(specH), ctx.getString(fromH));
        const code = m.kind === 'json' ? `(${m.source}\n)` : `(function (module, exports, require, __filename, __dirname) {${m.source}\n})`;
        const r = ctx.evalCode(code, m.id, { type: 'global', strict: false });
        if (r.error) {
          const info = ctx.dump(r.error);
          throw new FaztError('INVALID_CODE', `${m.id}: ${info?.name ?? 'Error'}: ${info?.message ?? info}`);
        }
        const arr = ctx.newArray();
        ctx.setProp(arr, 0, ctx.newString(m.id));
        ctx.setProp(arr, 1, r.value);
        ctx.setProp(arr, 2, ctx.newString(m.kind));
        return arr;
      } catch (e) {
        return errEnvelope(e);
      }
    });
    ctx.setProp(host, 'call', callFn);
    ctx.setProp(host, 'async', asyncFn);
    ctx.setProp(host, 'load', loadFn);
    // touch lazily cached handles now, so none is created (and then lost to a restore) later
    void ctx.global;
    const check = [
      (rt as unknown as { rt: { value: number } }).rt.value,
      (ctx as unknown as { ctx: { value: number } }).ctx.value,
      ctx.global.value as unknown as number,
      host.value as unknown as number,
      callFn.value as unknown as number,
      asyncFn.value as unknown as number,
      loadFn.value as unknown as number,
      new Uint32Array(this.memory.buffer, layout!.sbrkAddr, 1)[0]!,
    ];
    const heapValueHandle = (ctx as unknown as { memory?: { heapValueHandle?: (ptr: number) => QuickJSHandle } }).memory?.heapValueHandle;
    if (
      image &&
      typeof heapValueHandle === 'function' &&
      image.byteLength === this.memory.buffer.byteLength &&
      image.heapStart === layout!.stackEnd &&
      image.low.length === layout!.stackStart &&
      image.check.length === check.length &&
      image.check.every((v, i) => v === check[i])
    ) {
      const u8 = new Uint8Array(this.memory.buffer);
      u8.set(image.low, 0);
      u8.set(image.heap, image.heapStart);
      this.bridge = heapValueHandle.call((ctx as unknown as { memory: object }).memory, image.handles[1]!);
      this.imageFacts = { check, handles: image.handles };
      this.fromImage = true;
      this.base = { low: image.low, heapStart: image.heapStart, heap: image.heap };
      return;
    }
    const r = ctx.evalCode(PRELUDE, 'fazt:prelude', { type: 'global', strict: true });
    if (r.error) throw new Error(`sandbox prelude failed: ${JSON.stringify(ctx.dump(r.error))}`);
    const b = ctx.callFunction(r.value, ctx.undefined, host);
    if (b.error) throw new Error(`sandbox prelude failed: ${JSON.stringify(ctx.dump(b.error))}`);
    this.bridge = b.value;
    this.imageFacts = { check, handles: [r.value.value as unknown as number, b.value.value as unknown as number] };
    this.base = this.take();
  }

  private begin(ops: HostOps, limits: InvocationLimits, tag = 0): Invocation {
    this.gen++;
    this.cpuUsed = 0;
    this.stop = undefined;
    this.pollEvery = POLL_EVERY_MAX;
    const inv: Invocation = { gen: this.gen, tag, ops, cpuMs: limits.cpuMs, wallDeadline: now() + limits.wallMs, pending: 0, timers: new Map(), netBodies: [] };
    this.current = inv;
    return inv;
  }

  private end(inv: Invocation, snap: Snapshot): void {
    for (const t of inv.timers.values()) clearTimeout(t);
    this.current = undefined;
    this.gen++;
    this.restore(snap);
  }

  /**
   * True when `errH` is the `null` QuickJS throws when it cannot even allocate its "out of memory"
   * error (a heap filled to the last bytes with small objects), told apart from an app's own
   * `throw null` by the memory having grown close to its cap in this invocation (a sandbox starts
   * every invocation at its initial size: grown ones are dropped).
   */
  private lostToOutOfMemory(errH: QuickJSHandle | undefined): boolean {
    if (!errH || this.ctx.typeof(errH) !== 'object' || this.ctx.dump(errH) !== null) return false;
    return this.memory.buffer.byteLength >= 0.75 * Math.min(this.limits.heapBytes, this.limits.memoryBytes);
  }

  /** Turns a sandbox exception into a FaztError. */
  private failure(errH: QuickJSHandle | undefined, where: string, inv: Invocation): FaztError {
    const { ctx } = this;
    if (this.stop) {
      return this.stop === 'cpu'
        ? new FaztError('APP_TIMEOUT', `${where} used more than ${Math.round(inv.cpuMs)} ms of CPU time and was stopped`)
        : new FaztError('APP_TIMEOUT', `${where} ran longer than its wall-time limit and was stopped`);
    }
    let info: { name?: string; message?: string; stack?: string; code?: string; details?: Record<string, unknown> } | undefined;
    try {
      const infoR = ctx.callFunction(ctx.getProp(this.bridge, 'errorInfo'), ctx.undefined, errH ?? ctx.undefined);
      info = infoR.error ? ctx.dump(infoR.error) : JSON.parse(ctx.getString(infoR.value));
    } catch {
      info = { name: 'Error', message: 'unreadable error' };
    }
    const message = String(info?.message ?? info);
    if ((info?.name === 'InternalError' && /out of memory/.test(message)) || this.lostToOutOfMemory(errH)) {
      return new FaztError('APP_OUT_OF_MEMORY', `${where} ran out of memory (limit ${Math.round(this.limits.memoryBytes / 1048576)} MiB) and was stopped`);
    }
    if ((info?.name === 'InternalError' || info?.name === 'RangeError') && /stack overflow|call stack/i.test(message)) {
      return new FaztError('APP_ERROR', `${where} overflowed the stack (recursion too deep)`);
    }
    if (info?.name === 'FaztError' && info.code === 'NO_HANDLER') return new FaztError('NO_HANDLER', message);
    // an AI failure the app did not catch keeps its code and status (429 with Retry-After, 503 …)
    if (info?.name === 'FaztError' && /^AI_[A-Z_]+$/.test(info.code ?? '')) return new FaztError(info.code as FaztErrorCode, message, info.details);
    // so does a safeguard's refusal (507 DISK_FULL, 429 EGRESS_QUOTA_EXCEEDED; docs/safeguards.md)
    if (info?.name === 'FaztError' && (info.code === 'DISK_FULL' || info.code === 'EGRESS_QUOTA_EXCEEDED')) return new FaztError(info.code, message, info.details);
    const stack = info?.stack ? `\n${String(info.stack).trimEnd()}` : '';
    return new FaztError('APP_ERROR', `${where} threw ${info?.name ?? 'Error'}: ${message}${stack}`);
  }

  /** Pumps jobs and host promises until the promise `h` settles. */
  private async settle(h: QuickJSHandle, where: string, inv: Invocation): Promise<QuickJSHandle> {
    const { ctx, rt } = this;
    for (;;) {
      const jobs = this.enter(() => rt.executePendingJobs());
      if (this.stop) throw this.failure(undefined, where, inv);
      if (jobs.error && (this.lostToOutOfMemory(jobs.error) || /out of memory/.test(String(ctx.dump(jobs.error)?.message)))) throw this.failure(jobs.error, where, inv);
      const state = ctx.getPromiseState(h);
      if (state.type === 'fulfilled') return state.value;
      if (state.type === 'rejected') throw this.failure(state.error, where, inv);
      if (inv.pending === 0 && !rt.hasPendingJob()) {
        throw new FaztError('APP_ERROR', `${where} returned a promise that never settles: nothing it waits for is still running`);
      }
      const left = inv.wallDeadline - now();
      if (left <= 0) {
        this.stop = 'wall';
        throw this.failure(undefined, where, inv);
      }
      await new Promise<void>((resolve) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        inv.wake = () => {
          inv.wake = undefined;
          if (timer) clearTimeout(timer);
          resolve();
        };
        if (rt.hasPendingJob()) queueMicrotask(() => inv.wake?.());
        else timer = setTimeout(() => inv.wake?.(), left + 1);
      });
    }
  }

  /**
   * Forgets the app it is primed with (that code changed): the next invocation primes again from the
   * base snapshot, so the sandbox is reused instead of being created anew.
   */
  unprime(): void {
    this.appKey = undefined;
    this.appSnap = undefined;
    this.ns = undefined;
  }

  /**
   * Evaluates the app's entry module from the base snapshot and snapshots the result.
   * @throws FaztError `INVALID_CODE`/`APP_ERROR` (the module failed to load), `APP_TIMEOUT`, `APP_OUT_OF_MEMORY`.
   */
  async prime(app: AppCode, limits: InvocationLimits, tag = 0): Promise<void> {
    const { ctx } = this;
    this.appKey = undefined;
    this.appSnap = undefined;
    this.ns = undefined;
    this.restore(this.base);
    // loading modules (zod alone ≈ 200 ms of QuickJS) gets its own, larger CPU budget, not the request's
    const inv = this.begin(app.ops, { cpuMs: Math.max(limits.cpuMs * 5, 5_000), wallMs: limits.wallMs }, tag);
    const where = app.entry.path;
    try {
      let ns: QuickJSHandle;
      if (app.entry.isModule) {
        const r = this.enter(() => ctx.evalCode(app.entry.source, app.entry.path, { type: 'module' }));
        if (r.error) throw this.failure(r.error, where, inv);
        ns = await this.settle(r.value, where, inv);
      } else {
        const req = ctx.callFunction(ctx.getProp(this.bridge, 'makeRequire'), ctx.undefined, ctx.newString(''));
        if (req.error) throw this.failure(req.error, where, inv);
        const r = this.enter(() => ctx.callFunction(req.value, ctx.undefined, ctx.newString('/' + app.entry.path)));
        if (r.error || this.stop) throw this.failure(r.error, where, inv);
        ns = r.value;
      }
      if (inv.pending > 0) throw new FaztError('INVALID_CODE', `${where} left work running after it loaded (a timer or a host call at top level); start such work inside a handler`);
      for (const t of inv.timers.values()) clearTimeout(t);
      this.current = undefined;
      this.gen++;
      this.ns = ns;
      this.appSnap = this.take();
      this.appKey = app.key;
    } catch (e) {
      this.end(inv, this.base);
      if (e instanceof FaztError) throw e.code === 'APP_ERROR' ? new FaztError('INVALID_CODE', e.message.replace(/^.*? threw /, `${where} failed to load: `)) : e;
      throw new FaztError('INVALID_CODE', `${where} failed to load: ${(e as Error).message}`);
    }
  }

  /**
   * Runs one invocation (priming first when the sandbox holds other code). The memory is restored
   * when the handler's result is out and its `ctx.waitUntil` work has finished.
   * @throws FaztError `APP_ERROR` (the handler threw; the message has the app's error and stack),
   *   `APP_TIMEOUT` (CPU or wall time), `APP_OUT_OF_MEMORY`, `NO_HANDLER`, `LIMIT_EXCEEDED`, `INVALID_CODE`.
   */
  async invoke(spec: InvocationSpec): Promise<InvocationResult> {
    if (this.appKey !== spec.app.key) await this.prime(spec.app, spec.limits, spec.tag);
    const { ctx } = this;
    const snap = this.appSnap!;
    const inv = this.begin(spec.ops, spec.limits, spec.tag);
    const where = spec.kind === 'fetch' ? 'the request handler' : spec.kind === 'scheduled' ? 'the scheduled handler' : 'the event handler';
    this.uses++;
    let finished = false;
    try {
      const metaJson = JSON.stringify({ ...spec.meta, seed: randomSeed() });
      const runR = this.enter(() =>
        ctx.callFunction(ctx.getProp(this.bridge, 'run'), ctx.undefined, this.ns!, ctx.newString(spec.kind), ctx.newString(JSON.stringify(spec.arg ?? null)), ctx.newString(metaJson)),
      );
      if (runR.error || this.stop) throw this.failure(runR.error, where, inv);
      const out = await this.settle(runR.value, where, inv);
      const result: InvocationResult = { cpuMs: 0, done: Promise.resolve(), netBodies: inv.netBodies };
      if (spec.kind === 'fetch') {
        result.response = JSON.parse(ctx.getString(ctx.getProp(out, 0)));
        const bodyH = ctx.getProp(out, 1);
        const bodyType = ctx.typeof(bodyH);
        if (bodyType === 'string') {
          result.body = new TextEncoder().encode(ctx.getString(bodyH));
          if (result.body.byteLength > this.limits.responseBytes) {
            throw new FaztError('LIMIT_EXCEEDED', `${where} built a response body over the ${Math.round(this.limits.responseBytes / 1048576)} MiB limit; stream large data with fazt.blobs instead`);
          }
        } else if (bodyType === 'object') {
          const lt = ctx.getArrayBuffer(bodyH);
          if (lt.value.byteLength > this.limits.responseBytes) {
            throw new FaztError('LIMIT_EXCEEDED', `${where} built a ${Math.round(lt.value.byteLength / 1048576)} MiB response body, over the ${Math.round(this.limits.responseBytes / 1048576)} MiB limit; stream large data with fazt.blobs instead`);
          }
          result.body = lt.value.slice();
        }
      }
      const background = ctx.getProp(out, 2);
      result.cpuMs = this.cpuUsed;
      if (ctx.getPromiseState(background).type === 'pending') {
        finished = true;
        result.done = this.settle(background, 'ctx.waitUntil work', inv)
          .then(() => undefined)
          .catch((e) => spec.ops.log('warn', `ctx.waitUntil work failed: ${(e as Error).message}`))
          .finally(() => this.end(inv, snap));
        return result;
      }
      return result;
    } finally {
      if (!finished) this.end(inv, snap);
    }
  }
}

/** CSPRNG output drawn in 4 KiB batches: one `getRandomValues` call per 512 invocations instead of one each. */
const seedPool = new Int32Array(1024);
let seedAt = seedPool.length;

/** Two fresh 32-bit words from the host's CSPRNG for the sandbox's `Math.random` (xorshift128+ state). */
function randomSeed(): [number, number] {
  if (seedAt >= seedPool.length) {
    crypto.getRandomValues(seedPool);
    seedAt = 0;
  }
  const out: [number, number] = [seedPool[seedAt]!, seedPool[seedAt + 1]!];
  seedAt += 2;
  return out;
}
