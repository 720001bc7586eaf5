import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKernel, type DeployLimits, type Kernel, type Logger } from '../shared/index.js';
import { backupPort, type FileCartridge } from './cartridge-file.js';
import { PACKAGE_ROOT } from './paths.js';
import { jsonLogger, nodePorts } from './ports.js';
import { listDir, zipStream } from './zip-dir.js';

/** The package version (from package.json). */
export const FAZT_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

/** Creates a kernel over an open file cartridge with the Node ports (no HTTP server: the CLI uses it offline). */
export function kernelForFile(file: FileCartridge, options: { domain?: string; limits?: Partial<DeployLimits>; logger?: Logger } = {}): Kernel {
  return createKernel({
    cartridge: file.cartridge,
    ports: { ...nodePorts, backup: backupPort(file.db), logger: options.logger ?? jsonLogger() },
    domain: options.domain,
    limits: options.limits,
    version: FAZT_VERSION,
  });
}

/** Deploys a folder into a kernel in-process (seeds the example app). */
export async function deployDir(kernel: Kernel, dir: string, name?: string) {
  return kernel.deploy.deploy({ body: zipStream(listDir(dir)), contentType: 'application/zip', name });
}
