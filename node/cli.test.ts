/**
 * The `fazt` command as a user runs it: `node bin/fazt.js …` in a child process with a throwaway
 * HOME / XDG folders (never the real config), against a real node started in this process and
 * directly on its cartridge file (`--db`), which the CLI and the running node share.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zipSync, strToU8 } from 'fflate';
import { createToken, damageTablePage, internalErrors, randomish, removeTempDirs, request, sha256, startTestNode, tempDir, type TestNode, ensureBundle } from './test-helpers.js';
import { LATEST_SCHEMA_VERSION } from '../shared/cartridge/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'fazt.js');

let home: string;
let env: NodeJS.ProcessEnv;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/fazt.js …args` (asynchronously: the node under test lives in this process). */
function fazt(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: home, env: { ...env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** A successful `--json` run: exit 0, nothing on stderr, one JSON document on stdout. */
async function faztJson<T = any>(args: string[], options?: { env?: NodeJS.ProcessEnv }): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await fazt([...args, '--json'], options);
  expect({ code: r.code, stderr: r.stderr }, `fazt ${args.join(' ')}\n${r.stdout}`).toEqual({ code: 0, stderr: '' });
  return JSON.parse(r.stdout) as T;
}

/** A failed run: non-zero exit, nothing on stdout, exactly one stderr line `fazt: <reason>`. */
async function faztFails(args: string[], reason: RegExp, options?: { env?: NodeJS.ProcessEnv }): Promise<string> {
  const r = await fazt(args, options);
  expect(r.code, `fazt ${args.join(' ')}: ${r.stderr}`).not.toBe(0);
  expect(r.code).not.toBe(null);
  expect(r.stdout).toBe('');
  const lines = r.stderr.split('\n');
  expect(lines.at(-1)).toBe(''); // ends with a newline
  expect(lines.slice(0, -1), `stderr of fazt ${args.join(' ')}`).toHaveLength(1);
  expect(lines[0]).toMatch(/^fazt: \S/);
  expect(lines[0]).toMatch(reason);
  return lines[0]!;
}

/** Writes an app folder. */
function appDir(files: Record<string, string | Uint8Array>): string {
  const dir = tempDir('fazt-app-');
  for (const [p, v] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), v);
  }
  return dir;
}

/** A port on 127.0.0.1 with nothing listening. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

let t: TestNode;

beforeAll(async () => {
  ensureBundle();
  home = tempDir('fazt-home-');
  env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data'), NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (k.startsWith('FAZT_')) delete env[k];
  t = await startTestNode();
}, 60_000);

afterAll(async () => {
  await t?.stop();
  removeTempDirs();
});

const SITE = {
  'app.json': JSON.stringify({ name: 'cli-site', title: 'CLI site' }),
  'index.html': '<h1>deployed by the CLI</h1>',
  'assets/pic.bin': randomish(400 * 1024, 99),
  'docs/readme.txt': 'read me',
  '.git/HEAD': 'ref: refs/heads/main', // never uploaded
};

// The three groups below run side by side (each CLI start costs ~0.3 s of CPU); tests inside the
// first two run in order.
describe.concurrent('fazt against a running node (--node URL --token T)', () => {
  let admin: string;
  let appId: string;
  const node = () => ['--node', t.url, '--token', admin];

  it.sequential('token create --db PATH --scope admin --json prints the token, which the running node accepts', async () => {
    const r = await faztJson(['token', 'create', '--db', t.db, '--scope', 'admin', '--name', 'cli-admin']);
    expect(r).toMatchObject({ scope: 'admin', name: 'cli-admin', lastUsedAt: null });
    expect(r.token).toMatch(/^fazt_[A-Za-z0-9_-]{43}$/);
    expect(r.id).toMatch(/^[0-9a-f-]{36}$/);
    admin = r.token;
    const apps = await request(`${t.url}/api/apps`, { token: admin });
    expect(apps.status).toBe(200);
    expect(t.node.kernel.auth.listTokens().find((x) => x.id === r.id)).toMatchObject({ scope: 'admin', name: 'cli-admin' });
  });

  it.sequential('app deploy DIR --json prints {id, name, version, urls} and the node serves the files', async () => {
    const dir = appDir(SITE);
    const r = await faztJson(['app', 'deploy', dir, ...node()]);
    expect(r).toMatchObject({ name: 'cli-site', version: 1, created: true, files: 4 });
    expect(r.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.urls).toEqual([`http://cli-site.localhost:${t.port}/`, `${t.url}/a/cli-site/`]);
    appId = r.id;
    for (const p of ['index.html', 'assets/pic.bin', 'docs/readme.txt']) {
      const got = await request(`${t.url}/a/cli-site/${p}`, { headers: { 'accept-encoding': 'identity' } });
      expect([p, got.status, sha256(got.body)]).toEqual([p, 200, sha256(SITE[p as keyof typeof SITE])]);
    }
    expect((await request(`${t.url}/a/cli-site/.git/HEAD`)).status).toBe(404);
    // Redeploy (human output) → version 2.
    const again = await fazt(['app', 'deploy', dir, ...node()]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^Deployed cli-site version 2 \(4 files, /);
  });

  it.sequential('app list / info / files / versions --json', async () => {
    // Independent reads: run side by side (each CLI start costs ~0.3 s).
    const [list, info, files, versions] = await Promise.all([
      faztJson(['app', 'list', ...node()]),
      faztJson(['app', 'info', 'cli-site', ...node()]),
      faztJson(['app', 'files', 'cli-site', ...node()]),
      faztJson(['app', 'versions', 'cli-site', ...node()]),
    ]);
    expect(list.apps.map((a: { name: string; id: string; currentVersion: number }) => [a.name, a.id, a.currentVersion])).toEqual([['cli-site', appId, 2]]);
    expect(info).toMatchObject({ id: appId, name: 'cli-site', title: 'CLI site', currentVersion: 2, versions: 2, files: 4, aliases: ['cli-site'] });
    expect(files.files.map((f: { path: string; hash: string }) => [f.path, f.hash])).toEqual(
      ['app.json', 'assets/pic.bin', 'docs/readme.txt', 'index.html'].map((p) => [p, sha256(SITE[p as keyof typeof SITE])]),
    );
    expect(files.version).toBe(2);
    expect(versions.versions.map((v: { version: number; current: boolean }) => [v.version, v.current])).toEqual([
      [2, true],
      [1, false],
    ]);
  });

  it.sequential('app rollback / rename / alias add / alias remove / remove --json', async () => {
    expect(await faztJson(['app', 'rollback', 'cli-site', ...node()])).toMatchObject({ from: 2, to: 1 });
    // `--version N` is the subcommand's option, not the program's version flag
    expect(await faztJson(['app', 'rollback', 'cli-site', '--version', '2', ...node()])).toMatchObject({ from: 1, to: 2 });
    const renamed = await faztJson(['app', 'rename', 'cli-site', 'cli-site2', ...node()]);
    expect(renamed.app).toMatchObject({ id: appId, name: 'cli-site2', aliases: ['cli-site2'] });
    expect((await request(`${t.url}/a/cli-site2/`)).text()).toBe(SITE['index.html']);
    expect((await request(`${t.url}/a/cli-site/`)).status).toBe(404);
    const aliased = await faztJson(['app', 'alias', 'add', 'cli-site2', 'cli-nick', ...node()]);
    expect(aliased.app.aliases).toEqual(['cli-site2', 'cli-nick']);
    expect((await request(`${t.url}/a/cli-nick/`)).text()).toBe(SITE['index.html']);
    const unaliased = await faztJson(['app', 'alias', 'remove', 'cli-site2', 'cli-nick', ...node()]);
    expect(unaliased.app.aliases).toEqual(['cli-site2']);
    expect((await request(`${t.url}/a/cli-nick/`)).status).toBe(404);
    const removed = await faztJson(['app', 'remove', 'cli-site2', ...node()]);
    expect(removed.removed).toEqual({ id: appId, name: 'cli-site2' });
    expect((await request(`${t.url}/a/cli-site2/`)).status).toBe(404);
    expect(t.node.kernel.apps.list()).toEqual([]);
  });

  it.sequential('remote add NAME URL --token T, then --node NAME', async () => {
    const r = await fazt(['remote', 'add', 'home', t.url, '--token', admin]);
    expect([r.code, r.stderr, r.stdout]).toEqual([0, '', `Added remote home → ${t.url}\n`]);
    const config = join(home, 'config', 'fazt', 'config.json');
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(config, 'utf8'))).toEqual({ remotes: { home: { url: t.url, token: admin } } });
    const deployed = await faztJson(['app', 'deploy', appDir(SITE), '--name', 'via-remote', '--node', 'home']);
    expect(deployed).toMatchObject({ name: 'via-remote', version: 1, urls: [`http://via-remote.localhost:${t.port}/`, `${t.url}/a/via-remote/`] });
    expect((await request(`${t.url}/a/via-remote/`)).text()).toBe(SITE['index.html']);
    // The real config under the real HOME was never touched: everything went to the temp HOME.
    expect(readdirSync(join(home, 'config'))).toEqual(['fazt']);
  });

  it.sequential('backup OUT.db --node URL writes a cartridge that a node can start on and serve', async () => {
    const out = join(tempDir(), 'remote-backup.db');
    const r = await faztJson(['backup', out, ...node()]);
    expect(r.path).toBe(out);
    expect(r.bytes).toBe(statSync(out).size);
    expect(existsSync(out + '.partial')).toBe(false);
    const restored = await startTestNode({ db: out });
    try {
      const page = await request(`${restored.url}/a/via-remote/`);
      expect([page.status, page.text()]).toEqual([200, SITE['index.html']]);
    } finally {
      await restored.stop();
    }
  });
});

describe.concurrent('fazt directly on the cartridge file (--db), shared with a running node', () => {
  // Its own node and cartridge, so this group runs beside the --node group.
  let n2: TestNode;
  let id: string;
  const db = () => ['--db', n2.db];
  beforeAll(async () => {
    n2 = await startTestNode();
  });
  afterAll(async () => {
    expect(internalErrors(n2)).toEqual([]);
    await n2?.stop();
  });

  it.sequential('deploys with --db and the running node serves it at once', async () => {
    const dir = appDir({ 'app.json': JSON.stringify({ name: 'offline' }), 'index.html': 'deployed offline' });
    const r = await faztJson(['app', 'deploy', dir, ...db()]);
    expect(r).toMatchObject({ name: 'offline', version: 1, created: true });
    expect(r.urls).toEqual(['http://offline.localhost/', 'http://localhost/a/offline/']);
    id = r.id;
    const page = await request(`${n2.url}/a/offline/`);
    expect([page.status, page.text()]).toEqual([200, 'deployed offline']);
    writeFileSync(join(dir, 'index.html'), 'second offline deploy');
    expect((await faztJson(['app', 'deploy', dir, ...db()])).version).toBe(2);
    expect((await request(`${n2.url}/a/offline/`)).text()).toBe('second offline deploy');
  });

  it.sequential('list / info / files / versions with --db', async () => {
    const [list, info, files, versions] = await Promise.all([
      faztJson(['app', 'list', ...db()]),
      faztJson(['app', 'info', 'offline', ...db()]),
      faztJson(['app', 'files', 'offline', '--version', '1', ...db()]),
      faztJson(['app', 'versions', 'offline', ...db()]),
    ]);
    expect(list.apps.map((a: { name: string; id: string }) => [a.name, a.id])).toEqual([['offline', id]]);
    expect(info).toMatchObject({ id, name: 'offline', currentVersion: 2, versions: 2, files: 2 });
    expect([files.version, files.files.map((f: { path: string; hash: string }) => [f.path, f.hash])]).toEqual([
      1,
      [
        ['app.json', sha256(JSON.stringify({ name: 'offline' }))],
        ['index.html', sha256('deployed offline')],
      ],
    ]);
    expect(versions.versions.map((v: { version: number; current: boolean }) => [v.version, v.current])).toEqual([
      [2, true],
      [1, false],
    ]);
  });

  it.sequential('backup OUT.db --db PATH writes a cartridge that a node can start on and serve', async () => {
    const out = join(tempDir(), 'file-backup.db');
    const r = await faztJson(['backup', out, ...db()]);
    expect(r).toEqual({ path: out, bytes: statSync(out).size });
    expect(readFileSync(out).subarray(0, 16).toString('latin1')).toBe('SQLite format 3\u0000');
    const restored = await startTestNode({ db: out });
    try {
      expect((await request(`${restored.url}/a/offline/`)).text()).toBe('second offline deploy');
      expect(restored.node.kernel.apps.list().map((a) => [a.name, a.id])).toEqual([['offline', id]]);
    } finally {
      await restored.stop();
    }
  });

  it.sequential('rollback / rename / alias add / alias remove / remove with --db', async () => {
    expect(await faztJson(['app', 'rollback', 'offline', ...db()])).toMatchObject({ from: 2, to: 1 });
    expect((await request(`${n2.url}/a/offline/`)).text()).toBe('deployed offline');
    expect((await faztJson(['app', 'rename', 'offline', 'offline2', ...db()])).app).toMatchObject({ id, name: 'offline2' });
    expect((await request(`${n2.url}/a/offline/`)).status).toBe(404);
    expect((await faztJson(['app', 'alias', 'add', 'offline2', 'off-nick', ...db()])).app.aliases).toEqual(['offline2', 'off-nick']);
    expect((await request(`${n2.url}/a/off-nick/`)).text()).toBe('deployed offline');
    expect((await faztJson(['app', 'alias', 'remove', 'offline2', 'off-nick', ...db()])).app.aliases).toEqual(['offline2']);
    expect((await request(`${n2.url}/a/off-nick/`)).status).toBe(404);
    expect((await faztJson(['app', 'remove', 'offline2', ...db()])).removed).toEqual({ id, name: 'offline2' });
    expect((await request(`${n2.url}/a/offline2/`)).status).toBe(404);
    expect(n2.node.kernel.apps.list()).toEqual([]);
  });
});

describe('fazt doctor', () => {
  it('passes a sound cartridge (exit 0) and describes a damaged one in words and JSON (exit 1)', async () => {
    const n = await startTestNode();
    const admin = createToken(n, 'admin').token;
    expect((await request(`${n.url}/api/apps`, { method: 'POST', token: admin, headers: { 'content-type': 'application/zip' }, body: zipSync({ 'app.json': strToU8('{"name":"doc"}'), 'index.html': strToU8('x') }) })).status).toBe(201);
    await n.stop();
    const sound = await fazt(['doctor', '--db', n.db]);
    expect(sound.code).toBe(0);
    expect(sound.stdout).toMatch(/integrity_check: ok[\s\S]*The cartridge is sound\./);
    damageTablePage(n.db, 'apps', 'hide-rows');
    const words = await fazt(['doctor', '--db', n.db]);
    expect(words.code).toBe(1);
    expect(words.stdout).toMatch(/integrity_check: DAMAGED \(1 problem\):\n  \*\*\* in database main \*\*\*\n  .*page \d+/);
    expect(words.stdout).toMatch(/The cartridge is damaged\.\n  - Stop the node[\s\S]*fazt backup/);
    const json = await fazt(['doctor', '--db', n.db, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ path: n.db, ok: false, headerProblem: null, integrity: { check: 'full', ok: false }, facts: { autoVacuum: 'incremental', schema: LATEST_SCHEMA_VERSION } });
    await faztFails(['doctor', '--db', join(tempDir(), 'none.db')], /^fazt: No cartridge at .*none\.db\.$/);
  });
});

describe('a plain built folder (no app.json) deploys', () => {
  it('under the folder\'s name, titled with it, and under --name', async () => {
    const admin = createToken(t, 'admin', 'plain').token;
    const dir = join(tempDir(), 'swagger-ui');
    mkdirSync(join(dir, 'assets'), { recursive: true });
    writeFileSync(join(dir, 'index.html'), '<!doctype html><p>built site</p>');
    writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
    const r = await faztJson(['app', 'deploy', dir, '--node', t.url, '--token', admin]);
    expect(r).toMatchObject({ name: 'swagger-ui', version: 1, created: true, files: 2 });
    expect((await request(`${t.url}/a/swagger-ui/`)).text()).toBe('<!doctype html><p>built site</p>');
    expect((await request(`${t.url}/a/swagger-ui/assets/app.js`)).text()).toBe('console.log(1)');
    const info = await faztJson(['app', 'info', 'swagger-ui', '--node', t.url, '--token', admin]);
    expect(info).toMatchObject({ name: 'swagger-ui', title: 'swagger-ui' });
    // --name wins over the folder's name
    const named = await faztJson(['app', 'deploy', dir, '--name', 'swagger', '--node', t.url, '--token', admin]);
    expect(named).toMatchObject({ name: 'swagger', version: 1, created: true });
    expect((await request(`${t.url}/a/swagger/`)).text()).toBe('<!doctype html><p>built site</p>');
    // human output names the app
    const human = await fazt(['app', 'deploy', dir, '--node', t.url, '--token', admin]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^Deployed swagger-ui version 2 \(2 files/);
  });
});

// The failure cases are independent of each other and of the groups above: all run side by side.
describe.concurrent('fazt failures: non-zero exit, one line "fazt: …" on stderr', () => {
  let admin: string;
  let deployOnly: string;

  beforeAll(() => {
    admin = createToken(t, 'admin', 'failures').token;
    deployOnly = createToken(t, 'deploy', 'failures').token;
  });

  it('unknown app', async () => {
    await faztFails(['app', 'info', 'no-such-app', '--node', t.url, '--token', admin, '--json'], /^fazt: No app named "no-such-app"\. Run `fazt app list`/);
  });

  it('bad token', async () => {
    await faztFails(['app', 'list', '--node', t.url, '--token', 'fazt_' + 'x'.repeat(43)], /^fazt: Invalid or revoked API token/);
  });

  it('node not running (connection refused)', async () => {
    const port = await closedPort();
    const dir = appDir({ 'app.json': '{"name": "nowhere"}', 'index.html': 'x' });
    await faztFails(
      ['app', 'deploy', dir, '--node', `http://127.0.0.1:${port}`, '--token', admin, '--json'],
      new RegExp(`^fazt: Cannot reach the node at http://127\\.0\\.0\\.1:${port}/: ECONNREFUSED\\. Is it running\\?$`),
    );
  });

  it('deploying a folder without app.json whose name is not an app name, without --name', async () => {
    const dir = join(tempDir(), 'My Site');
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.html'), 'no manifest here');
    await faztFails(['app', 'deploy', dir, '--node', t.url, '--token', admin, '--json'], /^fazt: The app would take its name from the folder "My Site", and that is not an app name .*Pass one with --name/);
    expect(t.node.kernel.apps.lookupLive('my-site')).toBeUndefined();
  });

  it('deploying a folder whose app.json is present but malformed', async () => {
    // even in a folder whose name is not an app name: the app.json error is the one reported
    const odd = join(tempDir(), 'Odd Name');
    mkdirSync(odd);
    writeFileSync(join(odd, 'app.json'), '{"name": ');
    await faztFails(['app', 'deploy', odd, '--node', t.url, '--token', admin], /^fazt: app\.json is not valid JSON/);
    const dir = join(tempDir(), 'broken');
    mkdirSync(dir);
    writeFileSync(join(dir, 'app.json'), '{"name": "broken",');
    writeFileSync(join(dir, 'index.html'), 'x');
    await faztFails(['app', 'deploy', dir, '--node', t.url, '--token', admin], /^fazt: app\.json is not valid JSON: .+Nothing was deployed\.$/);
    await faztFails(['app', 'deploy', dir, '--name', 'broken', '--node', t.url, '--token', admin], /^fazt: app\.json is not valid JSON/);
    expect(t.node.kernel.apps.lookupLive('broken')).toBeUndefined();
  });

  it('a deploy the node refuses mid-upload reports the node’s reason', async () => {
    // A node with a small upload limit answers 413 while the CLI is still streaming the zip: the CLI
    // must report that answer, not a broken connection.
    const small = await startTestNode({ limits: { maxUploadBytes: 256 * 1024 } });
    try {
      const big = appDir({ 'app.json': '{"name": "too-big"}', 'big.bin': randomish(3 * 1024 * 1024, 5) });
      await faztFails(
        ['app', 'deploy', big, '--node', small.url, '--token', createToken(small, 'deploy').token],
        /^fazt: The upload is larger than 256 KiB \(the limit\)\. Nothing was deployed\.$/,
      );
      expect(small.node.kernel.apps.list()).toEqual([]);
    } finally {
      await small.stop();
    }
  });

  it('backup to a file that exists, or with a deploy-scope token', async () => {
    const dir = tempDir();
    const existing = join(dir, 'exists.db');
    writeFileSync(existing, 'precious');
    await Promise.all([
      faztFails(['backup', existing, '--db', t.db, '--json'], /^fazt: .*exists\.db already exists; choose a new file name/),
      faztFails(['backup', join(dir, 'denied.db'), '--node', t.url, '--token', deployOnly], /^fazt: This needs a token with the "admin" scope; yours has "deploy"/),
    ]);
    expect(readFileSync(existing, 'utf8')).toBe('precious');
    expect(readdirSync(dir).sort()).toEqual(['exists.db']); // no partial backup left behind
  });
});

describe('afterwards', () => {
  it('the node logged no internal errors', () => {
    expect(internalErrors(t)).toEqual([]);
  });
});
