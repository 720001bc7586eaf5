/**
 * Issue 15, parts 4 and 5, as attacks against the real node on 127.0.0.1 over real HTTP (real scrypt,
 * real QuickJS, real cartridge files, the real `fazt` command):
 *
 * - Part 4: a deploy token redeploys an app that holds an admin-set secret with code returning
 *   `fazt.env` — the version must not go live (it waits for the owner's approval); deploy tokens
 *   limited to named apps act on no other app.
 * - Part 5: failed sign-ins from many loopback addresses must not lock out a fresh address; the
 *   per-source limit holds for the attacker; `X-Forwarded-For` is believed only from a configured
 *   proxy; a one-time code printed by `fazt owner login-code` signs the owner in while the password
 *   route is limited, once; first-run setup through a proxy needs the setup code.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from './node.js';
import { clientSource } from './server.js';
import { createToken, expectError, internalErrors, manifest, memoryLogger, removeTempDirs, request, startTestNode, tempDir, zip, type FileSet, type HttpResult, type TestNode, ensureBundle } from './test-helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'fazt.js');
const PASSWORD = 'correct horse battery staple';
const SECRET = 'sk-live-0123456789-very-secret';

beforeAll(() => {
  ensureBundle();
}, 120_000);

afterAll(() => removeTempDirs());

/** Runs `node bin/fazt.js …args` asynchronously (the node under test lives in this process). */
function fazt(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, HOME: tempDir('fazt-home-'), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

async function faztOk(args: string[]): Promise<string> {
  const r = await fazt(args);
  expect({ code: r.code, stderr: r.stderr }, `fazt ${args.join(' ')}\n${r.stdout}`).toEqual({ code: 0, stderr: '' });
  return r.stdout;
}

/**
 * One HTTP request sent from a chosen local address (any 127.x.y.z is this machine on Linux), so
 * the node sees distinct TCP peers as it would from distinct machines.
 */
function requestFrom(localAddress: string, url: string, o: { method?: string; headers?: Record<string, string>; json?: unknown } = {}): Promise<HttpResult> {
  const u = new URL(url);
  const body = o.json === undefined ? undefined : JSON.stringify(o.json);
  const headers: Record<string, string> = { ...o.headers };
  if (body !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  return new Promise((done, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: o.method ?? 'GET', headers, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        done({ status: res.statusCode!, headers: res.headers, body: buf, text: () => buf.toString('utf8'), json: () => JSON.parse(buf.toString('utf8')) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Server code that answers with every secret it can see. */
const LEAK_CODE = `export default { async fetch(request, env) { return { leaked: env } } };`;
/** Harmless server code. */
const SAFE_CODE = `export default { async fetch() { return { version: 'safe' } } };`;

function appFiles(name: string, code: string, permissions: string[] = []): FileSet {
  return { 'app.json': manifest({ name, permissions }), 'index.html': `<h1>${name}</h1>`, 'api/main.js': code };
}

// ---------------------------------------------------------------------------------------------
// Part 4

describe('a deploy token must not read secrets', () => {
  let t: TestNode;
  let admin: string;
  let deployOnly: string;
  const api = (path: string, options: Parameters<typeof request>[1] = {}) => request(`${t.url}${path}`, options);
  const deploy = (token: string, files: FileSet, query = '') =>
    request(`${t.url}/api/apps${query}`, { method: 'POST', token, headers: { 'content-type': 'application/zip' }, body: zip(files) });
  const callApp = async (name: string) => {
    const r = await request(`${t.url}/a/${name}/api/x`);
    expect(r.status, r.text()).toBe(200);
    return r.text();
  };

  beforeAll(async () => {
    t = await startTestNode();
    admin = createToken(t, 'admin', 'owner').token;
    deployOnly = createToken(t, 'deploy', 'ci').token;
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('the attack: a redeploy by a deploy token of an app with a secret is stored, not live, and cannot read the secret', async () => {
    expect((await deploy(admin, appFiles('vault', SAFE_CODE))).status).toBe(201);
    expect((await api('/api/apps/vault/secrets/API_KEY', { method: 'PUT', token: admin, json: { value: SECRET } })).status).toBe(201);

    const r = await deploy(deployOnly, appFiles('vault', LEAK_CODE));
    // the secret does not come out, and the live code is still the owner's
    const answer = await callApp('vault');
    expect(answer).not.toContain(SECRET);
    expect(JSON.parse(answer)).toEqual({ version: 'safe' });
    expect(r.status, r.text()).toBe(202);
    expect(r.json()).toMatchObject({ name: 'vault', version: 2, live: false, pending: true, message: expect.stringMatching(/fazt app approve vault 2/) });
    expect(t.node.kernel.apps.require('vault').currentVersion).toBe(1);

    const versions = (await api('/api/apps/vault/versions', { token: deployOnly })).json().versions;
    expect(versions.map((v: { version: number; current: boolean; pending: boolean }) => [v.version, v.current, v.pending])).toEqual([
      [2, false, true],
      [1, true, false],
    ]);
    // nor can the deploy token make it live another way
    expectError(await api('/api/apps/vault/rollback', { method: 'POST', token: deployOnly, json: { version: 2 } }), 409, 'CONFLICT', /waits for the owner's approval/);
    expectError(await api('/api/apps/vault/approve', { method: 'POST', token: deployOnly, json: { version: 2 } }), 403, 'FORBIDDEN', /"admin" scope/);
    expect(await callApp('vault')).not.toContain(SECRET);
    // a later rollback without a version skips versions that wait for approval
    expect((await deploy(admin, appFiles('vault', SAFE_CODE.replace("'safe'", "'safe-3'")))).status).toBe(200);
    const back = await api('/api/apps/vault/rollback', { method: 'POST', token: deployOnly, json: {} });
    expect(back.json(), back.text()).toMatchObject({ from: 3, to: 1 });
    expect(await callApp('vault')).not.toContain(SECRET);
  });

  it('the owner approves a waiting version (API); then it is live and sees the secrets', async () => {
    expectError(await api('/api/apps/vault/approve', { method: 'POST', token: admin, json: { version: 3 } }), 404, 'VERSION_NOT_FOUND', /not waiting for approval/);
    expectError(await api('/api/apps/vault/approve', { method: 'POST', token: admin, json: {} }), 400, 'BAD_REQUEST', /"version"/);
    const ok = await api('/api/apps/vault/approve', { method: 'POST', token: admin, json: { version: 2 } });
    expect(ok.status, ok.text()).toBe(200);
    expect(ok.json()).toMatchObject({ from: 1, to: 2, app: { name: 'vault', currentVersion: 2 } });
    expect(JSON.parse(await callApp('vault'))).toEqual({ leaked: { API_KEY: SECRET } }); // the owner chose this
    expect(t.node.kernel.apps.pendingVersions(t.node.kernel.apps.require('vault').id)).toEqual([]);
  });

  it('a deploy token cannot roll an app that now holds a secret back to code it shipped earlier, never reviewed', async () => {
    // CI ships code to an app with nothing to protect: it goes live (and is recorded as unreviewed)
    expect((await deploy(deployOnly, appFiles('later', LEAK_CODE))).status).toBe(201);
    expect((await deploy(admin, appFiles('later', SAFE_CODE))).status).toBe(200);
    expect((await api('/api/apps/later/secrets/API_KEY', { method: 'PUT', token: admin, json: { value: SECRET } })).status).toBe(201);
    expectError(await api('/api/apps/later/rollback', { method: 'POST', token: deployOnly, json: { version: 1 } }), 403, 'FORBIDDEN', /never approved/);
    expectError(await api('/api/apps/later/rollback', { method: 'POST', token: deployOnly, json: {} }), 403, 'FORBIDDEN', /never approved/);
    expect(await callApp('later')).not.toContain(SECRET);
    const versions = (await api('/api/apps/later/versions', { token: deployOnly })).json().versions;
    expect(versions.map((v: { version: number; pending: boolean; reviewed: boolean }) => [v.version, v.pending, v.reviewed])).toEqual([
      [2, false, true],
      [1, false, false],
    ]);
    // the owner may look at it and approve it
    const ok = await api('/api/apps/later/approve', { method: 'POST', token: admin, json: { version: 1 } });
    expect(ok.json(), ok.text()).toMatchObject({ from: 2, to: 1 });
  });

  it('an app holding permission grants (no secrets) holds a deploy token’s version for approval too', async () => {
    expect((await deploy(admin, appFiles('granted', SAFE_CODE, ['ai']), '?grant=all')).status).toBe(201);
    const r = await deploy(deployOnly, appFiles('granted', LEAK_CODE, ['ai']));
    expect(r.status, r.text()).toBe(202);
    expect(r.json().live).toBe(false);
    expect(JSON.parse(await callApp('granted'))).toEqual({ version: 'safe' });
  });

  it('an admin deploy of an app with secrets goes live at once; a deploy token’s deploy of an app without secrets or grants too', async () => {
    const a = await deploy(admin, appFiles('vault', LEAK_CODE.replace('leaked', 'admin')));
    expect(a.status, a.text()).toBe(200);
    expect(a.json()).toMatchObject({ live: true, version: 4 });
    expect(JSON.parse(await callApp('vault'))).toEqual({ admin: { API_KEY: SECRET } });

    expect((await deploy(deployOnly, appFiles('plain', SAFE_CODE))).status).toBe(201);
    const again = await deploy(deployOnly, appFiles('plain', SAFE_CODE.replace("'safe'", "'ci-2'")));
    expect(again.status, again.text()).toBe(200);
    expect(again.json().live).toBe(true);
    expect(JSON.parse(await callApp('plain'))).toEqual({ version: 'ci-2' });
  });

  it('a deploy token limited to app A cannot deploy, read or roll back app B, nor learn that B exists', async () => {
    const created = await api('/api/tokens', { method: 'POST', token: admin, json: { scope: 'deploy', name: 'ci-a', apps: ['app-a'] } });
    expect(created.status, created.text()).toBe(201);
    expect(created.json()).toMatchObject({ scope: 'deploy', apps: ['app-a'] });
    const onlyA = created.json().token as string;
    expect((await deploy(admin, appFiles('app-b', SAFE_CODE))).status).toBe(201);

    const a = await deploy(onlyA, appFiles('app-a', SAFE_CODE));
    expect(a.status, a.text()).toBe(201);
    expect((await deploy(onlyA, appFiles('app-a', SAFE_CODE))).status).toBe(200);
    // B by manifest name, by ?name=, and a new app C: refused, nothing deployed
    expectError(await deploy(onlyA, appFiles('app-b', LEAK_CODE)), 403, 'FORBIDDEN', /limited to the app app-a/);
    expectError(await deploy(onlyA, appFiles('app-a', LEAK_CODE), '?name=app-b'), 403, 'FORBIDDEN');
    expectError(await deploy(onlyA, appFiles('app-c', SAFE_CODE)), 403, 'FORBIDDEN');
    expect(t.node.kernel.apps.require('app-b').currentVersion).toBe(1);
    expect(t.node.kernel.apps.resolve('app-c')).toBeUndefined();
    // reads and rollback of B; an unknown app answers the same (no existence oracle)
    for (const path of ['/api/apps/app-b', '/api/apps/app-b/versions', '/api/apps/app-b/files', '/api/apps/app-b/logs', '/api/apps/app-b/permissions', '/api/apps/nope', `/api/apps/${t.node.kernel.apps.require('app-b').id}`]) {
      expectError(await api(path, { token: onlyA }), 403, 'FORBIDDEN');
    }
    expectError(await api('/api/apps/app-b/rollback', { method: 'POST', token: onlyA, json: {} }), 403, 'FORBIDDEN');
    expectError(await api('/api/events', { token: onlyA }), 403, 'FORBIDDEN', /\?app=/);
    expectError(await api('/api/events?app=app-b', { token: onlyA }), 403, 'FORBIDDEN');
    expect((await api('/api/events?app=app-a', { token: onlyA })).status).toBe(200);
    expect((await api('/api/apps/app-a', { token: onlyA })).status).toBe(200);
    expect((await api('/api/apps', { token: onlyA })).json().apps.map((x: { name: string }) => x.name)).toEqual(['app-a']);
    // an unlimited deploy token still reaches B
    expect((await api('/api/apps/app-b', { token: deployOnly })).status).toBe(200);
  });

  it('token app lists: bad input is refused, nothing created', async () => {
    const before = t.node.kernel.auth.listTokens().length;
    expectError(await api('/api/tokens', { method: 'POST', token: admin, json: { scope: 'admin', apps: ['app-a'] } }), 400, 'BAD_REQUEST', /Only deploy tokens/);
    expectError(await api('/api/tokens', { method: 'POST', token: admin, json: { scope: 'deploy', apps: [] } }), 400, 'BAD_REQUEST', /list of 1–50/);
    expectError(await api('/api/tokens', { method: 'POST', token: admin, json: { scope: 'deploy', apps: 'app-a' } }), 400, 'BAD_REQUEST');
    expectError(await api('/api/tokens', { method: 'POST', token: admin, json: { scope: 'deploy', apps: ['Bad Name'] } }), 400, 'BAD_REQUEST', /not an app name/);
    expectError(await api('/api/tokens', { method: 'POST', token: admin, json: { scope: 'deploy', apps: [7] } }), 400, 'BAD_REQUEST');
    expectError(await api('/api/tokens', { method: 'POST', token: deployOnly, json: { scope: 'deploy', apps: ['x'] } }), 403, 'FORBIDDEN');
    expect(t.node.kernel.auth.listTokens()).toHaveLength(before);
  });

  it('the CLI: token create --app, a staged deploy, app versions, app approve', async () => {
    const node = ['--node', t.url];
    const scoped = JSON.parse(await faztOk(['token', 'create', '--scope', 'deploy', '--app', 'cli-vault', '--name', 'ci', '--json', ...node, '--token', admin]));
    expect(scoped).toMatchObject({ scope: 'deploy', apps: ['cli-vault'] });
    expect(await faztOk(['token', 'list', ...node, '--token', admin])).toMatch(/ci {2}.*apps: cli-vault/);
    const dir = tempDir('fazt-app-');
    const write = (files: FileSet) => {
      for (const [p, v] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, p)), { recursive: true });
        writeFileSync(join(dir, p), v);
      }
    };
    write(appFiles('cli-vault', SAFE_CODE));
    await faztOk(['app', 'deploy', dir, ...node, '--token', admin]);
    await faztOk(['app', 'secret', 'set', 'cli-vault', 'API_KEY', SECRET, ...node, '--token', admin]);
    write(appFiles('cli-vault', LEAK_CODE));
    const staged = await faztOk(['app', 'deploy', dir, ...node, '--token', scoped.token]);
    expect(staged).toMatch(/^Stored cli-vault version 2 .*NOT live/);
    expect(staged).toContain('fazt app approve cli-vault 2');
    expect(await callApp('cli-vault')).not.toContain(SECRET);
    expect(await faztOk(['app', 'versions', 'cli-vault', ...node, '--token', scoped.token])).toMatch(/v2 .*\(waiting for approval\)/);
    const other = await fazt(['app', 'info', 'vault', ...node, '--token', scoped.token]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/limited to the app cli-vault/);
    expect(await faztOk(['app', 'approve', 'cli-vault', '2', ...node, '--token', admin])).toBe('cli-vault: version 2 approved and live (was 1)\n');
  });

  it('logged no internal errors', () => {
    expect(internalErrors(t)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Part 5

const login = (from: string, t: { url: string }, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  requestFrom(from, `${t.url}/api/login`, { method: 'POST', json: body, headers });

describe('nobody can lock the owner out', () => {
  let t: TestNode;

  beforeAll(async () => {
    t = await startTestNode();
    const r = await request(`${t.url}/api/setup`, { method: 'POST', json: { password: PASSWORD } });
    expect(r.status).toBe(201);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('100 failed sign-ins from 10 loopback addresses do not lock out a fresh address; the attackers stay limited', async () => {
    const attackers = Array.from({ length: 10 }, (_, i) => `127.0.0.${i + 2}`);
    // two attackers at a time (the machine has two cores); each sends its 10 wrong passwords
    for (let i = 0; i < attackers.length; i += 2) {
      await Promise.all(
        attackers.slice(i, i + 2).map(async (a) => {
          for (let n = 0; n < 10; n++) expect((await login(a, t, { password: `wrong ${a} ${n}` })).status).toBe(401);
        }),
      );
    }
    const fresh = await login('127.0.0.200', t, { password: PASSWORD });
    expect(fresh.status, fresh.text()).toBe(200);
    expect(fresh.headers['set-cookie']).toHaveLength(1);
    for (const a of attackers) {
      const r = await login(a, t, { password: PASSWORD });
      expectError(r, 429, 'RATE_LIMITED', /fazt owner login-code/);
      expect(r.headers['set-cookie']).toBeUndefined();
    }
  }, 120_000);

  it('without a trusted proxy, X-Forwarded-For is ignored: a limited address stays limited whatever it claims', async () => {
    const spoofs: Record<string, string>[] = [{ 'x-forwarded-for': '192.0.2.99' }, { 'x-forwarded-for': '127.0.0.200' }, { forwarded: 'for=192.0.2.1' }, { 'x-real-ip': '192.0.2.2' }];
    for (const headers of spoofs) {
      expectError(await login('127.0.0.2', t, { password: PASSWORD }, headers), 429, 'RATE_LIMITED');
    }
  });

  it('a one-time code from `fazt owner login-code` (run while the node runs) signs in from a limited address, once', async () => {
    const printed = await faztOk(['owner', 'login-code', '--db', t.db]);
    const code = printed.split('\n')[0]!;
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    expect(printed).toMatch(/valid until .* \(10 minutes\), usable once/);
    // stored only hashed
    const rows = t.node.file.db.query<{ code_hash: string }>('SELECT code_hash FROM owner_login_codes');
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toContain(code.replace(/-/g, ''));

    expectError(await login('127.0.0.2', t, { password: PASSWORD }), 429, 'RATE_LIMITED'); // still limited
    const ok = await login('127.0.0.2', t, { code: code.toLowerCase() }); // typed sloppily: lowercase
    expect(ok.status, ok.text()).toBe(200);
    const cookie = String(ok.headers['set-cookie']![0]).split(';')[0]!;
    const session = await request(`${t.url}/api/session`, { headers: { cookie } });
    expect(session.json()).toMatchObject({ authenticated: true, scope: 'admin' });
    // spent: a second use fails, from any address
    expectError(await login('127.0.0.2', t, { code }), 401, 'UNAUTHORIZED', /already used/);
    expectError(await login('127.0.0.201', t, { code }), 401, 'UNAUTHORIZED');
  });

  it('a login code expires; wrong and malformed codes are refused', async () => {
    const { code } = t.node.kernel.auth.createLoginCode();
    t.node.file.db.run('UPDATE owner_login_codes SET expires_at = ? WHERE used_at IS NULL', [Date.now() - 1]);
    expectError(await login('127.0.0.2', t, { code }), 401, 'UNAUTHORIZED', /expired/);
    expectError(await login('127.0.0.2', t, { code: 'AAAA-BBBB-CCCC-DDDD' }), 401, 'UNAUTHORIZED');
    expectError(await login('127.0.0.2', t, { code: 42 }), 400, 'BAD_REQUEST', /XXXX-XXXX/);
    expectError(await login('127.0.0.2', t, { code: 'x'.repeat(65) }), 400, 'BAD_REQUEST');
  });

  it('`fazt owner login-code` on a cartridge without an owner says so', async () => {
    const fresh = await startTestNode();
    await fresh.stop();
    const r = await fazt(['owner', 'login-code', '--db', fresh.db]);
    expect([r.code, r.stdout]).toEqual([1, '']);
    expect(r.stderr).toMatch(/^fazt: This node has no owner yet/);
  });

  it('logged no internal errors', () => {
    expect(internalErrors(t)).toEqual([]);
  });
});

describe('behind a trusted reverse proxy (--trusted-proxy 127.0.0.1)', () => {
  let url: string;
  let stop: () => Promise<void>;
  let setupCode: string;
  let logs: ReturnType<typeof memoryLogger>;

  beforeAll(async () => {
    logs = memoryLogger();
    const node = await startNode({ db: join(tempDir(), 'data.db'), port: 0, host: '127.0.0.1', domain: 'home.localhost', seedExample: false, logger: logs, trustedProxies: ['127.0.0.1'] });
    url = node.url;
    stop = () => node.stop();
    setupCode = node.kernel.auth.setupCode();
  });
  afterAll(async () => {
    await stop?.();
  });

  it('first-run setup through the proxy needs the setup code, even with Host = the node’s domain from loopback', async () => {
    const port = new URL(url).port;
    const viaProxy = { host: `home.localhost:${port}`, 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https' };
    expect((await requestFrom('127.0.0.1', `${url}/api/setup`, { headers: viaProxy })).json()).toEqual({ setUp: false, codeRequired: true });
    expectError(await requestFrom('127.0.0.1', `${url}/api/setup`, { method: 'POST', headers: viaProxy, json: { password: 'attacker-password' } }), 403, 'FORBIDDEN', /setup code/);
    // a proxy that writes no forwarding header: the trusted peer alone marks the request as proxied
    expectError(await requestFrom('127.0.0.1', `${url}/api/setup`, { method: 'POST', headers: { host: `home.localhost:${port}` }, json: { password: 'attacker-password' } }), 403, 'FORBIDDEN');
    const ok = await requestFrom('127.0.0.1', `${url}/api/setup`, { method: 'POST', headers: viaProxy, json: { password: PASSWORD, code: setupCode } });
    expect(ok.status, ok.text()).toBe(201);
  });

  it('limits each client the proxy names, not the proxy: one client’s failures leave another signing in', async () => {
    const viaProxy = (client: string) => ({ 'x-forwarded-for': client });
    for (let n = 0; n < 10; n++) expect((await login('127.0.0.1', { url }, { password: `wrong ${n}` }, viaProxy('198.51.100.1'))).status).toBe(401);
    expectError(await login('127.0.0.1', { url }, { password: PASSWORD }, viaProxy('198.51.100.1')), 429, 'RATE_LIMITED');
    // the client cannot escape by writing its own X-Forwarded-For: the proxy appends the real address last
    expectError(await login('127.0.0.1', { url }, { password: PASSWORD }, viaProxy('203.0.113.9, 198.51.100.1')), 429, 'RATE_LIMITED');
    expect((await login('127.0.0.1', { url }, { password: PASSWORD }, viaProxy('198.51.100.2'))).status).toBe(200);
    // a peer that is not the trusted proxy is keyed by its own address, whatever it writes
    for (let n = 0; n < 10; n++) expect((await login('127.0.0.9', { url }, { password: `wrong ${n}` }, viaProxy(`192.0.2.${n}`))).status).toBe(401);
    expectError(await login('127.0.0.9', { url }, { password: PASSWORD }, viaProxy('192.0.2.200')), 429, 'RATE_LIMITED');
  }, 60_000);

  it('logged no internal errors', () => {
    expect(logs.lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});

describe('clientSource (the address the node keys sign-in limits by)', () => {
  const trusted = new Set(['127.0.0.1', '10.0.0.2']);
  it('is the peer, whatever the headers say, unless the peer is a trusted proxy', () => {
    expect(clientSource('192.0.2.1', '198.51.100.1', new Set())).toEqual({ source: '192.0.2.1', proxied: false });
    expect(clientSource('192.0.2.1', '198.51.100.1', trusted)).toEqual({ source: '192.0.2.1', proxied: false });
    expect(clientSource(undefined, '198.51.100.1', trusted)).toEqual({ source: undefined, proxied: false });
  });
  it('behind trusted proxies: the rightmost untrusted X-Forwarded-For entry; IPv4-mapped peers count as IPv4', () => {
    expect(clientSource('::ffff:127.0.0.1', '198.51.100.1', trusted)).toEqual({ source: '198.51.100.1', proxied: true });
    expect(clientSource('127.0.0.1', 'spoofed, 203.0.113.5, 10.0.0.2', trusted)).toEqual({ source: '203.0.113.5', proxied: true });
    expect(clientSource('127.0.0.1', ' 2001:DB8::1 ', trusted)).toEqual({ source: '2001:db8::1', proxied: true });
    expect(clientSource('127.0.0.1', undefined, trusted)).toEqual({ source: '127.0.0.1', proxied: true });
    expect(clientSource('127.0.0.1', '10.0.0.2, 127.0.0.1', trusted)).toEqual({ source: '127.0.0.1', proxied: true });
    expect(clientSource('127.0.0.1', ' , ', trusted)).toEqual({ source: '127.0.0.1', proxied: true });
  });
});
