/**
 * The owner's controls for apps' server code, over real HTTP against the real node and through the
 * real `fazt` command: permissions (at deploy and later), logs (JSON and a live server-sent event
 * stream), secrets (`fazt.env`), jobs and events.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createToken,
  expectError,
  internalErrors,
  manifest,
  removeTempDirs,
  request,
  startTestNode,
  tempDir,
  zip,
  type FileSet,
  type TestNode,
  ensureBundle,
} from './test-helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'fazt.js');

let t: TestNode;
let admin: string;
let deployOnly: string;

/** Active log subscriptions on the node's kernel (every `kernel.logs.subscribe` counted until its unsubscribe). */
let activeSubscriptions = 0;

beforeAll(async () => {
  ensureBundle();
  t = await startTestNode();
  admin = createToken(t, 'admin', 'test-admin').token;
  deployOnly = createToken(t, 'deploy', 'test-deploy').token;
  const logs = t.node.kernel.logs;
  const subscribe = logs.subscribe.bind(logs);
  logs.subscribe = (appId, listener) => {
    const unsubscribe = subscribe(appId, listener);
    activeSubscriptions++;
    let done = false;
    return () => {
      if (!done) activeSubscriptions--;
      done = true;
      unsubscribe();
    };
  };
}, 60_000);

afterAll(async () => {
  await t?.stop();
  removeTempDirs();
});

const api = (path: string, options: Parameters<typeof request>[1] = {}) => request(`${t.url}${path}`, options);

/** Server code that logs on every request and answers with what it sees of `fazt.env`. */
const SERVER_CODE = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    console.log('hello from ' + url.pathname);
    if (url.pathname === '/api/warn') console.warn('careful', { n: 1 });
    return { key: env.API_KEY ?? null, names: Object.keys(env).sort() };
  },
  scheduled() {},
};`;

/** An app with server code that requests `permissions`. */
function appFiles(name: string, permissions: string[], extra: Record<string, unknown> = {}): FileSet {
  return { 'app.json': manifest({ name, permissions, ...extra }), 'index.html': `<h1>${name}</h1>`, 'api/main.js': SERVER_CODE };
}

/** `POST /api/apps?…` with a zip. */
function deploy(token: string, files: FileSet, query = '') {
  return request(`${t.url}/api/apps${query}`, { method: 'POST', token, headers: { 'content-type': 'application/zip' }, body: zip(files) });
}

/** GET on the app's server code (`/a/NAME/api/…`). */
async function callApp(name: string, path = '/api/hello'): Promise<{ key: string | null; names: string[] }> {
  const r = await request(`${t.url}/a/${name}${path}`);
  expect(r.status, r.text()).toBe(200);
  return r.json();
}

async function eventually(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---------------------------------------------------------------------------------------------

describe('permissions', () => {
  it('a deploy reports requested / granted / pending; a deploy token leaves new permissions pending', async () => {
    const r = await deploy(deployOnly, appFiles('perm-a', ['net:api.example.com', 'ai']));
    expect(r.status, r.text()).toBe(201);
    expect(r.json().permissions).toEqual({ requested: ['net:api.example.com', 'ai'], granted: [], pending: ['net:api.example.com', 'ai'], dormant: [] });
    const id = r.json().id as string;
    expect(t.node.kernel.permissions.granted(id)).toEqual([]);
  });

  it('?grant=all (admin) grants what the uploaded version requests, in the same call', async () => {
    const r = await deploy(admin, appFiles('perm-b', ['net:api.example.com', 'ai']), '?grant=all');
    expect(r.status, r.text()).toBe(201);
    expect(r.json().permissions).toMatchObject({ requested: ['net:api.example.com', 'ai'], granted: ['net:api.example.com', 'ai'], pending: [] });
    expect(t.node.kernel.permissions.granted(r.json().id)).toEqual(['ai', 'net:api.example.com']);
  });

  it('?grant=a,b grants just those; a redeploy asking for more keeps the old grants and the new one is pending', async () => {
    const r = await deploy(admin, appFiles('perm-c', ['net:api.example.com', 'ai', 'notify']), '?grant=ai,notify');
    expect(r.json().permissions).toMatchObject({ granted: ['ai', 'notify'], pending: ['net:api.example.com'] });
    const again = await deploy(admin, appFiles('perm-c', ['ai', 'notify', 'events:perm-b']));
    expect(again.status).toBe(200);
    expect(again.json().permissions).toEqual({ requested: ['ai', 'notify', 'events:perm-b'], granted: ['ai', 'notify'], pending: ['events:perm-b'], dormant: [] });
  });

  it('a deploy token asking to grant gets 403 and nothing is deployed; a bad permission in ?grant is 400', async () => {
    expectError(await deploy(deployOnly, appFiles('perm-denied', ['ai']), '?grant=all'), 403, 'FORBIDDEN', /"admin" scope/);
    expectError(await deploy(admin, appFiles('perm-bad', ['ai']), '?grant=ai,Root%20Access'), 400, 'INVALID_ARGUMENT', /"Root Access" is not a permission/);
    expect(t.node.kernel.apps.resolve('perm-denied')).toBeUndefined();
    expect(t.node.kernel.apps.resolve('perm-bad')).toBeUndefined();
  });

  it('GET / POST / DELETE /api/apps/:app/permissions', async () => {
    await deploy(admin, appFiles('perm-d', ['net:*.example.org', 'ai']));
    const got = await api('/api/apps/perm-d/permissions', { token: deployOnly });
    expect(got.json()).toEqual({ app: 'perm-d', requested: ['net:*.example.org', 'ai'], granted: [], pending: ['net:*.example.org', 'ai'], dormant: [] });

    const granted = await api('/api/apps/perm-d/permissions', { method: 'POST', token: admin, json: { grant: ['ai', 'notify'] } });
    expect(granted.status, granted.text()).toBe(200);
    expect(granted.json()).toEqual({
      app: 'perm-d',
      grantedNow: ['ai', 'notify'],
      requested: ['net:*.example.org', 'ai'],
      granted: ['ai'],
      pending: ['net:*.example.org'],
      dormant: ['notify'], // granted, not requested by the live version
    });
    const all = await api('/api/apps/perm-d/permissions', { method: 'POST', token: admin, json: { grant: 'all' } });
    expect(all.json()).toMatchObject({ granted: ['net:*.example.org', 'ai'], pending: [] });

    const revoked = await api(`/api/apps/perm-d/permissions/${encodeURIComponent('net:*.example.org')}`, { method: 'DELETE', token: admin });
    expect(revoked.status, revoked.text()).toBe(200);
    expect(revoked.json()).toMatchObject({ revoked: 'net:*.example.org', granted: ['ai'], pending: ['net:*.example.org'] });
    expectError(await api(`/api/apps/perm-d/permissions/${encodeURIComponent('net:*.example.org')}`, { method: 'DELETE', token: admin }), 404, 'NOT_FOUND', /is not granted/);
  });

  it('permission routes: scopes, unknown app, bad input', async () => {
    await deploy(admin, appFiles('perm-e', ['ai']));
    expectError(await api('/api/apps/perm-e/permissions', { method: 'POST', token: deployOnly, json: { grant: ['ai'] } }), 403, 'FORBIDDEN');
    expectError(await api('/api/apps/perm-e/permissions/ai', { method: 'DELETE', token: deployOnly }), 403, 'FORBIDDEN');
    expectError(await api('/api/apps/perm-e/permissions'), 401, 'UNAUTHORIZED');
    expectError(await api('/api/apps/nope/permissions', { token: admin }), 404, 'APP_NOT_FOUND');
    expectError(await api('/api/apps/nope/permissions', { method: 'POST', token: admin, json: { grant: ['ai'] } }), 404, 'APP_NOT_FOUND');
    expectError(await api('/api/apps/perm-e/permissions', { method: 'POST', token: admin, json: { grant: ['ai', 'Not A Permission'] } }), 400, 'INVALID_ARGUMENT', /"Not A Permission" is not a permission/);
    expectError(await api('/api/apps/perm-e/permissions/NET%3Ax', { method: 'DELETE', token: admin }), 400, 'INVALID_ARGUMENT');
    expectError(await api('/api/apps/perm-e/permissions', { method: 'POST', token: admin, json: { grant: [] } }), 400, 'BAD_REQUEST');
    expectError(await api('/api/apps/perm-e/permissions', { method: 'POST', token: admin, json: { grant: 'ai' } }), 400, 'BAD_REQUEST');
    expectError(await api('/api/apps/perm-e/permissions', { method: 'POST', token: admin, body: 'nope', headers: { 'content-type': 'application/json' } }), 400, 'BAD_REQUEST');
    const id = t.node.kernel.apps.require('perm-e').id;
    expect(t.node.kernel.permissions.granted(id)).toEqual([]); // nothing was granted by the refused calls
  });
});

// ---------------------------------------------------------------------------------------------

describe('logs', () => {
  let appId: string;

  beforeAll(async () => {
    const r = await deploy(admin, appFiles('logger', []));
    expect(r.status, r.text()).toBe(201);
    appId = r.json().id;
  });

  it('GET /api/apps/:app/logs: the latest entries, ?level, ?after & ?limit', async () => {
    await callApp('logger', '/api/hello');
    await callApp('logger', '/api/warn');
    t.node.kernel.logs.append(appId, { level: 'error', message: 'appended by the kernel', source: 'test' });
    const r = await api('/api/apps/logger/logs', { token: deployOnly });
    expect(r.status, r.text()).toBe(200);
    const logs = r.json().logs as { id: number; level: string; message: string; source?: string; data?: unknown }[];
    expect(logs.map((e) => [e.level, e.message, e.source])).toEqual([
      ['info', 'hello from /api/hello', 'GET /api/hello'],
      ['info', 'hello from /api/warn', 'GET /api/warn'],
      ['warn', expect.stringMatching(/^careful/), 'GET /api/warn'],
      ['error', 'appended by the kernel', 'test'],
    ]);
    const warn = await api('/api/apps/logger/logs?level=warn', { token: admin });
    expect(warn.json().logs.map((e: { level: string }) => e.level)).toEqual(['warn', 'error']);
    const last = await api('/api/apps/logger/logs?limit=1', { token: admin });
    expect(last.json().logs.map((e: { message: string }) => e.message)).toEqual(['appended by the kernel']);
    const after = await api(`/api/apps/logger/logs?after=${logs[0]!.id}&limit=2`, { token: admin });
    expect(after.json().logs.map((e: { id: number }) => e.id)).toEqual([logs[1]!.id, logs[2]!.id]);
  });

  it('bad input and unknown apps', async () => {
    expectError(await api('/api/apps/logger/logs?level=loud', { token: admin }), 400, 'BAD_REQUEST', /level must be one of/);
    expectError(await api('/api/apps/logger/logs?limit=0', { token: admin }), 400, 'BAD_REQUEST', /limit/);
    expectError(await api('/api/apps/logger/logs?after=-1', { token: admin }), 400, 'BAD_REQUEST', /after/);
    expectError(await api('/api/apps/logger/logs?follow=1&after=x', { token: admin }), 400, 'BAD_REQUEST', /after/);
    expectError(await api('/api/apps/nope/logs', { token: admin }), 404, 'APP_NOT_FOUND');
    expectError(await api('/api/apps/nope/logs?follow=1', { token: admin }), 404, 'APP_NOT_FOUND');
    expectError(await api('/api/apps/logger/logs'), 401, 'UNAUTHORIZED');
    expect(activeSubscriptions).toBe(0);
  });

  /** A raw SSE client: collects events until closed. */
  function follow(path: string, headers: Record<string, string> = {}) {
    const events: { id?: string; data: string }[] = [];
    let raw = '';
    let status = 0;
    let contentType = '';
    let ended = false;
    const req = http.request(`${t.url}${path}`, { headers: { authorization: `Bearer ${admin}`, accept: 'text/event-stream', ...headers }, agent: false });
    req.on('response', (res) => {
      status = res.statusCode!;
      contentType = String(res.headers['content-type']);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        const blocks = raw.split('\n\n');
        raw = blocks.pop()!;
        for (const block of blocks) {
          const lines = block.split('\n').filter((l) => !l.startsWith(':'));
          const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
          if (data.length) events.push({ id: lines.find((l) => l.startsWith('id: '))?.slice(4), data: data.join('\n') });
        }
      });
      res.on('end', () => (ended = true));
      res.on('error', () => (ended = true));
    });
    req.on('error', () => (ended = true));
    req.end();
    return {
      events,
      entries: () => events.map((e) => JSON.parse(e.data) as { id: number; message: string; level: string }),
      status: () => status,
      contentType: () => contentType,
      ended: () => ended,
      close: () => req.destroy(),
    };
  }

  it('?follow=1 streams entries appended after connecting (SSE), and unsubscribes when the client goes away', async () => {
    const before = activeSubscriptions;
    const f = follow('/api/apps/logger/logs?follow=1');
    await eventually(() => f.status() === 200 && activeSubscriptions === before + 1, 'the stream to open');
    expect(f.contentType()).toMatch(/^text\/event-stream/);
    expect(f.events).toEqual([]); // no backlog without ?limit or ?after

    await callApp('logger', '/api/live'); // a real request whose console.log lands in the stream
    t.node.kernel.logs.append(appId, { level: 'warn', message: 'appended directly' });
    await eventually(() => f.events.length === 2, 'two live entries');
    const [a, b] = f.entries();
    expect([a!.message, b!.message]).toEqual(['hello from /api/live', 'appended directly']);
    expect(f.events.map((e) => e.id)).toEqual([String(a!.id), String(b!.id)]); // id: is the log id

    f.close();
    await eventually(() => activeSubscriptions === before, 'the subscription to be removed after the client disconnected');
    expect(activeSubscriptions).toBe(0);
  });

  it('?follow=1 honours Last-Event-ID, ?limit (backlog) and ?level; ends when the app is removed', async () => {
    const ids = (await api('/api/apps/logger/logs?limit=3', { token: admin })).json().logs.map((e: { id: number }) => e.id) as number[];
    const resumed = follow('/api/apps/logger/logs?follow=1&limit=1', { 'last-event-id': String(ids[0]) });
    await eventually(() => resumed.events.length === 2, 'the entries after Last-Event-ID');
    expect(resumed.entries().map((e) => e.id)).toEqual(ids.slice(1));
    const tail = follow('/api/apps/logger/logs?follow=1&limit=1&level=warn');
    await eventually(() => tail.events.length === 1, 'the backlog of one');
    t.node.kernel.logs.append(appId, { level: 'info', message: 'filtered out' });
    t.node.kernel.logs.append(appId, { level: 'error', message: 'kept' });
    await eventually(() => tail.events.length === 2 && resumed.events.length === 4, 'the live entries');
    expect(tail.entries().map((e) => e.message)).toEqual(['appended directly', 'kept']);
    expect(resumed.entries().map((e) => e.message).slice(2)).toEqual(['filtered out', 'kept']);
    expect(activeSubscriptions).toBe(2);

    // A deploy-scope token may follow too; removing the app ends every stream.
    expect((await api('/api/apps/logger', { method: 'DELETE', token: admin })).status).toBe(200);
    await eventually(() => resumed.ended() && tail.ended(), 'the streams to end');
    expect(activeSubscriptions).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('secrets', () => {
  let appId: string;

  beforeAll(async () => {
    const r = await deploy(admin, appFiles('vault', []));
    appId = r.json().id;
  });

  it('PUT sets a secret the app reads at once as fazt.env; GET lists names, never values; DELETE removes it', async () => {
    expect(await callApp('vault')).toEqual({ key: null, names: [] });
    const set = await api('/api/apps/vault/secrets/API_KEY', { method: 'PUT', token: admin, json: { value: 'first-value' } });
    expect(set.status, set.text()).toBe(201);
    expect(set.json()).toMatchObject({ app: 'vault', name: 'API_KEY', created: true });
    expect(await callApp('vault')).toEqual({ key: 'first-value', names: ['API_KEY'] });

    // replacing it reaches the app at once (the runtime drops sandboxes primed with the old value)
    const again = await api('/api/apps/vault/secrets/API_KEY', { method: 'PUT', token: admin, json: { value: 'second-value' } });
    expect([again.status, again.json().created]).toEqual([200, false]);
    expect(await callApp('vault')).toEqual({ key: 'second-value', names: ['API_KEY'] });
    await api('/api/apps/vault/secrets/OTHER', { method: 'PUT', token: admin, json: { value: 'x'.repeat(64 * 1024) } });

    const list = await api('/api/apps/vault/secrets', { token: admin });
    expect(list.status).toBe(200);
    expect(list.json().secrets.map((s: { name: string; updatedAt: number }) => [s.name, typeof s.updatedAt])).toEqual([
      ['API_KEY', 'number'],
      ['OTHER', 'number'],
    ]);
    expect(list.text()).not.toContain('second-value');

    const removed = await api('/api/apps/vault/secrets/API_KEY', { method: 'DELETE', token: admin });
    expect(removed.json()).toEqual({ app: 'vault', removed: 'API_KEY' });
    expect(await callApp('vault')).toEqual({ key: null, names: ['OTHER'] });
    expectError(await api('/api/apps/vault/secrets/API_KEY', { method: 'DELETE', token: admin }), 404, 'NOT_FOUND', /has no secret API_KEY/);
    expect(Object.keys(t.node.kernel.secrets.all(appId))).toEqual(['OTHER']);
  });

  it('secrets need the admin scope; bad names, values and unknown apps are refused', async () => {
    expectError(await api('/api/apps/vault/secrets', { token: deployOnly }), 403, 'FORBIDDEN');
    expectError(await api('/api/apps/vault/secrets/X', { method: 'PUT', token: deployOnly, json: { value: 'v' } }), 403, 'FORBIDDEN');
    expectError(await api('/api/apps/vault/secrets/OTHER', { method: 'DELETE', token: deployOnly }), 403, 'FORBIDDEN');
    expectError(await api('/api/apps/vault/secrets/1BAD', { method: 'PUT', token: admin, json: { value: 'v' } }), 400, 'INVALID_ARGUMENT', /not a valid secret name/);
    expectError(await api('/api/apps/vault/secrets/BAD-NAME', { method: 'DELETE', token: admin }), 400, 'INVALID_ARGUMENT');
    expectError(await api('/api/apps/vault/secrets/X', { method: 'PUT', token: admin, json: { value: 42 } }), 400, 'BAD_REQUEST', /"value"/);
    expectError(await api('/api/apps/vault/secrets/X', { method: 'PUT', token: admin, json: { value: 'x'.repeat(64 * 1024 + 1) } }), 413, 'LIMIT_EXCEEDED');
    expectError(await api('/api/apps/nope/secrets', { token: admin }), 404, 'APP_NOT_FOUND');
    expectError(await api('/api/apps/nope/secrets/X', { method: 'PUT', token: admin, json: { value: 'v' } }), 404, 'APP_NOT_FOUND');
    expect(t.node.kernel.secrets.names(appId).map((s) => s.name)).toEqual(['OTHER']);
  });
});

// ---------------------------------------------------------------------------------------------

describe('jobs and events (read-only)', () => {
  it('GET /api/apps/:app/jobs lists the cron jobs of the live manifest', async () => {
    const r = await deploy(admin, appFiles('cronny', [], { schedule: [{ name: 'nightly', cron: '0 3 * * *' }] }));
    expect(r.status, r.text()).toBe(201);
    const jobs = await api('/api/apps/cronny/jobs', { token: deployOnly });
    expect(jobs.status).toBe(200);
    expect(jobs.json()).toMatchObject({ app: 'cronny', jobs: [{ kind: 'cron', name: 'nightly', cron: '0 3 * * *', status: 'scheduled' }] });
    expectError(await api('/api/apps/nope/jobs', { token: admin }), 404, 'APP_NOT_FOUND');
    expectError(await api('/api/apps/cronny/jobs'), 401, 'UNAUTHORIZED');
  });

  it('GET /api/events?app=NAME&limit=N: the latest events, newest first', async () => {
    const a = t.node.kernel.apps.require('cronny');
    const b = t.node.kernel.apps.require('vault');
    t.node.kernel.events.emit(a.id, 'note.created', { n: 1 });
    t.node.kernel.events.emit(b.id, 'other.thing', null);
    t.node.kernel.events.emit(a.id, 'note.created', { n: 2 });
    const mine = await api('/api/events?app=cronny', { token: deployOnly });
    expect(mine.json().events.map((e: { app: string; type: string; payload: unknown }) => [e.app, e.type, e.payload])).toEqual([
      ['cronny', 'note.created', { n: 2 }],
      ['cronny', 'note.created', { n: 1 }],
    ]);
    const latest = await api('/api/events?limit=1', { token: admin });
    expect(latest.json().events.map((e: { payload: unknown }) => e.payload)).toEqual([{ n: 2 }]);
    expect((await api('/api/events', { token: admin })).json().events).toHaveLength(3);
    expectError(await api('/api/events?app=nope', { token: admin }), 404, 'APP_NOT_FOUND');
    expectError(await api('/api/events?limit=0', { token: admin }), 400, 'BAD_REQUEST');
    expectError(await api('/api/events'), 401, 'UNAUTHORIZED');
  });
});

// ---------------------------------------------------------------------------------------------
// The CLI

let home: string;
let env: NodeJS.ProcessEnv;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `node bin/fazt.js …args` with a throwaway HOME (never the real config), no colour. */
function spawnFazt(args: string[]): ChildProcess {
  if (!home) {
    home = tempDir('fazt-home-');
    env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data'), NO_COLOR: '1' };
    for (const k of Object.keys(env)) if (k.startsWith('FAZT_')) delete env[k];
  }
  return spawn(process.execPath, [BIN, ...args], { cwd: home, env, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs `fazt …args` to the end, `input` on stdin (not a terminal). */
function fazt(args: string[], input = ''): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnFazt(args);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin!.end(input);
  });
}

/** A successful run: exit 0, nothing on stderr. */
async function faztOk(args: string[], input?: string): Promise<string> {
  const r = await fazt(args, input);
  expect({ code: r.code, stderr: r.stderr }, `fazt ${args.join(' ')}\n${r.stdout}`).toEqual({ code: 0, stderr: '' });
  return r.stdout;
}

/** A failed run: exit 1, nothing on stdout, one line `fazt: …` on stderr. */
async function faztFails(args: string[], reason: RegExp, input?: string): Promise<void> {
  const r = await fazt(args, input);
  expect([r.code, r.stdout], r.stderr).toEqual([1, '']);
  expect(r.stderr).toMatch(/^fazt: [^\n]+\n$/);
  expect(r.stderr).toMatch(reason);
}

function appDir(files: FileSet): string {
  const dir = tempDir('fazt-app-');
  for (const [p, v] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), v);
  }
  return dir;
}

const LOG_LINE = /^\d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO |WARN |ERROR) /;

// Each CLI run starts a Node process (~0.5 s of CPU); on a small machine the group needs more than the default 30 s.
describe.concurrent('fazt app … for server code', { timeout: 90_000 }, () => {
  const node = () => ['--node', t.url, '--token', admin];

  it('app deploy --grant grants what app.json requests', async () => {
    const dir = appDir(appFiles('cli-granted', ['net:api.example.com', 'ai']));
    const out = await faztOk(['app', 'deploy', dir, '--grant', ...node()]);
    expect(out).toMatch(/^Deployed cli-granted version 1 /);
    expect(out).toContain('Permissions granted: net:api.example.com, ai');
    expect(out).not.toMatch(/pending/i);
    expect(t.node.kernel.permissions.granted(t.node.kernel.apps.require('cli-granted').id)).toEqual(['ai', 'net:api.example.com']);
    // --json carries the same state; a deploy token with --grant is refused before uploading
    const again = JSON.parse(await faztOk(['app', 'deploy', dir, '--grant', '--json', ...node()]));
    expect(again.permissions).toEqual({ requested: ['net:api.example.com', 'ai'], granted: ['net:api.example.com', 'ai'], pending: [], dormant: [] });
    await faztFails(['app', 'deploy', dir, '--grant', '--node', t.url, '--token', deployOnly], /^fazt: Granting permissions needs the "admin" scope/);
    expect(t.node.kernel.apps.require('cli-granted').currentVersion).toBe(2);
  });

  it('app deploy without --grant (not a terminal) leaves them pending and prints the grant command, which works', async () => {
    const dir = appDir(appFiles('cli-pending', ['net:*.example.org', 'ai']));
    const out = await faztOk(['app', 'deploy', dir, ...node()]);
    expect(out).toMatch(/^Deployed cli-pending version 1 /);
    expect(out).toContain('Permissions pending (the app cannot use them until you grant them): net:*.example.org, ai');
    const command = out.split('\n').find((l) => l.trim().startsWith('fazt app grant'))!.trim();
    expect(command).toBe(`fazt app grant cli-pending 'net:*.example.org' ai --node ${t.url}`);
    const id = t.node.kernel.apps.require('cli-pending').id;
    expect(t.node.kernel.permissions.granted(id)).toEqual([]);

    // the printed command, as a shell would split it, plus the token
    const granted = await faztOk(['app', 'grant', 'cli-pending', 'net:*.example.org', 'ai', '--node', t.url, '--token', admin]);
    expect(granted).toBe('Granted cli-pending: net:*.example.org, ai\n');
    expect(t.node.kernel.permissions.granted(id)).toEqual(['ai', 'net:*.example.org']);
    expect(await faztOk(['app', 'revoke', 'cli-pending', 'ai', ...node()])).toBe('Revoked cli-pending: ai\nPending now: ai\n');
    expect(await faztOk(['app', 'permissions', 'cli-pending', ...node()])).toBe(
      [
        'cli-pending requests net:*.example.org, ai',
        '  granted  net:*.example.org',
        '  pending  ai',
        `Grant with: fazt app grant cli-pending ai --node ${t.url}`,
        '',
      ].join('\n'),
    );
    expect(await faztOk(['app', 'grant', 'cli-pending', '--all', '--db', t.db])).toBe('Granted cli-pending: net:*.example.org, ai\n');
    expect(t.node.kernel.permissions.granted(id)).toEqual(['ai', 'net:*.example.org']);
    await faztFails(['app', 'grant', 'cli-pending', ...node()], /^fazt: Name the permissions to grant/);
    await faztFails(['app', 'grant', 'cli-pending', 'Bad Perm', ...node()], /^fazt: "Bad Perm" is not a permission/);
    await faztFails(['app', 'revoke', 'cli-pending', 'ai', '--node', t.url, '--token', deployOnly], /"admin" scope/);
  });

  it('app logs prints "HH:MM:SS.mmm LEVEL source message" lines, --level filters, --json prints JSON lines', async () => {
    await deploy(admin, appFiles('cli-logs', []));
    await callApp('cli-logs', '/api/one');
    await callApp('cli-logs', '/api/warn');
    const lines = (await faztOk(['app', 'logs', 'cli-logs', ...node()])).trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatch(LOG_LINE);
    expect(lines[0]).toMatch(/^\S+ INFO  GET \/api\/one  hello from \/api\/one$/);
    expect(lines[2]).toMatch(/^\S+ WARN  GET \/api\/warn  careful/);
    expect(lines.join('\n')).not.toContain('\x1b['); // no colour off a terminal

    const warn = (await faztOk(['app', 'logs', 'cli-logs', '--level', 'warn', '--db', t.db])).trimEnd().split('\n');
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatch(/WARN  GET \/api\/warn/);
    const json = (await faztOk(['app', 'logs', 'cli-logs', '-n', '2', '--json', ...node()])).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(json.map((e: { message: string }) => e.message)).toEqual(['hello from /api/warn', expect.stringMatching(/^careful/)]);
    await faztFails(['app', 'logs', 'cli-logs', '--level', 'loud', ...node()], /^fazt: --level must be/);
    await faztFails(['app', 'logs', 'nope', ...node()], /^fazt: No app named "nope"/);
  });

  /** Runs `fazt app logs … -f` until `want` lines arrived on stdout (then stops it). */
  async function followLines(args: string[], want: number, act: () => Promise<void>): Promise<string[]> {
    const child = spawnFazt(args);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin!.end();
    try {
      await eventually(() => stdout.split('\n').length > 1, 'the backlog line', 10_000);
      await act();
      await eventually(() => stdout.split('\n').length > want, `${want} lines (got ${JSON.stringify(stdout)}; stderr ${stderr})`, 10_000);
      expect(stderr).toBe('');
      return stdout.trimEnd().split('\n');
    } finally {
      child.kill();
    }
  }

  it('app logs -f follows a node (--node, server-sent events)', async () => {
    const r = await deploy(admin, appFiles('cli-follow', []));
    await callApp('cli-follow', '/api/before');
    const lines = await followLines(['app', 'logs', 'cli-follow', '-n', '1', '-f', ...node()], 3, async () => {
      await eventually(() => activeSubscriptions > 0, 'the CLI to subscribe', 10_000);
      await callApp('cli-follow', '/api/after');
      t.node.kernel.logs.append(r.json().id, { level: 'error', message: 'boom\n  at line 2', source: 'test', data: { code: 'X' } });
    });
    expect(lines[0]).toMatch(/INFO  GET \/api\/before  hello from \/api\/before$/);
    expect(lines[1]).toMatch(/INFO  GET \/api\/after  hello from \/api\/after$/);
    expect(lines[2]).toMatch(/^\S+ ERROR test  boom \{"code":"X"\}$/);
    expect(lines[3]).toBe(' '.repeat(19) + '  at line 2');
    await eventually(() => activeSubscriptions === 0, 'the subscription to end with the CLI', 5000);
  });

  it('app logs -f follows a cartridge file (--db, polling)', async () => {
    const r = await deploy(admin, appFiles('cli-poll', []));
    await callApp('cli-poll', '/api/before');
    const lines = await followLines(['app', 'logs', 'cli-poll', '-f', '--db', t.db], 2, async () => {
      await callApp('cli-poll', '/api/after');
    });
    expect(r.status).toBe(201);
    expect(lines.map((l) => l.replace(/^\S+ /, ''))).toEqual(['INFO  GET /api/before  hello from /api/before', 'INFO  GET /api/after  hello from /api/after']);
  });

  it('app secret set reads the value from stdin; list shows names only; rm removes', async () => {
    await deploy(admin, appFiles('cli-secret', []));
    expect(await faztOk(['app', 'secret', 'set', 'cli-secret', 'API_KEY', ...node()], 'from-stdin-value\n')).toBe(
      'Set API_KEY for cli-secret (its code reads fazt.env.API_KEY)\n',
    );
    expect(await callApp('cli-secret')).toEqual({ key: 'from-stdin-value', names: ['API_KEY'] });
    expect(await faztOk(['app', 'secret', 'set', 'cli-secret', 'TOKEN', 'on-the-command-line', '--db', t.db])).toBe(
      'Set TOKEN for cli-secret (its code reads fazt.env.TOKEN)\n',
    );
    const list = await faztOk(['app', 'secret', 'list', 'cli-secret', ...node()]);
    expect(list).toMatch(/^API_KEY  set \d{4}-\d\d-\d\d \d\d:\d\d\nTOKEN    set /);
    expect(list).not.toContain('from-stdin-value');
    const json = JSON.parse(await faztOk(['app', 'secret', 'list', 'cli-secret', '--json', ...node()]));
    expect(json.secrets.map((s: { name: string }) => s.name)).toEqual(['API_KEY', 'TOKEN']);
    expect(await faztOk(['app', 'secret', 'rm', 'cli-secret', 'TOKEN', ...node()])).toBe('Removed TOKEN from cli-secret\n');
    expect(await callApp('cli-secret')).toEqual({ key: 'from-stdin-value', names: ['API_KEY'] });
    await faztFails(['app', 'secret', 'set', 'cli-secret', 'EMPTY', ...node()], /^fazt: No value for EMPTY on stdin/, '');
    await faztFails(['app', 'secret', 'set', 'cli-secret', 'bad-name', ...node()], /^fazt: "bad-name" is not a valid secret name/, 'v');
    await faztFails(['app', 'secret', 'list', 'cli-secret', '--node', t.url, '--token', deployOnly], /"admin" scope/);
  });

  it('app jobs and events', async () => {
    await deploy(admin, appFiles('cli-jobs', [], { schedule: [{ name: 'nightly', cron: '0 3 * * *', timezone: 'Europe/Berlin' }] }));
    const jobs = (await faztOk(['app', 'jobs', 'cli-jobs', ...node()])).trimEnd().split('\n');
    expect(jobs[0]).toMatch(/^STATUS\s+JOB\s+NEXT RUN \(UTC\)\s+ERRORS$/);
    expect(jobs[1]).toMatch(/^scheduled  nightly \(0 3 \* \* \*, Europe\/Berlin\)  \d{4}-\d\d-\d\d \d\d:\d\d$/);
    expect(JSON.parse(await faztOk(['app', 'jobs', 'cli-jobs', '--json', '--db', t.db])).jobs).toHaveLength(1);
    t.node.kernel.events.emit(t.node.kernel.apps.require('cli-jobs').id, 'job.seen', { ok: true });
    const events = await faztOk(['events', '--app', 'cli-jobs', ...node()]);
    expect(events).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  cli-jobs  job\.seen  \{"ok":true\}\n$/);
  });
});

describe('afterwards', () => {
  it('no log subscription is left and the node logged no internal errors', async () => {
    await eventually(() => activeSubscriptions === 0, 'no subscriptions');
    expect(internalErrors(t)).toEqual([]);
  });
});
