/**
 * A local push-service stand-in for tests and benches: an HTTPS server on 127.0.0.1 with a
 * self-signed certificate made for the run (openssl), that receives what a Web Push sender POSTs
 * (RFC 8030), checks the VAPID header (RFC 8292: an ES256 JWT whose `aud` is this origin, signed by
 * the key in `k=`) and DECRYPTS the payload with `http_ece` (aes128gcm, RFC 8188 / RFC 8291) using
 * the private key of a subscription it made (ECDH P-256) — as a browser's push service and the
 * browser together would.
 *
 *   const ps = await startPushService();
 *   const sub = ps.subscribe();                // PushSubscription.toJSON() shape, endpoint on ps
 *   ps.answer(sub, 500, 201);                  // first POST answers 500, the next 201
 *   … send …; ps.received                      // [{ subscription, status, payload, headers, vapid }]
 */
import { createECDH, createPublicKey, randomBytes, verify } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Agent, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const ece = createRequire(import.meta.url)('http_ece') as { decrypt(buf: Buffer, params: { version: string; privateKey: unknown; authSecret: string }): Buffer };

/** A subscription the stand-in made: what a browser would POST to the node, and its private half. */
export interface StandInSubscription {
  /** `PushSubscription.toJSON()`. */
  json: { endpoint: string; expirationTime: null; keys: { p256dh: string; auth: string } };
  /** The id in the endpoint's path. */
  id: string;
}

/** One POST the stand-in received. */
export interface ReceivedPush {
  /** The subscription id from the path. */
  subscription: string;
  /** What the stand-in answered. */
  status: number;
  /** The decrypted payload as text (`undefined` when it could not be decrypted: see `error`). */
  payload?: string;
  /** Why decryption or the VAPID check failed. */
  error?: string;
  /** Request headers (lowercase). */
  headers: Record<string, string>;
  /** The VAPID JWT's claims, when its signature verified. */
  vapid?: { aud: string; exp: number; sub: string; publicKey: string };
  /** ms since epoch. */
  at: number;
}

/** A running stand-in. */
export interface PushServiceStandIn {
  /** `https://127.0.0.1:PORT`. */
  origin: string;
  /** The self-signed certificate (PEM), for `NODE_EXTRA_CA_CERTS` or an agent's `ca`. */
  certPem: string;
  /** Path of the certificate file (for `NODE_EXTRA_CA_CERTS` of a child process). */
  certFile: string;
  /** An `https.Agent` that trusts the certificate (keep-alive). */
  agent: Agent;
  /** Everything received, in order. */
  received: ReceivedPush[];
  /** Makes a subscription (a new P-256 key pair and auth secret) whose endpoint is on this server. */
  subscribe(): StandInSubscription;
  /** Queues statuses the subscription's next POSTs answer (then 201 again). */
  answer(sub: StandInSubscription, ...statuses: number[]): void;
  /** Skip decryption (benches measuring the sender alone). */
  decrypt: boolean;
  stop(): Promise<void>;
}

function b64url(b: Buffer): string {
  return b.toString('base64url');
}

/** Verifies `Authorization: vapid t=JWT, k=KEY` (RFC 8292 §3). */
function checkVapid(header: string | undefined, origin: string): { aud: string; exp: number; sub: string; publicKey: string } {
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!m) throw new Error(`Authorization is not "vapid t=…, k=…": ${header}`);
  const [h, p, s] = m[1]!.split('.');
  const pub = Buffer.from(m[2]!, 'base64url');
  if (pub.length !== 65 || pub[0] !== 4) throw new Error('k is not an uncompressed P-256 point');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64url(pub.subarray(1, 33)), y: b64url(pub.subarray(33)) }, format: 'jwk' });
  const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s!, 'base64url'));
  if (!ok) throw new Error('the VAPID JWT signature does not verify with k');
  const jose = JSON.parse(Buffer.from(h!, "base64url").toString()) as { alg: string };
  if (jose.alg !== "ES256") throw new Error(`JWT alg ${jose.alg}, not ES256`);
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as { aud: string; exp: number; sub: string };
  if (claims.aud !== origin) throw new Error(`JWT aud ${claims.aud}, not ${origin}`);
  if (claims.exp * 1000 < Date.now()) throw new Error('JWT expired');
  return { ...claims, publicKey: m[2]! };
}

/** Starts the stand-in on 127.0.0.1, a free port. */
export async function startPushService(): Promise<PushServiceStandIn> {
  const dir = mkdtempSync(join(tmpdir(), 'fazt-push-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const certPem = readFileSync(certFile, 'utf8');
  const subs = new Map<string, { ecdh: ReturnType<typeof createECDH>; auth: string; queue: number[] }>();
  const received: ReceivedPush[] = [];
  let origin = '';
  const self = { decrypt: true };
  const server: Server = createServer({ key: readFileSync(keyFile), cert: certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = (req.url ?? '').replace(/^\/push\//, '');
      const sub = subs.get(id);
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const status = req.method !== 'POST' ? 405 : !sub ? 404 : (sub.queue.shift() ?? 201);
      const r: ReceivedPush = { subscription: id, status, headers, at: Date.now() };
      if (sub && self.decrypt) {
        try {
          r.vapid = checkVapid(req.headers.authorization, origin);
          if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error(`Content-Encoding ${req.headers['content-encoding']}`);
          r.payload = ece.decrypt(Buffer.concat(chunks), { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth }).toString('utf8');
        } catch (e) {
          r.error = (e as Error).message;
        }
      }
      received.push(r);
      res.writeHead(status, status === 201 ? { location: `${origin}/message/${received.length}` } : { 'content-type': 'text/plain' });
      res.end(status === 201 ? '' : `stand-in answered ${status}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = new Agent({ ca: certPem, keepAlive: true });
  return Object.assign(self, {
    origin,
    certPem,
    certFile,
    agent,
    received,
    subscribe(): StandInSubscription {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const id = randomBytes(8).toString('hex');
      const auth = b64url(randomBytes(16));
      subs.set(id, { ecdh, auth, queue: [] });
      return { id, json: { endpoint: `${origin}/push/${id}`, expirationTime: null, keys: { p256dh: b64url(ecdh.getPublicKey()), auth } } };
    },
    answer(sub: StandInSubscription, ...statuses: number[]) {
      subs.get(sub.id)!.queue.push(...statuses);
    },
    async stop() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  });
}
