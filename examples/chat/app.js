// The chat page: plain DOM, no build step. It POSTs the conversation to api/chat (a relative URL, so
// it works on chat.localhost and under /a/chat/) and reads the answer as Server-Sent Events in the AI
// SDK's UI message stream protocol, appending each text delta as it arrives.
const log = document.getElementById('log');
const form = document.getElementById('ask');
const prompt = document.getElementById('prompt');
const send = document.getElementById('send');
const errorBox = document.getElementById('error');
/** The conversation so far: { role: 'user' | 'assistant', content }. */
const messages = [];

function bubble(role, text) {
  const li = document.createElement('li');
  li.className = role;
  li.textContent = text;
  log.append(li);
  li.scrollIntoView({ block: 'end' });
  return li;
}

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

/** Yields the `data:` payloads of a text/event-stream body (WHATWG HTML §9.2). */
async function* events(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
      if (data) yield data;
    }
  }
}

async function ask(text) {
  errorBox.hidden = true;
  messages.push({ role: 'user', content: text });
  bubble('user', text);
  const answer = bubble('assistant', '');
  answer.classList.add('streaming');
  send.disabled = true;
  let got = '';
  try {
    const res = await fetch('api/chat', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages }) });
    if (!res.ok) {
      const e = await res.json().catch(() => null);
      throw new Error(e?.error?.message ?? `The node answered ${res.status}.`);
    }
    for await (const data of events(res.body)) {
      if (data === '[DONE]') break;
      const part = JSON.parse(data);
      if (part.type === 'text-delta') {
        got += part.delta;
        answer.textContent = got;
      } else if (part.type === 'tool-input-available') {
        answer.dataset.tools = `${answer.dataset.tools ?? ''}${part.toolName} `;
      } else if (part.type === 'error') {
        throw new Error(part.errorText);
      }
    }
    messages.push({ role: 'assistant', content: got });
  } catch (e) {
    showError(e.message);
    if (!got) {
      answer.remove();
      messages.pop();
    }
  } finally {
    answer.classList.remove('streaming');
    send.disabled = false;
  }
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = prompt.value.trim();
  if (!text) return;
  prompt.value = '';
  void ask(text);
});
prompt.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey) {
    ev.preventDefault();
    form.requestSubmit();
  }
});
