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

/** `GET /api/apps/:app/egress`: the app's `fazt.net.fetch` quota and this month's use (docs/safeguards.md). */
export interface EgressInfo {
  app: string;
  /** Request + response body bytes per UTC month, or `null` (no quota). */
  quotaBytes: number | null;
  /** UTC month, `YYYY-MM`. */
  period: string;
  /** Bytes moved this month. */
  usedBytes: number;
  usage: { requests: number; refused: number } | null;
  /** ISO 8601 UTC. */
  resetsAt: string;
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

/** `GET /api/mesh` (and the answer of `PUT /api/mesh`): this node's identity (docs/mesh.md). */
export interface MeshIdentityInfo {
  /** 16 lower-case base32 characters, derived from the public key; never changes. */
  nodeId: string;
  /** The name the owner gave the node (1–64 characters). */
  name: string;
  /** Ed25519 public key, base64url. */
  publicKey: string;
}

/** What `POST /api/mesh/join` answers: paired (201), or a direct invitation's answer code to carry back (202). */
export type MeshJoinResult = { peer: { nodeId: string; name: string } } | MeshDirectAnswerInfo;

/** A direct join's answer code (`POST /api/mesh/join`, 202). */
export interface MeshDirectAnswerInfo {
  /** The answer code, `FZA…` + base32 (at most 140 bytes). */
  answer: string;
  inviter: { nodeId: string };
  /** Until when the inviter can take it, ms since the epoch (the node's clock). */
  expiresAt: number;
}

/** `POST /api/mesh/invitations`: one single-use invitation in its carriers. */
export interface MeshInvitationInfo {
  /** `FZ1` + upper-case base32 of the binary invitation (fits QR's alphanumeric mode). */
  code: string;
  /** The same invitation as 12 BIP-39 English words, separated by spaces. */
  words: string;
  /** When it stops working, ms since the epoch. */
  expiresAt: number;
  /** Where the inviter listens (its HTTP API); empty when the node has no address to give. */
  addresses: { host: string; port: number }[];
  /** The code also carries a WebRTC offer (a direct invitation; the words do not carry it). */
  direct?: boolean;
}

/** One paired node of `GET /api/mesh/peers`. */
export interface MeshPeerInfo {
  nodeId: string;
  name: string;
  /** A link to it is open now. */
  connected: boolean;
  /** When it was last heard from, ms since the epoch; `null` if never since pairing. */
  lastSeen: number | null;
  /** When the pairing was made, ms since the epoch. */
  pairedAt: number;
  /** Base URLs it was last reached at, best first. */
  addresses: string[];
  /**
   * While no link is open and the host is trying (the browser node reports it): `connecting`, or
   * `waiting` with the last failure (`CODE: message`) and when the next attempt is due (ms since the epoch).
   */
  transport?: { state: 'connecting' | 'waiting'; error?: string; retryAt?: number; at: number };
}

/** One paired peer's sync state, from `GET /api/sync/status` (docs/api.md "Sync", docs/sync-spec.md S37). */
export interface SyncPeerStatus {
  /** The peer's mesh node id (matches {@link MeshPeerInfo.nodeId}). */
  nodeId: string;
  /** The peer's cartridge writer id. */
  writerId: string;
  /** A sync session is open with it (the link is up and sync runs). */
  connected: boolean;
  /** Last batch exchanged with it, ms since the epoch (the node's clock); `null`: never. */
  lastSyncAt: number | null;
  /** This node's changes the peer has not confirmed (change-log entries). */
  pendingOut: number;
  /** The peer's announced changes not applied here yet, plus rows waiting for their content. */
  pendingIn: number;
  /** Connected, and nothing pending either way. */
  caughtUp: boolean;
  /** Why the peer refuses this node's changes, when it does (a clock far ahead, say). */
  stalled?: string;
}

/** One conflict of `GET /api/conflicts` (docs/sync-spec.md S13). */
export interface ConflictInfo {
  id: string;
  /** App id. */
  app: string;
  /** The app's current name here; `null` when the app is not here (or was removed). */
  appName: string | null;
  kind: 'kv' | 'doc' | 'blob';
  /** The kv key, the blob key, or `collection/id.field` for a document field. */
  key: string;
  /** The value applied everywhere, as JSON text; `null`: deleted. */
  winner: string | null;
  /** The value that lost, as JSON text; `null`: deleted. */
  loser: string | null;
  /** When the conflict was found, ms since the epoch (the node's clock). */
  at: number;
  /** `winner` or `loser` once resolved; `null` while open. */
  resolution: 'winner' | 'loser' | null;
}
