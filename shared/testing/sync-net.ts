/**
 * Test support for sync: in-memory nodes (real kernels on a real SQLite driver) joined by simulated
 * links that can drop, duplicate, delay and reorder messages, partition, and restart a node from its
 * cartridge. Used by the sync tests and the seeded fuzz (shared/sync/*.test.ts).
 */
import { openCartridge } from '../cartridge/index.js';
import { createKernel, type Kernel } from '../kernel.js';
import type { SqlDatabase } from '../sql/index.js';
import { SyncSession, type SyncMessage } from '../sync/index.js';
import type { DriverFactory } from './drivers.js';
import { makeZip, streamOf } from './zip.js';

/** A seeded PRNG (mulberry32): the same seed gives the same run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The simulated wall time all nodes share (plus each node's skew), ms. */
export class SimTime {
  t = 1_800_000_000_000;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** One in-memory node. */
export class SimNode {
  kernel!: Kernel;
  db!: SqlDatabase;
  /** Offset of this node's wall clock from the shared time, ms. */
  skew = 0;
  logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];

  constructor(
    readonly name: string,
    private readonly driver: DriverFactory,
    private readonly time: SimTime,
  ) {}

  /**
   * Opens a fresh cartridge and its kernel (no runtime, no background work).
   * @param writer the cartridge's writer id (16 hex digits), so a seeded run is the same run again.
   */
  async open(writer?: string): Promise<this> {
    this.db = await this.driver.open();
    if (writer) {
      openCartridge(this.db);
      this.db.run("UPDATE cartridge_meta SET value = ? WHERE key = 'node_id'", [writer]);
    }
    this.boot();
    return this;
  }

  private boot(): void {
    const clock = { now: () => this.time.t + this.skew };
    const log = (level: string) => (msg: string, fields?: Record<string, unknown>) => void this.logs.push({ level, msg, fields });
    this.kernel = createKernel({
      cartridge: openCartridge(this.db, { clock }),
      ports: { logger: { info: log('info'), warn: log('warn'), error: log('error') } },
    });
  }

  /** The writer id (cartridge node id). */
  get writer(): string {
    return this.kernel.cartridge.nodeId;
  }

  /** Closes the database and opens it again: a restart from the cartridge (in-memory state lost). */
  async restart(): Promise<void> {
    this.db = await this.driver.reopen(this.db);
    this.boot();
  }

  /** Deploys a small app from files. */
  deploy(name: string, files: Record<string, string | Uint8Array>) {
    return this.kernel.deployApp({ body: streamOf(makeZip({ 'app.json': JSON.stringify({ name }), ...files })), contentType: 'application/zip', name });
  }
}

/** Fault rates of a link, each 0…1 per message. */
export interface Faults {
  drop: number;
  dup: number;
  /** Chance a message is held back and delivered after later ones. */
  delay: number;
}

const NO_FAULTS: Faults = { drop: 0, dup: 0, delay: 0 };

interface Pipe {
  /** Messages in flight to `to`. */
  queue: SyncMessage[];
  session: SyncSession;
}

/** A link between two nodes: one session on each side and a queue each way. */
interface Link {
  a: number;
  b: number;
  /** [a→b pipe (a's session; queue of messages to b), b→a]. */
  pipes: [Pipe, Pipe];
}

/** Simulated links between {@link SimNode}s. */
export class SimNet {
  readonly links = new Map<string, Link>();
  faults: Faults = NO_FAULTS;
  delivered = 0;

  constructor(
    readonly nodes: SimNode[],
    private readonly rand: () => number,
  ) {}

  private key(a: number, b: number): string {
    return a < b ? `${a}-${b}` : `${b}-${a}`;
  }

  /** Opens sessions between two nodes (both say hello). */
  connect(a: number, b: number): void {
    if (a === b || this.links.has(this.key(a, b))) return;
    const [x, y] = a < b ? [a, b] : [b, a];
    const link = { a: x, b: y } as Link;
    const mk = (from: number, to: number, idx: 0 | 1): Pipe => {
      const pipe = { queue: [] as SyncMessage[] } as Pipe;
      pipe.session = new SyncSession(this.nodes[from]!.kernel.sync.engine, {
        peer: this.nodes[to]!.writer,
        logger: this.nodes[from]!.kernel.ports.logger,
        pollMs: 0,
        send: (m) => {
          const wire = JSON.parse(JSON.stringify(m)) as SyncMessage;
          if (this.rand() < this.faults.drop) return;
          pipe.queue.push(wire);
          if (this.rand() < this.faults.dup) pipe.queue.push(wire);
        },
      });
      void idx;
      return pipe;
    };
    link.pipes = [mk(x, y, 0), mk(y, x, 1)];
    this.links.set(this.key(x, y), link);
    link.pipes[0].session.start();
    link.pipes[1].session.start();
  }

  /** Closes the sessions of a link; messages in flight are lost. */
  disconnect(a: number, b: number): void {
    const link = this.links.get(this.key(a, b));
    if (!link) return;
    this.links.delete(this.key(a, b));
    for (const p of link.pipes) p.session.close();
  }

  /** Closes every link touching node `i`. */
  isolate(i: number): void {
    for (const l of [...this.links.values()]) if (l.a === i || l.b === i) this.disconnect(l.a, l.b);
  }

  /**
   * Delivers up to `n` messages picked across the links (a delayed one stays queued behind later
   * ones), then lets every session push what it has.
   * @returns messages delivered.
   */
  step(n = 20): number {
    let done = 0;
    const links = [...this.links.values()];
    for (let i = 0; i < n && links.length; i++) {
      const link = links[Math.floor(this.rand() * links.length)]!;
      const dir = this.rand() < 0.5 ? 0 : 1;
      const pipe = link.pipes[dir];
      if (pipe.queue.length === 0) continue;
      let idx = 0;
      if (this.rand() < this.faults.delay && pipe.queue.length > 1) idx = 1 + Math.floor(this.rand() * (pipe.queue.length - 1));
      const [m] = pipe.queue.splice(idx, 1);
      const other = link.pipes[dir === 0 ? 1 : 0];
      other.session.receive(m);
      done++;
    }
    for (const l of this.links.values()) for (const p of l.pipes) p.session.pump();
    this.delivered += done;
    return done;
  }

  /** Messages waiting in every queue. */
  inFlight(): number {
    let n = 0;
    for (const l of this.links.values()) n += l.pipes[0].queue.length + l.pipes[1].queue.length;
    return n;
  }

  /**
   * Heals everything: no faults, every pair connected afresh, messages delivered until every queue
   * is empty and every session caught up.
   * @throws Error when it does not settle within `maxSteps`.
   */
  settle(maxSteps = 200_000, fresh = true): void {
    this.faults = NO_FAULTS;
    if (fresh) for (const l of [...this.links.values()]) this.disconnect(l.a, l.b);
    for (let a = 0; a < this.nodes.length; a++) for (let b = a + 1; b < this.nodes.length; b++) this.connect(a, b);
    let quiet = 0;
    for (let s = 0; s < maxSteps; s++) {
      const n = this.step(50);
      const caught = [...this.links.values()].every((l) => l.pipes.every((p) => p.session.info().caughtUp));
      if (n === 0 && this.inFlight() === 0 && caught) {
        if (++quiet >= 3) return;
      } else quiet = 0;
    }
    const stuck = [...this.links.values()].flatMap((l) => l.pipes.map((p, i) => ({ from: i === 0 ? l.a : l.b, ...p.session.info() }))).filter((x) => !x.caughtUp);
    throw new Error(`the network did not settle in ${maxSteps} steps (${this.inFlight()} messages in flight; not caught up: ${JSON.stringify(stuck)})`);
  }
}
