/**
 * The example apps in examples/, deployed into the real node over HTTP and used the way a person (or
 * another program) would: their JSON APIs through `/a/<name>/api/…` and `<name>.localhost`, bad input
 * included. Scheduled jobs run through the real scheduler, events through the real bus, outbound
 * fetches reach a real HTTP server on 127.0.0.1, secrets are set on the kernel as the owner would.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startNode } from './node.js';
import { EXAMPLE_APP_DIRS, PACKAGE_ROOT } from './paths.js';
import { listDir } from './zip-dir.js';
import {
  createToken,
  deployZip,
  expectError,
  internalErrors,
  memoryLogger,
  removeTempDirs,
  request,
  startTestNode,
  tempDir,
  zip,
  type FileSet,
  type RequestOptions,
  type TestNode,
} from './test-helpers.js';

let t: TestNode;
let admin: string;

beforeAll(async () => {
  // The first call of an app primes a sandbox with its code, zod or node-html-parser included (≈200 ms
  // each in QuickJS when the machine is idle). That counts against the call's CPU budget (1 s by
  // default), which is measured as wall time spent in QuickJS, so with the other test files running
  // in parallel a cold start can end in 504 APP_TIMEOUT. These tests are about the apps, not that
  // budget (node/runtime-limits.test.ts is): give them room.
  t = await startTestNode({ runtimeLimits: { cpuMs: 5000 } });
  admin = createToken(t, 'admin', 'examples').token;
});

afterAll(async () => {
  await t?.stop();
  removeTempDirs();
});

const EXAMPLES = join(PACKAGE_ROOT, 'examples');

/** The files of an example folder, as a deploy would upload them. */
function exampleFiles(name: string): FileSet {
  const files: FileSet = {};
  for (const f of listDir(join(EXAMPLES, name))) files[f.path] = readFileSync(f.abs);
  return files;
}

/** Deploys examples/NAME with `POST /api/apps` (a zip, admin token), as `fazt app deploy` does. */
async function deployExample(name: string): Promise<{ id: string; permissions: { requested: string[]; granted: string[]; pending: string[] } }> {
  const r = await deployZip(t, admin, zip(exampleFiles(name)));
  expect(r.status, r.text()).toBe(201);
  const body = r.json();
  expect(body.name).toBe(name);
  return body;
}

/** A request to an app under the node's path: `/a/NAME/…`. */
const onPath = (name: string, path: string, options: RequestOptions = {}) => request(`${t.url}/a/${name}${path}`, options);

/** A request to an app on its own origin: `NAME.localhost:PORT`. */
const onHost = (name: string, path: string, options: RequestOptions = {}) =>
  request(`${t.url}${path}`, { ...options, headers: { host: `${name}.localhost:${t.port}`, ...options.headers } });

const post = (json: unknown): RequestOptions => ({ method: 'POST', json });

/** Lets the node's clock run ahead (the scheduler and the event bus read `cartridge.clock`). */
function clockControl() {
  const clock = t.node.kernel.cartridge.clock;
  const real = clock.now.bind(clock);
  let offset = 0;
  const spy = vi.spyOn(clock, 'now').mockImplementation(() => real() + offset);
  return {
    advance(ms: number) {
      offset += ms;
    },
    restore: () => spy.mockRestore(),
  };
}

// ---------------------------------------------------------------------------------------------

describe('notes', () => {
  const notesApi = (path: string, options?: RequestOptions) => onPath('notes', `/api${path}`, options);
  let appId: string;

  beforeAll(async () => {
    appId = (await deployExample('notes')).id;
  });

  it('serves its page, script and styles on its own origin and under /a/notes/', async () => {
    const page = await onHost('notes', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text()).toContain('<script src="app.js" defer></script>');
    for (const file of ['app.js', 'style.css']) {
      const r = await onPath('notes', `/${file}`);
      expect(r.status, file).toBe(200);
      expect(r.text()).toBe(readFileSync(join(EXAMPLES, 'notes', file), 'utf8'));
    }
    // the page reaches the API by relative URL only, so it works under both mounts
    expect(readFileSync(join(EXAMPLES, 'notes', 'app.js'), 'utf8')).not.toMatch(/['"`]\/api\//);
  });

  it('creates, lists oldest first, filters by done, reads, updates and deletes notes', async () => {
    const texts = ['buy milk', 'call the plumber', 'water the plants'];
    const created: { id: string; text: string; done: boolean; createdAt: number }[] = [];
    for (const text of texts) {
      const r = await notesApi('/notes', post({ text: `  ${text} ` }));
      expect(r.status).toBe(201);
      const note = r.json();
      expect(note).toMatchObject({ text, done: false });
      expect(typeof note.id).toBe('string');
      expect(note.createdAt).toBeGreaterThan(0);
      expect(r.headers.location).toBe(`notes/${note.id}`);
      created.push(note);
    }
    const all = (await notesApi('/notes')).json().notes;
    expect(all.map((n: { text: string }) => n.text)).toEqual(texts);

    const second = created[1]!;
    const patched = await notesApi(`/notes/${second.id}`, { method: 'PATCH', json: { done: true } });
    expect(patched.status).toBe(200);
    expect(patched.json()).toMatchObject({ id: second.id, text: 'call the plumber', done: true, createdAt: second.createdAt });
    expect(patched.json().updatedAt).toBeGreaterThanOrEqual(second.createdAt);

    expect((await notesApi('/notes?done=true')).json().notes.map((n: { text: string }) => n.text)).toEqual(['call the plumber']);
    expect((await notesApi('/notes?done=false')).json().notes.map((n: { text: string }) => n.text)).toEqual(['buy milk', 'water the plants']);

    const renamed = await notesApi(`/notes/${created[0]!.id}`, { method: 'PATCH', json: { text: 'buy oat milk' } });
    expect(renamed.json()).toMatchObject({ text: 'buy oat milk', done: false });
    expect((await notesApi(`/notes/${created[0]!.id}`)).json()).toMatchObject({ id: created[0]!.id, text: 'buy oat milk' });

    const del = await notesApi(`/notes/${created[2]!.id}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(del.body.length).toBe(0);
    expectError(await notesApi(`/notes/${created[2]!.id}`), 404, 'NOT_FOUND', created[2]!.id);
    expectError(await notesApi(`/notes/${created[2]!.id}`, { method: 'DELETE' }), 404, 'NOT_FOUND');
    expect((await notesApi('/notes')).json().notes.map((n: { text: string }) => n.text)).toEqual(['buy oat milk', 'call the plumber']);
  });

  it('is the same app on notes.localhost and under /a/notes/', async () => {
    const r = await onHost('notes', '/api/notes', post({ text: 'from the subdomain' }));
    expect(r.status).toBe(201);
    const id = r.json().id;
    expect((await onPath('notes', `/api/notes/${id}`)).json().text).toBe('from the subdomain');
    expect((await onHost('notes', `/api/notes/${id}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('refuses bad input with clear JSON errors', async () => {
    const before = (await notesApi('/notes')).json().notes.length;
    expectError(await notesApi('/notes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text": "unfinished' }), 400, 'BAD_JSON', /not valid JSON/);
    expectError(await notesApi('/notes', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }), 415, 'UNSUPPORTED_MEDIA_TYPE', /application\/json/);
    expectError(await notesApi('/notes', post({})), 400, 'INVALID_NOTE', /^text: /);
    expectError(await notesApi('/notes', post({ text: '   ' })), 400, 'INVALID_NOTE', 'text: text must not be empty');
    expectError(await notesApi('/notes', post({ text: 'x'.repeat(2001) })), 400, 'INVALID_NOTE', /longer than 2000 characters/);
    expectError(await notesApi('/notes', post({ text: 'ok', done: 'yes' })), 400, 'INVALID_NOTE', /^done: /);
    expectError(await notesApi('/notes', post({ text: 'ok', priority: 1 })), 400, 'INVALID_NOTE', /priority/);
    expectError(await notesApi('/notes', post(['a list'])), 400, 'INVALID_NOTE');
    expect((await notesApi('/notes')).json().notes.length).toBe(before);

    const id = (await notesApi('/notes', post({ text: 'target' }))).json().id;
    expectError(await notesApi(`/notes/${id}`, { method: 'PATCH', json: {} }), 400, 'INVALID_NOTE', 'send "text" and/or "done" to change');
    expectError(await notesApi(`/notes/${id}`, { method: 'PATCH', json: { done: 1 } }), 400, 'INVALID_NOTE', /^done: /);
    expectError(await notesApi(`/notes/${id}`, { method: 'PATCH', json: { id: 'other' } }), 400, 'INVALID_NOTE', /"id"/);
    expectError(await notesApi('/notes/no-such-note', { method: 'PATCH', json: { done: true } }), 404, 'NOT_FOUND', 'No note with id "no-such-note".');
    expectError(await notesApi('/notes/%E0%A4%A', { method: 'GET' }), 404, 'NOT_FOUND');
    expectError(await notesApi('/notes?done=maybe'), 400, 'BAD_QUERY', 'done must be "true" or "false", not "maybe".');
    expectError(await notesApi(`/notes/${id}`, { method: 'PUT', json: { text: 'x' } }), 405, 'METHOD_NOT_ALLOWED', /GET, PATCH or DELETE/);
    expectError(await notesApi('/notes', { method: 'DELETE' }), 405, 'METHOD_NOT_ALLOWED', /GET or POST/);
    expectError(await notesApi('/elsewhere'), 404, 'NOT_FOUND', 'No route GET /api/elsewhere; see /api/notes.');
    expect((await notesApi(`/notes/${id}`)).json()).toMatchObject({ text: 'target', done: false });
  });

  it('queries done through the index app.json declares', () => {
    const plan = t.node.kernel.docs.explain(appId, 'notes', { where: { done: true }, sort: { createdAt: 1, seq: 1 } });
    expect(plan.join('\n')).toMatch(/USING INDEX/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('shortener', () => {
  const links = (path: string, options?: RequestOptions) => onPath('shortener', `/api${path}`, options);

  beforeAll(async () => {
    await deployExample('shortener');
  });

  it('shortens a URL, redirects with 302 and counts the hits', async () => {
    const target = 'https://example.com/a/long/path?q=1#frag';
    const r = await links('/links', post({ url: target }));
    expect(r.status).toBe(201);
    const link = r.json();
    expect(link.code).toMatch(/^[A-Za-z0-9_-]{7}$/);
    expect(link).toMatchObject({ url: target, hits: 0, short: `${t.url}/a/shortener/api/go/${link.code}` });

    for (let i = 0; i < 2; i++) {
      const go = await request(link.short);
      expect(go.status).toBe(302);
      expect(go.headers.location).toBe(target);
    }
    expect((await links(`/links/${link.code}`, { method: 'HEAD' })).status).toBe(200);
    expect((await links(`/links/${link.code}`)).json()).toMatchObject({ code: link.code, url: target, hits: 2 });

    // on its own origin the short link is the subdomain's
    const own = await onHost('shortener', '/api/links', post({ url: 'http://example.org/' }));
    expect(own.json().short).toBe(`http://shortener.localhost:${t.port}/api/go/${own.json().code}`);
    const go = await onHost('shortener', `/api/go/${own.json().code}`);
    expect([go.status, go.headers.location]).toEqual([302, 'http://example.org/']);
  });

  it('takes a chosen code once, and lists the links', async () => {
    const r = await links('/links', post({ url: 'https://fazt.example/docs', code: 'docs' }));
    expect(r.status).toBe(201);
    expect(r.json()).toMatchObject({ code: 'docs', short: `${t.url}/a/shortener/api/go/docs` });
    expectError(await links('/links', post({ url: 'https://elsewhere.example/', code: 'docs' })), 409, 'CODE_TAKEN', 'The code "docs" is already in use.');
    expect((await links('/go/docs')).headers.location).toBe('https://fazt.example/docs');
    const list = (await links('/links')).json();
    expect(list.links.map((l: { code: string }) => l.code)).toContain('docs');
    expect(list.links.find((l: { code: string }) => l.code === 'docs')).toMatchObject({ url: 'https://fazt.example/docs', hits: 1 });
  });

  it('refuses URLs that are not http or https, and other bad input', async () => {
    const bad: [unknown, RegExp | string][] = [
      [{}, 'url is required: send {"url": "https://…"}.'],
      [{ url: '' }, /url is required/],
      [{ url: 42 }, /url is required/],
      [{ url: 'example.com/no-scheme' }, '"example.com/no-scheme" is not an absolute URL.'],
      [{ url: 'javascript:alert(1)' }, 'Only http and https URLs can be shortened, not javascript:'],
      [{ url: 'ftp://example.com/file' }, /not ftp:/],
      [{ url: 'data:text/html,<b>hi</b>' }, /not data:/],
      [{ url: `https://example.com/${'x'.repeat(2048)}` }, 'url is longer than 2048 characters.'],
    ];
    for (const [body, message] of bad) expectError(await links('/links', post(body)), 400, 'INVALID_URL', message);
    expectError(await links('/links', post({ url: 'https://example.com/', code: 'no spaces' })), 400, 'INVALID_CODE', /3–32 letters/);
    expectError(await links('/links', post({ url: 'https://example.com/', code: 'ab' })), 400, 'INVALID_CODE');
    expectError(await links('/links', post('https://example.com/')), 400, 'INVALID_LINK', /JSON object/);
    expectError(await links('/links', { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'url=https://example.com' }), 400, 'BAD_JSON');
    expectError(await links('/links', { method: 'POST', body: '{"url":"https://example.com/"}' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await links('/go/nothere'), 404, 'NOT_FOUND', 'No short link "nothere".');
    expectError(await links('/links/nothere'), 404, 'NOT_FOUND');
    expectError(await links('/go/%2E%2E'), 404, 'NOT_FOUND');
    expectError(await links('/go/docs', { method: 'POST' }), 405, 'METHOD_NOT_ALLOWED');
    expectError(await links('/links', { method: 'DELETE' }), 405, 'METHOD_NOT_ALLOWED');
    expectError(await links('/nothing'), 404, 'NOT_FOUND', /see \/api\/links/);
  });
});

// ---------------------------------------------------------------------------------------------

/** A feed server on 127.0.0.1 that counts the requests for each path. */
async function feedServer(routes: Record<string, () => { type: string; body: string }>) {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(`${req.headers.host} ${req.url}`);
    const route = routes[req.url ?? ''];
    if (!route) return void res.writeHead(404).end('not found');
    const { type, body } = route();
    res.writeHead(200, { 'content-type': type }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { port, hits, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const rss = (items: string[]) => `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>Kitchen &amp; Garden</title>
    <link>http://127.0.0.1/</link>
    <description>A test feed</description>
    ${items.join('\n    ')}
  </channel>
</rss>`;

const RSS_ITEMS = [
  `<item><title><![CDATA[Tomatoes <3 & basil]]></title><link>https://garden.example/tomatoes</link><guid isPermaLink="false">post-1</guid>
     <pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate><description>&lt;p&gt;Plant them &lt;b&gt;deep&lt;/b&gt;.&lt;/p&gt;</description></item>`,
  `<item><title>Compost</title><link>https://garden.example/compost</link><pubDate>Tue, 07 Jan 2025 08:30:00 +0100</pubDate>
     <description><![CDATA[<p>Brown <i>and</i> green.</p>]]></description></item>`,
];
const NEW_ITEM = `<item><title>Seeds</title><link>https://garden.example/seeds</link><guid>post-3</guid><pubDate>Wed, 08 Jan 2025 09:00:00 GMT</pubDate></item>`;

const ATOM = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom notes</title>
  <id>urn:uuid:feed</id>
  <updated>2025-02-01T00:00:00Z</updated>
  <entry>
    <title type="html">Fish &amp;amp; chips</title>
    <link rel="self" href="https://atom.example/self/1"/>
    <link rel="alternate" href="https://atom.example/1"/>
    <id>urn:uuid:entry-1</id>
    <published>2025-02-01T12:00:00Z</published>
    <summary>Crisp.</summary>
  </entry>
</feed>`;

describe('feed-poller', () => {
  const feeds = (path: string, options?: RequestOptions) => onPath('feed-poller', `/api${path}`, options);
  let appId: string;
  let server: Awaited<ReturnType<typeof feedServer>>;
  let rssItems = [...RSS_ITEMS];
  let clock: ReturnType<typeof clockControl>;
  const items = async () => (await feeds('/items')).json().items as { title: string; link: string; feed: string; publishedAt: string | null; summary: string; id: string }[];

  /** Runs the "poll" cron job the way the scheduler does when its time has come. */
  async function pollJob() {
    const job = () => t.node.kernel.jobs.list(appId).find((j) => j.name === 'poll')!;
    clock.advance(Math.max(0, job().runAt - t.node.kernel.cartridge.clock.now()) + 1000);
    expect(await t.node.kernel.scheduler.tick()).toBe(1);
    return job();
  }

  beforeAll(async () => {
    server = await feedServer({
      '/feed.xml': () => ({ type: 'application/rss+xml', body: rss(rssItems) }),
      '/atom.xml': () => ({ type: 'application/atom+xml', body: ATOM }),
      '/page.html': () => ({ type: 'text/html', body: '<!doctype html><p>not a feed</p>' }),
    });
    clock = clockControl();
    const d = await deployExample('feed-poller');
    appId = d.id;
    expect(d.permissions).toMatchObject({ requested: ['net:127.0.0.1'], granted: [], pending: ['net:127.0.0.1'] });
    expect(t.node.kernel.jobs.list(appId)).toMatchObject([{ kind: 'cron', name: 'poll', cron: '*/15 * * * *', status: 'scheduled' }]);
  });

  afterAll(async () => {
    clock?.restore();
    await server?.close();
  });

  it('refuses bad feed URLs', async () => {
    expectError(await feeds('/feeds', post({})), 400, 'INVALID_URL', /url is required/);
    expectError(await feeds('/feeds', post({ url: 'not a url' })), 400, 'INVALID_URL', '"not a url" is not an absolute URL.');
    expectError(await feeds('/feeds', post({ url: 'file:///etc/passwd' })), 400, 'INVALID_URL', 'Only http and https feeds can be polled, not file:');
    expectError(await feeds('/feeds', post({ url: `http://127.0.0.1/${'x'.repeat(400)}` })), 400, 'INVALID_URL', /longer than 400/);
    expectError(await feeds('/feeds', { method: 'POST', body: 'http://127.0.0.1/feed.xml' }), 400, 'BAD_JSON');
    expectError(await feeds('/items?limit=0'), 400, 'BAD_QUERY');
    expectError(await feeds('/items?limit=lots'), 400, 'BAD_QUERY');
    expectError(await feeds('/items', { method: 'DELETE' }), 405, 'METHOD_NOT_ALLOWED');
    expectError(await feeds('/nothing'), 404, 'NOT_FOUND');
    expect((await feeds('/feeds')).json().feeds).toEqual([]);
  });

  it('cannot fetch before the owner grants net:127.0.0.1', async () => {
    const url = `http://127.0.0.1:${server.port}/feed.xml`;
    expect((await feeds('/feeds', post({ url }))).status).toBe(201);
    const r = await feeds('/poll', { method: 'POST' });
    expect(r.status).toBe(200);
    expect(r.json().feeds).toMatchObject([{ url, error: { code: 'PERMISSION_DENIED', message: expect.stringContaining('may not reach 127.0.0.1') } }]);
    expect(server.hits).toEqual([]);
    t.node.kernel.grantRequested(appId);
  });

  it('polls the feed on its cron schedule and stores the items', async () => {
    const url = `http://127.0.0.1:${server.port}/feed.xml`;
    expect((await feeds('/feeds', post({ url }))).status).toBe(200); // already there
    const job = await pollJob();
    expect(job).toMatchObject({ status: 'scheduled', attempts: 0, lastError: null });
    expect(server.hits).toEqual([`127.0.0.1:${server.port} /feed.xml`]);

    const list = await items();
    expect(list.map((i) => i.title)).toEqual(['Compost', 'Tomatoes <3 & basil']); // newest first
    expect(list[1]).toMatchObject({ feed: url, link: 'https://garden.example/tomatoes', publishedAt: '2025-01-06T10:00:00.000Z', summary: 'Plant them deep.' });
    expect(list[0]).toMatchObject({ link: 'https://garden.example/compost', publishedAt: '2025-01-07T07:30:00.000Z', summary: 'Brown and green.' });
    expect((await feeds('/feeds')).json().feeds).toMatchObject([{ url, title: 'Kitchen & Garden', lastError: null, lastPolledAt: expect.any(Number) }]);
  });

  it('adds only new items on the next poll', async () => {
    rssItems = [NEW_ITEM, ...RSS_ITEMS];
    await pollJob();
    expect(server.hits).toHaveLength(2);
    expect((await items()).map((i) => i.title)).toEqual(['Seeds', 'Compost', 'Tomatoes <3 & basil']);
    await pollJob();
    expect(server.hits).toHaveLength(3);
    expect(await items()).toHaveLength(3);
  });

  it('reads Atom too, and reports a page that is not a feed', async () => {
    const atom = `http://127.0.0.1:${server.port}/atom.xml`;
    const page = `http://127.0.0.1:${server.port}/page.html`;
    expect((await feeds('/feeds', post({ url: atom }))).status).toBe(201);
    expect((await feeds('/feeds', post({ url: page }))).status).toBe(201);
    const r = (await feeds('/poll', { method: 'POST' })).json().feeds;
    expect(r).toEqual(
      expect.arrayContaining([
        { url: atom, added: 1 },
        { url: page, error: { code: 'FEED_ERROR', message: 'the document is neither RSS (<rss><channel>) nor Atom (<feed>)' } },
        { url: `http://127.0.0.1:${server.port}/feed.xml`, added: 0 },
      ]),
    );
    const onlyAtom = (await feeds(`/items?feed=${encodeURIComponent(atom)}`)).json().items;
    expect(onlyAtom).toMatchObject([{ title: 'Fish &amp; chips', link: 'https://atom.example/1', publishedAt: '2025-02-01T12:00:00.000Z', summary: 'Crisp.' }]);
    expect((await feeds('/items?limit=2')).json().items.map((i: { title: string }) => i.title)).toEqual(['Fish &amp; chips', 'Seeds']);
  });

  it('fails the job with PERMISSION_DENIED in the app log when a feed host is not allowed', async () => {
    const denied = `http://localhost:${server.port}/feed.xml`; // same server, but "localhost" is not "127.0.0.1"
    expect((await feeds('/feeds', post({ url: denied }))).status).toBe(201);
    const hitsBefore = server.hits.length;
    const job = await pollJob();
    expect(job.attempts).toBe(1); // failed once, retried later with backoff
    expect(job.lastError).toMatch(/feeds failed: .*localhost:\d+\/feed\.xml \(PERMISSION_DENIED\)/);
    expect(server.hits.slice(hitsBefore).some((h) => h.startsWith('localhost'))).toBe(false);

    const log = t.node.kernel.logs.tail(appId, 50, 'error');
    const denial = log.find((e) => (e.data as { url?: string } | null)?.url === denied);
    expect(denial).toMatchObject({ level: 'error', source: 'schedule poll', data: { code: 'PERMISSION_DENIED' } });
    expect(denial!.message).toBe(`polling ${denied} failed: PERMISSION_DENIED`);
    expect((denial!.data as { message: string }).message).toMatch(/may not reach localhost.*"net:localhost"/);
    expect(log.some((e) => e.source === 'schedule poll' && /threw Error: .* feeds failed/.test(e.message))).toBe(true);
    const saved = (await feeds('/feeds')).json().feeds.find((f: { url: string }) => f.url === denied);
    expect(saved.lastError).toMatchObject({ code: 'PERMISSION_DENIED' });
  });
});

// ---------------------------------------------------------------------------------------------

describe('orders and kitchen (events between apps)', () => {
  let ordersId: string;
  let kitchenId: string;
  const order = (body: unknown) => onPath('orders', '/api/orders', post(body));
  const tickets = async () => (await onPath('kitchen', '/api/tickets')).json().tickets as { orderId: string; table?: number; items: unknown[]; eventId: string }[];

  beforeAll(async () => {
    ordersId = (await deployExample('orders')).id;
    const kitchen = await deployExample('kitchen');
    kitchenId = kitchen.id;
    expect(kitchen.permissions).toMatchObject({ requested: ['events:orders'], granted: [], pending: ['events:orders'] });
  });

  it('delivers nothing to the kitchen before the owner grants events:orders', async () => {
    const r = await order({ items: [{ name: 'soup', qty: 2 }], table: 4 });
    expect(r.status).toBe(201);
    expect(r.json()).toMatchObject({ orderId: expect.any(String), items: [{ name: 'soup', qty: 2 }], table: 4, placedAt: expect.any(Number) });
    const [event] = t.node.kernel.events.recent(ordersId, 1);
    expect(event).toMatchObject({ app: 'orders', type: 'order.placed', payload: { orderId: r.json().orderId } });
    expect(t.node.kernel.events.deliveries(event!.id)).toEqual([]); // no subscriber without the grant
    await t.node.kernel.events.drain();
    expect(await tickets()).toEqual([]);
  });

  it('delivers order.placed to the kitchen once granted, as a ticket', async () => {
    t.node.kernel.grantRequested(kitchenId);
    const r = await order({ items: [{ name: 'bread', qty: 1 }, { name: 'tea', qty: 3 }], note: 'no sugar' });
    expect(r.status).toBe(201);
    const placed = r.json();
    expect(placed.table).toBeUndefined();
    await t.node.kernel.events.drain();
    const list = await tickets();
    expect(list).toHaveLength(1); // the order placed before the grant is not delivered afterwards
    expect(list[0]).toMatchObject({ orderId: placed.orderId, items: placed.items, note: 'no sugar', placedAt: placed.placedAt });
    expect(t.node.kernel.events.deliveries(list[0]!.eventId)).toMatchObject([{ appId: kitchenId, status: 'done', attempts: 1 }]);
    expect((await onPath('orders', `/api/orders/${placed.orderId}`)).json()).toEqual(placed);
  });

  it('keeps one ticket when an event is delivered twice (at-least-once delivery)', async () => {
    const [event] = t.node.kernel.events.recent(ordersId, 1);
    await t.node.kernel.runtime!.invokeExport(kitchenId, 'on', event);
    expect(await tickets()).toHaveLength(1);
  });

  it('rejects, at emit, an order that does not match the event schema', async () => {
    const ordersBefore = (await onPath('orders', '/api/orders')).json().orders.length;
    const eventsBefore = t.node.kernel.events.recent(ordersId, 1000).length;
    const schemaError = 'event "order.placed" payload does not match its schema: ';
    const cases: [unknown, string][] = [
      [{ items: [] }, '#/items: Array has too few items (0 < 1)'],
      [{ items: [{ name: 'soup', qty: 0 }] }, '#/items/0/qty: 0 is less than 1'],
      [{ items: [{ name: 'soup', qty: 1.5 }] }, '#/items/0/qty: Instance type "number" is invalid. Expected "integer"'],
      [{ items: [{ name: 'soup', qty: 1, spicy: true }] }, '#/items/0: Property "spicy" does not match additional properties schema'],
      [{ items: [{ name: '', qty: 1 }] }, '#/items/0/name: String is too short (0 < 1)'],
      [{ items: [{ name: 'soup', qty: 1 }], table: 'four' }, '#/table: Instance type "string" is invalid. Expected "integer"'],
      [{ table: 2 }, '#: Instance does not have required property "items"'],
    ];
    for (const [body, message] of cases) expect(expectError(await order(body), 400, 'INVALID_ORDER').message).toBe(schemaError + message);
    expectError(await onPath('orders', '/api/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' }), 400, 'BAD_JSON');
    expectError(await order([{ name: 'soup', qty: 1 }]), 400, 'INVALID_ORDER', 'The order must be a JSON object.');
    expect((await onPath('orders', '/api/orders')).json().orders.length).toBe(ordersBefore);
    expect(t.node.kernel.events.recent(ordersId, 1000).length).toBe(eventsBefore);
    await t.node.kernel.events.drain();
    expect(await tickets()).toHaveLength(1);
    expectError(await onPath('orders', '/api/orders/nope'), 404, 'NOT_FOUND');
    expectError(await onPath('kitchen', '/api/tickets', { method: 'POST' }), 404, 'NOT_FOUND');
  });

  it('stops delivering when the grant is revoked', async () => {
    t.node.kernel.revokePermission(kitchenId, 'events:orders');
    expect((await order({ items: [{ name: 'pie', qty: 1 }] })).status).toBe(201);
    await t.node.kernel.events.drain();
    expect(await tickets()).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('webhook', () => {
  let appId: string;
  const sign = (secret: string, body: string | Buffer) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const hook = (body: string, headers: Record<string, string>) =>
    onPath('webhook', '/api/hook', { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const deliveries = async () => (await onPath('webhook', '/api/deliveries')).json().deliveries as { id: string; event: string | null; delivery: string | null; payload: unknown }[];
  const setSecret = (value: string) => {
    t.node.kernel.setSecret(appId, 'WEBHOOK_SECRET', value);
  };
  const body = JSON.stringify({ action: 'opened', number: 7, title: 'Ünïcode ✓' });

  beforeAll(async () => {
    appId = (await deployExample('webhook')).id;
  });

  it('answers 503 until the owner sets WEBHOOK_SECRET', async () => {
    expectError(await hook(body, { 'x-hub-signature-256': sign('anything', body) }), 503, 'NOT_CONFIGURED', /WEBHOOK_SECRET/);
  });

  it('stores a delivery signed with the secret', async () => {
    setSecret('It’s a secret to everybody');
    const r = await hook(body, { 'x-hub-signature-256': sign('It’s a secret to everybody', body), 'x-github-event': 'issues', 'x-github-delivery': 'd-1' });
    expect(r.status).toBe(201);
    expect(r.json()).toEqual({ id: 'd-1' });
    expect(await deliveries()).toMatchObject([{ id: 'd-1', event: 'issues', delivery: 'd-1', payload: JSON.parse(body) }]);

    // GitHub redelivers with the same X-GitHub-Delivery: acknowledged, stored once
    const again = await hook(body, { 'x-hub-signature-256': sign('It’s a secret to everybody', body), 'x-github-delivery': 'd-1' });
    expect([again.status, again.json()]).toEqual([200, { id: 'd-1', duplicate: true }]);
    const plain = JSON.stringify({ zen: 'Keep it logically awesome.' });
    expect((await hook(plain, { 'x-hub-signature-256': sign('It’s a secret to everybody', plain) })).status).toBe(201);
    expect((await deliveries()).map((d) => d.payload)).toEqual([{ zen: 'Keep it logically awesome.' }, JSON.parse(body)]);
  });

  it('refuses missing and wrong signatures with 401, and stores nothing', async () => {
    const before = (await deliveries()).length;
    const secret = 'It’s a secret to everybody';
    expectError(await hook(body, {}), 401, 'SIGNATURE_MISSING', /X-Hub-Signature-256 header is missing/);
    expectError(await hook(body, { 'x-hub-signature-256': sign('wrong secret', body) }), 401, 'SIGNATURE_INVALID', /does not match the body/);
    expectError(await hook(body.replace('7', '8'), { 'x-hub-signature-256': sign(secret, body) }), 401, 'SIGNATURE_INVALID');
    expectError(await hook(body, { 'x-hub-signature-256': sign(secret, body).replace('sha256=', '') }), 401, 'SIGNATURE_INVALID');
    expectError(await hook(body, { 'x-hub-signature-256': `sha1=${createHmac('sha1', secret).update(body).digest('hex')}` }), 401, 'SIGNATURE_INVALID');
    expectError(await hook(body, { 'x-hub-signature-256': sign(secret, body).slice(0, -2) }), 401, 'SIGNATURE_INVALID');
    expectError(await hook(body, { 'x-hub-signature-256': 'sha256=' + 'zz'.repeat(32) }), 401, 'SIGNATURE_INVALID');
    expectError(await hook('not json', { 'x-hub-signature-256': sign(secret, 'not json') }), 400, 'BAD_JSON', /signed correctly but is not JSON/);
    expect(await deliveries()).toHaveLength(before);
  });

  it('uses a new secret as soon as the owner changes it', async () => {
    setSecret('rotated');
    expectError(await hook(body, { 'x-hub-signature-256': sign('It’s a secret to everybody', body) }), 401, 'SIGNATURE_INVALID');
    expect((await hook(body, { 'x-hub-signature-256': sign('rotated', body) })).status).toBe(201);
  });

  it('answers unknown routes with 404', async () => {
    expectError(await onPath('webhook', '/api/hook'), 404, 'NOT_FOUND', /POST \/api\/hook/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('a new cartridge', () => {
  it('comes with hello and notes, their permissions granted, and is seeded only once', async () => {
    const db = join(tempDir(), 'seeded.db');
    const start = () => startNode({ db, port: 0, host: '127.0.0.1', domain: 'localhost', logger: memoryLogger(), runtimeLimits: { cpuMs: 5000 } });
    let node = await start();
    try {
      expect(node.kernel.apps.list().map((a) => a.name).sort()).toEqual(['hello', 'notes']);
      expect(EXAMPLE_APP_DIRS.map((d) => d.split(/[\\/]/).pop())).toEqual(['hello', 'notes']);
      for (const app of node.kernel.apps.list()) {
        const m = node.kernel.apps.manifest(app.id, app.currentVersion!)!;
        expect(node.kernel.permissions.granted(app.id).sort()).toEqual([...m.permissions].sort());
      }
      const r = await request(`${node.url}/a/notes/api/notes`, post({ text: 'first note' }));
      expect(r.status).toBe(201);
      expect((await request(`${node.url}/a/notes/`)).status).toBe(200);
      expect((await request(`${node.url}/a/hello/api/hello`)).json()).toMatchObject({ message: 'Hello, world!' });
      node.kernel.removeApp('notes');
    } finally {
      await node.stop();
    }
    node = await start();
    try {
      expect(node.kernel.apps.list().map((a) => a.name)).toEqual(['hello']);
    } finally {
      await node.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('imports in server code', () => {
  // The examples import the standard library and their own files (notes: zod, feed-poller: ./feed.js
  // and node-html-parser); the deploy-time check follows imports and names the one it cannot resolve.
  it('refuses a deploy whose api/main.js imports what does not exist, naming it', async () => {
    const app = (main: string): FileSet => ({ 'app.json': JSON.stringify({ name: 'imports' }), 'api/main.js': main, 'api/lib.js': 'export const x = 1;' });
    const missing = await deployZip(t, admin, zip(app("import { y } from './missing.js';\nexport default { fetch: () => y };")));
    expectError(missing, 422, 'INVALID_CODE', 'api/main.js: Cannot find module "./missing.js" (imported from api/main.js): no file api/missing.js');
    const unknown = await deployZip(t, admin, zip(app("import pad from 'left-pad';\nexport default { fetch: () => pad('x', 3) };")));
    expectError(unknown, 422, 'INVALID_CODE', /Cannot find module "left-pad" \(imported from api\/main\.js\)\. Apps can import their own files .* lodash, dayjs, uuid, zod, node-html-parser\. Nothing was deployed/);
    const ok = await deployZip(t, admin, zip(app("import { x } from './lib.js';\nimport { z } from 'zod';\nexport default { fetch: () => ({ x, ok: z.number().safeParse(x).success }) };")));
    expect(ok.status).toBe(201);
    expect((await onPath('imports', '/api/')).json()).toEqual({ x: 1, ok: true });
  });
});

// ---------------------------------------------------------------------------------------------

describe('the node', () => {
  it('logged no internal errors while running the examples', () => {
    expect(internalErrors(t)).toEqual([]);
  });
});
