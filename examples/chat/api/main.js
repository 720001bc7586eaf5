// @ts-check
// A chat on fazt.ai (docs/ai.md): POST /api/chat streams the answer as Server-Sent Events in the AI
// SDK's UI message stream protocol; the page (app.js) shows the tokens as they come. One tool, `now`,
// runs here in the sandbox when the model asks for the time.

const MAX_MESSAGES = 50;
const MAX_CHARS = 20_000;

/** @param {string} code @param {string} message @param {number} status */
const fail = (code, message, status) => Response.json({ error: { code, message } }, { status });

/** @type {Record<string, FaztAiTool>} */
const tools = {
  now: {
    description: 'The current date and time (UTC, ISO 8601).',
    inputSchema: { type: 'object', properties: {}, additionalProperties: false },
    execute: () => ({ now: new Date().toISOString() }),
  },
};

export default /** @satisfies {FaztHandlers} */ ({
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname !== '/api/chat') return fail('NOT_FOUND', `No route ${pathname}; POST /api/chat.`, 404);
    if (request.method !== 'POST') return fail('METHOD_NOT_ALLOWED', 'POST a JSON body {"messages": [{"role": "user", "content": "…"}]}.', 405);
    /** @type {any} */
    let body;
    try {
      body = await request.json();
    } catch {
      return fail('BAD_REQUEST', 'The body must be JSON: {"messages": [{"role": "user", "content": "…"}]}.', 400);
    }
    const messages = Array.isArray(body?.messages) ? body.messages : null;
    if (!messages || messages.length === 0 || messages.length > MAX_MESSAGES) return fail('BAD_REQUEST', `messages must be an array of 1–${MAX_MESSAGES} {role, content}.`, 400);
    let chars = 0;
    for (const m of messages) {
      if (!m || (m.role !== 'user' && m.role !== 'assistant') || typeof m.content !== 'string') return fail('BAD_REQUEST', 'Each message is {"role": "user" | "assistant", "content": "text"}.', 400);
      chars += m.content.length;
    }
    if (chars > MAX_CHARS) return fail('BAD_REQUEST', `The conversation is over ${MAX_CHARS} characters; start a new one.`, 400);
    // errors before the first token (no provider, a refused key, over budget) answer with their own
    // status and JSON body; a failure mid-way arrives as an SSE "error" event
    return fazt.ai
      .streamText({
        model: typeof body.model === 'string' ? body.model : undefined,
        system: 'You are a helpful assistant inside a small personal cloud. Answer briefly.',
        messages,
        tools,
        maxSteps: 3,
      })
      .toUIMessageStreamResponse();
  },
});
