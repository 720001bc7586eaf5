import type { Readable, Writable } from 'node:stream';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { errorJson, FaztError, isFaztError, statusOf, type Kernel, type Principal } from '../shared/index.js';
import { callTool, listTools, toolAccessOf, type ToolAccess, type ToolContext } from '../shared/tools/index.js';

/**
 * The node's MCP server (Model Context Protocol, https://modelcontextprotocol.io/specification/2025-11-25):
 * the kernel's tool catalogue (`shared/tools/`) offered to agents through the official SDK
 * (`@modelcontextprotocol/sdk`), over Streamable HTTP at `/mcp` (a bearer token with the `mcp`,
 * `mcp-read` or `admin` scope) and over stdio (`fazt mcp --db PATH`). Tools only: no resources,
 * prompts or sampling. See docs/mcp.md.
 *
 * The SDK's server is host-neutral where it matters: `WebStandardStreamableHTTPServerTransport`
 * answers a Fetch API `Request` with a `Response`, so the same wiring could serve `/mcp` from the
 * browser node's service worker; it lives here because this module also holds the stdio transport.
 */

import { MCP_PATH } from './mcp-route.js';

/** Largest JSON-RPC request body `/mcp` reads, bytes (16 MiB: `write_files` carries whole files). */
export const MCP_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** What the server tells a client about itself when it connects (MCP `instructions`). */
const INSTRUCTIONS =
  'Fazt is a personal cloud node: apps (static files plus optional server code in api/main.js) and their data (kv, documents, events, logs) in one SQLite cartridge. ' +
  'Start with list_apps or health. write_files deploys a new version of an app (the old one stays; rollback returns to it). Errors carry a stable code, e.g. APP_NOT_FOUND, INVALID_ARGUMENT.';

/** One JSON Schema validator for every server (the SDK makes an Ajv instance per server otherwise; it only checks elicitation answers, which these servers never ask for). */
let validator: AjvJsonSchemaValidator | undefined;

/** A tool's outcome as an MCP `CallToolResult`: the JSON as text and as `structuredContent`; errors with `isError` and `{ error: { code, message } }`. */
function toResult(outcome: Awaited<ReturnType<typeof callTool>>): CallToolResult {
  if (!outcome.ok) {
    const body = { error: outcome.error };
    return { isError: true, content: [{ type: 'text', text: JSON.stringify(body) }], structuredContent: body };
  }
  const r = outcome.result;
  const structured = r !== null && typeof r === 'object' && !Array.isArray(r) ? (r as Record<string, unknown>) : undefined;
  return { content: [{ type: 'text', text: JSON.stringify(r ?? null) }], ...(structured ? { structuredContent: structured } : {}) };
}

/**
 * An MCP server offering the catalogue's tools that `access` allows, called as `ctx.principal`.
 * One server serves one connection (one stdio session, or one stateless HTTP request).
 */
export function createMcpServer(ctx: ToolContext, access: ToolAccess): Server {
  const server = new Server(
    { name: 'fazt', title: 'Fazt', version: ctx.kernel.version },
    { capabilities: { tools: { listChanged: false } }, instructions: INSTRUCTIONS, jsonSchemaValidator: (validator ??= new AjvJsonSchemaValidator()) },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listTools(access) }));
  server.setRequestHandler(CallToolRequestSchema, async (req) => toResult(await callTool(ctx, req.params.name, req.params.arguments, access)));
  return server;
}

/** The JSON error answer of `/mcp`, with `WWW-Authenticate` on 401 (RFC 6750 §3). */
function refusal(e: FaztError): Response {
  const status = statusOf(e.code);
  return errorJson(status, e.code, e.message, status === 401 ? { 'www-authenticate': 'Bearer realm="fazt"' } : {});
}

/**
 * Authenticates an `/mcp` request: a bearer token whose scope opens tools (`admin`, `mcp`, `mcp-read`).
 * Session cookies are not accepted here (an agent is not a browser, and a cookie would let any page
 * the owner visits call tools).
 * @throws FaztError `UNAUTHORIZED` (no token, malformed, unknown or revoked), `FORBIDDEN` (a `deploy` token).
 */
function authenticate(kernel: Kernel, request: Request): { principal: Principal; access: ToolAccess } {
  const authz = request.headers.get('authorization');
  if (!authz) throw new FaztError('UNAUTHORIZED', 'Send an API token: "Authorization: Bearer <token>". Create one with `fazt token create --scope mcp` (or `--scope mcp-read` for read-only tools).');
  const m = /^Bearer\s+(\S+)$/i.exec(authz);
  if (!m) throw new FaztError('UNAUTHORIZED', 'Use "Authorization: Bearer <token>".');
  const principal = kernel.auth.token(m[1]!);
  const access = toolAccessOf(principal);
  if (!access) throw new FaztError('FORBIDDEN', `MCP needs a token with the "mcp", "mcp-read" or "admin" scope; this one has "${principal.scope}". Create one with \`fazt token create --scope mcp\`.`);
  return { principal, access };
}

/**
 * Answers one Streamable HTTP request at `/mcp` (MCP transport spec, "Streamable HTTP"), stateless:
 * each POST gets a fresh server and transport (the SDK's stateless pattern), answers in JSON, and
 * is closed; no session id is issued, so any node process serving the cartridge can answer the next
 * request. GET (a server-to-client stream) and DELETE (ending a session) answer 405: this server
 * never speaks first and has no sessions.
 * Never throws: refusals are `{ "error": { "code", "message" } }` (401 with `WWW-Authenticate`, 403, 405).
 */
export async function handleMcpRequest(kernel: Kernel, request: Request): Promise<Response> {
  let auth: { principal: Principal; access: ToolAccess };
  try {
    auth = authenticate(kernel, request);
  } catch (e) {
    if (isFaztError(e)) return refusal(e);
    throw e;
  }
  if (request.method !== 'POST') {
    return errorJson(405, 'METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${MCP_PATH}: this MCP server is stateless and answers POSTed JSON-RPC requests only.`, { allow: 'POST' });
  }
  const origin = new URL(request.url).origin;
  const server = createMcpServer({ kernel, principal: auth.principal, origin }, auth.access);
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true, maxRequestBodySize: MCP_MAX_BODY_BYTES });
  try {
    await server.connect(transport);
    return await transport.handleRequest(request);
  } finally {
    // the JSON answer is complete once handleRequest resolved
    void server.close().catch(() => {});
  }
}

/**
 * Serves MCP over stdio (newline-delimited JSON-RPC, MCP transport spec "stdio") as the owner: every
 * tool, deploys live at once. Nothing but protocol is written to `stdout`.
 * @returns resolves when the client closes `stdin` (or the transport fails).
 */
export async function serveMcpStdio(kernel: Kernel, stdin: Readable = process.stdin, stdout: Writable = process.stdout): Promise<void> {
  const server = createMcpServer({ kernel, principal: { kind: 'token', scope: 'admin' } }, 'all');
  const transport = new StdioServerTransport(stdin, stdout);
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    stdin.once('end', () => resolve());
    stdin.once('close', () => resolve());
  });
  await server.connect(transport);
  await closed;
  await server.close().catch(() => {});
}
