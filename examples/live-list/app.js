// The live list page: plain DOM, no build step. It follows the realtime channel "items" (from
// _fazt/realtime.js, served by the node on the app's origin) and loads the list from api/items
// (relative URLs: it works on live-list.localhost, under /a/live-list/ and in the dashboard's frames).
// Changes arrive as {op: "add", item} / {op: "remove", id}; applying them is idempotent, so a message
// that crosses the first load does no harm. After a `reset` (messages were missed: the node restarted,
// or the page was away longer than the replay window) the list is loaded again.
const list = document.getElementById('list');
const empty = document.getElementById('empty');
const form = document.getElementById('add');
const input = document.getElementById('text');
const errorBox = document.getElementById('error');
const status = document.getElementById('status');
/** id → <li> */
const shown = new Map();

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

function add(item) {
  if (shown.has(item.id)) return;
  const li = document.createElement('li');
  li.dataset.id = item.id;
  const text = document.createElement('span');
  text.textContent = item.text;
  const del = document.createElement('button');
  del.type = 'button';
  del.className = 'delete';
  del.textContent = '✕';
  del.setAttribute('aria-label', `Remove ${item.text}`);
  del.addEventListener('click', () => remove(item.id));
  li.append(text, del);
  list.append(li);
  shown.set(item.id, li);
  empty.hidden = true;
}

function drop(id) {
  shown.get(id)?.remove();
  shown.delete(id);
  empty.hidden = shown.size > 0;
}

async function load() {
  const res = await fetch('api/items');
  if (!res.ok) return showError(`The list could not be loaded (${res.status}).`);
  const { items } = await res.json();
  const ids = new Set(items.map((i) => i.id));
  for (const id of [...shown.keys()]) if (!ids.has(id)) drop(id);
  items.forEach(add);
}

async function remove(id) {
  const res = await fetch(`api/items/${encodeURIComponent(id)}`, { method: 'DELETE' });
  if (!res.ok && res.status !== 404) showError(`Could not remove it (${res.status}).`);
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  showError('');
  const res = await fetch('api/items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    return showError(body?.error?.message ?? `Could not add it (${res.status}).`);
  }
  input.value = '';
  add(await res.json()); // the realtime message for it may come first or later: add() keeps one
});

fazt.realtime.onStatus((state) => {
  status.dataset.state = state;
  status.textContent = state === 'open' ? 'live' : state === 'connecting' ? 'connecting…' : 'offline';
});
fazt.realtime.subscribe(
  'items',
  (msg) => {
    if (msg.op === 'add') add(msg.item);
    else if (msg.op === 'remove') drop(msg.id);
  },
  { onReset: () => void load() },
);
void load();
