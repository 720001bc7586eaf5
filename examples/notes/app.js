// The notes page: plain DOM, no build step. Every URL is relative ("api/notes"), so the page works
// on its own origin (http://notes.localhost:8080/) and under a path (http://host:8080/a/notes/).
const list = document.getElementById('notes');
const form = document.getElementById('add');
const input = document.getElementById('text');
const errorBox = document.getElementById('error');
const empty = document.getElementById('empty');
const filters = document.querySelectorAll('[data-filter]');
let filter = ''; // '' all, 'false' open, 'true' done

/** Calls the API; resolves the parsed JSON (or null for 204), rejects with the API's error message. */
async function api(path, options = {}) {
  const init = { ...options, headers: { accept: 'application/json' } };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    init.headers['content-type'] = 'application/json';
  }
  const res = await fetch(path, init);
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(data?.error?.message ?? `The server answered ${res.status}.`);
  return data;
}

function showError(e) {
  errorBox.textContent = e ? e.message : '';
  errorBox.hidden = !e;
}

function render(notes) {
  list.replaceChildren(
    ...notes.map((note) => {
      const li = document.createElement('li');
      li.dataset.id = note.id;
      li.className = note.done ? 'done' : '';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = note.done;
      box.id = `note-${note.id}`;
      box.addEventListener('change', () => run(() => api(`api/notes/${encodeURIComponent(note.id)}`, { method: 'PATCH', body: { done: box.checked } })));
      const label = document.createElement('label');
      label.htmlFor = box.id;
      label.textContent = note.text;
      const del = document.createElement('button');
      del.type = 'button';
      del.className = 'delete';
      del.textContent = '✕';
      del.setAttribute('aria-label', `Delete “${note.text}”`);
      del.addEventListener('click', () => run(() => api(`api/notes/${encodeURIComponent(note.id)}`, { method: 'DELETE' })));
      li.append(box, label, del);
      return li;
    }),
  );
  empty.hidden = notes.length > 0;
}

async function load() {
  const { notes } = await api(`api/notes${filter ? `?done=${filter}` : ''}`);
  render(notes);
}

/** Runs a change, then reloads the list; shows what went wrong, if anything. */
async function run(change) {
  try {
    await change();
    showError(null);
  } catch (e) {
    showError(e);
  }
  await load().catch(showError);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = input.value;
  run(async () => {
    await api('api/notes', { method: 'POST', body: { text } });
    input.value = '';
  });
});

for (const button of filters) {
  button.addEventListener('click', () => {
    filter = button.dataset.filter;
    for (const b of filters) b.setAttribute('aria-pressed', String(b === button));
    load().catch(showError);
  });
}

load().catch(showError);
