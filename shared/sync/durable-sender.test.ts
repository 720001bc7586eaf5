/**
 * S39 (docs/sync-spec.md): sync messages wait for the host's durability barrier. `durableSender` is
 * what `SyncService.attachToMesh` sends through when the host gives the kernel `persisted()` (the
 * browser node: its image persisted to OPFS).
 */
import { describe, expect, it } from 'vitest';
import type { Logger } from '../ports.js';
import type { SyncMessage } from './session.js';
import { durableSender } from './service.js';

/** A barrier the test opens by hand: each call of `persisted()` is one persist. */
function barrier() {
  const calls: { resolve: () => void; reject: (e: Error) => void }[] = [];
  return {
    calls,
    persisted: () => new Promise<void>((resolve, reject) => calls.push({ resolve, reject })),
  };
}

/** A logger that keeps its lines. */
function memoryLogger(): Logger & { lines: { level: string; message: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, fields });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

const msg = (n: number) => ({ t: 'ack', n }) as unknown as SyncMessage;
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('S39: sync sends only what is durable', () => {
  it('holds each message until the persist after it resolves, in order; messages queued during a persist share the next', async () => {
    const b = barrier();
    const sent: [string, unknown][] = [];
    const send = durableSender(b.persisted, (n, m) => sent.push([n, m]), memoryLogger());
    send('p1', msg(1));
    await tick();
    expect(sent).toEqual([]);
    expect(b.calls).toHaveLength(1);
    // written and queued while the first persist runs: they wait for a second one
    send('p2', msg(2));
    send('p1', msg(3));
    b.calls[0]!.resolve();
    await tick();
    expect(sent).toEqual([['p1', msg(1)]]);
    expect(b.calls).toHaveLength(2);
    b.calls[1]!.resolve();
    await tick();
    expect(sent).toEqual([
      ['p1', msg(1)],
      ['p2', msg(2)],
      ['p1', msg(3)],
    ]);
    // idle again: the next message starts a new persist
    send('p1', msg(4));
    await tick();
    expect(b.calls).toHaveLength(3);
    b.calls[2]!.resolve();
    await tick();
    expect(sent.at(-1)).toEqual(['p1', msg(4)]);
  });

  it('a persist that fails drops the messages waiting for it (logged); later messages go after the next one', async () => {
    const b = barrier();
    const sent: unknown[] = [];
    const logger = memoryLogger();
    const send = durableSender(b.persisted, (_n, m) => sent.push(m), logger);
    send('p1', msg(1));
    send('p1', msg(2));
    await tick();
    b.calls[0]!.reject(new Error('QUOTA_EXCEEDED'));
    await tick();
    expect(sent).toEqual([]);
    expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', message: 'sync: not persisted, the messages waiting for it are dropped', fields: expect.objectContaining({ dropped: 2 }) }));
    send('p1', msg(3));
    await tick();
    b.calls[1]!.resolve();
    await tick();
    expect(sent).toEqual([msg(3)]);
  });
});
