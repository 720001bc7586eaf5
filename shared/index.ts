/** The kernel's public face. Hosts import from here. */
export { createKernel, Kernel, type KernelOptions, type AppDeployed, type AppPermissions, type StorageSummary, type AppHome } from './kernel.js';
export { createFetch, PATH_APP_HEADERS, errorJson, type FetchHandler, type FetchOptions, type RequestContext } from './http/index.js';
export { openCartridge, checkSqliteHeader, getMeta, setMeta, SCHEMA_VERSION, type Cartridge } from './cartridge/index.js';
export { FaztError, isFaztError, statusOf, errorBody, type ErrorBody, type FaztErrorCode } from './errors.js';
export type { SqlDatabase, SqlValue, RunResult } from './sql/index.js';
export { SqlJsDatabase } from './sql/sqljs.js';
export { defaultPorts, type KernelPorts, type Logger, type Sha256, type ScryptParams, type ContentEncoding, type DiskSpacePort, type ProcessStats, type ProcessStatsPort, type PushSender, type PushTarget, type PushSendOptions, type PushResult, type LocalNotifier, type LocalNotification } from './ports.js';
export { systemClock, HybridLogicalClock, type Clock } from './clock/index.js';
export { DEFAULT_DEPLOY_LIMITS, formatBytes, type DeployLimits, type DeployResult } from './deploy/index.js';
export type { AppRecord, VersionRecord, FileRecord } from './apps/index.js';
export type { TokenScope, Principal } from './auth/index.js';
export { normalizeAddress, LOGIN_CODE_TTL_MS, TOKEN_SCOPES } from './auth/index.js';
export { knownBody } from './lib/known-body.js';
export * from './mesh/index.js';
