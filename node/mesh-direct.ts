import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// the mesh's face, not shared/index.js: the connector loads on its own (and in browser tests)
import { FaztError } from '../shared/errors.js';
import { sessionFromSdp, sessionToSdp, type CompactSession, type DirectAnswer, type DirectChannel, type DirectConnector, type DirectOffer } from '../shared/mesh/index.js';
import type { Logger } from '../shared/ports.js';

/**
 * The headless node's WebRTC for direct pairing (shared/mesh/direct.ts; docs/mesh.md "Pairing with
 * no reachable server"): node-datachannel's own PeerConnection (libdatachannel), without PeerJS and
 * without a signaling server. ICE uses host candidates only (`iceServers: []`).
 *
 * The inviter's offer waits, untouched, until the owner brings the answer back: an offering ICE
 * agent does nothing before it has the answer. The joiner's side is harder: an answering
 * libdatachannel agent gives up 39.5 s after it has the offer and its own candidates (libjuice's
 * RFC 8863 "patiently awaiting connectivity" timer), and carrying an answer code by hand takes longer.
 * So the joiner keeps its answer valid until the invitation expires: it answers with ICE credentials
 * it chose, a DTLS certificate it made (ECDSA P-256, {@link makeCertificate}), and a UDP port it chose, and
 * when the peer connection gives up it makes a new one with the same three, which yields the same
 * answer. It applies the offer without the inviter's candidates, so it never checks first: the
 * inviter's checks, once it has the answer, reach it and it answers them (peer-reflexive candidates,
 * RFC 8445 §7.3.1.3). (Given the candidates, it would also check the inviter before the inviter has
 * its answer, and libdatachannel then refuses the answer: "Got a remote candidate without ICE transport".)
 */

/** Time to gather host candidates, ms. */
const GATHER_TIMEOUT_MS = 5_000;
/** Pause between a joiner's peer connection closing and its next one (the UDP port is free by then), ms. */
const REARM_DELAY_MS = 150;
const ICE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

type Ndc = typeof import('node-datachannel');
type PeerConnection = InstanceType<Ndc['PeerConnection']>;
type DataChannel = ReturnType<PeerConnection['createDataChannel']>;

let ndc: Promise<Ndc> | undefined;
const load = (): Promise<Ndc> => (ndc ??= import('node-datachannel').then((m) => ((m as unknown as { default?: Ndc }).default ?? m) as Ndc));

function randomIceChars(n: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => ICE_CHARS[b & 63]).join('');
}

/** Resolves when the peer connection has gathered its candidates. */
function gathered(pc: PeerConnection): Promise<void> {
  return new Promise((resolve, reject) => {
    if (pc.gatheringState() === 'complete') return resolve();
    const t = setTimeout(() => reject(new FaztError('PEER_UNREACHABLE', `No network address found to connect from within ${GATHER_TIMEOUT_MS / 1000} s.`)), GATHER_TIMEOUT_MS);
    pc.onGatheringStateChange((s) => {
      if (s === 'complete') {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

/** The local description in compact form, IPv4 candidates first (shorter, and what a LAN phone reaches). */
function compactLocal(pc: PeerConnection): CompactSession {
  const d = pc.localDescription();
  if (!d) throw new FaztError('INTERNAL', 'The peer connection has no local description.');
  if (!/^a=candidate:/m.test(d.sdp)) {
    // libjuice gathers no loopback candidates: a machine with no other interface has nothing to offer
    throw new FaztError('PEER_UNREACHABLE', 'This node has no network address to connect from (only loopback): join it to a network (Wi-Fi, a cable, a hotspot) first.');
  }
  const s = sessionFromSdp(d.sdp);
  const v4 = (a: string) => /^\d+\.\d+\.\d+\.\d+$/.test(a);
  s.candidates.sort((a, b) => Number(v4(b.address)) - Number(v4(a.address)));
  return s;
}

/** A data channel and its peer connection as a {@link DirectChannel}. */
function wrap(pc: PeerConnection, dc: DataChannel): DirectChannel {
  let onMessage: ((m: string | Uint8Array) => void) | undefined;
  let onClose: (() => void) | undefined;
  const early: (string | Uint8Array)[] = [];
  let closed = false;
  const fireClose = () => {
    if (closed) return;
    closed = true;
    onClose?.();
  };
  dc.onMessage((m) => {
    const v = typeof m === 'string' ? m : new Uint8Array(m as ArrayBuffer);
    if (onMessage) onMessage(v);
    else early.push(v);
  });
  dc.onClosed(fireClose);
  pc.onStateChange((s) => {
    if (s === 'failed' || s === 'closed') fireClose();
  });
  return {
    send(m) {
      if (closed) throw new FaztError('PEER_UNREACHABLE', 'The data channel is closed.');
      if (typeof m === 'string') dc.sendMessage(m);
      else dc.sendMessageBinary(m);
    },
    close() {
      try {
        dc.close();
      } catch {
        /* closed already */
      }
      pc.close();
      fireClose();
    },
    onMessage(cb) {
      onMessage = cb;
      for (const m of early.splice(0)) cb(m);
    },
    onClose(cb) {
      onClose = cb;
      if (closed) cb();
    },
  };
}

/** DER (ITU-T X.690) length octets. */
function derLength(n: number): Buffer {
  if (n < 128) return Buffer.of(n);
  const bytes: number[] = [];
  for (let x = n; x > 0; x >>= 8) bytes.unshift(x & 0xff);
  return Buffer.of(0x80 | bytes.length, ...bytes);
}
const der = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.of(tag), derLength(body.length), body]);
};
const seq = (...parts: Buffer[]) => der(0x30, ...parts);
const derInt = (b: Buffer) => der(0x02, b[0]! & 0x80 ? Buffer.concat([Buffer.of(0), b]) : b);
const utcTime = (d: Date) => der(0x17, Buffer.from(d.toISOString().replace(/^\d\d|[-:T]|\.\d+/g, '').replace(/Z$/, 'Z')));
/** ecdsa-with-SHA256, 1.2.840.10045.4.3.2 (RFC 5758 §3.2). */
const ECDSA_SHA256 = seq(Buffer.from('06082a8648ce3d040302', 'hex'));
/** CN=fazt (id-at-commonName 2.5.4.3, UTF8String). */
const NAME = seq(der(0x31, seq(Buffer.from('0603550403', 'hex'), der(0x0c, Buffer.from('fazt')))));

/**
 * A self-signed ECDSA P-256 certificate (RFC 5280 §4.1, the fields DTLS needs) and its key, in PEM,
 * for libdatachannel's DTLS. Built with node:crypto; a peer checks only its SHA-256 fingerprint
 * (RFC 8122), which the answer carries.
 */
export function makeCertificate(now = Date.now()): { cert: string; key: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serial = randomBytes(8);
  serial[0]! &= 0x7f;
  const tbs = seq(
    der(0xa0, derInt(Buffer.of(2))), // v3
    derInt(serial[0] === 0 ? Buffer.concat([Buffer.of(1), serial.subarray(1)]) : serial),
    ECDSA_SHA256,
    NAME,
    seq(utcTime(new Date(now - 86_400_000)), utcTime(new Date(now + 30 * 86_400_000))),
    NAME,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey); // DER-encoded ECDSA signature
  const cert = seq(tbs, ECDSA_SHA256, der(0x03, Buffer.of(0), signature));
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${cert.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

/** Binds `port` (0: any) on a socket of `type`; resolves the port bound, or the error code. */
function tryBind(type: 'udp4' | 'udp6', port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const s = dgram.createSocket({ type, ipv6Only: false });
    s.once('error', (e: NodeJS.ErrnoException) => {
      s.close();
      resolve(e.code ?? 'ERROR');
    });
    s.bind(port, () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * A UDP port free now as libjuice binds it (dual-stack `[::]`, or IPv4 where there is no IPv6),
 * or 0. A port libjuice cannot bind aborts the whole process ("Failed to gather local ICE
 * candidates" is thrown on one of its threads), so each new peer connection checks it first.
 */
async function udpPortFree(port: number): Promise<number> {
  const v6 = await tryBind('udp6', port);
  if (typeof v6 === 'number') return v6;
  if (v6 === 'EADDRINUSE') return 0;
  const v4 = await tryBind('udp4', port);
  return typeof v4 === 'number' ? v4 : 0;
}

/** Direct pairing's WebRTC on the headless node (see the module notes). */
export class NodeDirectConnector implements DirectConnector {
  constructor(private readonly logger: Logger) {}

  async offer(): Promise<DirectOffer> {
    const { PeerConnection } = await load();
    const pc = new PeerConnection('fazt-direct-offer', { iceServers: [] });
    const dc = pc.createDataChannel('fazt');
    let session: CompactSession;
    try {
      await gathered(pc);
      session = compactLocal(pc);
    } catch (e) {
      pc.close();
      throw e;
    }
    return {
      session,
      connect: (answer, timeoutMs) =>
        new Promise<DirectChannel>((resolve, reject) => {
          const t = setTimeout(() => {
            pc.close();
            reject(new FaztError('PEER_UNREACHABLE', `The joining node did not connect within ${timeoutMs / 1000} s (is it still waiting, on the same network?).`));
          }, timeoutMs);
          t.unref();
          pc.onStateChange((s) => {
            if (s === 'failed') {
              clearTimeout(t);
              pc.close();
              reject(new FaztError('PEER_UNREACHABLE', 'The connection to the joining node failed (no network path between the two).'));
            }
          });
          dc.onOpen(() => {
            clearTimeout(t);
            resolve(wrap(pc, dc));
          });
          try {
            pc.setRemoteDescription(sessionToSdp(answer, 'answer'), 'answer');
          } catch (e) {
            clearTimeout(t);
            pc.close();
            reject(new FaztError('PAIRING_FAILED', `The answer could not be applied: ${(e as Error).message}`));
          }
        }),
      cancel: () => pc.close(),
    };
  }

  async answer(offer: CompactSession, until: number): Promise<DirectAnswer> {
    const { PeerConnection } = await load();
    const ufrag = randomIceChars(4); // RFC 8839 minimums (24 and 132 bits of randomness): the answer code stays short
    const pwd = randomIceChars(22);
    const dir = mkdtempSync(join(tmpdir(), 'fazt-dtls-'));
    const files = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
    const pem = makeCertificate();
    writeFileSync(files.cert, pem.cert, { mode: 0o600 });
    writeFileSync(files.key, pem.key, { mode: 0o600 });
    const port = await udpPortFree(0);
    const remote = sessionToSdp(offer, 'offer', { candidates: false });
    let current: PeerConnection | undefined;
    let done = false;
    let settle!: { resolve: (c: DirectChannel) => void; reject: (e: Error) => void };
    const channel = new Promise<DirectChannel>((resolve, reject) => (settle = { resolve, reject }));
    channel.catch(() => undefined);
    const finish = (result: DirectChannel | Error) => {
      if (done) return;
      done = true;
      clearTimeout(expiry);
      rmSync(dir, { recursive: true, force: true });
      if (result instanceof Error) {
        current?.close();
        settle.reject(result);
      } else settle.resolve(result);
    };
    const expiry = setTimeout(() => finish(new FaztError('INVITATION_EXPIRED', 'The inviting node did not take the answer before the invitation expired.')), Math.max(0, until - Date.now()));
    expiry.unref();

    /** One peer connection answering the offer with the chosen credentials, certificate and port. */
    const arm = async (): Promise<CompactSession> => {
      if (port === 0 || (await udpPortFree(port)) !== port) throw new FaztError('PEER_UNREACHABLE', `UDP port ${port} is taken: join again.`);
      const pc = new PeerConnection('fazt-direct-answer', {
        iceServers: [],
        disableAutoNegotiation: true,
        certificatePemFile: files.cert,
        keyPemFile: files.key,
        portRangeBegin: port,
        portRangeEnd: port,
      });
      current = pc;
      pc.onDataChannel((dc) => {
        if (done) return;
        const ready = () => finish(wrap(pc, dc));
        if (dc.isOpen()) ready();
        else dc.onOpen(ready);
      });
      pc.onStateChange((s) => {
        if (done) return;
        if (s === 'failed') pc.close();
        if (s === 'closed') {
          // libjuice gave up waiting (39.5 s): the same answer again, on a new peer connection
          setTimeout(() => {
            if (done) return;
            arm().catch((e: Error) => finish(e));
          }, REARM_DELAY_MS).unref();
        }
      });
      pc.setRemoteDescription(remote, 'offer');
      pc.setLocalDescription('answer', { iceUfrag: ufrag, icePwd: pwd });
      await gathered(pc);
      return compactLocal(pc);
    };

    let session: CompactSession;
    try {
      session = await arm();
    } catch (e) {
      finish(e as Error);
      throw e;
    }
    this.logger.info('direct answer ready', { port, until });
    return { session, channel, cancel: () => finish(new FaztError('PEER_UNREACHABLE', 'The direct join was cancelled.')) };
  }
}
