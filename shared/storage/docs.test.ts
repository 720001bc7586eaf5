import { faztError } from '../testing/errors.js';
import { describe, expect, it } from 'vitest';
import { drivers } from '../testing/drivers.js';
import { openCartridge } from '../cartridge/index.js';
import { FaztError } from '../errors.js';
import { DocStore, docIndexName, type Doc, type DocQuery, type Filter } from './docs.js';


const ids = (docs: Doc[]) => docs.map((d) => d._id);

for (const d of drivers) {
  describe(`DocStore on ${d.name}`, () => {
    async function setup(limits?: ConstructorParameters<typeof DocStore>[1]) {
      const clock = {
        t: 1_700_000_000_000,
        now() {
          return this.t;
        },
      };
      const cart = openCartridge(await d.open(), { clock });
      return { cart, clock, docs: new DocStore(cart, limits) };
    }

    /** One document per JSON type, named by its `_id`. */
    async function typed() {
      const s = await setup();
      const values: Record<string, unknown> = {
        true: true,
        false: false,
        one: 1,
        zero: 0,
        half: 1.5,
        big: 10,
        strTrue: 'true',
        strOne: '1',
        strA: 'apple',
        strB: 'banana',
        nul: null,
        arr: [1, 2],
        strArr: '[1,2]',
        obj: { a: 1 },
      };
      for (const [id, v] of Object.entries(values)) s.docs.insert('app', 'c', { _id: id, v });
      s.docs.insert('app', 'c', { _id: 'missing', other: 1 });
      const q = (where: Filter) => ids(s.docs.find('app', 'c', { where })).sort();
      return { ...s, q };
    }

    it('inserts with a generated or given _id; get returns it; rows are stamped', async () => {
      const { docs, cart } = await setup();
      const a = docs.insert('app', 'posts', { title: 'Hello', tags: ['x'], author: { name: 'ann' } });
      expect(a._id).toMatch(/^[0-9a-f-]{36}$/);
      expect(a).toEqual({ _id: a._id, title: 'Hello', tags: ['x'], author: { name: 'ann' } });
      expect(docs.get('app', 'posts', a._id)).toEqual(a);
      const b = docs.insert('app', 'posts', { _id: 'my-id', n: 1, skip: undefined });
      expect(b).toEqual({ _id: 'my-id', n: 1 });
      expect(docs.get('app', 'posts', 'my-id')).toEqual({ _id: 'my-id', n: 1 });
      expect(docs.get('app', 'posts', 'nope')).toBeUndefined();
      const row = cart.db.get<{ data: string; hlc: string; node_id: string; deleted: number }>(
        "SELECT data, hlc, node_id, deleted FROM app_docs WHERE id = 'my-id'",
      )!;
      expect(row).toMatchObject({ data: '{"n":1}', node_id: cart.nodeId, deleted: 0 }); // _id lives in the id column
      expect(row.hlc).toMatch(/^[0-9a-f]{13}-[0-9a-f]{4}-/);
    });

    it('refuses a duplicate _id with CONFLICT but allows reuse after delete', async () => {
      const { docs } = await setup();
      docs.insert('app', 'c', { _id: 'x', v: 1 });
      const e = faztError(() => docs.insert('app', 'c', { _id: 'x', v: 2 }));
      expect(e.code).toBe('CONFLICT');
      expect(docs.get('app', 'c', 'x')).toEqual({ _id: 'x', v: 1 });
      expect(docs.delete('app', 'c', 'x')).toBe(1);
      expect(docs.insert('app', 'c', { _id: 'x', v: 3 })).toEqual({ _id: 'x', v: 3 });
      expect(docs.get('app', 'c', 'x')).toEqual({ _id: 'x', v: 3 });
      // the same _id in another collection or app is a different document
      docs.insert('app', 'other', { _id: 'x' });
      docs.insert('app2', 'c', { _id: 'x' });
    });

    it('rejects bad documents, ids and collection names', async () => {
      const { docs } = await setup();
      for (const doc of [[1, 2], null, 'text', 5, new Date()]) {
        expect(faztError(() => docs.insert('app', 'c', doc as object)).code).toBe('INVALID_ARGUMENT');
      }
      for (const _id of [5, '', 'x'.repeat(129), null]) expect(faztError(() => docs.insert('app', 'c', { _id })).code).toBe('INVALID_ARGUMENT');
      docs.insert('app', 'c', { _id: 'x'.repeat(128) });
      for (const c of ['', 'a b', 'x'.repeat(65), '../etc', "c'; DROP TABLE app_docs; --", 'a.b']) {
        expect(faztError(() => docs.insert('app', c, {})).code).toBe('INVALID_ARGUMENT');
        expect(faztError(() => docs.find('app', c)).code).toBe('INVALID_ARGUMENT');
      }
      docs.insert('app', 'A-z_09', {});
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      expect(faztError(() => docs.insert('app', 'c', circular)).code).toBe('INVALID_ARGUMENT');
      expect(faztError(() => docs.insert('app', 'c', { n: 1n })).code).toBe('INVALID_ARGUMENT');
    });

    it('enforces maxDocBytes on insert and update', async () => {
      const { docs, cart } = await setup();
      const huge = { s: 'x'.repeat(1024 * 1024) };
      const e = faztError(() => docs.insert('app', 'c', huge));
      expect(e.code).toBe('LIMIT_EXCEEDED');
      expect(e.message).toContain('maxDocBytes');
      const fits = { s: 'x'.repeat(1024 * 1024 - 8) }; // {"s":"…"} is exactly 1 MiB
      docs.insert('app', 'c', { _id: 'fits', ...fits });
      expect(docs.get('app', 'c', 'fits')!.s).toHaveLength(1024 * 1024 - 8);
      expect(faztError(() => docs.update('app', 'c', 'fits', { $set: { more: 1 } })).code).toBe('LIMIT_EXCEEDED');
      const small = new DocStore(cart, { maxDocBytes: 20 });
      expect(faztError(() => small.insert('app', 'c', { s: '\u00e9'.repeat(7) })).code).toBe('LIMIT_EXCEEDED'); // 8 + 7 × 2 = 22 bytes
      small.insert('app', 'c', { s: '\u00e9'.repeat(6) });
    });

    it('equality is type-strict: booleans, numbers, strings, arrays and objects', async () => {
      const { q } = await typed();
      expect(q({ v: true })).toEqual(['true']);
      expect(q({ v: false })).toEqual(['false']);
      expect(q({ v: 1 })).toEqual(['one']);
      expect(q({ v: 0 })).toEqual(['zero']);
      expect(q({ v: 1.5 })).toEqual(['half']);
      expect(q({ v: 'true' })).toEqual(['strTrue']);
      expect(q({ v: '1' })).toEqual(['strOne']);
      expect(q({ v: [1, 2] })).toEqual(['arr']);
      expect(q({ v: [2, 1] })).toEqual([]);
      expect(q({ v: '[1,2]' })).toEqual(['strArr']);
      expect(q({ v: { a: 1 } })).toEqual(['obj']);
      expect(q({ v: { $eq: { a: 1 } } })).toEqual(['obj']);
      expect(q({ v: '{"a":1}' })).toEqual([]);
      expect(q({ v: { $eq: true } })).toEqual(['true']);
      expect(q({ v: { $eq: 1 } })).toEqual(['one']);
    });

    it('null matches explicit null and missing fields; $ne null means present', async () => {
      const { q } = await typed();
      expect(q({ v: null })).toEqual(['missing', 'nul']);
      expect(q({ v: { $eq: null } })).toEqual(['missing', 'nul']);
      expect(q({ v: { $ne: null } })).toHaveLength(13);
      expect(q({ v: { $ne: null } })).not.toContain('missing');
      expect(q({ v: { $ne: true } })).toEqual(expect.arrayContaining(['missing', 'nul', 'one', 'strTrue']));
      expect(q({ v: { $ne: true } })).toHaveLength(14);
      expect(q({ v: { $ne: 1 } })).toContain('true');
      expect(q({ other: 1 })).toEqual(['missing']);
    });

    it('ranges compare only values of the same type', async () => {
      const { q } = await typed();
      expect(q({ v: { $gt: 0 } })).toEqual(['big', 'half', 'one']); // not true (1)
      expect(q({ v: { $gte: 0 } })).toEqual(['big', 'half', 'one', 'zero']);
      expect(q({ v: { $lt: 1.5 } })).toEqual(['one', 'zero']);
      expect(q({ v: { $lte: 1.5, $gt: 0 } })).toEqual(['half', 'one']);
      expect(q({ v: { $gt: 'b' } })).toEqual(['strB', 'strTrue']);
    });

    it('string ranges use UTF-8 byte order', async () => {
      const { q } = await typed();
      expect(q({ v: { $gte: 'banana' } })).toEqual(['strB', 'strTrue']);
      expect(q({ v: { $lt: 'b' } })).toEqual(['strA', 'strArr', 'strOne']);
      expect(q({ v: { $gt: false } })).toEqual(['true']);
      expect(q({ v: { $lte: false } })).toEqual(['false']);
    });

    it('$in and $nin are type-strict and accept null', async () => {
      const { q } = await typed();
      expect(q({ v: { $in: [1, 'apple', false] } })).toEqual(['false', 'one', 'strA']);
      expect(q({ v: { $in: [true, 10] } })).toEqual(['big', 'true']); // 1 is not in [true, 10]
      expect(q({ v: { $in: [false, 5] } })).toEqual(['false']); // 0 is not in [false, 5]
      expect(q({ v: { $in: [null] } })).toEqual(['missing', 'nul']);
      expect(q({ v: { $in: [[1, 2], { a: 1 }] } })).toEqual(['arr', 'obj']);
      expect(q({ v: { $in: [] } })).toEqual([]);
      expect(q({ v: { $nin: [] } })).toHaveLength(15);
      const nin = q({ v: { $nin: [1, true, 'apple'] } });
      expect(nin).toHaveLength(12);
      expect(nin).toContain('missing');
      expect(nin).not.toContain('one');
      expect(q({ v: { $nin: [null, 1] } })).not.toContain('missing');
      expect(q({ _id: { $in: ['one', 'two', 'zero'] } })).toEqual(['one', 'zero']);
      // long lists (bound as one JSON array) behave the same
      const many = Array.from({ length: 100 }, (_, i) => i + 2);
      expect(q({ v: { $in: [...many, 1, true, 'apple', null, [1, 2]] } })).toEqual(['arr', 'big', 'missing', 'nul', 'one', 'strA', 'true']);
      expect(q({ v: { $in: [...many, 'x', 'y'] } })).toEqual(['big']);
      expect(q({ v: { $nin: many } })).toHaveLength(14);
    });

    it('$contains: substring of strings (case-sensitive, no wildcards) and element of arrays', async () => {
      const { docs } = await setup();
      docs.insert('app', 'c', { _id: 's1', t: 'Hello 100% _real_ world' });
      docs.insert('app', 'c', { _id: 's2', t: 'hello world' });
      docs.insert('app', 'c', { _id: 'a1', t: ['news', 'tech', 5, true, { k: 1 }, null] });
      docs.insert('app', 'c', { _id: 'a2', t: ['Hello'] });
      docs.insert('app', 'c', { _id: 'n', t: 5 });
      const q = (v: unknown) => ids(docs.find('app', 'c', { where: { t: { $contains: v } } })).sort();
      expect(q('Hello')).toEqual(['a2', 's1']);
      expect(q('hello')).toEqual(['s2']);
      expect(q('%')).toEqual(['s1']);
      expect(q('_r')).toEqual(['s1']);
      expect(q('o w')).toEqual(['s2']);
      expect(q('world')).toEqual(['s1', 's2']);
      expect(q('new')).toEqual([]); // array elements match whole
      expect(q('news')).toEqual(['a1']);
      expect(q(5)).toEqual(['a1']); // not the number field 5
      expect(q(true)).toEqual(['a1']);
      expect(q(1)).toEqual([]); // true is not 1
      expect(q({ k: 1 })).toEqual(['a1']);
      expect(q(null)).toEqual(['a1']);
      expect(ids(docs.find('app', 'c', { where: { _id: { $contains: '1' } } })).sort()).toEqual(['a1', 's1']);
    });

    it('queries nested paths and ANDs fields together', async () => {
      const { docs } = await setup();
      docs.insert('app', 'books', { _id: 'b1', author: { name: 'ann', born: 1950 }, done: true, meta: { tags: ['sf'] } });
      docs.insert('app', 'books', { _id: 'b2', author: { name: 'bob', born: 1960 }, done: false });
      docs.insert('app', 'books', { _id: 'b3', author: { name: 'ann', born: 1970 }, done: false, $weird: 1 });
      const q = (where: Filter) => ids(docs.find('app', 'books', { where })).sort();
      expect(q({ 'author.name': 'ann' })).toEqual(['b1', 'b3']);
      expect(q({ 'author.name': 'ann', done: false })).toEqual(['b3']);
      expect(q({ 'author.born': { $gte: 1960 }, done: false })).toEqual(['b2', 'b3']);
      expect(q({ 'meta.tags': { $contains: 'sf' } })).toEqual(['b1']);
      expect(q({ 'author.missing.deep': null })).toEqual(['b1', 'b2', 'b3']);
      expect(q({ author: { $eq: { name: 'bob', born: 1960 } } })).toEqual(['b2']);
      expect(q({ 'x.$weird': null })).toHaveLength(3);
      expect(q({ _id: 'b2' })).toEqual(['b2']);
      expect(q({ _id: { $gt: 'b1' } })).toEqual(['b2', 'b3']);
      expect(docs.count('app', 'books', { 'author.name': 'ann' })).toBe(2);
      expect(docs.count('app', 'books')).toBe(3);
    });

    it('sorts ascending/descending with limit and offset, ties by _id', async () => {
      const { docs } = await setup();
      const data = [
        ['d1', 5, 'b'],
        ['d2', 3, 'a'],
        ['d3', 5, 'a'],
        ['d4', 1, 'c'],
        ['d5', 4, 'b'],
      ] as const;
      for (const [id, n, s] of data) docs.insert('app', 'c', { _id: id, n, s, nested: { n } });
      const f = (query: DocQuery) => ids(docs.find('app', 'c', query));
      expect(f({})).toEqual(['d1', 'd2', 'd3', 'd4', 'd5']);
      expect(f({ sort: { n: 1 } })).toEqual(['d4', 'd2', 'd5', 'd1', 'd3']);
      expect(f({ sort: { n: -1 } })).toEqual(['d1', 'd3', 'd5', 'd2', 'd4']);
      expect(f({ sort: { 'nested.n': -1 } })).toEqual(['d1', 'd3', 'd5', 'd2', 'd4']);
      expect(f({ sort: { s: 1, n: -1 } })).toEqual(['d3', 'd2', 'd1', 'd5', 'd4']);
      expect(f({ sort: { n: -1 }, limit: 2 })).toEqual(['d1', 'd3']);
      expect(f({ sort: { n: -1 }, limit: 2, offset: 2 })).toEqual(['d5', 'd2']);
      expect(f({ sort: { n: -1 }, offset: 4 })).toEqual(['d4']);
      expect(f({ sort: { _id: -1 }, limit: 3 })).toEqual(['d5', 'd4', 'd3']);
      expect(f({ where: { s: 'a' }, sort: { n: 1 } })).toEqual(['d2', 'd3']);
    });

    it('sorts mixed types like MongoDB: null/missing < numbers < strings < objects < arrays < booleans', async () => {
      const { docs } = await setup();
      const vals: [string, unknown][] = [
        ['bool', true],
        ['boolF', false],
        ['arr', [1]],
        ['obj', { a: 1 }],
        ['str', 'x'],
        ['num', 2],
        ['num2', -1.5],
        ['nul', null],
      ];
      for (const [id, v] of vals) docs.insert('app', 'c', { _id: id, v });
      docs.insert('app', 'c', { _id: 'absent' });
      expect(ids(docs.find('app', 'c', { sort: { v: 1 } }))).toEqual(['absent', 'nul', 'num2', 'num', 'str', 'obj', 'arr', 'boolF', 'bool']);
      expect(ids(docs.find('app', 'c', { sort: { v: -1 } }))).toEqual(['bool', 'boolF', 'arr', 'obj', 'str', 'num', 'num2', 'absent', 'nul']);
    });

    it('limits results to maxResults and validates query options', async () => {
      const { cart } = await setup();
      const docs = new DocStore(cart, { maxResults: 3 });
      for (let i = 0; i < 5; i++) docs.insert('app', 'c', { i });
      expect(docs.find('app', 'c')).toHaveLength(3);
      expect(docs.find('app', 'c', { limit: 3 })).toHaveLength(3);
      const e = faztError(() => docs.find('app', 'c', { limit: 4 }));
      expect(e.code).toBe('LIMIT_EXCEEDED');
      expect(e.message).toContain('maxResults');
      for (const q of [{ limit: 0 }, { limit: 1.5 }, { limit: '2' }, { offset: -1 }, { offset: 0.5 }, { filter: {} }, { sort: { i: 2 } }, { sort: { i: 'asc' } }, { where: 'x' }]) {
        expect(faztError(() => docs.find('app', 'c', q as DocQuery)).code, JSON.stringify(q)).toBe('INVALID_ARGUMENT');
      }
    });

    it('rejects unknown operators, bad paths and bad operands without touching SQL', async () => {
      const { docs, cart } = await setup();
      docs.insert('app', 'c', { a: 1 });
      const bad = (where: unknown) => faztError(() => docs.find('app', 'c', { where: where as Filter }));
      const e = bad({ a: { $regex: 'x' } });
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toContain('$regex');
      expect(bad({ $or: [{ a: 1 }] }).message).toContain('$or');
      for (const path of ["a'); DROP TABLE app_docs; --", "a' OR 1=1 --", 'a..b', '.a', 'a.', '1a', 'a[0]', 'a b', '', '_id.x', 'a"b']) {
        const err = bad({ [path]: 1 });
        expect(err.code, path).toBe('INVALID_ARGUMENT');
        expect(faztError(() => docs.find('app', 'c', { sort: { [path]: 1 } })).code).toBe('INVALID_ARGUMENT');
      }
      expect(bad({ a: { $gt: null } }).code).toBe('INVALID_ARGUMENT');
      expect(bad({ a: { $gt: [1] } }).code).toBe('INVALID_ARGUMENT');
      expect(bad({ a: { $in: 5 } }).code).toBe('INVALID_ARGUMENT');
      expect(bad({ a: { $eq: undefined } }).code).toBe('INVALID_ARGUMENT');
      expect(bad({ a: NaN }).code).toBe('INVALID_ARGUMENT');
      expect(bad({ a: { $gt: 1, b: 2 } }).code).toBe('INVALID_ARGUMENT');
      expect(bad([1]).code).toBe('INVALID_ARGUMENT');
      // values are bound, never interpolated
      expect(docs.find('app', 'c', { where: { a: "1' OR '1'='1" } })).toEqual([]);
      expect(docs.find('app', 'c', { where: { a: { $contains: "') OR 1=1 --" } } })).toEqual([]);
      expect(cart.db.get("SELECT name FROM sqlite_master WHERE name = 'app_docs'")).toBeDefined();
      expect(docs.count('app', 'c')).toBe(1);
    });

    it('updates with $set (creating nested objects), $unset and $inc', async () => {
      const { docs, cart, clock } = await setup();
      docs.insert('app', 'c', { _id: 'x', n: 1, keep: 'k', gone: true, nested: { a: 1 } });
      const before = cart.db.get<{ hlc: string; updated_at: number }>("SELECT hlc, updated_at FROM app_docs WHERE id = 'x'")!;
      clock.t += 5;
      expect(docs.update('app', 'c', 'x', { $set: { 'a.b.c': 1, 'nested.b': [1], title: 'T' }, $unset: { gone: 1, 'no.such': 1 }, $inc: { n: 2, 'stats.views': 1 } })).toBe(1);
      expect(docs.get('app', 'c', 'x')).toEqual({ _id: 'x', n: 3, keep: 'k', nested: { a: 1, b: [1] }, a: { b: { c: 1 } }, title: 'T', stats: { views: 1 } });
      const after = cart.db.get<{ hlc: string; updated_at: number; node_id: string }>("SELECT hlc, updated_at, node_id FROM app_docs WHERE id = 'x'")!;
      expect(after.hlc > before.hlc).toBe(true);
      expect(after.updated_at).toBe(before.updated_at + 5);
      expect(after.node_id).toBe(cart.nodeId);
      expect(docs.update('app', 'c', 'x', { $inc: { n: -0.5 } })).toBe(1);
      expect(docs.get('app', 'c', 'x')!.n).toBe(2.5);
      expect(docs.update('app', 'c', 'nope', { $set: { a: 1 } })).toBe(0);
    });

    it('updates every document matching a filter, atomically', async () => {
      const { docs } = await setup();
      docs.insert('app', 'c', { _id: 'a', done: false, n: 1 });
      docs.insert('app', 'c', { _id: 'b', done: false, n: 'text' });
      docs.insert('app', 'c', { _id: 'c', done: true, n: 1 });
      expect(docs.update('app', 'c', { done: false }, { $set: { seen: true } })).toBe(2);
      expect(docs.count('app', 'c', { seen: true })).toBe(2);
      // b holds a string: the whole update fails and a is left unchanged
      const e = faztError(() => docs.update('app', 'c', { done: false }, { $inc: { n: 1 } }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toContain('holds a string, not a number');
      expect(docs.get('app', 'c', 'a')!.n).toBe(1);
      expect(docs.update('app', 'c', {}, { $set: { all: 1 } })).toBe(3);
    });

    it('rejects malformed updates', async () => {
      const { docs } = await setup();
      docs.insert('app', 'c', { _id: 'x', n: 5, s: 'str' });
      const bad = (u: unknown) => faztError(() => docs.update('app', 'c', 'x', u as never));
      expect(bad({ title: 'x' }).message).toContain('use {$set');
      expect(bad({ $push: { a: 1 } }).message).toContain('$push');
      expect(bad({}).code).toBe('INVALID_ARGUMENT');
      expect(bad(null).code).toBe('INVALID_ARGUMENT');
      expect(bad({ $set: 5 }).code).toBe('INVALID_ARGUMENT');
      expect(bad({ $set: { _id: 'y' } }).message).toContain('_id');
      expect(bad({ $unset: { _id: 1 } }).code).toBe('INVALID_ARGUMENT');
      expect(bad({ $set: { "a'); DROP TABLE app_docs; --": 1 } }).code).toBe('INVALID_ARGUMENT');
      expect(bad({ $set: { a: 1 }, $inc: { a: 1 } }).message).toContain('overlap');
      expect(bad({ $set: { a: 1, 'a.b': 2 } }).message).toContain('overlap');
      expect(bad({ $inc: { n: '1' } }).code).toBe('INVALID_ARGUMENT');
      expect(bad({ $inc: { n: Infinity } }).code).toBe('INVALID_ARGUMENT');
      expect(bad({ $inc: { s: 1 } }).message).toContain('holds a string, not a number');
      expect(bad({ $set: { 's.deep': 1 } }).message).toContain('not an object');
      expect(bad({ $set: { v: undefined } }).code).toBe('INVALID_ARGUMENT');
      expect(faztError(() => docs.update('app', 'c', 5 as never, { $set: { a: 1 } })).code).toBe('INVALID_ARGUMENT');
      expect(docs.get('app', 'c', 'x')).toEqual({ _id: 'x', n: 5, s: 'str' });
    });

    it('treats __proto__ in paths as an ordinary field (no prototype pollution)', async () => {
      const { docs } = await setup();
      docs.insert('app', 'c', { _id: 'x' });
      docs.update('app', 'c', 'x', { $set: { '__proto__.polluted': 1, 'constructor.x': 2 } });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      const doc = docs.get('app', 'c', 'x')!;
      expect(Object.hasOwn(doc, '__proto__')).toBe(true);
      expect(JSON.stringify(doc)).toBe('{"_id":"x","__proto__":{"polluted":1},"constructor":{"x":2}}');
      expect(ids(docs.find('app', 'c', { where: { '__proto__.polluted': 1 } }))).toEqual(['x']);
    });

    it('deletes by id or filter as tombstones; count and collections see live documents only', async () => {
      const { docs, cart } = await setup();
      for (let i = 0; i < 4; i++) docs.insert('app', 'todo', { _id: `t${i}`, done: i % 2 === 0 });
      docs.insert('app', 'notes', { _id: 'n1' });
      docs.insert('app', 'empty', { _id: 'e1' });
      expect(docs.collections('app')).toEqual([
        { name: 'empty', count: 1 },
        { name: 'notes', count: 1 },
        { name: 'todo', count: 4 },
      ]);
      expect(docs.delete('app', 'todo', { done: true })).toBe(2);
      expect(docs.delete('app', 'todo', 't1')).toBe(1);
      expect(docs.delete('app', 'todo', 't1')).toBe(0);
      expect(docs.delete('app', 'empty', {})).toBe(1);
      expect(docs.count('app', 'todo')).toBe(1);
      expect(docs.find('app', 'todo').map((x) => x._id)).toEqual(['t3']);
      expect(docs.get('app', 'todo', 't0')).toBeUndefined();
      expect(docs.update('app', 'todo', 't0', { $set: { a: 1 } })).toBe(0);
      expect(docs.collections('app')).toEqual([
        { name: 'notes', count: 1 },
        { name: 'todo', count: 1 },
      ]);
      const tomb = cart.db.get<{ deleted: number; data: string; hlc: string; node_id: string }>(
        "SELECT deleted, data, hlc, node_id FROM app_docs WHERE id = 't0'",
      )!;
      expect(tomb).toMatchObject({ deleted: 1, data: '{}', node_id: cart.nodeId });
      expect(tomb.hlc).toMatch(/^[0-9a-f]{13}-/);
      expect(cart.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM app_docs')!.n).toBe(6);
    });

    it('isolates apps and collections', async () => {
      const { docs } = await setup();
      docs.insert('app1', 'c', { _id: 'x', owner: 1 });
      docs.insert('app2', 'c', { _id: 'x', owner: 2 });
      docs.insert('app1', 'd', { _id: 'x', owner: 3 });
      expect(docs.get('app1', 'c', 'x')!.owner).toBe(1);
      expect(docs.get('app2', 'c', 'x')!.owner).toBe(2);
      expect(docs.find('app1', 'c').map((x) => x.owner)).toEqual([1]);
      expect(docs.count('app2', 'd')).toBe(0);
      expect(docs.update('app1', 'c', {}, { $set: { touched: true } })).toBe(1);
      expect(docs.get('app2', 'c', 'x')!.touched).toBeUndefined();
      expect(docs.get('app1', 'd', 'x')!.touched).toBeUndefined();
      expect(docs.delete('app2', 'c', {})).toBe(1);
      expect(docs.get('app1', 'c', 'x')).toBeDefined();
      expect(docs.collections('app1').map((c) => c.name)).toEqual(['c', 'd']);
      expect(docs.collections('app2')).toEqual([]);
    });

    it('ensureIndexes creates partial expression indexes that find() uses', async () => {
      const { docs, cart } = await setup();
      const appId = "app'quote"; // DDL escapes the app id
      for (let i = 0; i < 300; i++) docs.insert(appId, 'todos', { title: `t${i}`, done: i % 3 === 0, author: { name: `u${i % 10}` } });
      for (let i = 0; i < 50; i++) docs.insert('other', 'todos', { done: true });
      docs.ensureIndexes(appId, { todos: ['done', 'author.name', '_id'] });
      docs.ensureIndexes(appId, { todos: ['done'] }); // idempotent
      const doneIdx = docIndexName(appId, 'todos', 'done');
      const nameIdx = docIndexName(appId, 'todos', 'author.name');
      expect(doneIdx).toMatch(/^docs_idx_[0-9a-f]{16}$/);
      const indexes = cart.db
        .query<{ name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'docs_idx_%' ORDER BY name")
        .map((r) => r.name);
      expect(indexes.sort()).toEqual([doneIdx, nameIdx].sort());

      const plan = docs.explain(appId, 'todos', { where: { done: true } }).join('\n');
      expect(plan).toContain(doneIdx);
      expect(docs.explain(appId, 'todos', { where: { 'author.name': 'u3' } }).join('\n')).toContain(nameIdx);
      expect(docs.explain(appId, 'todos', { where: { 'author.name': 'u3', done: { $ne: true } }, sort: { title: -1 }, limit: 5 }).join('\n')).toMatch(
        new RegExp(`${nameIdx}|${doneIdx}`),
      );
      // another app's query cannot use this app's partial index
      expect(docs.explain('other', 'todos', { where: { done: true } }).join('\n')).not.toContain(doneIdx);
      // results are the same with the index
      expect(docs.count(appId, 'todos', { done: true })).toBe(100);
      expect(docs.find(appId, 'todos', { where: { 'author.name': 'u3' } })).toHaveLength(30);
      expect(docs.count('other', 'todos', { done: true })).toBe(50);

      expect(faztError(() => docs.ensureIndexes(appId, { todos: ["a'); DROP TABLE app_docs; --"] })).code).toBe('INVALID_ARGUMENT');
      expect(faztError(() => docs.ensureIndexes(appId, { 'bad name': ['a'] })).code).toBe('INVALID_ARGUMENT');
      expect(faztError(() => docs.ensureIndexes(appId, { todos: 'done' as never })).code).toBe('INVALID_ARGUMENT');
    });
  });
}
