import { Validator } from '@cfworker/json-schema';
import { beforeAll, describe, expect, it } from 'vitest';
import { drivers } from '../testing/drivers.js';
import { openCartridge } from '../cartridge/index.js';
import { createKernel, type Kernel } from '../kernel.js';
import { createFetch } from '../http/index.js';
import { CHUNK_SIZE } from '../vfs/blobs.js';
import { callTool, listTools, MAX_READ_BYTES, toolAccessOf, TOOLS, type ToolContext } from './index.js';

/**
 * The tool catalogue, host-neutral: the same results on sql.js (the browser node's driver) and
 * better-sqlite3, through the kernel alone (no MCP SDK). The MCP transports are tested in node/mcp.test.ts.
 */

const b64 = (u: Uint8Array) => {
  let s = '';
  for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode(...u.subarray(i, i + 0x8000));
  return btoa(s);
};

describe('the catalogue', () => {
  it('gives every tool a JSON Schema object a standard validator compiles, and the annotations MCP defines', () => {
    const all = listTools();
    expect(all).toHaveLength(TOOLS.length);
    expect(new Set(all.map((t) => t.name)).size).toBe(all.length);
    for (const t of all) {
      expect(t.name).toMatch(/^[a-z][a-z_]{1,63}$/);
      expect(t.inputSchema).toMatchObject({ type: 'object', additionalProperties: false });
      expect(t.inputSchema.$schema).toBeUndefined();
      const v = new Validator(t.inputSchema as never, '2020-12');
      expect(v.validate({ surely: 'not an argument' }).valid, t.name).toBe(false);
      expect(Object.keys(t.annotations).sort()).toEqual(['destructiveHint', 'idempotentHint', 'openWorldHint', 'readOnlyHint']);
      if (t.annotations.readOnlyHint) expect(t.annotations.destructiveHint, t.name).toBe(false);
    }
    expect(listTools('read').every((t) => t.annotations.readOnlyHint)).toBe(true);
    expect(listTools('read').length).toBeLessThan(all.length);
  });

  it('maps scopes to access: admin and mcp every tool, mcp-read the read-only ones, deploy none', () => {
    expect(toolAccessOf({ kind: 'session', scope: 'admin' })).toBe('all');
    expect(toolAccessOf({ kind: 'token', scope: 'mcp' })).toBe('all');
    expect(toolAccessOf({ kind: 'token', scope: 'mcp-read' })).toBe('read');
    expect(toolAccessOf({ kind: 'token', scope: 'deploy' })).toBeUndefined();
  });
});

for (const d of drivers) {
  describe(`tools on ${d.name}`, () => {
    let k: Kernel;
    let ctx: ToolContext;
    beforeAll(async () => {
      k = createKernel({ cartridge: openCartridge(await d.open()), domain: 'node.test' });
      ctx = { kernel: k, principal: { kind: 'token', scope: 'admin' }, origin: 'http://node.test:8080' };
    });
    const run = async (name: string, args: unknown, access: 'all' | 'read' = 'all') => {
      const r = await callTool(ctx, name, args, access);
      if (!r.ok) throw new Error(`${name}: ${r.error.code} ${r.error.message}`);
      return r.result as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    };

    it('writes files as a new version and reads them back, text and binary, across chunks', async () => {
      const big = new Uint8Array(CHUNK_SIZE + 1000).map((_, i) => (i * 31) % 256);
      const r = await run('write_files', {
        app: 'site',
        files: [
          { path: 'index.html', content: '<h1>ä</h1>' },
          { path: 'img/big.bin', content: b64(big), encoding: 'base64' },
        ],
      });
      expect(r).toMatchObject({ app: 'site', version: 1, live: true, created: true, files: 2, urls: ['http://site.node.test:8080/', 'http://node.test:8080/a/site/'] });
      const page = await createFetch(k)(new Request('http://node.test/a/site/'));
      expect(await page.text()).toBe('<h1>ä</h1>');
      expect(await run('read_file', { app: 'site', path: 'index.html' })).toMatchObject({ encoding: 'utf8', content: '<h1>ä</h1>', size: 11 });
      const back = await run('read_file', { app: 'site', path: 'img/big.bin' });
      expect(back.encoding).toBe('base64');
      expect(Uint8Array.from(atob(back.content), (c) => c.charCodeAt(0))).toEqual(big);
      // a new version keeps the files it does not touch, byte for byte
      expect(await run('write_files', { app: 'site', files: [{ path: 'about.html', content: 'about' }] })).toMatchObject({ version: 2, files: 3 });
      expect((await run('read_file', { app: 'site', path: 'img/big.bin' })).content).toBe(back.content);
    });

    it('refuses a file over the read limit with LIMIT_EXCEEDED', async () => {
      await run('write_files', { app: 'site', files: [{ path: 'huge.txt', content: 'x'.repeat(MAX_READ_BYTES + 1) }] });
      expect(await callTool(ctx, 'read_file', { app: 'site', path: 'huge.txt' })).toMatchObject({ ok: false, error: { code: 'LIMIT_EXCEEDED' } });
    });

    it('reads and writes kv and docs as the app sees them, and emits events as the app', async () => {
      const id = k.apps.require('site').id;
      await run('kv_set', { app: 'site', key: 'cfg', value: { on: true }, ttlMs: 60_000 });
      expect(JSON.parse(k.kv.get(id, 'cfg')!)).toEqual({ on: true });
      expect((await run('kv_list', { app: 'site', prefix: 'c' })).items).toEqual([{ key: 'cfg', value: { on: true }, expiresAt: expect.any(Number) }]);
      const { doc } = await run('docs_insert', { app: 'site', collection: 'posts', doc: { t: 'a' } });
      expect(k.docs.get(id, 'posts', doc._id)).toEqual(doc);
      expect(await run('docs_update', { app: 'site', collection: 'posts', where: {}, update: { $set: { t: 'b' } } })).toMatchObject({ updated: 1 });
      expect(await run('docs_delete', { app: 'site', collection: 'posts', id: doc._id })).toMatchObject({ deleted: 1 });
      expect(k.docs.count(id, 'posts')).toBe(0);
      const { event } = await run('emit_event', { app: 'site', type: 'site.changed' });
      expect(k.events.recent(id, 1)[0]).toMatchObject({ id: event.id, type: 'site.changed', payload: null });
    });

    it('answers every refusal with a code and changes nothing', async () => {
      const before = k.apps.require('site').currentVersion;
      const fail = async (name: string, args: unknown, code: string, access: 'all' | 'read' = 'all') => {
        const r = await callTool(ctx, name, args, access);
        expect(r, `${name} ${JSON.stringify(args)}`).toMatchObject({ ok: false, error: { code } });
        return !r.ok ? r.error.message : '';
      };
      expect(await fail('kv_get', undefined, 'INVALID_ARGUMENT')).toMatch(/app/);
      await fail('kv_get', 'not an object', 'INVALID_ARGUMENT');
      await fail('write_files', { app: 'site' }, 'INVALID_ARGUMENT'); // nothing to change
      await fail('write_files', { app: 'site', files: [{ path: 'a', content: '%%%', encoding: 'base64' }] }, 'INVALID_ARGUMENT');
      await fail('write_files', { app: 'site', files: [{ path: 'a.txt', content: '1' }], delete: ['a.txt'] }, 'NOT_FOUND');
      await fail('write_files', { app: 'site', files: [{ path: 'index.html', content: '1' }], delete: ['index.html'] }, 'INVALID_ARGUMENT');
      await fail('write_files', { app: 'Bad Name!', files: [{ path: 'a.txt', content: '1' }] }, 'INVALID_NAME');
      await fail('kv_set', { app: 'site', key: 'k', value: 1 }, 'FORBIDDEN', 'read');
      await fail('docs_update', { app: 'site', collection: 'posts', id: 'x', update: {} }, 'INVALID_ARGUMENT');
      await fail('list_events', { app: 'ghost' }, 'APP_NOT_FOUND');
      expect(k.apps.require('site').currentVersion).toBe(before);
      expect(k.apps.resolve('Bad Name!')).toBeUndefined();
    });
  });
}
