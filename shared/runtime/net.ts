import { FaztError } from '../errors.js';
import { allowsNetHost, isPrivateAddress } from '../apps/permissions.js';
import { readCapped } from '../lib/read-capped.js';

/**
 * `fazt.net.fetch`: outbound HTTP for app code, only to hosts the owner allowed (`net:<host>`
 * permissions), with a timeout, a response size cap and no private-range targets unless a
 * permission names that host exactly. Redirects are followed by hand (at most 5) so every hop is
 * checked again.
 */

/** One outbound request, as the sandbox describes it. */
export interface NetRequest {
  url: string;
  method: string;
  headers: [string, string][];
  body?: Uint8Array;
  /** ms; clamped to {@link NetLimits.maxTimeoutMs}. */
  timeout?: number;
  redirect?: 'follow' | 'manual' | 'error';
}

/** The response handed back to the sandbox. */
export interface NetResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  url: string;
  redirected: boolean;
  body: Uint8Array;
}

/** Limits of outbound requests. */
export interface NetLimits {
  /** Default timeout, ms (10 s). */
  timeoutMs: number;
  /** Largest timeout an app may ask for, ms (30 s). */
  maxTimeoutMs: number;
  /** Largest response body, bytes (10 MiB). */
  maxResponseBytes: number;
}

/** Defaults of {@link NetLimits}. */
export const DEFAULT_NET_LIMITS: NetLimits = { timeoutMs: 10_000, maxTimeoutMs: 30_000, maxResponseBytes: 10 * 1024 * 1024 };

/**
 * Resolves a host name to its addresses, so private targets can be refused. Hosts without DNS
 * access (the browser) omit it: then only IP-literal hosts are checked.
 */
export type ResolveHost = (hostname: string) => Promise<string[]>;

const IP_LITERAL = /^(\d{1,3}(\.\d{1,3}){3}|\[?[0-9a-fA-F:.]+\]?)$/;

/**
 * Performs `req` for an app holding `permissions` (requested ∩ granted).
 * @throws FaztError `PERMISSION_DENIED` (host not allowed, or private address), `INVALID_ARGUMENT`
 *   (bad URL or scheme), `LIMIT_EXCEEDED` (response too large), `APP_TIMEOUT` (timeout),
 *   `UPSTREAM_FAILED` (connection errors).
 */
export async function netFetch(req: NetRequest, permissions: readonly string[], limits: NetLimits, resolve?: ResolveHost, fetchImpl: typeof fetch = fetch): Promise<NetResponse> {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    throw new FaztError('INVALID_ARGUMENT', `fazt.net.fetch: "${req.url}" is not an absolute URL`);
  }
  const timeout = Math.min(Math.max(1, req.timeout ?? limits.timeoutMs), limits.maxTimeoutMs);
  const signal = AbortSignal.timeout(timeout);
  let method = req.method.toUpperCase();
  let body = req.body;
  for (let hop = 0; ; hop++) {
    await checkTarget(url, permissions, resolve);
    let res: Response;
    try {
      res = await fetchImpl(url, { method, headers: req.headers, body: body as BodyInit | undefined, redirect: 'manual', signal });
    } catch (e) {
      if (signal.aborted) throw new FaztError('APP_TIMEOUT', `fazt.net.fetch ${url.origin}: no response within ${timeout} ms`);
      throw new FaztError('UPSTREAM_FAILED', `fazt.net.fetch ${url.origin} failed: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location && req.redirect !== 'manual') {
      await res.body?.cancel();
      if (req.redirect === 'error') throw new FaztError('UPSTREAM_FAILED', `fazt.net.fetch ${url.href} redirected to ${location} (redirect: "error")`);
      if (hop >= 5) throw new FaztError('UPSTREAM_FAILED', `fazt.net.fetch ${req.url}: more than 5 redirects`);
      url = new URL(location, url);
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      continue;
    }
    const bytes = await readResponse(res, limits.maxResponseBytes, url, signal, timeout);
    return {
      status: res.status,
      statusText: res.statusText,
      headers: [...res.headers],
      url: url.href,
      redirected: hop > 0,
      body: bytes,
    };
  }
}

async function checkTarget(url: URL, permissions: readonly string[], resolve?: ResolveHost): Promise<void> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FaztError('INVALID_ARGUMENT', `fazt.net.fetch: only http and https URLs, not ${url.protocol}`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const allowed = allowsNetHost(permissions, host);
  if (!allowed) {
    throw new FaztError('PERMISSION_DENIED', `fazt.net.fetch: this app may not reach ${host}. The owner can allow it by adding "net:${host}" to the app's permissions in app.json and granting it.`);
  }
  if (allowed === 'explicit') return;
  const addresses = IP_LITERAL.test(host) ? [host] : resolve ? await resolve(host).catch(() => []) : [];
  const priv = addresses.find((a) => isPrivateAddress(a));
  if (priv) {
    throw new FaztError('PERMISSION_DENIED', `fazt.net.fetch: ${host} is a private address (${priv}); only a permission naming it exactly ("net:${host}") allows that.`);
  }
}

async function readResponse(res: Response, max: number, url: URL, signal: AbortSignal, timeout: number): Promise<Uint8Array> {
  try {
    return await readCapped(res, max, `fazt.net.fetch ${url.origin}: the response`);
  } catch (e) {
    if (e instanceof FaztError) {
      if (!res.bodyUsed) await res.body?.cancel().catch(() => {});
      throw e;
    }
    if (signal.aborted) throw new FaztError('APP_TIMEOUT', `fazt.net.fetch ${url.origin}: the response did not finish within ${timeout} ms`);
    throw new FaztError('UPSTREAM_FAILED', `fazt.net.fetch ${url.origin}: ${(e as Error).message}`);
  }
}
