import { z } from 'zod';
import { FaztError, isFaztError } from '../errors.js';
import type { Principal } from '../auth/index.js';
import { TOOLS } from './catalogue.js';
import type { ToolAccess, ToolContext, ToolDefinition, ToolInfo, ToolOutcome } from './types.js';

/**
 * The kernel's tool catalogue (`catalogue.ts`), SDK-neutral: the MCP server (node/mcp.ts) lists and
 * calls these, and the "Ask" box's AI tool calling can too. Arguments are validated here with each
 * tool's zod schema; every refusal comes back as `{ ok: false, error: { code, message } }` with the
 * kernel's FaztError code. See docs/mcp.md.
 */

export { TOOLS } from './catalogue.js';
export { MAX_READ_BYTES, MAX_EDIT_TREE_BYTES, readAppFile, writeAppFiles, type FileContent, type FileWrite, type FilesWritten } from './files.js';
export type { ToolAccess, ToolAnnotations, ToolContext, ToolDefinition, ToolInfo, ToolOutcome } from './types.js';

/**
 * What a principal may call: `admin` and `mcp` every tool, `mcp-read` the read-only ones.
 * @returns `undefined` for a scope that opens no tool (`deploy`).
 */
export function toolAccessOf(principal: Principal): ToolAccess | undefined {
  if (principal.scope === 'admin' || principal.scope === 'mcp') return 'all';
  if (principal.scope === 'mcp-read') return 'read';
  return undefined;
}

const mayCall = (t: ToolDefinition, access: ToolAccess) => access === 'all' || t.annotations.readOnlyHint;

/** JSON Schemas of the inputs, made once (zod's `toJSONSchema`, draft 2020-12, input side: defaults are optional). */
const SCHEMAS = new Map<string, ToolInfo['inputSchema']>();

function inputSchema(t: ToolDefinition): ToolInfo['inputSchema'] {
  let s = SCHEMAS.get(t.name);
  if (!s) {
    const { $schema: _dialect, ...rest } = z.toJSONSchema(t.input, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    s = { ...rest, type: 'object' };
    SCHEMAS.set(t.name, s);
  }
  return s;
}

/** The tools `access` allows, as clients see them (input as JSON Schema). */
export function listTools(access: ToolAccess = 'all'): ToolInfo[] {
  return TOOLS.filter((t) => mayCall(t, access)).map((t) => ({ name: t.name, title: t.title, description: t.description, inputSchema: inputSchema(t), annotations: { ...t.annotations } }));
}

/** The tool of that name, or `undefined`. */
export function findTool(name: string): ToolDefinition | undefined {
  return TOOLS.find((t) => t.name === name);
}

/** A zod error as one line a person (or a model) can act on: `path: problem; …`. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(arguments)'}: ${i.message}`)
    .join('; ');
}

/**
 * Logs a call of a tool that may change the node (level `info`): which tool, who (token id or the
 * principal's kind) and the outcome — never the arguments, which may carry an app's data.
 */
function audit(ctx: ToolContext, tool: string, outcome: string): void {
  ctx.kernel.ports.logger.info('tool call', { tool, by: ctx.principal.tokenId ? `token:${ctx.principal.tokenId}` : ctx.principal.kind, outcome });
}

/**
 * Calls a tool: checks that it exists and that `access` allows it, validates the arguments with its
 * schema, runs it. Never throws.
 * @param args the arguments as received (JSON); `undefined` counts as `{}`.
 * Calls of tools that may change the node are logged (`info`: tool, caller, outcome; no arguments).
 * @returns the result, or the error: `NOT_FOUND` (no such tool), `FORBIDDEN` (a write with read-only
 *   access), `INVALID_ARGUMENT` (the arguments fail the schema; the message names each field), or
 *   the code the kernel threw; anything else is `INTERNAL` (logged through the kernel's logger).
 */
export async function callTool(ctx: ToolContext, name: string, args: unknown, access: ToolAccess = 'all'): Promise<ToolOutcome> {
  const t = findTool(name);
  try {
    if (!t) throw new FaztError('NOT_FOUND', `No tool "${String(name).slice(0, 100)}". Tools: ${listTools(access).map((x) => x.name).join(', ')}.`);
    if (!mayCall(t, access)) throw new FaztError('FORBIDDEN', `"${t.name}" changes the node; this token may call only read-only tools (scope "mcp-read"). Use a token with the "mcp" scope.`);
    const parsed = t.input.safeParse(args ?? {});
    if (!parsed.success) throw new FaztError('INVALID_ARGUMENT', `Bad arguments for ${t.name}: ${describeIssues(parsed.error)}.`);
    const result = await t.run(ctx, parsed.data);
    if (!t.annotations.readOnlyHint) audit(ctx, t.name, 'ok');
    return { ok: true, result };
  } catch (e) {
    if (t && !t.annotations.readOnlyHint) audit(ctx, t.name, isFaztError(e) ? e.code : 'INTERNAL');
    if (isFaztError(e)) return { ok: false, error: { code: e.code, message: e.message } };
    ctx.kernel.ports.logger.error('tool failed', { tool: name, error: String((e as Error)?.stack ?? e) });
    return { ok: false, error: { code: 'INTERNAL', message: `The tool "${name}" failed inside the node; the node's log has the details.` } };
  }
}
