import { FaztError } from '../../errors.js';
import { checkProviderKind, monthOf, NEEDS_KEY, PROVIDER_KINDS, PUBLIC_BASE_URL, type ProviderInput } from '../../ai/index.js';
import { checkAskInput, confirmAsk, startAsk } from '../../ai/ask.js';
import { relayUsageId } from '../../ai/relay.js';
import { appOf, jsonBody, param } from '../api-input.js';
import { json } from '../responses.js';
import type { ApiCall, ApiRouter } from '../router.js';

/**
 * AI administration (docs/api.md "AI"): providers (their keys go in, never out), the default
 * provider, usage per app, budgets, and the owner's own model calls (`fazt ai ask`, the dashboard's
 * Ask box). All need the `admin` scope.
 */

const str = (v: unknown, what: string): string | null | undefined => {
  if (v === undefined || v === null) return v as null | undefined;
  if (typeof v !== 'string') throw new FaztError('BAD_REQUEST', `${what} must be a string (or null to clear it).`);
  return v;
};

const cap = (v: unknown, what: string): number | null => {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new FaztError('BAD_REQUEST', `${what} must be a whole number ≥ 0, or null for no cap.`);
  return v;
};

/**
 * Whose budget `:ref` names: an app (name or id), or `relay:<nodeId>` — the calls a paired node
 * relays through this one (docs/ai.md "Relay through a paired node").
 * @throws FaztError `APP_NOT_FOUND`; `NOT_FOUND` for a relay ref that is not a paired node.
 */
function budgetTarget(c: ApiCall): { id: string; name: string } {
  const ref = param(c, 0);
  if (ref.startsWith('relay:')) {
    const nodeId = ref.slice(6);
    if (!c.kernel.mesh.peers.get(nodeId)) throw new FaztError('NOT_FOUND', `"${ref.slice(0, 80)}": no paired node has that id (GET /api/mesh/peers lists them).`);
    return { id: relayUsageId(nodeId), name: ref };
  }
  return appOf(c);
}

/** Adds `/api/ai`, `/api/ai/providers[/:name]`, `/api/ai/default`, `/api/ai/relay`, `/api/ai/usage`, `/api/ai/budgets/:ref`, `/api/ai/chat`, `/api/ai/ask`, `/api/ai/ask/:id/confirm`. */
export function aiRoutes(api: ApiRouter): void {
  api.route('GET', '/api/ai', 'admin', (c) =>
    json({ ...c.kernel.ai.status(), kinds: PROVIDER_KINDS.map((kind) => ({ kind, needsKey: NEEDS_KEY[kind], needsBaseUrl: PUBLIC_BASE_URL[kind] === null, defaultBaseUrl: PUBLIC_BASE_URL[kind] })) }),
  );

  api.route('GET', '/api/ai/providers', 'admin', (c) => json({ providers: c.kernel.ai.providers.list() }));

  api.route('PUT', '/api/ai/providers/:name', 'admin', async (c) => {
    const name = param(c, 0);
    const b = await jsonBody(c);
    const input: ProviderInput = { name };
    if (b.kind !== undefined) input.kind = checkProviderKind(b.kind);
    if (b.baseUrl !== undefined) input.baseUrl = str(b.baseUrl, 'baseUrl');
    if (b.key !== undefined) input.key = str(b.key, 'key');
    if (b.defaultModel !== undefined) input.defaultModel = str(b.defaultModel, 'defaultModel');
    if (b.default !== undefined && typeof b.default !== 'boolean') throw new FaztError('BAD_REQUEST', 'default must be true or false.');
    const existed = !!c.kernel.ai.providers.get(name);
    const provider = c.kernel.ai.providers.set(input, b.default === true);
    return json({ provider }, existed ? 200 : 201);
  });

  api.route('DELETE', '/api/ai/providers/:name', 'admin', (c) => {
    const name = param(c, 0);
    if (!c.kernel.ai.providers.remove(name)) throw new FaztError('NOT_FOUND', `No AI provider named "${name}". GET /api/ai/providers lists them.`);
    return json({ removed: name });
  });

  api.route('PUT', '/api/ai/default', 'admin', async (c) => {
    const b = await jsonBody(c);
    if (typeof b.provider !== 'string') throw new FaztError('BAD_REQUEST', 'Send {"provider": "NAME"}.');
    return json({ provider: c.kernel.ai.providers.setDefault(b.provider) });
  });

  // the owner's switch "Let paired devices use this node's AI" (docs/ai.md "Relay through a paired node")
  api.route('GET', '/api/ai/relay', 'admin', (c) => json(c.kernel.ai.status().relay));

  api.route('PUT', '/api/ai/relay', 'admin', async (c) => {
    const b = await jsonBody(c);
    if (typeof b.serve !== 'boolean') throw new FaztError('BAD_REQUEST', 'Send {"serve": true} or {"serve": false}.');
    c.kernel.ai.setRelayServing(b.serve);
    return json(c.kernel.ai.status().relay);
  });

  api.route('GET', '/api/ai/usage', 'admin', (c) => {
    const period = c.url.searchParams.get('period') ?? monthOf(Date.now());
    if (!/^\d{4}-\d{2}$/.test(period)) throw new FaztError('BAD_REQUEST', `period must be a month like 2026-12 (got "${period.slice(0, 20)}").`);
    const name = (id: string) => (id === '' ? null : id.startsWith('relay:') ? id : (c.kernel.apps.resolve(id)?.name ?? null));
    const budgets = new Map(c.kernel.ai.usage.budgets().map((b) => [b.appId, b]));
    const usage = c.kernel.ai.usage.usage(undefined, period).map((u) => ({ ...u, app: name(u.appId), budget: budgets.get(u.appId) ?? null }));
    return json({ period, usage, budgets: [...budgets.values()].map((b) => ({ ...b, app: name(b.appId) })) });
  });

  api.route('GET', '/api/ai/budgets/:ref', 'admin', (c) => {
    const app = budgetTarget(c);
    return json({ app: app.name, budget: c.kernel.ai.usage.budget(app.id), usage: c.kernel.ai.usage.usage(app.id)[0] ?? null });
  });

  api.route('PUT', '/api/ai/budgets/:ref', 'admin', async (c) => {
    const app = budgetTarget(c);
    const b = await jsonBody(c);
    const budget = c.kernel.ai.usage.setBudget(app.id, { tokensPerMonth: cap(b.tokensPerMonth, 'tokensPerMonth'), callsPerMonth: cap(b.callsPerMonth, 'callsPerMonth') });
    return json({ app: app.name, budget });
  });

  // the owner's own call: streamed as SSE (UI message stream protocol) or text, or whole as JSON
  api.route('POST', '/api/ai/chat', 'admin', async (c) => {
    const b = await jsonBody(c, 1024 * 1024);
    const format = b.format ?? 'sse';
    if (format !== 'sse' && format !== 'text' && format !== 'json') throw new FaztError('BAD_REQUEST', 'format must be "sse", "text" or "json".');
    const opts = { model: b.model as string | undefined, system: b.system as string | undefined, prompt: b.prompt as string | undefined, messages: b.messages as unknown[] | undefined, maxOutputTokens: b.maxOutputTokens as number | undefined };
    const caller = { appId: '', appName: 'owner' };
    if (format === 'json') return json(await c.kernel.ai.generateText(caller, opts));
    const s = c.kernel.ai.streamText(caller, opts);
    const early = await s.firstOutput();
    if (early) throw early;
    const headers: Record<string, string> =
      format === 'sse'
        ? { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-vercel-ai-ui-message-stream': 'v1' }
        : { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };
    return new Response(format === 'sse' ? s.sseBody() : s.textBody(), { headers });
  });

  // "Ask": the owner's question answered with the node's tools (shared/ai/ask.ts), streamed as SSE
  api.route('POST', '/api/ai/ask', 'admin', async (c) => {
    const input = checkAskInput(await jsonBody(c, 1024 * 1024));
    const { body, early } = await startAsk({ kernel: c.kernel, principal: c.principal!, origin: c.url.origin }, input, 'all');
    if (early) throw early;
    return new Response(body, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-vercel-ai-ui-message-stream': 'v1' } });
  });

  api.route('POST', '/api/ai/ask/:id/confirm', 'admin', async (c) => {
    const id = param(c, 0);
    const b = await jsonBody(c);
    if (typeof b.approve !== 'boolean') throw new FaztError('BAD_REQUEST', 'Send {"approve": true} to run the tool call, or {"approve": false} to refuse it.');
    confirmAsk(c.kernel, id, b.approve);
    return json({ id, approved: b.approve });
  });
}
