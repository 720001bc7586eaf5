import { FaztError } from '../errors.js';
import type { Cartridge } from '../cartridge/index.js';
import { getMeta, setMeta } from '../cartridge/index.js';
import type { KernelPorts } from '../ports.js';
import { randomBytes, toBase64Url } from '../lib/encoding.js';
import { assertPasswordAcceptable, hashPassword, verifyPassword } from './passwords.js';
import { LoginRateLimiter } from './rate-limit.js';
import { LoginCodes } from './login-codes.js';
import { APP_NAME_PATTERN } from '../apps/names.js';
import { checkTokenApps } from './app-scope.js';

export { LoginRateLimiter, sourceKey, normalizeAddress } from './rate-limit.js';
export { LOGIN_CODE_TTL_MS, normalizeLoginCode } from './login-codes.js';
export { mayUseApp, assertMayUseApp, deployNeedsApproval, MAX_TOKEN_APPS, type ScopedApp } from './app-scope.js';
export { hashPassword, verifyPassword, PASSWORD_PARAMS, MIN_PASSWORD_LENGTH } from './passwords.js';

/**
 * Token scopes. `admin` can do everything; `deploy` can deploy, read app metadata and roll back.
 * `mcp` reaches only the MCP endpoint (`/mcp`, docs/mcp.md) and there calls every tool of the
 * kernel's catalogue (`shared/tools/`); `mcp-read` reaches it too but calls only the read-only tools.
 * Neither MCP scope opens any admin API route.
 */
export type TokenScope = 'deploy' | 'admin' | 'mcp' | 'mcp-read';

/** Every token scope, in the order the CLI and the docs list them. */
export const TOKEN_SCOPES: readonly TokenScope[] = ['deploy', 'admin', 'mcp', 'mcp-read'];

/** True for one of {@link TOKEN_SCOPES}. */
export function isTokenScope(s: unknown): s is TokenScope {
  return (TOKEN_SCOPES as readonly unknown[]).includes(s);
}

/** Who is making a request. */
export interface Principal {
  /** How they proved it. */
  kind: 'session' | 'token';
  /** Effective scope. Owner sessions are `admin`. */
  scope: TokenScope;
  /** The user (sessions). */
  userId?: string;
  /** The token id (tokens). */
  tokenId?: string;
  /**
   * App names a deploy token is limited to (see `app-scope.ts`); absent: every app. Only deploy
   * tokens carry a list.
   */
  apps?: string[];
}

/** A token as listed (never its secret). */
export interface TokenRecord {
  id: string;
  name: string;
  scope: TokenScope;
  /** ms since epoch. */
  createdAt: number;
  /** ms since epoch, or null. */
  lastUsedAt: number | null;
  /** App names a deploy token is limited to, or null for every app. */
  apps: string[] | null;
}

/** Name of the session cookie. */
export const SESSION_COOKIE = 'fazt_session';
/** Prefix of API tokens, so secret scanners can spot leaked ones. */
export const TOKEN_PREFIX = 'fazt_';

/**
 * Owner account, sessions and API tokens.
 *
 * - Passwords: scrypt (see `passwords.ts`).
 * - Sessions: 256-bit random ids, stored hashed (SHA-256), sent as an HttpOnly, SameSite=Strict
 *   host-only cookie on `Path=/api`: the browser never sends it to app paths or app subdomains.
 * - Tokens: `fazt_` + 256-bit random, stored hashed; scope checked on every request.
 * - Password logins are rate limited per source address (see {@link LoginRateLimiter}); one-time
 *   login codes made on the machine ({@link AuthService.createLoginCode}) are not, so nobody can lock
 *   the owner out.
 */
export class AuthService {
  /** Login failure limiter (per source address). */
  readonly limiter: LoginRateLimiter;
  private readonly codes: LoginCodes;

  constructor(
    private readonly cart: Cartridge,
    private readonly ports: Pick<KernelPorts, 'scrypt' | 'sha256'>,
    /** Session lifetime, ms. Default 30 days. */
    readonly sessionTtlMs = 30 * 24 * 3600_000,
  ) {
    this.limiter = new LoginRateLimiter(10, 15 * 60_000, () => cart.clock.now());
    this.codes = new LoginCodes(cart, (s) => this.hash(s));
  }

  private hash(secret: string): string {
    return this.ports.sha256().update(new TextEncoder().encode(secret)).digestHex();
  }

  /** True once the owner account exists. */
  hasOwner(): boolean {
    return !!this.cart.db.get("SELECT 1 FROM users WHERE role = 'owner' AND deleted = 0");
  }

  /**
   * The one-time code that authorizes first-run setup from another machine (printed by the node at
   * start; setup from the node's own machine needs no code). Created on first call.
   */
  setupCode(): string {
    let code = getMeta(this.cart.db, 'setup_code');
    if (!code) {
      code = toBase64Url(randomBytes(9));
      setMeta(this.cart.db, 'setup_code', code);
    }
    return code;
  }

  /**
   * Creates the owner account (first run only).
   * @throws FaztError `ALREADY_SET_UP`, `BAD_REQUEST` (weak password).
   */
  async setupOwner(password: unknown, username = 'owner'): Promise<{ userId: string }> {
    if (this.hasOwner()) throw new FaztError('ALREADY_SET_UP', 'This node already has an owner. Sign in instead.');
    assertPasswordAcceptable(password);
    const hashed = await hashPassword(this.ports, password);
    const id = crypto.randomUUID();
    this.cart.db.transaction(() => {
      if (this.hasOwner()) throw new FaztError('ALREADY_SET_UP', 'This node already has an owner. Sign in instead.');
      this.cart.db.run(
        "INSERT INTO users (id, username, role, password_hash, created_at, deleted, hlc, node_id) VALUES (?, ?, 'owner', ?, ?, 0, ?, ?)",
        [id, username, hashed, this.cart.clock.now(), this.cart.hlc.now(), this.cart.nodeId],
      );
      setMeta(this.cart.db, 'setup_code', null);
    });
    return { userId: id };
  }

  /**
   * Changes the owner's password (CLI `fazt owner password`, works on a cartridge file offline).
   * @throws FaztError `NOT_SET_UP`, `BAD_REQUEST`.
   */
  async setOwnerPassword(password: unknown): Promise<void> {
    assertPasswordAcceptable(password);
    const owner = this.cart.db.get<{ id: string }>("SELECT id FROM users WHERE role = 'owner' AND deleted = 0");
    if (!owner) throw new FaztError('NOT_SET_UP', 'This node has no owner yet.');
    const hashed = await hashPassword(this.ports, password);
    this.cart.db.transaction(() => {
      this.cart.db.run('UPDATE users SET password_hash = ?, hlc = ?, node_id = ? WHERE id = ?', [hashed, this.cart.hlc.now(), this.cart.nodeId, owner.id]);
      this.cart.db.run('DELETE FROM sessions WHERE user_id = ?', [owner.id]);
    });
  }

  /**
   * Makes a one-time owner login code (CLI `fazt owner login-code`, on the machine): valid 10 minutes,
   * single use, stored hashed. See `login-codes.ts`.
   * @returns the code to show (`XXXX-XXXX-XXXX-XXXX`) and its expiry, ms since epoch.
   * @throws FaztError `NOT_SET_UP` when there is no owner yet.
   */
  createLoginCode(): { code: string; expiresAt: number } {
    if (!this.hasOwner()) throw new FaztError('NOT_SET_UP', 'This node has no owner yet: open the dashboard to set it up (or run `fazt owner password`).');
    return this.codes.create();
  }

  /**
   * Signs the owner in with a one-time login code and spends it. Not rate limited (80 random bits,
   * 10 minutes): it works while the password route is limited.
   * @returns the raw session id and its expiry (ms since epoch).
   * @throws FaztError `UNAUTHORIZED` for an unknown, expired or used code, `BAD_REQUEST`, `NOT_SET_UP`.
   */
  loginWithCode(code: unknown): { session: string; expiresAt: number } {
    const owner = this.cart.db.get<{ id: string }>("SELECT id FROM users WHERE role = 'owner' AND deleted = 0");
    if (!owner) throw new FaztError('NOT_SET_UP', 'This node has no owner yet: open the dashboard to set it up.');
    if (!this.codes.redeem(code)) {
      throw new FaztError('UNAUTHORIZED', 'That login code is wrong, expired (codes last 10 minutes) or already used. Run `fazt owner login-code` on the node’s machine for a new one.');
    }
    return this.openSession(owner.id);
  }

  /**
   * Checks the owner's password and opens a session.
   * @param peer the request's source address as the host computed it (rate-limit key).
   * @returns the raw session id (to put in the cookie) and its expiry (ms since epoch).
   * @throws FaztError `RATE_LIMITED` (with `retryAfterSeconds`), `UNAUTHORIZED`, `NOT_SET_UP`.
   */
  async login(password: unknown, peer: string): Promise<{ session: string; expiresAt: number }> {
    const wait = this.limiter.retryAfter(peer);
    if (wait > 0) {
      throw new FaztError('RATE_LIMITED', `Too many failed sign-ins. Try again in ${wait} s, or sign in with a one-time code: run \`fazt owner login-code\` on the node’s machine.`, {
        retryAfterSeconds: wait,
      });
    }
    const owner = this.cart.db.get<{ id: string; password_hash: string }>("SELECT id, password_hash FROM users WHERE role = 'owner' AND deleted = 0");
    if (!owner) throw new FaztError('NOT_SET_UP', 'This node has no owner yet: open the dashboard to set it up.');
    if (typeof password !== 'string' || password.length > 1024 || !(await verifyPassword(this.ports, password, owner.password_hash))) {
      this.limiter.fail(peer);
      throw new FaztError('UNAUTHORIZED', 'Wrong password.');
    }
    this.limiter.succeed(peer);
    return this.openSession(owner.id);
  }

  /** Opens a session for a user (after setup or login). */
  openSession(userId: string): { session: string; expiresAt: number } {
    const session = toBase64Url(randomBytes(32));
    const now = this.cart.clock.now();
    const expiresAt = now + this.sessionTtlMs;
    this.cart.db.run('INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)', [this.hash(session), userId, now, expiresAt]);
    this.cart.db.run('DELETE FROM sessions WHERE expires_at < ?', [now]);
    return { session, expiresAt };
  }

  /** Ends a session (no error when unknown). */
  logout(session: string): void {
    this.cart.db.run('DELETE FROM sessions WHERE id_hash = ?', [this.hash(session)]);
  }

  /** The principal of a session id, or `undefined` when unknown or expired. */
  session(session: string): Principal | undefined {
    const r = this.cart.db.get<{ user_id: string; expires_at: number }>('SELECT user_id, expires_at FROM sessions WHERE id_hash = ?', [this.hash(session)]);
    if (!r || r.expires_at < this.cart.clock.now()) return undefined;
    return { kind: 'session', scope: 'admin', userId: r.user_id };
  }

  /**
   * Creates an API token. The secret is returned once and stored only hashed.
   * @param apps app names a deploy token is limited to (see `app-scope.ts`); absent: every app.
   * @param scope one of {@link TOKEN_SCOPES}.
   * @throws FaztError `BAD_REQUEST` for an unknown scope, a bad name, or a bad app list.
   */
  createToken(scope: unknown, name = 'token', apps?: unknown): TokenRecord & { token: string } {
    if (!isTokenScope(scope)) throw new FaztError('BAD_REQUEST', 'Token scope must be "deploy", "admin", "mcp" or "mcp-read".');
    if (typeof name !== 'string' || name.length > 100) throw new FaztError('BAD_REQUEST', 'Token name must be a string of at most 100 characters.');
    const list = checkTokenApps(scope, apps, (s) => APP_NAME_PATTERN.test(s)) ?? null;
    const token = TOKEN_PREFIX + toBase64Url(randomBytes(32));
    const id = crypto.randomUUID();
    const createdAt = this.cart.clock.now();
    this.cart.db.run('INSERT INTO api_tokens (id, token_hash, name, scope, created_at, apps) VALUES (?, ?, ?, ?, ?, ?)', [
      id,
      this.hash(token),
      name,
      scope,
      createdAt,
      list && JSON.stringify(list),
    ]);
    return { id, name, scope, createdAt, lastUsedAt: null, apps: list, token };
  }

  /** Live tokens. */
  listTokens(): TokenRecord[] {
    return this.cart.db
      .query<{ id: string; name: string; scope: TokenScope; created_at: number; last_used_at: number | null; apps: string | null }>(
        'SELECT id, name, scope, created_at, last_used_at, apps FROM api_tokens WHERE revoked_at IS NULL ORDER BY created_at',
      )
      .map((r) => ({ id: r.id, name: r.name, scope: r.scope, createdAt: r.created_at, lastUsedAt: r.last_used_at, apps: r.apps ? (JSON.parse(r.apps) as string[]) : null }));
  }

  /**
   * Revokes a token by id.
   * @throws FaztError `NOT_FOUND`.
   */
  revokeToken(id: string): void {
    const r = this.cart.db.run('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [this.cart.clock.now(), id]);
    if (r.changes === 0) throw new FaztError('NOT_FOUND', `No live token with id ${id}.`);
  }

  /**
   * The principal of a bearer token.
   * @throws FaztError `UNAUTHORIZED` when the token is malformed, unknown or revoked.
   */
  token(token: string): Principal {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) {
      throw new FaztError('UNAUTHORIZED', 'That is not a Fazt API token (they start with "fazt_"). Create one with `fazt token create`.');
    }
    const r = this.cart.db.get<{ id: string; scope: TokenScope; last_used_at: number | null; apps: string | null }>(
      'SELECT id, scope, last_used_at, apps FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL',
      [this.hash(token)],
    );
    if (!r) throw new FaztError('UNAUTHORIZED', 'Invalid or revoked API token. Create a new one with `fazt token create`.');
    const now = this.cart.clock.now();
    if (!r.last_used_at || now - r.last_used_at > 60_000) this.cart.db.run('UPDATE api_tokens SET last_used_at = ? WHERE id = ?', [now, r.id]);
    const principal: Principal = { kind: 'token', scope: r.scope, tokenId: r.id };
    if (r.apps) principal.apps = JSON.parse(r.apps) as string[];
    return principal;
  }
}
