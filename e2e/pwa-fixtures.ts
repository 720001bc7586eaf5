/**
 * Helpers for the browser-node (PWA) tests: open the dashboard served by a real Fazt node with its
 * service worker active, talk to the device node (`/~device/...` over fetch, the comlink API through
 * the real `web/lib/device-link.ts`), read and damage the cartridge in OPFS, stop the worker (CDP).
 *
 * playwright.config.ts blocks service workers for every other spec; specs using these helpers call
 * `test.use({ serviceWorkers: 'allow' })`.
 */
import { build } from 'esbuild';
import path from 'node:path';
import { chromium, type BrowserContext, type CDPSession, type Page } from '@playwright/test';
import fs from 'node:fs';
import os from 'node:os';
import { expect, REPO_ROOT } from './fixtures.js';

let linkBundle: Promise<string> | undefined;

/**
 * `web/lib/device-link.ts` bundled (with comlink) into a classic script that sets
 * `window.__device = new DeviceLink({ timeoutMs })`. Cached per test worker.
 */
export function deviceLinkScript(): Promise<string> {
  linkBundle ??= build({
    stdin: {
      contents: `import { DeviceLink } from ${JSON.stringify(path.join(REPO_ROOT, 'web/lib/device-link.ts'))};
        globalThis.__device = new DeviceLink({ timeoutMs: globalThis.__deviceTimeoutMs ?? 10000, pingMs: globalThis.__devicePingMs ?? 20000 });`,
      resolveDir: REPO_ROOT,
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    write: false,
    target: 'es2022',
    logLevel: 'silent',
  }).then((r) => r.outputFiles[0]!.text);
  return linkBundle;
}

/** A response as the page saw it. */
export interface PageResponse {
  status: number;
  contentType: string;
  text: string;
  /** The body parsed as JSON, when it is JSON. */
  json: any;
}

/**
 * Opens `origin/` and waits until the service worker controls the page (the dashboard registers it;
 * registering again here is a no-op, and covers a dashboard that has not yet) and the device node
 * answers. Injects the device link as `window.__device`.
 */
export async function openPwa(page: Page, origin: string, opts: { path?: string } = {}): Promise<void> {
  await page.goto(origin + (opts.path ?? '/'));
  await page.evaluate(async () => {
    await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    await navigator.serviceWorker.ready;
  });
  await page.waitForFunction(() => !!navigator.serviceWorker.controller, undefined, { timeout: 30_000 });
  await injectDeviceLink(page);
}

/** Adds `window.__device` (a DeviceLink) to the page. */
export async function injectDeviceLink(page: Page): Promise<void> {
  await page.addScriptTag({ content: await deviceLinkScript() });
}

/** `fetch(url, init)` from the page; a string body is sent as is. */
export async function pageFetch(page: Page, url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<PageResponse> {
  return page.evaluate(
    async ({ url, init }) => {
      const res = await fetch(url, init);
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, json };
    },
    { url, init },
  );
}

/** `fetch('/~device' + path)` from the page. */
export function device(page: Page, p: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<PageResponse> {
  return pageFetch(page, '/~device' + p, init);
}

/**
 * Deploys an app into the device node from the page: `POST /~device/api/apps?name=NAME` with
 * `multipart/form-data`, one part per file (its filename is its path), as the dashboard does.
 * @param files path → text content.
 */
export async function deployToDevice(page: Page, name: string, files: Record<string, string>, opts: { padBytes?: number } = {}): Promise<PageResponse> {
  return page.evaluate(
    async ({ name, files, padBytes }) => {
      const form = new FormData();
      for (const [p, text] of Object.entries(files)) form.append('file', new Blob([text]), p);
      if (padBytes) {
        // incompressible bytes, so a quota test really needs the space
        const pad = new Uint8Array(padBytes);
        for (let i = 0; i < pad.length; i += 65536) crypto.getRandomValues(pad.subarray(i, Math.min(i + 65536, pad.length)));
        form.append('file', new Blob([pad]), 'pad.bin');
      }
      const res = await fetch(`/~device/api/apps?name=${encodeURIComponent(name)}`, { method: 'POST', body: form });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, json };
    },
    { name, files, padBytes: opts.padBytes ?? 0 },
  );
}

/** Calls a method of the device link (`window.__device`) in the page; rejects with the node's message. */
export async function deviceCall<T = any>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(
    async ({ method, args }) => {
      const d = (globalThis as any).__device;
      const out = await d[method](...args);
      return out instanceof Uint8Array ? ({ bytes: out.length, head: Array.from(out.subarray(0, 16)) } as any) : out;
    },
    { method, args },
  );
}

/** The error message of a device link call that must fail. */
export async function deviceCallError(page: Page, method: string, ...args: unknown[]): Promise<string> {
  return page.evaluate(
    async ({ method, args }) => {
      try {
        await (globalThis as any).__device[method](...args);
        return '(no error)';
      } catch (e) {
        return String((e as Error).message);
      }
    },
    { method, args },
  );
}

/** A small app with static files and server code that uses the standard library and fazt.kv. */
export const COUNTER_APP: Record<string, string> = {
  'app.json': JSON.stringify({ name: 'counter', title: 'Counter' }),
  'index.html': '<!doctype html><title>Counter</title><h1>Counter app</h1><script type="module" src="app.js"></script>',
  'app.js': 'document.body.dataset.ready = "1";',
  'api/main.js': `import _ from 'lodash';
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/api/count') {
      const n = await fazt.kv.increment('n');
      console.log('counted', n);
      return { n, words: _.words('works without a network') };
    }
    if (url.pathname === '/api/value') return { n: (await fazt.kv.get('n')) ?? 0 };
    return Response.json({ error: { code: 'NOT_FOUND', message: 'no route ' + url.pathname } }, { status: 404 });
  },
};
`,
};

/** A CDP session on the page (with the ServiceWorker domain enabled). */
export async function cdp(page: Page): Promise<CDPSession> {
  const s = await page.context().newCDPSession(page);
  await s.send('ServiceWorker.enable');
  return s;
}

/** Stops every service worker of the browser (CDP `ServiceWorker.stopAllWorkers`): the next request starts it cold. */
export async function stopWorkers(page: Page): Promise<void> {
  const s = await cdp(page);
  await s.send('ServiceWorker.stopAllWorkers');
  await s.detach();
}

/** Files in the OPFS folder `fazt/` (and `fazt/backups/`) with their sizes, read from the page. */
export async function opfsFiles(page: Page): Promise<Record<string, number>> {
  return page.evaluate(async () => {
    const out: Record<string, number> = {};
    const root = await navigator.storage.getDirectory();
    const walk = async (dir: FileSystemDirectoryHandle, prefix: string) => {
      for await (const [name, h] of (dir as any).entries() as AsyncIterable<[string, FileSystemHandle]>) {
        if (h.kind === 'directory') await walk(h as FileSystemDirectoryHandle, `${prefix}${name}/`);
        else out[prefix + name] = (await (h as FileSystemFileHandle).getFile()).size;
      }
    };
    try {
      await walk(await root.getDirectoryHandle('fazt'), '');
    } catch {
      // no folder yet
    }
    return out;
  });
}

/**
 * Overwrites a file in OPFS `fazt/` from the page. `mode` `truncate` keeps the first `keep` bytes;
 * `garbage` overwrites bytes `[at, at + length)` with 0xEE; `bytes` writes the given bytes.
 */
export async function damageOpfsFile(page: Page, name: string, how: { mode: 'truncate'; keep: number } | { mode: 'garbage'; at: number; length: number } | { mode: 'bytes'; bytes: number[] }): Promise<void> {
  await page.evaluate(
    async ({ name, how }) => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('fazt');
      const h = await dir.getFileHandle(name, { create: true });
      const w = await h.createWritable({ keepExistingData: true });
      if (how.mode === 'truncate') await w.truncate(how.keep);
      else if (how.mode === 'garbage') await w.write({ type: 'write', position: how.at, data: new Uint8Array(how.length).fill(0xee) });
      else {
        await w.truncate(0);
        await w.write(new Uint8Array(how.bytes));
      }
      await w.close();
    },
    { name, how },
  );
}

/** Waits until the device node reports `state` (polling `status()` through the link). */
export async function expectDeviceState(page: Page, state: string, timeout = 30_000): Promise<any> {
  let last: any;
  await expect
    .poll(
      async () => {
        last = await deviceCall(page, 'status').catch((e) => ({ state: `(error: ${String(e)})` }));
        return last.state;
      },
      { timeout },
    )
    .toBe(state);
  return last;
}

/** Grants storage quota overrides and similar per-origin CDP settings on a context. */
export async function browserCdp(context: BrowserContext): Promise<CDPSession> {
  return context.browser()!.newBrowserCDPSession();
}

/** A Chromium with a real profile on disk (not incognito: installability, and restarts keep OPFS). */
export interface PersistentBrowser {
  context: BrowserContext;
  /** The profile folder (kept across {@link PersistentBrowser.restart}). */
  userDataDir: string;
  /** Closes the browser and starts it again on the same profile. */
  restart(): Promise<BrowserContext>;
  /** Closes the browser and removes the profile. */
  dispose(): Promise<void>;
}

/** Launches Debian's Chromium on a new temporary profile, service workers allowed. */
export async function launchPersistent(): Promise<PersistentBrowser> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-pwa-profile-'));
  const launch = () =>
    chromium.launchPersistentContext(userDataDir, {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: true,
      serviceWorkers: 'allow',
      viewport: { width: 1280, height: 800 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  const b: PersistentBrowser = {
    context: await launch(),
    userDataDir,
    async restart() {
      await b.context.close();
      b.context = await launch();
      return b.context;
    },
    async dispose() {
      await b.context.close().catch(() => {});
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
  return b;
}

/** The live cartridge exported through the device link (`exportCartridge`), as bytes in Node. */
export async function exportCartridge(page: Page): Promise<Buffer> {
  const b64 = await page.evaluate(async () => {
    const bytes: Uint8Array = await (globalThis as any).__device.exportCartridge();
    let s = '';
    for (let i = 0; i < bytes.length; i += 32768) s += String.fromCharCode(...bytes.subarray(i, i + 32768));
    return btoa(s);
  });
  return Buffer.from(b64, 'base64');
}

/** Hands bytes from Node to the page as `globalThis[name]` (a Uint8Array). */
export async function sendBytes(page: Page, name: string, bytes: Uint8Array): Promise<void> {
  await page.evaluate(
    ({ name, b64 }) => {
      const s = atob(b64);
      const out = new Uint8Array(s.length);
      for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
      (globalThis as any)[name] = out;
    },
    { name, b64: Buffer.from(bytes).toString('base64') },
  );
}

/** Writes bytes as file `name` of OPFS `fazt/` from the page (as another tab or a damaged disk would). */
export async function writeOpfsFile(page: Page, name: string, bytes: Uint8Array): Promise<void> {
  await sendBytes(page, '__opfsBytes', bytes);
  await page.evaluate(async (name) => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('fazt', { create: true });
    const w = await (await dir.getFileHandle(name, { create: true })).createWritable();
    await w.write((globalThis as any).__opfsBytes);
    await w.close();
  }, name);
}

/** The text of a file in OPFS `fazt/`, or `undefined`. */
export async function opfsText(page: Page, name: string): Promise<string | undefined> {
  return page.evaluate(async (name) => {
    try {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('fazt');
      return await (await (await dir.getFileHandle(name)).getFile()).text();
    } catch {
      return undefined;
    }
  }, name);
}
