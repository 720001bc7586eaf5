/**
 * Helpers of the app-frame tests (e2e/frames.spec.ts): a small host page that shows apps in
 * `<fazt-app-frame>` (web/frame bundled with esbuild, served on the real node's own origin through
 * Playwright routing, so it is "the dashboard's origin" with its storage and cookies), and the test
 * apps written to temp folders and deployed with the real CLI.
 */
import type { FrameLocator, Page } from '@playwright/test';
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './fixtures.js';

/** Path of the test host page on the node's origin. */
export const HOST_PATH = '/__frames/host.html';

const HOST_ENTRY = `
import { sourceFromBase } from './web/frame/index.ts';
import { FrameBridge, serveBridge } from './web/frame/bridge.ts';
import { virtualOrigin } from './web/frame/paths.ts';

const frame = document.createElement('fazt-app-frame');
frame.id = 'app';
document.body.append(frame);
window.navLog = [];
frame.addEventListener('fazt-app-navigate', (e) => window.navLog.push(e.detail.path));
window.unresponsive = 0;
frame.addEventListener('fazt-app-unresponsive', () => window.unresponsive++);
/** Shows an app of the hub in the frame. */
window.openApp = (name, path = '') => {
  frame.source = sourceFromBase('/a/' + name + '/', { title: name });
  frame.path = path;
};
/** Sends raw messages to a bridge bound to app NAME and collects the answers. */
window.probeBridge = async (name, messages) => {
  const { port1, port2 } = new MessageChannel();
  const close = serveBridge(new FrameBridge(sourceFromBase('/a/' + name + '/'), virtualOrigin(name), () => {}), port1);
  const answers = [];
  port2.onmessage = (e) => answers.push(e.data);
  for (const m of messages) port2.postMessage(m);
  await new Promise((r) => setTimeout(r, 1500));
  close();
  return answers;
};
`;

let bundled: Promise<string> | undefined;

/** The host page's script: web/frame and the test host, bundled once per worker. */
export function hostScript(): Promise<string> {
  bundled ??= esbuild
    .build({
      stdin: { contents: HOST_ENTRY, resolveDir: REPO_ROOT, sourcefile: 'frames-host.ts', loader: 'ts' },
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      tsconfig: path.join(REPO_ROOT, 'web', 'tsconfig.json'),
      logLevel: 'silent',
    })
    .then((r) => r.outputFiles[0]!.text);
  return bundled;
}

/** Serves the host page at `origin + HOST_PATH` for this page and opens it. */
export async function openHost(page: Page, origin: string): Promise<void> {
  const js = await hostScript();
  await page.route(`${origin}/__frames/**`, (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === HOST_PATH) {
      return route.fulfill({
        contentType: 'text/html; charset=utf-8',
        body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>frame host</title>
<style>html,body{margin:0;height:100%}#app{height:100vh}</style></head><body><script type="module" src="/__frames/host.js"></script></body></html>`,
      });
    }
    if (url.pathname === '/__frames/host.js') return route.fulfill({ contentType: 'text/javascript; charset=utf-8', body: js });
    return route.fulfill({ status: 404, body: 'no' });
  });
  await page.goto(origin + HOST_PATH);
  await page.waitForFunction(() => typeof (window as unknown as { openApp?: unknown }).openApp === 'function');
}

/** The app's frame inside `<fazt-app-frame>`. */
export function appFrame(page: Page): FrameLocator {
  return page.frameLocator('fazt-app-frame iframe');
}

/** Shows app NAME (deployed on the node) in the host's frame. */
export async function openApp(page: Page, name: string, appPath = ''): Promise<void> {
  await page.evaluate(([n, p]) => (window as unknown as { openApp(n: string, p: string): void }).openApp(n!, p!), [name, appPath]);
}

/** Writes files (relative path → content) into a new temp folder; returns the folder. */
export function writeApp(files: Record<string, string | Buffer>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-frame-app-'));
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
  return dir;
}

/** A 2×2 red PNG. */
const RED_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEklEQVR4nGP4z8DAwMDAwMAAAA0QAQZ6o4cSAAAAAElFTkSuQmCC',
  'base64',
);

/**
 * A multi-file app: a stylesheet with `@import` and `url()`, images (`<img>`, CSS, one added later
 * by script), an ES module graph with `../` imports, a JSON module, literal and computed dynamic
 * imports, a classic script, `import.meta.url`, its API reached with `fetch('api/…')`,
 * `fetch('/api/…')`, `fetch(new URL('api/…', location))` and XMLHttpRequest, a static file read
 * with fetch, and a second page.
 */
export function galleryApp(): Record<string, string | Buffer> {
  return {
    'app.json': JSON.stringify({ name: 'gallery', title: 'Gallery' }),
    'index.html': `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gallery</title>
<link rel="stylesheet" href="css/app.css">
<script src="js/classic.js"></script>
<script type="module" src="js/main.js"></script>
</head><body>
<h1 id="title">Gallery</h1>
<img id="logo" src="img/logo.svg" alt="logo" width="40" height="40">
<img id="photo" src="./img/red.png" alt="red" width="20" height="20">
<div id="bg" class="bg">background</div>
<p><a id="about" href="about/">About</a> <a id="jump" href="#bottom">down</a></p>
<pre id="results">{}</pre>
<p id="bottom">bottom</p>
</body></html>`,
    'css/app.css': `@import "base.css";\n.bg { background-image: url("../img/red.png"); width: 40px; height: 40px; }\n`,
    'css/base.css': `h1 { color: rgb(10, 20, 30); }\n`,
    'img/logo.svg': `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><circle cx="20" cy="20" r="18" fill="#0a7"/></svg>`,
    'img/red.png': RED_PNG,
    'js/classic.js': `window.classicRan = document.readyState;\n`,
    'js/main.js': `import { greet } from './lib/greet.js';
import info from '../data/info.json' with { type: 'json' };
const out = { greet: greet('frame'), info: info.kind, classic: window.classicRan, meta: import.meta.url };
const show = () => { document.getElementById('results').textContent = JSON.stringify(out); };
const json = (r) => r.json();
out.lazy = (await import('./lazy.js')).default;
const name = 'lazy2';
out.lazy2 = (await import('./' + name + '.js')).default;
out.rel = await fetch('api/hello?x=1').then(json);
out.abs = await fetch('/api/hello', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 1 }) }).then(json);
out.loc = await fetch(new URL('api/hello', location)).then(json);
out.file = await fetch('data/info.json').then(json);
out.missing = (await fetch('nope.txt')).status;
out.xhr = await new Promise((resolve) => {
  const x = new XMLHttpRequest();
  x.open('GET', 'api/hello?xhr=1');
  x.onload = () => resolve({ status: x.status, body: JSON.parse(x.responseText) });
  x.onerror = () => resolve('error');
  x.send();
});
const late = document.createElement('div');
late.innerHTML = '<img id="late" src="img/logo.svg" alt="late" width="10" height="10">';
document.body.append(late);
out.baseURI = document.baseURI;
out.done = true;
show();
`,
    'js/lib/greet.js': `import { shout } from '../util/shout.js';\nexport const greet = (n) => shout('hello ' + n);\n`,
    'js/util/shout.js': `export const shout = (s) => s.toUpperCase();\n`,
    'js/lazy.js': `export default 'lazy loaded';\n`,
    'js/lazy2.js': `import { shout } from './util/shout.js';\nexport default shout('computed');\n`,
    'data/info.json': JSON.stringify({ kind: 'json module' }),
    'about/index.html': `<!doctype html><html><head><meta charset="utf-8"><title>About</title><link rel="stylesheet" href="../css/app.css"></head>
<body><h1 id="about-title">About the gallery</h1><a id="home" href="../">Home</a>
<form id="search" action="../search.html"><input name="q" value="cats"><button id="go">Go</button></form>
<form id="post" method="post" action="../api/form"><input name="note" value="posted"><button id="send">Send</button></form></body></html>`,
    'search.html': `<!doctype html><html><head><meta charset="utf-8"><title>Search</title></head>
<body><p id="q"></p><script>document.getElementById('q').textContent = new URL(document.baseURI).searchParams.get('q');</script></body></html>`,
    'api/main.js': `export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/api/form') {
      const form = await request.formData();
      return new Response('<!doctype html><p id="posted">' + form.get('note') + '</p>', { headers: { 'content-type': 'text/html' } });
    }
    const body = request.method === 'POST' ? await request.json() : null;
    return { hello: 'world', path: url.pathname, query: url.search, method: request.method, body };
  },
};
`,
  };
}

/**
 * An app that probes its cage: the dashboard's storage, cookies, OPFS and DOM, the bridge for other
 * apps' files and API (traversal, other origins, a stolen bridge port with forged comlink
 * messages), and the hub's admin API over the network. Results go into `#results` as JSON. With
 * `?mode=…` it misbehaves instead: `top` (navigate the top page), `popup` (window.open), `alerts`
 * (an endless alert loop), `flood` (huge postMessage floods at its parent).
 */
export function hostileApp(hubOrigin: string): Record<string, string> {
  return {
    'app.json': JSON.stringify({ name: 'hostile', title: 'Hostile' }),
    'index.html': `<!doctype html><html><head><meta charset="utf-8"><title>Hostile</title></head><body>
<pre id="results">running</pre><script type="module" src="probe.js"></script></body></html>`,
    'api/main.js': `export default { fetch(request) { return { mine: true, path: new URL(request.url).pathname }; } };\n`,
    'probe.js': `
const HUB = ${JSON.stringify(hubOrigin)};
const mode = new URL(document.baseURI).searchParams.get('mode');
const out = {};
const show = () => { document.getElementById('results').textContent = JSON.stringify(out); };
const attempt = async (name, fn) => {
  try { out[name] = { ok: true, value: await fn() }; } catch (e) { out[name] = { ok: false, error: String(e && (e.name || e.message) || e) }; }
};
if (mode === 'top') {
  await attempt('topAssign', () => { top.location.href = HUB + '/__frames/escaped'; return 'assigned'; });
  await attempt('parentAssign', () => { parent.location = HUB + '/__frames/escaped'; return 'assigned'; });
  await attempt('formTarget', () => { const f = document.createElement('form'); f.action = HUB + '/__frames/escaped'; f.target = '_top'; document.body.append(f); f.submit(); return 'submitted'; });
  out.done = true; show();
} else if (mode === 'popup') {
  await attempt('open', () => { const w = window.open(HUB + '/__frames/popup', '_blank'); return w ? 'opened' : null; });
  out.done = true; show();
} else if (mode === 'alerts') {
  out.done = true; show();
  setTimeout(() => { for (;;) { alert('you cannot leave'); confirm('really?'); } }, 100);
} else if (mode === 'flood') {
  out.done = true; show();
  const big = new Uint8Array(8 * 1024 * 1024);
  setTimeout(() => { for (let i = 0; ; i++) { parent.postMessage({ fazt: 'hello', nonce: 'x' + i, big }, '*'); if (i % 50 === 0) { for (let j = 0; j < 200; j++) parent.postMessage({ fazt: 'port', i: j }, '*'); } } }, 100);
} else {
  await attempt('localStorage', () => localStorage.getItem('dash-secret'));
  await attempt('sessionStorage', () => sessionStorage.getItem('dash-secret'));
  await attempt('cookie', () => document.cookie);
  await attempt('indexedDB', () => new Promise((resolve, reject) => { const r = indexedDB.open('dash-db'); r.onsuccess = () => resolve(r.result.objectStoreNames.length); r.onerror = () => reject(r.error); }));
  await attempt('opfs', async () => { const d = await navigator.storage.getDirectory(); const names = []; for await (const k of d.keys()) names.push(k); return names; });
  await attempt('caches', async () => (await caches.keys()).length);
  await attempt('parentDocument', () => parent.document.title);
  await attempt('parentStorage', () => parent.localStorage.getItem('dash-secret'));
  await attempt('frameElement', () => String(window.frameElement));
  await attempt('origin', () => self.origin);
  await attempt('ownApi', () => fetch('api/who').then((r) => r.json()));
  await attempt('traversalApi', () => fetch('../notes/api/notes').then((r) => r.status + ' ' + r.url));
  await attempt('pathToOtherApp', () => fetch('/a/notes/api/notes').then((r) => r.status));
  await attempt('encodedTraversal', () => fetch('api/..%2F..%2F..%2Fnotes%2Fapi%2Fnotes').then((r) => r.status));
  await attempt('encodedDots', () => fetch('%2e%2e/%2e%2e/notes/api/notes').then((r) => r.status + ' ' + new URL(r.url).pathname));
  await attempt('otherAppOrigin', () => fetch('https://notes.fazt.invalid/api/notes').then((r) => r.status));
  await attempt('otherAppImport', () => import('https://notes.fazt.invalid/app.js').then(() => 'imported'));
  await attempt('adminApi', () => fetch(HUB + '/api/apps', { credentials: 'include' }).then((r) => r.status));
  await attempt('adminApiNoCors', () => fetch(HUB + '/api/apps?no-cors', { credentials: 'include', mode: 'no-cors' }).then((r) => r.type));
  // Steal the runtime's bridge port and speak comlink to the host directly.
  await attempt('forged', async () => {
    let stolen = null;
    const orig = MessagePort.prototype.postMessage;
    MessagePort.prototype.postMessage = function (...a) { stolen = this; return orig.apply(this, a); };
    await fetch('api/steal');
    MessagePort.prototype.postMessage = orig;
    if (!stolen) return 'no port';
    const answers = [];
    stolen.addEventListener('message', (e) => { if (String(e.data && e.data.id).startsWith('evil')) answers.push(e.data); });
    const send = (m) => orig.call(stolen, m);
    send({ id: 'evil1', type: 'SET', path: ['__proto__', 'polluted'], value: { type: 'RAW', value: 'yes' } });
    send({ id: 'evil2', type: 'GET', path: ['page', 'constructor'] });
    send({ id: 'evil3', type: 'APPLY', path: ['constructor', 'constructor'], argumentList: [{ type: 'RAW', value: 'return document.cookie' }] });
    send({ id: 'evil4', type: 'APPLY', path: ['asset'], argumentList: [{ type: 'RAW', value: 'https://notes.fazt.invalid/index.html' }, { type: 'RAW', value: 'raw' }] });
    send({ id: 'evil5', type: 'APPLY', path: ['fetch'], argumentList: [{ type: 'RAW', value: { url: 'https://hostile.fazt.invalid/api/..%2F..%2Fnotes/api/notes', method: 'GET', headers: [], body: null } }] });
    send({ id: 'evil6', type: 'APPLY', path: ['page'], argumentList: [{ type: 'HANDLER', name: 'proxy', value: null }] });
    send({ id: 'evil7', type: 'ENDPOINT', path: [] });
    send({ id: 'evil8', type: 'APPLY', path: ['fetch'], argumentList: [{ type: 'RAW', value: { url: 'http://127.0.0.1/api/apps', method: 'GET', headers: [], body: null } }] });
    await new Promise((r) => setTimeout(r, 1500));
    return answers.map((a) => ({ id: a.id, type: a.type, message: a.value && a.value.value && a.value.value.message }));
  });
  out.done = true;
  show();
}
`,
  };
}
