/** The kernel's HTTP face. Hosts import from here (or from the kernel's `shared/index.ts`). */
export { createFetch, PATH_APP_HEADERS, aliasForHost, appOriginFor, type FetchHandler, type FetchOptions } from './fetch.js';
export type { RequestContext } from './context.js';
export { createAdminApi } from './api.js';
export { ApiRouter, type ApiCall, type ApiHandler } from './router.js';
export { errorJson, errorResponse, json, htmlPage, escapeHtml } from './responses.js';
