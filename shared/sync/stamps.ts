/**
 * Stamps (HLC timestamp strings, `shared/clock/`) as sync reads them: format check, writer, order,
 * and the "descends" relation that tells a sequential overwrite from a concurrent one
 * (docs/sync-spec.md S4, S13).
 */

/** Largest lead of a peer's stamp over our wall clock that is accepted, ms (docs/sync-spec.md S3). */
export const MAX_DRIFT_MS = 5 * 60_000;

/** The stamp format on the wire: `<ms:13 hex>-<counter:4 hex>-<writer:16 hex>` (S4). */
export const STAMP_RE = /^[0-9a-f]{13}-[0-9a-f]{4}-[0-9a-f]{16}$/;

/** True when `s` is a well-formed stamp (S4). */
export function isStamp(s: unknown): s is string {
  return typeof s === 'string' && s.length === 35 && STAMP_RE.test(s);
}

/** The writer id (cartridge `node_id`) a stamp names. */
export function writerOf(stamp: string): string {
  return stamp.slice(19);
}

/** The physical part of a stamp, ms since the epoch. */
export function msOf(stamp: string): number {
  return parseInt(stamp.slice(0, 13), 16);
}

/** One version of a field: its stamp `h` and its base `b` (the other writer's version it replaced, S13). */
export interface FieldVersion {
  h: string;
  b?: string | null;
}

/**
 * True when version `later` descends from version `earlier`: its writer had seen `earlier` when it
 * wrote (docs/sync-spec.md S13). Sound (never true for concurrent versions); it may say "no" for a
 * long chain of overwrites by several writers, which then shows as a conflict rather than a loss.
 */
export function descends(earlier: FieldVersion, later: FieldVersion): boolean {
  if (earlier.h === later.h) return true;
  const base = later.b ?? null;
  if (base !== null) {
    if (base === earlier.h) return true;
    if (writerOf(base) === writerOf(earlier.h) && earlier.h < base) return true;
  }
  return writerOf(earlier.h) === writerOf(later.h) && earlier.h < later.h;
}

/** The greater of two stamps (S4); `null` counts as less than any stamp. */
export function maxStamp(a: string | null | undefined, b: string | null | undefined): string | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return a > b ? a : b;
}
