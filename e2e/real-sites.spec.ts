/**
 * Real-world static sites deploy and render unchanged.
 *
 * Three built sites taken from pinned npm packages (see e2e/sites/fetch.mjs) are deployed with the
 * CLI to a fresh node, then opened in Debian's Chromium both under `/a/NAME/` and on
 * `NAME.localhost`. Every request a page makes must succeed (no failed request, no status >= 400),
 * the page must draw what the real site draws, and the served bytes must equal the files on disk.
 *
 *  - drawio            SPA: draw.io web app, 3,401 files, 113 MB, js/app.min.js 6.4 MB
 *  - paperjs-docs      docs: Paper.js reference (frames, classes/ folder, live examples) + examples/
 *  - chocolat-gallery  gallery: Chocolat lightbox demo, plus a 24 MB PNG, a 21.6 MB BMP and a
 *                      65 MB H.264 video (played and seeked: HTTP Range, 206)
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Page } from '@playwright/test';
import {
  appBase,
  compareServedFiles,
  deployApp,
  encodePath,
  ensureAppJson,
  expect,
  listFiles,
  screenshot,
  sha256,
  sha256File,
  test,
  type DeployResult,
  type FaztNode,
  type UrlForm,
} from './fixtures.js';
import { BIG_BMP, BIG_PNG, SITES, VIDEO, fetchSites } from './sites/fetch.mjs';


const dirs: Record<string, string> = {};
const deployed: Record<string, DeployResult> = {};

function site(name: string) {
  const s = SITES.find((x) => x.name === name);
  if (!s) throw new Error(`no site ${name}`);
  return { ...s, dir: dirs[name]! };
}

/** Files of a deployed site that must be served byte for byte (not our app.json, not dotfiles). */
function siteFiles(dir: string): string[] {
  return listFiles(dir).filter((f) => f !== 'app.json' && !f.split('/').some((seg) => seg.startsWith('.')));
}

test.beforeAll(async ({ fazt, adminToken }) => {
  test.setTimeout(30 * 60_000);
  Object.assign(dirs, fetchSites());
  for (const s of SITES) {
    const dir = dirs[s.name]!;
    ensureAppJson(dir, s.name, s.title);
    const t0 = Date.now();
    const res = await deployApp(fazt, adminToken, dir, s.name);
    expect(res.name).toBe(s.name);
    expect(res.urls.length, `deploy of ${s.name} returned no URLs: ${JSON.stringify(res)}`).toBeGreaterThan(0);
    deployed[s.name] = res;
    console.log(`deployed ${s.name} (${siteFiles(dir).length} files) in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${res.urls.join(' ')}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Bytes: every file is served unchanged

for (const name of ['drawio', 'paperjs-docs', 'chocolat-gallery']) {
  test(`${name}: every file is served byte for byte`, async ({ fazt }) => {
    const s = site(name);
    const files = siteFiles(s.dir);
    expect(files.length).toBeGreaterThan(10);
    const problems = await compareServedFiles(appBase(fazt, name, 'path'), s.dir, files);
    expect(problems.slice(0, 50), `${problems.length} of ${files.length} files not served unchanged`).toEqual([]);
    // The host form serves the same app: spot-check a few files there too.
    const sample = files.filter((_, i) => i % Math.max(1, Math.floor(files.length / 25)) === 0);
    const hostProblems = await compareHost(fazt, name, s.dir, sample);
    expect(hostProblems).toEqual([]);
  });
}

/** Node's fetch cannot resolve NAME.localhost; talk to 127.0.0.1 and send the Host header. */
async function compareHost(node: FaztNode, name: string, dir: string, files: string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const rel of files) {
    const body = await new Promise<{ status: number; data: Buffer }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: node.port, path: `/${encodePath(rel)}`, headers: { host: `${name}.${node.domain}:${node.port}` } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, data: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
    if (body.status !== 200) problems.push(`${rel}: HTTP ${body.status} on ${name}.${node.domain}`);
    else if (!body.data.equals(fs.readFileSync(path.join(dir, rel)))) problems.push(`${rel}: bytes differ on ${name}.${node.domain}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// SPA: draw.io

function spaTests(form: UrlForm) {
  test(`drawio (SPA, 3,401 files, 6.4 MB bundle) renders and works via ${form}`, async ({ fazt, page, requests }) => {
    const s = site('drawio');
    // A browser opening /a/drawio/ on the node's own name is sent to the app's own origin.
    const entry = appBase(fazt, 'drawio', form);
    const base = appBase(fazt, 'drawio', 'host');
    await page.goto(entry + s.entry, { waitUntil: 'load' });
    expect(page.url().startsWith(base), `landed on ${page.url()}`).toBe(true);

    // The multi-megabyte bundle came from the node.
    const bundle = requests.responses.find((r) => r.url === `${base}js/app.min.js`);
    expect(bundle?.status, 'js/app.min.js was loaded').toBe(200);

    // The storage dialog draw.io shows on a first visit, over the editor's menu bar.
    const decideLater = page.getByText('Decide later', { exact: true });
    await expect(decideLater, `draw.io did not start; page errors: ${JSON.stringify(requests.pageErrors.slice(0, 5))}`).toBeVisible();
    await expect(page.locator('.geMenubar a.geItem', { hasText: 'Arrange' })).toBeVisible();
    await decideLater.click();

    // In-app navigation 1: the editor, its shape sidebar; insert a shape into the diagram.
    await expect(page.locator('.geDiagramContainer svg')).toBeVisible();
    const sidebarItems = page.locator('.geSidebarContainer a.geItem');
    await expect.poll(() => sidebarItems.count()).toBeGreaterThan(20);
    const cells = page.locator('.geDiagramContainer svg > g > g:nth-child(2) > g');
    await expect(cells).toHaveCount(0);
    await sidebarItems.first().click();
    await expect(cells).toHaveCount(1);

    // In-app navigation 2: View > Shapes... dialog, turn on the Clipart library, open a palette:
    // its pictures are loaded from img/lib/clip_art/ (one of the site's hundreds of files).
    await page.locator('.geMenubar a.geItem', { hasText: 'View' }).click();
    await page.locator('.mxPopupMenu tr.mxPopupMenuItem', { hasText: 'Shapes...' }).click();
    await page.locator('.geDialog').locator('xpath=.//span[normalize-space(text())="Clipart"]/preceding-sibling::input[@type="checkbox"]').check();
    await page.locator('.geDialog button', { hasText: 'Apply' }).click();
    const title = page.locator('.geSidebarContainer a.geTitle', { hasText: /^Clipart \/ Computer$/ });
    await title.click();
    const palette = title.locator('xpath=following-sibling::div[1]');
    // the palette is filled after the click (drawio builds it when the library's stencil arrives)
    await expect.poll(() => palette.locator('a.geItem').count()).toBeGreaterThan(10);
    const paletteItems = await palette.locator('a.geItem').count();
    const clipart = `${base}img/lib/clip_art/computers/`;
    await expect.poll(() => requests.under(clipart).filter((r) => r.status === 200).length, { timeout: 60_000 }).toBeGreaterThanOrEqual(paletteItems);
    await title.scrollIntoViewIfNeeded();
    await palette.locator('a.geItem').nth(paletteItems - 1).scrollIntoViewIfNeeded();

    await requests.expectNoFailures(`draw.io via ${form}`);
    console.log(`drawio via ${form}: ${requests.requestCount} requests`);
    await screenshot(page, `drawio-${form}`);
  });
}

// ---------------------------------------------------------------------------------------------
// Docs: Paper.js reference (frameset, nested classes/ and assets/ folders) and examples/

function docsTests(form: UrlForm) {
  test(`paperjs-docs (docs, nested folders) renders and links work via ${form}`, async ({ fazt, page, requests }) => {
    const s = site('paperjs-docs');
    // A browser opening /a/paperjs-docs/ on the node's own name is sent to the app's own origin.
    const entry = appBase(fazt, 'paperjs-docs', form);
    const base = appBase(fazt, 'paperjs-docs', 'host');

    // The folder URL serves its index.html (a frameset whose list frame is classes/index.html).
    await page.goto(`${entry}docs/`, { waitUntil: 'load' });
    expect(page.url()).toBe(`${base}docs/`);
    const list = page.frameLocator('frame[name="packageListFrame"]');
    await expect(list.locator('a', { hasText: /^Path$/ })).toBeVisible();
    await page.goto(base + s.entry, { waitUntil: 'load' });
    await expect(list.locator('a', { hasText: /^Path$/ })).toBeVisible();
    await expect(list.locator('body')).toContainText('Paper.js');

    // Follow a link into the nested folder: classes/Path.html opens in the class frame.
    await list.locator('a', { hasText: /^Path$/ }).click();
    const classFrame = page.frameLocator('frame[name="class-frame"]');
    await expect(classFrame.locator('h1'), `classes/Path.html did not open in the class frame; page errors: ${JSON.stringify(requests.pageErrors.slice(0, 5))}`).toHaveText('Path');
    await expect.poll(() => page.frame({ name: 'class-frame' })?.url()).toBe(`${base}docs/classes/Path.html`);
    await expect(classFrame.locator('.reference-members h2').first()).toBeVisible();

    // Its docs.js runs the live PaperScript example of a member: a circle is drawn on a canvas.
    await classFrame.locator('#path-circle-center-radius > .member-link > a').click();
    await expect
      .poll(() =>
        page.frame({ name: 'class-frame' })!.evaluate(
          () =>
            [...document.querySelectorAll('canvas')].filter((c) => {
              if (!c.offsetParent) return false;
              const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
              for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
              return false;
            }).length,
        ),
      )
      .toBeGreaterThan(0);
    await screenshot(page, `paperjs-docs-${form}`);

    // A cross-link between pages of the nested folder (../classes/Item.html).
    await classFrame.locator('a[href="../classes/Item.html"]').first().click();
    await expect(classFrame.locator('h1')).toHaveText('Item');

    // An example in a folder whose name has a space, drawing an imported SVG on a canvas.
    await page.goto(`${base}examples/${encodePath('SVG Import/Tiger.html')}`, { waitUntil: 'load' });
    await expect
      .poll(() =>
        page.evaluate(() => {
          const c = document.querySelector('canvas');
          if (!c) return 0;
          const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 3; i < d.length; i += 4 * 97) if (d[i]) n++;
          return n;
        }),
      )
      .toBeGreaterThan(100);
    await screenshot(page, `paperjs-example-tiger-${form}`);

    await requests.expectNoFailures(`Paper.js docs via ${form}`);
  });
}

// ---------------------------------------------------------------------------------------------
// Gallery: Chocolat demo + 20 MB+ images + a video played with seeking

async function imageLoaded(page: Page, selector: string) {
  return page.evaluate((sel) => {
    const img = document.querySelector<HTMLImageElement>(sel);
    return img && img.complete ? { w: img.naturalWidth, h: img.naturalHeight, src: img.currentSrc || img.src } : null;
  }, selector);
}

function galleryTests(form: UrlForm) {
  test(`chocolat-gallery (gallery, 20 MB+ images) renders and opens pictures via ${form}`, async ({ fazt, page, requests }) => {
    const s = site('chocolat-gallery');
    // A browser opening /a/chocolat-gallery/ on the node's own name is sent to the app's own origin.
    const entry = appBase(fazt, 'chocolat-gallery', form);
    const base = appBase(fazt, 'chocolat-gallery', 'host');
    await page.goto(entry + s.entry, { waitUntil: 'load' });
    expect(page.url().startsWith(base), `landed on ${page.url()}`).toBe(true);

    // The demo page and its thumbnails.
    await expect(page.locator('h2').first()).toContainText('Full window, contain');
    const thumbs = page.locator('#example3 img');
    await expect(thumbs).toHaveCount(3);
    await expect
      .poll(() => thumbs.evaluateAll((imgs) => (imgs as HTMLImageElement[]).filter((i) => i.complete && i.naturalWidth > 0).length))
      .toBe(3);
    await screenshot(page, `gallery-${form}`);

    // The site's own lightbox: click a picture link, Chocolat opens it full window.
    await page.locator('#example1 a.chocolat-image', { hasText: 'C' }).click();
    await expect(page.locator('.chocolat-wrapper.chocolat-visible img.chocolat-img')).toBeVisible();
    await expect.poll(async () => (await imageLoaded(page, '.chocolat-wrapper.chocolat-visible img.chocolat-img'))?.w ?? 0).toBeGreaterThan(0);
    await page.keyboard.press('Escape');
    await expect(page.locator('.chocolat-wrapper.chocolat-visible')).toHaveCount(0);

    // The added 20 MB+ pictures, opened in the same lightbox (the demo's own Chocolat()).
    const pngUrl = `${base}${BIG_PNG.file}`;
    const bmpUrl = `${base}${BIG_BMP.file}`;
    // Chocolat preloads the next picture, so wait for both responses from the start.
    const pngResp = page.waitForResponse((r) => r.url() === pngUrl, { timeout: 120_000 });
    const bmpResp = page.waitForResponse((r) => r.url() === bmpUrl, { timeout: 120_000 });
    await page.evaluate(
      ([png, bmp]) => {
        const w = window as unknown as { Chocolat: (items: unknown, opts: unknown) => { api: { open: () => Promise<unknown>; next: () => Promise<unknown> } }; __big?: unknown };
        const inst = w.Chocolat(
          [
            { src: png, title: 'plasma 4000x2000 PNG' },
            { src: bmp, title: 'plasma 3000x2400 BMP' },
          ],
          { imageSize: 'contain', loop: false },
        );
        w.__big = inst;
        void inst.api.open();
      },
      [`../${BIG_PNG.file}`, `../${BIG_BMP.file}`],
    );
    const png = await pngResp;
    expect(png.status()).toBe(200);
    const pngBody = await png.body();
    const pngFile = path.join(s.dir, BIG_PNG.file);
    expect(pngBody.length).toBe(fs.statSync(pngFile).size);
    expect(pngBody.length).toBeGreaterThan(20 * 1024 * 1024);
    expect(sha256(pngBody)).toBe(sha256File(pngFile));
    const lightboxImg = '.chocolat-wrapper.chocolat-visible img.chocolat-img';
    await expect.poll(async () => (await imageLoaded(page, lightboxImg))?.w ?? 0, { timeout: 120_000 }).toBe(BIG_PNG.width);
    expect((await imageLoaded(page, lightboxImg))?.h).toBe(BIG_PNG.height);
    await screenshot(page, `gallery-big-png-${form}`);

    await page.evaluate(() => {
      const w = window as unknown as { __big: { api: { next: () => Promise<unknown> } } };
      void w.__big.api.next();
    });
    const bmp = await bmpResp;
    expect(bmp.status()).toBe(200);
    const bmpBody = await bmp.body();
    expect(bmpBody.length).toBe(fs.statSync(path.join(s.dir, BIG_BMP.file)).size);
    expect(bmpBody.length).toBeGreaterThan(20 * 1024 * 1024);
    await expect.poll(async () => (await imageLoaded(page, lightboxImg))?.w ?? 0, { timeout: 120_000 }).toBe(BIG_BMP.width);
    await screenshot(page, `gallery-big-bmp-${form}`);

    await requests.expectNoFailures(`the gallery via ${form}`);
  });

  test(`chocolat-gallery: the 65 MB video plays and seeks via ${form}`, async ({ fazt, page, requests }) => {
    // A media element drops its current Range response when it seeks; that cancel is the
    // browser's, not a failed request (listed in requests.cancelled, still checked below).
    requests.allowCancelledMedia = true;
    // A browser opening /a/chocolat-gallery/ on the node's own name is sent to the app's own origin.
    const entry = appBase(fazt, 'chocolat-gallery', form);
    const base = appBase(fazt, 'chocolat-gallery', 'host');
    const url = `${base}${VIDEO.file}`;
    await page.goto(`${entry}${VIDEO.file}`, { waitUntil: 'load' });
    expect(page.url()).toBe(url);
    const video = page.locator('video');
    await expect(video).toHaveCount(1);

    const result = await page.evaluate(async () => {
      const v = document.querySelector('video')!;
      const until = (ev: string, ms: number) =>
        new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no ${ev} within ${ms} ms (readyState ${v.readyState}, error ${v.error?.code ?? '-'})`)), ms);
          v.addEventListener(ev, () => (clearTimeout(t), resolve()), { once: true });
          v.addEventListener('error', () => (clearTimeout(t), reject(new Error(`media error ${v.error?.code}: ${v.error?.message}`))), { once: true });
        });
      if (v.readyState < 1) await until('loadedmetadata', 60_000);
      const out: Record<string, number | boolean> = { duration: v.duration, width: v.videoWidth, height: v.videoHeight };
      v.muted = true;
      // Seek to the middle, then play from there.
      const seeked = until('seeked', 60_000);
      v.currentTime = 300;
      await seeked;
      out.afterSeek = v.currentTime;
      await v.play();
      const t0 = v.currentTime;
      await new Promise((r) => setTimeout(r, 2500));
      out.played = v.currentTime - t0;
      out.paused = v.paused;
      // Seek again, backwards, while playing.
      const seeked2 = until('seeked', 60_000);
      v.currentTime = 42;
      await seeked2;
      await new Promise((r) => setTimeout(r, 1500));
      out.afterSeek2 = v.currentTime;
      out.paused2 = v.paused;
      return out;
    });

    expect(result.duration as number).toBeCloseTo(VIDEO.duration, 0);
    expect(result.width).toBe(VIDEO.width);
    expect(result.height).toBe(VIDEO.height);
    expect(Math.abs((result.afterSeek as number) - 300)).toBeLessThan(1);
    expect(result.played as number).toBeGreaterThan(1);
    expect(result.paused).toBe(false);
    expect(result.afterSeek2 as number).toBeGreaterThan(42);
    expect(result.afterSeek2 as number).toBeLessThan(50);
    expect(result.paused2).toBe(false);
    await screenshot(page, `gallery-video-${form}`);

    // The browser fetched the video in ranges and the node answered 206 with correct Content-Range.
    const ranged = requests.responses.filter((r) => r.url === url && r.status === 206);
    expect(ranged.length, `206 responses for the video: ${JSON.stringify(requests.responses.filter((r) => r.url === url))}`).toBeGreaterThan(0);
    for (const r of ranged) expect(r.contentRange).toMatch(new RegExp(`^bytes \\d+-\\d+/${VIDEO.size}$`));
    expect(ranged.some((r) => Number(/^bytes (\d+)-/.exec(r.contentRange ?? '')?.[1] ?? 0) > 0), 'a range from the middle of the file was served').toBe(true);
    if (requests.cancelled.length) console.log(`video via ${form}: the browser cancelled ${requests.cancelled.length} range response(s) on seek`);
    await requests.expectNoFailures(`the video via ${form}`);
  });
}

// ---------------------------------------------------------------------------------------------
// Both URL forms. On the node's own name the path form redirects the browser to the subdomain
// (the app's own origin); the subdomain form first, since a failed test restarts the worker.

for (const form of ['host', 'path'] as const) {
  galleryTests(form);
  docsTests(form);
  spaTests(form);
}
