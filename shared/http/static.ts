import type { BlobInfo, BlobStore } from '../vfs/blobs.js';
import { bytesResponse, chunksResponse } from '../lib/known-body.js';
import { contentTypeFor } from '../lib/mime.js';

/**
 * Static file responses the way a real web server makes them (RFC 9110, RFC 9111):
 * strong ETags from content hashes, `If-None-Match` → 304, single byte ranges → 206 (416 when
 * unsatisfiable), `If-Range`, precompressed brotli/gzip chosen by `Accept-Encoding`, and cache
 * headers by kind of file. Bodies stream from the blob store one chunk at a time.
 */

/** A file to serve. */
export interface StaticFile extends BlobInfo {
  /** Its path (for the MIME type and cache policy). */
  path: string;
}

/** Options of {@link serveStatic}. */
export interface ServeOptions {
  /** Status for a full response (404 pages are served with 404). Default 200. */
  status?: number;
  /** Extra headers on every response (security headers …). */
  headers?: Record<string, string>;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

/**
 * True when a file name carries a content fingerprint (`app.3f9c2b1a.js`, `index-B1a2c3D4.js`,
 * `chunk.0123456789abcdef.css`), so it can be cached forever.
 */
export function isFingerprinted(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const m = /[.-]([A-Za-z0-9_]{8,32})\.[A-Za-z0-9]+(?:\.map)?$/.exec(name);
  if (!m) return false;
  const tag = m[1]!;
  if (/^[a-f0-9]{16,}$/.test(tag)) return true;
  return /[0-9]/.test(tag) && /[a-zA-Z]/.test(tag) && tag.length <= 20;
}

/** `Cache-Control` for a path: immutable for fingerprinted assets, revalidate otherwise (HTML included). */
export function cacheControlFor(path: string): string {
  return isFingerprinted(path) ? IMMUTABLE : REVALIDATE;
}

/** Parsed `Accept-Encoding` weights (RFC 9110 §12.5.3). */
function acceptsEncoding(header: string | null, encoding: string): boolean {
  if (!header) return false;
  for (const part of header.split(',')) {
    const [token, ...params] = part.trim().split(';');
    if (token!.trim().toLowerCase() !== encoding && token!.trim() !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (!q || parseFloat(q.slice(2)) > 0) return true;
  }
  return false;
}

/** True when an `If-None-Match` list matches the ETag (weak comparison, RFC 9110 §13.1.2). */
function etagMatches(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}

/**
 * Parses a `Range` header for a resource of `size` bytes (RFC 9110 §14.1.2; the unit is
 * case-insensitive). Positions may have any number of digits: a last position or a suffix beyond
 * the resource selects up to its end (§14.1.2: "the entire representation is used").
 * @returns `undefined` to ignore the header (absent, not bytes, several ranges, malformed, last <
 *   first), `'unsatisfiable'` (first position past the end, empty suffix, empty resource: answer
 *   416), or the inclusive byte range clamped to the resource.
 */
export function parseRange(header: string | null, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/i.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  // Numbers beyond 2^53 lose precision, but only ever in ways that keep them ≥ size (≤ 2^53):
  // comparisons with size stay right; first vs last is compared exactly, as BigInts.
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  if (m[2] !== '' && BigInt(m[2]!) < BigInt(m[1]!)) return undefined;
  const start = Number(m[1]);
  if (start >= size) return 'unsatisfiable';
  return { start, end: m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1) };
}


/**
 * Body for a blob range: the bytes themselves for one chunk, the chunks read one at a time for more
 * (a host writes them directly, see `known-body.ts`; `response.body` streams the same chunks).
 */
function respond(blobs: BlobStore, info: BlobInfo | null, start: number, end: number, init: ResponseInit): Response {
  if (!info || end < start) return new Response(null, init);
  if (info.chunkCount <= 1) return bytesResponse(blobs.readAll(info).subarray(start, end + 1), init);
  return chunksResponse({ length: end - start + 1, chunks: () => blobs.chunks(info, start, end) }, init);
}

/**
 * Serves a stored file for a GET or HEAD request.
 * @param request the request (method, `Range`, `If-Range`, `If-None-Match`, `Accept-Encoding` are read).
 */
export function serveStatic(request: Request, file: StaticFile, blobs: BlobStore, options: ServeOptions = {}): Response {
  const head = request.method === 'HEAD';
  const status = options.status ?? 200;
  const type = contentTypeFor(file.path);
  const baseTag = file.hash.slice(0, 32);
  const encodings: ReadonlyMap<string, string> = status === 200 ? blobs.variants(file.hash) : new Map<string, string>();
  const headers: Record<string, string> = {
    'content-type': type,
    'cache-control': status === 200 ? cacheControlFor(file.path) : REVALIDATE,
    'x-content-type-options': 'nosniff',
    ...options.headers,
  };
  if (encodings.size > 0) headers['vary'] = 'Accept-Encoding';
  if (status !== 200) {
    return respond(blobs, head ? null : file, 0, file.size - 1, { status, headers: { ...headers, 'content-length': String(file.size) } });
  }

  // Range requests are answered on the identity encoding.
  const rangeHeader = request.headers.get('range');
  let range = parseRange(rangeHeader, file.size);
  const ifRange = request.headers.get('if-range');
  if (range !== undefined && ifRange !== null && ifRange.trim() !== `"${baseTag}"`) range = undefined;

  let encoding: string | undefined;
  let encoded: BlobInfo | undefined;
  if (range === undefined) {
    const accept = request.headers.get('accept-encoding');
    encoding = ['br', 'gzip'].find((e) => encodings.has(e) && acceptsEncoding(accept, e));
    encoded = encoding ? blobs.info(encodings.get(encoding)!) : undefined;
    if (!encoded) encoding = undefined;
  }
  const etag = encoding ? `"${baseTag}-${encoding}"` : `"${baseTag}"`;
  headers['etag'] = etag;
  headers['accept-ranges'] = 'bytes';

  const inm = request.headers.get('if-none-match');
  if (inm !== null && (etagMatches(inm, etag) || etagMatches(inm, `"${baseTag}"`))) {
    const h = { ...headers };
    delete h['content-type'];
    return new Response(null, { status: 304, headers: h });
  }

  if (range === 'unsatisfiable') {
    return new Response(null, { status: 416, headers: { ...headers, 'content-range': `bytes */${file.size}` } });
  }
  if (range) {
    headers['content-range'] = `bytes ${range.start}-${range.end}/${file.size}`;
    headers['content-length'] = String(range.end - range.start + 1);
    return respond(blobs, head ? null : file, range.start, range.end, { status: 206, headers });
  }
  const info: BlobInfo = encoded ?? file;
  if (encoding) headers['content-encoding'] = encoding;
  headers['content-length'] = String(info.size);
  return respond(blobs, head ? null : info, 0, info.size - 1, { status: 200, headers });
}
