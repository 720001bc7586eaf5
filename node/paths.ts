import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the installed package: the nearest folder above this module with Fazt's package.json (sources or bundle). */
export const PACKAGE_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && /"name":\s*"fazt"/.test(readFileSync(pkg, 'utf8'))) return dir;
    const up = resolve(dir, '..');
    if (up === dir) return resolve(dirname(fileURLToPath(import.meta.url)), '..');
    dir = up;
  }
})();

/** The example app deployed into a new cartridge. */
export const EXAMPLE_APP_DIR = join(PACKAGE_ROOT, 'examples', 'hello');

/** The example apps deployed into a new cartridge, in this order: `hello` and `notes`. */
export const EXAMPLE_APP_DIRS: readonly string[] = [EXAMPLE_APP_DIR, join(PACKAGE_ROOT, 'examples', 'notes')];

/**
 * Default cartridge path: `$FAZT_DB`, else `$XDG_DATA_HOME/fazt/data.db`, else `~/.local/share/fazt/data.db`
 * (XDG Base Directory spec).
 */
export function defaultDbPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FAZT_DB) return env.FAZT_DB;
  const base = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'fazt', 'data.db');
}

/** CLI config file (named remotes): `$XDG_CONFIG_HOME/fazt/config.json` or `~/.config/fazt/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FAZT_CONFIG) return env.FAZT_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'fazt', 'config.json');
}
