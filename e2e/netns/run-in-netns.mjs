// Runs a command in a new network namespace whose only interface is loopback (up), and exits with its
// exit code. WebRTC between Chromium and a Node peer on one machine needs this (see
// ../../shared/STACK.md in the team notes, and docs/mesh.md "Testing the browser node"): with only
// `lo`, and Chromium's `--allow-loopback-in-peer-connection`, both sides gather 127.0.0.1 host
// candidates and nothing else, so ICE pairs them at once and never waits on a LAN interface.
//
// As root: `unshare --net`. Otherwise: `unshare --map-root-user --net` (an unprivileged user
// namespace, where `ip link set lo up` is allowed), or, where user namespaces are disabled,
// `sudo -n unshare --net` and back to this user with `setpriv` inside. Anything that fails (no
// unshare, no `ip`, no way to a namespace) ends this script with a non-zero exit and the reason:
// the callers fail loudly rather than skip.
//
//   node e2e/netns/run-in-netns.mjs -- CMD ARGS…
import { spawnSync } from 'node:child_process';

const i = process.argv.indexOf('--');
const cmd = i >= 0 ? process.argv.slice(i + 1) : [];
if (!cmd.length) {
  console.error('usage: node e2e/netns/run-in-netns.mjs -- CMD ARGS…');
  process.exit(2);
}
const root = typeof process.getuid === 'function' && process.getuid() === 0;
// inside: bring loopback up, then exec the command with its arguments ("$@")
const inside = 'set -e; ip link set lo up; export FAZT_NETNS=1; exec "$@"';
const works = (args) => spawnSync(args[0], args.slice(1), { stdio: 'ignore' }).status === 0;
let argv;
if (root) argv = ['unshare', '--net', 'sh', '-c', inside, 'sh'];
else if (works(['unshare', '--map-root-user', '--net', 'true'])) argv = ['unshare', '--map-root-user', '--net', 'sh', '-c', inside, 'sh'];
else if (works(['sudo', '-n', 'true'])) {
  // user namespaces are not allowed here: make the namespace as root, then drop back to this user in it
  const uid = process.getuid();
  const gid = process.getgid();
  const back = `set -e; ip link set lo up; export FAZT_NETNS=1; exec setpriv --reuid=${uid} --regid=${gid} --init-groups "$@"`;
  argv = ['sudo', '-n', '--preserve-env', 'unshare', '--net', 'sh', '-c', back, 'sh'];
} else {
  console.error('run-in-netns: cannot make a network namespace: not root, unprivileged user namespaces are disabled (unshare --map-root-user failed), and no password-less sudo.');
  process.exit(3);
}
const r = spawnSync(argv[0], [...argv.slice(1), ...cmd], { stdio: 'inherit', env: process.env });
if (r.error) {
  console.error(`run-in-netns: could not start ${argv[0]} (${r.error.message}); install util-linux (unshare) and iproute2 (ip).`);
  process.exit(3);
}
if (r.signal) {
  console.error(`run-in-netns: ${cmd[0]} was killed by ${r.signal}`);
  process.exit(4);
}
process.exit(r.status ?? 5);
