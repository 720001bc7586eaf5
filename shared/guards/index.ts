/** Safeguards (docs/safeguards.md): the disk guard and the per-app egress quota of `fazt.net.fetch`. */
export { DiskGuard, DEFAULT_DISK_LIMIT_FRACTION, parseDiskLimit, percent, type DiskGuardOptions, type DiskGuardStatus } from './disk.js';
export { EgressStore, egressMonthOf, nextMonthStart, type EgressMeter, type EgressUsage } from './egress.js';
