import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKernel, type AppDeployed, type DeployLimits, type Kernel, type Logger, type PushSender } from '../shared/index.js';
import type { NotifyOptions } from '../shared/notify/index.js';
import { backupPort, type FileCartridge } from './cartridge-file.js';
import { PACKAGE_ROOT } from './paths.js';
import { jsonLogger, nodeDiskSpace, nodePorts, nodeProcessStats } from './ports.js';
import { listDir, zipStream } from './zip-dir.js';
import { nodeRuntimeHost } from './runtime-host.js';
import { webPushSender } from './push-sender.js';
import type { RuntimeLimits } from '../shared/runtime/index.js';
import type { PulseOptions } from '../shared/pulse/index.js';

/** The package version (from package.json). */
export const FAZT_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

/** Creates a kernel over an open file cartridge with the Node ports (no HTTP server: the CLI uses it offline). */
export function kernelForFile(
  file: FileCartridge,
  options: { domain?: string; limits?: Partial<DeployLimits>; logger?: Logger; runtimeLimits?: Partial<RuntimeLimits>; notify?: NotifyOptions & { push?: PushSender }; pulse?: PulseOptions } = {},
): Kernel {
  return createKernel({
    cartridge: file.cartridge,
    ports: { ...nodePorts, backup: backupPort(file.db), diskSpace: nodeDiskSpace(file.path), processStats: nodeProcessStats, logger: options.logger ?? jsonLogger(), push: options.notify?.push ?? webPushSender() },
    domain: options.domain,
    limits: options.limits,
    version: FAZT_VERSION,
    runtime: nodeRuntimeHost(options.runtimeLimits),
    secretKey: secretKeyFromEnv(),
    nodeName: hostname(),
    notify: { subject: process.env.FAZT_VAPID_SUBJECT || undefined, ...options.notify },
    pulse: { intervalMs: pulseIntervalFromEnv(), ...options.pulse },
  });
}

/**
 * The key for secrets at rest from `FAZT_SECRET_KEY` (64 hex chars), or `undefined` to use the key
 * kept in the cartridge.
 * @throws Error when the variable is set but not 64 hex characters.
 */
export function secretKeyFromEnv(value = process.env.FAZT_SECRET_KEY): Uint8Array | undefined {
  if (!value) return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new Error('FAZT_SECRET_KEY must be 64 hex characters (32 bytes), e.g. from `openssl rand -hex 32`');
  return Uint8Array.from(value.match(/../g)!.map((h) => parseInt(h, 16)));
}

/**
 * Deploys a folder into a kernel in-process (seeds the example apps), through the same use case as
 * the admin API (`Kernel.deployApp`).
 * @param grant `'all'` grants every permission the app requests (the owner approved them); default none.
 */
export async function deployDir(kernel: Kernel, dir: string, name?: string, grant?: 'all' | string[]): Promise<AppDeployed> {
  return kernel.deployApp({ body: zipStream(listDir(dir)), contentType: 'application/zip', name, grant });
}

/**
 * The Pulse interval override from `FAZT_PULSE_INTERVAL_MS` (whole ms ≥ 10; for tests and benches),
 * or `undefined` to use the owner's setting (docs/pulse.md).
 * @throws Error when the variable is set but not such a number.
 */
export function pulseIntervalFromEnv(value = process.env.FAZT_PULSE_INTERVAL_MS): number | undefined {
  if (!value) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 10) throw new Error(`FAZT_PULSE_INTERVAL_MS must be a whole number of ms ≥ 10 (got "${value.slice(0, 30)}")`);
  return Number(value);
}
