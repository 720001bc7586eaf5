/**
 * Packs a folder picked in the browser (`<input webkitdirectory>` or drag and drop) into a zip with
 * fflate, in the browser, so a deploy is one upload. Files that are compressed already (images,
 * video, fonts, archives) are stored, the rest deflated.
 */
import { zip, zipSync, type AsyncZippable, type Zippable } from 'fflate';

/** One file to pack, with its path inside the app (`/`-separated, no leading folder). */
export interface PickedFile {
  path: string;
  file: File;
}

/** Progress of packing: files read so far of all. */
export type PackProgress = (done: number, total: number) => void;

const STORED = /\.(png|jpe?g|gif|webp|avif|ico|mp4|webm|mov|mp3|ogg|m4a|woff2?|zip|gz|br|zst|7z|wasm)$/i;

/** Paths the picker and the OS add that are never part of an app. */
const JUNK = /(^|\/)(\.DS_Store|Thumbs\.db|desktop\.ini|\.git(\/|$)|node_modules\/)/;

/**
 * Files of an `<input webkitdirectory>` selection with their paths inside the picked folder (the
 * folder's own name, the first segment of `webkitRelativePath`, is dropped). System junk
 * (`.DS_Store`, `.git/`, `node_modules/`) is left out.
 */
export function filesFromInput(list: FileList | File[]): PickedFile[] {
  const out: PickedFile[] = [];
  for (const file of Array.from(list)) {
    const rel = (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name;
    const path = rel.includes('/') ? rel.slice(rel.indexOf('/') + 1) : rel;
    if (!JUNK.test(path)) out.push({ path, file });
  }
  return out;
}

/**
 * Files of a drag and drop: every file under the dropped folders (walked with the entries API),
 * paths relative to the dropped folder (its name in `folder` when one folder was dropped); a single
 * dropped zip is returned as `{zip}`.
 * @throws Error with plain words when nothing usable was dropped.
 */
export async function filesFromDrop(dt: DataTransfer): Promise<{ zip: File } | { files: PickedFile[]; folder?: string }> {
  const entries = Array.from(dt.items)
    .map((i) => (i.kind === 'file' ? i.webkitGetAsEntry?.() : null))
    .filter((e): e is FileSystemEntry => !!e);
  const first = dt.files[0];
  // one zip (a dropped file may have no entry, e.g. from another app)
  if (dt.files.length === 1 && first && /\.zip$/i.test(first.name) && (entries.length === 0 || entries[0]!.isFile)) return { zip: first };
  const files: PickedFile[] = [];
  const single = entries.length === 1 && entries[0]!.isDirectory;
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
      const path = prefix + entry.name;
      if (!JUNK.test(path)) files.push({ path, file });
      return;
    }
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
      if (batch.length === 0) break;
      for (const e of batch) await walk(e, `${prefix}${entry.name}/`);
    }
  };
  for (const e of entries) {
    if (single) {
      // the dropped folder itself is the app root
      const reader = (e as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (batch.length === 0) break;
        for (const c of batch) await walk(c, '');
      }
    } else await walk(e, '');
  }
  if (files.length === 0) throw new Error('Nothing to deploy was dropped. Drop the app’s folder or a .zip of it.');
  return single ? { files, folder: entries[0]!.name } : { files };
}

/** An app name, as the node checks it (shared/apps/names.ts): 1–63 of `a-z 0-9 -`, no hyphen at either end. */
export const APP_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Zips the files (fflate, off the main thread where the browser allows workers).
 * @returns the zip as a Blob (`application/zip`).
 */
export async function zipFiles(files: PickedFile[], onProgress?: PackProgress): Promise<Blob> {
  const input: AsyncZippable = {};
  let done = 0;
  for (const f of files) {
    input[f.path] = [new Uint8Array(await f.file.arrayBuffer()), { level: STORED.test(f.path) ? 0 : 6 }];
    onProgress?.(++done, files.length);
  }
  let bytes: Uint8Array;
  try {
    bytes = await new Promise<Uint8Array>((resolve, reject) => zip(input, (err, data) => (err ? reject(err) : resolve(data))));
  } catch {
    // no workers here (a strict Content-Security-Policy): zip on the main thread instead
    bytes = zipSync(input as Zippable);
  }
  return new Blob([bytes as BlobPart], { type: 'application/zip' });
}
