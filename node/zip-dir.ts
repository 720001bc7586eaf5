import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { ZipFile } from 'yazl';
import { isCompressible, contentTypeFor } from '../shared/lib/index.js';

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
 * Streams a zip of the given files with yazl (zlib's native deflate for compressible types, stored
 * for media that is already compressed), opening one file at a time and reporting bytes read from
 * disk. Backpressure comes from the consumer (the upload).
 * @see https://github.com/thejoshwolfe/yazl
 */
export function zipStream(files: DirEntry[], onRead?: (bytes: number, filesDone: number) => void): ReadableStream<Uint8Array> {
  const zip = new ZipFile();
  let read = 0;
  let done = 0;
  for (const f of files) {
    const compress = isCompressible(contentTypeFor(f.path));
    zip.addReadStreamLazy(f.path, { compress, compressionLevel: compress ? 6 : 0, size: f.size, mtime: new Date(0) }, (cb) => {
      const rs = createReadStream(f.abs, { highWaterMark: 256 * 1024 });
      rs.on('data', (chunk) => {
        read += chunk.length;
        onRead?.(read, done);
      });
      rs.on('end', () => {
        done++;
        onRead?.(read, done);
      });
      cb(null, rs);
    });
  }
  zip.end();
  return Readable.toWeb(zip.outputStream as Readable) as ReadableStream<Uint8Array>;
}
