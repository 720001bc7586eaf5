// @ts-check
/// <reference path="../../../types/fazt.d.ts" />
/// <reference path="../../../types/fazt-stdlib.d.ts" />
// The notes app's API, on fazt.docs (collection "notes"):
//   GET    /api/notes[?done=true|false]   list, oldest first
//   POST   /api/notes        {text, done?}  create → 201
//   GET    /api/notes/:id                  one note
//   PATCH  /api/notes/:id    {text?, done?} change → the note
//   DELETE /api/notes/:id                  delete → 204
// Errors are JSON: {error: {code, message}} with 400, 404, 405 or 415.
import { z } from 'zod';

/** @typedef {{ text: string, done: boolean, createdAt: number, updatedAt: number, seq: number }} Note */

/** @type {FaztCollection<Note>} */
const notes = fazt.docs.collection('notes');

const Text = z.string().trim().min(1, 'text must not be empty').max(2000, 'text is longer than 2000 characters');
const NewNote = z.strictObject({ text: Text, done: z.boolean().default(false) });
const NoteChange = z
  .strictObject({ text: Text.optional(), done: z.boolean().optional() })
  .refine((/** @type {{ text?: string, done?: boolean }} */ c) => c.text !== undefined || c.done !== undefined, 'send "text" and/or "done" to change');

/** A JSON error answer. */
const fail = (/** @type {number} */ status, /** @type {string} */ code, /** @type {string} */ message) =>
  Response.json({ error: { code, message } }, { status });

/** The note as the API shows it: `id` instead of the store's `_id`. */
const show = (/** @type {Note & {_id: string}} */ { _id, seq, ...note }) => ({ id: _id, ...note });

/**
 * The request's JSON body checked against `schema`.
 * @template T
 * @param {Request} request
 * @param {{ safeParse(v: unknown): { success: true, data: T } | { success: false, error: { issues: { path: PropertyKey[], message: string }[] } } }} schema
 * @returns {Promise<{ data: T } | { error: Response }>}
 */
async function readBody(request, schema) {
  if (!/^application\/json\b/i.test(request.headers.get('content-type') ?? '')) {
    return { error: fail(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the note as JSON with "Content-Type: application/json".') };
  }
  let body;
  try {
    body = await request.json();
  } catch {
    return { error: fail(400, 'BAD_JSON', 'The request body is not valid JSON.') };
  }
  const r = schema.safeParse(body);
  if (!r.success) {
    const problems = r.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ` : '') + i.message);
    return { error: fail(400, 'INVALID_NOTE', problems.join('; ')) };
  }
  return { data: r.data };
}

export default /** @satisfies {FaztHandlers} */ ({
  async fetch(request) {
    const url = new URL(request.url);
    const method = request.method;

    if (url.pathname === '/api/notes') {
      if (method === 'GET') {
        const done = url.searchParams.get('done');
        if (done !== null && done !== 'true' && done !== 'false') {
          return fail(400, 'BAD_QUERY', `done must be "true" or "false", not "${done}".`);
        }
        /** @type {FaztFilter} */
        const where = done === null ? {} : { done: done === 'true' };
        // seq breaks ties between notes created in the same millisecond
        const list = await notes.find({ where, sort: { createdAt: 1, seq: 1 }, limit: 1000 });
        return { notes: list.map(show) };
      }
      if (method === 'POST') {
        const body = await readBody(request, NewNote);
        if ('error' in body) return body.error;
        const now = Date.now();
        const seq = await fazt.kv.increment('notes:seq');
        const note = await notes.insert({ ...body.data, createdAt: now, updatedAt: now, seq });
        return Response.json(show(note), { status: 201, headers: { location: `notes/${note._id}` } });
      }
      return fail(405, 'METHOD_NOT_ALLOWED', `${method} is not supported on /api/notes; use GET or POST.`);
    }

    const m = /^\/api\/notes\/([^/]+)$/.exec(url.pathname);
    if (m) {
      let id = m[1] ?? '';
      try {
        id = decodeURIComponent(id);
      } catch {
        // not valid percent-encoding: looked up as it is, so it is not found
      }
      const missing = () => fail(404, 'NOT_FOUND', `No note with id "${id}".`);
      if (method === 'GET') {
        const note = await notes.get(id);
        return note ? show(note) : missing();
      }
      if (method === 'PATCH') {
        const body = await readBody(request, NoteChange);
        if ('error' in body) return body.error;
        const changed = await notes.update(id, { $set: { ...body.data, updatedAt: Date.now() } });
        if (!changed) return missing();
        const note = await notes.get(id);
        return note ? show(note) : missing();
      }
      if (method === 'DELETE') {
        return (await notes.delete(id)) ? new Response(null, { status: 204 }) : missing();
      }
      return fail(405, 'METHOD_NOT_ALLOWED', `${method} is not supported on a note; use GET, PATCH or DELETE.`);
    }

    return fail(404, 'NOT_FOUND', `No route ${method} ${url.pathname}; see /api/notes.`);
  },
});
