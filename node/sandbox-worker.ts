/**
 * A sandbox thread of the headless node (started by node/sandbox-threads.ts): runs an
 * {@link EnginePool} of QuickJS sandboxes off the node's main thread.
 *
 * Host ops: `pure` ones (text, URL, hashes) run here; the others need the kernel and its cartridge,
 * which live on the main thread. A synchronous op (`fazt.kv.get` …, module loading) posts its call
 * and blocks this thread in `Atomics.wait` until the main thread has posted the answer on a second
 * port and raised the flag; the answer is then taken with `receiveMessageOnPort`. An asynchronous op
 * (`net.fetch`, `blobs.put` …) posts its call and settles a promise when the answer arrives.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { FaztError, type FaztErrorCode } from '../shared/errors.js';
import { EnginePool, HOST_OPS, PURE_OPS, hostWaited, type AppCode, type EngineLimits, type HandledOpName, type HostOpTable, type HostOps, type InvocationLimits, type InvocationSpec, type OpCall } from '../shared/runtime/index.js';
import type { ToMain, ToWorker, WireError } from './sandbox-threads.js';

interface Init {
  wasm: WebAssembly.Module;
  limits: EngineLimits;
  /** [0]: 1 when the main thread's answer to a synchronous call is ready. */
  flag: SharedArrayBuffer;
  watch: SharedArrayBuffer;
  syncPort: MessagePort;
}

const init = workerData as Init;
const port = parentPort!;
const flag = new Int32Array(init.flag);
const watch = new Float64Array(init.watch);
const pool = new EnginePool(() => Promise.resolve(init.wasm), init.limits, watch);
const post = (m: ToMain, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer ?? []);

/** An op's call on this thread carries the invocation it belongs to. */
interface ThreadCall extends OpCall {
  inv: number;
}

const fail = (e: WireError): never => {
  throw new FaztError(e.code as FaztErrorCode, e.message, e.details);
};

/** Longest wait for the main thread's answer to a synchronous call, ms. */
const SYNC_CALL_TIMEOUT_MS = 60_000;

/** A synchronous call to the main thread (see the file comment). */
function callMain(inv: number, op: string, args: unknown, bytes?: Uint8Array): unknown {
  Atomics.store(flag, 0, 0);
  const t0 = performance.now();
  // not inside QuickJS while waiting: the watchdog must not stop this thread for the main thread's delay
  const enteredAt = watch[0]!;
  watch[0] = 0;
  post({ type: 'op', inv, op, args, bytes, sync: true });
  // the main thread answers at once unless it is itself busy; a stopped node never answers.
  // A wake-up is not an answer: the notify of an earlier call can arrive late (the main thread was
  // paused between its store and its notify, and this thread had found the flag set without
  // sleeping), so wait again until the flag says this call's answer was posted (esbuild issue #590).
  const deadline = t0 + SYNC_CALL_TIMEOUT_MS;
  while (Atomics.load(flag, 0) === 0) {
    const left = deadline - performance.now();
    if (left <= 0 || Atomics.wait(flag, 0, 0, left) === 'timed-out') {
      watch[0] = enteredAt;
      throw new FaztError('APP_TIMEOUT', `the node did not answer ${op} within ${SYNC_CALL_TIMEOUT_MS / 1000} s`);
    }
  }
  watch[0] = enteredAt;
  const m = receiveMessageOnPort(init.syncPort);
  if (!m) throw new FaztError('INTERNAL', `no answer to ${op}`);
  const r = m.message as { ok?: unknown; err?: WireError; ms: number };
  // the time the main thread spent on this call is the app's; the time its answer waited for other work is not
  hostWaited(performance.now() - t0 - r.ms);
  return r.err ? fail(r.err) : r.ok;
}

let seq = 0;
const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();

/** An asynchronous call to the main thread. */
function callMainAsync(inv: number, op: string, args: unknown, bytes?: Uint8Array): Promise<unknown> {
  const id = ++seq;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    post({ type: 'op', inv, op, args, bytes, sync: false, seq: id });
  });
}

/** The op table of this thread: built once; `pure` ops run here, the others on the main thread. */
const table = Object.fromEntries(
  (Object.keys(HOST_OPS) as (keyof typeof HOST_OPS)[])
    .filter((op) => HOST_OPS[op].place !== 'sandbox')
    .map((op) => {
      const spec = HOST_OPS[op];
      if (spec.place === 'pure') return [op, PURE_OPS[op as keyof typeof PURE_OPS]];
      // a log line needs no answer: posted without waiting (messages keep their order, so it is
      // written before any later call of the invocation is carried out)
      if (op === 'log') return [op, (a: unknown, _b: Uint8Array | undefined, c: OpCall) => (post({ type: 'op', inv: (c as ThreadCall).inv, op, args: a, sync: false, noReply: true }), null)];
      return [op, spec.kind === 'sync' ? (a: unknown, b: Uint8Array | undefined, c: OpCall) => callMain((c as ThreadCall).inv, op, a, b) : (a: unknown, b: Uint8Array | undefined, c: OpCall) => callMainAsync((c as ThreadCall).inv, op, a, b)];
    }),
) as unknown as HostOpTable;

/** The bridge of invocation `inv` (its ops are answered by the main thread's registration of `inv`). */
function opsFor(inv: number, source: string): HostOps {
  return {
    table,
    call: { source, inv } as ThreadCall,
    loadCommonJs: (spec, from) => callMain(inv, '$loadCommonJs', [spec, from]) as ReturnType<HostOps['loadCommonJs']>,
    normalizeModule: (base, spec) => callMain(inv, '$normalizeModule', [base, spec]) as string,
    loadModule: (id) => callMain(inv, '$loadModule', [id]) as string,
    log: (level, message) => post({ type: 'log', inv, level, message }),
  };
}

const wire = (e: unknown): WireError =>
  e instanceof FaztError ? { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } : { code: 'INTERNAL', message: String((e as Error)?.stack ?? e) };

const stats = () => ({ size: pool.size, idle: pool.idleCount, created: pool.created });

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'opResult': {
      const w = waiting.get(m.seq);
      waiting.delete(m.seq);
      if (m.err) w?.reject(new FaztError(m.err.code as FaztErrorCode, m.err.message, m.err.details));
      else w?.resolve(m.ok);
      return;
    }
    case 'invoke': {
      const ops = opsFor(m.inv, m.source);
      const code: AppCode = { key: m.key, entry: m.entry, ops };
      const spec: InvocationSpec = { app: code, kind: m.kind, arg: m.arg, meta: m.meta, limits: m.limits, ops, tag: m.inv };
      pool.run(spec).then(
        (r) => {
          const transfer: ArrayBuffer[] = [];
          if (r.body) transfer.push(r.body.buffer as ArrayBuffer);
          post({ type: 'result', inv: m.inv, result: { response: r.response, body: r.body, netBodies: r.netBodies, cpuMs: r.cpuMs }, stats: stats() }, transfer.filter((b, i) => transfer.indexOf(b) === i));
          r.done.then(
            () => post({ type: 'done', inv: m.inv, stats: stats() }),
            () => post({ type: 'done', inv: m.inv, stats: stats() }),
          );
        },
        (e) => post({ type: 'result', inv: m.inv, error: wire(e), stats: stats() }),
      );
      return;
    }
    case 'prewarm': {
      const code: AppCode = { key: m.key, entry: m.entry, ops: opsFor(m.inv, 'prime') };
      pool.prewarmApp(code, m.limits as InvocationLimits).then((ok) => post({ type: 'prewarmed', inv: m.inv, ok, stats: stats() }));
      return;
    }
    case 'evict':
      pool.evictApp(m.appId);
      return;
    case 'warmUp':
      pool.warmUp().then(
        () => post({ type: 'warm', stats: stats() }),
        (e) => post({ type: 'warm', error: wire(e), stats: stats() }),
      );
      return;
  }
});

export type { HandledOpName };
