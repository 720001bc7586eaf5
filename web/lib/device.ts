/**
 * The page's handle on this device's node (the kernel in the service worker) for what HTTP cannot
 * carry: the cartridge file, its backups, live logs, the guided-mode lock. Loaded on first use; the
 * link itself (comlink, timeouts, reconnects) is `device-link.ts`.
 */
import type { DeviceLogEntry, DeviceNodeApi } from '../../sw/device-api.js';
import type { FollowState, LogFollower } from './api.js';
import type { AppInfo } from './api-types.js';

export type { DeviceNodeApi, DeviceStatus, DeviceBackup } from '../../sw/device-api.js';

let link: Promise<DeviceNodeApi> | undefined;

/**
 * The device node's API (one shared link per page).
 * @throws Error when the link module cannot load.
 */
export function deviceNode(): Promise<DeviceNodeApi> {
  link ??= import('./device-link.js').then((m) => new m.DeviceLink() as DeviceNodeApi);
  link.catch(() => (link = undefined));
  return link;
}

/**
 * Live logs of this device's node for {@link FaztApi.followLogs}: the backlog over HTTP
 * (`/~device/api/apps/:app/logs`), then new entries over the device link, resumed after the last
 * id seen when the link reconnects.
 */
export const deviceLogs: LogFollower = (app: AppInfo, onEntry: (e: DeviceLogEntry) => void, onState: (s: FollowState) => void) => {
  let stopped = false;
  let unsubscribe: (() => void) | undefined;
  let last = 0;
  const deliver = (e: DeviceLogEntry) => {
    if (e.id <= last) return;
    last = e.id;
    onEntry(e);
  };
  const start = async (first: boolean) => {
    onState(first ? 'connecting' : 'reconnecting');
    try {
      if (first) {
        const res = await fetch(`/~device/api/apps/${encodeURIComponent(app.name)}/logs?limit=200`);
        if (res.ok) ((await res.json()) as { logs: DeviceLogEntry[] }).logs.forEach(deliver);
      }
      const node = await deviceNode();
      const un = await node.followLogs(app.id, deliver, { after: last });
      if (stopped) {
        un();
        return;
      }
      unsubscribe = un;
      onState('live');
    } catch {
      if (stopped) return;
      onState('reconnecting');
      setTimeout(() => !stopped && start(false), 3000);
    }
  };
  start(true);
  return () => {
    stopped = true;
    try {
      unsubscribe?.();
    } catch {
      // the worker may be gone already
    }
    onState('ended');
  };
};
