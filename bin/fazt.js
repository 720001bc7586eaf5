#!/usr/bin/env -S node --max-semi-space-size=1
// The `fazt` command. Runs the bundle built by `npm install` (scripts/build.mjs); builds it first
// when missing (e.g. after a fresh clone with --ignore-scripts).
//
// The node's lean V8 settings (LEAN_FLAGS: a 1 MiB young generation; same throughput measured,
// ~30 MB less resident memory under load, bench/README.md) must hold however the node is started:
// `npm start`, `fazt start`, `node bin/fazt.js start` from a systemd unit. V8 reads heap sizes only
// when the process starts (v8.setFlagsFromString has no effect on them later), so `fazt start`
// without them runs the node as a child process that has them, forwarding signals and the exit
// status. FAZT_LEAN_FLAGS=0 turns this off (the node then runs with Node's defaults).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const LEAN_FLAGS = ['--max-semi-space-size=1'];
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'fazt.mjs');

const serving = process.argv[2] === 'start';
const hasLeanFlags = LEAN_FLAGS.every((f) => process.execArgv.some((a) => a.split('=')[0] === f.split('=')[0]));
if (serving && !hasLeanFlags && process.env.FAZT_LEAN_FLAGS !== '0') {
  const { spawn } = await import('node:child_process');
  // The child gets its own session (detached), so a terminal's Ctrl-C reaches it once, through
  // this process, not twice. fd 3 is a pipe from this process: when it closes (this process was
  // killed without a chance to forward anything), the child stops as if sent SIGTERM.
  const child = spawn(process.execPath, [...LEAN_FLAGS, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    detached: true,
    env: { ...process.env, FAZT_LEAN_FLAGS: '0', FAZT_PARENT_PIPE: '3' },
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }
  child.on('error', (e) => {
    console.error(`fazt: could not start the node: ${e.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
} else {
  if (process.env.FAZT_PARENT_PIPE === '3') {
    delete process.env.FAZT_PARENT_PIPE;
    const { Socket } = await import('node:net');
    const pipe = new Socket({ fd: 3, readable: true, writable: false });
    pipe.on('error', () => {});
    pipe.on('close', () => process.kill(process.pid, 'SIGTERM'));
    pipe.resume();
    pipe.unref(); // the pipe must not keep the node alive once it has stopped
  }
  if (!existsSync(bundle)) {
    const { execFileSync } = await import('node:child_process');
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--quiet'], { stdio: 'inherit' });
  }
  await import(pathToFileURL(bundle).href);
}
