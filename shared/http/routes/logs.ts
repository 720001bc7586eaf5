import { FaztError } from '../../errors.js';
import type { AppRecord } from '../../apps/index.js';
import { LOG_LEVELS, type LogEntry, type LogLevel } from '../../storage/index.js';
import { appOf, intParam } from '../api-input.js';
import { json } from '../responses.js';
import type { ApiCall, ApiRouter } from '../router.js';

/** An app's logs: a page of entries, or a live server-sent event stream (`?follow=1`). */

/** @throws FaztError `BAD_REQUEST` for an unknown level. */
function logLevelParam(v: string | null): LogLevel | undefined {
  if (v === null || v === '') return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(v)) throw new FaztError('BAD_REQUEST', `level must be one of ${LOG_LEVELS.join(', ')} (got "${v.slice(0, 40)}").`);
  return v as LogLevel;
}

/** Interval of the comment lines that keep an idle log stream (and proxies in between) alive, ms. */
const LOG_STREAM_HEARTBEAT_MS = 15_000;
/** Entries queued for a slow log follower before its stream is ended (it reconnects with `Last-Event-ID`). */
const LOG_STREAM_MAX_QUEUE = 1000;

/**
 * A server-sent event stream (text/event-stream) of an app's log entries: first the backlog (entries
 * after `after`, or the last `limit`), then live entries as they are appended. Each event's `id` is
 * the entry's id, so a client reconnecting with `Last-Event-ID` resumes without gaps or repeats.
 * Ends when the client goes away (the host cancels the body), when the app is removed, or when the
 * client falls more than {@link LOG_STREAM_MAX_QUEUE} entries behind; every path unsubscribes.
 */
function followLogs(c: ApiCall, app: AppRecord, o: { after?: number; limit: number; level?: LogLevel }): Response {
  const headers = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' };
  if (c.request.method === 'HEAD') return new Response(null, { headers });
  const { logs, apps } = c.kernel;
  const encoder = new TextEncoder();
  const minLevel = LOG_LEVELS.indexOf(o.level ?? 'debug');
  let lastId = o.after ?? 0;
  let cleanup = () => {};
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let open = true;
        const send = (text: string) => {
          if (open) controller.enqueue(encoder.encode(text));
        };
        const end = () => {
          if (!open) return;
          cleanup();
          controller.close();
        };
        let backlog = 0;
        const sendEntry = (e: LogEntry) => {
          if (e.id <= lastId || LOG_LEVELS.indexOf(e.level) < minLevel) return;
          lastId = e.id;
          send(`id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`);
        };
        const sendLive = (e: LogEntry) => {
          sendEntry(e);
          // queued chunks = highWaterMark − desiredSize; the backlog may fill the queue at first
          if (open && (controller.desiredSize ?? 0) < -backlog) {
            send(': too far behind; reconnect with Last-Event-ID\n\n');
            end();
          }
        };
        // Subscribe before reading the backlog; ids dedupe the overlap (both run synchronously anyway).
        const unsubscribe = logs.subscribe(app.id, sendLive);
        const unwatch = apps.onChange((ch) => {
          if (ch.kind === 'remove' && ch.appId === app.id) {
            send(': app removed\n\n');
            end();
          }
        });
        const heartbeat = setInterval(() => send(': heartbeat\n\n'), LOG_STREAM_HEARTBEAT_MS);
        (heartbeat as { unref?: () => void }).unref?.(); // never keeps a Node process alive
        cleanup = () => {
          open = false;
          clearInterval(heartbeat);
          unsubscribe();
          unwatch();
        };
        send(`retry: 1000\n: following ${app.name}\n\n`); // also makes the host send the headers now
        if (o.after !== undefined) {
          for (;;) {
            const page = logs.query(app.id, { afterId: lastId, limit: 1000, level: o.level });
            page.forEach(sendEntry);
            backlog += page.length;
            if (page.length < 1000) break;
          }
        } else if (o.limit > 0) {
          const page = logs.tail(app.id, o.limit, o.level);
          page.forEach(sendEntry);
          backlog = page.length;
        }
      },
      cancel() {
        cleanup();
      },
    },
    { highWaterMark: LOG_STREAM_MAX_QUEUE },
  );
  return new Response(stream, { headers });
}

/** Adds `/api/apps/:ref/logs`. */
export function logRoutes(api: ApiRouter): void {
  api.route('GET', '/api/apps/:ref/logs', 'deploy', (c) => {
    const app = appOf(c);
    const q = c.url.searchParams;
    const level = logLevelParam(q.get('level'));
    const follow = q.get('follow');
    if (follow !== null && follow !== '0' && follow !== 'false') {
      const lastEventId = c.request.headers.get('last-event-id');
      const after = lastEventId !== null && lastEventId.trim() !== '' ? intParam('Last-Event-ID', lastEventId, 0) : intParam('after', q.get('after'), 0);
      return followLogs(c, app, { after, limit: intParam('limit', q.get('limit'), 0, 1000) ?? 0, level });
    }
    const after = intParam('after', q.get('after'), 0);
    const limit = intParam('limit', q.get('limit'), 1, 1000) ?? 100;
    const logs = after !== undefined ? c.kernel.logs.query(app.id, { afterId: after, limit, level }) : c.kernel.logs.tail(app.id, limit, level);
    return json({ logs });
  });
}
