/**
 * Cartridge sync (docs/sync-spec.md): change capture by triggers (migration 6), the engine that
 * reads and merges rows, the transport-neutral session protocol, and the service that runs sessions
 * over the mesh's peer links.
 */
export { SyncEngine, MAX_BATCH_BYTES, MAX_BATCH_ROWS, type ApplyResult, type Batch, type Conflict, type PeerSyncState, type SyncEngineDeps } from './engine.js';
export { SyncSession, SYNC_PROTOCOL_VERSION, WINDOW, POLL_MS, type SessionInfo, type SyncMessage, type SyncSessionOptions } from './session.js';
export { SyncService, FLUSH_MS, COMPACT_EVERY, TOMBSTONE_EVERY_MS, TOMBSTONE_FIRST_MS, type PeerSyncStatus, type SyncPeer } from './service.js';
export { SyncRefused, checkRow, type WireRow } from './rows.js';
export { descends, isStamp, writerOf, MAX_DRIFT_MS, STAMP_RE, type FieldVersion } from './stamps.js';
