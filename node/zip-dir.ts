import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Zip, ZipDeflate, ZipPassThrough } from 'fflate';
import { isCompressible, contentTypeFor } from '../shared/http/mime.js';

/** A file found in a folder to deploy. */
export interface DirEntry {
  /** Path relative to the folder, `/`-separated. */
  path: string;
  /** Absolute path on disk. */
  abs: string;
  /** Bytes. */
  size: number;
}

/** Names never uploaded. */
const SKIP = new Set(['.git', '.hg', '.svn', '.DS_Store', 'Thumbs.db']);

/**
 * Lists the files of a folder, recursively, in a stable order. Symlinks are followed for files
 * and skipped for folders (no cycles).
 * @throws Error when `dir` is not a readable folder.
 */
export function listDir(dir: string): DirEntry[] {
  const out: DirEntry[] = [];
  const walk = (d: string) => {
    for (const ent of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (SKIP.has(ent.name)) continue;
      const abs = join(d, ent.name);
      if (ent.isDirectory()) walk(abs);
      else if (ent.isFile() || ent.isSymbolicLink()) {
        const st = statSync(abs, { throwIfNoEntry: false });
        if (!st || !st.isFile()) continue;
        out.push({ path: relative(dir, abs).split(sep).join('/'), abs, size: st.size });
      }
    }
  };
  walk(dir);
  return out;
}

/**
 * Streams a zip of the given files (deflate for compressible types, stored for media that is
 * already compressed), reporting bytes read from disk.
 * @see https://github.com/101arrowz/fflate#streaming-zip
 */
export function zipStream(files: DirEntry[], onRead?: (bytes: number, filesDone: number) => void): ReadableStream<Uint8Array> {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let read = 0;
  let done = 0;
  let emitted = 0;
  const zip = new Zip((err, data, final) => {
    if (err) return controller.error(err);
    emitted++;
    controller.enqueue(data);
    if (final) controller.close();
  });
  let index = 0;
  let current: AsyncIterator<Buffer> | undefined;
  let entry: ZipDeflate | ZipPassThrough | undefined;
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        if (files.length === 0) zip.end();
      },
      async pull() {
        // Read from disk until the zip emitted something (a pull that enqueues nothing is not
        // called again), so memory stays bounded by the consumer's pace.
        const before = emitted;
        while (emitted === before) {
          if (!current) {
            if (index >= files.length) return;
            const f = files[index]!;
            entry = isCompressible(contentTypeFor(f.path)) ? new ZipDeflate(f.path, { level: 6 }) : new ZipPassThrough(f.path);
            zip.add(entry);
            if (f.size === 0) {
              entry.push(new Uint8Array(0), true);
              done++;
              index++;
              if (index >= files.length) zip.end();
              onRead?.(read, done);
              continue;
            }
            current = createReadStream(f.abs, { highWaterMark: 256 * 1024 })[Symbol.asyncIterator]();
          }
          const r = await current.next();
          if (r.done) {
            entry!.push(new Uint8Array(0), true);
            current = undefined;
            done++;
            index++;
            if (index >= files.length) zip.end();
            onRead?.(read, done);
            continue;
          }
          read += r.value.length;
          entry!.push(r.value, false);
          onRead?.(read, done);
        }
      },
    },
    { highWaterMark: 0 },
  );
}
