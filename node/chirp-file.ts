import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import wavefile from 'wavefile';
import { FaztError } from '../shared/index.js';
import { answerFromChirp, Chirp, CHIRP_SAMPLE_RATE, invitationFromChirp, type GgwaveFactory } from '../shared/mesh/index.js';

/**
 * Chirp on the headless node: ggwave's module loaded from the `ggwave` package, and Chirp audio read
 * from and written to WAV files (RIFF/WAVE, read and written with `wavefile`). docs/mesh.md "Sound".
 */

let loaded: Promise<Chirp> | undefined;

/**
 * The process's one {@link Chirp} (one ggwave module, at most 4 instances). ggwave's emscripten glue
 * installs `uncaughtException` and `unhandledRejection` handlers on `process` when it starts; they
 * are removed again, so loading Chirp does not change how the node treats its own errors.
 */
export function loadChirp(): Promise<Chirp> {
  loaded ??= (async () => {
    const factory = createRequire(import.meta.url)('ggwave') as GgwaveFactory;
    const before = {
      uncaughtException: new Set(process.listeners('uncaughtException')),
      unhandledRejection: new Set(process.listeners('unhandledRejection')),
    };
    try {
      return await Chirp.load(factory);
    } finally {
      for (const l of process.listeners('uncaughtException')) if (!before.uncaughtException.has(l)) process.removeListener('uncaughtException', l);
      for (const l of process.listeners('unhandledRejection')) if (!before.unhandledRejection.has(l)) process.removeListener('unhandledRejection', l);
    }
  })();
  loaded.catch(() => (loaded = undefined));
  return loaded;
}

/** Mono audio read from a WAV file. */
export interface WavAudio {
  /** Float32 samples in [-1, 1], channels averaged. */
  samples: Float32Array;
  /** Hz. */
  sampleRate: number;
  /** Channels in the file (mixed down to one here). */
  channels: number;
  /** Length, seconds. */
  seconds: number;
}

/**
 * Reads a WAV file: integer PCM (8–32 bit) or IEEE float (32/64 bit), any channel count (averaged
 * to mono), any sample rate.
 * @throws FaztError `NOT_FOUND` when the file is missing, `UNSUPPORTED_MEDIA_TYPE` when it is not a
 *   WAV file or uses another encoding (A-law, ADPCM …).
 */
export function readWav(path: string): WavAudio {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FaztError('NOT_FOUND', code === 'ENOENT' ? `No file ${path}.` : `Cannot read ${path}: ${(e as Error).message}`);
  }
  const name = basename(path);
  let wav: InstanceType<typeof wavefile.WaveFile>;
  try {
    wav = new wavefile.WaveFile(bytes);
  } catch (e) {
    throw new FaztError('UNSUPPORTED_MEDIA_TYPE', `${name} is not a WAV file (${(e as Error).message.replace(/\.$/, '')}). Chirp reads RIFF/WAVE audio: record or convert to WAV.`);
  }
  // copied out: toBitDepth() rewrites the header in place
  const fmt = { ...(wav.fmt as { numChannels: number; sampleRate: number; audioFormat: number }) };
  // 1 = PCM, 3 = IEEE float, 0xFFFE = WAVE_FORMAT_EXTENSIBLE (PCM or float inside)
  if (![1, 3, 0xfffe].includes(fmt.audioFormat)) {
    throw new FaztError('UNSUPPORTED_MEDIA_TYPE', `${name} is a WAV file in an encoding Chirp does not read (format ${fmt.audioFormat}): save it as PCM or float WAV.`);
  }
  try {
    wav.toBitDepth('32f');
  } catch (e) {
    throw new FaztError('UNSUPPORTED_MEDIA_TYPE', `${name}: cannot read its samples (${(e as Error).message}). Save it as 16-bit PCM WAV.`);
  }
  const raw = wav.getSamples(false, Float32Array) as unknown as Float32Array | Float32Array[];
  const chans = Array.isArray(raw) ? raw : [raw];
  const n = chans[0]?.length ?? 0;
  let samples: Float32Array;
  if (chans.length === 1) samples = Float32Array.from(chans[0]!);
  else {
    samples = new Float32Array(n);
    for (const c of chans) for (let i = 0; i < n; i++) samples[i]! += c[i]! / chans.length;
  }
  return { samples, sampleRate: fmt.sampleRate, channels: fmt.numChannels, seconds: fmt.sampleRate > 0 ? n / fmt.sampleRate : 0 };
}

/**
 * Writes mono float samples as a 16-bit PCM WAV file (the most widely playable form), replacing the
 * file atomically (written beside it, then renamed).
 * @param sampleRate Hz (default 48 000).
 */
export function writeWav(path: string, samples: Float32Array, sampleRate = CHIRP_SAMPLE_RATE): void {
  const pcm = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const x = Math.max(-1, Math.min(1, samples[i]!));
    pcm[i] = Math.round(x < 0 ? x * 32768 : x * 32767);
  }
  const wav = new wavefile.WaveFile();
  wav.fromScratch(1, sampleRate, '16', pcm);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, wav.toBuffer());
  renameSync(tmp, path);
}

/** Silence written before and after Chirp audio in a file, seconds: players and sound cards often cut the first and last milliseconds. */
export const CHIRP_FILE_PAD_SECONDS = 0.25;

/**
 * Writes Chirp audio (48 kHz) as a WAV file with {@link CHIRP_FILE_PAD_SECONDS} of silence on both sides.
 * @returns the file's length, seconds.
 */
export function writeChirpWav(path: string, samples: Float32Array): number {
  const pad = Math.round(CHIRP_FILE_PAD_SECONDS * CHIRP_SAMPLE_RATE);
  const out = new Float32Array(samples.length + 2 * pad);
  out.set(samples, pad);
  writeWav(path, out, CHIRP_SAMPLE_RATE);
  return out.length / CHIRP_SAMPLE_RATE;
}

/**
 * Every Chirp message in a WAV file.
 * @returns the payloads in the order heard (at least one).
 * @throws FaztError `NOT_FOUND` "No Chirp message found in F.wav (N s of audio at R Hz)" when there is
 *   none (silence, noise, another sound); what {@link readWav} throws; `INVALID_ARGUMENT` for a sample
 *   rate Chirp cannot use (below 16 kHz).
 */
export async function decodeWavFile(path: string): Promise<Uint8Array[]> {
  const audio = readWav(path);
  const found = audio.samples.length ? await (await loadChirp()).decode(audio.samples, audio.sampleRate) : [];
  if (!found.length) {
    const secs = audio.seconds < 10 ? audio.seconds.toFixed(1) : String(Math.round(audio.seconds));
    throw new FaztError(
      'NOT_FOUND',
      `No Chirp message found in ${basename(path)} (${secs} s of audio at ${audio.sampleRate} Hz${audio.channels > 1 ? `, ${audio.channels} channels mixed down` : ''}). Record the whole sound, from a little before it starts to after it ends, close to the speaker.`,
    );
  }
  return found;
}

/**
 * The invitation in a WAV file (for `fazt mesh join --chirp`).
 * @returns the invitation code to join with (the first message that is an invitation).
 * @throws FaztError `INVALID_INVITATION` when the file holds Chirp messages but none is an invitation;
 *   what {@link decodeWavFile} throws.
 */
export async function invitationFromWav(path: string): Promise<string> {
  const messages = await decodeWavFile(path);
  for (const m of messages) {
    try {
      return invitationFromChirp(m);
    } catch {
      // not an invitation: try the next message
    }
  }
  throw new FaztError(
    'INVALID_INVITATION',
    `${basename(path)} holds a Chirp message, but not a Fazt invitation${messages.length > 1 ? ` (${messages.length} messages, none is one)` : ''}: record the sound the inviting device plays for pairing.`,
  );
}

/**
 * A direct pairing's answer code in a WAV file (for `fazt mesh accept --chirp`): the sound the joining
 * device played (the Devices screen's "Play sound", the answer's binary form).
 * @returns the `FZA…` code (the first message that is an answer).
 * @throws FaztError `INVALID_INVITATION` when the file holds Chirp messages but none is an answer;
 *   what {@link decodeWavFile} throws.
 */
export async function answerFromWav(path: string): Promise<string> {
  const messages = await decodeWavFile(path);
  for (const m of messages) {
    try {
      return answerFromChirp(m);
    } catch {
      // not an answer: try the next message
    }
  }
  throw new FaztError(
    'INVALID_INVITATION',
    `${basename(path)} holds a Chirp message, but not a Fazt answer${messages.length > 1 ? ` (${messages.length} messages, none is one)` : ''}: record the sound the joining device plays with its answer.`,
  );
}
