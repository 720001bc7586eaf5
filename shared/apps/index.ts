export { AppRegistry, type AppRecord, type VersionRecord, type FileRecord, type ServedFile, type AppChange } from './registry.js';
export { PermissionStore, checkPermission, allowsNetHost, allowsEventsFrom, isPrivateAddress } from './permissions.js';
export type { AppManifest } from './manifest.js';
export { assertAppName, APP_NAME_PATTERN, RESERVED_NAMES } from './names.js';
