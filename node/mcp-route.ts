import { errorJson, type FetchHandler, type Kernel, type RequestContext } from '../shared/index.js';
import { aliasForHost } from '../shared/http/index.js';

/** The path of the MCP Streamable HTTP endpoint on the node's own host (docs/mcp.md). */
export const MCP_PATH = '/mcp';

/**
 * Wraps the node's HTTP face so `/mcp` on the node's own host is the MCP endpoint (`node/mcp.ts`);
 * an app's subdomain keeps its own `/mcp`, and everything else goes to `inner`. The MCP SDK is
 * loaded on the first `/mcp` request only (a code-split chunk), so a node nobody connects an agent
 * to pays nothing for it.
 */
export function withMcp(kernel: Kernel, inner: FetchHandler): FetchHandler {
  return async (request: Request, ctx?: RequestContext) => {
    const url = new URL(request.url);
    if ((url.pathname === MCP_PATH || url.pathname === MCP_PATH + '/') && aliasForHost(kernel.domain, url.hostname) === undefined) {
      try {
        const { handleMcpRequest } = await import('./mcp.js');
        return await handleMcpRequest(kernel, request);
      } catch (e) {
        kernel.ports.logger.error('mcp request failed', { error: String((e as Error)?.stack ?? e) });
        return errorJson(500, 'INTERNAL', 'The MCP endpoint failed to answer; the node log has the details.');
      }
    }
    return inner(request, ctx);
  };
}
