// @ts-check
/// <reference path="../../../types/fazt.d.ts" />
// The hello app's server code: GET /api/hello greets, counts visits in fazt.kv and names the node's address (for the page's deploy command).
export default {
  /** @param {Request} request */
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/api/hello') {
      const visits = await fazt.kv.increment('visits');
      const name = url.searchParams.get('name') || 'world';
      // the node's own address, as this request reached it (an app's own subdomain names the node without it)
      const sub = `${fazt.app.name}.`;
      const node = url.hostname.startsWith(sub) ? `${url.protocol}//${url.host.slice(sub.length)}` : url.origin;
      return { message: `Hello, ${name}!`, visits, app: fazt.app.name, version: fazt.app.version, node };
    }
    return Response.json({ error: { code: 'NOT_FOUND', message: `No route ${url.pathname}` } }, { status: 404 });
  },
};
