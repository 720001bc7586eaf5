/**
 * The comlink face of the device node: one {@link DeviceNodeApi} exposed on every `MessagePort` a page
 * sends with `{ type: 'fazt:connect', port }` (see `device-api.ts`).
 */
import * as Comlink from 'comlink';
import type { DeviceLogEntry, DeviceNodeApi, FollowLogsOptions } from './device-api.js';
import { DeviceError, type DeviceNode } from './device-node.js';
import { isFaztError } from '../shared/index.js';

/**
 * comlink clones thrown errors as `{ name, message }`: a kernel `FaztError` becomes a
 * {@link DeviceError}, whose message starts with the stable code (`CARTRIDGE_TOO_NEW: …`).
 */
function coded<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (e) {
      throw isFaztError(e) ? new DeviceError(e.code, e.message, e.status) : e;
    }
  };
}

/** Builds the API object over a device node. Byte results are transferred, not copied. */
export function deviceApi(node: DeviceNode): DeviceNodeApi {
  const api: DeviceNodeApi = {
    status: () => node.status(),
    exportCartridge: async () => {
      const bytes = await node.exportCartridge();
      return Comlink.transfer(bytes, [bytes.buffer]);
    },
    importCartridge: (bytes: Uint8Array) => node.importCartridge(bytes),
    restoreBackup: (name: string) => node.restoreBackup(name),
    deleteBackup: (name: string) => node.deleteBackup(name),
    startFresh: () => node.startFresh(),
    followLogs: async (appId: string, onEntry: (entry: DeviceLogEntry) => void, options?: FollowLogsOptions) => {
      const off = await node.followLogs(appId, onEntry, options);
      return Comlink.proxy(off);
    },
    lock: (pin: string) => node.lock(pin),
    unlock: (pin: string) => node.unlock(pin),
    isLocked: () => node.isLocked(),
  };
  for (const k of Object.keys(api) as (keyof DeviceNodeApi)[]) (api as unknown as Record<string, unknown>)[k] = coded(api[k] as (...a: unknown[]) => Promise<unknown>);
  return api;
}

/** Exposes `api` on a page's port. */
export function exposeOn(port: MessagePort, api: DeviceNodeApi): void {
  Comlink.expose(api, port);
}
