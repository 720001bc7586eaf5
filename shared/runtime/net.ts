import { FaztError } from '../errors.js';
import { allowsNetHost, isPrivateAddress } from '../apps/permissions.js';
import { readCapped } from '../lib/read-capped.js';
import { formatBytes } from '../deploy/limits.js';
import type { EgressMeter } from '../guards/egress.js';

/**
 * `fazt.net.fetch`: outbound HTTP for app code, only to hosts the owner allowed (`net:<host>`
 * permissions), with a timeout, a response size cap and no private-range targets unless a
 * permission names that host exactly. Redirects are followed by hand (at most 5) so every hop is
 * checked again. With an {@link EgressMeter} the app's monthly egress quota is enforced too
 * (docs/safeguards.md): request and response body bytes count, and a response is no longer read
 * once it passes the quota.
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
 * @param meter the app's egress meter (shared/guards/egress.ts); absent: no quota. The request body
 *   counts once per hop after the server answered; the response body as its bytes arrive (decoded),
 *   and the read stops as soon as it passes what is left of the quota.
 * @throws FaztError `PERMISSION_DENIED` (host not allowed, or private address), `INVALID_ARGUMENT`
 *   (bad URL or scheme), `LIMIT_EXCEEDED` (response too large), `APP_TIMEOUT` (timeout),
 *   `UPSTREAM_FAILED` (connection errors), `EGRESS_QUOTA_EXCEEDED` (429: the quota is used, the
 *   request body is larger than what is left, or the response passed it; what was received counts).
 */
export async function netFetch(
  req: NetRequest,
  permissions: readonly string[],
  limits: NetLimits,
  resolve?: ResolveHost,
  fetchImpl: typeof fetch = fetch,
  meter?: EgressMeter,
): Promise<NetResponse> {
  try {
    return await fetchHops(req, permissions, limits, resolve, fetchImpl, meter);
  } finally {
    try {
      meter?.flush(); // what the call moved, in one write
    } catch {
      // the cartridge closed under the call (a node stopping): the count is lost, never the call's own outcome
    }
  }
}

async function fetchHops(req: NetRequest, permissions: readonly string[], limits: NetLimits, resolve: ResolveHost | undefined, fetchImpl: typeof fetch, meter: EgressMeter | undefined): Promise<NetResponse> {
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
    const sending = body?.byteLength ?? 0;
    let left = Infinity;
    if (meter) {
      left = meter.remaining();
      if (sending > left) throw meter.exceeded(`would send a ${formatBytes(sending)} request body to ${url.origin}, more than the ${formatBytes(left)} left`);
    }
    let res: Response;
    try {
      res = await fetchImpl(url, { method, headers: req.headers, body: body as BodyInit | undefined, redirect: 'manual', signal });
    } catch (e) {
      if (signal.aborted) throw new FaztError('APP_TIMEOUT', `fazt.net.fetch ${url.origin}: no response within ${timeout} ms`);
      throw new FaztError('UPSTREAM_FAILED', `fazt.net.fetch ${url.origin} failed: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
    }
    meter?.add('request', sending);
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
    const bytes = meter ? await readMetered(res, limits.maxResponseBytes, url, signal, timeout, meter, left - sending) : await readResponse(res, limits.maxResponseBytes, url, signal, timeout);
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

/**
 * Reads a response body under both the size cap (`LIMIT_EXCEEDED`) and the app's egress quota
 * (`EGRESS_QUOTA_EXCEEDED`): refused before reading when an unencoded `Content-Length` is already
 * past what is left; otherwise the read stops (the stream is cancelled) at the first chunk past it.
 * Every byte read is counted, also on failure.
 * @param left what the quota leaves for this body (taken once per hop, before the request was sent).
 */
async function readMetered(res: Response, max: number, url: URL, signal: AbortSignal, timeout: number, meter: EgressMeter, left: number): Promise<Uint8Array> {
  const cancel = () => res.body?.cancel().catch(() => {});
  const declared = Number(res.headers.get('content-length'));
  const encoded = !!res.headers.get('content-encoding');
  if (declared > max) {
    await cancel();
    throw new FaztError('LIMIT_EXCEEDED', `fazt.net.fetch ${url.origin}: the response (${declared} bytes) is larger than the ${max}-byte limit.`);
  }
  if (!encoded && declared > left) {
    await cancel();
    throw meter.exceeded(`would receive a ${formatBytes(declared)} response from ${url.origin}, more than the ${formatBytes(left)} left`);
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  let counted = false;
  const count = () => {
    if (!counted) meter.add('response', n);
    counted = true;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.byteLength;
      if (n > max) {
        await reader.cancel().catch(() => {});
        throw new FaztError('LIMIT_EXCEEDED', `fazt.net.fetch ${url.origin}: the response is larger than the ${max}-byte limit.`);
      }
      if (n > left) {
        await reader.cancel().catch(() => {});
        count();
        throw meter.exceeded(`passed its quota while receiving a response from ${url.origin} (the rest was not read)`);
      }
      parts.push(value);
    }
  } catch (e) {
    if (e instanceof FaztError) throw e;
    if (signal.aborted) throw new FaztError('APP_TIMEOUT', `fazt.net.fetch ${url.origin}: the response did not finish within ${timeout} ms`);
    throw new FaztError('UPSTREAM_FAILED', `fazt.net.fetch ${url.origin}: ${(e as Error).message}`);
  } finally {
    count();
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
