import type { Kernel } from '../kernel.js';
import type { RequestContext } from './context.js';
import { ApiRouter } from './router.js';
import { aiRoutes } from './routes/ai.js';
import { appRoutes } from './routes/apps.js';
import { backupRoutes } from './routes/backup.js';
import { guardRoutes } from './routes/guards.js';
import { logRoutes } from './routes/logs.js';
import { meshRoutes } from './routes/mesh.js';
import { notifyRoutes } from './routes/notify.js';
import { permissionRoutes } from './routes/permissions.js';
import { pulseRoutes } from './routes/pulse.js';
import { runtimeRoutes } from './routes/runtime.js';
import { sessionRoutes } from './routes/session.js';
import { storageRoutes } from './routes/storage.js';
import { syncRoutes } from './routes/sync.js';
import { tokenRoutes } from './routes/tokens.js';

/**
 * The admin API under `/api/…`: JSON in, JSON out, the same on both hosts. Every route declares the
 * scope it needs; `null` routes are public. Documented in docs/api.md. Each area adds its routes from
 * its own file in `routes/`; a new area (mesh, sync, ai …) adds its file and one line here.
 */
const AREAS: ReadonlyArray<(api: ApiRouter) => void> = [
  sessionRoutes,
  appRoutes,
  permissionRoutes,
  logRoutes,
  runtimeRoutes,
  storageRoutes,
  tokenRoutes,
  backupRoutes,
  meshRoutes,
  aiRoutes,
  syncRoutes,
  notifyRoutes,
  guardRoutes,
  pulseRoutes,
];

/** Builds the admin API's router with every area's routes. */
export function createAdminApi(): ApiRouter {
  const api = new ApiRouter();
  for (const add of AREAS) add(api);
  return api;
}

let adminApi: ApiRouter | undefined;

/** Handles a request under `/api/`. Never throws: errors become JSON error responses. */
export function handleApi(kernel: Kernel, request: Request, url: URL, ctx: RequestContext): Promise<Response> {
  adminApi ??= createAdminApi();
  return adminApi.handle(kernel, request, url, ctx);
}
