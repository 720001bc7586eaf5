/**
 * The MCP server as agents meet it: the official MCP SDK client (`@modelcontextprotocol/sdk`)
 * against a real node on 127.0.0.1 (Streamable HTTP at /mcp, with real tokens) and against
 * `node bin/fazt.js mcp --db FILE` in a child process (stdio), on real cartridge files. Effects
 * are checked through other doors: the app's pages and its own code over HTTP, the admin API.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPorts, openCartridge } from '../shared/index.js';
import { AuthService } from '../shared/auth/index.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../shared/cartridge/index.js';
import { BetterSqliteDatabase } from './sqlite.js';
import { openCartridgeFile } from './cartridge-file.js';
import { kernelForFile } from './kernel-file.js';
import { callTool } from '../shared/tools/index.js';
import { ensureBundle, internalErrors, removeTempDirs, request, startTestNode, tempDir, type TestNode } from './test-helpers.js';

const BIN = resolve(import.meta.dirname, '..', 'bin', 'fazt.js');

const READ_ONLY = ['health', 'list_apps', 'get_app', 'list_versions', 'list_files', 'read_file', 'read_logs', 'list_jobs', 'list_events', 'kv_get', 'kv_list', 'docs_collections', 'docs_find'];
const WRITES = ['write_files', 'rollback', 'kv_set', 'kv_delete', 'docs_insert', 'docs_update', 'docs_delete', 'emit_event'];

const MAIN_JS = `export default {
  async fetch(request) {
    const url = new URL(request.url);
    console.log('hit ' + url.pathname);
    if (url.pathname === '/api/kv') return { value: (await fazt.kv.get('greeting')) ?? null };
    return Response.json({ error: { code: 'NOT_FOUND', message: 'no route' } }, { status: 404 });
  },
  async scheduled() {},
};
`;
const APP_JSON = JSON.stringify({ name: 'board', title: 'Board', schedule: [{ name: 'tick', cron: '0 * * * *' }] });
const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0xff, 0xfe]);

let t: TestNode;
let tokens: { admin: string; mcp: string; read: string; deploy: string };

/** An MCP client over Streamable HTTP to the test node, with `token` (none: no Authorization header). */
async function httpClient(token?: string): Promise<Client> {
  const client = new Client({ name: 'fazt-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(t.url + '/mcp'), token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {});
  await client.connect(transport);
  return client;
}

/** Calls a tool; returns the result with its structured content. */
async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult & { structuredContent?: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** Calls a tool that must succeed; returns its structured result. */
async function ok(client: Client, name: string, args: Record<string, unknown> = {}): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await call(client, name, args);
  expect(r.isError, `${name}: ${JSON.stringify(r.content)}`).toBeFalsy();
  // the text content is the same JSON (for clients that read only text)
  expect(JSON.parse((r.content[0] as { text: string }).text)).toEqual(r.structuredContent);
  return r.structuredContent;
}

/** Calls a tool that must fail; returns `{ code, message }`. */
async function fails(client: Client, name: string, args: Record<string, unknown>, code: string): Promise<{ code: string; message: string }> {
  const r = await call(client, name, args);
  expect(r.isError, `${name} should fail with ${code}`).toBe(true);
  expect(r.structuredContent.error.code, r.structuredContent.error.message).toBe(code);
  expect(JSON.parse((r.content[0] as { text: string }).text)).toEqual(r.structuredContent);
  return r.structuredContent.error;
}

/** GET on the node (the app served on the node's host under /a/NAME/). */
async function get(path: string): Promise<{ status: number; text: string }> {
  const r = await request(t.url + path);
  return { status: r.status, text: r.text() };
}

beforeAll(async () => {
  t = await startTestNode();
  const k = t.node.kernel;
  tokens = {
    admin: k.auth.createToken('admin', 'a').token,
    mcp: k.auth.createToken('mcp', 'agent').token,
    read: k.auth.createToken('mcp-read', 'reader').token,
    deploy: k.auth.createToken('deploy', 'ci').token,
  };
});

afterAll(async () => {
  await t?.stop();
  removeTempDirs();
});

describe('MCP over Streamable HTTP (/mcp)', () => {
  it('lists the catalogue with schemas and annotations: read-only tools marked, writes marked destructive or additive', async () => {
    const c = await httpClient(tokens.mcp);
    try {
      const { tools } = await c.listTools();
      expect(tools.map((x) => x.name).sort()).toEqual([...READ_ONLY, ...WRITES].sort());
      for (const x of tools) {
        expect(x.inputSchema.type).toBe('object');
        expect(x.description!.length).toBeGreaterThan(20);
        expect(x.annotations!.readOnlyHint, x.name).toBe(READ_ONLY.includes(x.name));
        expect(x.annotations!.openWorldHint).toBe(false);
      }
      const ann = (n: string) => tools.find((x) => x.name === n)!.annotations!;
      // what "Ask" and agents confirm first
      for (const n of ['write_files', 'rollback', 'kv_set', 'kv_delete', 'docs_update', 'docs_delete']) expect(ann(n).destructiveHint, n).toBe(true);
      for (const n of ['docs_insert', 'emit_event']) expect(ann(n).destructiveHint, n).toBe(false);
      expect(ann('kv_delete').idempotentHint).toBe(true);
      expect(ann('write_files').idempotentHint).toBe(false);
      const rf = tools.find((x) => x.name === 'read_file')!.inputSchema;
      expect(rf.required).toEqual(['app', 'path']);
    } finally {
      await c.close();
    }
  });

  it('an agent builds an app and works with its data: every tool, with effects seen through the app and the admin API', async () => {
    const c = await httpClient(tokens.mcp);
    try {
      // write_files: a new app
      const created = await ok(c, 'write_files', {
        app: 'board',
        files: [
          { path: 'app.json', content: APP_JSON },
          { path: 'index.html', content: '<h1>Board v1</h1>' },
          { path: 'api/main.js', content: MAIN_JS },
          { path: '/logo.png', content: Buffer.from(PNG).toString('base64'), encoding: 'base64' },
        ],
      });
      expect(created).toMatchObject({ app: 'board', version: 1, live: true, created: true, files: 4, deleted: [] });
      expect(created.urls).toEqual([`http://board.localhost:${t.port}/`, `${t.url}/a/board/`]);
      expect((await get('/a/board/')).text).toBe('<h1>Board v1</h1>');
      expect(new Uint8Array((await request(t.url + '/a/board/logo.png')).body)).toEqual(PNG);

      // reads
      const apps = await ok(c, 'list_apps');
      expect(apps.apps.map((a: { name: string }) => a.name)).toEqual(['board']);
      const info = await ok(c, 'get_app', { app: 'board' });
      expect(info).toMatchObject({ name: 'board', title: 'Board', currentVersion: 1, versions: 1, files: 4, manifest: { title: 'Board' }, permissions: { requested: [] } });
      expect(await ok(c, 'get_app', { app: info.id })).toMatchObject({ name: 'board' }); // by id too
      expect((await ok(c, 'list_files', { app: 'board' })).files.map((f: { path: string }) => f.path)).toEqual(['api/main.js', 'app.json', 'index.html', 'logo.png']);
      expect(await ok(c, 'read_file', { app: 'board', path: 'index.html' })).toMatchObject({ version: 1, encoding: 'utf8', content: '<h1>Board v1</h1>', size: 17 });
      const png = await ok(c, 'read_file', { app: 'board', path: 'logo.png' });
      expect(png.encoding).toBe('base64');
      expect(new Uint8Array(Buffer.from(png.content, 'base64'))).toEqual(PNG);

      // write_files: change one file, delete another → version 2
      const v2 = await ok(c, 'write_files', { app: 'board', files: [{ path: 'index.html', content: '<h1>Board v2</h1>' }], delete: ['logo.png'] });
      expect(v2).toMatchObject({ version: 2, live: true, created: false, files: 3, written: ['index.html'], deleted: ['logo.png'] });
      expect((await get('/a/board/')).text).toBe('<h1>Board v2</h1>');
      expect((await get('/a/board/logo.png')).status).toBe(404);
      expect(await ok(c, 'read_file', { app: 'board', path: 'logo.png', version: 1 })).toMatchObject({ version: 1, encoding: 'base64' });
      const versions = await ok(c, 'list_versions', { app: 'board' });
      expect(versions.versions.map((v: { version: number; current: boolean }) => [v.version, v.current])).toEqual([[2, true], [1, false]]);

      // rollback, and forward again
      expect(await ok(c, 'rollback', { app: 'board' })).toMatchObject({ app: 'board', from: 2, to: 1 });
      expect((await get('/a/board/')).text).toBe('<h1>Board v1</h1>');
      expect(await ok(c, 'rollback', { app: 'board', version: 2 })).toMatchObject({ from: 1, to: 2 });
      expect((await get('/a/board/')).text).toBe('<h1>Board v2</h1>');

      // kv: what the tool writes, the app's own code reads
      expect(await ok(c, 'kv_set', { app: 'board', key: 'greeting', value: { text: 'hi' } })).toEqual({ app: 'board', key: 'greeting', set: true });
      expect(JSON.parse((await get('/a/board/api/kv')).text)).toEqual({ value: { text: 'hi' } });
      expect(await ok(c, 'kv_get', { app: 'board', key: 'greeting' })).toEqual({ app: 'board', key: 'greeting', found: true, value: { text: 'hi' } });
      await ok(c, 'kv_set', { app: 'board', key: 'n', value: 0 });
      expect((await ok(c, 'kv_list', { app: 'board' })).items).toEqual([{ key: 'greeting', value: { text: 'hi' } }, { key: 'n', value: 0 }]);
      expect((await ok(c, 'kv_list', { app: 'board', limit: 1 })).cursor).toEqual(expect.any(String));
      expect(await ok(c, 'kv_delete', { app: 'board', key: 'greeting' })).toMatchObject({ deleted: true });
      expect(await ok(c, 'kv_get', { app: 'board', key: 'greeting' })).toMatchObject({ found: false });
      expect(JSON.parse((await get('/a/board/api/kv')).text)).toEqual({ value: null });

      // docs
      const { doc } = await ok(c, 'docs_insert', { app: 'board', collection: 'cards', doc: { title: 'write tests', n: 1 } });
      expect(doc).toMatchObject({ _id: expect.any(String), title: 'write tests', n: 1 });
      await ok(c, 'docs_insert', { app: 'board', collection: 'cards', doc: { _id: 'c2', title: 'ship', n: 5 } });
      expect(await ok(c, 'docs_find', { app: 'board', collection: 'cards', where: { n: { $gte: 2 } } })).toMatchObject({ total: 1, documents: [{ _id: 'c2' }] });
      expect(await ok(c, 'docs_update', { app: 'board', collection: 'cards', id: doc._id, update: { $inc: { n: 10 } } })).toMatchObject({ updated: 1 });
      expect((await ok(c, 'docs_find', { app: 'board', collection: 'cards', sort: { n: -1 }, limit: 1 })).documents).toEqual([{ _id: doc._id, title: 'write tests', n: 11 }]);
      expect(await ok(c, 'docs_collections', { app: 'board' })).toEqual({ app: 'board', collections: [{ name: 'cards', count: 2 }] });
      expect(await ok(c, 'docs_delete', { app: 'board', collection: 'cards', where: { n: 5 } })).toMatchObject({ deleted: 1 });
      // the owner's storage browser (admin API) sees the same data
      const admin = await request(`${t.url}/api/apps/board/docs/cards`, { token: tokens.admin });
      expect(admin.json().documents).toEqual([{ _id: doc._id, title: 'write tests', n: 11 }]);

      // logs of the app's code, its cron job, events
      const logs = await ok(c, 'read_logs', { app: 'board', limit: 10 });
      expect(logs.logs.map((e: { message: string }) => e.message)).toContain('hit /api/kv');
      const warnOnly = await ok(c, 'read_logs', { app: 'board', level: 'warn' });
      expect(warnOnly.logs.every((e: { level: string }) => e.level === 'warn' || e.level === 'error')).toBe(true);
      expect((await ok(c, 'list_jobs', { app: 'board' })).jobs).toMatchObject([{ kind: 'cron', name: 'tick', cron: '0 * * * *', status: 'scheduled' }]);
      const { event } = await ok(c, 'emit_event', { app: 'board', type: 'card.moved', payload: { id: 'c2' } });
      expect(event).toMatchObject({ app: 'board', type: 'card.moved', payload: { id: 'c2' } });
      expect((await ok(c, 'list_events', { app: 'board' })).events[0]).toMatchObject({ id: event.id, type: 'card.moved' });
      const events = await request(`${t.url}/api/events?app=board`, { token: tokens.admin });
      expect(events.json().events[0]).toMatchObject({ id: event.id });

      expect(await ok(c, 'health')).toMatchObject({ ok: true, node: t.node.kernel.cartridge.nodeId, schema: LATEST_SCHEMA_VERSION, apps: 1, runtime: true });
      expect(internalErrors(t)).toEqual([]);
      // the node's log names each change an agent made (tool, token, outcome), never its arguments
      const agentId = t.node.kernel.auth.listTokens().find((x) => x.name === 'agent')!.id;
      const audit = t.logs.filter((l) => l.msg === 'tool call');
      expect(audit.map((l) => l.fields!.tool)).toEqual(['write_files', 'write_files', 'rollback', 'rollback', 'kv_set', 'kv_set', 'kv_delete', 'docs_insert', 'docs_insert', 'docs_update', 'docs_delete', 'emit_event']);
      expect(audit.every((l) => l.fields!.by === `token:${agentId}` && l.fields!.outcome === 'ok')).toBe(true);
      expect(JSON.stringify(t.logs)).not.toContain('write tests');
    } finally {
      await c.close();
    }
  });

  it('bad arguments come back as MCP tool errors with the kernel codes, and change nothing', async () => {
    const c = await httpClient(tokens.mcp);
    try {
      const before = t.node.kernel.apps.require('board').currentVersion;
      expect((await fails(c, 'read_file', { app: 'board' }, 'INVALID_ARGUMENT')).message).toMatch(/read_file: path:/);
      expect((await fails(c, 'kv_set', { app: 'board', key: 'k', value: 1, extra: true }, 'INVALID_ARGUMENT')).message).toMatch(/extra/);
      await fails(c, 'kv_set', { app: 'board', key: 'k' }, 'INVALID_ARGUMENT');
      await fails(c, 'list_files', { app: 'board', version: 1.5 }, 'INVALID_ARGUMENT');
      await fails(c, 'docs_delete', { app: 'board', collection: 'cards' }, 'INVALID_ARGUMENT'); // neither id nor where
      await fails(c, 'docs_find', { app: 'board', collection: 'no spaces' }, 'INVALID_ARGUMENT');
      await fails(c, 'no_such_tool', {}, 'NOT_FOUND');
      await fails(c, 'get_app', { app: 'nope' }, 'APP_NOT_FOUND');
      await fails(c, 'read_file', { app: 'board', path: 'missing.txt' }, 'NOT_FOUND');
      await fails(c, 'rollback', { app: 'board', version: 99 }, 'VERSION_NOT_FOUND');
      await fails(c, 'write_files', { app: 'board', delete: ['not-there.js'] }, 'NOT_FOUND');
      await fails(c, 'write_files', { app: 'board', files: [{ path: '../escape.txt', content: 'x' }] }, 'UNSAFE_PATH');
      await fails(c, 'write_files', { app: 'board', files: [{ path: 'app.json', content: '{"name": 5}' }] }, 'INVALID_MANIFEST');
      await fails(c, 'emit_event', { app: 'board', type: 'has space' }, 'INVALID_ARGUMENT');
      // server code that does not parse: the deploy is refused whole
      expect((await fails(c, 'write_files', { app: 'board', files: [{ path: 'api/main.js', content: 'export default {' }] }, 'INVALID_CODE')).message).toMatch(/api\/main\.js:1/);
      expect(t.node.kernel.apps.require('board').currentVersion).toBe(before);
      expect((await get('/a/board/')).text).toBe('<h1>Board v2</h1>');
      expect(internalErrors(t)).toEqual([]);
    } finally {
      await c.close();
    }
  });

  it('write_files never loses a deploy that landed meanwhile: ifVersion, and two writes racing', async () => {
    const c = await httpClient(tokens.mcp);
    try {
      const live = t.node.kernel.apps.require('board').currentVersion!;
      expect((await fails(c, 'write_files', { app: 'board', ifVersion: live - 1, files: [{ path: 'x.txt', content: 'x' }] }, 'CONFLICT')).message).toMatch(/read the files again/);
      expect(t.node.kernel.apps.require('board').currentVersion).toBe(live);
      // two agents edit different files from the same live version at the same moment
      const ctx = { kernel: t.node.kernel, principal: { kind: 'token' as const, scope: 'admin' as const } };
      const [a, b] = await Promise.all([
        callTool(ctx, 'write_files', { app: 'board', files: [{ path: 'a.txt', content: 'A' }] }),
        callTool(ctx, 'write_files', { app: 'board', files: [{ path: 'b.txt', content: 'B' }] }),
      ]);
      expect(a.ok).toBe(true);
      expect(b).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
      const paths = t.node.kernel.apps.files(t.node.kernel.apps.require('board').id, live + 1).map((f) => f.path);
      expect(paths).toContain('a.txt');
      expect(t.node.kernel.apps.require('board').currentVersion).toBe(live + 1);
      // the loser retries on the new version and keeps the winner's change
      expect(await ok(c, 'write_files', { app: 'board', ifVersion: live + 1, files: [{ path: 'b.txt', content: 'B' }], delete: ['a.txt'] })).toMatchObject({ version: live + 2 });
    } finally {
      await c.close();
    }
  });

  it('refuses requests without a token (401), with a bad token (401) or a deploy token (403), as JSON errors', async () => {
    const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const none = await request(t.url + '/mcp', { method: 'POST', headers, body: initialize });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(none.json().error).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringMatching(/fazt token create --scope mcp/) });
    const wrong = await request(t.url + '/mcp', { method: 'POST', headers, body: initialize, token: 'fazt_nottherealtoken' });
    expect(wrong.status).toBe(401);
    expect(wrong.json().error.code).toBe('UNAUTHORIZED');
    const deploy = await request(t.url + '/mcp', { method: 'POST', headers, body: initialize, token: tokens.deploy });
    expect(deploy.status).toBe(403);
    expect(deploy.json().error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/"deploy"/) });
    // the SDK client cannot connect without a token either
    await expect(httpClient()).rejects.toThrow();
    // a body over 16 MiB is not read
    const huge = await request(t.url + '/mcp', { method: 'POST', headers, body: '{"x":"' + 'a'.repeat(16 * 1024 * 1024) + '"}', token: tokens.mcp });
    expect(huge.status).toBe(413);
    // GET (a server stream) and DELETE (a session end): this server is stateless
    const getStream = await request(t.url + '/mcp', { headers: { accept: 'text/event-stream' }, token: tokens.mcp });
    expect(getStream.status).toBe(405);
    expect(getStream.json().error.code).toBe('METHOD_NOT_ALLOWED');
  });

  it('an mcp token opens no admin API route; an app subdomain keeps its own /mcp', async () => {
    for (const scope of ['mcp', 'read'] as const) {
      const r = await request(t.url + '/api/apps', { token: tokens[scope] });
      expect(r.status).toBe(403);
      expect(r.json().error.code).toBe('FORBIDDEN');
    }
    // without a token: the MCP endpoint would answer 401; the app's static files answer instead
    const onApp = await request(t.url + '/mcp', { method: 'POST', headers: { host: `board.localhost:${t.port}`, 'content-type': 'application/json' }, body: '{}' });
    expect(onApp.status, onApp.text()).not.toBe(401);
    expect(onApp.headers['www-authenticate']).toBeUndefined();
  });

  it('a read-only token (mcp-read) lists and calls only read-only tools', async () => {
    const c = await httpClient(tokens.read);
    try {
      const { tools } = await c.listTools();
      expect(tools.map((x) => x.name).sort()).toEqual([...READ_ONLY].sort());
      expect(tools.every((x) => x.annotations!.readOnlyHint === true)).toBe(true);
      expect((await ok(c, 'list_apps')).apps).toHaveLength(1);
      expect((await fails(c, 'kv_set', { app: 'board', key: 'x', value: 1 }, 'FORBIDDEN')).message).toMatch(/mcp-read/);
      await fails(c, 'write_files', { app: 'board', files: [{ path: 'index.html', content: 'defaced' }] }, 'FORBIDDEN');
      expect(t.node.kernel.kv.get(t.node.kernel.apps.require('board').id, 'x')).toBeUndefined();
      expect((await get('/a/board/')).text).toBe('<h1>Board v2</h1>');
    } finally {
      await c.close();
    }
  });

  it("an mcp token's version of an app holding secrets waits for the owner's approval; an admin token's goes live", async () => {
    t.node.kernel.setSecret('board', 'API_KEY', 'k');
    const agent = await httpClient(tokens.mcp);
    const owner = await httpClient(tokens.admin);
    try {
      const held = await ok(agent, 'write_files', { app: 'board', files: [{ path: 'index.html', content: '<h1>agent</h1>' }] });
      expect(held).toMatchObject({ live: false });
      expect(held.version).toBeGreaterThan(t.node.kernel.apps.require('board').currentVersion!);
      expect((await get('/a/board/')).text).toBe('<h1>Board v2</h1>');
      expect(await ok(agent, 'read_file', { app: 'board', path: 'index.html' })).toMatchObject({ content: '<h1>Board v2</h1>' });
      const live = await ok(owner, 'write_files', { app: 'board', files: [{ path: 'index.html', content: '<h1>owner</h1>' }] });
      expect(live).toMatchObject({ live: true, version: held.version + 1 });
      expect((await get('/a/board/')).text).toBe('<h1>owner</h1>');
    } finally {
      await agent.close();
      await owner.close();
      t.node.kernel.removeSecret('board', 'API_KEY');
    }
  });
});

describe('MCP over stdio (fazt mcp --db)', () => {
  beforeAll(() => ensureBundle(), 120_000);

  it('serves the catalogue on a cartridge a running node shares: what the agent deploys, the node serves', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', '--db', t.db], stderr: 'pipe', env: { ...process.env, FAZT_DB: '' } as Record<string, string> });
    const c = new Client({ name: 'fazt-test', version: '1.0.0' });
    await c.connect(transport);
    try {
      expect((await c.listTools()).tools).toHaveLength(READ_ONLY.length + WRITES.length);
      const r = await ok(c, 'write_files', { app: 'desk', files: [{ path: 'index.html', content: '<p>from stdio</p>' }] });
      expect(r).toMatchObject({ app: 'desk', version: 1, live: true, urls: [] });
      expect((await get('/a/desk/')).text).toBe('<p>from stdio</p>');
      expect((await ok(c, 'list_apps')).apps.map((a: { name: string }) => a.name).sort()).toEqual(['board', 'desk']);
      await fails(c, 'read_file', { app: 'desk' }, 'INVALID_ARGUMENT');
      await fails(c, 'kv_get', { app: 'nope', key: 'k' }, 'APP_NOT_FOUND');
    } finally {
      await c.close();
    }
  });

  it('writes nothing but JSON-RPC to stdout, and exits when stdin closes', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp', '--db', t.db], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FAZT_DB: '' } });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    const lines = [
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'get_app', arguments: { app: 'nope' } } },
    ];
    child.stdin.write(lines.map((l) => JSON.stringify(l) + '\n').join(''));
    await expect.poll(() => stdout.split('\n').filter(Boolean).length, { timeout: 15_000 }).toBe(3);
    child.stdin.end();
    expect(await exited).toBe(0);
    const answers = stdout.trim().split('\n').map((l) => JSON.parse(l) as { jsonrpc: string; id: number; result: Record<string, any> }); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(answers.every((a) => a.jsonrpc === '2.0')).toBe(true);
    expect(answers.map((a) => a.id).sort()).toEqual([1, 2, 3]);
    expect(answers.find((a) => a.id === 3)!.result).toMatchObject({ isError: true, structuredContent: { error: { code: 'APP_NOT_FOUND' } } });
  });

  it('a missing cartridge is one line on stderr and nothing on stdout', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp', '--db', join(tempDir(), 'none.db')], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FAZT_DB: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^fazt: No cartridge at .*none\.db/);
  });
});

describe('token scopes for MCP', () => {
  it('migration 6 keeps the tokens of an older cartridge, which then takes mcp tokens', () => {
    const path = join(tempDir(), 'v5.db');
    const db = BetterSqliteDatabase.open(path);
    const cart = openCartridge(db, { migrations: MIGRATIONS.filter((m) => m.version <= 5) });
    expect(cart.schemaVersion).toBe(5);
    const old = new AuthService(cart, defaultPorts).createToken('deploy', 'old', ['board']);
    expect(() => new AuthService(cart, defaultPorts).createToken('mcp', 'too early')).toThrow(/CHECK constraint/);
    db.close();
    const file = openCartridgeFile(path);
    try {
      expect(file.cartridge.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
      const k = kernelForFile(file);
      expect(k.auth.token(old.token)).toMatchObject({ scope: 'deploy', tokenId: old.id, apps: ['board'] });
      const m = k.auth.createToken('mcp-read', 'reader');
      expect(k.auth.token(m.token).scope).toBe('mcp-read');
      expect(k.auth.listTokens().map((x) => x.scope)).toEqual(['deploy', 'mcp-read']);
      expect(() => k.auth.createToken('root')).toThrow(/"mcp-read"/);
    } finally {
      file.db.close();
    }
  });
});
