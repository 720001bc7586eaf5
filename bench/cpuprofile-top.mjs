#!/usr/bin/env node
// Summarise a V8 .cpuprofile (from `node --cpu-prof`, e.g. BENCH_PROF_DIR=... node bench/static.mjs):
// top functions by self time, by inclusive time, and self time grouped by file / npm package.
//
//   node bench/cpuprofile-top.mjs FILE.cpuprofile [N] [--callers SUBSTRING]
// --callers: for functions whose "name  file:line" contains SUBSTRING, the time spent in them
// (inclusive), broken down by the calling stack (3 frames up).
import fs from 'node:fs';

const argv = process.argv.slice(2);
const ci = argv.indexOf('--callers');
const callers = ci >= 0 ? argv.splice(ci, 2)[1] : '';
const [file, nArg = '25'] = argv;
if (!file) { console.error('usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [N]'); process.exit(2); }
const N = Number(nArg);
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children || []) parent.set(c, n.id);

const self = new Map(); // node id -> µs
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i];
  self.set(id, (self.get(id) || 0) + (prof.timeDeltas[i] || 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);

const short = (url) => {
  if (!url) return '';
  let u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) return u.slice(nm);
  const cwd = process.cwd() + '/';
  return u.startsWith(cwd) ? u.slice(cwd.length) : u;
};
const key = (n) => `${n.callFrame.functionName || '(anonymous)'}  ${short(n.callFrame.url)}${n.callFrame.url ? ':' + (n.callFrame.lineNumber + 1) : ''}`;
const group = (n) => {
  const u = short(n.callFrame.url);
  if (!u) return n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : '(native/V8)';
  if (u.startsWith('node:')) return u.split('/')[0].replace(/^(node:[a-z_]+).*$/, '$1') + (u.includes('internal') ? ' (internal)' : '');
  const m = u.match(/^node_modules\/((?:@[^/]+\/)?[^/]+)/);
  return m ? `pkg ${m[1]}` : u;
};

const selfByFn = new Map();
const selfByGroup = new Map();
const incl = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  selfByFn.set(key(n), (selfByFn.get(key(n)) || 0) + t);
  selfByGroup.set(group(n), (selfByGroup.get(group(n)) || 0) + t);
  // inclusive: charge every distinct function on the stack once
  const seen = new Set();
  for (let p = id; p !== undefined; p = parent.get(p)) {
    const k = key(byId.get(p));
    if (seen.has(k)) continue;
    seen.add(k);
    incl.set(k, (incl.get(k) || 0) + t);
  }
}
const idle = [...self].filter(([id]) => byId.get(id).callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
const busy = total - idle || 1;
const pct = (t) => `${((t / busy) * 100).toFixed(1).padStart(5)}%`;
const show = (title, m) => {
  console.log(`\n${title}`);
  for (const [k, t] of [...m].filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(root)')).sort((a, b) => b[1] - a[1]).slice(0, N)) console.log(`  ${pct(t)}  ${(t / 1000).toFixed(0).padStart(7)} ms  ${k}`);
};
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled (${(busy / 1e6).toFixed(2)} s busy, ${(idle / 1e6).toFixed(2)} s idle), ${prof.samples.length} samples; percentages are of busy time`);
show('self time by file / package:', selfByGroup);
show('self time by function:', selfByFn);
show('inclusive time by function:', incl);

if (callers) {
  const by = new Map();
  for (const [id, t] of self) {
    // innermost matching frame on this sample's stack
    let p = id;
    while (p !== undefined && !key(byId.get(p)).includes(callers)) p = parent.get(p);
    if (p === undefined) continue;
    const chain = [];
    for (let q = parent.get(p); q !== undefined && chain.length < 3; q = parent.get(q)) chain.push(key(byId.get(q)).replace(/\s+/g, ' '));
    const k = `${key(byId.get(p)).replace(/\s+/g, ' ')}  <-  ${chain.join('  <-  ')}`;
    by.set(k, (by.get(k) || 0) + t);
  }
  show(`callers of "${callers}" (inclusive):`, by);
}
