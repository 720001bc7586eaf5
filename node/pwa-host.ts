import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { contentTypeFor, isCompressible } from '../shared/lib/index.js';
import type { FetchOptions } from '../shared/index.js';
import { PACKAGE_ROOT } from './paths.js';

/**
 * The headless node's dashboard: the built PWA in `dist/web/` (vite.config.ts), served on the node's
 * own host for every path that is not `/api/…` or `/a/…` (`KernelOptions.dashboard`). When the build
 * is missing, the kernel's built-in minimal dashboard answers instead.
 *
 * Caching: `sw.js`, `index.html`, the manifest and other unhashed files are `no-cache` (the browser
 * revalidates, so a new service worker version is found at once); files under `/assets/` carry a
 * content hash in their name and are `immutable`. Text files are gzipped once, in memory.
 */

/** Where the PWA build lives: `$FAZT_WEB_DIR`, else `dist/web/` of the package. `FAZT_WEB_DIR=builtin` turns it off. */
export function webDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = env.FAZT_WEB_DIR;
  if (v === 'builtin' || v === 'none') return undefined;
  return v || join(PACKAGE_ROOT, 'dist', 'web');
}

/** Headers of the node's own pages (the same as the built-in dashboard's). */
const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
};

/** One file of the build, loaded into memory. */
interface WebFile {
  /** `mtimeMs` and size when it was read (a rebuilt file is read again). */
  stamp: string;
  body: Uint8Array;
  gzip: Uint8Array | undefined;
  type: string;
  cache: string;
}

/**
 * A `FetchOptions.dashboard` serving the PWA build in `dir`, or `undefined` when there is no build
 * there (no `index.html`) when called. Files are read on first use and again when they change on disk
 * (a rebuild while the node runs is served at once, e.g. a new service worker version).
 */
export function pwaDashboard(dir: string | undefined = webDir()): FetchOptions['dashboard'] | undefined {
  if (!dir || !existsSync(join(dir, 'index.html')) || !statSync(dir).isDirectory()) return undefined;
  const loaded = new Map<string, WebFile>();
  /** The file at `rel` (a safe relative path), or `undefined` when there is none. */
  const load = (rel: string): WebFile | undefined => {
    let st;
    try {
      st = statSync(join(dir, rel));
    } catch {
      return undefined;
    }
    if (!st.isFile()) return undefined;
    const stamp = `${st.mtimeMs}:${st.size}`;
    let f = loaded.get(rel);
    if (!f || f.stamp !== stamp) {
      const body = new Uint8Array(readFileSync(join(dir, rel)));
      const type = rel.endsWith('.webmanifest') ? 'application/manifest+json; charset=utf-8' : contentTypeFor(rel);
      const cache = rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
      const gzip = isCompressible(type) && body.length > 1024 ? new Uint8Array(gzipSync(body, { level: 9 })) : undefined;
      f = { stamp, body, gzip, type, cache };
      loaded.set(rel, f);
    }
    return f;
  };
  return (request, url) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return undefined;
    }
    let rel = path.replace(/^\/+/, '');
    if (rel === '' || rel.endsWith('/')) rel += 'index.html';
    // only plain relative paths inside the build (no `..`, no dot files, no backslashes or NUL)
    const safe = rel.split('/').every((seg) => seg !== '' && !seg.startsWith('.') && !/[\\\0]/.test(seg));
    let f = safe ? load(rel) : undefined;
    if (!f) {
      // a dashboard route (`/apps/blog`, `/settings`): the shell, when a browser navigates there
      const last = rel.slice(rel.lastIndexOf('/') + 1);
      const wantsHtml = request.headers.get('sec-fetch-mode') === 'navigate' || (request.headers.get('accept') ?? '').includes('text/html');
      if (last.includes('.') || !wantsHtml) return undefined;
      rel = 'index.html';
      f = load(rel);
      if (!f) return undefined;
    }
    const gz = f.gzip && /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '');
    const body = gz ? f.gzip! : f.body;
    const headers: Record<string, string> = {
      'content-type': f.type,
      'content-length': String(body.length),
      'cache-control': f.cache,
      vary: 'accept-encoding',
      ...(gz ? { 'content-encoding': 'gzip' } : {}),
      ...(rel.endsWith('.html') ? PAGE_HEADERS : { 'x-content-type-options': 'nosniff' }),
    };
    return new Response(request.method === 'HEAD' ? null : (body as Uint8Array<ArrayBuffer>), { headers });
  };
}
