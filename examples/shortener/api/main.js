// @ts-check
/// <reference path="../../../types/fazt.d.ts" />
// A URL shortener on fazt.kv. Keys: "link:<code>" → {url, createdAt}, "hits:<code>" → a counter.
//   POST /api/links    {url, code?}  → 201 {code, url, short, hits, createdAt}
//   GET  /api/links[?cursor=]        → {links, cursor?}: 100 links a page, in code order
//   GET  /api/links/:code            → the link with its hit count
//   GET  /api/go/:code               → 302 to the URL (counts a hit)
// Errors are JSON: {error: {code, message}} with 400, 404, 405, 409 or 415.

/** @typedef {{ url: string, createdAt: number }} Link */

const CODE = /^[A-Za-z0-9_-]{3,32}$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const fail = (/** @type {number} */ status, /** @type {string} */ code, /** @type {string} */ message) =>
  Response.json({ error: { code, message } }, { status });

/** 7 random characters from a 64-letter alphabet (42 bits). */
function randomCode() {
  return Array.from(crypto.getRandomValues(new Uint8Array(7)), (b) => ALPHABET[b & 63]).join('');
}

/**
 * Checks a URL to shorten: absolute, http or https, at most 2048 characters.
 * @param {unknown} value
 * @returns {string | undefined} why it is refused, or undefined when it is fine
 */
function urlProblem(value) {
  if (typeof value !== 'string' || value === '') return 'url is required: send {"url": "https://…"}.';
  if (value.length > 2048) return 'url is longer than 2048 characters.';
  /** @type {URL} */
  let u;
  try {
    u = new URL(value);
  } catch {
    return `"${value.slice(0, 100)}" is not an absolute URL.`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `Only http and https URLs can be shortened, not ${u.protocol}`;
  return undefined;
}

/**
 * The link as the API shows it. `short` is the public redirect URL; `ctx.basePath` is the app's path
 * prefix on this host ('' on its own origin, '/a/shortener' under the node's path).
 * @param {string} origin
 * @param {string} basePath
 * @param {string} code
 * @param {Link} link
 */
async function show(origin, basePath, code, link) {
  const hits = (await fazt.kv.get(`hits:${code}`)) ?? 0;
  return { code, url: link.url, short: `${origin}${basePath}/api/go/${code}`, hits, createdAt: link.createdAt };
}

export default /** @satisfies {FaztHandlers} */ ({
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const { origin } = url;
    const method = request.method;
    let m;

    if (url.pathname === '/api/links') {
      if (method === 'POST') {
        if (!/^application\/json\b/i.test(request.headers.get('content-type') ?? '')) {
          return fail(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send {"url": "https://…"} with "Content-Type: application/json".');
        }
        /** @type {any} */
        let body;
        try {
          body = await request.json();
        } catch {
          return fail(400, 'BAD_JSON', 'The request body is not valid JSON.');
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail(400, 'INVALID_LINK', 'Send a JSON object like {"url": "https://…"}.');
        const problem = urlProblem(body.url);
        if (problem) return fail(400, 'INVALID_URL', problem);
        if (body.code !== undefined && (typeof body.code !== 'string' || !CODE.test(body.code))) {
          return fail(400, 'INVALID_CODE', 'code must be 3–32 letters, digits, "-" or "_".');
        }
        // Claim the code atomically: the first increment of "taken:<code>" returns 1.
        let code = body.code;
        if (code !== undefined) {
          if ((await fazt.kv.increment(`taken:${code}`)) !== 1) return fail(409, 'CODE_TAKEN', `The code "${code}" is already in use.`);
        } else {
          do code = randomCode();
          while ((await fazt.kv.increment(`taken:${code}`)) !== 1);
        }
        /** @type {Link} */
        const link = { url: body.url, createdAt: Date.now() };
        await fazt.kv.set(`link:${code}`, link);
        return Response.json(await show(origin, ctx.basePath, code, link), { status: 201, headers: { location: `links/${code}` } });
      }
      if (method === 'GET') {
        const page = await fazt.kv.list({ prefix: 'link:', limit: 100, cursor: url.searchParams.get('cursor') ?? undefined });
        const links = await Promise.all(page.items.map((i) => show(origin, ctx.basePath, i.key.slice('link:'.length), /** @type {Link} */ (i.value))));
        return { links, cursor: page.cursor };
      }
      return fail(405, 'METHOD_NOT_ALLOWED', `${method} is not supported on /api/links; use GET or POST.`);
    }

    if ((m = /^\/api\/(links|go)\/([^/]+)$/.exec(url.pathname))) {
      const [, route, code = ''] = m;
      if (method !== 'GET' && method !== 'HEAD') return fail(405, 'METHOD_NOT_ALLOWED', `${method} is not supported here; use GET.`);
      /** @type {Link | null} */
      const link = CODE.test(code) ? await fazt.kv.get(`link:${code}`) : null;
      if (!link) return fail(404, 'NOT_FOUND', `No short link "${code.slice(0, 100)}".`);
      if (route === 'links') return show(origin, ctx.basePath, code, link);
      if (method === 'GET') await fazt.kv.increment(`hits:${code}`);
      return Response.redirect(link.url, 302);
    }

    return fail(404, 'NOT_FOUND', `No route ${method} ${url.pathname}; see /api/links.`);
  },
});
