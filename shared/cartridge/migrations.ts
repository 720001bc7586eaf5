import type { SqlDatabase } from '../sql/index.js';

/**
 * Numbered schema migrations of the cartridge. Append only: a shipped migration never changes.
 *
 * Conventions (docs/architecture.md §5):
 * - Replicated rows carry `hlc` (hybrid logical clock timestamp of the last write, see `clock/`) and
 *   `node_id` (the writer); deletes are tombstones (`deleted = 1`), never `DELETE`.
 * - Every table is listed in `cartridge_tables` with its sync class: `replicated` (LWW rows by HLC),
 *   `content` (content-addressed, immutable, moved by hash) or `local` (never leaves this node).
 */

/** One schema step. */
export interface Migration {
  /** 1, 2, 3 … without gaps. */
  version: number;
  /** Short description, stored with the applied version. */
  name: string;
  /** SQL run inside the migration's transaction. */
  sql: string;
  /**
   * Work that cannot run inside a transaction (`VACUUM`), run before `sql` and its record. It must
   * be idempotent and crash-safe on its own: a crash after it and before the record runs it again.
   */
  before?: (db: SqlDatabase) => void;
}

/**
 * The replicated tables whose writes the change log captures, with their key columns and whether
 * updates count (docs/sync-spec.md S30). The capture triggers are TEMP triggers the sync engine
 * installs on its connection (a persisted log insert per write doubled a kv write's cost).
 */
export const LOGGED_TABLES: readonly { table: string; keys: readonly string[]; update: boolean }[] = [
  { table: 'apps', keys: ['id'], update: true },
  { table: 'app_aliases', keys: ['alias'], update: true },
  { table: 'app_versions', keys: ['app_id', 'version'], update: false },
  { table: 'app_kv', keys: ['app_id', 'key'], update: true },
  { table: 'app_blobs', keys: ['app_id', 'key'], update: true },
  { table: 'app_permissions', keys: ['app_id', 'permission'], update: true },
  { table: 'events', keys: ['id'], update: false },
  { table: 'app_homes', keys: ['app_id'], update: true },
  { table: 'sync_conflicts', keys: ['id'], update: true },
  { table: 'app_docs', keys: ['app_id', 'collection', 'id'], update: true },
];

const DOC_KEY = 'app_id = NEW.app_id AND collection = NEW.collection AND id = NEW.id';

/** Schema of migration 6 (sync). Kept as a constant: a shipped migration never changes. */
const SYNC_MIGRATION_SQL = `
-- the base stamp of a kv key's / blob key's version (docs/sync-spec.md S13)
ALTER TABLE app_kv ADD COLUMN base TEXT;
ALTER TABLE app_blobs ADD COLUMN base TEXT;

-- who runs an app's cron jobs (S17)
CREATE TABLE app_homes (
  app_id TEXT PRIMARY KEY,
  home TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  hlc TEXT NOT NULL,
  node_id TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO app_homes (app_id, home, hlc, node_id) SELECT id, node_id, hlc, node_id FROM apps WHERE deleted = 0;
CREATE TRIGGER sync_app_home AFTER INSERT ON apps BEGIN
  INSERT OR IGNORE INTO app_homes (app_id, home, hlc, node_id) VALUES (NEW.id, NEW.node_id, NEW.hlc, NEW.node_id);
END;

-- this node's change sequence (S30); seq is the rowid: max + 1, and the newest entry is never deleted.
-- Filled from the engine's capture (TEMP triggers) in batches; cartridge_meta 'sync.flushed_hlc' says
-- up to which stamp local writes are in it (a crash before a flush is recovered from the stamps)
CREATE TABLE sync_log (
  seq INTEGER PRIMARY KEY,
  tbl TEXT NOT NULL,
  k1 TEXT NOT NULL,
  k2 TEXT,
  k3 TEXT,
  src TEXT
);

-- per peer (by writer id): the highest seq of its log applied here, of ours it confirmed (S31)
CREATE TABLE sync_peers (
  peer TEXT PRIMARY KEY,
  received INTEGER NOT NULL DEFAULT 0,
  acked INTEGER NOT NULL DEFAULT 0,
  peer_head INTEGER NOT NULL DEFAULT 0,
  last_sync_at INTEGER
) WITHOUT ROWID;

-- rows waiting for content or a version (S23)
CREATE TABLE sync_pending (
  id INTEGER PRIMARY KEY,
  peer TEXT NOT NULL,
  row TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

-- apps kept on this node only (S6)
CREATE TABLE sync_local_apps (app_id TEXT PRIMARY KEY) WITHOUT ROWID;

-- per-field stamps of documents (S12) and their born / delete stamps (S14)
CREATE TABLE sync_doc_fields (
  app_id TEXT NOT NULL,
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  field TEXT NOT NULL,
  hlc TEXT NOT NULL,
  base TEXT,
  PRIMARY KEY (app_id, collection, id, field)
) WITHOUT ROWID;
CREATE TABLE sync_docs (
  app_id TEXT NOT NULL,
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  born TEXT,
  del TEXT,
  seen TEXT,
  PRIMARY KEY (app_id, collection, id)
) WITHOUT ROWID;
INSERT INTO sync_docs (app_id, collection, id, born, del, seen)
  SELECT app_id, collection, id, CASE WHEN deleted = 0 THEN hlc END, CASE WHEN deleted = 1 THEN hlc END, CASE WHEN deleted = 1 THEN '{}' END FROM app_docs;
INSERT INTO sync_doc_fields (app_id, collection, id, field, hlc, base)
  SELECT d.app_id, d.collection, d.id, j.key, d.hlc, NULL FROM app_docs d, json_each(d.data) j WHERE d.deleted = 0;

CREATE TRIGGER sync_docs_ai AFTER INSERT ON app_docs BEGIN
  INSERT OR REPLACE INTO sync_docs (app_id, collection, id, born, del, seen) VALUES (NEW.app_id, NEW.collection, NEW.id, NEW.hlc, NULL, NULL);
  INSERT OR REPLACE INTO sync_doc_fields (app_id, collection, id, field, hlc, base)
    SELECT NEW.app_id, NEW.collection, NEW.id, j.key, NEW.hlc, NULL FROM json_each(NEW.data) j;
END;
-- a live document edited: stamp the fields added, changed or removed
CREATE TRIGGER sync_docs_au_edit AFTER UPDATE ON app_docs WHEN OLD.deleted = 0 AND NEW.deleted = 0 BEGIN
  INSERT OR REPLACE INTO sync_doc_fields (app_id, collection, id, field, hlc, base)
    SELECT NEW.app_id, NEW.collection, NEW.id, c.k, NEW.hlc,
      (SELECT CASE WHEN substr(f.hlc, 20) = NEW.node_id THEN f.base ELSE f.hlc END FROM sync_doc_fields f WHERE f.${DOC_KEY.replace(/ AND /g, ' AND f.')} AND f.field = c.k)
    FROM (
      SELECT n.key AS k FROM json_each(NEW.data) n
        WHERE NOT EXISTS (SELECT 1 FROM json_each(OLD.data) o WHERE o.key = n.key AND o.type = n.type AND o.value IS n.value)
      UNION
      SELECT o.key FROM json_each(OLD.data) o WHERE NOT EXISTS (SELECT 1 FROM json_each(NEW.data) n WHERE n.key = o.key)
    ) c;
END;
-- a deleted document inserted again: a new birth, every field stamped
CREATE TRIGGER sync_docs_au_reborn AFTER UPDATE ON app_docs WHEN OLD.deleted = 1 AND NEW.deleted = 0 BEGIN
  DELETE FROM sync_doc_fields WHERE ${DOC_KEY};
  INSERT OR REPLACE INTO sync_doc_fields (app_id, collection, id, field, hlc, base)
    SELECT NEW.app_id, NEW.collection, NEW.id, j.key, NEW.hlc, OLD.hlc FROM json_each(NEW.data) j;
  INSERT INTO sync_docs (app_id, collection, id, born, del, seen) VALUES (NEW.app_id, NEW.collection, NEW.id, NEW.hlc, NULL, NULL)
    ON CONFLICT (app_id, collection, id) DO UPDATE SET born = excluded.born;
END;
-- a document deleted: the delete stamp and the field stamps it had seen; the fields go
CREATE TRIGGER sync_docs_au_delete AFTER UPDATE ON app_docs WHEN OLD.deleted = 0 AND NEW.deleted = 1 BEGIN
  INSERT INTO sync_docs (app_id, collection, id, born, del, seen)
    VALUES (NEW.app_id, NEW.collection, NEW.id, NULL, NEW.hlc, (SELECT json_group_object(field, hlc) FROM sync_doc_fields WHERE ${DOC_KEY}))
    ON CONFLICT (app_id, collection, id) DO UPDATE SET del = excluded.del, seen = excluded.seen;
  DELETE FROM sync_doc_fields WHERE ${DOC_KEY};
END;

-- concurrent versions of one field: the loser is kept for the owner (S13)
CREATE TABLE sync_conflicts (
  id TEXT PRIMARY KEY,
  app_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('kv','doc','blob')),
  key TEXT NOT NULL,
  winner TEXT,
  winner_hlc TEXT NOT NULL,
  loser TEXT,
  loser_hlc TEXT NOT NULL,
  at INTEGER NOT NULL,
  resolution TEXT CHECK (resolution IN ('winner','loser')),
  deleted INTEGER NOT NULL DEFAULT 0,
  hlc TEXT NOT NULL,
  node_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX sync_conflicts_open ON sync_conflicts(resolution, at);


UPDATE cartridge_tables SET sync = 'local' WHERE name IN ('users', 'app_secrets', 'vfs_encodings');
INSERT INTO cartridge_tables (name, sync) VALUES
  ('app_homes','replicated'), ('sync_conflicts','replicated'),
  ('sync_log','local'), ('sync_peers','local'), ('sync_pending','local'), ('sync_local_apps','local'),
  ('sync_doc_fields','local'), ('sync_docs','local');
`;

/** All migrations, in order. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'apps, vfs, users, sessions, tokens',
    sql: `
CREATE TABLE cartridge_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE cartridge_tables (name TEXT PRIMARY KEY, sync TEXT NOT NULL CHECK (sync IN ('replicated','content','local'))) WITHOUT ROWID;

CREATE TABLE apps (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  title TEXT NOT NULL DEFAULT '',
  current_version INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  hlc TEXT NOT NULL,
  node_id TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE app_aliases (
  alias TEXT PRIMARY KEY,
  app_id TEXT NOT NULL REFERENCES apps(id),
  is_name INTEGER NOT NULL DEFAULT 0,
  deleted INTEGER NOT NULL DEFAULT 0,
  hlc TEXT NOT NULL,
  node_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX app_aliases_by_app ON app_aliases(app_id);

CREATE TABLE app_versions (
  app_id TEXT NOT NULL REFERENCES apps(id),
  version INTEGER NOT NULL,
  manifest TEXT NOT NULL,
  tree_hash TEXT NOT NULL,
  file_count INTEGER NOT NULL,
  total_bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  hlc TEXT NOT NULL,
  node_id TEXT NOT NULL,
  PRIMARY KEY (app_id, version)
) WITHOUT ROWID;

CREATE TABLE vfs_chunks (
  hash TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  data BLOB NOT NULL
);

CREATE TABLE vfs_blobs (
  hash TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  chunk_size INTEGER NOT NULL,
  chunk_count INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE vfs_blob_chunks (
  blob_hash TEXT NOT NULL REFERENCES vfs_blobs(hash),
  idx INTEGER NOT NULL,
  chunk_hash TEXT NOT NULL REFERENCES vfs_chunks(hash),
  PRIMARY KEY (blob_hash, idx)
) WITHOUT ROWID;
CREATE INDEX vfs_blob_chunks_by_chunk ON vfs_blob_chunks(chunk_hash);

CREATE TABLE vfs_encodings (
  blob_hash TEXT NOT NULL REFERENCES vfs_blobs(hash),
  encoding TEXT NOT NULL CHECK (encoding IN ('gzip','br')),
  encoded_hash TEXT NOT NULL REFERENCES vfs_blobs(hash),
  PRIMARY KEY (blob_hash, encoding)
) WITHOUT ROWID;

CREATE TABLE vfs_files (
  app_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  path TEXT NOT NULL,
  blob_hash TEXT NOT NULL REFERENCES vfs_blobs(hash),
  PRIMARY KEY (app_id, version, path),
  FOREIGN KEY (app_id, version) REFERENCES app_versions(app_id, version)
) WITHOUT ROWID;
CREATE INDEX vfs_files_by_blob ON vfs_files(blob_hash);

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('owner','member')),
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  hlc TEXT NOT NULL,
  node_id TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  scope TEXT NOT NULL CHECK (scope IN ('deploy','admin')),
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
) WITHOUT ROWID;

INSERT INTO cartridge_tables (name, sync) VALUES
  ('cartridge_meta','local'), ('cartridge_tables','local'), ('schema_migrations','local'),
  ('apps','replicated'), ('app_aliases','replicated'), ('app_versions','replicated'), ('users','replicated'),
  ('vfs_chunks','content'), ('vfs_blobs','content'), ('vfs_blob_chunks','content'), ('vfs_encodings','content'), ('vfs_files','content'),
  ('sessions','local'), ('api_tokens','local');
`,
  },
  {
    version: 2,
    name: 'app runtime: kv, docs, blobs, secrets, permissions, events, jobs, logs',
    sql: `
CREATE TABLE app_kv (
  app_id TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  expires_at INTEGER,
  deleted INTEGER NOT NULL DEFAULT 0,
  hlc TEXT NOT NULL,
  node_id TEXT NOT NULL,
  PRIMARY KEY (app_id, key)
) WITHOUT ROWID;
CREATE INDEX app_kv_expiry ON app_kv(expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE app_docs (
  app_id TEXT NOT NULL,
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  hlc TEXT NOT NULL,
  node_id TEXT NOT NULL,
  PRIMARY KEY (app_id, collection, id)
) WITHOUT ROWID;

CREATE TABLE app_blobs (
  app_id TEXT NOT NULL,
  key TEXT NOT NULL,
  blob_hash TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  hlc TEXT NOT NULL,
  node_id TEXT NOT NULL,
  PRIMARY KEY (app_id, key)
) WITHOUT ROWID;
CREATE INDEX app_blobs_by_blob ON app_blobs(blob_hash);

CREATE TABLE app_secrets (
  app_id TEXT NOT NULL,
  name TEXT NOT NULL,
  ciphertext BLOB NOT NULL,
  nonce BLOB NOT NULL,
  updated_at INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  hlc TEXT NOT NULL,
  node_id TEXT NOT NULL,
  PRIMARY KEY (app_id, name)
) WITHOUT ROWID;

CREATE TABLE app_permissions (
  app_id TEXT NOT NULL,
  permission TEXT NOT NULL,
  granted_at INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  hlc TEXT NOT NULL,
  node_id TEXT NOT NULL,
  PRIMARY KEY (app_id, permission)
) WITHOUT ROWID;

CREATE TABLE events (
  id TEXT PRIMARY KEY,
  app_id TEXT NOT NULL,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  hlc TEXT NOT NULL,
  node_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX events_by_time ON events(created_at);

CREATE TABLE event_deliveries (
  event_id TEXT NOT NULL REFERENCES events(id),
  app_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending','done','failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  last_error TEXT,
  PRIMARY KEY (event_id, app_id)
) WITHOUT ROWID;
CREATE INDEX event_deliveries_due ON event_deliveries(status, next_at);

CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  app_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('after','at','cron')),
  name TEXT,
  cron TEXT,
  catch_up TEXT NOT NULL DEFAULT 'once' CHECK (catch_up IN ('skip','once','all')),
  run_at INTEGER NOT NULL,
  state TEXT,
  status TEXT NOT NULL CHECK (status IN ('scheduled','running','done','failed','cancelled')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX jobs_due ON jobs(status, run_at);
CREATE INDEX jobs_by_app ON jobs(app_id, status);

CREATE TABLE app_logs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  app_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  level TEXT NOT NULL CHECK (level IN ('debug','info','warn','error')),
  message TEXT NOT NULL,
  data TEXT,
  source TEXT
);
CREATE INDEX app_logs_by_app ON app_logs(app_id, id);

INSERT INTO cartridge_tables (name, sync) VALUES
  ('app_kv','replicated'), ('app_docs','replicated'), ('app_blobs','replicated'), ('app_secrets','replicated'),
  ('app_permissions','replicated'), ('events','replicated'),
  ('event_deliveries','local'), ('jobs','local'), ('app_logs','local');
`,
  },
  {
    version: 3,
    name: 'auto_vacuum = INCREMENTAL (free pages go back to the file system)',
    // Turning auto-vacuum on for a file that has tables takes a VACUUM, which rebuilds the file in
    // one atomic commit (journal or WAL): a crash leaves the old file whole, and this step runs
    // again at the next open. New cartridges are created incremental, so it is skipped for them.
    before: (db) => {
      const mode = db.get<{ auto_vacuum: number }>('PRAGMA auto_vacuum')?.auto_vacuum;
      if (mode === 2) return;
      db.exec('PRAGMA auto_vacuum = INCREMENTAL');
      db.exec('VACUUM');
    },
    sql: `-- the auto_vacuum change is made by before(): VACUUM cannot run inside a transaction`,
  },
  {
    version: 4,
    name: 'app-scoped deploy tokens, versions awaiting approval, owner login codes',
    sql: `
ALTER TABLE api_tokens ADD COLUMN apps TEXT;

-- one row per app version deployed without the admin scope: held = 1 when it was stored without
-- going live (it waits for approval); approved_at once the owner approved it
CREATE TABLE app_version_approvals (
  app_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  deployed_by TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  held INTEGER NOT NULL,
  approved_at INTEGER,
  PRIMARY KEY (app_id, version)
) WITHOUT ROWID;

CREATE TABLE owner_login_codes (
  code_hash TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
) WITHOUT ROWID;

INSERT INTO cartridge_tables (name, sync) VALUES ('app_version_approvals','local'), ('owner_login_codes','local');
`,
  },
  {
    version: 5,
    name: 'mesh: paired peers and pairing invitations',
    sql: `
CREATE TABLE mesh_peers (
  node_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  public_key TEXT NOT NULL,
  writer_id TEXT NOT NULL,
  addresses TEXT NOT NULL DEFAULT '[]',
  paired_at INTEGER NOT NULL,
  last_seen INTEGER
) WITHOUT ROWID;

CREATE TABLE mesh_invitations (
  locator TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  secret BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  used_by TEXT,
  failures INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

INSERT INTO cartridge_tables (name, sync) VALUES ('mesh_peers','local'), ('mesh_invitations','local');
`,
  },
  {
    version: 6,
    name: 'MCP token scopes: mcp and mcp-read',
    // SQLite cannot change a CHECK constraint in place: the table is rebuilt with the same rows
    // (https://www.sqlite.org/lang_altertable.html#otheralter)
    sql: `
CREATE TABLE api_tokens_v6 (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  scope TEXT NOT NULL CHECK (scope IN ('deploy','admin','mcp','mcp-read')),
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER,
  apps TEXT
) WITHOUT ROWID;
INSERT INTO api_tokens_v6 (id, token_hash, name, scope, created_at, last_used_at, revoked_at, apps)
  SELECT id, token_hash, name, scope, created_at, last_used_at, revoked_at, apps FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_v6 RENAME TO api_tokens;
-- the old table's pages go back to the file system (auto_vacuum is INCREMENTAL since migration 3)
PRAGMA incremental_vacuum;
`,
  },
  {
    version: 7,
    name: 'ai: providers (keys sealed), per-app usage and budgets',
    sql: `
-- model providers of this node; key_sealed: the API key sealed with the secrets key
-- (SecretStore.seal, purpose "ai provider <name>"), never returned by any API
CREATE TABLE ai_providers (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  base_url TEXT,
  key_sealed BLOB,
  default_model TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- AI usage per app ('' = the owner: CLI, dashboard) and UTC month ('2026-12')
CREATE TABLE ai_usage (
  app_id TEXT NOT NULL,
  period TEXT NOT NULL,
  calls INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  errors INTEGER NOT NULL DEFAULT 0,
  last_at INTEGER,
  PRIMARY KEY (app_id, period)
) WITHOUT ROWID;

-- the owner's cap per app and UTC month; NULL = no cap on that measure
CREATE TABLE ai_budgets (
  app_id TEXT PRIMARY KEY,
  tokens_per_month INTEGER,
  calls_per_month INTEGER,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO cartridge_tables (name, sync) VALUES ('ai_providers','local'), ('ai_usage','local'), ('ai_budgets','local');
`,
  },
  {
    version: 8,
    name: 'sync: change log, per-field document stamps, conflicts, app homes (docs/sync-spec.md)',
    sql: SYNC_MIGRATION_SQL,
  },
  {
    version: 9,
    name: 'notify: Web Push subscriptions per device and user (docs/notify.md)',
    sql: `
-- one row per browser push subscription (W3C Push API); local: a subscription is bound to this
-- node's VAPID key (cartridge_meta 'notify.vapid.public' / 'notify.vapid.private', the private key
-- sealed with the secrets key), so it means nothing on another node
CREATE TABLE push_subscriptions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  endpoint TEXT NOT NULL UNIQUE,
  p256dh TEXT NOT NULL,
  auth TEXT NOT NULL,
  expiration_time INTEGER,
  device TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_success_at INTEGER,
  last_failure_at INTEGER,
  last_error TEXT,
  failures INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX push_subscriptions_by_user ON push_subscriptions(user_id);
INSERT INTO cartridge_tables (name, sync) VALUES ('push_subscriptions','local');
`,
  },
  {
    version: 10,
    name: 'pulse: health snapshots (raw, hourly, daily) and alerts (docs/pulse.md)',
    sql: `
-- one health snapshot per row (JSON, shared/pulse/snapshot.ts): raw ones for a day, then merged into
-- hourly rows, then daily rows after 30 days, deleted after 400 days (shared/pulse/store.ts)
CREATE TABLE pulse_snapshots (
  resolution TEXT NOT NULL CHECK (resolution IN ('raw','hour','day')),
  at INTEGER NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (resolution, at)
) WITHOUT ROWID;

-- critical conditions raised (disk, app errors, failing jobs, cartridge growth); one open row per
-- (condition, subject) until it clears
CREATE TABLE pulse_alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  condition TEXT NOT NULL,
  subject TEXT NOT NULL,
  severity TEXT NOT NULL CHECK (severity IN ('warning','critical')),
  title TEXT NOT NULL,
  message TEXT NOT NULL,
  raised_at INTEGER NOT NULL,
  cleared_at INTEGER
);
CREATE UNIQUE INDEX pulse_alerts_open ON pulse_alerts(condition, subject) WHERE cleared_at IS NULL;
CREATE INDEX pulse_alerts_by_time ON pulse_alerts(raised_at);

INSERT INTO cartridge_tables (name, sync) VALUES ('pulse_snapshots','local'), ('pulse_alerts','local');
`,
  },
  {
    version: 11,
    name: 'safeguards: egress usage per app and UTC month, egress quotas (docs/safeguards.md)',
    sql: `
-- bytes an app moved through fazt.net.fetch per UTC month ('2026-12'): request bodies sent and
-- response bodies received (decoded); headers do not count
CREATE TABLE egress_usage (
  app_id TEXT NOT NULL,
  period TEXT NOT NULL,
  request_bytes INTEGER NOT NULL DEFAULT 0,
  response_bytes INTEGER NOT NULL DEFAULT 0,
  requests INTEGER NOT NULL DEFAULT 0,
  refused INTEGER NOT NULL DEFAULT 0,
  last_at INTEGER,
  PRIMARY KEY (app_id, period)
) WITHOUT ROWID;

-- the owner's cap per app: request + response body bytes per UTC month (no row: no cap)
CREATE TABLE egress_quotas (
  app_id TEXT PRIMARY KEY,
  bytes_per_month INTEGER NOT NULL CHECK (bytes_per_month >= 0),
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO cartridge_tables (name, sync) VALUES ('egress_usage','local'), ('egress_quotas','local');
`,
  },
];

/** The newest schema version this build knows. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

