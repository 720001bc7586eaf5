import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { FaztError } from '../errors.js';
import type { Cartridge } from '../cartridge/index.js';
import type { SqlValue } from '../sql/index.js';
import { jsonTypeName, quote } from './util.js';
import { isWellFormed, utf8Length } from '../lib/utf8.js';

/** Limits of the document store. */
export interface DocLimits {
  /** Largest document, in UTF-8 bytes of its JSON text (without `_id`). */
  maxDocBytes: number;
  /** Most documents one `find` returns; also its default `limit`. A larger explicit `limit` is an error. */
  maxResults: number;
}

/** Default {@link DocLimits}: 1 MiB documents, 1000 results per find. */
export const DEFAULT_DOC_LIMITS: Readonly<DocLimits> = Object.freeze({ maxDocBytes: 1024 * 1024, maxResults: 1000 });

/** A stored document: a JSON object whose `_id` is its id within the collection. */
export interface Doc {
  _id: string;
  [field: string]: unknown;
}

/**
 * Comparison operators of a {@link Filter} field. Comparisons are type-strict (like MongoDB):
 * `1` never equals `true` or `"1"`; ranges only match values of the operand's type
 * (numbers with numbers, strings with strings in UTF-8 byte order, `false < true`).
 */
export interface FilterOperators {
  /** Equal (JSON value; `null` also matches a missing field; arrays/objects compare exactly, key order included). */
  $eq?: unknown;
  /** Not equal (also matches a missing field, except `$ne: null`, which means "present and not null"). */
  $ne?: unknown;
  /** Greater than (same type only; missing and null never match a range). */
  $gt?: number | string | boolean;
  /** Greater than or equal (same type only). */
  $gte?: number | string | boolean;
  /** Less than (same type only). */
  $lt?: number | string | boolean;
  /** Less than or equal (same type only). */
  $lte?: number | string | boolean;
  /** Equal to one of the values. */
  $in?: unknown[];
  /** Equal to none of the values (matches a missing field unless `null` is listed). */
  $nin?: unknown[];
  /** String field: contains the string (case-sensitive). Array field: has an element equal to the value. */
  $contains?: unknown;
}

/**
 * A query filter: field path → value (equality) or {@link FilterOperators}. Paths are dotted
 * (`author.name`) or `_id`; all fields must match. An object value whose keys all start with `$`
 * is read as operators; one without `$` keys is an exact (equality) match.
 * @example { done: false, 'author.name': 'ann', votes: { $gte: 10 }, tags: { $contains: 'news' } }
 */
export type Filter = Record<string, unknown>;

/** Options of {@link DocStore.find}. */
export interface DocQuery {
  where?: Filter;
  /**
   * Field path → 1 (ascending) / -1 (descending), applied in key order; ties are broken by `_id`
   * ascending (the default order). Mixed types order as: null/missing < numbers < strings < objects
   * < arrays < booleans (MongoDB's order); strings in UTF-8 byte order.
   */
  sort?: Record<string, 1 | -1>;
  /** 1 … `maxResults` (default `maxResults`). */
  limit?: number;
  /** Documents to skip, ≥ 0 (default 0). */
  offset?: number;
}

/** An update of {@link DocStore.update}. Paths are dotted; `$set` creates missing parent objects. */
export interface DocUpdate {
  /** path → new JSON value. */
  $set?: Record<string, unknown>;
  /** path → anything: removes the fields. */
  $unset?: Record<string, unknown>;
  /** path → finite number added to the field (a missing field counts as 0). */
  $inc?: Record<string, number>;
}

/** A collection of an app and its number of live documents. */
export interface CollectionInfo {
  name: string;
  count: number;
}

const COLLECTION_RE = /^[a-zA-Z0-9_-]{1,64}$/;
const PATH_RE = /^[a-zA-Z_$][a-zA-Z0-9_$]*(\.[a-zA-Z_$][a-zA-Z0-9_$]*)*$/;
const MAX_PATH_LENGTH = 256;
const MAX_ID_LENGTH = 128;
const TOMBSTONE_DATA = '{}';
const QUERY_KEYS = new Set(['where', 'sort', 'limit', 'offset']);
const UPDATE_OPS = new Set(['$set', '$unset', '$inc']);

/** SQL for one field: its value (`json_extract`) and its JSON type (`json_type`). */
interface FieldSql {
  value: string;
  type: string;
  /** The JSON path literal (`'$.a.b'`), absent for `_id` (the `id` column). */
  path?: string;
}

/** Collects positional parameters in the order their `?` appear. */
class Params {
  readonly list: SqlValue[] = [];
  bind(v: SqlValue): '?' {
    this.list.push(v);
    return '?';
  }
}

type Kind = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The JSON kind of a filter operand. @throws FaztError `INVALID_ARGUMENT` for values JSON cannot hold. */
function kindOf(v: unknown, where: string): Kind {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return 'boolean';
    case 'string':
      return 'string';
    case 'number':
      if (!Number.isFinite(v)) throw new FaztError('INVALID_ARGUMENT', `${where}: ${v} is not a JSON number.`);
      return 'number';
    case 'object':
      if (Array.isArray(v)) return 'array';
      if (isPlainObject(v)) return 'object';
  }
  throw new FaztError('INVALID_ARGUMENT', `${where}: ${jsonTypeName(v)} is not a JSON value.`);
}

/** JSON text of a filter operand. @throws FaztError `INVALID_ARGUMENT` (cycles, BigInt). */
function toJson(v: unknown, where: string): string {
  try {
    const s = JSON.stringify(v);
    if (s !== undefined) return s;
  } catch {
    /* fall through */
  }
  throw new FaztError('INVALID_ARGUMENT', `${where}: the value cannot be written as JSON.`);
}

function assertCollection(collection: unknown): asserts collection is string {
  if (typeof collection !== 'string' || !COLLECTION_RE.test(collection)) {
    throw new FaztError(
      'INVALID_ARGUMENT',
      `Invalid collection name ${typeof collection === 'string' ? quote(collection) : `(${jsonTypeName(collection)})`}: use 1-64 letters, digits, "_" or "-".`,
    );
  }
}

/** @throws FaztError `INVALID_ARGUMENT` unless `path` is a dotted field path (or `_id` when allowed). */
function assertPath(path: string, allowId: boolean): void {
  if (path.length > MAX_PATH_LENGTH || !PATH_RE.test(path)) {
    throw new FaztError(
      'INVALID_ARGUMENT',
      `Invalid field path ${quote(path)}: use dotted names of letters, digits, "_" and "$" (like "author.name"), at most ${MAX_PATH_LENGTH} characters.`,
    );
  }
  if (path === '_id' ? !allowId : path.startsWith('_id.')) {
    throw new FaztError('INVALID_ARGUMENT', path === '_id' ? '_id cannot be changed.' : `Invalid field path ${quote(path)}: _id is a string and has no fields.`);
  }
}

/**
 * The JSON path literal of a validated field path, as it appears in queries and index DDL
 * (the same text in both, so SQLite can match the expression index).
 */
function jsonPathLiteral(path: string): string {
  return `'$.${path}'`;
}

function fieldSql(path: string): FieldSql {
  assertPath(path, true);
  if (path === '_id') return { value: 'id', type: "'text'" };
  const p = jsonPathLiteral(path);
  return { value: `json_extract(data, ${p})`, type: `json_type(data, ${p})`, path: p };
}

/** Elements of an array being scanned by `json_each(...) AS e`. */
const ELEMENT: FieldSql = { value: 'e.value', type: 'e.type' };

const TYPES: Record<Exclude<Kind, 'null' | 'boolean'>, string> = {
  number: "('integer', 'real')",
  string: "('text')",
  array: "('array')",
  object: "('object')",
};

/** Type-strict equality of a field with a JSON value. */
function eqSql(f: FieldSql, v: unknown, p: Params, where: string): string {
  const kind = kindOf(v, where);
  switch (kind) {
    case 'null':
      return `${f.value} IS NULL`;
    case 'boolean':
      return `(${f.value} = ${p.bind(v ? 1 : 0)} AND ${f.type} = '${v ? 'true' : 'false'}')`;
    case 'number':
    case 'string':
      return `(${f.value} = ${p.bind(v as number | string)} AND ${f.type} IN ${TYPES[kind]})`;
    default:
      return `(${f.value} = json(${p.bind(toJson(v, where))}) AND ${f.type} IN ${TYPES[kind]})`;
  }
}

/** Type-strict range comparison (`op` is one of `> >= < <=`). */
function cmpSql(f: FieldSql, op: string, v: unknown, p: Params, where: string): string {
  const kind = kindOf(v, where);
  if (kind === 'boolean') return `(${f.value} ${op} ${p.bind(v ? 1 : 0)} AND ${f.type} IN ('true', 'false'))`;
  if (kind === 'number' || kind === 'string') return `(${f.value} ${op} ${p.bind(v as number | string)} AND ${f.type} IN ${TYPES[kind]})`;
  throw new FaztError('INVALID_ARGUMENT', `${where} needs a number, string or boolean, got ${jsonTypeName(v)}.`);
}

/** Longest `$in` list bound as a literal list `(?, ?, …)`; longer lists are bound as one JSON array. */
const MAX_LITERAL_IN = 64;

/**
 * The right side of `IN` for values of one type group. Short lists become `(?, ?, …)` (SQLite can
 * then use an expression index), padded with repeats of the first value to a power-of-two length so
 * that few distinct statements are prepared; long lists become `(SELECT value FROM json_each(?))`.
 */
function inListSql(values: unknown[], composite: boolean, p: Params, where: string): string {
  if (values.length > MAX_LITERAL_IN) return `(SELECT value FROM json_each(${p.bind(toJson(values, where))}))`;
  let n = 1;
  while (n < values.length) n *= 2;
  const slots: string[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[i] ?? values[0];
    if (composite) slots.push(`json(${p.bind(toJson(v, where))})`);
    else slots.push(p.bind(typeof v === 'boolean' ? (v ? 1 : 0) : (v as number | string)));
  }
  return `(${slots.join(', ')})`;
}

/** Type-strict membership: values are grouped by type (numbers, strings, booleans, null, arrays/objects). */
function inSql(f: FieldSql, list: unknown, p: Params, where: string): string {
  if (!Array.isArray(list)) throw new FaztError('INVALID_ARGUMENT', `${where} needs an array, got ${jsonTypeName(list)}.`);
  const groups = new Map<string, unknown[]>();
  for (const v of list) {
    const k = kindOf(v, where);
    const g = k === 'boolean' ? "('true', 'false')" : k === 'null' ? 'null' : k === 'array' || k === 'object' ? "('array', 'object')" : TYPES[k];
    (groups.get(g) ?? groups.set(g, []).get(g)!).push(v);
  }
  const parts: string[] = [];
  for (const [types, values] of groups) {
    if (types === 'null') parts.push(`${f.value} IS NULL`);
    else parts.push(`(${f.value} IN ${inListSql(values, types === "('array', 'object')", p, where)} AND ${f.type} IN ${types})`);
  }
  return parts.length === 0 ? '0' : parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
}

/** Substring of a string field, or element of an array field. */
function containsSql(f: FieldSql, v: unknown, p: Params, where: string): string {
  kindOf(v, where);
  const parts: string[] = [];
  if (typeof v === 'string') parts.push(`(${f.type} = 'text' AND instr(${f.value}, ${p.bind(v)}) > 0)`);
  if (f.path) parts.push(`(${f.type} = 'array' AND EXISTS (SELECT 1 FROM json_each(data, ${f.path}) AS e WHERE ${eqSql(ELEMENT, v, p, where)}))`);
  return parts.length === 0 ? '0' : parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
}

/** Compiles a filter to AND-ed SQL terms (each self-contained), binding every value. */
function compileFilter(filter: unknown, p: Params): string[] {
  if (filter === undefined) return [];
  if (!isPlainObject(filter)) throw new FaztError('INVALID_ARGUMENT', `A filter must be an object like { "done": false }, got ${jsonTypeName(filter)}.`);
  const terms: string[] = [];
  for (const [path, cond] of Object.entries(filter)) {
    if (path.startsWith('$')) throw new FaztError('INVALID_ARGUMENT', `Unknown filter operator ${quote(path)}: a filter maps field paths to values or to {$eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $contains}.`);
    const f = fieldSql(path);
    const ctx = `filter on ${quote(path)}`;
    const keys = isPlainObject(cond) ? Object.keys(cond) : [];
    const ops = keys.filter((k) => k.startsWith('$'));
    if (ops.length === 0) {
      terms.push(eqSql(f, cond, p, ctx));
      continue;
    }
    if (ops.length !== keys.length) {
      throw new FaztError('INVALID_ARGUMENT', `${ctx}: do not mix operators (${ops.join(', ')}) with plain fields; use {$eq: {...}} to match an object.`);
    }
    for (const op of ops) {
      const v = (cond as Record<string, unknown>)[op];
      const where = `${op} ${ctx}`;
      switch (op) {
        case '$eq':
          terms.push(eqSql(f, v, p, where));
          break;
        case '$ne':
          terms.push(v === null ? `${f.value} IS NOT NULL` : `NOT IFNULL(${eqSql(f, v, p, where)}, 0)`);
          break;
        case '$gt':
          terms.push(cmpSql(f, '>', v, p, where));
          break;
        case '$gte':
          terms.push(cmpSql(f, '>=', v, p, where));
          break;
        case '$lt':
          terms.push(cmpSql(f, '<', v, p, where));
          break;
        case '$lte':
          terms.push(cmpSql(f, '<=', v, p, where));
          break;
        case '$in':
          terms.push(inSql(f, v, p, where));
          break;
        case '$nin':
          terms.push(`NOT IFNULL(${inSql(f, v, p, where)}, 0)`);
          break;
        case '$contains':
          terms.push(containsSql(f, v, p, where));
          break;
        default:
          throw new FaztError('INVALID_ARGUMENT', `Unknown filter operator ${quote(op)} on ${quote(path)}; supported: $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $contains.`);
      }
    }
  }
  return terms;
}

/** Type rank for sorting mixed types: MongoDB's order. */
function rankSql(f: FieldSql): string {
  return `CASE ${f.type} WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 WHEN 'object' THEN 3 WHEN 'array' THEN 4 WHEN 'true' THEN 5 WHEN 'false' THEN 5 ELSE 0 END`;
}

function compileSort(sort: unknown): string {
  if (sort === undefined) return 'id';
  if (!isPlainObject(sort)) throw new FaztError('INVALID_ARGUMENT', `sort must be an object like { "createdAt": -1 }, got ${jsonTypeName(sort)}.`);
  const parts: string[] = [];
  let byId = false;
  for (const [path, dir] of Object.entries(sort)) {
    if (dir !== 1 && dir !== -1) throw new FaztError('INVALID_ARGUMENT', `sort direction of ${quote(path)} must be 1 or -1, got ${JSON.stringify(dir) ?? String(dir)}.`);
    const f = fieldSql(path);
    const d = dir === 1 ? 'ASC' : 'DESC';
    if (path === '_id') {
      parts.push(`id ${d}`);
      byId = true;
      break; // ids are unique: later keys cannot matter
    }
    parts.push(`${rankSql(f)} ${d}`, `${f.value} ${d}`);
  }
  if (!byId) parts.push('id');
  return parts.join(', ');
}

/** Splits a validated path; `Object.hasOwn` guards every step, so `__proto__` is an ordinary key. */
function segments(path: string): string[] {
  return path.split('.');
}

function getOwn(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

/** The object holding the last segment of `path`, creating missing parents when `create`. */
function parentOf(doc: Record<string, unknown>, path: string, create: boolean): Record<string, unknown> | undefined {
  const segs = segments(path);
  let cur = doc;
  for (let i = 0; i < segs.length - 1; i++) {
    const s = segs[i]!;
    let next = getOwn(cur, s);
    if (next === undefined) {
      if (!create) return undefined;
      next = {};
      setOwn(cur, s, next);
    }
    if (!isPlainObject(next)) {
      if (!create) return undefined;
      throw new FaztError('INVALID_ARGUMENT', `Cannot set ${quote(path)}: ${quote(segs.slice(0, i + 1).join('.'))} holds ${jsonTypeName(next)}, not an object.`);
    }
    cur = next;
  }
  return cur;
}

interface ParsedUpdate {
  set: [string, unknown][];
  unset: string[];
  inc: [string, number][];
}

/** Validates an update before anything is read. @throws FaztError `INVALID_ARGUMENT`. */
function parseUpdate(update: unknown): ParsedUpdate {
  if (!isPlainObject(update)) throw new FaztError('INVALID_ARGUMENT', `An update must be an object like {$set: {"done": true}}, got ${jsonTypeName(update)}.`);
  const keys = Object.keys(update);
  if (keys.length === 0) throw new FaztError('INVALID_ARGUMENT', 'The update is empty: use {$set: {...}}, {$unset: {...}} or {$inc: {...}}.');
  const plain = keys.filter((k) => !k.startsWith('$'));
  if (plain.length > 0) {
    throw new FaztError('INVALID_ARGUMENT', `An update takes operators, not fields (${plain.slice(0, 3).map(quote).join(', ')}): use {$set: {...}} to change fields.`);
  }
  for (const k of keys) {
    if (!UPDATE_OPS.has(k)) throw new FaztError('INVALID_ARGUMENT', `Unknown update operator ${quote(k)}; supported: $set, $unset, $inc.`);
    if (!isPlainObject(update[k])) throw new FaztError('INVALID_ARGUMENT', `${k} must be an object of field paths, got ${jsonTypeName(update[k])}.`);
  }
  const out: ParsedUpdate = { set: [], unset: [], inc: [] };
  const paths: string[] = [];
  for (const [path, v] of Object.entries((update.$set ?? {}) as Record<string, unknown>)) {
    assertPath(path, false);
    toJson(v, `$set of ${quote(path)}`);
    out.set.push([path, v]);
    paths.push(path);
  }
  for (const path of Object.keys((update.$unset ?? {}) as Record<string, unknown>)) {
    assertPath(path, false);
    out.unset.push(path);
    paths.push(path);
  }
  for (const [path, v] of Object.entries((update.$inc ?? {}) as Record<string, unknown>)) {
    assertPath(path, false);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new FaztError('INVALID_ARGUMENT', `$inc of ${quote(path)} needs a finite number, got ${jsonTypeName(v)}.`);
    out.inc.push([path, v]);
    paths.push(path);
  }
  paths.sort();
  for (let i = 1; i < paths.length; i++) {
    const a = paths[i - 1]!;
    const b = paths[i]!;
    if (a === b || b.startsWith(a + '.')) throw new FaztError('INVALID_ARGUMENT', `The update changes ${quote(a)} and ${quote(b)} at once; they overlap.`);
  }
  return out;
}

function applyUpdate(doc: Record<string, unknown>, u: ParsedUpdate): void {
  for (const [path, v] of u.set) setOwn(parentOf(doc, path, true)!, segments(path).pop()!, v);
  for (const path of u.unset) {
    const parent = parentOf(doc, path, false);
    const last = segments(path).pop()!;
    if (parent && Object.hasOwn(parent, last)) delete parent[last];
  }
  for (const [path, by] of u.inc) {
    const parent = parentOf(doc, path, true)!;
    const last = segments(path).pop()!;
    const cur = getOwn(parent, last) ?? 0;
    if (typeof cur !== 'number') throw new FaztError('INVALID_ARGUMENT', `Cannot $inc ${quote(path)}: it holds ${jsonTypeName(cur)}, not a number.`);
    const next = cur + by;
    if (!Number.isFinite(next)) throw new FaztError('INVALID_ARGUMENT', `$inc of ${quote(path)} overflows (${cur} + ${by}).`);
    setOwn(parent, last, next);
  }
}

function toDoc(id: string, data: string): Doc {
  const doc = { _id: id, ...(JSON.parse(data) as Record<string, unknown>) };
  doc._id = id;
  return doc;
}

/** Escapes a string as an SQL literal (for DDL, which cannot bind parameters). */
function sqlLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * The name of the expression index on `collection.path` of an app:
 * `docs_idx_` + the first 16 hex digits of SHA-256(`appId|collection|path`).
 */
export function docIndexName(appId: string, collection: string, path: string): string {
  return `docs_idx_${bytesToHex(sha256(utf8ToBytes(`${appId}|${collection}|${path}`))).slice(0, 16)}`;
}

/**
 * Per-app JSON document collections in the cartridge table `app_docs`, queried with SQLite JSON1.
 *
 * - Every call is scoped by `appId`, which the kernel supplies (never the app).
 * - Documents are JSON objects. `_id` lives in the `id` column; `data` holds the rest of the
 *   document (without `_id`). Returned documents always carry `_id` (first).
 * - Writes are stamped with the node's HLC and id (one HLC per call); deletes are tombstones
 *   (`deleted = 1`, `data = '{}'`).
 * - Filters compile to SQL over `json_extract(data, '$.path')` with every value bound; paths are
 *   validated and then written into the JSON path literal.
 */
export class DocStore {
  /** Effective limits. */
  readonly limits: Readonly<DocLimits>;

  /** @param limits overrides of {@link DEFAULT_DOC_LIMITS}. */
  constructor(
    private readonly cart: Cartridge,
    limits: Partial<DocLimits> = {},
  ) {
    this.limits = Object.freeze({ ...DEFAULT_DOC_LIMITS, ...limits });
  }

  private get db() {
    return this.cart.db;
  }

  /** JSON text of a document body. @throws FaztError `INVALID_ARGUMENT`, `LIMIT_EXCEEDED`. */
  private serialize(body: Record<string, unknown>, what: string): string {
    const json = toJson(body, what);
    const bytes = utf8Length(json);
    if (bytes > this.limits.maxDocBytes) {
      throw new FaztError('LIMIT_EXCEEDED', `${what} is ${bytes} bytes of JSON; the limit (maxDocBytes) is ${this.limits.maxDocBytes} bytes.`);
    }
    return json;
  }

  /** `WHERE` of live documents matching `idOrFilter`. */
  private selection(appId: string, collection: string, idOrFilter: unknown): { where: string; params: SqlValue[] } {
    assertCollection(collection);
    const p = new Params();
    p.bind(appId);
    p.bind(collection);
    const terms = ['app_id = ?', 'collection = ?', 'deleted = 0'];
    if (typeof idOrFilter === 'string') terms.push(`id = ${p.bind(idOrFilter)}`);
    else if (isPlainObject(idOrFilter)) terms.push(...compileFilter(idOrFilter, p));
    else throw new FaztError('INVALID_ARGUMENT', `Expected a document id (string) or a filter object, got ${jsonTypeName(idOrFilter)}.`);
    return { where: terms.join(' AND '), params: p.list };
  }

  /**
   * Inserts a document.
   * @param doc a JSON object; its `_id` (optional) must be a non-empty string of at most 128
   *   characters, otherwise a random UUID is assigned.
   * @returns the stored document, `_id` included (a normalized copy: `undefined` fields dropped).
   * @throws FaztError `INVALID_ARGUMENT` for a bad collection name, a non-object document, a bad `_id`
   *   or a value JSON cannot hold; `LIMIT_EXCEEDED` when the JSON exceeds `maxDocBytes`;
   *   `CONFLICT` when a live document with that `_id` exists; `DISK_FULL` while the disk guard is
   *   tripped (docs/safeguards.md).
   */
  insert(appId: string, collection: string, doc: object): Doc {
    assertCollection(collection);
    this.cart.growth?.assertCanGrow(`inserting into the collection ${quote(collection)}`);
    if (!isPlainObject(doc)) throw new FaztError('INVALID_ARGUMENT', `A document must be a JSON object like {"title": "Hello"}, got ${jsonTypeName(doc)}.`);
    const { _id, ...body } = doc;
    let id: string;
    if (_id === undefined) id = crypto.randomUUID();
    else if (typeof _id === 'string' && _id.length > 0 && _id.length <= MAX_ID_LENGTH && isWellFormed(_id) && !_id.includes('\u0000')) id = _id;
    else throw new FaztError('INVALID_ARGUMENT', `_id must be a non-empty string of at most ${MAX_ID_LENGTH} characters, got ${typeof _id === 'string' ? quote(_id) : jsonTypeName(_id)}.`);
    const json = this.serialize(body, `The document ${quote(id)}`);
    this.db.transaction(() => {
      const existing = this.db.get<{ deleted: number }>('SELECT deleted FROM app_docs WHERE app_id = ? AND collection = ? AND id = ?', [appId, collection, id]);
      if (existing && existing.deleted === 0) throw new FaztError('CONFLICT', `A document with _id ${quote(id)} already exists in ${quote(collection)}.`);
      const now = this.cart.clock.now();
      const hlc = this.cart.hlc.now();
      if (existing) {
        this.db.run('UPDATE app_docs SET data = ?, created_at = ?, updated_at = ?, deleted = 0, hlc = ?, node_id = ? WHERE app_id = ? AND collection = ? AND id = ?', [
          json,
          now,
          now,
          hlc,
          this.cart.nodeId,
          appId,
          collection,
          id,
        ]);
      } else {
        this.db.run('INSERT INTO app_docs (app_id, collection, id, data, created_at, updated_at, deleted, hlc, node_id) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)', [
          appId,
          collection,
          id,
          json,
          now,
          now,
          hlc,
          this.cart.nodeId,
        ]);
      }
    });
    return toDoc(id, json);
  }

  /**
   * One live document by `_id`, or `undefined`.
   * @throws FaztError `INVALID_ARGUMENT` for a bad collection name or a non-string id.
   */
  get(appId: string, collection: string, id: string): Doc | undefined {
    assertCollection(collection);
    if (typeof id !== 'string') throw new FaztError('INVALID_ARGUMENT', `A document id must be a string, got ${jsonTypeName(id)}.`);
    const r = this.db.get<{ data: string }>('SELECT data FROM app_docs WHERE app_id = ? AND collection = ? AND id = ? AND deleted = 0', [appId, collection, id]);
    return r && toDoc(id, r.data);
  }

  private compileFind(appId: string, collection: string, query: unknown): { sql: string; params: SqlValue[] } {
    if (query === undefined) query = {};
    if (!isPlainObject(query)) throw new FaztError('INVALID_ARGUMENT', `A query must be an object like {where, sort, limit, offset}, got ${jsonTypeName(query)}.`);
    for (const k of Object.keys(query)) {
      if (!QUERY_KEYS.has(k)) throw new FaztError('INVALID_ARGUMENT', `Unknown query option ${quote(k)}; supported: where, sort, limit, offset.`);
    }
    const q = query as DocQuery;
    const limit = q.limit ?? this.limits.maxResults;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
      throw new FaztError('INVALID_ARGUMENT', `limit must be a positive integer, got ${JSON.stringify(limit) ?? String(limit)}.`);
    }
    if (limit > this.limits.maxResults) {
      throw new FaztError('LIMIT_EXCEEDED', `limit ${limit} is over the limit (maxResults) of ${this.limits.maxResults} documents per find; page with offset.`);
    }
    const offset = q.offset ?? 0;
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      throw new FaztError('INVALID_ARGUMENT', `offset must be an integer ≥ 0, got ${JSON.stringify(offset) ?? String(offset)}.`);
    }
    if (q.where !== undefined && !isPlainObject(q.where)) throw new FaztError('INVALID_ARGUMENT', `where must be an object like { "done": false }, got ${jsonTypeName(q.where)}.`);
    const { where, params } = this.selection(appId, collection, q.where ?? {});
    const order = compileSort(q.sort);
    return { sql: `SELECT id, data FROM app_docs WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`, params: [...params, limit, offset] };
  }

  /**
   * Live documents matching `query.where`, sorted, paged.
   * @returns at most `limit` (default `maxResults`) documents; ordered by `sort`, then `_id`.
   * @throws FaztError `INVALID_ARGUMENT` for a bad collection, path, operator, operand, sort,
   *   limit or offset; `LIMIT_EXCEEDED` when `limit` > `maxResults` (it is not clamped).
   */
  find(appId: string, collection: string, query?: DocQuery): Doc[] {
    const { sql, params } = this.compileFind(appId, collection, query);
    return this.db.query<{ id: string; data: string }>(sql, params).map((r) => toDoc(r.id, r.data));
  }

  /**
   * SQLite's plan for a {@link find} (the `detail` lines of `EXPLAIN QUERY PLAN`), to check that an
   * index from {@link ensureIndexes} is used.
   * @throws like {@link find}.
   */
  explain(appId: string, collection: string, query?: DocQuery): string[] {
    const { sql, params } = this.compileFind(appId, collection, query);
    return this.db.query<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, params).map((r) => r.detail);
  }

  /**
   * Number of live documents matching `where` (all when absent).
   * @throws FaztError `INVALID_ARGUMENT` for a bad collection or filter.
   */
  count(appId: string, collection: string, where?: Filter): number {
    if (where !== undefined && !isPlainObject(where)) throw new FaztError('INVALID_ARGUMENT', `where must be an object like { "done": false }, got ${jsonTypeName(where)}.`);
    const s = this.selection(appId, collection, where ?? {});
    return this.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM app_docs WHERE ${s.where}`, s.params)!.n;
  }

  /**
   * Updates the document with that id, or every document matching the filter (`{}` = all), in one
   * transaction: each is read, changed in JS and written back, or nothing changes on error.
   * Order of application: `$set`, `$unset`, `$inc`; overlapping paths are refused.
   * @returns the number of documents matched and rewritten (0 when none).
   * @throws FaztError `INVALID_ARGUMENT` for an update without operators ("use {$set: …}"), an unknown
   *   operator, a bad or overlapping path, changing `_id`, `$set` through a non-object, or `$inc` on a
   *   non-number; `LIMIT_EXCEEDED` when a result exceeds `maxDocBytes`; `DISK_FULL` while the disk
   *   guard is tripped.
   */
  update(appId: string, collection: string, idOrFilter: string | Filter, update: DocUpdate): number {
    const ops = parseUpdate(update);
    this.cart.growth?.assertCanGrow(`updating documents of ${quote(collection)}`);
    const s = this.selection(appId, collection, idOrFilter);
    return this.db.transaction(() => {
      const rows = this.db.query<{ id: string; data: string }>(`SELECT id, data FROM app_docs WHERE ${s.where}`, s.params);
      if (rows.length === 0) return 0;
      const now = this.cart.clock.now();
      const hlc = this.cart.hlc.now();
      for (const r of rows) {
        const doc = JSON.parse(r.data) as Record<string, unknown>;
        applyUpdate(doc, ops);
        const json = this.serialize(doc, `The updated document ${quote(r.id)}`);
        this.db.run('UPDATE app_docs SET data = ?, updated_at = ?, hlc = ?, node_id = ? WHERE app_id = ? AND collection = ? AND id = ?', [
          json,
          now,
          hlc,
          this.cart.nodeId,
          appId,
          collection,
          r.id,
        ]);
      }
      return rows.length;
    });
  }

  /**
   * Deletes the document with that id, or every document matching the filter (`{}` = all), as
   * tombstones.
   * @returns the number of documents deleted.
   * @throws FaztError `INVALID_ARGUMENT` for a bad collection or filter.
   */
  delete(appId: string, collection: string, idOrFilter: string | Filter): number {
    const s = this.selection(appId, collection, idOrFilter);
    return this.db.run(`UPDATE app_docs SET deleted = 1, data = ?, updated_at = ?, hlc = ?, node_id = ? WHERE ${s.where}`, [
      TOMBSTONE_DATA,
      this.cart.clock.now(),
      this.cart.hlc.now(),
      this.cart.nodeId,
      ...s.params,
    ]).changes;
  }

  /** The app's collections that hold live documents, by name, with their counts. */
  collections(appId: string): CollectionInfo[] {
    return this.db.query<CollectionInfo>(
      'SELECT collection AS name, COUNT(*) AS count FROM app_docs WHERE app_id = ? AND deleted = 0 GROUP BY collection ORDER BY collection',
      [appId],
    );
  }

  /**
   * Creates (if missing) a partial expression index per collection and field path:
   * `ON app_docs(json_extract(data, '$.<path>')) WHERE app_id = '<appId>' AND collection = '<coll>' AND deleted = 0`,
   * named by {@link docIndexName}. `_id` needs none (it is the primary key) and is skipped. Indexes
   * are never dropped here. All indexes are created in one transaction.
   * @param indexes collection → field paths, as in the manifest's `docs.indexes`.
   * @throws FaztError `INVALID_ARGUMENT` for a bad collection name or path, or an `appId` with NUL.
   */
  ensureIndexes(appId: string, indexes: Record<string, string[]>): void {
    if (appId.includes('\u0000') || !isWellFormed(appId)) throw new FaztError('INVALID_ARGUMENT', 'The app id contains NUL or an unpaired surrogate.');
    if (!isPlainObject(indexes)) throw new FaztError('INVALID_ARGUMENT', `indexes must be an object of collection → field paths, got ${jsonTypeName(indexes)}.`);
    const ddl: string[] = [];
    for (const [collection, paths] of Object.entries(indexes)) {
      assertCollection(collection);
      if (!Array.isArray(paths)) throw new FaztError('INVALID_ARGUMENT', `indexes of ${quote(collection)} must be an array of field paths, got ${jsonTypeName(paths)}.`);
      for (const path of paths as unknown[]) {
        if (typeof path !== 'string') throw new FaztError('INVALID_ARGUMENT', `Index paths must be strings, got ${jsonTypeName(path)}.`);
        assertPath(path, true);
        if (path === '_id') continue;
        ddl.push(
          `CREATE INDEX IF NOT EXISTS ${docIndexName(appId, collection, path)} ON app_docs(json_extract(data, ${jsonPathLiteral(path)})) ` +
            `WHERE app_id = ${sqlLiteral(appId)} AND collection = ${sqlLiteral(collection)} AND deleted = 0`,
        );
      }
    }
    if (ddl.length === 0) return;
    this.db.transaction(() => {
      for (const stmt of ddl) this.db.exec(stmt);
    });
  }
}
