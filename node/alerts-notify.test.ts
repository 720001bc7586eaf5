/**
 * Critical conditions reach the owner's devices (docs/pulse.md "Alerts", docs/safeguards.md): the
 * disk guard tripping and a Pulse alert each send one Web Push to the owner's subscribed device,
 * through the real `web-push` sender to the local push-service stand-in (which decrypts it), on a real
 * node on 127.0.0.1. The disk is made small with `FAZT_DISK_QUOTA_BYTES` (read at each check).
 */
import { statSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { webPushSender } from './push-sender.js';
import { startPushService, type PushServiceStandIn } from './testing/push-service.js';
import { createToken, deployZip, removeTempDirs, request, startTestNode, zip, type TestNode } from './test-helpers.js';

let ps: PushServiceStandIn;
let t: TestNode;

beforeAll(async () => {
  ps = await startPushService();
  t = await startTestNode({ notify: { push: webPushSender({ agent: ps.agent }), retryBaseMs: 20, maxAttempts: 2, timeoutMs: 5000 } });
}, 60_000);

afterAll(async () => {
  delete process.env.FAZT_DISK_QUOTA_BYTES;
  await t?.stop();
  await ps?.stop();
  removeTempDirs();
});

const waitFor = async (what: string, cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

it('a tripped disk guard and a Pulse disk alert each notify the owner once (opening the Health screen) and are system events for granted apps', async () => {
  const admin = createToken(t, 'admin', 'alerts').token;
  const sub = ps.subscribe();
  const r = await request(`${t.url}/api/push/subscriptions`, { method: 'POST', token: admin, json: sub.json });
  expect(r.status, r.text()).toBe(201);
  const payloads = () => ps.received.filter((x) => x.subscription === sub.id).map((x) => JSON.parse(x.payload!) as { title: string; body?: string; url: string; tag?: string });

  // two apps follow the node's own events; only one has the owner's grant of events:fazt
  const watcher = (name: string) =>
    zip({
      'app.json': JSON.stringify({ name, permissions: ['events:fazt'], events: { subscribe: ['fazt:pulse.alert', 'fazt:disk.full'] } }),
      'api/main.js': `export function on(e) { fazt.log.info('${name} got ' + e.type + ' from ' + e.app); }`,
    });
  for (const name of ['watcher', 'nosy']) expect((await deployZip(t, admin, watcher(name), name)).status).toBe(201);
  t.node.kernel.grantPermissions('watcher', ['events:fazt']);
  const watcherId = t.node.kernel.apps.resolve('watcher')!.id;

  // a disk barely bigger than the cartridge file (its WAL counts too): over both the guard's and Pulse's 80%
  const size = statSync(t.db).size;
  process.env.FAZT_DISK_QUOTA_BYTES = String(Math.ceil(size * 1.05));
  const st = await t.node.kernel.diskGuard.refresh();
  expect(st.tripped).toBe(true);
  await waitFor('the disk guard notification', () => payloads().some((p) => p.tag === 'disk-guard'));
  await t.node.kernel.diskGuard.refresh(); // still tripped: no second notification
  await t.node.kernel.pulse.snapshot();
  await waitFor('the Pulse alert notification', () => payloads().some((p) => p.tag === 'pulse-disk-full'));
  await t.node.kernel.pulse.snapshot(); // the alert is open: not raised again
  await new Promise((res) => setTimeout(res, 300));
  const got = payloads();
  expect(got.map((p) => p.tag).sort()).toEqual(['disk-guard', 'pulse-disk-full']);
  const guard = got.find((p) => p.tag === 'disk-guard')!;
  expect(guard).toMatchObject({ title: 'Disk almost full: Fazt refuses new data', url: '/#/health' });
  expect(guard.body).toMatch(/is \d+% used \(limit 80%\)/);
  expect(got.find((p) => p.tag === 'pulse-disk-full')!.url).toBe('/#/health');

  // the same conditions are the node's own events (emitter "fazt"), delivered to the granted app only
  const system = t.node.kernel.events.recent(undefined, 50).filter((e) => e.appId === 'fazt');
  expect(system.map((e) => e.type).sort()).toEqual(['disk.full', 'pulse.alert']);
  expect(system.find((e) => e.type === 'pulse.alert')!.payload).toMatchObject({ condition: 'disk-full', severity: expect.any(String) });
  for (const e of system) {
    await waitFor(`the delivery of ${e.type}`, () => t.node.kernel.events.deliveries(e.id).some((d) => d.status === 'done'));
    expect(t.node.kernel.events.deliveries(e.id).map((d) => [d.appId, d.status])).toEqual([[watcherId, 'done']]);
  }

  // space comes back: the guard lets writes in again
  process.env.FAZT_DISK_QUOTA_BYTES = String(size * 100);
  expect((await t.node.kernel.diskGuard.refresh()).tripped).toBe(false);
}, 60_000);
