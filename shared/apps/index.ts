export { AppRegistry, type AppRecord, type VersionRecord, type FileRecord, type ServedFile } from './registry.js';
export type { AppManifest } from './manifest.js';
export { assertAppName, APP_NAME_PATTERN, RESERVED_NAMES } from './names.js';
