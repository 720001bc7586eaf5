/**
 * The device node's cartridge files in the origin private file system (OPFS), in the folder `fazt/`:
 *
 * | file | what |
 * |---|---|
 * | `cartridge.db` | the base: a whole SQLite file image |
 * | `cartridge.log` | pages changed since the base was written (see `page-log.ts`); base + log = the live cartridge |
 * | `cartridge.prev.db` | the base before the last whole-image write (compaction, import, restore) |
 * | `cartridge.next.db` | a whole-image write in progress (exists only while one runs, or after a worker died in one) |
 * | `owner` | the id of the worker instance that opened the cartridge last: only it may write |
 * | `backups/*.db` | copies kept by import, restore and start-fresh; never deleted without being asked |
 *
 * No file is changed in place. A small write appends the changed pages to `cartridge.log`, rewritten
 * whole through `createWritable()` (which writes a swap file and replaces the target atomically on
 * `close()`, File System spec §"FileSystemWritableFileStream"). A whole-image write (when the log
 * has grown past an eighth of the cartridge, or 1 MiB) goes to `cartridge.next.db`, then the base is
 * renamed to `cartridge.prev.db`, the new one to `cartridge.db` (`FileSystemHandle.move()`, OPFS), and
 * the log is removed; a log left behind no longer matches the new base and is ignored. A worker
 * stopped at any point leaves the old or the new state whole; {@link CartridgeStore.read} completes an
 * interrupted swap. Callers serialize operations with the Web Lock {@link CARTRIDGE_LOCK}.
 *
 * Service workers have OPFS `getDirectory()` and `createWritable()` but no `createSyncAccessHandle`
 * (docs/architecture.md §8).
 */
import { FaztError } from '../shared/index.js';
import type { DeviceBackup } from './device-api.js';
import { applyLog, changedPages, encodeHeader, encodeRecord, identityOf, LOG_HEADER_BYTES, pageSizeOf, recordBytes } from './page-log.js';

/** Web Lock name that serializes opening, writing and replacing the cartridge across worker versions and tabs. */
export const CARTRIDGE_LOCK = 'fazt-cartridge';

/** Name of the live cartridge file. */
export const LIVE = 'cartridge.db';
/** Name of the image before the last write. */
export const PREVIOUS = 'cartridge.prev.db';
const NEXT = 'cartridge.next.db';
/** Name of the page log of the base. */
export const LOG = 'cartridge.log';
const OWNER = 'owner';
const BACKUPS = 'backups';

/** OPFS `FileSystemHandle.move()` (Chromium ≥ 110 for OPFS files; not yet in TypeScript's DOM lib). */
interface MovableHandle extends FileSystemFileHandle {
  move(newName: string): Promise<void>;
  move(dir: FileSystemDirectoryHandle, newName?: string): Promise<void>;
}

/** True for a DOMException of that name. */
export function isDomError(e: unknown, name: string): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === name;
}

/**
 * The error a failed OPFS write should surface. Chromium reports an exhausted quota in two ways,
 * depending on which side of the write's mojo data pipe notices first: a `QuotaExceededError`, or an
 * `AbortError` "Failed to write data to data pipe" when the file backend refused the write (its quota
 * check failed) and closed the pipe while the page was still filling it. The backend of an OPFS file
 * refuses a write only for want of space (quota or disk), so that `AbortError` — which we never cause,
 * as nothing else aborts the writable — is reported as a `QuotaExceededError`, as is any failure
 * while `navigator.storage.estimate()` says `bytes` no longer fit. Anything else is returned as is.
 * Seen in Chromium 14x under `Storage.overrideQuotaForOrigin`, where `estimate()` in the worker
 * keeps reporting the unrestricted quota, so the message is the only signal there.
 * @param e the error the write threw.
 * @param bytes how many bytes the write needed.
 */
export async function classifyWriteError(e: unknown, bytes: number): Promise<unknown> {
  if (isDomError(e, 'QuotaExceededError')) return e;
  const plain = String((e as Error)?.message ?? e);
  if (isDomError(e, 'AbortError') && /data pipe/i.test(plain)) return new DOMException(`Not enough storage space (${plain}).`, 'QuotaExceededError');
  try {
    const { usage = 0, quota = Infinity } = await navigator.storage.estimate();
    if (quota - usage < bytes) return new DOMException(`Not enough storage space (${plain}).`, 'QuotaExceededError');
  } catch {
    /* no estimate: keep the original error */
  }
  return e;
}

/** A file's bytes: `Blob.bytes()` where the browser has it (Chromium ≥ 132; ~25% faster than `arrayBuffer()` for a 10 MB file, no extra copy), else `arrayBuffer()`. */
async function fileBytes(file: Blob): Promise<Uint8Array> {
  const withBytes = file as Blob & { bytes?: () => Promise<Uint8Array> };
  return withBytes.bytes ? withBytes.bytes() : new Uint8Array(await file.arrayBuffer());
}

/** A live cartridge image read from OPFS. */
export interface StoredImage {
  bytes: Uint8Array;
  /** `File.lastModified`, ms since the epoch. */
  lastModified: number;
}

/** A timestamp for backup names: `2026-01-31T12-00-00-000Z`. */
export function stamp(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/[:.]/g, '-');
}

/** Backup names are plain file names ending in `.db` (no path separators). @throws Error otherwise. */
function checkBackupName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.db$/.test(name)) throw new Error(`"${name}" is not the name of a kept copy.`);
}

/** The cartridge files of the device node. All methods assume the caller holds {@link CARTRIDGE_LOCK}. */
export class CartridgeStore {
  private dirHandle: Promise<FileSystemDirectoryHandle> | undefined;

  /** @param folder the OPFS folder (default `fazt`). */
  constructor(private readonly folder = 'fazt') {}

  /** The folder handle (created on first use). @throws DOMException when OPFS is unavailable. */
  dir(): Promise<FileSystemDirectoryHandle> {
    this.dirHandle ??= navigator.storage.getDirectory().then((root) => root.getDirectoryHandle(this.folder, { create: true }));
    this.dirHandle.catch(() => (this.dirHandle = undefined));
    return this.dirHandle;
  }

  private async backupsDir(): Promise<FileSystemDirectoryHandle> {
    return (await this.dir()).getDirectoryHandle(BACKUPS, { create: true });
  }

  private static async handle(dir: FileSystemDirectoryHandle, name: string): Promise<FileSystemFileHandle | undefined> {
    try {
      return await dir.getFileHandle(name);
    } catch (e) {
      if (isDomError(e, 'NotFoundError') || isDomError(e, 'TypeMismatchError')) return undefined;
      throw e;
    }
  }

  private static async remove(dir: FileSystemDirectoryHandle, name: string): Promise<void> {
    try {
      await dir.removeEntry(name);
    } catch (e) {
      if (!isDomError(e, 'NotFoundError')) throw e;
    }
  }

  /** Writes `bytes` as file `name` of `dir` (atomically: `createWritable` commits on close). Aborts on failure. */
  private static async writeFile(dir: FileSystemDirectoryHandle, name: string, bytes: Uint8Array): Promise<FileSystemFileHandle> {
    const h = await dir.getFileHandle(name, { create: true });
    const w = await h.createWritable({ keepExistingData: false });
    try {
      await w.write(bytes as Uint8Array<ArrayBuffer>);
      await w.close();
    } catch (e) {
      await w.abort().catch(() => {});
      throw await classifyWriteError(e, bytes.length);
    }
    return h;
  }

  /**
   * The live image (base + page log), or `undefined` when there is none yet (a new device). Completes a
   * swap a stopped worker left half done (`cartridge.db` missing, `cartridge.next.db` whole), removes a
   * stale `cartridge.next.db` when the base exists (that write never finished, so it was never
   * acknowledged), and moves a log that belongs to another base to `backups/stale-<time>.log`.
   * @param onIssued called once the file reads are under way (or when there is nothing to read): the
   *   caller holds back CPU-heavy work until then, so the reads' lookups are not queued behind it.
   * @throws FaztError `CARTRIDGE_CORRUPT` when the log is damaged (nothing is changed on disk).
   */
  async read(onIssued?: () => void): Promise<StoredImage | undefined> {
    this.current = undefined;
    const dir = await this.dir();
    const [found, next, logHandle] = await Promise.all([CartridgeStore.handle(dir, LIVE), CartridgeStore.handle(dir, NEXT), CartridgeStore.handle(dir, LOG)]);
    let live = found;
    if (!live && next) {
      await (next as MovableHandle).move(LIVE);
      live = next;
    } else if (next) await CartridgeStore.remove(dir, NEXT);
    if (!live) {
      onIssued?.();
      if (logHandle) await (logHandle as MovableHandle).move(await this.backupsDir(), `stale-${stamp()}.log`);
      return undefined;
    }
    const file = await live.getFile();
    const reading = Promise.all([fileBytes(file), logHandle ? logHandle.getFile().then(fileBytes) : undefined]);
    onIssued?.();
    const [base, log] = await reading;
    let image: Uint8Array = base;
    let logSize = 0;
    let identity: Awaited<ReturnType<typeof identityOf>> | undefined;
    // An empty log holds nothing: `getFileHandle(LOG, { create: true })` makes the file at once, and a
    // first append that then failed (quota) or whose worker was stopped before `close()` leaves it
    // empty. Its first record never committed (a log's header is written with its first record), so
    // it is read as no log; the next append rewrites it from the start.
    if (log && log.length > 0) {
      // in place: `base` is this read's own buffer (the pages land in it; its identity is taken first)
      const r = await applyLog(base, log, { inPlace: true });
      identity = r.base;
      if (r.verdict === 'damaged') {
        throw new FaztError('CARTRIDGE_CORRUPT', `The change log of the cartridge in this browser (${LOG}) is damaged: ${r.reason}. It was left untouched; restore a kept copy or start fresh.`);
      }
      if (r.verdict === 'stale') await (logHandle as MovableHandle).move(await this.backupsDir(), `stale-${stamp()}.log`);
      else {
        image = r.image;
        logSize = log.length;
      }
    }
    this.current = image;
    this.base = identity ?? (await identityOf(base));
    this.logSize = logSize;
    return { bytes: image, lastModified: file.lastModified };
  }

  /** Size of the live cartridge, bytes: the current image when known, else the base file's size (0 when none). */
  async liveBytes(): Promise<number> {
    if (this.current) return this.current.length;
    const h = await CartridgeStore.handle(await this.dir(), LIVE);
    return h ? (await h.getFile()).size : 0;
  }

  /** The image on disk (base + log), as last read or written; `undefined` before {@link read}. */
  private current: Uint8Array | undefined;
  /** Identity of the base file the log belongs to. */
  private base: Awaited<ReturnType<typeof identityOf>> | undefined;
  /** Size of `cartridge.log`, bytes (0: none). */
  private logSize = 0;

  /**
   * Persists `image` as the live cartridge: the changed pages appended to the log when that keeps the
   * log under max(1 MiB, 1/8 of the image), else a whole-image {@link write}.
   * @returns how it was written.
   * @throws DOMException `QuotaExceededError` (nothing on disk changed).
   */
  async persist(image: Uint8Array): Promise<'log' | 'full' | 'none'> {
    const prev = this.current;
    if (!prev || !this.base) {
      await this.write(image);
      return 'full';
    }
    const t0 = performance.now();
    const pageSize = pageSizeOf(image);
    const pages = pageSize === pageSizeOf(prev) ? changedPages(prev, image, pageSize) : undefined;
    if (pages && pages.length === 0 && image.length === prev.length) return 'none';
    const limit = Math.max(1024 * 1024, image.length / 8);
    const size = pages ? recordBytes(pages.length, pageSize) : Infinity;
    if (!pages || (this.logSize || LOG_HEADER_BYTES) + size > limit) {
      await this.write(image);
      return 'full';
    }
    const t1 = performance.now();
    const dir = await this.dir();
    const record = encodeRecord(image, pages, pageSize);
    const h = await dir.getFileHandle(LOG, { create: true });
    const w = await h.createWritable({ keepExistingData: this.logSize > 0 });
    try {
      if (this.logSize > 0) await w.seek(this.logSize);
      else await w.write(encodeHeader(this.base) as Uint8Array<ArrayBuffer>);
      await w.write(record as Uint8Array<ArrayBuffer>);
      // The file may be longer than this worker knows: a stopped worker's last append can land after
      // the next worker read the log (the browser finishes a `close()` already sent, while the Web Lock
      // went with the stopped worker). That append was never acknowledged, and this worker's image does
      // not hold it, so it goes: without the truncate its tail stayed behind this record and the whole
      // log read as damaged (seen 1 run in 5 of e2e/netns/mesh-browser.netns.ts).
      await w.truncate((this.logSize || LOG_HEADER_BYTES) + record.length);
      await w.close();
    } catch (e) {
      await w.abort().catch(() => {});
      // a first append leaves no empty log behind (read() would also take an empty one as none)
      if (this.logSize === 0) await CartridgeStore.remove(dir, LOG).catch(() => {});
      throw await classifyWriteError(e, record.length);
    }
    this.logSize = (this.logSize || LOG_HEADER_BYTES) + record.length;
    this.current = image;
    this.lastWrite = { kind: 'log', pages: pages.length, diffMs: t1 - t0, removeMs: 0, writeMs: performance.now() - t1, swapMs: 0 };
    return 'log';
  }

  /**
   * Makes `bytes` the live image with a whole-image write: removes the old `cartridge.prev.db` (so it
   * needs room for two images, not three), writes `cartridge.next.db`, renames base → prev and
   * next → base, then removes the log (which no longer matches the base, so a worker stopped before
   * that removal leaves it ignored).
   * @throws DOMException `QuotaExceededError` when the origin's quota is exhausted (the live state is untouched).
   */
  async write(bytes: Uint8Array): Promise<void> {
    const t0 = performance.now();
    const dir = await this.dir();
    await CartridgeStore.remove(dir, PREVIOUS);
    const t1 = performance.now();
    let next: FileSystemFileHandle;
    try {
      next = await CartridgeStore.writeFile(dir, NEXT, bytes);
    } catch (e) {
      await CartridgeStore.remove(dir, NEXT).catch(() => {});
      throw e;
    }
    const t2 = performance.now();
    const live = await CartridgeStore.handle(dir, LIVE);
    if (live) await (live as MovableHandle).move(PREVIOUS);
    await (next as MovableHandle).move(LIVE);
    await CartridgeStore.remove(dir, LOG);
    this.current = bytes;
    this.base = await identityOf(bytes);
    this.logSize = 0;
    this.lastWrite = { kind: 'full', pages: 0, diffMs: 0, removeMs: t1 - t0, writeMs: t2 - t1, swapMs: performance.now() - t2 };
  }

  /** Where the time of the last {@link persist} or {@link write} went, ms. */
  lastWrite: { kind: 'log' | 'full'; pages: number; diffMs: number; removeMs: number; writeMs: number; swapMs: number } | undefined;

  /** Writes the owner mark (the id of the worker instance allowed to write from now on). */
  async claim(owner: string): Promise<void> {
    await CartridgeStore.writeFile(await this.dir(), OWNER, new TextEncoder().encode(owner));
  }

  /** The current owner mark, or `undefined`. */
  async owner(): Promise<string | undefined> {
    const h = await CartridgeStore.handle(await this.dir(), OWNER);
    return h ? (await h.getFile()).text() : undefined;
  }

  /** The kept copies, newest first: `cartridge.prev.db` and everything in `backups/`. */
  async backups(): Promise<DeviceBackup[]> {
    const out: DeviceBackup[] = [];
    const prev = await CartridgeStore.handle(await this.dir(), PREVIOUS);
    if (prev) {
      const f = await prev.getFile();
      out.push({ name: PREVIOUS, bytes: f.size, savedAt: f.lastModified });
    }
    const dir = await this.backupsDir();
    for await (const h of dir.values()) {
      if (h.kind !== 'file' || !h.name.endsWith('.db')) continue;
      const f = await (h as FileSystemFileHandle).getFile();
      out.push({ name: h.name, bytes: f.size, savedAt: f.lastModified });
    }
    return out.sort((a, b) => b.savedAt - a.savedAt);
  }

  /** The bytes of a kept copy. @throws Error for an unknown name. */
  async readBackup(name: string): Promise<Uint8Array> {
    const h = name === PREVIOUS ? await CartridgeStore.handle(await this.dir(), PREVIOUS) : (checkBackupName(name), await CartridgeStore.handle(await this.backupsDir(), name));
    if (!h) throw new Error(`There is no kept copy called "${name}".`);
    return new Uint8Array(await (await h.getFile()).arrayBuffer());
  }

  /** Deletes a kept copy. @throws Error for an unknown name. */
  async deleteBackup(name: string): Promise<void> {
    if (name === PREVIOUS) {
      const dir = await this.dir();
      if (!(await CartridgeStore.handle(dir, PREVIOUS))) throw new Error(`There is no kept copy called "${name}".`);
      await dir.removeEntry(PREVIOUS);
      return;
    }
    checkBackupName(name);
    const dir = await this.backupsDir();
    if (!(await CartridgeStore.handle(dir, name))) throw new Error(`There is no kept copy called "${name}".`);
    await dir.removeEntry(name);
  }

  /**
   * Moves the live cartridge into `backups/<prefix>-<time>.db`. When the current image is known (the
   * cartridge opened), that whole image is written there (base + log); otherwise (a damaged
   * cartridge) the base file is moved as it is and its log beside it as `<name>.log`.
   * @returns the backup's name, or `undefined` when there was no live file.
   */
  async setAsideLive(prefix: string): Promise<string | undefined> {
    const dir = await this.dir();
    const live = await CartridgeStore.handle(dir, LIVE);
    if (!live) return undefined;
    const name = `${prefix}-${stamp()}.db`;
    const backups = await this.backupsDir();
    const log = await CartridgeStore.handle(dir, LOG);
    if (this.current) {
      await CartridgeStore.writeFile(backups, name, this.current);
      await dir.removeEntry(LIVE);
      if (log) await dir.removeEntry(LOG);
    } else {
      await (live as MovableHandle).move(backups, name);
      if (log) await (log as MovableHandle).move(backups, `${name}.log`);
    }
    this.current = undefined;
    this.base = undefined;
    this.logSize = 0;
    return name;
  }

  /** The live file's bytes as they are on disk (for exporting a damaged cartridge), or `undefined`. */
  async rawLive(): Promise<Uint8Array | undefined> {
    const h = await CartridgeStore.handle(await this.dir(), LIVE);
    return h ? new Uint8Array(await (await h.getFile()).arrayBuffer()) : undefined;
  }
}
