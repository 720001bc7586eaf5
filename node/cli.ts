import bytes from 'bytes';
import { Command, Option } from 'commander';
import { existsSync, statSync, createWriteStream, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FaztError, formatBytes, isFaztError, TOKEN_SCOPES } from '../shared/index.js';
import { assertAppName } from '../shared/apps/index.js';
import { chirpMessageText, invitationChirpPayload, INVITATION_CHIRP_PROTOCOL } from '../shared/mesh/index.js';
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

/** Writes an invitation as Chirp sound (its binary form, docs/mesh.md "Sound") to a 48 kHz WAV file. */
async function writeInvitationWav(code: string, path: string): Promise<void> {
  const { loadChirp, writeChirpWav } = await import('./chirp-file.js');
  writeChirpWav(path, await (await loadChirp()).encode(invitationChirpPayload(code), { protocol: INVITATION_CHIRP_PROTOCOL }));
}

/** The invitation code as a QR code for a terminal (half-block characters; alphanumeric mode keeps it small). */
async function terminalQr(code: string): Promise<string> {
  const QRCode = (await import('qrcode')).default;
  return QRCode.toString([{ data: code, mode: 'alphanumeric' }], { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
}

/** The permission state the API reports. */
interface PermissionStatus {
  requested: string[];
  granted: string[];
  pending: string[];
  dormant: string[];
}

/** A log entry as the API sends it. */
interface LogLine {
  id: number;
  ts: number;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  data?: unknown;
  source?: string;
}

/** A job as the API sends it. */
interface JobLine {
  id: string;
  kind: string;
  name: string | null;
  cron: string | null;
  timezone: string | null;
  runAt: number;
  status: string;
  attempts: number;
  lastError: string | null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * `name` and `permissions` of a local app.json, as far as they can be read (the node validates it);
 * `readable` is false when it is not a JSON object (the node then refuses it with its own error).
 */
function readLocalManifest(path: string): { name?: string; permissions: string[]; readable: boolean } {
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown; permissions?: unknown };
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return { permissions: [], readable: false };
    return {
      name: typeof m.name === 'string' ? m.name : undefined,
      permissions: Array.isArray(m.permissions) ? [...new Set(m.permissions.filter((p): p is string => typeof p === 'string'))] : [],
      readable: true,
    };
  } catch {
    return { permissions: [], readable: false };
  }
}

/** Every permission granted to an app, or none when the app does not exist yet. */
async function grantedTo(c: NodeClient, name: string): Promise<string[]> {
  const res = await c.call('GET', `/api/apps/${enc(name)}/permissions`);
  if (res.status === 404) {
    await res.body?.cancel();
    return [];
  }
  const r = await readJson<PermissionStatus>(res);
  return [...r.granted, ...r.dormant];
}

/** Asks a yes/no question on the terminal (stderr); only "y" or "yes" is yes. */
async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** Quotes a word for a POSIX shell when it holds anything but safe characters. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_.,:@%+=/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The `fazt app grant` command for these permissions, with the target the user gave (never the token). */
function grantCommand(app: string, perms: string[], o: TargetOptions): string {
  const target = o.db ? ` --db ${shellWord(o.db)}` : o.node ? ` --node ${shellWord(o.node)}` : '';
  return `fazt app grant ${shellWord(app)} ${perms.map(shellWord).join(' ')}${target}`;
}

/** Human lines for `fazt app permissions`. */
function permissionLines(app: string, p: PermissionStatus, o: TargetOptions): string[] {
  const lines = p.requested.length ? [`${app} requests ${p.requested.join(', ')}`] : [`${app} requests no permissions`];
  if (p.requested.length) lines.push(`  granted  ${p.granted.join(', ') || '-'}`, `  pending  ${p.pending.join(', ') || '-'}`);
  if (p.dormant.length) lines.push(`  dormant  ${p.dormant.join(', ')} (granted, not requested by the live version)`);
  if (p.pending.length) lines.push(`Grant with: ${grantCommand(app, p.pending, o)}`);
  return lines;
}

/** `2025-01-31 14:05` (UTC, minutes), or with seconds. */
function isoMinute(ms: number, seconds = false): string {
  return new Date(ms).toISOString().slice(0, seconds ? 19 : 16).replace('T', ' ');
}

const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

/** Left-aligned columns, two spaces apart (last column unpadded). */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

const LEVEL_COLOUR: Record<LogLine['level'], string> = { debug: '90', info: '36', warn: '33', error: '31' };

/** `HH:MM:SS.mmm LEVEL source  message {data}` in local time; continuation lines indented. */
function formatLogLine(e: LogLine, colour: boolean): string {
  const d = new Date(e.ts);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const time = `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
  const paint = (code: string, s: string) => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const nl = e.message.indexOf('\n');
  const [first, rest] = nl < 0 ? [e.message, ''] : [e.message.slice(0, nl), e.message.slice(nl)];
  // data goes on the first line, before a stack trace or other continuation lines
  const message = (first + (e.data !== undefined ? ' ' + paint('2', JSON.stringify(e.data)) : '') + rest).replace(/\r?\n/g, '\n' + ' '.repeat(19));
  const level = e.level.toUpperCase().padEnd(5);
  return `${paint('2', time)} ${paint(LEVEL_COLOUR[e.level] ?? '0', level)} ${e.source ? paint('2', e.source) + '  ' : ''}${message}`;
}

/** Reads a secret's value: hidden from a terminal, else all of stdin minus one trailing newline. */
async function readSecretValue(key: string): Promise<string> {
  if (process.stdin.isTTY) return readHidden(`Value of ${key} (hidden): `);
  const chunks: Buffer[] = [];
  for await (const ch of process.stdin) chunks.push(ch as Buffer);
  const v = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (v === '') throw new FaztError('BAD_REQUEST', `No value for ${key} on stdin; pipe it in (e.g. \`pass show x | fazt app secret set APP ${key}\`) or pass it as an argument.`);
  return v;
}

/** Reads one line from the terminal without echoing it. */
function readHidden(prompt: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const stdin = process.stdin;
    let value = '';
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolvePromise(value);
    };
    const onData = (s: string) => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish(value === '' ? new FaztError('BAD_REQUEST', 'Empty value; nothing was set.') : undefined);
        if (ch === '\u0003') return finish(new FaztError('BAD_REQUEST', 'Cancelled; nothing was set.'));
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else value += ch;
      }
    };
    process.stderr.write(prompt);
    stdin.setEncoding('utf8');
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** Parses a `text/event-stream` body (WHATWG HTML §9.2) into events with their `id` and joined `data`. */
async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ id?: string; data: string }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let id: string | undefined;
  let data: string[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        if (line === '') {
          if (data.length) yield { id, data: data.join('\n') };
          data = [];
          id = undefined;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const v = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = v;
        else if (field === 'data') data.push(v);
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** `--trusted-proxy` values (repeated, comma-separated or from FAZT_TRUSTED_PROXY) as one list. */
function trustedProxyList(v: string[] | string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const list = (Array.isArray(v) ? v : [v]).flatMap((x) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '');
  for (const a of list) {
    if (!/^[0-9a-fA-F:.]+$/.test(a)) throw new FaztError('BAD_REQUEST', `--trusted-proxy takes IP addresses (e.g. 127.0.0.1), not "${a}".`);
  }
  return list;
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
    .option('--no-example', 'do not deploy the example apps (hello, notes) into a new cartridge')
    .addOption(new Option('--trusted-proxy <addr...>', 'believe X-Forwarded-For from this reverse proxy address (repeatable, or comma-separated)').env('FAZT_TRUSTED_PROXY'))
    .action(async (o: { port: string; host: string; db?: string; domain: string; maxUpload?: string; example: boolean; trustedProxy?: string[] | string }) => {
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
        trustedProxies: trustedProxyList(o.trustedProxy),
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
      // before saying ready (stdout to a pipe is synchronous: a supervisor may signal at once)
      const stop = async (signal: string) => {
        jsonLogger().info('stopping', { signal });
        await node.stop();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
      process.stdout.write(lines.join('\n') + '\n');
      // the start-up quick_check runs on a worker thread while the node serves
      void node.integrity.then((s) => {
        if (s.state === 'damaged') {
          process.stdout.write(`  WARNING    the cartridge is damaged (quick_check: ${s.problems[0]?.split('\n').at(-1) ?? '?'}); apps or data may be missing.\n             Run \`fazt doctor --db ${db}\` and restore a backup.\n`);
        } else if (s.state === 'failed') {
          process.stdout.write(`  WARNING    the cartridge could not be checked (${s.error}). Run \`fazt doctor --db ${db}\`.\n`);
        }
      });
    });

  const token = program.command('token').description('API tokens');
  targetOptions(
    token
      .command('create')
      .description('create an API token (prints it once)')
      .addOption(new Option('--scope <scope>', 'what the token may do (mcp, mcp-read: only the MCP endpoint /mcp, docs/mcp.md)').choices([...TOKEN_SCOPES]).default('deploy'))
      .option('--name <name>', 'a label for the token', 'cli')
      .option('--app <name...>', 'limit a deploy token to these apps (repeatable)'),
  ).action(async (o: Common & { scope: string; name: string; app?: string[] }) =>
    withClient(o, async (c) => {
      const t = await callJson<{ token: string; id: string; scope: string; name: string }>(c, 'POST', '/api/tokens', {
        scope: o.scope,
        name: o.name,
        ...(o.app ? { apps: o.app.flatMap((a) => a.split(',')).map((a) => a.trim()).filter((a) => a !== '') } : {}),
      });
      emit(o, t, () => t.token);
    }),
  );
  targetOptions(token.command('list').description('list API tokens')).action(async (o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ tokens: { id: string; name: string; scope: string; createdAt: number; apps: string[] | null }[] }>(c, 'GET', '/api/tokens');
      emit(
        o,
        r,
        () =>
          r.tokens.map((t) => `${t.id}  ${t.scope.padEnd(8)}  ${t.name}  ${new Date(t.createdAt).toISOString()}${t.apps ? `  apps: ${t.apps.join(', ')}` : ''}`).join('\n') ||
          '(no tokens)',
      );
    }),
  );
  targetOptions(token.command('revoke').description('revoke an API token').argument('<id>')).action(async (id: string, o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson(c, 'DELETE', `/api/tokens/${enc(id)}`);
      emit(o, r, () => `Revoked ${id}`);
    }),
  );

  const mesh = program.command('mesh').description("pair this node with your other devices (docs/mesh.md)");
  targetOptions(mesh.command('id').description("this node's id, name and public key")).action(async (o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ nodeId: string; name: string; publicKey: string }>(c, 'GET', '/api/mesh');
      emit(o, r, () => `node id     ${r.nodeId}\nname        ${r.name}\npublic key  ${r.publicKey}`);
    }),
  );
  targetOptions(mesh.command('name').description('rename this node (its id never changes)').argument('<name>')).action(async (name: string, o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ nodeId: string; name: string }>(c, 'PUT', '/api/mesh', { name });
      emit(o, r, () => `This node is now called “${r.name}” (id ${r.nodeId}).`);
    }),
  );
  targetOptions(
    mesh
      .command('invite')
      .description('make a single-use invitation for another device (10 minutes)')
      .option('--qr', 'also print it as a QR code (to stderr with --json)')
      .option('--chirp <out.wav>', 'also write it as Chirp sound, a 48 kHz WAV file to play near the other device')
      .option('--direct', "carry a WebRTC offer in the code, for a device that cannot reach this node's address (it answers with an FZA… code: fazt mesh accept)"),
  ).action(async (o: Common & { qr?: boolean; chirp?: string; direct?: boolean }) =>
    withClient(o, async (c) => {
      const r = await callJson<{ code: string; words: string; expiresAt: number; addresses: { host: string; port: number }[] }>(c, 'POST', '/api/mesh/invitations', o.direct ? { direct: true } : {});
      if (o.chirp) await writeInvitationWav(r.code, o.chirp);
      if (o.qr) (o.json ? process.stderr : process.stdout).write(await terminalQr(r.code));
      if (o.direct) {
        return emit(o, { code: r.code, words: r.words, expiresAt: r.expiresAt }, () =>
          [
            `Direct invitation (single use, until ${new Date(r.expiresAt).toLocaleTimeString()}):`,
            `  code   ${r.code}`,
            'On the other device: fazt mesh join CODE (or scan it); it gives back an answer code.',
            'Then here: fazt mesh accept FZA…',
          ].join('\n'),
        );
      }
      emit(o, { code: r.code, words: r.words, expiresAt: r.expiresAt }, () =>
        [
          `Invitation (single use, until ${new Date(r.expiresAt).toLocaleTimeString()}):`,
          `  code   ${r.code}`,
          `  words  ${r.words}`,
          ...(o.chirp ? [`  sound  ${o.chirp} (Chirp, 48 kHz WAV: play it near the other device)`] : []),
          r.addresses.length
            ? `  it names this node at ${r.addresses.map((a) => `${a.host}:${a.port}`).join(', ')}`
            : '  it names no address of this node: the other side gives --peer http://THIS-NODE:PORT',
          'On the other device: fazt mesh join CODE (or the 12 words in quotes, or --chirp RECORDING.wav).',
        ].join('\n'),
      );
    }),
  );
  targetOptions(
    mesh
      .command('join')
      .description("accept another node's invitation (a FZ1… code, the 12 words in quotes, or --chirp F.wav)")
      .argument('[invitation]')
      .option('--chirp <file.wav>', 'read the invitation from a recording of its Chirp sound')
      .option('--peer <url>', "the inviting node's URL, when the addresses in the invitation are not reachable"),
  ).action(async (given: string | undefined, o: Common & { peer?: string; chirp?: string }) => {
    if (given && o.chirp) throw new FaztError('INVALID_ARGUMENT', 'Give the invitation either as an argument or with --chirp, not both.');
    if (!given && !o.chirp) throw new FaztError('INVALID_ARGUMENT', 'Give the invitation: fazt mesh join FZ1… (or the 12 words in quotes, or --chirp RECORDING.wav).');
    const invitation = o.chirp ? await (await import('./chirp-file.js')).invitationFromWav(o.chirp) : given!;
    await withClient(o, async (c) => {
      const r = await callJson<{ peer: { nodeId: string; name: string } } | { answer: string; inviter: { nodeId: string }; expiresAt: number }>(c, 'POST', '/api/mesh/join', {
        invitation,
        peer: o.peer,
      });
      if ('answer' in r) {
        // a direct invitation: the inviter takes this answer, then both connect
        return emit(o, r, () =>
          [
            `Answer for node ${r.inviter.nodeId} (valid until ${new Date(r.expiresAt).toLocaleTimeString()}):`,
            `  ${r.answer}`,
            `On the inviting node: fazt mesh accept ${r.answer.slice(0, 12)}…  (the whole code). Then \`fazt mesh peers\` here shows it.`,
          ].join('\n'),
        );
      }
      emit(o, r, () => `Paired with “${r.peer.name}” (${r.peer.nodeId}).`);
    });
  });
  targetOptions(
    mesh
      .command('accept')
      .description('take the answer code (FZA…) a device gave for a direct invitation (or --chirp F.wav), and connect to it')
      .argument('[answer]')
      .option('--chirp <file.wav>', 'read the answer from a recording of the sound the joining device played'),
  ).action(async (given: string | undefined, o: Common & { chirp?: string }) => {
    if (given && o.chirp) throw new FaztError('INVALID_ARGUMENT', 'Give the answer either as an argument or with --chirp, not both.');
    if (!given && !o.chirp) throw new FaztError('INVALID_ARGUMENT', 'Give the answer: fazt mesh accept FZA… (or --chirp RECORDING.wav).');
    const answer = o.chirp ? await (await import('./chirp-file.js')).answerFromWav(o.chirp) : given!;
    await withClient(o, async (c) => {
      const r = await callJson<{ peer: { nodeId: string; name: string } }>(c, 'POST', '/api/mesh/invitations/answer', { answer });
      emit(o, r, () => `Paired and connected with “${r.peer.name}” (${r.peer.nodeId}).`);
    });
  });
  targetOptions(mesh.command('peers').description('the paired devices and whether they are connected')).action(async (o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ peers: { nodeId: string; name: string; connected: boolean; lastSeen: number | null }[] }>(c, 'GET', '/api/mesh/peers');
      const list = r.peers.map((p) => ({ nodeId: p.nodeId, name: p.name, connected: p.connected, lastSeen: p.lastSeen }));
      emit(o, list, () =>
        list.map((p) => `${p.nodeId}  ${p.connected ? 'connected   ' : 'not connected'}  ${p.name}${p.lastSeen ? `  (last seen ${new Date(p.lastSeen).toISOString()})` : ''}`).join('\n') ||
        '(no paired devices: pair one with `fazt mesh invite` here and `fazt mesh join` there)',
      );
    }),
  );
  targetOptions(mesh.command('unpair').description('forget a paired device (it is told, when connected)').argument('<nodeId>')).action(async (nodeId: string, o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson(c, 'DELETE', `/api/mesh/peers/${enc(nodeId)}`);
      emit(o, r, () => `Unpaired ${nodeId}.`);
    }),
  );

  // ---------------------------------------------------------------- sync (docs/sync-spec.md)
  type SyncStatusRow = { nodeId: string; connected: boolean; lastSyncAt: number | null; pendingOut: number; pendingIn: number; caughtUp?: boolean; stalled?: string };
  const syncLine = (p: SyncStatusRow) =>
    `${p.nodeId}  ${p.connected ? (p.caughtUp ? 'up to date  ' : 'syncing     ') : 'not connected'}  out ${p.pendingOut}  in ${p.pendingIn}  last sync ${p.lastSyncAt ? new Date(p.lastSyncAt).toISOString() : 'never'}${p.stalled ? `  (refused: ${p.stalled})` : ''}`;
  const syncRows = (list: SyncStatusRow[]) => list.map((p) => ({ nodeId: p.nodeId, connected: p.connected, lastSyncAt: p.lastSyncAt, pendingOut: p.pendingOut, pendingIn: p.pendingIn }));
  const sync = program.command('sync').description('cartridge sync with the paired devices (docs/sync-spec.md)');
  targetOptions(sync.command('status').description('per paired device: connected, last sync, changes pending each way')).action(async (o: Common) =>
    withClient(o, async (c) => {
      const list = await callJson<SyncStatusRow[]>(c, 'GET', '/api/sync/status');
      emit(o, syncRows(list), () => list.map(syncLine).join('\n') || '(no paired devices: `fazt mesh invite` pairs one)');
    }),
  );
  targetOptions(sync.command('now').description('catch up with every connected device now, and wait for it').option('--timeout <seconds>', 'give up after this long', '30')).action(
    async (o: Common & { timeout: string }) =>
      withClient(o, async (c) => {
        const secs = Number(o.timeout);
        if (!Number.isFinite(secs) || secs <= 0 || secs > 120) throw new FaztError('INVALID_ARGUMENT', '--timeout is a number of seconds from 1 to 120.');
        const r = await callJson<{ peers: { nodeId: string; ok: boolean }[]; status: SyncStatusRow[] }>(c, 'POST', '/api/sync/now', { timeoutMs: Math.round(secs * 1000) });
        emit(o, syncRows(r.status), () =>
          r.peers.length === 0
            ? 'No device is connected now; nothing to sync. (`fazt mesh peers` lists them.)'
            : r.peers.map((p) => `${p.nodeId}  ${p.ok ? 'caught up' : 'not finished in time'}`).join('\n'),
        );
        if (r.peers.some((p) => !p.ok)) process.exitCode = 1;
      }),
  );
  type HomeRow = { app: string; appId: string; writerId: string; self: boolean; nodeId: string | null; name: string | null };
  const homeLine = (h: HomeRow) => `${h.app}: cron jobs run on ${h.self ? `this node (${h.name ?? h.nodeId})` : h.nodeId ? `${h.name ?? 'a paired node'} (${h.nodeId})` : `a node no longer paired (writer ${h.writerId})`}`;
  targetOptions(
    sync
      .command('home')
      .description("show or move the node an app's cron jobs run on (S17)")
      .argument('<app>')
      .argument('[node]', 'a paired node id (`fazt mesh peers`) or "self"'),
  ).action(async (app: string, node: string | undefined, o: Common) =>
    withClient(o, async (c) => {
      const h = node === undefined ? await callJson<HomeRow>(c, 'GET', `/api/apps/${enc(app)}/home`) : await callJson<HomeRow>(c, 'PUT', `/api/apps/${enc(app)}/home`, { node });
      emit(o, h, () => (node === undefined ? homeLine(h) : `Moved. ${homeLine(h)}.`));
    }),
  );
  type ConflictRow = { id: string; app: string; appName: string | null; kind: string; key: string; winner: string | null; loser: string | null; at: number; resolution: string | null };
  const conflicts = program.command('conflicts').description('values that lost to a concurrent edit on another device (docs/sync-spec.md S13)');
  targetOptions(conflicts.command('list').description('open conflicts, newest first').option('--all', 'resolved ones too')).action(async (o: Common & { all?: boolean }) =>
    withClient(o, async (c) => {
      const list = await callJson<ConflictRow[]>(c, 'GET', `/api/conflicts${o.all ? '?all=1' : ''}`);
      emit(
        o,
        list.map((x) => ({ id: x.id, app: x.app, kind: x.kind, key: x.key, winner: x.winner, loser: x.loser, at: x.at })),
        () =>
          list
            .map((x) => `${x.id}  ${x.appName ?? x.app}  ${x.kind} ${x.key}  kept ${x.winner ?? '(deleted)'}  lost ${x.loser ?? '(deleted)'}  ${new Date(x.at).toISOString()}${x.resolution ? `  resolved: ${x.resolution}` : ''}`)
            .join('\n') || '(no conflicts)',
      );
    }),
  );
  targetOptions(
    conflicts
      .command('resolve')
      .description('keep the winner (nothing changes) or bring the loser back (written again, it wins everywhere)')
      .argument('<id>')
      .requiredOption('--keep <which>', 'winner or loser'),
  ).action(async (id: string, o: Common & { keep: string }) =>
    withClient(o, async (c) => {
      if (o.keep !== 'winner' && o.keep !== 'loser') throw new FaztError('INVALID_ARGUMENT', '--keep is winner or loser.');
      const r = await callJson<ConflictRow>(c, 'POST', `/api/conflicts/${enc(id)}/resolve`, { keep: o.keep });
      emit(o, r, () => `Resolved ${id}: kept the ${o.keep}.`);
    }),
  );

  const chirp = program.command('chirp').description('data over sound (ggwave): WAV files to play or that were recorded (docs/mesh.md)');
  chirp
    .command('encode')
    .description('write TEXT (at most 140 bytes as UTF-8) as Chirp sound, a 48 kHz mono WAV')
    .argument('<text>')
    .requiredOption('--out <file.wav>', 'the WAV file to write')
    .addOption(new Option('--protocol <speed>', 'transmission speed (slower is more robust)').choices(['normal', 'fast', 'fastest']).default('fast'))
    .option('--json', 'machine-readable JSON output')
    .action(async (text: string, o: { out: string; protocol: 'normal' | 'fast' | 'fastest'; json?: boolean }) => {
      const { loadChirp, writeChirpWav } = await import('./chirp-file.js');
      const samples = await (await loadChirp()).encode(text, { protocol: o.protocol });
      const seconds = Math.round(writeChirpWav(o.out, samples) * 100) / 100;
      emit(o as Common, { file: o.out, seconds, protocol: o.protocol, bytes: new TextEncoder().encode(text).length }, () => `Wrote ${o.out} (${seconds} s of 48 kHz audio, protocol ${o.protocol}).`);
    });
  chirp
    .command('decode')
    .description('print the message(s) heard in a WAV file (PCM or float, any rate ≥ 16 kHz, mono or stereo)')
    .argument('<file.wav>')
    .option('--json', 'machine-readable JSON output: { "text" } (and "messages" when there are several)')
    .action(async (file: string, o: Common) => {
      const { decodeWavFile } = await import('./chirp-file.js');
      const texts = (await decodeWavFile(file)).map(chirpMessageText);
      emit(o, texts.length > 1 ? { text: texts[0], messages: texts } : { text: texts[0] }, () => texts.join('\n'));
    });

  const app = program.command('app').description('deploy and manage apps');
  targetOptions(
    app
      .command('deploy')
      .description('deploy a folder as a new version of an app')
      .argument('<dir>', 'the app\'s folder (app.json optional: a built static site deploys as it is)')
      .option('--name <name>', 'app name (default: "name" in app.json, else the folder\'s name)')
      .option('--grant', 'grant the permissions app.json requests, without asking (needs an admin token)'),
  ).action(async (dir: string, o: Common & { name?: string; grant?: boolean }) => {
    const abs = resolve(dir);
    if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new FaztError('BAD_REQUEST', `${dir} is not a folder.`);
    const files = listDir(abs);
    if (files.length === 0) throw new FaztError('BAD_REQUEST', `${dir} is empty: nothing to deploy.`);
    const hasManifest = files.some((f) => f.path === 'app.json');
    const local = hasManifest ? readLocalManifest(join(abs, 'app.json')) : { permissions: [] as string[], readable: true };
    // app.json is optional: without a name there (or --name), the folder's name is the app's name
    // (a malformed app.json is sent as it is: the node refuses it with its own clear error)
    let fromFolder: string | undefined;
    if (o.name === undefined && local.name === undefined && local.readable) {
      fromFolder = basename(abs);
      try {
        assertAppName(fromFolder);
      } catch (e) {
        throw new FaztError(
          (e as FaztError).code,
          `The app would take its name from the folder "${fromFolder}", and that is not an app name (${(e as FaztError).message.replace(/\.$/, '')}). Pass one with --name, e.g. --name my-site.`,
        );
      }
    }
    const label = o.name ?? local.name ?? fromFolder;
    const total = files.reduce((s, f) => s + f.size, 0);
    await withClient(o, async (c) => {
      let grant = o.grant === true;
      // On a terminal, ask about what this version requests beyond what is already granted.
      if (!grant && local.permissions.length && !o.json && process.stdin.isTTY === true && process.stderr.isTTY === true) {
        const session = await callJson<{ scope: string | null }>(c, 'GET', '/api/session');
        if (session.scope === 'admin') {
          const already = label ? await grantedTo(c, label) : [];
          const fresh = local.permissions.filter((p) => !already.includes(p));
          if (fresh.length) grant = await confirm(`${label ?? 'The app'} requests ${fresh.join(', ')}. Grant? [y/N] `);
        }
      }
      const bar = progress('Uploading', total, !o.json && process.stderr.isTTY === true);
      const body = zipStream(files, (bytes, done) => bar.draw(bytes, `${done}/${files.length} files`));
      const qs = new URLSearchParams();
      if (o.name ?? fromFolder) qs.set('name', (o.name ?? fromFolder)!);
      if (grant) qs.set('grant', 'all');
      const res = await c.call('POST', `/api/apps${qs.size ? `?${qs}` : ''}`, { body, headers: { 'content-type': 'application/zip' } });
      bar.draw(total, `${files.length}/${files.length} files`, true);
      bar.end();
      const r = await readJson<{ id: string; name: string; version: number; live: boolean; files: number; bytes: number; urls: string[]; warnings: string[]; permissions: PermissionStatus }>(res);
      for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
      const p = r.permissions;
      emit(o, r, () =>
        r.live === false
          ? [
              `Stored ${r.name} version ${r.version} (${r.files} files, ${formatBytes(r.bytes)}), NOT live: the app holds secrets or permission grants,`,
              `so a version deployed without the admin scope waits for the owner's approval:`,
              `  fazt app approve ${shellWord(r.name)} ${r.version}`,
            ].join('\n')
          : [
          `Deployed ${r.name} version ${r.version} (${r.files} files, ${formatBytes(r.bytes)})`,
          ...r.urls.map((u) => `  ${u}`),
          ...(p.granted.length ? [`Permissions granted: ${p.granted.join(', ')}`] : []),
          ...(p.pending.length
            ? [`Permissions pending (the app cannot use them until you grant them): ${p.pending.join(', ')}`, `  ${grantCommand(r.name, p.pending, o)}`]
            : []),
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
      const r = await callJson<{ versions: { version: number; createdAt: number; fileCount: number; totalBytes: number; current: boolean; pending?: boolean; reviewed?: boolean }[] }>(
        c,
        'GET',
        `/api/apps/${enc(name)}/versions`,
      );
      emit(o, r, () =>
        r.versions
          .map(
            (v) =>
              `${v.current ? '*' : ' '} v${String(v.version).padEnd(4)} ${new Date(v.createdAt).toISOString()}  ${v.fileCount} files  ${formatBytes(v.totalBytes)}${v.pending ? '  (waiting for approval)' : v.reviewed === false ? '  (unreviewed: deployed without the admin scope)' : ''}`,
          )
          .join('\n'),
      );
    }),
  );
  targetOptions(app.command('approve').description('make a version that waits for approval live (admin)').argument('<app>').argument('<version>')).action(
    async (name: string, version: string, o: Common) =>
      withClient(o, async (c) => {
        if (!/^\d+$/.test(version)) throw new FaztError('BAD_REQUEST', `The version must be a number (see \`fazt app versions ${name}\`), not "${version}".`);
        const r = await callJson<{ from: number | null; to: number }>(c, 'POST', `/api/apps/${enc(name)}/approve`, { version: Number(version) });
        emit(o, r, () => `${name}: version ${r.to} approved and live (was ${r.from ?? 'none'})`);
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

  targetOptions(app.command('permissions').description('what an app requests, and what is granted').argument('<app>')).action(async (name: string, o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<PermissionStatus & { app: string }>(c, 'GET', `/api/apps/${enc(name)}/permissions`);
      emit(o, r, () => permissionLines(r.app, r, o).join('\n'));
    }),
  );
  targetOptions(
    app
      .command('grant')
      .description('grant permissions the app requests (admin)')
      .argument('<app>')
      .argument('[perm...]', 'permissions, e.g. net:api.example.com ai')
      .option('--all', 'everything the live version requests'),
  ).action(async (name: string, perms: string[], o: Common & { all?: boolean }) => {
    if (!o.all && perms.length === 0) throw new FaztError('BAD_REQUEST', `Name the permissions to grant (see \`fazt app permissions ${name}\`), or pass --all.`);
    if (o.all && perms.length) throw new FaztError('BAD_REQUEST', 'Pass permissions or --all, not both.');
    await withClient(o, async (c) => {
      const r = await callJson<PermissionStatus & { app: string; grantedNow: string[] }>(c, 'POST', `/api/apps/${enc(name)}/permissions`, { grant: o.all ? 'all' : perms });
      emit(o, r, () => {
        const unrequested = r.grantedNow.filter((p) => !r.requested.includes(p));
        return [
          r.grantedNow.length ? `Granted ${r.app}: ${r.grantedNow.join(', ')}` : `${r.app} requests no permissions; nothing to grant.`,
          ...(unrequested.length ? [`  not requested by the live version (unused until a version asks): ${unrequested.join(', ')}`] : []),
          ...(r.pending.length ? [`Still pending: ${r.pending.join(', ')}`] : []),
        ].join('\n');
      });
    });
  });
  targetOptions(app.command('revoke').description('revoke granted permissions (admin)').argument('<app>').argument('<perm...>')).action(
    async (name: string, perms: string[], o: Common) =>
      withClient(o, async (c) => {
        let last: (PermissionStatus & { app: string; revoked: string }) | undefined;
        for (const p of perms) last = await callJson(c, 'DELETE', `/api/apps/${enc(name)}/permissions/${enc(p)}`);
        const r = last!;
        emit(o, { ...r, revoked: perms }, () => [`Revoked ${r.app}: ${perms.join(', ')}`, ...(r.pending.length ? [`Pending now: ${r.pending.join(', ')}`] : [])].join('\n'));
      }),
  );

  targetOptions(
    app
      .command('logs')
      .description("print an app's log (its console.* and runtime errors)")
      .argument('<app>')
      .option('-n, --lines <n>', 'how many of the latest entries (0–1000)', '50')
      .option('--level <level>', 'only this level and above: debug, info, warn or error')
      .option('-f, --follow', 'keep printing new entries as they come (Ctrl-C stops)'),
  ).action(async (name: string, o: Common & { lines: string; level?: string; follow?: boolean }) => {
    const n = Number(o.lines);
    if (!/^\d+$/.test(o.lines) || n > 1000) throw new FaztError('BAD_REQUEST', `-n must be a whole number from 0 to 1000, not "${o.lines}".`);
    if (o.level !== undefined && !['debug', 'info', 'warn', 'error'].includes(o.level)) throw new FaztError('BAD_REQUEST', `--level must be debug, info, warn or error, not "${o.level}".`);
    const colour = !o.json && process.stdout.isTTY === true && !process.env.NO_COLOR;
    const print = (e: LogLine) => out(o.json ? JSON.stringify(e) : formatLogLine(e, colour));
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0); // `fazt app logs … | head`
    });
    await withClient(o, async (c) => {
      const base = `/api/apps/${enc(name)}/logs`;
      const level = o.level ? `&level=${o.level}` : '';
      const logsAfter = async (after: number | undefined, limit: number, lvl = level) =>
        (await callJson<{ logs: LogLine[] }>(c, 'GET', `${base}?limit=${limit}${after !== undefined ? `&after=${after}` : ''}${lvl}`)).logs;
      const backlog = n > 0 ? await logsAfter(undefined, n) : [];
      backlog.forEach(print);
      if (!o.follow) {
        if (backlog.length === 0 && !o.json && process.stdout.isTTY) out('(no log entries)');
        return;
      }
      // Follow from the newest entry (of any level), so nothing printed is printed again.
      let last = backlog.at(-1)?.id ?? (await logsAfter(undefined, 1, ''))[0]?.id ?? 0;
      if (c.kind === 'file') {
        // The node writing this cartridge is another process: poll it.
        for (;;) {
          const page = await logsAfter(last, 1000);
          page.forEach(print);
          if (page.length) last = page.at(-1)!.id;
          if (page.length < 1000) await sleep(500);
        }
      }
      let failures = 0;
      for (;;) {
        let res: Response;
        try {
          res = await c.call('GET', `${base}?follow=1${level}`, { headers: { accept: 'text/event-stream', 'last-event-id': String(last) } });
        } catch (e) {
          // The node went away (restart?): retry for a minute, then give up.
          if (++failures > 60) throw e;
          await sleep(1000);
          continue;
        }
        if (!res.ok) await readJson(res);
        if (!res.body || !/^text\/event-stream/.test(res.headers.get('content-type') ?? '')) throw new FaztError('INTERNAL', 'The node did not answer with an event stream.');
        failures = 0;
        try {
          for await (const ev of serverSentEvents(res.body)) {
            if (!ev.data) continue;
            const e = JSON.parse(ev.data) as LogLine;
            print(e);
            last = e.id;
          }
        } catch {
          // connection dropped: reconnect below with Last-Event-ID
        }
        await sleep(1000);
      }
    });
  });

  const secret = app.command('secret').description("an app's secrets, which its code reads as fazt.env (admin)");
  targetOptions(
    secret
      .command('set')
      .description('set a secret; without VALUE it is read from stdin (hidden on a terminal), so it stays out of shell history')
      .argument('<app>')
      .argument('<key>', 'e.g. API_KEY: a letter or _, then letters, digits or _')
      .argument('[value]'),
  ).action(async (name: string, key: string, value: string | undefined, o: Common) => {
    const v = value ?? (await readSecretValue(key));
    await withClient(o, async (c) => {
      const r = await callJson<{ app: string; name: string; created: boolean; updatedAt: number }>(c, 'PUT', `/api/apps/${enc(name)}/secrets/${enc(key)}`, { value: v });
      emit(o, r, () => `${r.created ? 'Set' : 'Replaced'} ${r.name} for ${r.app} (its code reads fazt.env.${r.name})`);
    });
  });
  targetOptions(secret.command('list').description('names of the secrets (never their values)').argument('<app>')).action(async (name: string, o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ app: string; secrets: { name: string; updatedAt: number }[] }>(c, 'GET', `/api/apps/${enc(name)}/secrets`);
      const w = Math.max(0, ...r.secrets.map((x) => x.name.length));
      emit(o, r, () => r.secrets.map((x) => `${x.name.padEnd(w)}  set ${isoMinute(x.updatedAt)}`).join('\n') || '(no secrets)');
    }),
  );
  targetOptions(secret.command('rm').alias('remove').description('remove a secret').argument('<app>').argument('<key>')).action(async (name: string, key: string, o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ app: string; removed: string }>(c, 'DELETE', `/api/apps/${enc(name)}/secrets/${enc(key)}`);
      emit(o, r, () => `Removed ${r.removed} from ${r.app}`);
    }),
  );

  targetOptions(app.command('jobs').description("an app's scheduled and running jobs (cron and one-shot)").argument('<app>')).action(async (name: string, o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ app: string; jobs: JobLine[] }>(c, 'GET', `/api/apps/${enc(name)}/jobs`);
      emit(o, r, () => {
        if (!r.jobs.length) return '(no jobs)';
        const rows = r.jobs.map((j) => [
          j.status,
          j.kind === 'cron' ? `${j.name ?? ''} (${j.cron}${j.timezone ? `, ${j.timezone}` : ''})` : `one-shot ${j.id}`,
          j.status === 'running' ? 'now' : isoMinute(j.runAt),
          j.attempts ? `${j.attempts} failed: ${j.lastError ?? ''}` : '',
        ]);
        return table([['STATUS', 'JOB', 'NEXT RUN (UTC)', 'ERRORS'], ...rows]);
      });
    }),
  );

  // ---- safeguards (docs/safeguards.md): per-app egress quota of fazt.net.fetch, and the disk guard
  targetOptions(
    app
      .command('quota')
      .description("an app's egress quota for fazt.net.fetch (request + response body bytes per UTC month) and this month's use; set it with --egress (admin)")
      .argument('<app>')
      .option('--egress <size>', 'bytes per month: 500MB, 2GB, 1048576 (1024-based units), or "none" for no quota'),
  ).action(async (name: string, o: Common & { egress?: string }) =>
    withClient(o, async (c) => {
      type View = { app: string; quotaBytes: number | null; usedBytes: number; period: string; resetsAt: string; usage: { requests: number; refused: number } | null };
      const r =
        o.egress === undefined
          ? await callJson<View>(c, 'GET', `/api/apps/${enc(name)}/egress`)
          : await callJson<View>(c, 'PUT', `/api/apps/${enc(name)}/egress`, { bytesPerMonth: parseEgressSize(o.egress) });
      emit(o, r, () =>
        [
          `${r.app}: ${r.quotaBytes === null ? 'no egress quota' : `egress quota ${formatBytes(r.quotaBytes)} per month`}`,
          `  ${r.period}: ${formatBytes(r.usedBytes)} used in ${r.usage?.requests ?? 0} requests${r.usage?.refused ? `, ${r.usage.refused} refused` : ''}; resets ${r.resetsAt.slice(0, 10)} (UTC)`,
        ].join('\n'),
      );
    }),
  );
  const disk = program.command('disk').description('the disk guard: refuses writes that grow the cartridge above a disk use limit (docs/safeguards.md)');
  type DiskView = { disk: { usedFraction: number; limitFraction: number; tripped: boolean; known: boolean; freeBytes: number | null; totalBytes: number | null } };
  const diskLine = (d: DiskView['disk']) =>
    !d.known
      ? `disk use unknown (this node cannot tell); limit ${pct(d.limitFraction)}`
      : `disk ${pct(d.usedFraction)} used (${formatBytes(d.freeBytes ?? 0)} free of ${formatBytes(d.totalBytes ?? 0)}); limit ${pct(d.limitFraction)}${d.tripped ? ' — TRIPPED: writes that grow the cartridge are refused (DISK_FULL); free space or raise the limit' : ''}`;
  targetOptions(disk.command('status', { isDefault: true }).description('disk use, the limit, and whether growing writes are refused (admin)')).action(async (o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<DiskView>(c, 'GET', '/api/disk');
      emit(o, r, () => diskLine(r.disk));
    }),
  );
  targetOptions(disk.command('limit').description('set the disk use above which growing writes are refused (default 80%) (admin)').argument('<limit>', 'a percentage like 85% (5%–100%)')).action(
    async (limit: string, o: Common) =>
      withClient(o, async (c) => {
        const r = await callJson<DiskView>(c, 'PUT', '/api/disk', { limit });
        emit(o, r, () => diskLine(r.disk));
      }),
  );

  targetOptions(
    program
      .command('events')
      .description('the latest events apps emitted, newest first')
      .option('--app <app>', 'only events this app emitted')
      .option('-n, --lines <n>', 'how many (1–1000)', '20'),
  ).action(async (o: Common & { app?: string; lines: string }) => {
    if (!/^\d+$/.test(o.lines) || Number(o.lines) < 1 || Number(o.lines) > 1000) throw new FaztError('BAD_REQUEST', `-n must be a whole number from 1 to 1000, not "${o.lines}".`);
    await withClient(o, async (c) => {
      const qs = new URLSearchParams({ limit: o.lines });
      if (o.app) qs.set('app', o.app);
      const r = await callJson<{ events: { id: string; app: string; type: string; payload: unknown; createdAt: number }[] }>(c, 'GET', `/api/events?${qs}`);
      emit(o, r, () =>
        r.events.length
          ? table(r.events.map((e) => [isoMinute(e.createdAt, true), e.app ?? '?', e.type, e.payload === null ? '' : clip(JSON.stringify(e.payload), 80)]))
          : '(no events)',
      );
    });
  });

  // ---- AI (docs/ai.md): providers, usage, budgets, and asking the node's default model
  const ai = program.command('ai').description('AI providers and models (docs/ai.md)');
  const provider = ai.command('provider').description('model providers; keys are stored encrypted and never shown again (admin)');
  targetOptions(
    provider
      .command('set')
      .description('add or change a provider')
      .argument('<name>', 'a short lower-case name; models are then named NAME/MODEL')
      .option('--kind <kind>', 'openai | anthropic | google | ollama | openai-compatible (needed for a new provider)')
      .option('--base-url <url>', 'API base URL (openai-compatible servers: llama.cpp, LM Studio, vLLM … e.g. http://127.0.0.1:8080/v1)')
      .option('--key <key>', 'API key (it lands in shell history: prefer --key-stdin)')
      .option('--key-stdin', 'read the API key from stdin (hidden on a terminal)')
      .option('--default-model <model>', "the model used when a call names this provider (or none)")
      .option('--default', "make it the node's default provider"),
  ).action(async (name: string, o: Common & { kind?: string; baseUrl?: string; key?: string; keyStdin?: boolean; defaultModel?: string; default?: boolean }) => {
    if (o.key !== undefined && o.keyStdin) throw new FaztError('BAD_REQUEST', 'Give the key with --key or --key-stdin, not both.');
    const key = o.keyStdin ? await readSecretValue('the API key') : o.key;
    const body: Record<string, unknown> = {};
    if (o.kind !== undefined) body.kind = o.kind;
    if (o.baseUrl !== undefined) body.baseUrl = o.baseUrl;
    if (key !== undefined) body.key = key;
    if (o.defaultModel !== undefined) body.defaultModel = o.defaultModel;
    if (o.default) body.default = true;
    await withClient(o, async (c) => {
      const r = await callJson<{ provider: { name: string; kind: string; hasKey: boolean; defaultModel: string | null; isDefault: boolean } }>(c, 'PUT', `/api/ai/providers/${enc(name)}`, body);
      const p = r.provider;
      emit(o, r, () => `Set ${p.name} (${p.kind}${p.hasKey ? ', key stored' : ', no key'}${p.defaultModel ? `, default model ${p.defaultModel}` : ''})${p.isDefault ? ' — the default provider' : ''}`);
    });
  });
  targetOptions(provider.command('list').description('the providers (never their keys)')).action(async (o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ providers: { name: string; kind: string; baseUrl: string | null; hasKey: boolean; defaultModel: string | null; isDefault: boolean }[] }>(c, 'GET', '/api/ai/providers');
      const w = Math.max(0, ...r.providers.map((p) => p.name.length));
      emit(o, r, () =>
        r.providers.map((p) => `${p.isDefault ? '*' : ' '} ${p.name.padEnd(w)}  ${p.kind.padEnd(17)}  ${p.hasKey ? 'key set' : 'no key '}  ${p.defaultModel ?? '-'}  ${p.baseUrl ?? ''}`.trimEnd()).join('\n') ||
        '(no providers: add one with `fazt ai provider set NAME --kind KIND --key-stdin --default-model MODEL`)',
      );
    }),
  );
  targetOptions(provider.command('rm').alias('remove').description('remove a provider and its key').argument('<name>')).action(async (name: string, o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ removed: string }>(c, 'DELETE', `/api/ai/providers/${enc(name)}`);
      emit(o, r, () => `Removed ${r.removed}`);
    }),
  );
  targetOptions(
    ai
      .command('ask')
      .description("ask the node's model; the answer streams to stdout")
      .argument('<prompt>')
      .option('--model <provider/model>', 'the model (default: the default provider\'s default model)')
      .option('--system <text>', 'a system prompt'),
  ).action(async (prompt: string, o: Common & { model?: string; system?: string }) =>
    withClient(o, async (c) => {
      const body = { prompt, model: o.model, system: o.system, format: o.json ? 'json' : 'text' };
      if (o.json) {
        const r = await callJson<{ text: string; usage: unknown; model: string; finishReason: string }>(c, 'POST', '/api/ai/chat', body);
        out(JSON.stringify({ text: r.text, usage: r.usage, model: r.model, finishReason: r.finishReason }, null, 2));
        return;
      }
      const res = await c.call('POST', '/api/ai/chat', { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      if (!res.ok || !res.body) {
        await readJson(res);
        return;
      }
      const decoder = new TextDecoder();
      let last = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          const t = decoder.decode(chunk, { stream: true });
          if (t) last = t;
          process.stdout.write(t);
        }
      } catch {
        if (!last.endsWith('\n')) process.stdout.write('\n');
        throw new FaztError('AI_STREAM_INTERRUPTED', 'The answer stopped before it was complete (the provider or the connection failed); ask again.');
      }
      if (!last.endsWith('\n')) process.stdout.write('\n');
    }),
  );
  targetOptions(ai.command('usage').description('AI use per app this month, and the budgets').option('--period <YYYY-MM>', 'another month')).action(async (o: Common & { period?: string }) =>
    withClient(o, async (c) => {
      const r = await callJson<{ period: string; usage: { app: string | null; calls: number; inputTokens: number; outputTokens: number; errors: number; budget: { tokensPerMonth: number | null; callsPerMonth: number | null } | null }[] }>(
        c,
        'GET',
        `/api/ai/usage${o.period ? `?period=${enc(o.period)}` : ''}`,
      );
      emit(o, r, () =>
        r.usage
          .map((u) => `${(u.app ?? '(owner)').padEnd(20)} ${String(u.calls).padStart(6)} calls ${String(u.inputTokens + u.outputTokens).padStart(9)} tokens${u.errors ? ` ${u.errors} failed` : ''}${u.budget?.tokensPerMonth != null ? ` (budget ${u.budget.tokensPerMonth} tokens)` : ''}${u.budget?.callsPerMonth != null ? ` (budget ${u.budget.callsPerMonth} calls)` : ''}`)
          .join('\n') || `(no AI use in ${r.period})`,
      );
    }),
  );
  targetOptions(
    ai
      .command('budget')
      .description("cap an app's AI use per month (none: no cap)")
      .argument('<app>')
      .option('--tokens <n>', 'tokens per month, or "none"')
      .option('--calls <n>', 'calls per month, or "none"'),
  ).action(async (name: string, o: Common & { tokens?: string; calls?: string }) => {
    const num = (v: string | undefined, what: string) => {
      if (v === undefined || v === 'none') return null;
      if (!/^\d+$/.test(v)) throw new FaztError('BAD_REQUEST', `--${what} takes a whole number or "none", not "${v}".`);
      return Number(v);
    };
    await withClient(o, async (c) => {
      const r = await callJson<{ app: string; budget: { tokensPerMonth: number | null; callsPerMonth: number | null } }>(c, 'PUT', `/api/ai/budgets/${enc(name)}`, { tokensPerMonth: num(o.tokens, 'tokens'), callsPerMonth: num(o.calls, 'calls') });
      emit(o, r, () => `${r.app}: ${r.budget.tokensPerMonth ?? 'no cap on'} tokens, ${r.budget.callsPerMonth ?? 'no cap on'} calls per month`);
    });
  });

  // ---- notify (docs/notify.md)
  const notify = program.command('notify').description('notifications on your devices: Web Push (docs/notify.md)');
  targetOptions(notify.command('test').description("send a test notification to the owner's subscribed devices and report each delivery")).action(async (o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ deliveries: { device: string; status: string; statusCode: number | null; attempts: number; error?: string; ms: number }[] }>(c, 'POST', '/api/push/test', {});
      emit(o, r, () =>
        r.deliveries.length
          ? r.deliveries.map((d) => `${d.status === 'sent' || d.status === 'shown' ? 'ok  ' : 'FAIL'} ${d.device}: ${d.status}${d.statusCode !== null ? ` (${d.statusCode})` : ''}, ${d.attempts} attempt(s), ${d.ms} ms${d.error ? ` — ${d.error}` : ''}`).join('\n')
          : 'No device is subscribed: in the dashboard, open Settings and press "Notify me on this device".',
      );
      // a delivery that did not arrive fails the command (an expired subscription was removed: subscribe again)
      if (r.deliveries.some((d) => d.status !== 'sent' && d.status !== 'shown')) process.exitCode = 1;
    }),
  );
  targetOptions(notify.command('devices').description('the subscribed devices (per user) and their last delivery')).action(async (o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ subscriptions: { id: string; device: string; userId: string; service: string; lastSuccessAt: number | null; lastError: string | null }[] }>(c, 'GET', '/api/push/subscriptions');
      emit(o, r, () =>
        r.subscriptions.map((x) => `${x.id}  ${x.device}  ${x.service}  last ok ${x.lastSuccessAt ? isoMinute(x.lastSuccessAt) : '-'}${x.lastError ? `  last error: ${x.lastError}` : ''}`).join('\n') || '(no subscribed devices)',
      );
    }),
  );
  targetOptions(notify.command('forget').description('remove a subscribed device').argument('<id>')).action(async (id: string, o: Common) =>
    withClient(o, async (c) => {
      const r = await callJson<{ removed: string }>(c, 'DELETE', `/api/push/subscriptions/${enc(id)}`);
      emit(o, r, () => `Removed ${r.removed}`);
    }),
  );
  // ---- Pulse (docs/pulse.md): the node's health, its history and alerts, and questions about it
  const pulse = targetOptions(
    program
      .command('pulse')
      .description("the node's health: latest snapshot, alerts, history (docs/pulse.md)")
      .option('--history <span>', 'also list the stored snapshots of this span, e.g. 24h, 7d')
      .option('--now', 'take a snapshot now first')
      .option('--interval <duration>', 'set the interval between snapshots (1m … 24h, e.g. 15m; "default" for 15m)'),
  ).action(async (o: Common & { history?: string; now?: boolean; interval?: string }) =>
    withClient(o, async (c) => {
      const { parseDuration } = await import('../shared/pulse/index.js');
      if (o.history !== undefined) parseDuration(o.history, '--history');
      if (o.interval !== undefined) {
        await callJson(c, 'PUT', '/api/pulse/settings', o.interval === 'default' ? { intervalMs: null } : { intervalMs: parseDuration(o.interval, '--interval') });
      }
      if (o.now) await callJson(c, 'POST', '/api/pulse/snapshot');
      const r = await callJson<import('./pulse-print.js').PulseReport>(c, 'GET', `/api/pulse?history=${enc(o.history ?? '24h')}`);
      const { formatPulse } = await import('./pulse-print.js');
      emit(o, r, () => formatPulse(r, Date.now(), o.history !== undefined));
    }),
  );
  targetOptions(pulse.command('ask').description('ask about the node\'s health in plain words (the configured model, or rules)').argument('[question...]', 'e.g. "how am I doing?"')).action(
    async (words: string[], o: Common) =>
      withClient(o, async (c) => {
        const r = await callJson<{ answer: string; source: 'model' | 'rules'; model?: string; note?: string }>(c, 'POST', '/api/pulse/ask', { question: words.join(' ') });
        emit(o, r, () => `${r.answer}\n\n(${r.source === 'model' ? `answered by ${r.model}` : 'rule-based summary'}${r.note ? `; ${r.note}` : ''})`);
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

  program
    .command('doctor')
    .description("check a cartridge file fully (SQLite integrity_check) without changing it; exit status 1 when it is damaged")
    .addOption(new Option('--db <path>', 'cartridge file').env('FAZT_DB'))
    .option('--json', 'machine-readable JSON output')
    .action(async (o: { db?: string; json?: boolean }) => {
      const { doctor, formatDoctorReport } = await import('./doctor.js');
      const r = await doctor(resolve(o.db ?? defaultDbPath()));
      emit(o, r, () => formatDoctorReport(r));
      if (!r.ok) process.exitCode = 1;
    });

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

  program
    .command('mcp')
    .description('serve MCP (Model Context Protocol) over stdio on a cartridge file, for desktop agents; only protocol on stdout (docs/mcp.md)')
    .addOption(new Option('--db <path>', 'cartridge file').env('FAZT_DB'))
    .action(async (o: { db?: string }) => {
      const file = openCartridgeFile(o.db ?? defaultDbPath(), { mustExist: true });
      try {
        const [{ kernelForFile }, { serveMcpStdio }] = await Promise.all([import('./kernel-file.js'), import('./mcp.js')]);
        // logs go to stderr: stdout carries nothing but the protocol
        const k = kernelForFile(file, { logger: jsonLogger(process.stderr, 'warn') });
        try {
          await serveMcpStdio(k);
        } finally {
          await k.stop();
        }
      } finally {
        file.db.close();
      }
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
  owner
    .command('login-code')
    .description('print a one-time sign-in code for the owner (on the node’s machine; works while password sign-in is rate limited)')
    .option('--db <path>', 'cartridge file (env FAZT_DB)')
    .option('--json', 'machine-readable JSON output')
    .action(async (o: { db?: string; json?: boolean }) => {
      const file = openCartridgeFile(o.db ?? defaultDbPath(), { mustExist: true });
      try {
        const { kernelForFile } = await import('./kernel-file.js');
        const k = kernelForFile(file, { logger: jsonLogger(process.stderr, 'warn') });
        const r = k.auth.createLoginCode();
        emit(o, r, () =>
          [r.code, `One-time owner sign-in code, valid until ${new Date(r.expiresAt).toISOString()} (10 minutes), usable once: enter it on the dashboard's sign-in screen.`].join('\n'),
        );
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

/** `0.8` → `80%`. */
function pct(f: number): string {
  return `${Math.round(f * 1000) / 10}%`;
}

/**
 * Parses an egress size for `fazt app quota --egress`: `none` (no quota), or a size the `bytes`
 * package reads (https://github.com/visionmedia/bytes.js: `500MB`, `1.5GB`, `2048`; units are
 * 1024-based, so 1MB = 1,048,576 bytes).
 * @throws FaztError `BAD_REQUEST` for anything else.
 */
export function parseEgressSize(v: string): number | null {
  if (v.trim().toLowerCase() === 'none') return null;
  const n = /^\s*\d+(\.\d+)?\s*(b|kb|mb|gb|tb|pb)?\s*$/i.test(v) ? bytes.parse(v) : null;
  if (n === null || !Number.isSafeInteger(n) || n < 0) throw new FaztError('BAD_REQUEST', `--egress takes a size like 500MB, 2GB or 1048576 (bytes), or "none"; not "${v}".`);
  return n;
}
