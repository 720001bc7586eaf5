import type { z } from 'zod';
import type { Principal } from '../auth/index.js';
import type { FaztErrorCode } from '../errors.js';
import type { Kernel } from '../kernel.js';

/**
 * Hints about what a tool does, with the meaning the MCP specification gives them
 * (https://modelcontextprotocol.io/specification/2025-11-25/server/tools, `ToolAnnotations`).
 * They are hints for the caller (an agent, the "Ask" box, which waits for the owner's confirmation
 * before a destructive tool), never the access check: that is the scope (see {@link ToolAccess}).
 */
export interface ToolAnnotations {
  /** The tool changes nothing. */
  readOnlyHint: boolean;
  /** The tool may overwrite or remove something (meaningful when not read-only). */
  destructiveHint: boolean;
  /** Calling it again with the same arguments changes nothing more (meaningful when not read-only). */
  idempotentHint: boolean;
  /** The tool reaches beyond this node. Always false here: every tool works on the node's own cartridge. */
  openWorldHint: boolean;
}

/** Who calls a tool, and how its results describe URLs. */
export interface ToolContext {
  /** The node's kernel. */
  kernel: Kernel;
  /**
   * The caller: an `admin` principal (the owner: stdio on the cartridge file, an admin token, the
   * owner's session) or an `mcp` / `mcp-read` token. A version deployed by a non-admin caller to an
   * app holding secrets or grants waits for the owner's approval, as on the admin API.
   */
  principal: Principal;
  /** Origin the node is reached at (`http://host:port`), for the app URLs in results; absent: none given. */
  origin?: string;
}

/**
 * One tool of the kernel's catalogue: SDK-neutral (no MCP or AI SDK type), so the MCP server
 * (node/mcp.ts) and the AI SDK's tool calling ("Ask") can both present it.
 * @typeParam S the zod schema of the input (an object schema).
 */
export interface ToolDefinition<S extends z.ZodType = z.ZodType> {
  /** Stable name: lower-case words joined by `_` (MCP tool names allow `[A-Za-z0-9_.-]`, 1–128). */
  name: string;
  /** Short human title. */
  title: string;
  /** What it does, for a model choosing tools: when to use it, what it returns, its limits. */
  description: string;
  /** The input's schema: arguments are validated with it before `run` (bad ones: `INVALID_ARGUMENT`). */
  input: S;
  annotations: ToolAnnotations;
  /**
   * Does the work with validated arguments.
   * @returns a JSON-serializable result.
   * @throws FaztError with the kernel's code when the work is refused or fails.
   */
  run(ctx: ToolContext, args: z.output<S>): unknown;
}

/** A tool as a client sees it: its input as a JSON Schema object (draft 2020-12, what MCP wants). */
export interface ToolInfo {
  name: string;
  title: string;
  description: string;
  /** JSON Schema of the arguments, `type: "object"`. */
  inputSchema: { type: 'object'; [k: string]: unknown };
  annotations: ToolAnnotations;
}

/** Which tools a caller may list and call: `all`, or only the read-only ones (`read`). */
export type ToolAccess = 'all' | 'read';

/** The outcome of {@link ToolDefinition.run} through `callTool`: the result, or an error with the kernel's code. */
export type ToolOutcome = { ok: true; result: unknown } | { ok: false; error: { code: FaztErrorCode; message: string } };
