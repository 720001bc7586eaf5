import { AppRegistry } from './apps/index.js';
import { AuthService, type Principal } from './auth/index.js';
import type { Cartridge } from './cartridge/index.js';
import { DeployService, DEFAULT_DEPLOY_LIMITS, type DeployLimits } from './deploy/index.js';
import { handleApi } from './http/admin-api.js';
import { serveApp } from './http/app-host.js';
import { DASHBOARD_HTML } from './http/dashboard.js';
import { errorResponse, htmlPage, escapeHtml } from './http/responses.js';
import { FaztError } from './errors.js';
import { defaultPorts, type KernelPorts } from './ports.js';
import { BlobStore } from './vfs/blobs.js';
import { PermissionStore } from './apps/permissions.js';
import { EventBus, validateEventSchemas } from './events/index.js';
import { JobStore, Scheduler, validateSchedule } from './schedule/index.js';
import { AppBlobStore, AppLogStore, DocStore, KvStore, SecretStore } from './storage/index.js';
import { AppRuntime, type RuntimeHostOptions } from './runtime/index.js';

/** Facts about one request that only the host knows. */
export interface RequestContext {
  /** TCP peer address (never a forwarded header). */
  peer?: string;
  /**
   * The client's address as the host computed it: the TCP peer, or — only when the host was told to
   * trust a proxy (`fazt start --trusted-proxy ADDR`) and the peer is that proxy — the nearest
   * untrusted address in `X-Forwarded-For`. The key of login rate limits. Default: `peer`.
   */
  source?: string;
  /**
   * True when the host knows the request came through a proxy (the peer is a trusted proxy). The
   * kernel also treats any `Forwarded` / `X-Forwarded-*` header as a sign of a proxy.
   */
  proxied?: boolean;
  /**
   * A principal the host vouches for, skipping HTTP authentication. Only in-process callers set it
   * (the CLI acting on a cartridge file it has opened); it never comes from the network.
   */
  principal?: Principal;
}

/** Options of {@link createKernel}. */
export interface KernelOptions {
  /** The open cartridge. */
  cartridge: Cartridge;
  /** Host ports; missing ones use the portable defaults. */
  ports?: Partial<KernelPorts>;
  /** Base domain for app subdomains (`blog.<domain>`). Default `localhost`. */
  domain?: string;
  /** Upload limits. */
  limits?: Partial<DeployLimits>;
  /**
   * The dashboard for the node's own host (paths other than `/api/` and `/a/`). Return `undefined`
   * for "not found". Default: the built-in minimal dashboard page.
   */
  dashboard?: (request: Request, url: URL) => Response | Promise<Response | undefined> | undefined;
  /** Version string reported by `/api/health`. */
  version?: string;
  /**
   * The serverless runtime's host facilities (QuickJS wasm, standard library, DNS). Absent: app
   * `/api/*` requests answer 501 and scheduled jobs and events wait until a runtime is present.
   */
  runtime?: RuntimeHostOptions;
  /** Key for secrets at rest (32 bytes); default: a key kept in the cartridge (see `SecretStore`). */
  secretKey?: Uint8Array;
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

/**
 * The kernel: one Fetch-API function serving the admin API, the apps and the dashboard, plus the
 * services behind it. Host-neutral: the Node host mounts {@link Kernel.fetch} on express, the
 * service worker calls it from its fetch handler.
 */
export class Kernel {
  readonly ports: KernelPorts;
  readonly blobs: BlobStore;
  readonly apps: AppRegistry;
  readonly auth: AuthService;
  readonly deploy: DeployService;
  /** Base domain for app subdomains. */
  readonly domain: string;
  /** Version string. */
  readonly version: string;
  readonly kv: KvStore;
  readonly docs: DocStore;
  readonly appBlobs: AppBlobStore;
  readonly secrets: SecretStore;
  readonly logs: AppLogStore;
  readonly permissions: PermissionStore;
  readonly jobs: JobStore;
  readonly events: EventBus;
  readonly scheduler: Scheduler;
  /** The serverless runtime, when the host provided one. */
  readonly runtime: AppRuntime | undefined;

  constructor(readonly cartridge: Cartridge, private readonly options: Omit<KernelOptions, 'cartridge'> = {}) {
    this.ports = { ...defaultPorts, ...options.ports } as KernelPorts;
    this.domain = (options.domain ?? 'localhost').toLowerCase();
    this.version = options.version ?? '0.0.0';
    this.blobs = new BlobStore(cartridge.db, this.ports, () => cartridge.clock.now());
    this.apps = new AppRegistry(cartridge);
    this.auth = new AuthService(cartridge, this.ports);
    this.deploy = new DeployService(cartridge.db, this.blobs, this.apps, this.ports, { ...DEFAULT_DEPLOY_LIMITS, ...options.limits });
    this.kv = new KvStore(cartridge);
    this.docs = new DocStore(cartridge);
    this.appBlobs = new AppBlobStore(cartridge, this.blobs);
    this.secrets = new SecretStore(cartridge, { key: options.secretKey });
    this.logs = new AppLogStore(cartridge);
    this.permissions = new PermissionStore(cartridge);
    this.jobs = new JobStore(cartridge);
    const invoke = (appId: string, name: 'scheduled' | 'on', arg: unknown) => {
      if (!this.runtime) return Promise.reject(new FaztError('NO_HANDLER', 'This node has no serverless runtime.'));
      return this.runtime.invokeExport(appId, name, arg);
    };
    this.events = new EventBus(cartridge, this.apps, (appId) => this.permissions.granted(appId), invoke, { logger: this.ports.logger });
    this.scheduler = new Scheduler(cartridge, this.jobs, invoke, { logger: this.ports.logger });
    this.runtime = options.runtime
      ? new AppRuntime(
          {
            cart: cartridge,
            apps: this.apps,
            blobs: this.blobs,
            kv: this.kv,
            docs: this.docs,
            appBlobs: this.appBlobs,
            secrets: this.secrets,
            logs: this.logs,
            permissions: this.permissions,
            events: this.events,
            jobs: this.jobs,
            logger: this.ports.logger,
          },
          options.runtime,
        )
      : undefined;
    this.deploy.checks.push(({ manifest }) => {
      validateSchedule(manifest.schedule, cartridge.clock.now());
      validateEventSchemas(manifest.events);
    });
    if (this.runtime) {
      const rt = this.runtime;
      this.deploy.checks.push(({ files, manifest, readText }) => rt.checkUpload([...files.keys()], manifest, readText));
    }
    this.apps.onChange((c) => {
      if (c.kind === 'remove') {
        // its jobs would fail and its logs describe code that is gone; its stored data (kv, docs,
        // blobs, secrets) stays in the cartridge, keyed by the removed app's id
        this.jobs.removeApp(c.appId);
        this.logs.clear(c.appId);
        return;
      }
      if (c.version === null) return;
      const manifest = this.apps.manifest(c.appId, c.version);
      if (!manifest) return;
      this.jobs.syncCron(c.appId, manifest.schedule);
      this.docs.ensureIndexes(c.appId, manifest.docs?.indexes ?? {});
    });
  }

  /**
   * Starts background work: the scheduler (with catch-up of missed cron runs), event delivery, and
   * the runtime's warm-up sandbox (see `AppRuntime.start`).
   * @returns resolves when the warm-up sandbox is ready (never rejects); a host may await it before
   *   it takes requests, so the first app request after a start does not instantiate QuickJS.
   */
  start(): Promise<void> {
    this.scheduler.start();
    this.events.start();
    return this.runtime?.start() ?? Promise.resolve();
  }

  /** Stops background work; resolves when runs in progress have finished. */
  async stop(): Promise<void> {
    await Promise.all([this.scheduler.stop(), this.events.stop()]);
    this.runtime?.pool.drain();
  }

  /** Grants an app every permission its live manifest requests (the owner approved them). @returns the granted list. */
  grantRequested(appId: string): string[] {
    const app = this.apps.resolve(appId);
    const manifest = app?.currentVersion != null ? this.apps.manifest(app.id, app.currentVersion) : undefined;
    const wanted = manifest?.permissions ?? [];
    if (app && wanted.length) this.permissions.grant(app.id, wanted);
    return wanted;
  }

  /** Serves an app's `/api/…` path through the runtime. */
  private serveApi(request: Request, app: { id: string; version: number | null; name: string }, pathname: string, mount: { basePath: string; headers: Record<string, string> }): Promise<Response> | Response {
    if (!this.runtime) {
      return new Response(JSON.stringify({ error: { code: 'NO_HANDLER', message: 'This node runs no serverless code (no runtime configured).' } }), {
        status: 501,
        headers: { 'content-type': 'application/json; charset=utf-8', ...mount.headers },
      });
    }
    return this.runtime.handleRequest(request, app, pathname, mount);
  }

  /** Removes blobs and chunks nothing references (after app removal, crashed deploys). */
  collectGarbage(): { blobs: number; chunks: number } | undefined {
    return this.blobs.collectGarbage();
  }

  /** The app alias a hostname addresses (`blog.localhost` → `blog`), or `undefined` for the node's own host. */
  aliasForHost(hostname: string): string | undefined {
    const h = hostname.toLowerCase().replace(/\.$/, '');
    const suffix = '.' + this.domain;
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
  appOriginFor(request: Request, url: URL, name: string): string | undefined {
    if (request.headers.get('sec-fetch-mode') !== 'navigate' || request.headers.get('sec-fetch-dest') !== 'document') return undefined;
    const host = url.hostname.toLowerCase();
    const loopback = /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]';
    if (host !== this.domain && !(this.domain === 'localhost' && loopback)) return undefined;
    return `${url.protocol}//${name}.${this.domain}${url.port ? ':' + url.port : ''}`;
  }

  /**
   * Handles one HTTP request. Never throws: failures become JSON (API) or HTML (pages) errors.
   * @param request a Fetch API request with an absolute URL whose host is the `Host` the client used.
   * @param ctx host-known facts (peer address).
   */
  async fetch(request: Request, ctx: RequestContext = {}): Promise<Response> {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return htmlPage(400, 'Bad request', 'Malformed URL.');
    }
    try {
      const alias = this.aliasForHost(url.hostname);
      if (alias !== undefined) {
        const app = this.apps.lookupLive(alias);
        if (!app) return htmlPage(404, 'No such app', `No app is called “${escapeHtml(alias)}” on this node.`);
        if (isApiPath(url.pathname)) return await this.serveApi(request, app, url.pathname, { basePath: '', headers: {} });
        return serveApp(request, this, app, url.pathname, { basePath: '', headers: {} });
      }
      const p = url.pathname;
      if (p === '/api' || p.startsWith('/api/')) return await handleApi(this, request, url, ctx);
      if (p === '/a' || p.startsWith('/a/')) {
        const rest = p.slice(3);
        const slash = rest.indexOf('/');
        const name = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
        const app = name ? this.apps.lookupLive(name) : undefined;
        if (!app) return htmlPage(404, 'No such app', `No app is called “${escapeHtml(name)}” on this node.`, PATH_APP_HEADERS);
        if (slash < 0) return new Response(null, { status: 301, headers: { location: `/a/${name}/${url.search}` } });
        const own = this.appOriginFor(request, url, name);
        if (own) return new Response(null, { status: 302, headers: { location: own + rest.slice(slash) + url.search, 'cache-control': 'no-store' } });
        const inner = rest.slice(slash);
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
          return await this.serveApi(request, app, inner, { basePath: `/a/${name}`, headers: PATH_APP_HEADERS });
        }
        return serveApp(request, this, app, rest.slice(slash), {
          basePath: `/a/${name}`,
          headers: PATH_APP_HEADERS,
        });
      }
      const custom = this.options.dashboard && (await this.options.dashboard(request, url));
      if (custom) return custom;
      if (p === '/' || p === '/index.html' || p === '/setup' || p === '/login') {
        return new Response(request.method === 'HEAD' ? null : DASHBOARD_HTML, {
          headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', ...NODE_HEADERS },
        });
      }
      return htmlPage(404, 'Not found', `Nothing at <code>${escapeHtml(p)}</code>. Apps live at <code>/a/&lt;name&gt;/</code>.`, NODE_HEADERS);
    } catch (e) {
      this.ports.logger.error('request failed', { url: request.url, error: String((e as Error)?.stack ?? e) });
      return url.pathname.startsWith('/api') ? errorResponse(e) : htmlPage(500, 'Something went wrong', 'The node could not answer this request; the error was logged.');
    }
  }
}

/** True for an app path served by its server code: `/api` and below. */
function isApiPath(p: string): boolean {
  return p === '/api' || p.startsWith('/api/');
}

/** Creates a kernel on an open cartridge. */
export function createKernel(options: KernelOptions): Kernel {
  const { cartridge, ...rest } = options;
  return new Kernel(cartridge, rest);
}
