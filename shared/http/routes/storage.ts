import { appOf, intParam, param } from '../api-input.js';
import { json } from '../responses.js';
import type { ApiCall, ApiRouter } from '../router.js';

/** The storage browser: an app's kv keys, documents and blobs, read-only, for the owner. */

/** Default and largest page of the storage browser's kv, document and blob listings. */
const STORAGE_PAGE_DEFAULT = 50;
const STORAGE_PAGE_MAX = 200;

/**
 * `?prefix=&limit=&cursor=` of a storage-browser listing (kv keys, blobs).
 * @throws FaztError `BAD_REQUEST` for a limit outside 1…{@link STORAGE_PAGE_MAX}.
 */
function listParams(c: ApiCall): { prefix?: string; limit: number; cursor?: string } {
  const q = c.url.searchParams;
  const cursor = q.get('cursor');
  return {
    prefix: q.get('prefix') ?? undefined,
    limit: intParam('limit', q.get('limit'), 1, STORAGE_PAGE_MAX) ?? STORAGE_PAGE_DEFAULT,
    cursor: cursor === null || cursor === '' ? undefined : cursor,
  };
}

/** Adds `/api/apps/:ref/{storage,kv,docs,docs/:collection,blobs}`. */
export function storageRoutes(api: ApiRouter): void {
  api.route('GET', '/api/apps/:ref/storage', 'admin', (c) => {
    const app = appOf(c);
    return json({ app: app.name, ...c.kernel.storageSummary(app.id) });
  });

  api.route('GET', '/api/apps/:ref/kv', 'admin', (c) => {
    const app = appOf(c);
    return json({ app: app.name, ...c.kernel.kv.list(app.id, listParams(c)) });
  });

  api.route('GET', '/api/apps/:ref/docs', 'admin', (c) => {
    const app = appOf(c);
    return json({ app: app.name, collections: c.kernel.docs.collections(app.id) });
  });

  api.route('GET', '/api/apps/:ref/docs/:collection', 'admin', (c) => {
    const app = appOf(c);
    const collection = param(c, 1);
    const q = c.url.searchParams;
    const limit = intParam('limit', q.get('limit'), 1, STORAGE_PAGE_MAX) ?? STORAGE_PAGE_DEFAULT;
    const offset = intParam('offset', q.get('offset'), 0) ?? 0;
    const total = c.kernel.docs.count(app.id, collection);
    return json({ app: app.name, collection, total, offset, documents: c.kernel.docs.find(app.id, collection, { limit, offset }) });
  });

  api.route('GET', '/api/apps/:ref/blobs', 'admin', (c) => {
    const app = appOf(c);
    return json({ app: app.name, ...c.kernel.appBlobs.list(app.id, listParams(c)) });
  });
}
