// @ts-check
/// <reference path="../../../types/fazt.d.ts" />
/// <reference path="../../../types/fazt-stdlib.d.ts" />
// Parses RSS 2.0 and Atom documents with node-html-parser. It is an HTML parser, so three things
// are adjusted for XML: no void tags (in HTML <link> is empty, in RSS it holds the URL), CDATA
// sections are turned into escaped text first (the parser does not know them), and tag names
// are matched in lower case (the parser lowercases them: <pubDate> is "pubdate").
import { parse } from 'node-html-parser';

/** @typedef {{ guid: string, title: string, link: string | null, publishedAt: string | null, summary: string }} FeedItem */

/** @param {string} s */
const escapeXml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Text of an element's child `tag`, entities decoded, or ''. */
const textOf = (/** @type {any} */ el, /** @type {string} */ tag) => (el.querySelector(tag)?.text ?? '').trim();

/** An RFC 822 (RSS) or ISO 8601 (Atom) date as ISO 8601 UTC, or null. */
function isoDate(/** @type {string} */ s) {
  const t = s ? Date.parse(s) : NaN;
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/** Plain text of an HTML fragment (RSS descriptions are usually HTML), at most 500 characters. */
const plain = (/** @type {string} */ html) => parse(html).text.replace(/\s+/g, ' ').trim().slice(0, 500);

/**
 * The items of an RSS or Atom document.
 * @param {string} xml
 * @returns {{ title: string, items: FeedItem[] }}
 * @throws {Error} when it is neither
 */
export function parseFeed(xml) {
  const root = parse(xml.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, (_, text) => escapeXml(text)), { voidTag: { tags: [] } });
  const channel = root.querySelector('channel');
  const feed = root.querySelector('feed');
  if (channel) {
    const items = root.querySelectorAll('item').map((/** @type {any} */ item) => {
      const link = textOf(item, 'link') || null;
      const title = textOf(item, 'title');
      const publishedAt = isoDate(textOf(item, 'pubdate'));
      return { guid: textOf(item, 'guid') || link || `${title}|${publishedAt}`, title, link, publishedAt, summary: plain(textOf(item, 'description')) };
    });
    return { title: textOf(channel, 'title'), items };
  }
  if (feed) {
    const items = root.querySelectorAll('entry').map((/** @type {any} */ entry) => {
      const links = entry.querySelectorAll('link');
      const alternate = links.find((/** @type {any} */ l) => (l.getAttribute('rel') ?? 'alternate') === 'alternate') ?? links[0];
      const link = alternate?.getAttribute('href') ?? null;
      const title = textOf(entry, 'title');
      const publishedAt = isoDate(textOf(entry, 'published') || textOf(entry, 'updated'));
      return { guid: textOf(entry, 'id') || link || `${title}|${publishedAt}`, title, link, publishedAt, summary: plain(textOf(entry, 'summary') || textOf(entry, 'content')) };
    });
    return { title: textOf(feed, 'title'), items };
  }
  throw new Error('the document is neither RSS (<rss><channel>) nor Atom (<feed>)');
}
