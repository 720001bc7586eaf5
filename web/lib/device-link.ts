/**
 * The page side of the device node's comlink channel (`sw/device-api.ts`): registers the service
 * worker, connects to it over a `MessageChannel`, and makes every call safe against a stopped worker.
 *
 * A comlink proxy to a service worker that was stopped (idle, updated, killed) never answers
 * (docs/architecture.md §8). So every call has a timeout (default 10 s); on a timeout, or when the page's controller
 * changes (`controllerchange`: a new worker version took over), the link drops the old channel,
 * connects on a fresh `MessageChannel` (posting to the active worker starts it again) and retries the
 * call once. Live log followers are re-subscribed after every reconnect, resuming after the last entry
 * they received, and while any follower is active the link pings the worker every 20 s (which keeps
 * it alive and notices when it died).
 *
 *   import { DeviceLink, registerDeviceWorker } from './device-link.js';
 *   await registerDeviceWorker();
 *   const device = new DeviceLink();
 *   const status = await device.status();
 */
import * as Comlink from 'comlink';
import type { DeviceLogEntry, DeviceNodeApi, DeviceStatus, FollowLogsOptions } from '../../sw/device-api.js';

export type { DeviceLogEntry, DeviceNodeApi, DeviceStatus, FollowLogsOptions } from '../../sw/device-api.js';

/** URL of the built service worker (vite-plugin-pwa writes it to the build root). */
export const DEVICE_WORKER_URL = '/sw.js';

/**
 * Registers the device node's service worker (a classic script, scope `/`). Call once at start; the browser
 * skips the work when the same script is registered already.
 * @returns the registration, or `undefined` when the browser has no service workers (e.g. plain http on a LAN address).
 * @throws the registration error (script failed to load or evaluate).
 */
export async function registerDeviceWorker(url = DEVICE_WORKER_URL): Promise<ServiceWorkerRegistration | undefined> {
  if (!('serviceWorker' in navigator)) return undefined;
  const reg = await navigator.serviceWorker.register(url, { scope: '/' });
  nudgeWaitingWorkers(reg);
  return reg;
}

/** How long a new worker version may wait before the page asks it again to take over, ms. */
const NUDGE_AFTER_MS = 2_000;

/**
 * Asks a new worker version that stays waiting to take over again (`fazt:skip-waiting`, every
 * {@link NUDGE_AFTER_MS}). The worker calls `skipWaiting()` at install; Chromium then stops the old
 * version and activates the new one, but a fetch arriving in between starts the old version again,
 * and the new one then waited until the old one went idle, which a dashboard that keeps fetching
 * never does (the "new service worker version" e2e test, about 1 run in 10).
 */
function nudgeWaitingWorkers(reg: ServiceWorkerRegistration): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = () => {
    clearTimeout(timer);
    timer = undefined;
    const w = reg.waiting;
    if (!w) return;
    timer = setTimeout(() => {
      if (reg.waiting === w && w.state === 'installed') w.postMessage({ type: 'fazt:skip-waiting' });
      check();
    }, NUDGE_AFTER_MS);
  };
  const watch = (w: ServiceWorker | null) => w?.addEventListener('statechange', check);
  watch(reg.installing);
  reg.addEventListener('updatefound', () => watch(reg.installing));
  check();
}

/** A call to the device node that got no answer in time. */
export class DeviceTimeoutError extends Error {
  constructor(readonly method: string, readonly timeoutMs: number) {
    super(`The device node did not answer in ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)} s` : `${timeoutMs} ms`} (${method}).`);
    this.name = 'DeviceTimeoutError';
  }
}

/** Options of {@link DeviceLink}. */
export interface DeviceLinkOptions {
  /** Timeout of one call, ms (default 10,000). Calls that move a whole cartridge get 6× as long. */
  timeoutMs?: number;
  /** The service worker container (default `navigator.serviceWorker`). */
  container?: ServiceWorkerContainer;
  /** Ping interval while log followers are active, ms (default 20,000). */
  pingMs?: number;
}

/** One live log subscription, re-made after reconnects. */
interface Follower {
  appId: string;
  deliver: (e: DeviceLogEntry) => void;
  last: number | undefined;
  off: Comlink.Remote<() => void> | undefined;
  stopped: boolean;
}

/** Subscribes a follower on a channel; the node returns its unsubscribe function as a comlink proxy. */
async function remoteFollow(r: Comlink.Remote<DeviceNodeApi>, f: Follower): Promise<Comlink.Remote<() => void>> {
  return (await r.followLogs(f.appId, Comlink.proxy(f.deliver), { after: f.last })) as unknown as Comlink.Remote<() => void>;
}

/** Rejects after `ms` with a {@link DeviceTimeoutError}. */
function withTimeout<T>(p: Promise<T>, ms: number, method: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeviceTimeoutError(method, ms)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The device node's API for the page: {@link DeviceNodeApi} with timeouts, reconnects and one retry.
 * Errors of the node itself (e.g. `LOCKED: …`) pass through unchanged; only a missing answer is retried.
 */
export class DeviceLink implements DeviceNodeApi {
  private readonly timeoutMs: number;
  private readonly container: ServiceWorkerContainer | undefined;
  private readonly pingMs: number;
  private remote: Promise<Comlink.Remote<DeviceNodeApi>> | undefined;
  private port: MessagePort | undefined;
  private readonly followers = new Set<Follower>();
  private pinger: ReturnType<typeof setInterval> | undefined;
  private pinging = false;
  private resubscribing: Promise<void> | undefined;
  private resubscribeAgain = false;
  /** Connections made so far (1 after the first connect). */
  connections = 0;

  constructor(options: DeviceLinkOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.pingMs = options.pingMs ?? 20_000;
    this.container = options.container ?? (typeof navigator !== 'undefined' && 'serviceWorker' in navigator ? navigator.serviceWorker : undefined);
    this.container?.addEventListener('controllerchange', () => {
      if (!this.remote) return;
      this.drop();
      void this.resubscribe();
    });
  }

  /** The active worker to talk to. @throws Error when there is none. */
  private async worker(): Promise<ServiceWorker> {
    const c = this.container;
    if (!c) throw new Error('This browser has no service workers, so there is no device node here (they need https or localhost).');
    const reg = await c.getRegistration('/');
    if (!reg) throw new Error('The device node is not installed in this browser yet (no service worker registered).');
    const ready = await c.ready;
    const w = ready.active ?? reg.active;
    if (!w) throw new Error('The device node is still installing; try again in a moment.');
    return w;
  }

  /** A connected proxy (connects when needed). */
  private connect(): Promise<Comlink.Remote<DeviceNodeApi>> {
    this.remote ??= (async () => {
      const w = await this.worker();
      const channel = new MessageChannel();
      w.postMessage({ type: 'fazt:connect', port: channel.port2 }, [channel.port2]);
      this.port = channel.port1;
      this.connections++;
      return Comlink.wrap<DeviceNodeApi>(channel.port1);
    })();
    this.remote.catch(() => (this.remote = undefined));
    return this.remote;
  }

  /** Forgets the current channel (a stopped worker never answers on it again). */
  private drop(): void {
    this.remote = undefined;
    try {
      this.port?.close();
    } catch {
      // closed already
    }
    this.port = undefined;
  }

  /**
   * Calls the node with a timeout; on a timeout, reconnects on a fresh channel and tries once more.
   * @throws DeviceTimeoutError when the second try gets no answer either; the node's own error otherwise.
   */
  private async call<T>(method: string, fn: (r: Comlink.Remote<DeviceNodeApi>) => Promise<T>, timeoutMs = this.timeoutMs): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await withTimeout(this.connect(), timeoutMs, method);
        return await withTimeout(fn(r), timeoutMs, method);
      } catch (e) {
        if (!(e instanceof DeviceTimeoutError) || attempt > 0) throw e;
        this.drop();
        void this.resubscribe();
      }
    }
  }

  /**
   * Re-subscribes live log followers on the current channel (one run at a time; a request during a run
   * makes one more run afterwards).
   */
  private resubscribe(): Promise<void> {
    if (this.resubscribing) {
      this.resubscribeAgain = true;
      return this.resubscribing;
    }
    this.resubscribing = (async () => {
      do {
        this.resubscribeAgain = false;
        for (const f of this.followers) {
          try {
            const previous = f.off;
            f.off = undefined;
            void previous?.().catch(() => {});
            const r = await withTimeout(this.connect(), this.timeoutMs, 'followLogs');
            const off = await withTimeout(remoteFollow(r, f), this.timeoutMs, 'followLogs');
            if (f.stopped) void off().catch(() => {});
            else f.off = off;
          } catch {
            // the next ping retries
          }
        }
      } while (this.resubscribeAgain);
    })().finally(() => (this.resubscribing = undefined));
    return this.resubscribing;
  }

  private updatePinger(): void {
    if (this.followers.size && this.pinger === undefined) {
      this.pinger = setInterval(() => {
        if (this.pinging) return;
        this.pinging = true;
        void this.call('status', (r) => r.status(), Math.min(this.timeoutMs, 5_000))
          .catch(() => {})
          .finally(() => (this.pinging = false));
      }, this.pingMs);
    } else if (!this.followers.size && this.pinger !== undefined) {
      clearInterval(this.pinger);
      this.pinger = undefined;
    }
  }

  /** The device node's state. See {@link DeviceNodeApi.status}. */
  status(): Promise<DeviceStatus> {
    return this.call('status', (r) => r.status());
  }

  /** The live cartridge as one SQLite file (60 s timeout). See {@link DeviceNodeApi.exportCartridge}. */
  exportCartridge(): Promise<Uint8Array> {
    return this.call('exportCartridge', (r) => r.exportCartridge(), this.timeoutMs * 6);
  }

  /** Replaces the live cartridge after checking `bytes` (60 s timeout). See {@link DeviceNodeApi.importCartridge}. */
  importCartridge(bytes: Uint8Array): Promise<DeviceStatus> {
    return this.call('importCartridge', (r) => r.importCartridge(bytes), this.timeoutMs * 6);
  }

  /** Makes a kept copy live (60 s timeout). See {@link DeviceNodeApi.restoreBackup}. */
  restoreBackup(name: string): Promise<DeviceStatus> {
    return this.call('restoreBackup', (r) => r.restoreBackup(name), this.timeoutMs * 6);
  }

  /** Deletes a kept copy. See {@link DeviceNodeApi.deleteBackup}. */
  deleteBackup(name: string): Promise<DeviceStatus> {
    return this.call('deleteBackup', (r) => r.deleteBackup(name));
  }

  /** A new empty cartridge; the old one is kept aside (30 s timeout). See {@link DeviceNodeApi.startFresh}. */
  startFresh(): Promise<DeviceStatus> {
    return this.call('startFresh', (r) => r.startFresh(), this.timeoutMs * 3);
  }

  /**
   * Follows an app's log. `onEntry` is called once per entry, in id order, also across reconnects
   * (resumed after the last id delivered).
   * @returns a function that stops following.
   */
  async followLogs(appId: string, onEntry: (entry: DeviceLogEntry) => void, options: FollowLogsOptions = {}): Promise<() => void> {
    const f: Follower = {
      appId,
      last: options.after,
      off: undefined,
      stopped: false,
      deliver: (e) => {
        if (f.stopped || (f.last !== undefined && e.id <= f.last)) return;
        f.last = e.id;
        onEntry(e);
      },
    };
    f.off = await this.call('followLogs', (r) => remoteFollow(r, f));
    this.followers.add(f);
    this.updatePinger();
    return () => {
      f.stopped = true;
      this.followers.delete(f);
      this.updatePinger();
      void f.off?.().catch(() => {});
    };
  }

  /** Locks guided mode with a PIN. See {@link DeviceNodeApi.lock}. */
  lock(pin: string): Promise<void> {
    return this.call('lock', (r) => r.lock(pin));
  }

  /** Unlocks guided mode. See {@link DeviceNodeApi.unlock}. */
  unlock(pin: string): Promise<void> {
    return this.call('unlock', (r) => r.unlock(pin));
  }

  /** True while guided mode is locked. */
  isLocked(): Promise<boolean> {
    return this.call('isLocked', (r) => r.isLocked());
  }
}
