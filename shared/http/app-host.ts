import type { AppRegistry } from '../apps/index.js';
import type { BlobStore } from '../vfs/blobs.js';
import { requestPathToVfs } from '../vfs/paths.js';
import { errorJson, htmlPage, escapeHtml } from './responses.js';
import { serveStatic } from './static.js';

/**
 * Serves an app's live version as a static site: `index.html` for folders, `/dir` → `/dir/`
 * redirect, clean URLs (`/about` → `about.html`), SPA fallback when `app.json` says `"spa": true`,
 * the app's `404.html` (or `notFound`) with status 404. `app.json`, `api/` and dot-files (except
 * `.well-known/`) are never served.
 */

/** Where the app is mounted and what to add to its responses. */
export interface AppMount {
  /** URL path prefix of the app on this host: `''` on its own subdomain, `/a/<name>` on the node's host. */
  basePath: string;
  /** Headers added to every response (e.g. the sandbox CSP on the node's host). */
  headers: Record<string, string>;
}

/** True for paths that are part of the app's machinery, not its public files. */
function isHidden(path: string): boolean {
  if (path === 'app.json' || path === 'api' || path.startsWith('api/')) return true;
  return path.split('/').some((s, i, all) => s.startsWith('.') && !(i === 0 && s === '.well-known' && all.length > 1));
}

/** Serves one request to an app. Only GET and HEAD are static; others get 405. */
export function serveApp(
  request: Request,
  ctx: { apps: AppRegistry; blobs: BlobStore },
  app: { id: string; version: number | null; name: string },
  pathname: string,
  mount: AppMount,
): Response {
  const headers = mount.headers;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return errorJson(405, 'METHOD_NOT_ALLOWED', `${request.method} is not allowed on static files.`, { allow: 'GET, HEAD', ...headers });
  }
  if (app.version === null) return htmlPage(503, 'Not deployed yet', `The app “${escapeHtml(app.name)}” has no live version yet.`, headers);
  const version = app.version;
  const path = requestPathToVfs(pathname);
  if (path === undefined) return htmlPage(400, 'Bad request', 'That path is not allowed.', headers);
  const serve = (p: string, status = 200) => {
    if (isHidden(p)) return undefined;
    const file = ctx.apps.file(app.id, version, p);
    return file && serveStatic(request, file, ctx.blobs, { status, headers });
  };
  const isDir = path === '' || path.endsWith('/');
  const found = isDir ? serve(path + 'index.html') : serve(path) ?? serve(path + '.html');
  if (found) return found;
  if (!isDir && !isHidden(path) && ctx.apps.file(app.id, version, path + '/index.html')) {
    const url = new URL(request.url);
    return new Response(null, { status: 301, headers: { location: `${mount.basePath}/${path}/${url.search}`, ...headers } });
  }
  const manifest = ctx.apps.manifest(app.id, version);
  const last = path.replace(/\/$/, '').split('/').pop() ?? '';
  const wantsHtml = (request.headers.get('accept') ?? '').includes('text/html') || !request.headers.get('accept');
  if (manifest?.spa && !last.includes('.') && wantsHtml) {
    const index = serve('index.html');
    if (index) return index;
  }
  const custom = serve(manifest?.notFound ?? '404.html', 404);
  if (custom) return custom;
  return htmlPage(404, 'Not found', `There is no <code>/${escapeHtml(path)}</code> in the app “${escapeHtml(app.name)}”.`, headers);
}
