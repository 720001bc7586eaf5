/**
 * The built-in minimal dashboard: first-run owner setup, sign-in, the app list with links, API
 * tokens. Self-contained (no build step, no external requests) and talks only to `/api/…`.
 * The installable PWA dashboard replaces it through `KernelOptions.dashboard`.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Fazt</title>
<style>
:root{color-scheme:light dark;--bg:#f7f7f5;--fg:#1d1d1f;--muted:#666;--card:#fff;--line:#ddd;--accent:#2f6fed}
@media(prefers-color-scheme:dark){:root{--bg:#111;--fg:#eee;--muted:#aaa;--card:#1b1b1d;--line:#333;--accent:#6d9bff}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;align-items:center;justify-content:space-between;padding:.75rem 1rem;border-bottom:1px solid var(--line)}
header h1{font-size:1.25rem;margin:0}main{max-width:52rem;margin:0 auto;padding:1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1rem;margin:0 0 1rem}
label{display:block;margin:.5rem 0 .25rem}input{font:inherit;width:100%;padding:.6rem;border:1px solid var(--line);border-radius:8px;background:var(--bg);color:var(--fg)}
button{font:inherit;padding:.6rem 1rem;border:0;border-radius:8px;background:var(--accent);color:#fff;cursor:pointer;min-height:44px}
button.link{background:none;color:var(--accent);padding:.25rem}
.err{color:#c62828;min-height:1.5em}.muted{color:var(--muted)}ul{list-style:none;padding:0;margin:0}
li.app{display:flex;justify-content:space-between;gap:1rem;padding:.75rem 0;border-top:1px solid var(--line)}li.app:first-child{border-top:0}
code{background:var(--bg);padding:.1em .3em;border-radius:4px;word-break:break-all}
</style></head>
<body><header><h1>Fazt</h1><span id="who" class="muted"></span></header>
<main>
<section id="setup" class="card" hidden><h2>Welcome: set up this node</h2>
<p class="muted">Choose the owner password. It protects this node's dashboard and API.</p>
<form id="setup-form"><label for="setup-pw">Owner password (at least 8 characters)</label><input id="setup-pw" type="password" autocomplete="new-password" required minlength="8">
<div id="setup-code-row" hidden><label for="setup-code">Setup code (printed by the node when it started)</label><input id="setup-code" autocomplete="one-time-code"></div>
<p class="err" id="setup-err" role="alert"></p><button type="submit">Create owner</button></form></section>
<section id="login" class="card" hidden><h2>Sign in</h2>
<form id="login-form"><label for="login-pw">Owner password</label><input id="login-pw" type="password" autocomplete="current-password" required>
<p class="err" id="login-err" role="alert"></p><button type="submit">Sign in</button></form></section>
<section id="home" hidden>
<div class="card"><h2>Apps</h2><ul id="apps"></ul>
<p class="muted">Deploy a folder with <code>fazt app deploy ./my-site --token &lt;token&gt;</code>.</p></div>
<div class="card"><h2>API tokens</h2><p class="muted">For the CLI and scripts.</p>
<button id="new-token">Create deploy token</button><p id="token-out"></p><ul id="tokens"></ul></div>
<button class="link" id="logout">Sign out</button></section>
</main>
<script type="module">
const $ = (id) => document.getElementById(id);
async function api(path, opts = {}) {
  const res = await fetch('/api' + path, { ...opts, headers: { 'content-type': 'application/json', ...(opts.headers || {}) } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error ? body.error.message : res.statusText);
  return body;
}
function show(id) { for (const s of ['setup', 'login', 'home']) $(s).hidden = s !== id; }
async function refresh() {
  const s = await api('/session');
  if (!s.setUp) { const st = await api('/setup'); $('setup-code-row').hidden = !st.codeRequired; return show('setup'); }
  if (!s.authenticated) return show('login');
  show('home'); $('who').textContent = 'Owner';
  const { apps } = await api('/apps');
  $('apps').replaceChildren(...apps.map((a) => { const li = document.createElement('li'); li.className = 'app';
    const left = document.createElement('div'); const t = document.createElement('strong'); t.textContent = a.title || a.name;
    const m = document.createElement('div'); m.className = 'muted'; m.textContent = a.name + ' · version ' + a.currentVersion;
    left.append(t, m); const links = document.createElement('div');
    for (const u of a.urls) { const l = document.createElement('a'); l.href = u; l.textContent = new URL(u).host + new URL(u).pathname; l.target = '_blank'; l.rel = 'noopener'; l.style.display = 'block'; links.append(l); }
    li.append(left, links); return li; }));
  if (!apps.length) $('apps').innerHTML = '<li class="muted">No apps yet.</li>';
  const { tokens } = await api('/tokens');
  $('tokens').replaceChildren(...tokens.map((t) => { const li = document.createElement('li'); li.textContent = t.name + ' (' + t.scope + ')'; return li; }));
}
$('setup-form').onsubmit = async (e) => { e.preventDefault(); $('setup-err').textContent = '';
  try { await api('/setup', { method: 'POST', body: JSON.stringify({ password: $('setup-pw').value, code: $('setup-code').value }) }); await refresh(); }
  catch (err) { $('setup-err').textContent = err.message; } };
$('login-form').onsubmit = async (e) => { e.preventDefault(); $('login-err').textContent = '';
  try { await api('/login', { method: 'POST', body: JSON.stringify({ password: $('login-pw').value }) }); await refresh(); }
  catch (err) { $('login-err').textContent = err.message; } };
$('logout').onclick = async () => { await api('/logout', { method: 'POST' }); $('who').textContent = ''; refresh(); };
$('new-token').onclick = async () => { const t = await api('/tokens', { method: 'POST', body: JSON.stringify({ scope: 'deploy', name: 'dashboard' }) });
  $('token-out').innerHTML = 'New token (shown once): <code></code>'; $('token-out').querySelector('code').textContent = t.token; refresh(); };
refresh().catch((e) => { document.querySelector('main').textContent = 'Cannot reach the node: ' + e.message; });
</script></body></html>`;
