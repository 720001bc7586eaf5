// @ts-check
/// <reference path="../../../types/fazt.d.ts" />
// Polls RSS/Atom feeds on a cron schedule (app.json: "poll", every 15 minutes) and keeps their items.
//   POST /api/feeds  {url}          add a feed → 201 (200 when it was there already)
//   GET  /api/feeds                 the feeds, with when they were last polled and the last error
//   POST /api/poll                  poll every feed now → {feeds: [{url, added} | {url, error}]}
//   GET  /api/items[?feed=&limit=]  items, newest first
// Feeds live in fazt.kv ("feed:<url>"), items in fazt.docs ("items", one per feed and guid).
// fazt.net.fetch reaches only hosts the owner allowed: app.json asks for "net:127.0.0.1"; to poll a
// real feed, put its host there ("net:blog.example.com", or "net:*.example.com") and grant it.
import { parseFeed } from './feed.js';

/** @typedef {{ url: string, addedAt: number, title?: string, lastPolledAt?: number, lastError?: { code: string, message: string } | null }} Feed */
/** @typedef {import('./feed.js').FeedItem & { feed: string, fetchedAt: number }} Item */

/** @type {FaztCollection<Item>} */
const items = fazt.docs.collection('items');

const fail = (/** @type {number} */ status, /** @type {string} */ code, /** @type {string} */ message) =>
  Response.json({ error: { code, message } }, { status });

/** Hex SHA-256 of a string: the item's `_id`, so a second poll finds the items it already has. */
async function sha256(/** @type {string} */ s) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Fetches one feed and stores the items it does not have yet. @returns how many were new */
async function pollFeed(/** @type {Feed} */ feed) {
  const res = await fazt.net.fetch(feed.url, { headers: { accept: 'application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5' } });
  if (!res.ok) throw Object.assign(new Error(`${feed.url} answered HTTP ${res.status}`), { code: 'UPSTREAM_FAILED' });
  const { title, items: found } = parseFeed(await res.text());
  let added = 0;
  for (const item of found) {
    const _id = await sha256(`${feed.url}\n${item.guid}`);
    if (await items.get(_id)) continue;
    await items.insert({ _id, feed: feed.url, ...item, fetchedAt: Date.now() });
    added++;
  }
  await fazt.kv.set(`feed:${feed.url}`, { ...feed, title, lastPolledAt: Date.now(), lastError: null });
  return added;
}

/** Polls every feed; a failing feed is logged and recorded on the feed, and the others still run. */
async function pollAll() {
  const { items: feeds } = await fazt.kv.list({ prefix: 'feed:', limit: 1000 });
  const results = [];
  for (const { value } of feeds) {
    const feed = /** @type {Feed} */ (value);
    try {
      results.push({ url: feed.url, added: await pollFeed(feed) });
    } catch (e) {
      const err = /** @type {FaztError} */ (e);
      const error = { code: err.code ?? 'FEED_ERROR', message: err.message };
      fazt.log.error(`polling ${feed.url} failed: ${error.code}`, { url: feed.url, ...error });
      await fazt.kv.set(`feed:${feed.url}`, { ...feed, lastPolledAt: Date.now(), lastError: error });
      results.push({ url: feed.url, error });
    }
  }
  return results;
}

/** A feed URL problem, or undefined. */
function urlProblem(/** @type {unknown} */ url) {
  if (typeof url !== 'string' || !url) return 'url is required: send {"url": "https://…/feed.xml"}.';
  if (url.length > 400) return 'url is longer than 400 characters.';
  if (!URL.canParse(url)) return `"${url.slice(0, 100)}" is not an absolute URL.`;
  const { protocol } = new URL(url);
  return protocol === 'http:' || protocol === 'https:' ? undefined : `Only http and https feeds can be polled, not ${protocol}`;
}

export default /** @satisfies {FaztHandlers} */ ({
  async fetch(request) {
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;

    if (route === 'POST /api/feeds') {
      /** @type {any} */
      let body;
      try {
        body = await request.json();
      } catch {
        return fail(400, 'BAD_JSON', 'Send {"url": "https://…/feed.xml"} as JSON.');
      }
      const problem = urlProblem(body?.url);
      if (problem) return fail(400, 'INVALID_URL', problem);
      const existing = await fazt.kv.get(`feed:${body.url}`);
      if (existing) return existing;
      /** @type {Feed} */
      const feed = { url: body.url, addedAt: Date.now(), lastError: null };
      await fazt.kv.set(`feed:${feed.url}`, feed);
      return Response.json(feed, { status: 201 });
    }
    if (route === 'GET /api/feeds') {
      const { items: feeds } = await fazt.kv.list({ prefix: 'feed:', limit: 1000 });
      return { feeds: feeds.map((f) => f.value) };
    }
    if (route === 'POST /api/poll') {
      return { feeds: await pollAll() };
    }
    if (route === 'GET /api/items') {
      const feed = url.searchParams.get('feed');
      const limit = Number(url.searchParams.get('limit') ?? 50);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) return fail(400, 'BAD_QUERY', 'limit must be a whole number from 1 to 500.');
      const found = await items.find({ where: feed ? { feed } : {}, sort: { publishedAt: -1, fetchedAt: -1 }, limit });
      return { items: found.map(({ _id, ...item }) => ({ id: _id, ...item })) };
    }
    if (/^\/api\/(feeds|poll|items)$/.test(url.pathname)) return fail(405, 'METHOD_NOT_ALLOWED', `${request.method} is not supported on ${url.pathname}.`);
    return fail(404, 'NOT_FOUND', `No route ${route}; see /api/feeds and /api/items.`);
  },

  // The cron job: poll everything; when a feed failed, fail the run too (it is retried with backoff,
  // and shows as failed in the owner's job list).
  async scheduled() {
    const results = await pollAll();
    const failed = results.filter((r) => 'error' in r);
    fazt.log.info(`polled ${results.length} feeds`, { results });
    if (failed.length) {
      throw new Error(`${failed.length} of ${results.length} feeds failed: ${failed.map((r) => `${r.url} (${r.error?.code})`).join(', ')}`);
    }
  },
});
