import { Command, Option } from 'commander';
import { existsSync, statSync, createWriteStream, renameSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FaztError, formatBytes, isFaztError } from '../shared/index.js';
import { backupCartridge, openCartridgeFile } from './cartridge-file.js';
import { callJson, connect, readConfig, readJson, writeConfig, type NodeClient, type TargetOptions } from './client.js';
import { FAZT_VERSION } from './kernel-file.js';
import { defaultDbPath } from './paths.js';
import { jsonLogger } from './ports.js';
import { listDir, zipStream } from './zip-dir.js';

/**
 * The `fazt` command line. Every command prints human text, or JSON with `--json`; exit status 0 on
 * success, 1 with a one-line reason on stderr otherwise. See docs/cli.md.
 */

interface Common extends TargetOptions {
  json?: boolean;
}

const out = (s: string) => process.stdout.write(s + '\n');

function emit(o: Common, data: unknown, human: () => string): void {
  out(o.json ? JSON.stringify(data, null, 2) : human());
}

async function withClient<T>(o: TargetOptions, fn: (c: NodeClient) => Promise<T>): Promise<T> {
  const client = connect(o);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

function targetOptions(cmd: Command): Command {
  return cmd
    .option('--node <url|name>', 'node URL or named remote (env FAZT_NODE)')
    .option('--token <token>', 'API token for --node (env FAZT_TOKEN)')
    .option('--db <path>', 'work directly on this cartridge file (env FAZT_DB)')
    .option('--json', 'machine-readable JSON output');
}

const enc = encodeURIComponent;

/** A one-line progress bar on stderr (TTY only), redrawn at most 10 times a second. */
function progress(label: string, total: number, enabled: boolean) {
  let last = 0;
  const draw = (done: number, extra: string, force = false) => {
    if (!enabled) return;
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    const width = 24;
    const fill = Math.round((pct / 100) * width);
    process.stderr.write(`\r${label} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${String(pct).padStart(3)}% ${formatBytes(done)} / ${formatBytes(total)} ${extra}\x1b[K`);
  };
  return { draw, end: () => enabled && process.stderr.write('\n') };
}

/** Builds the program. Exported for tests. */
export function buildProgram(): Command {
  const program = new Command('fazt')
    .description('Fazt: a personal cloud in one SQLite cartridge')
    .version(FAZT_VERSION)
    // Program options only before the subcommand: otherwise the program's `--version` swallows
    // `fazt app rollback APP --version N` and `fazt app files APP --version N` (they printed 0.1.0).
    .enablePositionalOptions()
    .showHelpAfterError('(run with --help for usage)');
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('start')
    .description('run the node: serve the dashboard, the admin API and the apps')
    .addOption(new Option('--port <port>', 'TCP port').env('FAZT_PORT').default('8080'))
    .addOption(new Option('--host <host>', 'interface to bind').env('FAZT_HOST').default('0.0.0.0'))
    .addOption(new Option('--db <path>', 'cartridge file').env('FAZT_DB'))
    .addOption(new Option('--domain <domain>', 'base domain for app subdomains').env('FAZT_DOMAIN').default('localhost'))
    .option('--max-upload <bytes>', 'largest deploy upload, bytes')
    .option('--no-example', 'do not deploy the example app into a new cartridge')
    .action(async (o: { port: string; host: string; db?: string; domain: string; maxUpload?: string; example: boolean }) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new FaztError('BAD_REQUEST', `--port must be 0–65535, not "${o.port}".`);
      const db = resolve(o.db ?? defaultDbPath());
      const fresh = !existsSync(db);
      const started = Date.now();
      const { startNode } = await import('./node.js');
      const node = await startNode({
        db,
        port,
        host: o.host,
        domain: o.domain,
        seedExample: o.example,
        limits: o.maxUpload ? { maxUploadBytes: Number(o.maxUpload) } : undefined,
      });
      const k = node.kernel;
      const lines = [
        `Fazt ${FAZT_VERSION} — node ${k.cartridge.nodeId}`,
        `  cartridge  ${db}${fresh ? ' (new)' : ''}`,
        `  dashboard  ${node.url}/`,
      ];
      for (const app of k.apps.list()) lines.push(`  app        ${app.name}: http://${app.name}.${k.domain}:${node.port}/  ${node.url}/a/${app.name}/`);
      if (!k.auth.hasOwner()) {
        lines.push(`  setup      open ${node.url}/ to create the owner account`);
        lines.push(`             (from another machine, use the setup code ${k.auth.setupCode()})`);
      }
      lines.push(`  ready in ${Date.now() - started} ms. Ctrl-C stops.`);
      process.stdout.write(lines.join('\n') + '\n');
      const stop = async (signal: string) => {
        jsonLogger().info('stopping', { signal });
        await node.stop();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });

  const token = program.command('token').description('API tokens');
  targetOptions(
    token
      .command('create')
      .description('create an API token (prints it once)')
      .addOption(new Option('--scope <scope>', 'what the token may do').choices(['deploy', 'admin']).default('deploy'))
      .option('--name <name>', 'a label for the token', 'cli'),
  ).action(async (o: Common & { scope: string; name: string }) =>
    withClient(o, async (c) => {
      const t = await callJson<{ token: string; id: string; scope: string; name: string }>(c, 'POST', '/api/tokens', { scope: o.scope, name: o.name });
      emit(o, t, () => t.token);
    }),
  );
  targetOptions(token.command('list').description('list API tokens')).action(async (o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ tokens: { id: string; name: string; scope: string; createdAt: number }[] }>(c, 'GET', '/api/tokens');
      emit(o, r, () => r.tokens.map((t) => `${t.id}  ${t.scope.padEnd(6)}  ${t.name}  ${new Date(t.createdAt).toISOString()}`).join('\n') || '(no tokens)');
    }),
  );
  targetOptions(token.command('revoke').description('revoke an API token').argument('<id>')).action(async (id: string, o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson(c, 'DELETE', `/api/tokens/${enc(id)}`);
      emit(o, r, () => `Revoked ${id}`);
    }),
  );

  const app = program.command('app').description('deploy and manage apps');
  targetOptions(
    app
      .command('deploy')
      .description('deploy a folder as a new version of an app')
      .argument('<dir>', 'folder with app.json')
      .option('--name <name>', 'app name (default: "name" in app.json)'),
  ).action(async (dir: string, o: Common & { name?: string }) => {
    const abs = resolve(dir);
    if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new FaztError('BAD_REQUEST', `${dir} is not a folder.`);
    const files = listDir(abs);
    if (!files.some((f) => f.path === 'app.json')) {
      throw new FaztError('MISSING_MANIFEST', `${dir} has no app.json. Create one, e.g. {"name": "my-site", "title": "My site"}.`);
    }
    const total = files.reduce((s, f) => s + f.size, 0);
    await withClient(o, async (c) => {
      const bar = progress('Uploading', total, !o.json && process.stderr.isTTY === true);
      const body = zipStream(files, (bytes, done) => bar.draw(bytes, `${done}/${files.length} files`));
      const qs = o.name ? `?name=${enc(o.name)}` : '';
      const res = await c.call('POST', `/api/apps${qs}`, { body, headers: { 'content-type': 'application/zip' } });
      bar.draw(total, `${files.length}/${files.length} files`, true);
      bar.end();
      const r = await readJson<{ id: string; name: string; version: number; files: number; bytes: number; urls: string[]; warnings: string[]; permissions: string[] }>(res);
      for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
      emit(o, r, () =>
        [
          `Deployed ${r.name} version ${r.version} (${r.files} files, ${formatBytes(r.bytes)})`,
          ...(r.permissions.length ? [`  permissions requested: ${r.permissions.join(', ')}`] : []),
          ...r.urls.map((u) => `  ${u}`),
        ].join('\n'),
      );
    });
  });
  targetOptions(app.command('list').description('list apps')).action(async (o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ apps: { name: string; title: string; currentVersion: number; id: string; urls: string[] }[] }>(c, 'GET', '/api/apps');
      emit(o, r, () => r.apps.map((a) => `${a.name.padEnd(24)} v${String(a.currentVersion).padEnd(4)} ${a.title}`).join('\n') || '(no apps)');
    }),
  );
  targetOptions(app.command('info').description('show an app').argument('<app>')).action(async (name: string, o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ id: string; name: string; title: string; currentVersion: number; aliases: string[]; files: number; bytes: number; versions: number; urls: string[] }>(
        c,
        'GET',
        `/api/apps/${enc(name)}`,
      );
      emit(o, r, () =>
        [
          `${r.title} (${r.name})`,
          `  id        ${r.id}`,
          `  version   ${r.currentVersion} of ${r.versions}`,
          `  files     ${r.files} (${formatBytes(r.bytes)})`,
          `  aliases   ${r.aliases.join(', ')}`,
          ...r.urls.map((u) => `  url       ${u}`),
        ].join('\n'),
      );
    }),
  );
  targetOptions(app.command('files').description("list a version's files").argument('<app>').option('--version <n>', 'version (default: live)')).action(
    async (name: string, o: Common & { version?: string }) =>
      withClient(o, async (c) => {
        const r = await callJson<{ version: number; files: { path: string; size: number; hash: string }[] }>(
          c,
          'GET',
          `/api/apps/${enc(name)}/files${o.version ? `?version=${enc(o.version)}` : ''}`,
        );
        emit(o, r, () => r.files.map((f) => `${formatBytes(f.size).padStart(10)}  ${f.hash.slice(0, 12)}  ${f.path}`).join('\n'));
      }),
  );
  targetOptions(app.command('versions').description('list versions').argument('<app>')).action(async (name: string, o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ versions: { version: number; createdAt: number; fileCount: number; totalBytes: number; current: boolean }[] }>(
        c,
        'GET',
        `/api/apps/${enc(name)}/versions`,
      );
      emit(o, r, () =>
        r.versions
          .map((v) => `${v.current ? '*' : ' '} v${String(v.version).padEnd(4)} ${new Date(v.createdAt).toISOString()}  ${v.fileCount} files  ${formatBytes(v.totalBytes)}`)
          .join('\n'),
      );
    }),
  );
  targetOptions(app.command('rollback').description('make an earlier version live').argument('<app>').option('--version <n>', 'target version (default: the previous one)')).action(
    async (name: string, o: Common & { version?: string }) =>
      withClient(o, async (c) => {
        const r = await callJson<{ from: number; to: number }>(c, 'POST', `/api/apps/${enc(name)}/rollback`, o.version ? { version: Number(o.version) } : {});
        emit(o, r, () => `${name}: version ${r.to} is live (was ${r.from})`);
      }),
  );
  targetOptions(app.command('remove').description('remove an app and its files').argument('<app>')).action(async (name: string, o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson(c, 'DELETE', `/api/apps/${enc(name)}`);
      emit(o, r, () => `Removed ${name}`);
    }),
  );
  targetOptions(app.command('rename').description('rename an app (files and data stay)').argument('<app>').argument('<new-name>').option('--keep-alias', 'keep the old name as an alias')).action(
    async (name: string, newName: string, o: Common & { keepAlias?: boolean }) =>
      withClient(o, async (c) => {
        const r = await callJson<{ app: { name: string; urls: string[] } }>(c, 'POST', `/api/apps/${enc(name)}/rename`, { name: newName, keepAlias: !!o.keepAlias });
        emit(o, r, () => [`Renamed ${name} → ${r.app.name}`, ...r.app.urls.map((u) => `  ${u}`)].join('\n'));
      }),
  );
  const alias = app.command('alias').description('extra names (subdomains, paths) for an app');
  targetOptions(alias.command('add').argument('<app>').argument('<alias>')).action(async (name: string, a: string, o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ app: { aliases: string[] } }>(c, 'POST', `/api/apps/${enc(name)}/aliases`, { alias: a });
      emit(o, r, () => `${name} aliases: ${r.app.aliases.join(', ')}`);
    }),
  );
  targetOptions(alias.command('remove').argument('<app>').argument('<alias>')).action(async (name: string, a: string, o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ app: { aliases: string[] } }>(c, 'DELETE', `/api/apps/${enc(name)}/aliases/${enc(a)}`);
      emit(o, r, () => `${name} aliases: ${r.app.aliases.join(', ')}`);
    }),
  );

  targetOptions(program.command('backup').description('write a consistent copy of the cartridge (works while the node serves)').argument('<out.db>')).action(
    async (outPath: string, o: Common) => {
      const target = resolve(outPath);
      if (existsSync(target)) throw new FaztError('CONFLICT', `${outPath} already exists; choose a new file name (backups never overwrite).`);
      const node = o.node ?? process.env.FAZT_NODE;
      let bytes: number;
      if (node && !o.db) {
        const client = connect(o);
        const res = await client.call('GET', '/api/backup');
        if (!res.ok || !res.body) await readJson(res);
        const tmp = target + '.partial';
        try {
          await pipeline(Readable.fromWeb(res.body as never), createWriteStream(tmp, { flags: 'wx' }));
          renameSync(tmp, target);
        } catch (e) {
          if (existsSync(tmp)) unlinkSync(tmp);
          throw e;
        }
        bytes = statSync(target).size;
      } else {
        const file = openCartridgeFile(o.db ?? defaultDbPath(), { mustExist: true });
        try {
          bytes = (await backupCartridge(file.db, target)).bytes;
        } finally {
          file.db.close();
        }
      }
      emit(o, { path: target, bytes }, () => `Backup written: ${target} (${formatBytes(bytes)})`);
    },
  );

  const remote = program.command('remote').description('named nodes for --node');
  remote
    .command('add')
    .argument('<name>')
    .argument('<url>')
    .option('--token <token>', 'API token for this node')
    .action((name: string, url: string, o: { token?: string }) => {
      if (!/^https?:\/\//.test(url)) throw new FaztError('BAD_REQUEST', `"${url}" is not an http(s) URL.`);
      const c = readConfig();
      c.remotes[name] = { url, token: o.token };
      writeConfig(c);
      out(`Added remote ${name} → ${url}`);
    });
  remote
    .command('list')
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) => {
      const c = readConfig();
      const list = Object.entries(c.remotes).map(([name, r]) => ({ name, url: r.url, hasToken: !!r.token }));
      emit(o, { remotes: list }, () => list.map((r) => `${r.name}  ${r.url}${r.hasToken ? '' : '  (no token)'}`).join('\n') || '(no remotes)');
    });
  remote
    .command('remove')
    .argument('<name>')
    .action((name: string) => {
      const c = readConfig();
      if (!c.remotes[name]) throw new FaztError('NOT_FOUND', `No remote named "${name}".`);
      delete c.remotes[name];
      writeConfig(c);
      out(`Removed remote ${name}`);
    });

  const owner = program.command('owner').description('the owner account');
  owner
    .command('password')
    .description('set the owner password on a cartridge file (reads it from FAZT_PASSWORD or stdin)')
    .option('--db <path>', 'cartridge file (env FAZT_DB)')
    .action(async (o: { db?: string }) => {
      let pw = process.env.FAZT_PASSWORD;
      if (!pw) {
        const chunks: Buffer[] = [];
        for await (const ch of process.stdin) chunks.push(ch as Buffer);
        pw = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
      }
      const file = openCartridgeFile(o.db ?? defaultDbPath(), { mustExist: true });
      try {
        const { kernelForFile } = await import('./kernel-file.js');
        const k = kernelForFile(file, { logger: jsonLogger(process.stderr, 'warn') });
        if (k.auth.hasOwner()) await k.auth.setOwnerPassword(pw);
        else await k.auth.setupOwner(pw);
        out('Owner password set.');
      } finally {
        file.db.close();
      }
    });
  return program;
}

/** Runs the CLI; prints `fazt: <reason>` and exits 1 on failure. */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    const msg = isFaztError(e) ? e.message : (e as Error)?.message ?? String(e);
    process.stderr.write(`fazt: ${msg.split('\n')[0]}\n`);
    process.exitCode = 1;
  }
}
