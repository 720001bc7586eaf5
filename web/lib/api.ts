/**
 * The dashboard's client of the admin API (docs/api.md), for either node it can act on:
 * the hub that served the page (`/api/…`) or the node in this browser's service worker
 * (`/~device/api/…`, which the service worker hands to its own kernel).
 */
import type {
  AppDetail,
  AppInfo,
  BlobsPage,
  ConflictInfo,
  DeployInfo,
  DocsPage,
  HealthInfo,
  KvPage,
  LogEntry,
  MeshIdentityInfo,
  MeshInvitationInfo,
  MeshJoinResult,
  MeshPeerInfo,
  SessionInfo,
  SetupInfo,
  StorageSummary,
  EgressInfo,
  SyncPeerStatus,
  TokenInfo,
  VersionInfo,
} from './api-types.js';

/** Which node a call goes to: `hub` = the headless node that served this page, `device` = the node in this browser. */
export type NodeTarget = 'hub' | 'device';

/** The path prefix of a node's admin API. */
export function apiBase(target: NodeTarget): string {
  return target === 'hub' ? '/api' : '/~device/api';
}

/** The path where a node serves an app (with a trailing slash). */
export function appPath(target: NodeTarget, name: string): string {
  return `${target === 'hub' ? '' : '/~device'}/a/${encodeURIComponent(name)}/`;
}

/**
 * An API failure with the node's stable error `code` (`APP_NOT_FOUND`, `UNAUTHORIZED`…) and a
 * message a person can act on. `code` is `NETWORK` when the node could not be reached at all.
 */
export class ApiError extends Error {
  /**
   * @param code the API's error code, or `NETWORK` / `BAD_RESPONSE` for failures before an answer.
   * @param status the HTTP status (0 when there was no answer).
   */
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** What a person sees when a node does not answer. */
export function unreachableMessage(target: NodeTarget): string {
  return target === 'hub'
    ? `Cannot reach the hub at ${location.host}. Check that it is running and that this device is on the same network.`
    : 'The node on this device is not running yet (its service worker did not answer). Reload the page; if that does not help, open Settings.';
}

/** Turns a non-2xx answer into an {@link ApiError} with the API's own message when it sent one. */
async function errorFrom(res: Response, target: NodeTarget): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return new ApiError(body.error.code ?? 'ERROR', body.error.message, res.status);
  } catch {
    // not JSON: a proxy, an old node or a crash
  }
  if (res.status === 502 || res.status === 503 || res.status === 504) return new ApiError('NETWORK', unreachableMessage(target), res.status);
  return new ApiError('BAD_RESPONSE', `The node answered ${res.status} ${res.statusText || ''} without an explanation. Try again; if it keeps happening, look at the node's log.`.replace(/ {2}/g, ' '), res.status);
}

/** Progress of a deploy, for a progress bar. */
export interface DeployProgress {
  /** `upload`: bytes are being sent; `install`: the node is unpacking and storing them. */
  phase: 'upload' | 'install';
  /** 0…1 for the upload; undefined while installing (indeterminate). */
  fraction?: number;
  /** Plain words for the current phase. */
  label: string;
}

/** Options of {@link FaztApi.deploy}. */
export interface DeployOptions {
  /** App name; default: the `name` in the upload's `app.json`. */
  name?: string;
  /** Called as the deploy moves on. */
  onProgress?: (p: DeployProgress) => void;
  /** Aborts the upload. */
  signal?: AbortSignal;
}

/** Live log state reported by {@link FaztApi.followLogs}. */
export type FollowState = 'connecting' | 'live' | 'reconnecting' | 'ended';

/** A source of live log entries for a node, for targets that cannot use server-sent events. */
export type LogFollower = (app: AppInfo, onEntry: (e: LogEntry) => void, onState: (s: FollowState) => void) => () => void;

/**
 * A typed client of one node's admin API. All methods reject with {@link ApiError}.
 * Cookie sessions are the browser's: the hub's `fazt_session` cookie is sent with same-origin calls.
 */
export class FaztApi {
  /**
   * @param target the node to talk to.
   * @param options.deviceLogs live logs of the device node (the service worker cannot hold an
   *   event stream open reliably, so they come over the device link instead).
   */
  constructor(
    readonly target: NodeTarget,
    private readonly options: { deviceLogs?: LogFollower; fetch?: typeof fetch } = {},
  ) {}

  private skew = 0;

  /**
   * The node's clock minus this device's, ms, from the HTTP `Date` header of its last answer (RFC 9110
   * §6.6.1; whole seconds, so ±1 s); 0 until an answer carried one (this device's own node shares its
   * clock). Times the node reports (a peer's `lastSeen`) minus this are on this device's clock.
   */
  get clockSkewMs(): number {
    return this.skew;
  }

  private noteClock(res: Response): void {
    const date = Date.parse(res.headers.get('date') ?? '');
    if (Number.isFinite(date)) this.skew = date - Date.now();
  }

  /** `${apiBase}${path}`. */
  url(path: string): string {
    return apiBase(this.target) + path;
  }

  /**
   * One JSON call. Writes send JSON; every answer is parsed as JSON.
   * @throws ApiError with the node's message, or `NETWORK` when it could not be reached.
   */
  async call<T>(method: string, path: string, body?: unknown, init: { signal?: AbortSignal } = {}): Promise<T> {
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(this.url(path), {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        signal: init.signal,
      });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new ApiError('NETWORK', unreachableMessage(this.target), 0);
    }
    this.noteClock(res);
    if (!res.ok) throw await errorFrom(res, this.target);
    try {
      return (await res.json()) as T;
    } catch {
      throw new ApiError('BAD_RESPONSE', 'The node sent an answer the dashboard cannot read. Reload the page; the node may have been updated.', res.status);
    }
  }

  /** Whether the node answers, within `timeoutMs`. */
  async health(timeoutMs = 4000): Promise<HealthInfo> {
    return this.call<HealthInfo>('GET', '/health', undefined, { signal: AbortSignal.timeout(timeoutMs) });
  }

  /** Who the browser is to this node. */
  session(): Promise<SessionInfo> {
    return this.call('GET', '/session');
  }

  /** Whether the node has an owner, and whether setting one up from here needs the setup code. */
  setupInfo(): Promise<SetupInfo> {
    return this.call('GET', '/setup');
  }

  /** Creates the owner (first run) and signs in. */
  setup(password: string, code?: string): Promise<{ ok: true }> {
    return this.call('POST', '/setup', code ? { password, code } : { password });
  }

  /** Signs the owner in (sets the session cookie). */
  login(password: string): Promise<{ ok: true; expiresAt: number }> {
    return this.call('POST', '/login', { password });
  }

  /**
   * Signs the owner in with a one-time code printed by `fazt owner login-code` on the node's machine
   * (accepted even while password sign-in is rate limited; each code works once).
   */
  loginWithCode(code: string): Promise<{ ok: true; expiresAt: number }> {
    return this.call('POST', '/login', { code });
  }

  /** Ends the session. */
  logout(): Promise<{ ok: true }> {
    return this.call('POST', '/logout');
  }

  /** Every app, by name. */
  async apps(): Promise<AppInfo[]> {
    const r = await this.call<{ apps: AppInfo[] }>('GET', '/apps');
    return r.apps.sort((a, b) => (a.title || a.name).localeCompare(b.title || b.name));
  }

  /** One app with its live manifest. */
  app(name: string): Promise<AppDetail> {
    return this.call('GET', `/apps/${encodeURIComponent(name)}`);
  }

  /** An app's versions, newest first. */
  async versions(name: string): Promise<VersionInfo[]> {
    const r = await this.call<{ versions: VersionInfo[] }>('GET', `/apps/${encodeURIComponent(name)}/versions`);
    return r.versions.sort((a, b) => b.version - a.version);
  }

  /** Makes a version that waits for the owner's approval live (`POST /api/apps/:app/approve`, admin). */
  approve(name: string, version: number): Promise<{ from: number | null; to: number }> {
    return this.call('POST', `/apps/${encodeURIComponent(name)}/approve`, { version });
  }

  /** Makes `version` (default: the one before the live one) live. */
  rollback(name: string, version?: number): Promise<{ from: number; to: number }> {
    return this.call('POST', `/apps/${encodeURIComponent(name)}/rollback`, version === undefined ? {} : { version });
  }

  /** Removes an app and its files. */
  removeApp(name: string): Promise<{ removed: { id: string; name: string } }> {
    return this.call('DELETE', `/apps/${encodeURIComponent(name)}`);
  }

  /** The last `limit` log entries of an app, oldest first. */
  async logs(name: string, limit = 200): Promise<LogEntry[]> {
    return (await this.call<{ logs: LogEntry[] }>('GET', `/apps/${encodeURIComponent(name)}/logs?limit=${limit}`)).logs;
  }

  /**
   * Follows an app's log live: the hub's server-sent events (`?follow=1`; `EventSource` reconnects
   * by itself with `Last-Event-ID`), or the device link for this device.
   * @returns a function that stops following.
   */
  followLogs(app: AppInfo, onEntry: (e: LogEntry) => void, onState: (s: FollowState) => void): () => void {
    if (this.target === 'device') {
      if (!this.options.deviceLogs) {
        onState('ended');
        return () => {};
      }
      return this.options.deviceLogs(app, onEntry, onState);
    }
    onState('connecting');
    const es = new EventSource(this.url(`/apps/${encodeURIComponent(app.name)}/logs?follow=1&limit=200`));
    es.onopen = () => onState('live');
    es.onerror = () => onState(es.readyState === EventSource.CLOSED ? 'ended' : 'reconnecting');
    es.onmessage = (ev) => {
      try {
        onEntry(JSON.parse(ev.data) as LogEntry);
      } catch {
        // a malformed event is skipped
      }
    };
    return () => es.close();
  }

  /** The app's egress quota for `fazt.net.fetch` and this month's use. */
  egress(name: string): Promise<EgressInfo> {
    return this.call('GET', `/apps/${encodeURIComponent(name)}/egress`);
  }

  /** What an app stores: kv key count, collections, blobs. */
  storage(name: string): Promise<StorageSummary> {
    return this.call('GET', `/apps/${encodeURIComponent(name)}/storage`);
  }

  /** A page of an app's kv entries. */
  kv(name: string, opts: { prefix?: string; cursor?: string; limit?: number } = {}): Promise<KvPage> {
    return this.call('GET', `/apps/${encodeURIComponent(name)}/kv${query(opts)}`);
  }

  /** A page of one collection's documents. */
  documents(name: string, collection: string, opts: { offset?: number; limit?: number } = {}): Promise<DocsPage> {
    return this.call('GET', `/apps/${encodeURIComponent(name)}/docs/${encodeURIComponent(collection)}${query(opts)}`);
  }

  /** A page of an app's blobs (metadata). */
  blobs(name: string, opts: { prefix?: string; cursor?: string; limit?: number } = {}): Promise<BlobsPage> {
    return this.call('GET', `/apps/${encodeURIComponent(name)}/blobs${query(opts)}`);
  }

  /** API tokens (never their secrets). */
  async tokens(): Promise<TokenInfo[]> {
    return (await this.call<{ tokens: TokenInfo[] }>('GET', '/tokens')).tokens;
  }

  /** Creates a token; its secret is in the answer, once. */
  createToken(scope: 'deploy' | 'admin', name: string): Promise<TokenInfo & { token: string }> {
    return this.call('POST', '/tokens', { scope, name });
  }

  /** Revokes a token. */
  revokeToken(id: string): Promise<{ ok: true }> {
    return this.call('DELETE', `/tokens/${encodeURIComponent(id)}`);
  }

  /** This node's mesh identity: id, name, public key (`GET /api/mesh`). */
  meshId(): Promise<MeshIdentityInfo> {
    return this.call('GET', '/mesh');
  }

  /**
   * Renames this node (`PUT /api/mesh`); its id stays.
   * @throws ApiError `INVALID_ARGUMENT` for an empty name or one over 64 characters.
   */
  renameNode(name: string): Promise<MeshIdentityInfo> {
    return this.call('PUT', '/mesh', { name });
  }

  /**
   * Makes a single-use invitation (`POST /api/mesh/invitations`); `ttlMs` 10 s – 1 h, default 10 min.
   * `direct`: its code also carries a WebRTC offer (docs/mesh.md "Pairing with no reachable server");
   * the joiner answers with an `FZA…` code for {@link acceptAnswer}.
   */
  invite(ttlMs?: number, opts: { direct?: boolean } = {}): Promise<MeshInvitationInfo> {
    return this.call('POST', '/mesh/invitations', { ...(ttlMs === undefined ? {} : { ttlMs }), ...(opts.direct ? { direct: true } : {}) });
  }

  /**
   * Takes the answer code (`FZA…`) of a device that joined this node's direct invitation
   * (`POST /api/mesh/invitations/answer`); resolves once the two are paired and linked.
   * @throws ApiError `INVALID_INVITATION` (400: damaged or not an answer), `INVITATION_EXPIRED` (410),
   *   `INVITATION_USED` (409), `PAIRING_FAILED` (403), `PEER_UNREACHABLE` (502: no data channel within 20 s).
   */
  acceptAnswer(answer: string): Promise<{ peer: { nodeId: string; name: string } }> {
    return this.call('POST', '/mesh/invitations/answer', { answer });
  }

  /**
   * Joins the node that made an invitation (`POST /api/mesh/join`).
   * @param invitation the `FZ1…` code or the 12 words, as typed or scanned.
   * @param peer the inviter's base URL (`http://192.168.1.20:8080`) when the invitation's own addresses are not reachable.
   * @returns `{peer}` once paired (201); or, for a direct invitation (its code carries a WebRTC offer),
   *   `{answer, inviter, expiresAt}` at once (202): the answer code (`FZA…`) the inviting node must take
   *   (`fazt mesh accept`) before `expiresAt` (ms since the epoch, the node's clock); the pairing completes then.
   * @throws ApiError `INVALID_INVITATION` (400; its message names a mistyped word), `INVITATION_EXPIRED` (410),
   *   `INVITATION_USED` (409), `PAIRING_FAILED` (403), `PEER_UNREACHABLE` (502: no address answered),
   *   `NOT_READY` (503: a direct invitation on the browser node with no dashboard page holding the mesh relay).
   */
  join(invitation: string, peer?: string, init: { signal?: AbortSignal } = {}): Promise<MeshJoinResult> {
    return this.call('POST', '/mesh/join', peer ? { invitation, peer } : { invitation }, init);
  }

  /** The paired nodes with their link state (`GET /api/mesh/peers`). */
  async peers(): Promise<MeshPeerInfo[]> {
    return (await this.call<{ peers: MeshPeerInfo[] }>('GET', '/mesh/peers')).peers;
  }

  /** Per paired peer: connected, last sync, pending each way (`GET /api/sync/status`, docs/api.md "Sync"). */
  syncStatus(init: { signal?: AbortSignal } = {}): Promise<SyncPeerStatus[]> {
    return this.call('GET', '/sync/status', undefined, init);
  }

  /**
   * A full catch-up both ways with every connected peer, waited for (`POST /api/sync/now`).
   * @param timeoutMs how long the node waits for the peers, ms (1–120000).
   * @returns per peer whether it finished in time, and the status after.
   * @throws ApiError `BAD_REQUEST` for a `timeoutMs` out of range.
   */
  syncNow(timeoutMs = 30_000): Promise<{ peers: { nodeId: string; ok: boolean }[]; status: SyncPeerStatus[] }> {
    return this.call('POST', '/sync/now', { timeoutMs });
  }

  /** The open conflicts, newest first (`GET /api/conflicts`); with `all`, resolved ones too. */
  conflicts(opts: { all?: boolean; limit?: number } = {}): Promise<ConflictInfo[]> {
    const q = new URLSearchParams();
    if (opts.all) q.set('all', '1');
    if (opts.limit) q.set('limit', String(opts.limit));
    const qs = q.toString();
    return this.call('GET', `/conflicts${qs ? `?${qs}` : ''}`);
  }

  /**
   * Resolves a conflict (`POST /api/conflicts/:id/resolve`): `winner` keeps the value applied
   * everywhere; `loser` writes the losing value again, so it wins on every node.
   * @returns the conflict with its `resolution`.
   * @throws ApiError `NOT_FOUND` (no such conflict), `CONFLICT` (409: a losing blob's bytes are gone).
   */
  resolveConflict(id: string, keep: 'winner' | 'loser'): Promise<ConflictInfo> {
    return this.call('POST', `/conflicts/${encodeURIComponent(id)}/resolve`, { keep });
  }

  /**
   * Unpairs a node (`DELETE /api/mesh/peers/:id`): it is forgotten and refused from now on (it is told when a link is open).
   * @throws ApiError `NOT_PAIRED` when it is not paired.
   */
  unpair(nodeId: string): Promise<{ unpaired: string }> {
    return this.call('DELETE', `/mesh/peers/${encodeURIComponent(nodeId)}`);
  }

  /**
   * Deploys a zip as a new version. To the hub with `XMLHttpRequest` (its upload progress drives
   * the bar); to this device with `fetch` (the bytes never leave the browser, so there are phases
   * instead of a percentage).
   * @throws ApiError with the node's message (`INVALID_MANIFEST`, `UNSAFE_PATH`, `PAYLOAD_TOO_LARGE`…).
   */
  deploy(zip: Blob, opts: DeployOptions = {}): Promise<DeployInfo> {
    const path = `/apps${opts.name ? `?name=${encodeURIComponent(opts.name)}` : ''}`;
    return this.target === 'hub' ? this.deployXhr(zip, path, opts) : this.deployFetch(zip, path, opts);
  }

  private deployXhr(zip: Blob, path: string, opts: DeployOptions): Promise<DeployInfo> {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', this.url(path));
      xhr.setRequestHeader('content-type', 'application/zip');
      xhr.responseType = 'text';
      const report = opts.onProgress ?? (() => {});
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) report({ phase: 'upload', fraction: e.loaded / e.total, label: `Uploading: ${Math.floor((100 * e.loaded) / e.total)} %` });
      };
      xhr.upload.onload = () => report({ phase: 'install', label: 'Installing on the hub…' });
      xhr.onload = () => {
        const res = new Response(xhr.status === 204 ? null : xhr.responseText, { status: xhr.status, statusText: xhr.statusText });
        if (xhr.status >= 200 && xhr.status < 300) res.json().then(resolve, () => reject(new ApiError('BAD_RESPONSE', 'The hub accepted the upload but sent an unreadable answer. Check the app list.', xhr.status)));
        else errorFrom(res, this.target).then(reject);
      };
      xhr.onerror = () => reject(new ApiError('NETWORK', `The upload to the hub at ${location.host} broke off. Check the connection and try again; nothing was changed.`, 0));
      xhr.onabort = () => reject(new ApiError('ABORTED', 'The upload was cancelled; nothing was changed.', 0));
      opts.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
      report({ phase: 'upload', fraction: 0, label: 'Uploading: 0 %' });
      xhr.send(zip);
    });
  }

  private async deployFetch(zip: Blob, path: string, opts: DeployOptions): Promise<DeployInfo> {
    opts.onProgress?.({ phase: 'upload', fraction: 1, label: 'Handing the app to this device…' });
    opts.onProgress?.({ phase: 'install', label: 'Installing on this device…' });
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(this.url(path), { method: 'POST', headers: { 'content-type': 'application/zip' }, body: zip, signal: opts.signal });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw new ApiError('ABORTED', 'The deploy was cancelled; nothing was changed.', 0);
      throw new ApiError('NETWORK', unreachableMessage(this.target), 0);
    }
    if (!res.ok) throw await errorFrom(res, this.target);
    return (await res.json()) as DeployInfo;
  }
}

/** `?a=1&b=2` of the defined values, or `''`. */
function query(o: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}
