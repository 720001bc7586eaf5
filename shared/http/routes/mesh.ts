import { FaztError, isFaztError, statusOf, type FaztErrorCode } from '../../errors.js';
import { LoginRateLimiter } from '../../auth/index.js';
import { isNodeId, parseInvitation, type InviteAddress, type PairRequester } from '../../mesh/index.js';
import { jsonBody, param } from '../api-input.js';
import { errorResponse, json } from '../responses.js';
import type { ApiCall, ApiRouter } from '../router.js';

/**
 * The mesh (docs/mesh.md): this node's identity, invitations, joining another node, the pairing
 * handshake's public endpoint, and the paired peers.
 */

/** Wrong pairing attempts per source: 20 per 15 minutes (an invitation itself dies after 5 wrong proofs). */
const pairLimiter = new LoginRateLimiter(20, 15 * 60_000);

/** Time a joiner waits for the inviting node's answer, ms. */
const PAIR_TIMEOUT_MS = 10_000;

const source = (c: ApiCall) => c.ctx.source ?? c.ctx.peer ?? 'unknown';

/**
 * CORS (Fetch standard §3.2) of the public `POST /api/mesh/pair`, the only admin API route another
 * origin may call: a browser node whose dashboard was served by another hub pairs with this node
 * from its service worker. Any origin may send it (it proves an invitation, it carries no cookie and
 * gets none: `Access-Control-Allow-Credentials` is never sent); every other `/api/...` route answers
 * no CORS header, so other origins cannot read it.
 */
const PAIR_CORS: Readonly<Record<string, string>> = { 'access-control-allow-origin': '*', vary: 'origin' };

/** The same response with the pairing endpoint's CORS headers. */
function withPairCors(res: Response): Response {
  for (const [k, v] of Object.entries(PAIR_CORS)) res.headers.set(k, v);
  return res;
}

/**
 * Sends the joiner's message to the inviter's `POST /api/mesh/pair` with the platform's `fetch`.
 * An answer that is an error of the inviter's is rethrown as that error (its code, when it is one
 * of ours); no answer at all is `PEER_UNREACHABLE`.
 */
export const pairOverHttp: PairRequester = async (base, body) => {
  let r: Response;
  try {
    r = await fetch(`${base}/api/mesh/pair`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(PAIR_TIMEOUT_MS),
      redirect: 'error',
      // the public endpoint needs no cookie: never send the owner's (a browser node's worker would)
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
  } catch (e) {
    throw new FaztError('PEER_UNREACHABLE', `no answer (${(e as Error).message})`);
  }
  let answer: unknown;
  try {
    answer = await r.json();
  } catch {
    throw new FaztError('PEER_UNREACHABLE', `the answer is not JSON (HTTP ${r.status}): is this a Fazt node?`);
  }
  if (!r.ok) {
    const e = (answer as { error?: { code?: string; message?: string } })?.error;
    const known = typeof e?.code === 'string' && statusOf(e.code as FaztErrorCode) !== undefined;
    throw new FaztError(known ? (e!.code as FaztErrorCode) : 'PAIRING_FAILED', `The inviting node refused: ${String(e?.message ?? `HTTP ${r.status}`).slice(0, 300)}`);
  }
  return answer;
};

/**
 * The optional `addresses` of `POST /api/mesh/invitations`: the HTTP addresses the invitation names
 * instead of the node's own (`[]` for none). @throws FaztError `BAD_REQUEST` for another shape.
 */
function inviteAddresses(v: unknown): InviteAddress[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > 4 || !v.every((a) => a && typeof a === 'object' && typeof a.host === 'string' && typeof a.port === 'number')) {
    throw new FaztError('BAD_REQUEST', '"addresses" must be at most 4 of {"host": "192.168.1.20", "port": 8080} ([] for none).');
  }
  return v.map((a: { host: string; port: number }) => ({ host: a.host, port: a.port }));
}

/** Adds `/api/mesh`, `/api/mesh/invitations` (and `/answer`), `/api/mesh/join`, `/api/mesh/pair` and `/api/mesh/peers…`. */
export function meshRoutes(api: ApiRouter): void {
  api.route('GET', '/api/mesh', 'admin', (c) => json(c.kernel.mesh.id()));

  api.route('PUT', '/api/mesh', 'admin', async (c) => {
    const b = await jsonBody(c);
    return json(c.kernel.mesh.rename(b.name));
  });

  api.route('POST', '/api/mesh/invitations', 'admin', async (c) => {
    const b = await jsonBody(c);
    if (b.ttlMs !== undefined && typeof b.ttlMs !== 'number') throw new FaztError('BAD_REQUEST', '"ttlMs" must be a number of milliseconds.');
    if (b.direct !== undefined && typeof b.direct !== 'boolean') throw new FaztError('BAD_REQUEST', '"direct" must be true or false.');
    const options = { ttlMs: b.ttlMs as number | undefined, addresses: inviteAddresses(b.addresses) };
    const inv = b.direct ? await c.kernel.mesh.inviteDirect(options) : c.kernel.mesh.invite(options);
    return json(
      {
        code: inv.code,
        words: inv.words.join(' '),
        expiresAt: inv.expiresAt,
        addresses: inv.invitation.addresses,
        direct: inv.invitation.offer !== undefined,
        ...(inv.invitation.offer ? { candidates: inv.invitation.offer.candidates } : {}),
      },
      201,
    );
  });

  // the inviter takes a direct invitation's answer code (docs/mesh.md "Pairing with no reachable server")
  api.route('POST', '/api/mesh/invitations/answer', 'admin', async (c) => {
    const b = await jsonBody(c);
    if (typeof b.answer !== 'string') throw new FaztError('BAD_REQUEST', 'Send {"answer": "FZA…"} (the code the joining node gave).');
    const peer = await c.kernel.mesh.acceptAnswer(b.answer);
    return json({ peer: { nodeId: peer.nodeId, name: peer.name } }, 201);
  });

  api.route('POST', '/api/mesh/join', 'admin', async (c) => {
    const b = await jsonBody(c);
    if (typeof b.invitation !== 'string') throw new FaztError('BAD_REQUEST', 'Send {"invitation": "FZ1… or the 12 words", "peer"?: "http://host:port"}.');
    if (b.peer !== undefined && typeof b.peer !== 'string') throw new FaztError('BAD_REQUEST', '"peer" must be a URL like http://192.168.1.20:8080.');
    if (b.peer === undefined && parseInvitation(b.invitation).offer) {
      // a direct invitation: answer its offer; the pairing completes once the inviter takes the answer
      const d = await c.kernel.mesh.joinDirect(b.invitation);
      return json({ answer: d.answer, inviter: { nodeId: d.inviterId }, expiresAt: d.expiresAt }, 202);
    }
    const peer = await c.kernel.mesh.join(b.invitation, pairOverHttp, b.peer as string | undefined);
    return json({ peer: { nodeId: peer.nodeId, name: peer.name } }, 201);
  });

  // public: the joiner proves it holds an invitation (shared/mesh/pairing.ts); limited per source;
  // callable from any origin (PAIR_CORS), answers and refusals alike
  api.route('POST', '/api/mesh/pair', null, async (c) => {
    const from = source(c);
    try {
      const wait = pairLimiter.retryAfter(from);
      if (wait > 0) throw new FaztError('RATE_LIMITED', `Too many failed pairing attempts from this address; try again in ${wait} s.`);
      const b = await jsonBody(c);
      try {
        const answer = c.kernel.mesh.acceptPairing(b);
        pairLimiter.succeed(from);
        return withPairCors(json(answer));
      } catch (e) {
        if (isFaztError(e) && e.code !== 'INVITATION_EXPIRED') pairLimiter.fail(from);
        throw e;
      }
    } catch (e) {
      if (!isFaztError(e)) c.kernel.ports.logger.error('api error', { path: c.url.pathname, error: String((e as Error)?.stack ?? e) });
      return withPairCors(errorResponse(e));
    }
  });

  // the CORS preflight of a cross-origin pairing request (its JSON body makes it non-simple); also
  // allows a request from a public page to this private address (Private Network Access)
  api.route('OPTIONS', '/api/mesh/pair', null, (c) => {
    const headers: Record<string, string> = {
      ...PAIR_CORS,
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type',
      'access-control-max-age': '600',
    };
    if (c.request.headers.get('access-control-request-private-network') === 'true') headers['access-control-allow-private-network'] = 'true';
    return new Response(null, { status: 204, headers });
  });

  api.route('GET', '/api/mesh/peers', 'admin', (c) =>
    json({ peers: c.kernel.mesh.status().map((p) => ({ nodeId: p.nodeId, name: p.name, connected: p.connected, lastSeen: p.lastSeen, pairedAt: p.pairedAt, addresses: p.addresses, ...(p.transport ? { transport: p.transport } : {}) })) }),
  );

  api.route('DELETE', '/api/mesh/peers/:id', 'admin', (c) => {
    const id = param(c, 0).toLowerCase();
    if (!isNodeId(id)) throw new FaztError('BAD_REQUEST', `"${String(id).slice(0, 40)}" is not a node id (16 letters and digits; see \`fazt mesh peers\`).`);
    if (!c.kernel.mesh.unpair(id)) throw new FaztError('NOT_PAIRED', `Node ${id} is not paired with this node.`);
    return json({ unpaired: id });
  });

  api.route('POST', '/api/mesh/peers/:id/ping', 'admin', async (c) => {
    const id = param(c, 0).toLowerCase();
    return json({ nodeId: id, ms: Math.round((await c.kernel.mesh.ping(id)) * 100) / 100 });
  });
}
