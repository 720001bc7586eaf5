/**
 * The rows sync sends (docs/sync-spec.md §2–§4): one JSON shape per replicated table, and the checks
 * a received row must pass before anything of its batch is applied (S40).
 */
import { SYSTEM_EMITTER } from '../events/index.js';
import { isStamp } from './stamps.js';

/** A blob's metadata as it travels with the row that uses it (S22). */
export interface WireBlob {
  /** SHA-256 of the content, hex. */
  hash: string;
  /** Bytes. */
  size: number;
  /** Chunk size it was cut with, bytes. */
  chunkSize: number;
  /** Chunk hashes in order (SHA-256 hex). */
  chunks: string[];
}

/** A kv key (S11). `v`: the JSON text; `null` for a tombstone. */
export interface KvRow {
  t: 'kv';
  app: string;
  key: string;
  v: string | null;
  exp: number | null;
  h: string;
  b: string | null;
}

/** One field of a document: `v` is the field's JSON value, absent when the field was removed. */
export interface DocField {
  v?: unknown;
  h: string;
  b: string | null;
}

/** A document (S12, S14). */
export interface DocRow {
  t: 'doc';
  app: string;
  col: string;
  id: string;
  /** Stamp of its last (re)creation. */
  born: string | null;
  /** Its last delete: stamp and the field stamps the deleter had seen. */
  del: { h: string; seen: Record<string, string> } | null;
  fields: Record<string, DocField>;
  created: number;
  updated: number;
}

/** An app blob key (S11, S22). */
export interface BlobRow {
  t: 'blob';
  app: string;
  key: string;
  /** `null` for a tombstone. */
  blob: WireBlob | null;
  ct: string;
  created: number;
  updated: number;
  h: string;
  b: string | null;
}

/** An app (S10, S21): the live version travels as its stamp. */
export interface AppRow {
  t: 'app';
  id: string;
  name: string;
  title: string;
  live: string | null;
  created: number;
  updated: number;
  del: boolean;
  h: string;
  /** The app's home (S17) as the sender has it, so a new app's home is the same row everywhere. */
  home?: { home: string; h: string } | null;
}

/** An app version (S20). */
export interface VersionRow {
  t: 'version';
  app: string;
  n: number;
  manifest: string;
  tree: string;
  count: number;
  bytes: number;
  created: number;
  h: string;
  /** path → blob hash. */
  files: [string, string][];
  blobs: WireBlob[];
}

/** A row-LWW row of a simple table (aliases, permissions, homes). */
export interface AliasRow {
  t: 'alias';
  alias: string;
  app: string;
  isName: boolean;
  del: boolean;
  h: string;
}
export interface PermRow {
  t: 'perm';
  app: string;
  p: string;
  granted: number;
  del: boolean;
  h: string;
}
export interface HomeRow {
  t: 'home';
  app: string;
  home: string;
  h: string;
}
/** An event (S16). */
export interface EventRow {
  t: 'event';
  id: string;
  app: string;
  type: string;
  payload: string;
  created: number;
  h: string;
}
/** A conflict record (S13). Values are JSON text (`null`: deleted / absent). */
export interface ConflictRow {
  t: 'conflict';
  id: string;
  app: string;
  kind: 'kv' | 'doc' | 'blob';
  key: string;
  winner: string | null;
  wh: string;
  loser: string | null;
  lh: string;
  at: number;
  res: 'winner' | 'loser' | null;
  h: string;
}

/** Any row on the wire. */
export type WireRow = KvRow | DocRow | BlobRow | AppRow | VersionRow | AliasRow | PermRow | HomeRow | EventRow | ConflictRow;

/** Why a received row is refused (S40). */
export class SyncRefused extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'SyncRefused';
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const isStr = (v: unknown, max = 4096): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;
const isStrOrEmpty = (v: unknown, max = 4096): v is string => typeof v === 'string' && v.length <= max;
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const stampOrNull = (v: unknown) => v === null || v === undefined || isStamp(v);

function blobOk(b: unknown): b is WireBlob {
  if (!isObj(b) || typeof b.hash !== 'string' || !HEX64.test(b.hash) || !isInt(b.size) || b.size < 0 || !isInt(b.chunkSize) || b.chunkSize <= 0) return false;
  if (!Array.isArray(b.chunks) || b.chunks.length !== Math.ceil(b.size / b.chunkSize)) return false;
  return b.chunks.every((c) => typeof c === 'string' && HEX64.test(c));
}

/**
 * Checks a received row's shape and stamps; returns every stamp it carries (for the drift bound and
 * the clock merge, S2/S3).
 * @throws SyncRefused naming what is wrong.
 */
export function checkRow(r: unknown): string[] {
  const bad = (what: string): never => {
    throw new SyncRefused(`malformed ${isObj(r) && typeof r.t === 'string' ? r.t.slice(0, 20) : ''} row: ${what}`);
  };
  if (!isObj(r)) bad('not an object');
  const row = r as Record<string, unknown>;
  if (!isStamp(row.h) && row.t !== 'doc') bad('bad stamp');
  const stamps: string[] = row.t === 'doc' ? [] : [row.h as string];
  switch (row.t) {
    case 'kv':
      if (!isStr(row.app, 200) || !isStr(row.key, 2048)) bad('app/key');
      if (row.v !== null && typeof row.v !== 'string') bad('value');
      if (row.exp !== null && !isInt(row.exp)) bad('expiry');
      if (!stampOrNull(row.b)) bad('base');
      break;
    case 'doc': {
      if (!isStr(row.app, 200) || !isStr(row.col, 64) || !isStr(row.id, 128)) bad('app/collection/id');
      if (!stampOrNull(row.born)) bad('born');
      if (row.born) stamps.push(row.born as string);
      if (row.del !== null) {
        if (!isObj(row.del) || !isStamp(row.del.h) || !isObj(row.del.seen)) bad('delete');
        const d = row.del as { h: string; seen: Record<string, unknown> };
        stamps.push(d.h);
        if (!Object.values(d.seen).every(isStamp)) bad('delete seen');
      }
      if (!isObj(row.fields)) bad('fields');
      for (const f of Object.values(row.fields as Record<string, unknown>)) {
        if (!isObj(f) || !isStamp(f.h) || !stampOrNull(f.b)) bad('field');
        stamps.push((f as { h: string }).h);
      }
      if (!isInt(row.created) || !isInt(row.updated)) bad('times');
      if (stamps.length === 0) bad('no stamp');
      break;
    }
    case 'blob':
      if (!isStr(row.app, 200) || !isStr(row.key, 2048) || !isStrOrEmpty(row.ct, 255)) bad('app/key/type');
      if (row.blob !== null && !blobOk(row.blob)) bad('blob');
      if (!isInt(row.created) || !isInt(row.updated) || !stampOrNull(row.b)) bad('times/base');
      break;
    case 'app':
      if (!isStr(row.id, 200) || !isStr(row.name, 200) || !isStrOrEmpty(row.title, 1000) || typeof row.del !== 'boolean') bad('fields');
      if (!stampOrNull(row.live) || !isInt(row.created) || !isInt(row.updated)) bad('live/times');
      if (row.home !== undefined && row.home !== null) {
        if (!isObj(row.home) || typeof row.home.home !== 'string' || !/^[0-9a-f]{16}$/.test(row.home.home) || !isStamp(row.home.h)) bad('home');
        stamps.push((row.home as { h: string }).h);
      }
      break;
    case 'version':
      if (!isStr(row.app, 200) || !isInt(row.n) || (row.n as number) < 1 || !isStr(row.manifest, 1 << 20) || !isStr(row.tree, 200)) bad('fields');
      if (!isInt(row.count) || !isInt(row.bytes) || !isInt(row.created)) bad('totals');
      if (!Array.isArray(row.files) || !row.files.every((f) => Array.isArray(f) && f.length === 2 && isStr(f[0], 2048) && typeof f[1] === 'string' && HEX64.test(f[1]))) bad('files');
      if (!Array.isArray(row.blobs) || !row.blobs.every(blobOk)) bad('blobs');
      break;
    case 'alias':
      if (!isStr(row.alias, 200) || !isStr(row.app, 200) || typeof row.isName !== 'boolean' || typeof row.del !== 'boolean') bad('fields');
      break;
    case 'perm':
      if (!isStr(row.app, 200) || !isStr(row.p, 200) || !isInt(row.granted) || typeof row.del !== 'boolean') bad('fields');
      break;
    case 'home':
      if (!isStr(row.app, 200) || typeof row.home !== 'string' || !/^[0-9a-f]{16}$/.test(row.home)) bad('fields');
      break;
    case 'event':
      if (!isStr(row.id, 200) || !isStr(row.app, 200) || !isStr(row.type, 200) || typeof row.payload !== 'string' || !isInt(row.created)) bad('fields');
      // the node's own events (emitter "fazt") stay on the node that emitted them (S16)
      if (row.app === SYSTEM_EMITTER) throw new SyncRefused('a system event (emitter "fazt") does not replicate');
      break;
    case 'conflict':
      if (!isStr(row.id, 100) || !isStr(row.app, 200) || !['kv', 'doc', 'blob'].includes(row.kind as string) || !isStr(row.key, 4096)) bad('fields');
      if (!isStamp(row.wh) || !isStamp(row.lh) || !isInt(row.at)) bad('stamps');
      if ((row.winner !== null && typeof row.winner !== 'string') || (row.loser !== null && typeof row.loser !== 'string')) bad('values');
      if (row.res !== null && row.res !== 'winner' && row.res !== 'loser') bad('resolution');
      stamps.push(row.wh as string, row.lh as string);
      break;
    default:
      bad(`unknown table ${JSON.stringify(String(row.t).slice(0, 40))}`);
  }
  return stamps;
}

/** The app a row belongs to (S6), or `undefined` for none. */
export function appOf(r: WireRow): string {
  return r.t === 'app' ? r.id : r.app;
}
