import { FaztError } from '../errors.js';
import type { Kernel } from '../kernel.js';
import { SESSION_COOKIE, assertMayUseApp, type Principal, type TokenScope } from '../auth/index.js';
import type { RequestContext } from './context.js';
import { readCookie } from './cookies.js';
import { errorResponse } from './responses.js';

/**
 * The admin API's router: routes are `(method, path, scope, handler)`; a route's scope is checked
 * before its handler runs (`null`: public). Each area of the API (apps, runtime, storage …) adds its
 * routes from its own file in `routes/`; `api.ts` lists the areas.
 */

/** One API request being handled. */
export interface ApiCall {
  request: Request;
  url: URL;
  ctx: RequestContext;
  /** The path parameters (`:ref`, `:name` …) in order, still percent-encoded (see `param` in `api-input.ts`). */
  params: string[];
  /** Who is calling, when authenticated. */
  principal?: Principal;
  kernel: Kernel;
}

/** A route handler. Throws FaztError for refusals (they become JSON error answers). */
export type ApiHandler = (c: ApiCall) => Promise<Response> | Response;

interface Route {
  method: string;
  pattern: RegExp;
  scope: TokenScope | null;
  handler: ApiHandler;
  /** The route acts on the app named by its first parameter (`/api/apps/:ref…`): app-scoped tokens are checked. */
  onApp: boolean;
}

/** What a scope may do on the admin API: a route needs at least its scope's rank. The MCP scopes open no route (docs/mcp.md). */
const SCOPE_RANK: Record<TokenScope, number> = { 'mcp-read': 0, mcp: 0, deploy: 1, admin: 2 };
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Routes of the admin API and their dispatch. */
export class ApiRouter {
  private readonly routes: Route[] = [];

  /**
   * Adds a route.
   * @param method `GET` (also answers `HEAD`), `POST`, `PUT`, `DELETE` …
   * @param path `/api/…` with `:name` parameters (one path segment each); a trailing `/` also matches.
   * @param scope the token scope needed (`deploy` < `admin`), or `null` for a public route.
   */
  route(method: string, path: string, scope: TokenScope | null, handler: ApiHandler): void {
    const pattern = new RegExp('^' + path.replace(/:[a-z]+/g, '([^/]+)') + '/?$');
    this.routes.push({ method, pattern, scope, handler, onApp: path.startsWith('/api/apps/:ref') });
  }

  /**
   * Handles a request under `/api/`. Never throws: errors become JSON error responses
   * (`NOT_FOUND`, `METHOD_NOT_ALLOWED`, `UNAUTHORIZED`, `FORBIDDEN`, or the handler's); errors that
   * are not FaztErrors are logged and answered as `INTERNAL`.
   */
  async handle(kernel: Kernel, request: Request, url: URL, ctx: RequestContext): Promise<Response> {
    const c: ApiCall = { request, url, ctx, params: [], kernel };
    try {
      let methodMismatch = false;
      for (const r of this.routes) {
        const m = r.pattern.exec(url.pathname);
        if (!m) continue;
        if (r.method !== request.method && !(r.method === 'GET' && request.method === 'HEAD')) {
          methodMismatch = true;
          continue;
        }
        c.params = m.slice(1);
        c.principal = authenticate(c);
        if (r.scope) {
          if (!c.principal) throw new FaztError('UNAUTHORIZED', 'Sign in, or send an API token: "Authorization: Bearer <token>" (create one with `fazt token create`).');
          if (SCOPE_RANK[c.principal.scope] < SCOPE_RANK[r.scope]) {
            throw new FaztError('FORBIDDEN', `This needs a token with the "${r.scope}" scope; yours has "${c.principal.scope}".`);
          }
        }
        if (r.onApp && c.principal?.apps) {
          // an app-scoped token learns nothing of other apps, not even whether they exist
          const ref = decodeURIComponent(c.params[0]!);
          assertMayUseApp(c.principal, kernel.apps.resolve(ref) ?? ref);
        }
        return await r.handler(c);
      }
      if (methodMismatch) throw new FaztError('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${url.pathname}.`);
      throw new FaztError('NOT_FOUND', `No API route ${request.method} ${url.pathname}. See docs/api.md.`);
    } catch (e) {
      if (!(e instanceof FaztError)) kernel.ports.logger.error('api error', { path: url.pathname, error: String((e as Error)?.stack ?? e) });
      return errorResponse(e);
    }
  }
}

/**
 * Authenticates a request: `Authorization: Bearer fazt_…` or the session cookie. Cookie-authenticated
 * writes must come from the node's own origin (`Origin` header), which blocks cross-site and
 * app-origin forgeries.
 * @throws FaztError `UNAUTHORIZED` for a bad token, `FORBIDDEN` for a cross-origin cookie write.
 */
function authenticate(c: ApiCall): Principal | undefined {
  if (c.ctx.principal) return c.ctx.principal;
  const authz = c.request.headers.get('authorization');
  if (authz) {
    const m = /^Bearer\s+(\S+)$/i.exec(authz);
    if (!m) throw new FaztError('UNAUTHORIZED', 'Use "Authorization: Bearer <token>".');
    return c.kernel.auth.token(m[1]!);
  }
  const s = readCookie(c.request.headers.get('cookie'), SESSION_COOKIE);
  if (!s) return undefined;
  const p = c.kernel.auth.session(s);
  if (p && !SAFE.has(c.request.method)) {
    const origin = c.request.headers.get('origin');
    if (origin !== c.url.origin) throw new FaztError('FORBIDDEN', 'Cross-origin request refused: the dashboard must call the API from its own origin.');
  }
  return p;
}
