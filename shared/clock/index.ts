/**
 * Clocks. `Clock` is the port for wall time (tests may pass a fixed one); `HybridLogicalClock`
 * stamps replicated rows so that sync can order writes across nodes without trusting wall clocks.
 *
 * HLC: Kulkarni et al., "Logical Physical Clocks and Consistent Snapshots in Globally Distributed
 * Databases" (2014). Encoded as a fixed-width string that sorts lexicographically in time order:
 * `<ms: 13 hex digits>-<counter: 4 hex digits>-<nodeId>`.
 */

/** Wall-clock port: milliseconds since the Unix epoch. */
export interface Clock {
  now(): number;
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A parsed HLC timestamp. */
export interface HlcTimestamp {
  /** Physical component, ms since epoch. */
  ms: number;
  /** Logical counter, 0…65535. */
  counter: number;
  /** Node id of the writer. */
  node: string;
}

/** Encodes an HLC timestamp as its sortable string form. */
export function encodeHlc(t: HlcTimestamp): string {
  return `${t.ms.toString(16).padStart(13, '0')}-${t.counter.toString(16).padStart(4, '0')}-${t.node}`;
}

/**
 * Parses the string form.
 * @throws Error when the string is not an HLC timestamp.
 */
export function decodeHlc(s: string): HlcTimestamp {
  const m = /^([0-9a-f]{13})-([0-9a-f]{4})-(.+)$/.exec(s);
  if (!m) throw new Error(`not an HLC timestamp: ${JSON.stringify(s)}`);
  return { ms: parseInt(m[1]!, 16), counter: parseInt(m[2]!, 16), node: m[3]! };
}

/** A hybrid logical clock for one node. */
export class HybridLogicalClock {
  private last: HlcTimestamp;

  /**
   * @param node this node's id (stable, from the cartridge).
   * @param clock wall clock.
   * @param maxDriftMs remote timestamps further ahead of our wall clock than this are rejected by {@link receive}.
   */
  constructor(
    readonly node: string,
    private readonly clock: Clock = systemClock,
    private readonly maxDriftMs = 5 * 60_000,
  ) {
    this.last = { ms: 0, counter: 0, node };
  }

  /** A new timestamp for a local write, strictly greater than every one seen before. */
  now(): string {
    const wall = this.clock.now();
    if (wall > this.last.ms) this.last = { ms: wall, counter: 0, node: this.node };
    else this.last = { ms: this.last.ms, counter: this.last.counter + 1, node: this.node };
    if (this.last.counter > 0xffff) this.last = { ms: this.last.ms + 1, counter: 0, node: this.node };
    return encodeHlc(this.last);
  }

  /**
   * Moves the clock past a stamp this node wrote before it restarted (read back from the cartridge),
   * with no drift check: a restarted node must never issue a stamp below one it issued before
   * (docs/sync-spec.md S1). No-op when the clock is already past it.
   * @throws Error when the string is not an HLC timestamp.
   */
  seed(stamp: string): void {
    const t = decodeHlc(stamp);
    if (t.ms > this.last.ms || (t.ms === this.last.ms && t.counter > this.last.counter)) this.last = { ms: t.ms, counter: t.counter, node: this.node };
  }

  /**
   * Merges a timestamp received from a peer, so later local writes sort after it.
   * @throws Error when the remote clock is more than `maxDriftMs` ahead of ours (a lying or broken peer).
   */
  receive(remote: string): void {
    const r = decodeHlc(remote);
    const wall = this.clock.now();
    if (r.ms - wall > this.maxDriftMs) throw new Error(`remote clock is ${r.ms - wall} ms ahead: refused`);
    const ms = Math.max(wall, this.last.ms, r.ms);
    let counter = 0;
    if (ms === this.last.ms && ms === r.ms) counter = Math.max(this.last.counter, r.counter) + 1;
    else if (ms === this.last.ms) counter = this.last.counter + 1;
    else if (ms === r.ms) counter = r.counter + 1;
    this.last = { ms, counter, node: this.node };
  }
}
