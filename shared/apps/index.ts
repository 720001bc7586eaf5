export { AppRegistry, type AppRecord, type VersionRecord, type FileRecord, type ServedFile } from './registry.js';
export { AppManifestSchema, parseManifest, PermissionSchema, type AppManifest } from './manifest.js';
export { assertAppName, AppNameSchema, RESERVED_NAMES } from './names.js';
