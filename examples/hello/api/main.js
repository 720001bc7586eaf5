// @ts-check
/// <reference path="../../../types/fazt.d.ts" />
// The hello app's server code: GET /api/hello greets and counts visits in fazt.kv.
export default {
  /** @param {Request} request */
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/api/hello') {
      const visits = await fazt.kv.increment('visits');
      const name = url.searchParams.get('name') || 'world';
      return { message: `Hello, ${name}!`, visits, app: fazt.app.name, version: fazt.app.version };
    }
    return Response.json({ error: { code: 'NOT_FOUND', message: `No route ${url.pathname}` } }, { status: 404 });
  },
};
