/**
 * The sync admin API on a real node over real HTTP (docs/api.md "Sync"): status, sync now, the
 * conflicts list and their resolution, and the clear errors for bad input. The conflict is made the
 * way a peer makes one: a batch of rows from another writer, through the sync engine (S13).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, expectError, removeTempDirs, request, startTestNode, zip, type TestNode } from './test-helpers.js';

let t: TestNode;
let admin: string;
let deploy: string;
const api = (path: string, options: Parameters<typeof request>[1] = {}) => request(`${t.url}${path}`, { token: admin, ...options });

beforeAll(async () => {
  t = await startTestNode();
  admin = createToken(t, 'admin').token;
  deploy = createToken(t, 'deploy').token;
});
afterAll(async () => {
  await t.stop();
  removeTempDirs();
});

const PEER = 'abcdefabcdef0123';
const stamp = (ms: number, w: string, c = 0) => `${ms.toString(16).padStart(13, '0')}-${c.toString(16).padStart(4, '0')}-${w}`;

describe('the sync API', () => {
  it('GET /api/sync/status lists no peers on a lone node; POST /api/sync/now has no one to sync with', async () => {
    expect((await api('/api/sync/status')).json()).toEqual([]);
    const now = await api('/api/sync/now', { method: 'POST', json: {} });
    expect(now.status, now.text()).toBe(200);
    expect(now.json()).toEqual({ peers: [], status: [] });
    expectError(await api('/api/sync/now', { method: 'POST', json: { timeoutMs: -5 } }), 400, 'BAD_REQUEST', /timeoutMs/);
    expectError(await api('/api/sync/status', { token: deploy }), 403, 'FORBIDDEN');
    expectError(await request(`${t.url}/api/sync/status`), 401, 'UNAUTHORIZED');
  });

  it('S13: a conflict is listed and resolved keep loser (the losing value is written again) or keep winner', async () => {
    const k = t.node.kernel;
    k.kv.set('app1', 'k', '"mine"');
    const mine = k.cartridge.db.get<{ hlc: string }>("SELECT hlc FROM app_kv WHERE app_id = 'app1' AND key = 'k'")!.hlc;
    const later = Number.parseInt(mine.slice(0, 13), 16) + 1000;
    // a peer's concurrent write (its base is not our version): it wins, ours is kept as a conflict
    k.sync.engine.apply(PEER, { from: 0, to: 1, rows: [{ t: 'kv', app: 'app1', key: 'k', v: '"theirs"', exp: null, h: stamp(later, PEER), b: null }] });
    expect(k.kv.get('app1', 'k')).toBe('"theirs"');
    const list = (await api('/api/conflicts')).json();
    expect(list).toEqual([{ id: expect.stringMatching(/^[0-9a-f]{32}$/), app: 'app1', appName: null, kind: 'kv', key: 'k', winner: '"theirs"', loser: '"mine"', at: expect.any(Number), resolution: null }]);
    const id = list[0].id;
    expectError(await api(`/api/conflicts/${id}/resolve`, { method: 'POST', json: { keep: 'mine' } }), 400, 'INVALID_ARGUMENT', /winner" or "loser/);
    expectError(await api('/api/conflicts/nope/resolve', { method: 'POST', json: { keep: 'loser' } }), 404, 'NOT_FOUND', /no conflict/);
    const r = await api(`/api/conflicts/${id}/resolve`, { method: 'POST', json: { keep: 'loser' } });
    expect(r.status, r.text()).toBe(200);
    expect(r.json()).toMatchObject({ id, resolution: 'loser' });
    expect(k.kv.get('app1', 'k')).toBe('"mine"');
    expect((await api('/api/conflicts')).json()).toEqual([]);
    expect((await api('/api/conflicts?all=1')).json()).toHaveLength(1);
    expectError(await api('/api/conflicts?all=maybe'), 400, 'BAD_REQUEST');
    const again = await api(`/api/conflicts/${id}/resolve`, { method: 'POST', json: { keep: 'winner' } });
    expect(again.json()).toMatchObject({ resolution: 'winner' });
    expect(k.kv.get('app1', 'k')).toBe('"mine"'); // keep winner changes no value
  });

  it("S17: GET and PUT /api/apps/:app/home show and move an app's home; bad input is named", async () => {
    const dep = await request(`${t.url}/api/apps?name=cronapp`, {
      method: 'POST',
      token: admin,
      headers: { 'content-type': 'application/zip' },
      body: zip({ 'app.json': JSON.stringify({ name: 'cronapp', schedule: [{ name: 'tick', cron: '*/5 * * * *' }] }), 'api/main.js': 'export function scheduled() {}' }),
    });
    expect(dep.status, dep.text()).toBe(201);
    const id = t.node.kernel.apps.resolve('cronapp')!.id;
    const home = await api('/api/apps/cronapp/home');
    expect(home.json()).toEqual({ app: 'cronapp', appId: id, writerId: t.node.kernel.cartridge.nodeId, self: true, nodeId: t.node.kernel.mesh.id().nodeId, name: expect.any(String) });
    expectError(await api('/api/apps/cronapp/home', { method: 'PUT', json: { node: 'abcdefghijklmnop' } }), 403, 'NOT_PAIRED', /fazt mesh peers/);
    expectError(await api('/api/apps/cronapp/home', { method: 'PUT', json: { node: 7 } }), 400, 'BAD_REQUEST', /"self"/);
    expectError(await api('/api/apps/nope/home'), 404, 'APP_NOT_FOUND');
    expectError(await api('/api/apps/cronapp/home', { method: 'PUT', json: { node: 'self' }, token: deploy }), 403, 'FORBIDDEN');
    const moved = await api('/api/apps/cronapp/home', { method: 'PUT', json: { node: 'self' } });
    expect(moved.status, moved.text()).toBe(200);
    expect(moved.json()).toMatchObject({ self: true });
    expect(t.node.kernel.jobs.list(id).filter((j) => j.kind === 'cron')).toHaveLength(1);
  });
});
