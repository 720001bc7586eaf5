/**
 * A node that answers in a paired node's place with the wrong key: it runs a real PeerJS signaling
 * server (the `peer` package, mounted as node/mesh-host.ts does) on the paired node's port, registers there
 * under the paired node's id, and answers the link's `hello` with an `accept` that is well formed and
 * signed over the right transcript, but by a key the caller never paired with. A browser node must
 * refuse it (`PAIRING_FAILED`).
 */
import http from 'node:http';
import express from 'express';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { base64urlnopad } from '@scure/base';

// Written out here rather than imported: Playwright's loader cannot load the kernel (`shared/`
// imports raw text modules that only the build resolves). Same encodings as shared/mesh/.
const b64u = (b: Uint8Array) => base64urlnopad.encode(b);
const fromB64u = (s: unknown) => base64urlnopad.decode(String(s));
/** shared/mesh/pairing.ts `transcript`: each field as a 4-byte big-endian length, then its bytes. */
function transcript(...fields: (string | Uint8Array)[]): Uint8Array {
  const parts = fields.map((f) => (typeof f === 'string' ? new TextEncoder().encode(f) : f));
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  let o = 0;
  for (const p of parts) {
    view.setUint32(o, p.length);
    out.set(p, o + 4);
    o += 4 + p.length;
  }
  return out;
}

interface Conn {
  send(d: unknown): void;
  on(e: 'data', cb: (d: unknown) => void): void;
}
interface PeerLike {
  destroy(): void;
  on(e: 'open', cb: () => void): void;
  on(e: 'error', cb: (e: Error) => void): void;
  on(e: 'connection', cb: (c: Conn) => void): void;
}

/** PeerJS in Node over node-datachannel, with early ICE candidates queued (as node/mesh-host.ts does). */
async function nodePeerJs(): Promise<new (id: string, o: Record<string, unknown>) => PeerLike> {
  const [{ default: polyfill }, { WebSocket }] = await Promise.all([import('node-datachannel/polyfill'), import('ws')]);
  const g = globalThis as Record<string, unknown>;
  for (const [k, v] of Object.entries(polyfill as Record<string, unknown>)) g[k] ??= v;
  type Rtc = { addIceCandidate(c: unknown): Promise<void>; setRemoteDescription(d: unknown): Promise<void>; setLocalDescription(d?: unknown): Promise<void> };
  const Base = (polyfill as unknown as { RTCPeerConnection: new (...a: unknown[]) => Rtc }).RTCPeerConnection;
  class Queuing extends Base {
    private early: unknown[] = [];
    private remoteSet = false;
    private localSet = false;
    private async flush() {
      if (this.remoteSet && this.localSet) for (const c of this.early.splice(0)) await super.addIceCandidate(c).catch(() => undefined);
    }
    override async addIceCandidate(c: unknown) {
      if (!(this.remoteSet && this.localSet)) return void this.early.push(c);
      return super.addIceCandidate(c);
    }
    override async setRemoteDescription(d: unknown) {
      await super.setRemoteDescription(d);
      this.remoteSet = true;
      await this.flush();
    }
    override async setLocalDescription(d?: unknown) {
      await super.setLocalDescription(d);
      this.localSet = true;
      await this.flush();
    }
  }
  g.RTCPeerConnection = Queuing;
  g.WebSocket ??= WebSocket;
  const mod = (await import('peerjs')) as unknown as { Peer?: unknown; default?: { Peer: unknown } };
  return (mod.Peer ?? mod.default!.Peer) as new (id: string, o: Record<string, unknown>) => PeerLike;
}

/** The running impostor. */
export interface Impostor {
  /** `hello` messages answered so far. */
  hellos(): number;
  close(): Promise<void>;
}

/** Starts the impostor on 127.0.0.1:`port`, claiming node id `claimedId`. */
export async function startImpostor(port: number, claimedId: string): Promise<Impostor> {
  const app = express();
  const server = http.createServer(app);
  // the signaling server as a headless node mounts it (node/mesh-host.ts mountSignaling)
  const { ExpressPeerServer } = await import('peer');
  app.use('/peerjs', ExpressPeerServer(server, { path: '/', allow_discovery: false }) as unknown as express.RequestHandler);
  const sockets = new Set<import('node:stream').Duplex>();
  server.on('upgrade', (_req, socket: import('node:stream').Duplex) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const Peer = await nodePeerJs();
  const peer = new Peer(claimedId, { host: '127.0.0.1', port, path: '/peerjs', secure: false, config: { iceServers: [] }, debug: 0 });
  await new Promise<void>((resolve, reject) => {
    peer.on('open', () => resolve());
    peer.on('error', (e) => reject(e));
  });
  const wrongKey = ed25519.utils.randomSecretKey();
  let hellos = 0;
  peer.on('connection', (c) => {
    c.on('data', (d) => {
      if (typeof d !== 'string') return;
      const m = JSON.parse(d) as { t?: string; from?: string; eph?: string; nonce?: string };
      if (m.t !== 'hello' || !m.from) return;
      const eph = x25519.getPublicKey(x25519.utils.randomSecretKey());
      const t = transcript('fazt/link/v1/responder', m.from, claimedId, fromB64u(m.eph), eph, fromB64u(m.nonce));
      c.send(JSON.stringify({ t: 'accept', v: 1, from: claimedId, eph: b64u(eph), sig: b64u(ed25519.sign(t, wrongKey)) }));
      hellos++;
    });
  });
  return {
    hellos: () => hellos,
    close: async () => {
      peer.destroy();
      for (const s of sockets) s.destroy();
      server.emit('close'); // stops the `peer` package's timers
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
