#!/usr/bin/env node
// Push benchmark (issue 14): Web Push sends per second from the headless node's sender to the local
// push-service stand-in (node/testing/push-service.ts: HTTPS on 127.0.0.1, self-signed certificate),
// against a plain HTTPS POST of the same size to the same server in the same run.
//
//   node bench/push.mjs [--sends 400] [--concurrency 8] [--json]
//
// Measured, each with `--concurrency` requests in flight over one keep-alive agent:
//   https-post   a plain HTTPS POST of the same body size (≈ what an encrypted message weighs): the baseline
//   web-push     node/push-sender.ts (web-push 3.6: ECDH P-256 + HKDF + AES-128-GCM per message,
//                an ES256 VAPID JWT per message, the POST): what one device's delivery costs
//   notify       POST /api/push/send on a real node process (bench/lib/nodes.mjs; it trusts the
//                stand-in through NODE_EXTRA_CA_CERTS), one subscribed device: the above plus the
//                API request, validation, the subscription lookup and update in the cartridge
//   fan-out      the same to an owner with 20 devices: deliveries per second
// The stand-in does not decrypt during the timed runs (it did in a check before: the messages decrypt).
// Reported: sends/s and the ratio to https-post.
import { request } from 'node:https';
import { join } from 'node:path';
import { register } from 'tsx/esm/api';
import { nodeProcesses } from './lib/nodes.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const JSON_ONLY = args.includes('--json');
const SENDS = opt('sends', 400);
const CONC = opt('concurrency', 8);
const log = (...a) => (JSON_ONLY ? console.error(...a) : console.log(...a));
const r1 = (x) => Math.round(x * 10) / 10;

register();
const { startPushService } = await import('../node/testing/push-service.ts');
const { webPushSender } = await import('../node/push-sender.ts');
const webpush = (await import('web-push')).default;

const ps = await startPushService();

/** Runs `fn` `n` times with `conc` in flight; returns sends per second. */
async function rate(n, conc, fn) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < n) {
        next++;
        await fn();
      }
    }),
  );
  return (n / (performance.now() - t0)) * 1000;
}

const payload = JSON.stringify({ v: 'fazt-notify/1', title: 'New note', body: 'Buy milk and bread on the way home', url: '/#/open/notes/notes%2F42', icon: '/a/notes/icon.png', tag: 'note-42', app: 'notes' });
// aes128gcm adds a 86-byte header (salt, rs, idlen, 65-byte key id), a padding delimiter and a 16-byte tag
const bodySize = payload.length + 86 + 1 + 16;
const plainBody = Buffer.alloc(bodySize, 1);

// a check first: the stand-in decrypts what the sender sends
const check = ps.subscribe();
const { privateKey, publicKey } = webpush.generateVAPIDKeys();
const sender = webPushSender({ agent: ps.agent });
const opts = { vapid: { subject: 'mailto:bench@fazt.invalid', publicKey, privateKey }, ttlSeconds: 60, timeoutMs: 10_000 };
const first = await sender.send(check.json, payload, opts);
if (first.statusCode !== 201 || ps.received.at(-1)?.payload !== payload) throw new Error(`the stand-in did not get the message: ${JSON.stringify(ps.received.at(-1))}`);
ps.decrypt = false;

const plainPost = () =>
  new Promise((resolve, reject) => {
    const req = request(`${check.json.endpoint}`, { method: 'POST', agent: ps.agent, headers: { 'content-length': plainBody.length, 'content-type': 'application/octet-stream', ttl: '60' } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(plainBody);
  });

// a real node: one subscribed device (then 20)
process.env.NODE_EXTRA_CA_CERTS = ps.certFile;
const nodes = nodeProcesses('fazt-bench-push-');
const node = await nodes.start(join(nodes.tmp, 'push.db'), { token: true });
async function api(method, path, body) {
  const r = await fetch(node.url + path, { method, headers: { authorization: `Bearer ${node.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const j = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${j.error?.message ?? r.status}`);
  return j;
}
await api('POST', '/api/push/subscriptions', { subscription: ps.subscribe().json, device: 'bench phone' });
const notify = async (n) => {
  const { deliveries } = await api('POST', '/api/push/send', { to: 'owner', title: 'New note', body: 'Buy milk and bread on the way home', url: '/#/apps' });
  if (deliveries.length !== n || deliveries.some((d) => d.status !== 'sent')) throw new Error(JSON.stringify(deliveries));
};

// warm-up
await rate(50, CONC, plainPost);
await rate(50, CONC, () => sender.send(check.json, payload, opts));
await rate(50, CONC, () => notify(1));

const results = {};
results.httpsPost = await rate(SENDS, CONC, plainPost);
results.webPush = await rate(SENDS, CONC, () => sender.send(check.json, payload, opts));
results.notify = await rate(SENDS, CONC, () => notify(1));
for (let i = 0; i < 19; i++) await api('POST', '/api/push/subscriptions', { subscription: ps.subscribe().json, device: `bench device ${i}` });
const fanRounds = Math.max(5, Math.round(SENDS / 20));
const t0 = performance.now();
for (let i = 0; i < fanRounds; i++) {
  await notify(20);
}
const fanMs = (performance.now() - t0) / fanRounds;
results.fanOut = (20 / fanMs) * 1000;
await nodes.stop(node);
await ps.stop();

const out = {
  sends: SENDS,
  concurrency: CONC,
  bodyBytes: bodySize,
  sendsPerSecond: { httpsPost: r1(results.httpsPost), webPush: r1(results.webPush), notify: r1(results.notify), fanOut20: r1(results.fanOut) },
  fanOut20Ms: r1(fanMs),
  ratioToHttpsPost: { webPush: Math.round((results.webPush / results.httpsPost) * 100) / 100, notify: Math.round((results.notify / results.httpsPost) * 100) / 100, fanOut20: Math.round((results.fanOut / results.httpsPost) * 100) / 100 },
};
if (JSON_ONLY) console.log(JSON.stringify(out, null, 2));
else {
  log(`push sends to the local stand-in (${SENDS} each, ${CONC} in flight, ${bodySize}-byte bodies, one keep-alive agent)`);
  log(`  https-post (baseline)  ${out.sendsPerSecond.httpsPost} /s`);
  log(`  web-push sender        ${out.sendsPerSecond.webPush} /s   (${out.ratioToHttpsPost.webPush}× the baseline)`);
  log(`  node: POST /api/push/send ${out.sendsPerSecond.notify} /s   (${out.ratioToHttpsPost.notify}× the baseline)`);
  log(`  fan-out to 20 devices  ${out.fanOut20Ms} ms per notification = ${out.sendsPerSecond.fanOut20} deliveries/s (${out.ratioToHttpsPost.fanOut20}× the baseline)`);
}
process.exit(0);
