/** Host-side storage of apps' serverless code, namespaced by app id. */
export { KvStore, DEFAULT_KV_LIMITS, KV_LIST_DEFAULT_LIMIT, KV_LIST_MAX_LIMIT, type KvLimits, type KvSetOptions, type KvListOptions, type KvItem, type KvListPage } from './kv.js';
export { DocStore, DEFAULT_DOC_LIMITS, docIndexName, type DocLimits, type Doc, type DocQuery, type DocUpdate, type Filter, type FilterOperators, type CollectionInfo } from './docs.js';
export { AppBlobStore, DEFAULT_MAX_APP_BLOB_BYTES, DEFAULT_MAX_APP_BLOB_KEY_BYTES, type AppBlobInfo, type AppBlobHead, type AppBlobLimits, type AppBlobListOptions, type AppBlobPage } from './app-blobs.js';
export { SecretStore, SECRET_NAME_PATTERN, MAX_SECRET_BYTES, SECRET_KEY_META, type SecretStoreOptions, type SecretName } from './secrets.js';
export { AppLogStore, LOG_LEVELS, truncateUtf8, type LogLevel, type LogInput, type LogEntry, type AppLogStoreOptions, type LogQuery, type LogListener } from './app-logs.js';
