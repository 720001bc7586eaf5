import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import type { Express } from 'express';
import { createFetch, getMeta, setMeta, type DeployLimits, type FetchHandler, type Kernel, type Logger, type PushSender } from '../shared/index.js';
import type { NotifyOptions } from '../shared/notify/index.js';
import { corruptCartridgeError, integrityReport, isCorruptionError, MAX_INTEGRITY_PROBLEMS, type IntegrityState } from '../shared/cartridge/index.js';
import { runSqliteJob } from './sqlite-worker.js';
import { openCartridgeFile, type FileCartridge } from './cartridge-file.js';
import { deployDir, kernelForFile } from './kernel-file.js';
import type { RuntimeLimits } from '../shared/runtime/index.js';
import { jsonLogger } from './ports.js';
import { pwaDashboard } from './pwa-host.js';
import { withMcp } from './mcp-route.js';
import { createApp, listen } from './server.js';
import { EXAMPLE_APP_DIRS } from './paths.js';

export { deployDir, kernelForFile, FAZT_VERSION } from './kernel-file.js';


/** Options of {@link startNode}. */
export interface NodeOptions {
  /** Cartridge file path. */
  db: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Interface to bind. */
  host: string;
  /** Base domain for app subdomains. */
  domain: string;
  /** Upload limits. */
  limits?: Partial<DeployLimits>;
  /** Deploy the example apps (`hello`, `notes`) into a new cartridge (default true). */
  seedExample?: boolean;
  /** Limits of the serverless runtime (CPU, wall time, memory, concurrency …); defaults otherwise. */
  runtimeLimits?: Partial<RuntimeLimits>;
  /** Logger (JSON lines on stderr by default). */
  logger?: Logger;
  /** Reverse proxies whose `X-Forwarded-For` is believed (see `clientSource` in server.ts); default none. */
  trustedProxies?: readonly string[];
  /** Web Push: the sender (default `webPushSender()`) and retry/timeout options (docs/notify.md). */
  notify?: NotifyOptions & { push?: PushSender };
  /** Pulse options (an interval override, alert thresholds; docs/pulse.md). Default: `FAZT_PULSE_INTERVAL_MS` or the owner's setting. */
  pulse?: import('../shared/pulse/index.js').PulseOptions;
}

/** A running headless node. */
export interface RunningNode {
  kernel: Kernel;
  /** The node's HTTP face (what the server answers with), for in-process requests. */
  fetch: FetchHandler;
  file: FileCartridge;
  server: Server;
  /** Bound port. */
  port: number;
  /** `http://host:port` to print. */
  url: string;
  /**
   * The start-up integrity check (`PRAGMA quick_check` on a worker thread, run while the node
   * serves): resolves with its outcome, also kept in `kernel.cartridge.integrity` and logged.
   */
  integrity: Promise<IntegrityState>;
  /** Stops serving and closes the cartridge (checkpointing the WAL). */
  stop(): Promise<void>;
}


/**
 * Opens the cartridge, seeds a new one with the example apps, and serves HTTP.
 * @throws FaztError for a bad cartridge; the listen error (e.g. `EADDRINUSE`) when the port is taken.
 */
export async function startNode(options: NodeOptions): Promise<RunningNode> {
  try {
    return await startNodeOn(options);
  } catch (e) {
    // `database disk image is malformed` met anywhere in start-up names the file and says what to do
    if (isCorruptionError(e) && (e as { code?: string }).code !== 'CARTRIDGE_CORRUPT') throw corruptCartridgeError(options.db, (e as Error).message);
    throw e;
  }
}

/**
 * Runs the quick integrity check of a cartridge file on a worker thread, records the outcome in
 * `state` and logs it (`warn` with SQLite's lines when damaged).
 */
export async function checkCartridgeFile(path: string, state: { integrity: IntegrityState }, logger: Logger): Promise<IntegrityState> {
  const since = Date.now();
  state.integrity = { state: 'checking', check: 'quick', since };
  try {
    const lines = await runSqliteJob({ op: 'check', path, full: false, max: MAX_INTEGRITY_PROBLEMS });
    const report = integrityReport('quick', lines, Date.now() - since, Date.now());
    state.integrity = { state: report.ok ? 'ok' : 'damaged', ...report };
    if (report.ok) logger.info('cartridge check: ok', { check: 'quick_check', ms: report.ms });
    else logger.warn('cartridge check: DAMAGED', { path, check: 'quick_check', problems: report.problems, advice: `run \`fazt doctor --db ${path}\` and restore a backup` });
  } catch (e) {
    state.integrity = { state: 'failed', check: 'quick', error: (e as Error).message, checkedAt: Date.now() };
    logger.warn('cartridge check could not run', { path, error: (e as Error).message, advice: `run \`fazt doctor --db ${path}\`` });
  }
  return state.integrity;
}

async function startNodeOn(options: NodeOptions): Promise<RunningNode> {
  const logger = options.logger ?? jsonLogger();
  const file = openCartridgeFile(options.db);
  // every page read once, off the main thread, while the node starts and serves
  const integrity = checkCartridgeFile(options.db, file.cartridge, logger);
  let kernel: Kernel;
  let fetch: FetchHandler;
  try {
    kernel = kernelForFile(file, { domain: options.domain, limits: options.limits, logger, runtimeLimits: options.runtimeLimits, notify: options.notify, pulse: options.pulse });
    // the kernel's HTTP face, with the MCP endpoint (/mcp) in front of it
    fetch = withMcp(kernel, createFetch(kernel, { dashboard: pwaDashboard() }));
    const gc = kernel.collectGarbage();
    if (gc && (gc.blobs || gc.chunks)) logger.info('removed leftovers of interrupted deploys', gc);
    const examples = EXAMPLE_APP_DIRS.filter((dir) => existsSync(dir));
    if ((options.seedExample ?? true) && !getMeta(file.db, 'example_seeded') && examples.length) {
      if (kernel.apps.list().length === 0) {
        for (const dir of examples) {
          await deployDir(kernel, dir, undefined, 'all'); // the examples' requests are the owner's own
        }
      }
      setMeta(file.db, 'example_seeded', '1');
    }
    // the runtime's warm-up sandbox (only when apps have server code) is ready before the first request
    await kernel.start();
  } catch (e) {
    await integrity;
    file.db.close();
    throw e;
  }
  let bound: { server: Server; port: number };
  let app: Express;
  try {
    app = createApp(kernel, fetch, { trustedProxies: options.trustedProxies });
    bound = await listen(app, options.port, options.host);
  } catch (e) {
    await kernel.stop();
    file.db.close();
    throw e;
  }
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  const url = `http://${shownHost}:${bound.port}`;
  let stopped = false;
  const mesh = meshOnNode(kernel, app, bound.server, options.host, bound.port, logger, () => stopped);
  return {
    kernel,
    fetch,
    file,
    server: bound.server,
    port: bound.port,
    url,
    integrity,
    async stop() {
      if (stopped) return;
      stopped = true;
      await mesh.stop();
      await integrity;
      await new Promise<void>((r) => {
        bound.server.close(() => r());
        bound.server.closeAllConnections();
      });
      await kernel.stop();
      file.db.close();
    },
  };
}

/**
 * The node's part in the mesh (docs/mesh.md): the addresses its invitations carry, and — once it has
 * peers or makes its first pairing — the signaling server and the links to its peers (node/mesh-host.ts,
 * loaded only then, so a node that never pairs pays nothing for WebRTC).
 */
function meshOnNode(kernel: Kernel, app: Express, server: Server, host: string, port: number, logger: Logger, stopped: () => boolean): { stop(): Promise<void> } {
  kernel.mesh.setAddresses(() => lanAddresses(host, port));
  // direct pairing (an offer and an answer carried by the codes): node-datachannel, loaded on first use
  const direct = () => import('./mesh-direct.js').then((m) => new m.NodeDirectConnector(logger));
  kernel.mesh.setDirectConnector({ offer: async () => (await direct()).offer(), answer: async (o, until) => (await direct()).answer(o, until) });
  const ownUrl = `http://${host === '0.0.0.0' || host === '::' || host === 'localhost' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${port}`;
  let running: Promise<{ host: import('./mesh-host.js').MeshHost; signaling: { close(): void } } | undefined> | undefined;
  const start = () =>
    (running ??= (async () => {
      if (stopped()) return undefined;
      const { MeshHost } = await import('./mesh-host.js');
      const signaling = await MeshHost.mountSignaling(app, server, logger);
      const meshHost = new MeshHost(kernel.mesh, ownUrl, logger);
      await meshHost.start();
      return { host: meshHost, signaling };
    })().catch((e: unknown) => {
      logger.error('mesh failed to start', { error: String((e as Error)?.stack ?? e) });
      running = undefined;
      return undefined;
    }));
  if (kernel.mesh.status().length > 0) void start();
  const unsubscribe = kernel.mesh.onPaired(() => void start().then((m) => m?.host.kick()));
  // the joiner connects through this node's signaling server right after it paired: serve it from the
  // first invitation on
  const unInvited = kernel.mesh.onInvited(() => void start());
  return {
    async stop() {
      unsubscribe();
      unInvited();
      const m = await running;
      m?.host.stop();
      m?.signaling.close();
      kernel.mesh.closeAll(); // pending direct offers and answers
    },
  };
}

/** The IPv4 addresses other devices may reach this node at, with its port (loopback when it listens only there). */
function lanAddresses(host: string, port: number): { host: string; port: number }[] {
  if (host !== '0.0.0.0' && host !== '::') return /^\d+\.\d+\.\d+\.\d+$/.test(host) ? [{ host, port }] : [];
  const out: { host: string; port: number }[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) out.push({ host: a.address, port });
  }
  return out;
}
