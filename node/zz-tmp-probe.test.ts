import { it } from 'vitest';
import { createToken, deployZip, manifest, request, startTestNode, zip } from './test-helpers.js';
it('probe', async () => {
  const t = await startTestNode({ runtimeLimits: { cpuMs: 10000, wallMs: 20000 } });
  const admin = createToken(t, 'admin').token;
  const src = `export default { fetch(req) { const p = new URL(req.url).pathname; const t0 = Date.now(); const all = [];
    if (p === '/api/a') for (let i = 0; ; i++) all.push(Array.from({ length: 1000 }, (_, j) => ({ i, j, tags: ['a', 'b'] })));
    if (p === '/api/b') for (let i = 0; ; i++) all.push({ i });
    if (p === '/api/c') for (let i = 0; ; i++) all.push(new Array(1000).fill(0).map((_, j) => ({ j })));
    if (p === '/api/d') for (let i = 0; ; i++) { const o = {}; for (let k = 0; k < 100; k++) o['k' + k] = k; all.push(o); }
    if (p === '/api/e') { try { for (let i = 0; ; i++) all.push({ i }); } catch (e) { return { caught: String(e), name: e && e.name }; } }
    if (p === '/api/f') { try { for (let i = 0; ; i++) all.push({ i }); } catch (e) { all.length = 0; return { caught: String(e), name: e && e.name }; } }
  } }`;
  const r = await deployZip(t, admin, zip({ 'app.json': manifest({ name: 'x' }), 'api/main.js': src }));
  const id = r.json().id;
  for (const p of ['a', 'b', 'e', 'f']) {
    const t0 = performance.now();
    const res = await request(`${t.url}/a/x/api/${p}`);
    console.log(p, res.status, res.text().slice(0, 150), performance.now() - t0);
  }
  console.log(t.node.kernel.logs.tail(id, 20).map((e) => e.message).join('\n'));
  await t.stop();
}, 120000);
