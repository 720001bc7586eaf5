/**
 * Chirp in real Chromium (issue 11): the page's sound module (`web/lib/chirp-audio.ts`, bundled as the
 * page would load it) hears an invitation through Chromium's fake microphone fed from a WAV file
 * (`--use-file-for-fake-audio-capture`), its playback graph rendered in the page is decoded by the
 * Node side, and a refused microphone is a `ChirpError` MIC_DENIED.
 *
 * What is captured, honestly: (b) renders `playChirp`'s own graph (same encoder, same buffer source
 * and gain) through an OfflineAudioContext (`renderChirp`), because headless Chromium's speaker output
 * cannot be recorded from outside; `playChirp` itself is played to the (silent) default output and
 * must resolve with the right airtime.
 *
 * Each test launches its own Chromium: the fake-microphone flags are per browser process.
 */
import { build } from 'esbuild';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, test, expect, type Browser, type Page } from '@playwright/test';
import wavefile from 'wavefile';
import { rawText } from '../scripts/sandbox-worker-build.mjs';
import { REPO_ROOT, runCli, startNode } from './fixtures.js';

/** A real invitation of a fresh cartridge, also written as sound by `fazt mesh invite --chirp` (48 kHz WAV). */
let CODE: string;
let inviteWav: string;

let server: http.Server;
let origin: string;
let dir: string;

test.beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fazt-chirp-e2e-'));
  inviteWav = path.join(dir, 'invitation.wav');
  // a real cartridge (made by starting a node once), then the invitation made on it offline (--db)
  const inviter = await startNode();
  await inviter.stop({ keepFiles: true });
  const inv = await runCli(['mesh', 'invite', '--db', inviter.dbPath, '--chirp', inviteWav, '--json']);
  fs.rmSync(inviter.dir, { recursive: true, force: true });
  expect(inv.code, inv.stderr).toBe(0);
  CODE = JSON.parse(inv.stdout).code;
  const bundle = await build({
    stdin: {
      contents: `import * as audio from ${JSON.stringify(path.join(REPO_ROOT, 'web/lib/chirp-audio.ts'))};
        import { invitationFromChirp } from ${JSON.stringify(path.join(REPO_ROOT, 'shared/mesh/index.ts'))};
        import { invitationChirpPayload } from ${JSON.stringify(path.join(REPO_ROOT, 'shared/mesh/index.ts'))};
        globalThis.__chirp = { ...audio, invitationFromChirp, invitationChirpPayload };`,
      resolveDir: REPO_ROOT,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // ggwave's emscripten glue names Node's fs/path in a branch the browser never takes
    external: ['fs', 'path'],
    write: false,
    target: 'es2022',
    logLevel: 'silent',
    plugins: [rawText],
  });
  const js = bundle.outputFiles[0]!.text;
  server = http.createServer((req, res) => {
    if (req.url === '/chirp.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(js);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>chirp</title><script type="module" src="/chirp.js"></script>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

test.afterAll(async () => {
  if (server) await new Promise((r) => server.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function launch(extra: string[]): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required', ...extra],
  });
}

async function open(browser: Browser, permissions: string[] = []): Promise<Page> {
  const context = await browser.newContext({ permissions });
  const page = await context.newPage();
  await page.goto(origin + '/');
  await page.waitForFunction(() => !!(globalThis as { __chirp?: unknown }).__chirp);
  return page;
}

test('the page hears an invitation WAV through the fake microphone', async () => {
  // the invitation exactly as `fazt mesh invite --chirp` wrote it (Chromium loops the file)
  const wav = inviteWav;
  const browser = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`]);
  try {
    const page = await open(browser, ['microphone']);
    const heard = await page.evaluate(async () => {
      const c = (globalThis as any).__chirp;
      let levels = 0;
      let loudest = 0;
      const bytes: Uint8Array = await c.listenChirp({
        timeoutMs: 30_000,
        onLevel: (rms: number) => {
          levels++;
          loudest = Math.max(loudest, rms);
        },
      });
      return { code: c.invitationFromChirp(bytes) as string, length: bytes.length, levels, loudest };
    });
    console.log(`heard ${heard.length} bytes; ${heard.levels} level reports, loudest RMS ${heard.loudest.toFixed(3)}`);
    expect(heard.code).toBe(CODE);
    // the binary form went over the air, not the FZ1 text (docs/mesh.md "Sound")
    expect(heard.length).toBe((CODE.length - 3) * 5 / 8);
    expect(heard.levels).toBeGreaterThan(10);
    expect(heard.loudest).toBeGreaterThan(0.01);

    // a timeout and an abort are ChirpErrors with their codes (the fake microphone keeps playing,
    // so these stop before the next repetition completes)
    const stops = await page.evaluate(async () => {
      const c = (globalThis as any).__chirp;
      const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e: any) => `${e.name}:${e.code}`);
      const ctl = new AbortController();
      setTimeout(() => ctl.abort(), 200);
      return [await codeOf(c.listenChirp({ timeoutMs: 300 })), await codeOf(c.listenChirp({ signal: ctl.signal }))];
    });
    expect(stops).toEqual(['ChirpError:TIMEOUT', 'ChirpError:ABORTED']);
  } finally {
    await browser.close();
  }
});

test("playChirp's graph, rendered in the page, decodes in Node; playChirp plays for its airtime", async () => {
  const browser = await launch([]);
  try {
    const page = await open(browser);
    const rendered = await page.evaluate(async (code) => {
      const c = (globalThis as any).__chirp;
      const bytes = c.invitationChirpPayload(code);
      const samples: Float32Array = await c.renderChirp(new Uint8Array(bytes), { protocol: 'fast', volume: 0.8 });
      const t0 = performance.now();
      const played = await c.playChirp(new Uint8Array(bytes), { protocol: 'fast', volume: 0.8 });
      return { samples: Array.from(samples), airtimeMs: played.airtimeMs as number, wallMs: performance.now() - t0 };
    }, CODE);
    const samples = Float32Array.from(rendered.samples);
    console.log(`rendered ${samples.length} samples (${(samples.length / 48_000).toFixed(2)} s); playChirp airtime ${rendered.airtimeMs} ms, resolved after ${Math.round(rendered.wallMs)} ms`);
    // the Node side hears it: `fazt chirp decode` on the samples the page rendered
    const w = new wavefile.WaveFile();
    w.fromScratch(1, 48_000, '32f', samples);
    const f = path.join(dir, 'rendered.wav');
    fs.writeFileSync(f, w.toBuffer());
    const dec = await runCli(['chirp', 'decode', f, '--json']);
    expect(dec.code, dec.stderr).toBe(0);
    expect(JSON.parse(dec.stdout)).toEqual({ text: CODE });
    expect(Math.abs(rendered.airtimeMs - (samples.length / 48_000) * 1000)).toBeLessThan(2);
    expect(rendered.wallMs).toBeGreaterThan(rendered.airtimeMs * 0.9);

    // over 140 bytes is refused before any sound
    const big = await page.evaluate(async () => {
      const c = (globalThis as any).__chirp;
      return c.playChirp(new Uint8Array(141)).then(() => 'played', (e: any) => `${e.code}: ${e.message}`);
    });
    expect(big).toMatch(/^PAYLOAD_TOO_LARGE: A Chirp message holds at most 140 bytes/);
  } finally {
    await browser.close();
  }
});

test('a refused microphone is ChirpError MIC_DENIED with a message a person can act on', async () => {
  const browser = await launch(['--use-fake-device-for-media-stream', '--deny-permission-prompts']);
  try {
    const page = await open(browser);
    const r = await page.evaluate(async () => {
      const c = (globalThis as any).__chirp;
      return c.listenChirp({ timeoutMs: 10_000 }).then(
        () => ({ ok: true }),
        (e: any) => ({ ok: false, name: e.name, code: e.code, message: e.message, isChirpError: e instanceof c.ChirpError }),
      );
    });
    expect(r).toMatchObject({ ok: false, name: 'ChirpError', code: 'MIC_DENIED', isChirpError: true });
    expect((r as { message: string }).message).toMatch(/microphone is blocked.*Allow it/);
  } finally {
    await browser.close();
  }
});
