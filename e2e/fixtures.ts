/**
 * Shared helpers for the browser (Playwright) tests: a real Fazt node started as a child process
 * (`node bin/fazt.js start`) on a free 127.0.0.1 port with a fresh temp cartridge, the real CLI for
 * tokens and deploys, and a recorder that fails a test on any failed request.
 *
 * Nothing here stands in for a part of Fazt: every helper drives the real node and the real CLI.
 *
 *   import { test, expect, deployApp } from './fixtures.js';
 *   test('x', async ({ fazt, adminToken, page, requests }) => { ... });
 */
import { test as base, expect, type Page, type Request, type Response } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export { expect };

/** The repository root (bin/fazt.js lives there). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Gitignored scratch space of the e2e tests. */
export const E2E_CACHE = path.join(REPO_ROOT, 'e2e', '.cache');
export const SCREENSHOT_DIR = path.join(E2E_CACHE, 'screenshots');
export const LOG_DIR = path.join(E2E_CACHE, 'logs');
const FAZT_BIN = path.join(REPO_ROOT, 'bin', 'fazt.js');

// ---------------------------------------------------------------------------------------------
// Ports and processes

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Output of one CLI run. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/fazt.js ...args` from the repo root and collects its output. */
export async function runCli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FAZT_BIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, FAZT_NODE: '', FAZT_TOKEN: '', FAZT_DB: '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fazt ${args.join(' ')}: no exit after ${timeoutMs} ms\n${Buffer.concat(err).toString()}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The node

/** A Fazt node running as a child process. */
export interface FaztNode {
  port: number;
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  origin: string;
  /** Base domain given to `--domain` (apps are at `NAME.<domain>:PORT`). */
  domain: string;
  /** The cartridge file. */
  dbPath: string;
  /** Temp folder holding the cartridge (removed by stop()). */
  dir: string;
  /** File the node's stdout and stderr go to. */
  logFile: string;
  proc: ChildProcess;
  /** The last part of the node's output, for error messages. */
  logTail(chars?: number): string;
  /** SIGTERM, then SIGKILL after a grace period; removes the temp folder unless keepFiles. */
  stop(opts?: { keepFiles?: boolean }): Promise<void>;
}

export interface StartNodeOptions {
  /** Cartridge to use (default: a new one in a temp folder). */
  dbPath?: string;
  port?: number;
  domain?: string;
  /** More arguments for `fazt start`. */
  args?: string[];
  readyTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts `node bin/fazt.js start --port PORT --host 127.0.0.1 --db PATH --domain localhost` and
 * waits until `GET /api/health` answers 200 with JSON.
 */
export async function startNode(opts: StartNodeOptions = {}): Promise<FaztNode> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-e2e-'));
  const dbPath = opts.dbPath ?? path.join(dir, 'cartridge.db');
  const port = opts.port ?? (await freePort());
  const domain = opts.domain ?? 'localhost';
  const origin = `http://127.0.0.1:${port}`;
  fs.mkdirSync(LOG_DIR, { recursive: true });
  const logFile = path.join(LOG_DIR, `node-${port}-${Date.now()}.log`);
  const logFd = fs.openSync(logFile, 'w');

  // the lean flags given: bin/fazt.js runs the node in this process (no supervising parent)
  const args = ['--max-semi-space-size=1', FAZT_BIN, 'start', '--port', String(port), '--host', '127.0.0.1', '--db', dbPath, '--domain', domain, ...(opts.args ?? [])];
  const proc = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, FAZT_NODE: '', FAZT_TOKEN: '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (d: Buffer) => {
    fs.writeSync(logFd, d);
    tail = (tail + d.toString()).slice(-64 * 1024);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    proc.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  proc.on('close', () => {
    try {
      fs.closeSync(logFd);
    } catch {}
  });

  const logTail = (chars = 4000) => tail.slice(-chars);
  const stop = async ({ keepFiles = false }: { keepFiles?: boolean } = {}) => {
    if (!exited) {
      proc.kill('SIGTERM');
      const grace = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000));
      if ((await Promise.race([exitPromise, grace])) === 'timeout') {
        proc.kill('SIGKILL');
        await exitPromise;
      }
    }
    if (!keepFiles) fs.rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  let lastError = '';
  for (;;) {
    if (exited) {
      const e = exited as { code: number | null; signal: NodeJS.Signals | null };
      throw new Error(`fazt start exited (code ${e.code}, signal ${e.signal}) before it was ready:\n${logTail()}`);
    }
    try {
      const res = await fetch(`${origin}/api/health`, { signal: AbortSignal.timeout(2_000) });
      const body = await res.text();
      if (res.status === 200) {
        JSON.parse(body);
        break;
      }
      lastError = `HTTP ${res.status}: ${body.slice(0, 200)}`;
    } catch (e) {
      lastError = String(e);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`fazt start: /api/health not ready after ${opts.readyTimeoutMs ?? 60_000} ms (${lastError}):\n${logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }

  return { port, origin, domain, dbPath, dir, logFile, proc, logTail, stop };
}

/** `fazt token create --db CARTRIDGE --scope SCOPE --json` → the token. Works while the node runs. */
export async function createToken(node: Pick<FaztNode, 'dbPath'>, scope: 'admin' | 'deploy' = 'admin'): Promise<string> {
  const r = await runCli(['token', 'create', '--db', node.dbPath, '--scope', scope, '--name', `e2e-${scope}`, '--json']);
  if (r.code !== 0) throw new Error(`fazt token create failed (exit ${r.code}): ${r.stderr.trim()}`);
  const j = JSON.parse(r.stdout) as { token?: unknown };
  if (typeof j.token !== 'string' || !j.token) throw new Error(`fazt token create printed no token: ${r.stdout}`);
  return j.token;
}

/** What `fazt app deploy --json` prints. */
export interface DeployResult {
  id: string;
  name: string;
  version: number | string;
  urls: string[];
  [k: string]: unknown;
}

/**
 * `fazt app deploy DIR --name NAME --node ORIGIN --token TOKEN --json`. Throws with the CLI's own
 * one-line reason when it exits non-zero.
 */
export async function deployApp(node: Pick<FaztNode, 'origin'>, token: string, dir: string, name: string, opts: { timeoutMs?: number } = {}): Promise<DeployResult> {
  const r = await runCli(['app', 'deploy', dir, '--name', name, '--node', node.origin, '--token', token, '--json'], {
    timeoutMs: opts.timeoutMs ?? 15 * 60_000,
  });
  if (r.code !== 0) throw new Error(`fazt app deploy ${name} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  const j = JSON.parse(r.stdout) as DeployResult;
  if (j.name !== name) throw new Error(`fazt app deploy ${name}: unexpected output ${r.stdout}`);
  return j;
}

/**
 * Writes a minimal `app.json` into a site folder that has none (the site's own files stay as they
 * are). Returns true when it wrote one.
 */
export function ensureAppJson(dir: string, name: string, title: string, extra: Record<string, unknown> = {}): boolean {
  const file = path.join(dir, 'app.json');
  if (fs.existsSync(file)) return false;
  fs.writeFileSync(file, `${JSON.stringify({ name, title, spa: false, ...extra }, null, 2)}\n`);
  return true;
}

/** The two ways an app is reached: under the node's `/a/NAME/` path, and on `NAME.<domain>`. */
export type UrlForm = 'path' | 'host';

/** Base URL of an app, with a trailing slash. */
export function appBase(node: Pick<FaztNode, 'origin' | 'port' | 'domain'>, name: string, form: UrlForm): string {
  return form === 'path' ? `${node.origin}/a/${name}/` : `http://${name}.${node.domain}:${node.port}/`;
}

/** Encodes a site-relative file path for a URL, segment by segment (spaces, #, ? ...). */
export function encodePath(rel: string): string {
  return rel.split('/').map(encodeURIComponent).join('/');
}

// ---------------------------------------------------------------------------------------------
// Site files

/** Every file under `dir` (relative, `/`-separated), sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else if (e.isFile()) out.push(r);
    }
  };
  walk(dir, '');
  return out.sort();
}

export function sha256(data: Buffer | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(file: string): string {
  return sha256(fs.readFileSync(file));
}

/**
 * GETs every file of a deployed site (with `concurrency` requests in flight) and compares its
 * bytes with the file on disk. Returns a list of problems (empty when all match).
 */
export async function compareServedFiles(base: string, dir: string, files: string[], concurrency = 8): Promise<string[]> {
  const problems: string[] = [];
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= files.length) return;
      const rel = files[i]!;
      const url = base + encodePath(rel);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
        const body = Buffer.from(await res.arrayBuffer());
        if (res.status !== 200) problems.push(`${rel}: HTTP ${res.status}`);
        else {
          const want = fs.readFileSync(path.join(dir, rel));
          if (body.length !== want.length || !body.equals(want)) problems.push(`${rel}: served ${body.length} bytes that differ from the ${want.length} bytes on disk`);
        }
      } catch (e) {
        problems.push(`${rel}: ${String(e)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Browser: request recording and screenshots

/** One response the page got. */
export interface SeenResponse {
  url: string;
  method: string;
  status: number;
  resourceType: string;
  requestRange?: string;
  contentRange?: string;
  contentType?: string;
}

/**
 * Records every request of a page (its frames included): failed requests and responses with
 * status >= 400 are failures. A request the browser itself cancels after the server answered
 * (a media element dropping a Range response when it seeks) is not counted when
 * `allowCancelledMedia` is on; it is still listed in `cancelled`.
 */
export class RequestLog {
  readonly failures: string[] = [];
  readonly cancelled: string[] = [];
  readonly responses: SeenResponse[] = [];
  /** Uncaught exceptions and console errors of the page: not failures by themselves, but shown with them. */
  readonly pageErrors: string[] = [];
  requestCount = 0;
  allowCancelledMedia = false;
  private pending: Promise<void>[] = [];

  constructor(readonly page: Page) {
    page.on('request', () => {
      this.requestCount++;
    });
    page.on('response', (r: Response) => this.onResponse(r));
    page.on('requestfailed', (r: Request) => {
      this.pending.push(this.onFailed(r));
    });
    page.on('pageerror', (e) => this.pageErrors.push(`uncaught: ${String(e).slice(0, 300)}`));
    page.on('console', (m) => {
      if (m.type() === 'error') this.pageErrors.push(`console.error: ${m.text().slice(0, 300)}`);
    });
  }

  private onResponse(r: Response) {
    const req = r.request();
    const h = r.headers();
    this.responses.push({
      url: r.url(),
      method: req.method(),
      status: r.status(),
      resourceType: req.resourceType(),
      requestRange: req.headers()['range'],
      contentRange: h['content-range'],
      contentType: h['content-type'],
    });
    if (r.status() >= 400) this.failures.push(`HTTP ${r.status()} ${req.method()} ${r.url()}`);
  }

  private async onFailed(r: Request) {
    const err = r.failure()?.errorText ?? 'unknown error';
    const resp = await r.response().catch(() => null);
    const line = `${err} ${r.method()} ${r.url()} [${r.resourceType()}${resp ? `, got HTTP ${resp.status()}` : ', no response'}]`;
    // Chromium aborts media range requests when the player seeks, sometimes before the response
    // headers arrived (busy machine): that is the player's choice, not a server failure. Server
    // errors still show as HTTP ≥ 400 (onResponse) or as other net errors.
    const cancelledMedia = r.resourceType() === 'media' && err.includes('ERR_ABORTED') && (!resp || resp.status() === 206 || resp.status() === 200);
    if (cancelledMedia) {
      this.cancelled.push(line);
      if (this.allowCancelledMedia) return;
    }
    this.failures.push(`request failed: ${line}`);
  }

  /** Waits for failure details still being collected. */
  async settle(): Promise<void> {
    while (this.pending.length) await Promise.all(this.pending.splice(0));
  }

  /** Asserts that no request failed so far. */
  async expectNoFailures(what = 'the page'): Promise<void> {
    await this.settle();
    const errors = this.pageErrors.length ? `; page errors: ${JSON.stringify(this.pageErrors.slice(0, 10))}` : '';
    expect(this.failures, `failed requests while loading ${what}${errors}`).toEqual([]);
  }

  /** Responses whose URL starts with `prefix`. */
  under(prefix: string): SeenResponse[] {
    return this.responses.filter((r) => r.url.startsWith(prefix));
  }
}

/** Takes a full-viewport screenshot into e2e/.cache/screenshots/NAME.png; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name.replace(/[^a-zA-Z0-9._-]+/g, '_')}.png`);
  await page.screenshot({ path: file });
  return file;
}

// ---------------------------------------------------------------------------------------------
// Fixtures

export interface E2eWorkerFixtures {
  /** A fresh node (temp cartridge, free port) shared by the tests of one worker. */
  fazt: FaztNode;
  /** An admin token for `fazt`, made with the CLI. */
  adminToken: string;
}

export interface E2eTestFixtures {
  /** Records the page's requests; the test fails at the end if any failed. */
  requests: RequestLog;
}

export const test = base.extend<E2eTestFixtures, E2eWorkerFixtures>({
  fazt: [
    async ({}, use) => {
      const node = await startNode();
      try {
        await use(node);
      } finally {
        await node.stop();
      }
    },
    { scope: 'worker', timeout: 120_000 },
  ],
  adminToken: [
    async ({ fazt }, use) => {
      await use(await createToken(fazt, 'admin'));
    },
    { scope: 'worker', timeout: 60_000 },
  ],
  requests: async ({ page }, use) => {
    const log = new RequestLog(page);
    await use(log);
    await log.expectNoFailures();
  },
});
