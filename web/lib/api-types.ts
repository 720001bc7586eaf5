/**
 * Shapes of the admin API's JSON answers as the dashboard reads them (docs/api.md is the contract).
 * Kept here rather than imported from `shared/` so the dashboard depends on the wire, not the kernel.
 */

/** `GET /api/session`. */
export interface SessionInfo {
  authenticated: boolean;
  kind: string | null;
  scope: 'admin' | 'deploy' | null;
  setUp: boolean;
}

/** `GET /api/setup`. */
export interface SetupInfo {
  setUp: boolean;
  codeRequired: boolean;
}

/** `GET /api/health`. */
export interface HealthInfo {
  ok: boolean;
  node: string;
  version: string;
  schema: number;
  /** The cartridge's start-up integrity check (absent on older nodes). */
  integrity?: { state: 'unchecked' | 'checking' | 'ok' | 'damaged' | 'failed'; check?: 'quick' | 'full'; checkedAt?: number; problems?: number };
}

/** One app of `GET /api/apps`. */
export interface AppInfo {
  id: string;
  name: string;
  title: string;
  currentVersion: number | null;
  aliases: string[];
  createdAt: number;
  updatedAt: number;
  /** Where the app is served: its own subdomain first, then `/a/<name>/`. */
  urls: string[];
}

/** `GET /api/apps/:app`. */
export interface AppDetail extends AppInfo {
  manifest: Record<string, unknown> | null;
  versions: number;
  files: number;
  bytes: number;
}

/** One version of `GET /api/apps/:app/versions`. */
export interface VersionInfo {
  version: number;
  createdAt: number;
  fileCount: number;
  totalBytes: number;
  treeHash: string;
  manifest: Record<string, unknown> | null;
  current: boolean;
  /** Waits for the owner's approval (deployed without the admin scope to an app holding secrets or grants). */
  pending?: boolean;
}

/** Answer of a deploy (`POST /api/apps`). */
export interface DeployInfo {
  id: string;
  name: string;
  version: number;
  created: boolean;
  files: number;
  bytes: number;
  warnings: string[];
  permissions: { requested: string[]; granted: string[]; pending: string[]; dormant: string[] };
  urls: string[];
}

/** A log entry (`GET /api/apps/:app/logs`, and each event of the live stream). */
export interface LogEntry {
  id: number;
  appId: string;
  ts: number;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  data?: unknown;
  source?: string;
}

/** `GET /api/apps/:app/storage`. */
export interface StorageSummary {
  app: string;
  kv: { count: number };
  collections: { name: string; count: number }[];
  blobs: { count: number; bytes: number };
}

/** A page of `GET /api/apps/:app/kv`. */
export interface KvPage {
  items: { key: string; value: string; expiresAt?: number }[];
  cursor?: string;
}

/** A page of `GET /api/apps/:app/docs/:collection`. */
export interface DocsPage {
  collection: string;
  total: number;
  offset: number;
  documents: ({ _id: string } & Record<string, unknown>)[];
}

/** A page of `GET /api/apps/:app/blobs`. */
export interface BlobsPage {
  items: { key: string; size: number; contentType: string; hash: string; createdAt: number; updatedAt: number }[];
  cursor?: string;
}

/** One API token of `GET /api/tokens` (never its secret). */
export interface TokenInfo {
  id: string;
  name: string;
  scope: 'admin' | 'deploy';
  createdAt?: number;
  lastUsedAt?: number | null;
}
