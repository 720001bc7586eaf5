import { errorBody, FaztError, isFaztError } from '../errors.js';

/** Helpers that build the kernel's responses. JSON everywhere: errors are `{ error: { code, message } }`. */

/** A JSON response. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  });
}

/**
 * A JSON error answer `{ error: { code, message } }` (body from {@link errorBody}), not cached.
 * @param status HTTP status.
 * @param headers added to (and overriding) the JSON content type and `cache-control: no-store`.
 */
export function errorJson(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return json(errorBody(code, message), status, headers);
}

/** The JSON error response of an error; unknown errors become a 500 `INTERNAL` without internals. */
export function errorResponse(e: unknown): Response {
  if (isFaztError(e)) {
    const headers: Record<string, string> = {};
    const retry = e.details?.retryAfterSeconds;
    if (typeof retry === 'number') headers['retry-after'] = String(Math.ceil(retry));
    return json(e.toJSON(), e.status, headers);
  }
  return json(new FaztError('INTERNAL', 'Something went wrong inside the node; the error was logged.').toJSON(), 500);
}

/** Escapes text for HTML. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A small self-contained HTML page (the node's own 404 and notices). */
export function htmlPage(status: number, title: string, message: string, headers: Record<string, string> = {}): Response {
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:15vh auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem}code{background:#f3f3f3;padding:.1em .3em;border-radius:3px}@media(prefers-color-scheme:dark){body{background:#111;color:#ddd}code{background:#222}}</style></head>
<body><h1>${escapeHtml(title)}</h1><p>${message}</p><p><small>Fazt</small></p></body></html>`;
  return new Response(body, { status, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', ...headers } });
}
