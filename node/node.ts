import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { createKernel, getMeta, setMeta, type DeployLimits, type Kernel, type Logger } from '../shared/index.js';
import { backupPort, openCartridgeFile, type FileCartridge } from './cartridge-file.js';
import { jsonLogger, nodePorts } from './ports.js';
import { createApp, listen } from './server.js';
import { EXAMPLE_APP_DIR, PACKAGE_ROOT } from './paths.js';
import { listDir, zipStream } from './zip-dir.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The package version (from package.json). */
export const FAZT_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

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
  /** Deploy the example app into a new cartridge (default true). */
  seedExample?: boolean;
  /** Logger (JSON lines on stderr by default). */
  logger?: Logger;
}

/** A running headless node. */
export interface RunningNode {
  kernel: Kernel;
  file: FileCartridge;
  server: Server;
  /** Bound port. */
  port: number;
  /** `http://host:port` to print. */
  url: string;
  /** Stops serving and closes the cartridge (checkpointing the WAL). */
  stop(): Promise<void>;
}

/** Creates a kernel over an open file cartridge with the Node ports. */
export function kernelForFile(file: FileCartridge, options: { domain?: string; limits?: Partial<DeployLimits>; logger?: Logger } = {}): Kernel {
  return createKernel({
    cartridge: file.cartridge,
    ports: { ...nodePorts, backup: backupPort(file.db), logger: options.logger ?? jsonLogger() },
    domain: options.domain,
    limits: options.limits,
    version: FAZT_VERSION,
  });
}

/** Deploys a folder into a kernel in-process (used to seed the example app). */
export async function deployDir(kernel: Kernel, dir: string, name?: string) {
  return kernel.deploy.deploy({ body: zipStream(listDir(dir)), contentType: 'application/zip', name });
}

/**
 * Opens the cartridge, seeds a new one with the example app, and serves HTTP.
 * @throws FaztError for a bad cartridge; the listen error (e.g. `EADDRINUSE`) when the port is taken.
 */
export async function startNode(options: NodeOptions): Promise<RunningNode> {
  const logger = options.logger ?? jsonLogger();
  const file = openCartridgeFile(options.db);
  const kernel = kernelForFile(file, { domain: options.domain, limits: options.limits, logger });
  const gc = kernel.collectGarbage();
  if (gc && (gc.blobs || gc.chunks)) logger.info('removed leftovers of interrupted deploys', gc);
  if ((options.seedExample ?? true) && !getMeta(file.db, 'example_seeded') && existsSync(EXAMPLE_APP_DIR)) {
    if (kernel.apps.list().length === 0) await deployDir(kernel, EXAMPLE_APP_DIR);
    setMeta(file.db, 'example_seeded', '1');
  }
  let bound: { server: Server; port: number };
  try {
    bound = await listen(createApp(kernel), options.port, options.host);
  } catch (e) {
    file.db.close();
    throw e;
  }
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  const url = `http://${shownHost}:${bound.port}`;
  let stopped = false;
  return {
    kernel,
    file,
    server: bound.server,
    port: bound.port,
    url,
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((r) => {
        bound.server.close(() => r());
        bound.server.closeAllConnections();
      });
      file.db.close();
    },
  };
}
