/**
 * Notifications end to end (docs/notify.md): the real node on 127.0.0.1 with the real `web-push`
 * sender, against a local push-service stand-in over TLS (node/testing/push-service.ts) that checks
 * the VAPID JWT and decrypts each message with `http_ece` (aes128gcm) using the subscription key
 * pair it made — what a browser's push service and the browser do. Covers VAPID keys kept (sealed)
 * in the cartridge, strict subscription checks, per-user delivery, fazt.notify with its permission,
 * app.json rules, 404/410 removal, retries with backoff, and `fazt notify test`.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCartridgeFile } from './cartridge-file.js';
import { webPushSender } from './push-sender.js';
import { startPushService, type PushServiceStandIn, type StandInSubscription } from './testing/push-service.js';
import { createToken, deployZip, ensureBundle, expectError, manifest, removeTempDirs, request, startTestNode, tempDir, zip, type TestNode } from './test-helpers.js';
import { getMeta } from '../shared/index.js';
import { VAPID_PRIVATE_META, VAPID_PUBLIC_META, type DeliveryReport } from '../shared/notify/index.js';

const BIN = resolve(import.meta.dirname, '..', 'bin', 'fazt.js');
let ps: PushServiceStandIn;
let t: TestNode;
let admin: string;

const api = (path: string, o: Parameters<typeof request>[1] = {}) => request(`${t.url}${path}`, { token: admin, ...o });
const subscribeOwner = async (sub: StandInSubscription, device?: string) => {
  const r = await api('/api/push/subscriptions', { method: 'POST', json: device ? { ...sub.json, device } : sub.json });
  expect(r.status, r.text()).toBe(201);
  return r.json().subscription as { id: string; userId: string; device: string };
};
const payloadsFor = (sub: StandInSubscription) => ps.received.filter((r) => r.subscription === sub.id);
const lastPayload = (sub: StandInSubscription) => JSON.parse(payloadsFor(sub).at(-1)!.payload!) as Record<string, unknown>;

beforeAll(async () => {
  ps = await startPushService();
  t = await startTestNode({ notify: { push: webPushSender({ agent: ps.agent }), retryBaseMs: 20, maxAttempts: 3, timeoutMs: 5000 } });
  admin = createToken(t, 'admin', 'notify').token;
}, 60_000);

afterAll(async () => {
  await t?.stop();
  await ps?.stop();
  removeTempDirs();
});

describe('VAPID keys', () => {
  it('are made on first need, kept in the cartridge with the private key sealed, and stay the same', async () => {
    expect(getMeta(t.node.kernel.cartridge.db, VAPID_PUBLIC_META)).toBeUndefined();
    const r = await request(`${t.url}/api/push/vapid-public-key`); // public: it is what browsers pass as applicationServerKey
    expect(r.status).toBe(200);
    const key = r.json().publicKey as string;
    const bytes = Buffer.from(key, 'base64url');
    expect(bytes.length).toBe(65);
    expect(bytes[0]).toBe(4);
    expect((await request(`${t.url}/api/push/vapid-public-key`)).json().publicKey).toBe(key);
    const db = t.node.kernel.cartridge.db;
    expect(getMeta(db, VAPID_PUBLIC_META)).toBe(key);
    const sealed = getMeta(db, VAPID_PRIVATE_META)!;
    // nonce 12 + scalar 32 + GCM tag 16, hex: not the raw 32-byte scalar
    expect(sealed).toMatch(/^[0-9a-f]{120}$/);
    const priv = (await t.node.kernel.notify.vapidKeys()).privateKey;
    expect(Buffer.from(priv, 'base64url').length).toBe(32);
    expect(sealed).not.toContain(Buffer.from(priv, 'base64url').toString('hex'));
  });
});

describe('subscriptions', () => {
  it('refuse malformed PushSubscription JSON with a clear 400 and store nothing', async () => {
    const good = ps.subscribe().json;
    const cases: [unknown, RegExp][] = [
      [{ ...good, endpoint: good.endpoint.replace('https:', 'http:') }, /https: URL/],
      [{ ...good, endpoint: 'not a url' }, /not a URL/],
      [{ ...good, endpoint: 'https://user:pw@push.example/x' }, /user name or password/],
      [{ ...good, endpoint: 'https://push.example/' + 'x'.repeat(2100) }, /at most 2048/],
      [{ ...good, keys: { ...good.keys, p256dh: good.keys.p256dh.slice(0, 40) } }, /p256dh must decode to 65 bytes/],
      [{ ...good, keys: { ...good.keys, p256dh: Buffer.concat([Buffer.from([2]), Buffer.from(good.keys.p256dh, 'base64url').subarray(1)]).toString('base64url') } }, /uncompressed P-256/],
      [{ ...good, keys: { ...good.keys, auth: Buffer.alloc(8).toString('base64url') } }, /auth must decode to 16 bytes/],
      [{ ...good, keys: { ...good.keys, auth: 'not+base64/url!' } }, /auth must be a base64url/],
      [{ ...good, keys: undefined }, /keys is missing/],
      [{ ...good, expirationTime: Date.now() - 1000 }, /already expired/],
      [{ ...good, expirationTime: 'soon' }, /expirationTime must be null/],
      [{ endpoint: good.endpoint }, /keys is missing/],
      [[good], /JSON object/],
      [{ ...good, device: 'x'.repeat(101) }, /at most 100/],
    ];
    for (const [body, msg] of cases) {
      const r = await api('/api/push/subscriptions', { method: 'POST', json: body });
      expectError(r, 400, 'BAD_REQUEST', msg);
    }
    expect(t.node.kernel.notify.list()).toEqual([]);
    expectError(await request(`${t.url}/api/push/subscriptions`, { method: 'POST', json: good }), 401, 'UNAUTHORIZED');
  });

  it('store one per device, update the same endpoint in place, list and delete', async () => {
    const sub = ps.subscribe();
    const a = await subscribeOwner(sub, 'Pixel 8');
    expect(a).toMatchObject({ device: 'Pixel 8', userId: 'owner' });
    const again = await api('/api/push/subscriptions', { method: 'POST', json: { subscription: sub.json, device: 'Pixel 8 (renamed)' } });
    expect(again.status).toBe(200);
    expect(again.json().subscription).toMatchObject({ id: a.id, device: 'Pixel 8 (renamed)' });
    const list = (await api('/api/push/subscriptions')).json().subscriptions as { id: string; service: string }[];
    expect(list.map((s) => s.id)).toEqual([a.id]);
    expect(list[0]!.service).toBe(new URL(ps.origin).host);
    expect(JSON.stringify(list)).not.toContain(sub.json.keys.auth); // keys never come back
    expect((await api(`/api/push/subscriptions/${a.id}`, { method: 'DELETE' })).json()).toEqual({ removed: a.id });
    expectError(await api(`/api/push/subscriptions/${a.id}`, { method: 'DELETE' }), 404, 'NOT_FOUND', /No push subscription/);
    expect(t.node.kernel.notify.list()).toEqual([]);
  });
});

describe('sending', () => {
  it('fazt notify test --json reaches every owner device; the stand-in verifies VAPID and decrypts title, body and URL', async () => {
    const phone = ps.subscribe();
    const laptop = ps.subscribe();
    await subscribeOwner(phone, 'phone');
    await subscribeOwner(laptop, 'laptop');
    ensureBundle();
    const r = await cli(['notify', 'test', '--json', '--node', t.url, '--token', admin]);
    expect(r.code, r.stderr).toBe(0);
    const deliveries = JSON.parse(r.stdout).deliveries as DeliveryReport[];
    expect(deliveries.map((d) => [d.device, d.status, d.statusCode, d.attempts])).toEqual([
      ['phone', 'sent', 201, 1],
      ['laptop', 'sent', 201, 1],
    ]);
    for (const sub of [phone, laptop]) {
      const got = payloadsFor(sub);
      expect(got).toHaveLength(1);
      expect(got[0]!.error).toBeUndefined();
      expect(got[0]!.vapid).toMatchObject({ aud: ps.origin, publicKey: (await t.node.kernel.notify.vapidKeys()).publicKey });
      expect(got[0]!.headers).toMatchObject({ 'content-encoding': 'aes128gcm', ttl: '86400', urgency: 'normal', topic: 'fazt-test' });
      expect(lastPayload(sub)).toMatchObject({ v: 'fazt-notify/1', title: 'Fazt test notification', url: '/#/settings', icon: '/icons/icon-192.png', tag: 'fazt-test' });
      expect(lastPayload(sub).body).toMatch(/notifications reach this device/);
    }
    const human = await cli(['notify', 'test', '--node', t.url, '--token', admin]);
    expect(human.stdout).toMatch(/^ok {3}phone: sent \(201\), 1 attempt\(s\)/m);
    for (const s of t.node.kernel.notify.list()) t.node.kernel.notify.remove(s.id);
    const none = await cli(['notify', 'test', '--node', t.url, '--token', admin]);
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/No device is subscribed/);
  }, 60_000);

  it('a 410 removes the subscription; a 404 too; other devices still get it', async () => {
    const gone = ps.subscribe();
    const missing = ps.subscribe();
    const ok = ps.subscribe();
    const g = await subscribeOwner(gone, 'gone');
    const m = await subscribeOwner(missing, 'missing');
    await subscribeOwner(ok, 'ok');
    ps.answer(gone, 410);
    ps.answer(missing, 404);
    const r = await t.node.kernel.notify.send({ to: 'owner', title: 'Hello', body: 'World', url: '/#/apps' });
    expect(r.map((d) => [d.device, d.status, d.statusCode, d.attempts])).toEqual([
      ['gone', 'expired', 410, 1],
      ['missing', 'expired', 404, 1],
      ['ok', 'sent', 201, 1],
    ]);
    expect(t.node.kernel.notify.get(g.id)).toBeUndefined();
    expect(t.node.kernel.notify.get(m.id)).toBeUndefined();
    expect(lastPayload(ok)).toMatchObject({ title: 'Hello', body: 'World', url: '/#/apps' });
    expect(t.logs.some((l) => l.msg === 'notify: subscription expired, removed')).toBe(true);
    for (const s of t.node.kernel.notify.list()) t.node.kernel.notify.remove(s.id);
  });

  it('a 500 is retried with backoff until it is accepted; persistent failure stops after the last attempt and is logged; a 400 is not retried', async () => {
    const flaky = ps.subscribe();
    const broken = ps.subscribe();
    const refused = ps.subscribe();
    await subscribeOwner(flaky, 'flaky');
    const b = await subscribeOwner(broken, 'broken');
    await subscribeOwner(refused, 'refused');
    ps.answer(flaky, 500, 503);
    ps.answer(broken, 500, 500, 500);
    ps.answer(refused, 400);
    const r = await t.node.kernel.notify.send({ to: 'owner', title: 'Retry me' });
    const by = Object.fromEntries(r.map((d) => [d.device, d]));
    expect(by.flaky).toMatchObject({ status: 'sent', statusCode: 201, attempts: 3 });
    expect(payloadsFor(flaky).map((x) => x.status)).toEqual([500, 503, 201]);
    // backoff: 20 ms then 40 ms between the attempts
    const at = payloadsFor(flaky).map((x) => x.at);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(15);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(35);
    expect(by.broken).toMatchObject({ status: 'failed', statusCode: 500, attempts: 3 });
    expect(by.broken!.error).toMatch(/answered 500/);
    expect(payloadsFor(broken)).toHaveLength(3);
    expect(by.refused).toMatchObject({ status: 'failed', statusCode: 400, attempts: 1 });
    expect(payloadsFor(refused)).toHaveLength(1);
    // the failing subscription is kept (only 404/410 remove), with its failure recorded
    expect(t.node.kernel.notify.get(b.id)).toMatchObject({ failures: 1, lastError: expect.stringMatching(/500/) });
    expect(t.logs.filter((l) => l.msg === 'notify: delivery failed, retrying').length).toBeGreaterThanOrEqual(4);
    expect(t.logs.some((l) => l.msg === 'notify: delivery failed' && l.fields?.device === 'broken')).toBe(true);
    for (const s of t.node.kernel.notify.list()) t.node.kernel.notify.remove(s.id);
  });

  it('a subscription past its expirationTime is removed without a send', async () => {
    const sub = ps.subscribe();
    const r = await api('/api/push/subscriptions', { method: 'POST', json: { ...sub.json, expirationTime: Date.now() + 300 } });
    expect(r.status).toBe(201);
    await new Promise((res) => setTimeout(res, 400));
    const [d] = await t.node.kernel.notify.send({ to: 'owner', title: 'Too late' });
    expect(d).toMatchObject({ status: 'expired', attempts: 0, error: expect.stringMatching(/expirationTime passed/) });
    expect(payloadsFor(sub)).toHaveLength(0);
    expect(t.node.kernel.notify.list()).toEqual([]);
  });

  it('an unreachable push service is retried and reported failed', async () => {
    const sub = ps.subscribe();
    const dead = { ...sub.json, endpoint: 'https://127.0.0.1:1/push/x' };
    const r = await api('/api/push/subscriptions', { method: 'POST', json: dead });
    expect(r.status).toBe(201);
    const [d] = await t.node.kernel.notify.send({ to: 'owner', title: 'Nobody home' });
    expect(d).toMatchObject({ status: 'failed', statusCode: null, attempts: 3 });
    expect(d!.error).toMatch(/no answer from the push service/);
    t.node.kernel.notify.remove(r.json().subscription.id);
  });

  it('refuses bad messages with INVALID_ARGUMENT / LIMIT_EXCEEDED', async () => {
    await expect(t.node.kernel.notify.send({ to: 'owner', title: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/title must not be empty/) });
    await expect(t.node.kernel.notify.send({ to: 'owner', title: 'x'.repeat(201) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(t.node.kernel.notify.send({ to: 'everyone' as never, title: 'x' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/"to" must be/) });
    await expect(t.node.kernel.notify.send({ to: 'owner', title: 'x', url: 'javascript:alert(1)' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(t.node.kernel.notify.send({ to: 'owner', title: 'x', body: '\u0001'.repeat(1000) }) /* JSON-escaped: 6 bytes each */).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    const r = await api('/api/push/send', { method: 'POST', json: { to: 'owner', title: 42 } });
    expectError(r, 400, 'INVALID_ARGUMENT', /title must be a string/);
  });
});

describe('per user', () => {
  it("a family member's device gets only what is addressed to them; the owner's gets only the owner's", async () => {
    const db = t.node.kernel.cartridge.db;
    const memberId = 'member-' + randomBytes(4).toString('hex');
    db.run("INSERT INTO users (id, username, role, password_hash, created_at, deleted, hlc, node_id) VALUES (?, ?, 'member', 'x', 0, 0, '0', 'n')", [memberId, memberId]);
    const session = randomBytes(32).toString('hex');
    db.run('INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, 0, ?)', [createHash('sha256').update(session).digest('hex'), memberId, Date.now() + 3600_000]);
    const asMember = { cookie: `fazt_session=${session}`, origin: t.url };
    const memberSub = ps.subscribe();
    const ownerSub = ps.subscribe();
    const ms = await request(`${t.url}/api/push/subscriptions`, { method: 'POST', headers: asMember, json: memberSub.json });
    expect(ms.status, ms.text()).toBe(201);
    expect(ms.json().subscription.userId).toBe(memberId);
    const os = await subscribeOwner(ownerSub, 'owner phone');
    // the member lists and removes only their own
    const seen = (await request(`${t.url}/api/push/subscriptions`, { headers: asMember })).json().subscriptions as { id: string }[];
    expect(seen.map((s) => s.id)).toEqual([ms.json().subscription.id]);
    expectError(await request(`${t.url}/api/push/subscriptions/${os.id}`, { method: 'DELETE', headers: asMember }), 404, 'NOT_FOUND');
    expectError(await request(`${t.url}/api/push/send`, { method: 'POST', headers: asMember, json: { to: 'owner', title: 'x' } }), 403, 'FORBIDDEN');

    const before = ps.received.length;
    const toOwner = await t.node.kernel.notify.send({ to: 'owner', title: 'For the owner' });
    expect(toOwner.map((d) => d.device)).toEqual(['owner phone']);
    const toMember = await t.node.kernel.notify.send({ to: { userId: memberId }, title: 'For the member' });
    expect(toMember.map((d) => [d.userId, d.status])).toEqual([[memberId, 'sent']]);
    const got = ps.received.slice(before).map((r) => [r.subscription, JSON.parse(r.payload!).title]);
    expect(got).toEqual([
      [ownerSub.id, 'For the owner'],
      [memberSub.id, 'For the member'],
    ]);
    // the member's test notification goes to the member's device only
    const test = await request(`${t.url}/api/push/test`, { method: 'POST', headers: asMember, json: {} });
    expect(test.json().deliveries.map((d: DeliveryReport) => d.userId)).toEqual([memberId]);
    for (const s of t.node.kernel.notify.list()) t.node.kernel.notify.remove(s.id);
  });
});

describe('apps', () => {
  const APP = `export default {
    async fetch(request) {
      const body = await request.json();
      try {
        return Response.json({ deliveries: await fazt.notify(body) });
      } catch (e) {
        return Response.json({ code: e.code, message: e.message }, { status: 400 });
      }
    },
  };`;
  const call = (app: string, body: unknown) => request(`${t.url}/a/${app}/api/notify`, { method: 'POST', json: body });

  it('fazt.notify needs the notify permission granted by the owner, then reaches the owner as the app (title, icon, URL into the app)', async () => {
    const sub = ps.subscribe();
    await subscribeOwner(sub, 'phone');
    const files = { 'app.json': manifest({ name: 'notes', title: 'Notes', icon: 'icon.png', permissions: ['notify'] }), 'api/main.js': APP, 'icon.png': 'png', 'index.html': 'hi' };
    expect((await deployZip(t, admin, zip(files))).status).toBe(201);
    const denied = await call('notes', { title: 'x' });
    expect(denied.json()).toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringMatching(/fazt app grant notes notify/) });
    t.node.kernel.permissions.grant(t.node.kernel.apps.require('notes').id, ['notify']);
    const r = await call('notes', { title: 'New note', body: 'Buy milk', url: 'notes/42', tag: 'note-42' });
    expect(r.status, r.text()).toBe(200);
    expect(r.json().deliveries).toMatchObject([{ device: 'phone', status: 'sent', statusCode: 201 }]);
    expect(lastPayload(sub)).toEqual({ v: 'fazt-notify/1', title: 'New note', body: 'Buy milk', url: '/#/open/notes/notes%2F42', icon: '/a/notes/icon.png', tag: 'note-42', app: 'notes' });
    const out = await call('notes', { title: 'x', url: 'https://evil.example/' });
    expect(out.json()).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/path inside the app/) });
    const noTitle = await call('notes', { body: 'x' });
    expect(noTitle.json()).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/title is required/) });
    for (const s of t.node.kernel.notify.list()) t.node.kernel.notify.remove(s.id);
  }, 30_000);

  it('app.json notify rules are checked at deploy and turn the app\'s events into notifications to the owner', async () => {
    const sub = ps.subscribe();
    await subscribeOwner(sub, 'phone');
    const emitter = `export default { async fetch(request) { const b = await request.json(); await fazt.events.emit(b.type, b.payload); return Response.json({ ok: true }); } };`;
    const deploy = (m: Record<string, unknown>) => deployZip(t, admin, zip({ 'app.json': manifest({ name: 'todo', ...m }), 'api/main.js': emitter }));
    const rule = { on: 'task.done', title: 'Done: {{payload.task.name}}', body: '{{app}} says {{type}}', url: 'tasks/{{payload.id}}' };
    expectError(await deploy({ notify: [rule] }), 422, 'INVALID_MANIFEST', /need the "notify" permission/);
    expectError(await deploy({ permissions: ['notify'], notify: [{ ...rule, title: '{{secrets}}' }] }), 422, 'INVALID_MANIFEST', /placeholders are/);
    expectError(await deploy({ permissions: ['notify'], notify: [{ ...rule, on: 'bad type!' }] }), 422, 'INVALID_MANIFEST', /"on" must be an event type/);
    expectError(await deploy({ permissions: ['notify'], notify: [{ ...rule, sound: 'ding' }] }), 422, 'INVALID_MANIFEST', /unknown key "sound"/);
    expectError(await deploy({ permissions: ['notify'], notify: { on: 'x' } }), 422, 'INVALID_MANIFEST', /notify/);
    const ok = await deploy({ title: 'Todo', permissions: ['notify'], notify: [rule] });
    expect(ok.status, ok.text()).toBe(201);
    expect(ok.json().warnings ?? []).not.toContain('app.json: unknown key "notify" ignored');
    // not granted yet: the rule is skipped, and the app's log says why
    const before = payloadsFor(sub).length;
    await request(`${t.url}/a/todo/api/x`, { method: 'POST', json: { type: 'task.done', payload: { id: 7, task: { name: 'Taxes' } } } });
    await new Promise((r) => setTimeout(r, 200));
    expect(payloadsFor(sub)).toHaveLength(before);
    const appId = t.node.kernel.apps.require('todo').id;
    expect(t.node.kernel.logs.query(appId, {}).some((e) => /notify rule for "task.done" skipped/.test(e.message))).toBe(true);
    t.node.kernel.permissions.grant(appId, ['notify']);
    await request(`${t.url}/a/todo/api/x`, { method: 'POST', json: { type: 'task.done', payload: { id: 7, task: { name: 'Taxes' } } } });
    await request(`${t.url}/a/todo/api/x`, { method: 'POST', json: { type: 'task.other', payload: {} } });
    await expect.poll(() => payloadsFor(sub).length, { timeout: 5000 }).toBe(before + 1);
    expect(lastPayload(sub)).toMatchObject({ title: 'Done: Taxes', body: 'Todo says task.done', url: '/#/open/todo/tasks%2F7', app: 'todo' });
    for (const s of t.node.kernel.notify.list()) t.node.kernel.notify.remove(s.id);
  }, 30_000);
});

describe('fazt notify test on a cartridge file (--db), trusting the stand-in through NODE_EXTRA_CA_CERTS', () => {
  it('sends with the node offline and reports; a failed delivery exits 1', async () => {
    const db = join(tempDir('fazt-notify-db-'), 'data.db');
    const sub = ps.subscribe();
    const env = { NODE_EXTRA_CA_CERTS: ps.certFile };
    // subscribe through the offline API path too: the CLI has no subscribe command, so use the kernel directly
    const { kernelForFile } = await import('./kernel-file.js');
    const f2 = openCartridgeFile(db);
    const k = kernelForFile(f2);
    k.notify.subscribe(k.notify.ownerId(), sub.json, 'offline phone');
    f2.db.close();
    const r = await cli(['notify', 'test', '--json', '--db', db], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).deliveries).toMatchObject([{ device: 'offline phone', status: 'sent', statusCode: 201 }]);
    expect(lastPayload(sub).title).toBe('Fazt test notification');
    ps.answer(sub, 400);
    const bad = await cli(['notify', 'test', '--db', db], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAIL offline phone: failed \(400\)/m);
  }, 60_000);
});

function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const home = tempDir('fazt-home-');
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), NO_COLOR: '1', ...extraEnv };
  for (const k of Object.keys(env)) if (k.startsWith('FAZT_')) delete env[k];
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}
