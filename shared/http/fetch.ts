import type { Kernel } from '../kernel.js';
import { handleApi } from './api.js';
import { SESSION_COOKIE } from '../auth/index.js';
import { applyAppHeaderPolicy } from './app-headers.js';
import { serveApp, type AppMount } from './app-host.js';
import type { RequestContext } from './context.js';
import { DASHBOARD_HTML } from './dashboard.js';
import { errorJson, errorResponse, escapeHtml, htmlPage } from './responses.js';
import { isNodePath, serveNodePath } from '../realtime/index.js';

/**
 * The kernel's HTTP face: one Fetch-API function serving the admin API (`/api/…`), the apps (on
 * their subdomain, and under `/a/<name>/` on the node's own host) and the dashboard. Host-neutral:
 * the Node host mounts it on express, the service worker calls it from its fetch handler.
 */

/** The kernel's HTTP face: answers one request; never throws. */
export type FetchHandler = (request: Request, ctx?: RequestContext) => Promise<Response>;

/** Options of {@link createFetch}. */
export interface FetchOptions {
  /**
   * The dashboard for the node's own host (paths other than `/api/` and `/a/`). Return `undefined`
   * for "not found". Default: the built-in minimal dashboard page.
   */
  dashboard?: (request: Request, url: URL) => Response | Promise<Response | undefined> | undefined;
}

/**
 * Security headers for apps served under `/a/<name>/` on the node's own origin. The CSP `sandbox`
 * directive gives the app's documents an opaque origin (HTML spec, "sandboxed origin browsing
 * context flag"), so app code cannot call the admin API with the owner's cookie or read the
 * dashboard. Apps that need their own storage origin are served on their subdomain.
 * `Access-Control-Allow-Origin: *` lets the sandboxed page load its own module scripts and fetch
 * its own files (they are public static files).
 */
export const PATH_APP_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    'sandbox allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads allow-presentation allow-pointer-lock',
  'access-control-allow-origin': '*',
};

/** Headers for the node's own pages (dashboard): no framing, no opener access. */
const NODE_HEADERS: Readonly<Record<string, string>> = {
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
};

/** True for an app path served by its server code: `/api` and below. */
function isApiPath(p: string): boolean {
  return p === '/api' || p.startsWith('/api/');
}

/** The app alias a hostname addresses (`blog.localhost` → `blog`), or `undefined` for the node's own host. */
export function aliasForHost(domain: string, hostname: string): string | undefined {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  const suffix = '.' + domain;
  if (!h.endsWith(suffix)) return undefined;
  const label = h.slice(0, -suffix.length);
  return label && !label.includes('.') ? label : undefined;
}

/**
 * Where a browser navigating to `/a/<name>/…` should go instead: the app's own origin
 * (`http://<name>.<domain>:<port>`), when the client can surely resolve it — it addressed the node
 * by its domain, or by a loopback IP while the domain is `localhost` (browsers resolve
 * `*.localhost` to loopback, RFC 6761 §6.3). Only top-level navigations (`Sec-Fetch-Mode: navigate`,
 * `Sec-Fetch-Dest: document`) are redirected; subresources and non-browser clients are served in place.
 * @returns the origin, or `undefined` to serve on the path (sandboxed).
 */
export function appOriginFor(domain: string, request: Request, url: URL, name: string): string | undefined {
  if (request.headers.get('sec-fetch-mode') !== 'navigate' || request.headers.get('sec-fetch-dest') !== 'document') return undefined;
  const host = url.hostname.toLowerCase();
  const loopback = /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]';
  if (host !== domain && !(domain === 'localhost' && loopback)) return undefined;
  return `${url.protocol}//${name}.${domain}${url.port ? ':' + url.port : ''}`;
}

/**
 * Builds the kernel's HTTP face. The request path: app subdomain → the app (its `/api/…` through the
 * runtime, `/_fazt/…` answered by the node (realtime, docs/realtime.md), the rest static); `/api/…` → the admin API; `/a/<name>/…` → the app on the node's host
 * (sandboxed, or redirected to its own origin); anything else → the dashboard.
 * @param kernel the composition root whose services answer.
 */
export function createFetch(kernel: Kernel, options: FetchOptions = {}): FetchHandler {
  /**
   * Serves an app's `/api/…` path through the runtime (501 `NO_HANDLER` without one), then applies
   * the app header policy (`app-headers.ts`); what it removed goes to the app's log as a warning.
   */
  const serveApi = (request: Request, app: { id: string; version: number | null; name: string }, pathname: string, mount: AppMount): Promise<Response> =>
    counted(app.id, () => serveApiUncounted(request, app, pathname, mount));
  const serveStaticApp = (request: Request, app: { id: string; version: number | null; name: string }, pathname: string, mount: AppMount): Promise<Response> =>
    counted(app.id, () => serveApp(request, kernel, app, pathname, mount));
  /** Times an app request to its response head for Pulse (a throw counts as a 500, then propagates). */
  const counted = async (appId: string, serve: () => Response | Promise<Response>): Promise<Response> => {
    const t0 = performance.now();
    let status = 500;
    try {
      const r = await serve();
      status = r.status;
      return r;
    } finally {
      kernel.pulse.counters.recordRequest(appId, status, performance.now() - t0);
    }
  };
  const serveApiUncounted = async (request: Request, app: { id: string; version: number | null; name: string }, pathname: string, mount: AppMount): Promise<Response> => {
    if (!kernel.runtime) return errorJson(501, 'NO_HANDLER', 'This node runs no serverless code (no runtime configured).', mount.headers);
    const response = await kernel.runtime.handleRequest(request, app, pathname, mount);
    const stripped = applyAppHeaderPolicy(response.headers, mount.basePath === '' ? 'app' : 'node', SESSION_COOKIE);
    if (stripped.length) {
      kernel.logs.append(app.id, {
        level: 'warn',
        message: `Response headers removed: ${stripped.map((h) => `${h.name} (${h.reason})`).join('; ')}. See docs/apps.md.`,
        source: `${request.method} ${pathname}`,
      });
    }
    return response;
  };

  /**
   * Handles one HTTP request. Never throws: failures become JSON (API) or HTML (pages) errors.
   * @param request a Fetch API request with an absolute URL whose host is the `Host` the client used.
   * @param ctx host-known facts (peer address).
   */
  return async function fetch(request: Request, ctx: RequestContext = {}): Promise<Response> {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return htmlPage(400, 'Bad request', 'Malformed URL.');
    }
    try {
      const alias = aliasForHost(kernel.domain, url.hostname);
      if (alias !== undefined) {
        const app = kernel.apps.lookupLive(alias);
        if (!app) return htmlPage(404, 'No such app', `No app is called “${escapeHtml(alias)}” on this node.`);
        if (isApiPath(url.pathname)) return await serveApi(request, app, url.pathname, { basePath: '', headers: {} });
        if (isNodePath(url.pathname)) return serveNodePath(kernel.realtime, request, url, app, url.pathname, { basePath: '', headers: {} });
        return await serveStaticApp(request, app, url.pathname, { basePath: '', headers: {} });
      }
      const p = url.pathname;
      if (p === '/api' || p.startsWith('/api/')) return await handleApi(kernel, request, url, ctx);
      if (p === '/a' || p.startsWith('/a/')) {
        const rest = p.slice(3);
        const slash = rest.indexOf('/');
        const name = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
        const app = name ? kernel.apps.lookupLive(name) : undefined;
        if (!app) return htmlPage(404, 'No such app', `No app is called “${escapeHtml(name)}” on this node.`, PATH_APP_HEADERS);
        if (slash < 0) return new Response(null, { status: 301, headers: { location: `/a/${name}/${url.search}` } });
        const own = appOriginFor(kernel.domain, request, url, name);
        if (own) return new Response(null, { status: 302, headers: { location: own + rest.slice(slash) + url.search, 'cache-control': 'no-store' } });
        const inner = rest.slice(slash);
        if (isNodePath(inner)) return serveNodePath(kernel.realtime, request, url, app, inner, { basePath: `/a/${name}`, headers: PATH_APP_HEADERS });
        if (isApiPath(inner)) {
          // A page served in place under the sandbox CSP has an opaque origin, so its JSON writes
          // are CORS-preflighted (Fetch standard §3.2.2). The API is public and no credentials reach
          // it from there (the owner's cookie is Path=/api), so the preflight is answered here.
          if (request.method === 'OPTIONS' && request.headers.get('origin') && request.headers.get('access-control-request-method')) {
            return new Response(null, {
              status: 204,
              headers: {
                ...PATH_APP_HEADERS,
                'access-control-allow-methods': 'GET, HEAD, POST, PUT, PATCH, DELETE',
                'access-control-allow-headers': request.headers.get('access-control-request-headers') ?? '',
                'access-control-max-age': '600',
              },
            });
          }
          return await serveApi(request, app, inner, { basePath: `/a/${name}`, headers: PATH_APP_HEADERS });
        }
        return await serveStaticApp(request, app, inner, { basePath: `/a/${name}`, headers: PATH_APP_HEADERS });
      }
      const custom = options.dashboard && (await options.dashboard(request, url));
      if (custom) return custom;
      if (p === '/' || p === '/index.html' || p === '/setup' || p === '/login') {
        return new Response(request.method === 'HEAD' ? null : DASHBOARD_HTML, {
          headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', ...NODE_HEADERS },
        });
      }
      return htmlPage(404, 'Not found', `Nothing at <code>${escapeHtml(p)}</code>. Apps live at <code>/a/&lt;name&gt;/</code>.`, NODE_HEADERS);
    } catch (e) {
      kernel.ports.logger.error('request failed', { url: request.url, error: String((e as Error)?.stack ?? e) });
      return url.pathname.startsWith('/api') ? errorResponse(e) : htmlPage(500, 'Something went wrong', 'The node could not answer this request; the error was logged.');
    }
  };
}
