/**
 * Chirp in the page (docs/mesh.md "Sound"): plays a payload through WebAudio and listens on the
 * microphone, with ggwave's WebAssembly (shared/mesh/chirp.ts does the ggwave part; this file the
 * audio). A service worker has no WebAudio, so sound lives here, in the page.
 *
 * ggwave is loaded on first use (a dynamic import): the `ggwave` package carries its WebAssembly
 * inside its JavaScript, so the bundler emits one lazy chunk (~150 KB) that the PWA precaches with
 * the rest of the build's scripts, and sound works offline.
 */
import type { ChirpDecoder, ChirpProtocol, GgwaveFactory } from '../../shared/mesh/index.js';
import { Chirp, CHIRP_MAX_RATE, CHIRP_MIN_RATE, CHIRP_SAMPLE_RATE } from '../../shared/mesh/index.js';

/** Codes of {@link ChirpError}. */
export type ChirpErrorCode = 'MIC_DENIED' | 'MIC_UNAVAILABLE' | 'AUDIO_UNAVAILABLE' | 'TIMEOUT' | 'ABORTED';

/** Errors of {@link playChirp} and {@link listenChirp}: `code` is one of {@link ChirpErrorCode}; the message says, in plain words, what a person can do. */
export class ChirpError extends Error {
  readonly code: ChirpErrorCode;
  constructor(code: ChirpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChirpError';
    this.code = code;
  }
}

let loaded: Promise<Chirp> | undefined;

/** The page's one {@link Chirp} (one ggwave module, at most 4 instances). @throws ChirpError `AUDIO_UNAVAILABLE` when ggwave cannot load. */
export function pageChirp(): Promise<Chirp> {
  loaded ??= import('ggwave')
    .then((m) => Chirp.load(((m as { default?: GgwaveFactory }).default ?? m) as GgwaveFactory))
    .catch((e: unknown) => {
      loaded = undefined;
      throw new ChirpError('AUDIO_UNAVAILABLE', 'The sound module could not be loaded. Reload the page and try again.', { cause: e });
    });
  return loaded;
}

const aborted = () => new ChirpError('ABORTED', 'Stopped.');

/** A new AudioContext, at 48 kHz when the device allows it. @throws ChirpError `AUDIO_UNAVAILABLE`. */
function audioContext(): AudioContext {
  const Ctx = globalThis.AudioContext ?? (globalThis as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
  if (!Ctx) throw new ChirpError('AUDIO_UNAVAILABLE', 'This browser cannot play or record sound (no Web Audio). Use the QR code or the words instead.');
  try {
    return new Ctx({ sampleRate: CHIRP_SAMPLE_RATE, latencyHint: 'interactive' });
  } catch {
    try {
      return new Ctx();
    } catch (e) {
      throw new ChirpError('AUDIO_UNAVAILABLE', 'Sound is not available on this device right now. Close other apps that use sound, or use the QR code or the words.', { cause: e });
    }
  }
}

/** Starts a context that the autoplay policy keeps suspended until a tap. @throws ChirpError `AUDIO_UNAVAILABLE` when it stays suspended. */
async function resume(ctx: AudioContext): Promise<void> {
  if (ctx.state === 'running') return;
  await Promise.race([ctx.resume().catch(() => undefined), new Promise((r) => setTimeout(r, 1500))]);
  if ((ctx.state as string) !== 'running') {
    throw new ChirpError('AUDIO_UNAVAILABLE', 'The browser did not allow sound to start. Tap the button again (sound can only start from a tap).');
  }
}

/**
 * Connects the Chirp audio of `samples` (48 kHz mono) to `destination` at `volume`: the graph both
 * {@link playChirp} and {@link renderChirp} play. @returns the source node (not started).
 */
function chirpGraph(ctx: BaseAudioContext, samples: Float32Array, volume: number, destination: AudioNode): AudioBufferSourceNode {
  const buffer = ctx.createBuffer(1, samples.length, CHIRP_SAMPLE_RATE);
  buffer.copyToChannel(samples as Float32Array<ArrayBuffer>, 0);
  const source = ctx.createBufferSource();
  source.buffer = buffer;
  const gain = ctx.createGain();
  gain.gain.value = Math.max(0, Math.min(1, volume));
  source.connect(gain).connect(destination);
  return source;
}

/** Encodes with the page's ggwave at 48 kHz. @throws the shared module's FaztError (`PAYLOAD_TOO_LARGE` over 140 bytes). */
async function encode(payload: Uint8Array | string, protocol: ChirpProtocol): Promise<Float32Array> {
  return (await pageChirp()).encode(payload, { protocol, sampleRate: CHIRP_SAMPLE_RATE });
}

/**
 * Plays payload as Chirp through WebAudio. Resolves when playback ended.
 * @param payload bytes or text (UTF-8), at most 140 bytes (for an invitation: `invitationChirpPayload(code)`).
 * @param opts `protocol` (default `fast`), `volume` 0–1 (default 1; ggwave's own level peaks at
 *   about half of full scale), `signal` stops playback (rejects `ABORTED`).
 * @returns the length of the sound, ms.
 * @throws ChirpError `AUDIO_UNAVAILABLE` (no Web Audio, or sound not allowed to start), `ABORTED`;
 *   FaztError `PAYLOAD_TOO_LARGE` over 140 bytes.
 */
export async function playChirp(
  payload: Uint8Array | string,
  opts: { protocol?: 'fast' | 'normal' | 'fastest'; volume?: number; signal?: AbortSignal } = {},
): Promise<{ airtimeMs: number }> {
  if (opts.signal?.aborted) throw aborted();
  const samples = await encode(payload, opts.protocol ?? 'fast');
  if (opts.signal?.aborted) throw aborted();
  const ctx = audioContext();
  try {
    await resume(ctx);
    const source = chirpGraph(ctx, samples, opts.volume ?? 1, ctx.destination);
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        source.onended = null;
        try {
          source.stop();
        } catch {
          // not started yet
        }
        reject(aborted());
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      source.onended = () => {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      source.start();
    });
    return { airtimeMs: Math.round((samples.length / CHIRP_SAMPLE_RATE) * 1000) };
  } finally {
    void ctx.close().catch(() => undefined);
  }
}

/**
 * Renders exactly what {@link playChirp} plays (same encoder, same graph) into an
 * OfflineAudioContext instead of the speaker: for tests and for saving the sound as a file.
 * @returns mono samples at 48 kHz.
 */
export async function renderChirp(payload: Uint8Array | string, opts: { protocol?: 'fast' | 'normal' | 'fastest'; volume?: number } = {}): Promise<Float32Array> {
  const samples = await encode(payload, opts.protocol ?? 'fast');
  const ctx = new OfflineAudioContext(1, samples.length, CHIRP_SAMPLE_RATE);
  chirpGraph(ctx, samples, opts.volume ?? 1, ctx.destination).start();
  return (await ctx.startRendering()).getChannelData(0);
}

/** The AudioWorklet that hands the microphone's samples to the page in blocks of 2048. */
const WORKLET = `registerProcessor('fazt-chirp-tap', class extends AudioWorkletProcessor {
  constructor() { super(); this.buf = new Float32Array(2048); this.n = 0; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) for (let i = 0; i < ch.length; i++) {
      this.buf[this.n++] = ch[i];
      if (this.n === this.buf.length) { this.port.postMessage(this.buf, [this.buf.buffer]); this.buf = new Float32Array(2048); this.n = 0; }
    }
    return true;
  }
});`;

/** Maps getUserMedia's DOMException to a ChirpError a person can act on. */
function micError(e: unknown): ChirpError {
  const name = (e as { name?: string })?.name ?? '';
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
    return new ChirpError(
      'MIC_DENIED',
      'The microphone is blocked for this page. Allow it (the lock or camera icon next to the address, or the browser’s site settings), then try again — or use the QR code or the words.',
      { cause: e },
    );
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError') {
    return new ChirpError('MIC_UNAVAILABLE', 'No microphone was found on this device. Connect one, or use the QR code or the words.', { cause: e });
  }
  return new ChirpError('MIC_UNAVAILABLE', 'The microphone could not be started (another app may be using it). Close other apps that record sound and try again.', { cause: e });
}

/**
 * Listens on the microphone until one Chirp message is heard; resolves with its bytes.
 * The microphone is opened without echo cancellation, noise suppression or automatic gain (they
 * damage the tones), at 48 kHz when the device allows; samples reach ggwave through an AudioWorklet
 * (a ScriptProcessorNode where worklets are missing).
 * @param opts `signal` stops listening (rejects `ABORTED`); `timeoutMs` (default none) rejects
 *   `TIMEOUT`; `onLevel` receives the input's RMS level (0–1) about 23 times a second, for a meter.
 * @returns the payload of the first message heard (for an invitation: pass it to `invitationFromChirp`).
 * @throws ChirpError `MIC_DENIED`, `MIC_UNAVAILABLE` (no microphone, none usable, or not a secure
 *   page), `AUDIO_UNAVAILABLE`, `TIMEOUT`, `ABORTED`.
 */
export async function listenChirp(opts: { signal?: AbortSignal; timeoutMs?: number; onLevel?: (rms: number) => void } = {}): Promise<Uint8Array> {
  if (opts.signal?.aborted) throw aborted();
  if (!globalThis.navigator?.mediaDevices?.getUserMedia) {
    throw new ChirpError(
      'MIC_UNAVAILABLE',
      globalThis.isSecureContext === false
        ? 'The microphone can only be used on a secure page (https:// or localhost). Open the dashboard over HTTPS, or use the QR code or the words.'
        : 'This browser cannot use a microphone. Use the QR code or the words instead.',
    );
  }
  const chirp = await pageChirp();
  const cleanups: (() => void)[] = [];
  const cleanup = () => {
    for (const f of cleanups.splice(0).reverse()) {
      try {
        f();
      } catch {
        // best effort
      }
    }
  };
  try {
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
      });
    } catch (e) {
      throw micError(e);
    }
    cleanups.push(() => stream.getTracks().forEach((t) => t.stop()));
    if (opts.signal?.aborted) throw aborted();
    const ctx = audioContext();
    cleanups.push(() => void ctx.close().catch(() => undefined));
    if (ctx.sampleRate < CHIRP_MIN_RATE || ctx.sampleRate > CHIRP_MAX_RATE) {
      throw new ChirpError('AUDIO_UNAVAILABLE', `This device records sound at ${ctx.sampleRate} Hz, which Chirp cannot use. Use the QR code or the words instead.`);
    }
    await resume(ctx);
    const decoder: ChirpDecoder = await chirp.openDecoder(ctx.sampleRate);
    cleanups.push(() => decoder.close());
    const mic = ctx.createMediaStreamSource(stream);
    // a silent sink keeps the graph pulling samples without playing the microphone back
    const mute = ctx.createGain();
    mute.gain.value = 0;
    mute.connect(ctx.destination);

    return await new Promise<Uint8Array>((resolve, reject) => {
      let done = false;
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        fn();
      };
      const onSamples = (block: Float32Array) => {
        if (done) return;
        if (opts.onLevel) {
          let s = 0;
          for (let i = 0; i < block.length; i++) s += block[i]! * block[i]!;
          opts.onLevel(Math.sqrt(s / block.length));
        }
        const found = decoder.push(block);
        if (found.length) finish(() => resolve(found[0]!));
      };
      const onAbort = () => finish(() => reject(aborted()));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      cleanups.push(() => opts.signal?.removeEventListener('abort', onAbort));
      if (opts.timeoutMs !== undefined) {
        const t = setTimeout(
          () => finish(() => reject(new ChirpError('TIMEOUT', `No sound message was heard in ${Math.round(opts.timeoutMs! / 1000)} s. Hold the devices closer, turn the other one’s volume up, and try again.`))),
          opts.timeoutMs,
        );
        cleanups.push(() => clearTimeout(t));
      }
      void tap(ctx, mic, mute, onSamples, cleanups).catch((e: unknown) =>
        finish(() => reject(e instanceof ChirpError ? e : new ChirpError('AUDIO_UNAVAILABLE', 'Listening could not start on this device. Use the QR code or the words instead.', { cause: e }))),
      );
    });
  } finally {
    cleanup();
  }
}

/** Routes the microphone's samples to `onSamples`: an AudioWorklet, or a ScriptProcessorNode where there is none. */
async function tap(ctx: AudioContext, mic: MediaStreamAudioSourceNode, sink: AudioNode, onSamples: (b: Float32Array) => void, cleanups: (() => void)[]): Promise<void> {
  if (ctx.audioWorklet && typeof AudioWorkletNode !== 'undefined') {
    const url = URL.createObjectURL(new Blob([WORKLET], { type: 'text/javascript' }));
    try {
      await ctx.audioWorklet.addModule(url);
      const node = new AudioWorkletNode(ctx, 'fazt-chirp-tap', { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1, channelCountMode: 'explicit' });
      node.port.onmessage = (e: MessageEvent<Float32Array>) => onSamples(e.data);
      mic.connect(node).connect(sink);
      cleanups.push(() => {
        node.port.onmessage = null;
        mic.disconnect();
        node.disconnect();
      });
      return;
    } catch {
      // a page that forbids blob: worklets: fall back below
    } finally {
      URL.revokeObjectURL(url);
    }
  }
  const proc = ctx.createScriptProcessor(2048, 1, 1);
  proc.onaudioprocess = (e) => onSamples(new Float32Array(e.inputBuffer.getChannelData(0)));
  mic.connect(proc).connect(sink);
  cleanups.push(() => {
    proc.onaudioprocess = null;
    mic.disconnect();
    proc.disconnect();
  });
}
