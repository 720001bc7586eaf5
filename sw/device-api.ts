/**
 * The comlink interface between the dashboard page and the device node (the kernel running in this
 * origin's service worker). Types only: `web/` imports them; `sw/device-endpoint.ts` implements them.
 *
 * How a page connects: it creates a `MessageChannel`, posts `{ type: 'fazt:connect', port }` (port
 * transferred) to the active service worker, and wraps the other port with `Comlink.wrap<DeviceNodeApi>`.
 * `web/lib/device-link.ts` does this with timeouts and reconnects (a comlink proxy to a stopped worker
 * never answers, docs/architecture.md §8).
 *
 * What goes over HTTP instead: everything the kernel's admin API already offers, under
 * `/~device/api/...` (the service worker strips `/~device` and hands the rest to its kernel, with the
 * owner's principal for the dashboard's own window). comlink carries only what fetch cannot: the
 * cartridge file itself, its backups, live logs, and the guided-mode lock.
 */
import type { FaztErrorCode } from '../shared/errors.js';
import type { LogEntry } from '../shared/storage/index.js';

/** Message a page posts to the service worker to open a comlink channel. */
export interface DeviceConnectMessage {
  type: 'fazt:connect';
  /** The service worker's end of a `MessageChannel` (transferred). */
  port: MessagePort;
}

/** Message a page posts to keep the service worker alive while it streams (e.g. live logs). */
export interface DeviceKeepAliveMessage {
  type: 'fazt:keepalive';
}

/**
 * Where the device node is:
 * - `starting`: loading sql.js, reading the cartridge from OPFS;
 * - `ready`: serving;
 * - `corrupt`: the cartridge in OPFS is damaged or not a cartridge; it is left untouched
 *   (offer {@link DeviceNodeApi.restoreBackup}, {@link DeviceNodeApi.exportCartridge} of the damaged
 *   file, or {@link DeviceNodeApi.startFresh}, which keeps the damaged file as a backup);
 * - `too-new`: the cartridge was written by a newer Fazt (upgrade; the file is left untouched);
 * - `error`: anything else (no OPFS, the wasm failed to load …), see `message`.
 */
export type DeviceState = 'starting' | 'ready' | 'corrupt' | 'too-new' | 'error';

/** A copy of a cartridge kept in OPFS beside the live one. */
export interface DeviceBackup {
  /**
   * Its name, to pass to {@link DeviceNodeApi.restoreBackup} / {@link DeviceNodeApi.deleteBackup}:
   * `cartridge.prev.db` (the image before the last write), `before-import-<time>.db`,
   * `before-restore-<time>.db`, `set-aside-<time>.db` (a cartridge {@link DeviceNodeApi.startFresh}
   * put aside).
   */
  name: string;
  /** Size, bytes. */
  bytes: number;
  /** When it was written, ms since the epoch (the file's `lastModified`). */
  savedAt: number;
}

/** The device node's state, for the dashboard. */
export interface DeviceStatus {
  state: DeviceState;
  /** A sentence a person can act on, for every state but `ready`. */
  message?: string;
  /** Stable error code for `corrupt`/`too-new`/`error` (`CARTRIDGE_CORRUPT`, `NOT_A_CARTRIDGE`, `CARTRIDGE_TOO_NEW`, `START_FAILED`, …; shared/errors.ts). */
  code?: FaztErrorCode;
  /** Size of the live cartridge file in OPFS, bytes (0 before the first write). */
  cartridgeBytes: number;
  /** Schema version of the open cartridge (`ready` only). */
  schemaVersion?: number;
  /** The node id of the open cartridge (`ready` only). */
  nodeId?: string;
  /** Fazt version of the service worker build. */
  version: string;
  /** True while guided mode is locked (admin writes need the owner PIN). */
  locked: boolean;
  /** Copies kept beside the live cartridge, newest first. */
  backups: DeviceBackup[];
}

/** A log entry of an app: the kernel's `LogEntry`, as `GET /api/apps/:app/logs` returns it. */
export type DeviceLogEntry = LogEntry;

/** Options of {@link DeviceNodeApi.followLogs}. */
export interface FollowLogsOptions {
  /** Send the backlog after this log id first (to resume without gaps after a reconnect). */
  after?: number;
}

/**
 * What the device node offers over comlink. Every method may reject with an `Error` whose message a
 * person can act on (comlink re-creates thrown errors on the page side: `name` and `message` survive;
 * a `FaztError`'s `code` is put first in the message as `CODE: …`).
 */
export interface DeviceNodeApi {
  /** The node's state (never throws). */
  status(): Promise<DeviceStatus>;
  /**
   * A whole, consistent SQLite file of the live cartridge (the bytes to download as `fazt-<time>.db`;
   * `npm start -- --db that.db` opens it). In state `corrupt`, the damaged file's bytes as they are.
   * @throws when locked (`LOCKED`), or when there is no cartridge file.
   */
  exportCartridge(): Promise<Uint8Array>;
  /**
   * Replaces the live cartridge with `bytes` (e.g. a headless node's `fazt backup`). The bytes are
   * checked first (SQLite header, Fazt application id, not truncated, `PRAGMA quick_check`, schema not
   * newer than this build); on any problem nothing changes and the call throws. The replaced
   * cartridge is kept as `before-import-<time>.db`.
   * @returns the new status (`ready`).
   */
  importCartridge(bytes: Uint8Array): Promise<DeviceStatus>;
  /**
   * Makes a kept copy the live cartridge (checked like an import). The live file, damaged or not, is
   * kept as `before-restore-<time>.db`.
   */
  restoreBackup(name: string): Promise<DeviceStatus>;
  /** Deletes a kept copy for good (the dashboard asks the person first). */
  deleteBackup(name: string): Promise<DeviceStatus>;
  /**
   * Starts over with a new, empty cartridge. The current file (damaged or not) is moved aside as
   * `set-aside-<time>.db`, never deleted.
   */
  startFresh(): Promise<DeviceStatus>;
  /**
   * Streams an app's log entries to `onEntry` (a `Comlink.proxy`) as they are written.
   * @returns a function that stops following (call it; it is a comlink proxy too).
   * @throws `APP_NOT_FOUND` for an unknown app, `NOT_READY` while the node is not `ready`.
   */
  followLogs(appId: string, onEntry: (entry: DeviceLogEntry) => void, options?: FollowLogsOptions): Promise<() => void>;
  /**
   * Locks guided mode with a PIN (4–64 characters): from now on writes to `/~device/api/` answer
   * 423 `LOCKED`, and import/restore/start-fresh/export refuse, until {@link unlock}.
   * @throws when already locked, or for a PIN that is too short.
   */
  lock(pin: string): Promise<void>;
  /**
   * Unlocks with the PIN.
   * @throws `FORBIDDEN` for a wrong PIN; `RATE_LIMITED` after 5 wrong PINs in a row (wait 30 s).
   */
  unlock(pin: string): Promise<void>;
  /** True while locked. */
  isLocked(): Promise<boolean>;
}
