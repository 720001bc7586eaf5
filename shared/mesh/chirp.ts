import { base32nopad } from '@scure/base';
import { FaztError } from '../errors.js';
import { ANSWER_PREFIX, CODE_PREFIX, decodeAnswer, parseInvitation, WORD_COUNT } from './invitation.js';

/**
 * Chirp: data over sound with ggwave 0.4 (its WebAssembly build, the `ggwave` npm package), the same
 * on both hosts. The host hands in ggwave's module factory (the headless node `require`s the package,
 * the page bundles it), so this file stays free of `node:*` and DOM globals.
 *
 * ggwave's traps, and what this module does about them (docs/mesh.md "Sound"):
 * - **≤ 140 bytes** per message; ggwave silently truncates longer ones. {@link Chirp.encode} refuses
 *   them (`PAYLOAD_TOO_LARGE`).
 * - **At most 4 live instances** in one module (`GGWAVE_MAX_INSTANCES`); `init` of a 5th returns -1 and
 *   using that id reads out of bounds and crashes the module. One {@link Chirp} owns one module and a
 *   pool of at most {@link CHIRP_MAX_INSTANCES} instances keyed by their parameters (direction and
 *   sample rate): an idle instance with the right key is reused, an idle one with another key is freed
 *   to make room, and otherwise the caller waits in a queue for a release. No 5th is ever created.
 * - **`encode` prints** (`printf("n = …")`) and ggwave logs every reception: the module's `print` and
 *   `printErr` go to the `log` callback given to {@link Chirp.load}, never to stdout or stderr.
 * - **The decoder needs whole frames**: ggwave 0.4 drops messages when it is fed pieces that are not
 *   exactly one frame (1024 samples at 48 kHz; ⌈1024 · rate / 48000⌉ samples at another input rate,
 *   which ggwave resamples itself). Both {@link Chirp.decode} and {@link ChirpDecoder.push} buffer and
 *   feed exactly that.
 * - In 0.4 the protocol is chosen per `encode` call, not per instance; a receiver hears every enabled
 *   protocol. {@link Chirp.load} enables reception of the three audible ones only (less work, fewer
 *   false starts).
 * @see https://github.com/ggerganov/ggwave (src/ggwave.cpp, bindings/javascript/emscripten.cpp, v0.4.0)
 */

/** Transmission speed: ggwave's audible protocols (normal ≈ 8, fast ≈ 12, fastest ≈ 16 payload bytes/s). */
export type ChirpProtocol = 'normal' | 'fast' | 'fastest';

/** The protocols, slowest (most robust) first. */
export const CHIRP_PROTOCOLS: readonly ChirpProtocol[] = ['normal', 'fast', 'fastest'];

/** Most payload bytes in one Chirp message (ggwave's limit). */
export const CHIRP_MAX_BYTES = 140;

/** The sample rate Chirp audio is made at unless asked otherwise, Hz. */
export const CHIRP_SAMPLE_RATE = 48_000;

/** Lowest and highest input or output sample rate accepted, Hz: the audible tones reach ≈ 6.5 kHz, so below 16 kHz they do not survive; ggwave's own maximum is 96 kHz. */
export const CHIRP_MIN_RATE = 16_000;
/** See {@link CHIRP_MIN_RATE}. */
export const CHIRP_MAX_RATE = 96_000;

/** Most ggwave instances alive at once in one module (ggwave's `GGWAVE_MAX_INSTANCES`). */
export const CHIRP_MAX_INSTANCES = 4;

/** The volume ggwave encodes at (0–100): peaks at ≈ 0.49 of full scale, room for a mixer or a speaker. */
export const CHIRP_VOLUME = 50;

/** ggwave's frame at its internal 48 kHz rate, samples. */
const FRAME = 1024;

/** The part of ggwave's emscripten module this code uses (bindings/javascript/emscripten.cpp). */
export interface GgwaveModule {
  getDefaultParameters(): GgwaveParameters;
  /** Returns the instance id, or -1 when 4 are alive (never use -1: it crashes the module). */
  init(parameters: GgwaveParameters): number;
  free(instance: number): void;
  /** The waveform as the bytes of float32 samples, a view into module memory that the next call overwrites. */
  encode(instance: number, payload: Uint8Array, protocol: unknown, volume: number): Int8Array;
  /** Bytes of a message decoded by the end of this chunk, or an empty view. */
  decode(instance: number, waveform: Int8Array): Int8Array;
  rxToggleProtocol(protocol: unknown, state: number): void;
  ProtocolId: Record<string, unknown>;
  GGWAVE_OPERATING_MODE_RX: number;
  GGWAVE_OPERATING_MODE_TX: number;
}

/** ggwave's `ggwave_Parameters` (sample formats stay the default, float32). */
export interface GgwaveParameters {
  payloadLength: number;
  sampleRateInp: number;
  sampleRateOut: number;
  sampleRate: number;
  samplesPerFrame: number;
  soundMarkerThreshold: number;
  operatingMode: number;
  [k: string]: unknown;
}

/**
 * Makes ggwave's module: the `ggwave` package's default export (an emscripten factory). `print` and
 * `printErr` receive what the C code writes to stdout and stderr.
 */
export type GgwaveFactory = (options: { print: (line: string) => void; printErr: (line: string) => void }) => Promise<GgwaveModule>;

/** Options of {@link Chirp.encode}. */
export interface ChirpEncodeOptions {
  /** Default `fast`. */
  protocol?: ChirpProtocol;
  /** Output sample rate, Hz (default 48 000; 16 000–96 000). */
  sampleRate?: number;
  /** ggwave volume 0–100 (default {@link CHIRP_VOLUME}). */
  volume?: number;
}

/** A snapshot of the instance pool, for tests and diagnostics. */
export interface ChirpPoolStats {
  /** Instances alive now (never more than {@link CHIRP_MAX_INSTANCES}). */
  live: number;
  /** Of those, lent out now. */
  busy: number;
  /** Callers waiting for an instance. */
  waiting: number;
  /** Instances ever created, and the most alive at once. */
  created: number;
  peakLive: number;
}

const PROTOCOL_IDS: Record<ChirpProtocol, string> = {
  normal: 'GGWAVE_PROTOCOL_AUDIBLE_NORMAL',
  fast: 'GGWAVE_PROTOCOL_AUDIBLE_FAST',
  fastest: 'GGWAVE_PROTOCOL_AUDIBLE_FASTEST',
};

interface Slot {
  id: number;
  key: string;
  busy: boolean;
}

/** A lent instance; `release()` returns it (or frees it with `discard`). */
interface Lease {
  id: number;
  release(discard?: boolean): void;
}

/** Checks a sample rate. @throws FaztError `INVALID_ARGUMENT` outside 16–96 kHz. */
function checkRate(rate: number, what: string): number {
  if (!Number.isFinite(rate) || rate < CHIRP_MIN_RATE || rate > CHIRP_MAX_RATE) {
    throw new FaztError(
      'INVALID_ARGUMENT',
      `Chirp needs ${what} between ${CHIRP_MIN_RATE / 1000} and ${CHIRP_MAX_RATE / 1000} kHz (got ${rate} Hz): its tones reach about 6.5 kHz. Record or resample at 44.1 or 48 kHz.`,
    );
  }
  return Math.round(rate);
}

/** The payload as bytes (a string as UTF-8), checked against ggwave's limit. @throws FaztError `INVALID_ARGUMENT` (empty), `PAYLOAD_TOO_LARGE` (> 140 bytes). */
export function chirpPayloadBytes(payload: Uint8Array | string): Uint8Array {
  const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  if (!(bytes instanceof Uint8Array)) throw new FaztError('INVALID_ARGUMENT', 'A Chirp payload is text or bytes (Uint8Array).');
  if (bytes.length === 0) throw new FaztError('INVALID_ARGUMENT', 'A Chirp message needs at least one byte.');
  if (bytes.length > CHIRP_MAX_BYTES) {
    throw new FaztError(
      'PAYLOAD_TOO_LARGE',
      `A Chirp message holds at most ${CHIRP_MAX_BYTES} bytes; this one is ${bytes.length} bytes${typeof payload === 'string' ? ' (as UTF-8)' : ''}. Send less, or send it another way (QR code, words).`,
      { limitBytes: CHIRP_MAX_BYTES, sizeBytes: bytes.length },
    );
  }
  return bytes;
}

/**
 * One ggwave module and its instance pool. Make it once per host ({@link Chirp.load}) and keep it:
 * every call borrows an instance and gives it back.
 */
export class Chirp {
  readonly #gg: GgwaveModule;
  readonly #slots: Slot[] = [];
  readonly #queue: { key: string; grant: (l: Lease) => void; fail: (e: unknown) => void }[] = [];
  #created = 0;
  #peak = 0;

  private constructor(gg: GgwaveModule) {
    this.#gg = gg;
  }

  /**
   * Instantiates ggwave's module with its output captured, and enables reception of the audible
   * protocols only.
   * @param factory the `ggwave` package's default export (see {@link GgwaveFactory}).
   * @param log receives ggwave's own lines (its printf and its log); default: dropped.
   * @throws whatever the factory throws (the WebAssembly could not be compiled).
   */
  static async load(factory: GgwaveFactory, log: (line: string) => void = () => {}): Promise<Chirp> {
    const gg = await factory({ print: log, printErr: log });
    for (const [name, id] of Object.entries(gg.ProtocolId)) {
      if (name === 'values') continue;
      gg.rxToggleProtocol(id, Object.values(PROTOCOL_IDS).includes(name) ? 1 : 0);
    }
    return new Chirp(gg);
  }

  /** The pool now (see {@link ChirpPoolStats}). */
  stats(): ChirpPoolStats {
    return { live: this.#slots.length, busy: this.#slots.filter((s) => s.busy).length, waiting: this.#queue.length, created: this.#created, peakLive: this.#peak };
  }

  #init(key: string): number {
    const [dir, rate] = key.split(':') as [string, string];
    const p = this.#gg.getDefaultParameters();
    p.payloadLength = -1;
    if (dir === 'tx') {
      p.sampleRateOut = Number(rate);
      p.operatingMode = this.#gg.GGWAVE_OPERATING_MODE_TX;
    } else {
      p.sampleRateInp = Number(rate);
      p.operatingMode = this.#gg.GGWAVE_OPERATING_MODE_RX;
    }
    const id = this.#gg.init(p);
    if (id < 0) throw new FaztError('INTERNAL', 'ggwave refused a new instance (it allows 4): this is a bug in Fazt’s Chirp pool.');
    this.#created++;
    return id;
  }

  /** Lends an instance for `key` (`tx:RATE` or `rx:RATE`), creating one only while fewer than 4 live. */
  #acquire(key: string): Promise<Lease> {
    const now = this.#tryAcquire(key);
    if (now) return Promise.resolve(now);
    return new Promise((grant, fail) => this.#queue.push({ key, grant, fail }));
  }

  #tryAcquire(key: string): Lease | undefined {
    let slot = this.#slots.find((s) => !s.busy && s.key === key);
    if (!slot) {
      if (this.#slots.length >= CHIRP_MAX_INSTANCES) {
        const idle = this.#slots.findIndex((s) => !s.busy);
        if (idle < 0) return undefined;
        this.#gg.free(this.#slots[idle]!.id);
        this.#slots.splice(idle, 1);
      }
      slot = { id: this.#init(key), key, busy: false };
      this.#slots.push(slot);
      this.#peak = Math.max(this.#peak, this.#slots.length);
    }
    slot.busy = true;
    const s = slot;
    let done = false;
    return {
      id: s.id,
      release: (discard = false) => {
        if (done) return;
        done = true;
        s.busy = false;
        if (discard) {
          this.#gg.free(s.id);
          this.#slots.splice(this.#slots.indexOf(s), 1);
        }
        this.#drain();
      },
    };
  }

  /** Hands released room to waiters, in order. */
  #drain(): void {
    while (this.#queue.length) {
      const next = this.#queue[0]!;
      let lease: Lease | undefined;
      try {
        lease = this.#tryAcquire(next.key);
      } catch (e) {
        this.#queue.shift();
        next.fail(e);
        continue;
      }
      if (!lease) return;
      this.#queue.shift();
      next.grant(lease);
    }
  }

  /**
   * Encodes a payload as Chirp audio.
   * @param payload bytes, or text (sent as UTF-8); 1–140 bytes.
   * @returns mono float32 samples in [-1, 1] at `sampleRate` (default 48 kHz); ≈ 2–5 s for 45 bytes.
   * @throws FaztError `PAYLOAD_TOO_LARGE` over 140 bytes (never truncated), `INVALID_ARGUMENT` for an
   *   empty payload, an unknown protocol or a sample rate outside 16–96 kHz, `INTERNAL` when ggwave fails.
   */
  async encode(payload: Uint8Array | string, options: ChirpEncodeOptions = {}): Promise<Float32Array> {
    const bytes = chirpPayloadBytes(payload);
    const protocol = options.protocol ?? 'fast';
    if (!CHIRP_PROTOCOLS.includes(protocol)) throw new FaztError('INVALID_ARGUMENT', `Unknown Chirp protocol “${String(protocol)}”: use ${CHIRP_PROTOCOLS.join(', ')}.`);
    const rate = checkRate(options.sampleRate ?? CHIRP_SAMPLE_RATE, 'an output sample rate');
    const volume = Math.max(1, Math.min(100, Math.round(options.volume ?? CHIRP_VOLUME)));
    const lease = await this.#acquire(`tx:${rate}`);
    try {
      const view = this.#gg.encode(lease.id, bytes, this.#gg.ProtocolId[PROTOCOL_IDS[protocol]], volume);
      if (!view || view.byteLength < 4) throw new FaztError('INTERNAL', 'ggwave produced no audio for this payload.');
      // a copy: the view points into a buffer the next encode reuses
      return new Float32Array(view.slice(0, view.byteLength - (view.byteLength % 4)).buffer);
    } finally {
      lease.release();
    }
  }

  /**
   * Finds every Chirp message in a recording.
   * @param samples mono float32 samples (mix stereo down first).
   * @param sampleRate their rate, Hz (16–96 kHz; ggwave resamples to its 48 kHz).
   * @returns the payloads in the order heard; `[]` when there is none.
   * @throws FaztError `INVALID_ARGUMENT` for a sample rate outside 16–96 kHz.
   */
  async decode(samples: Float32Array, sampleRate: number): Promise<Uint8Array[]> {
    const found = await this.#decodeAt(samples, sampleRate, 0);
    if (found.length) return found;
    // ggwave 0.4 misses about 1 message in 80 (noise-free, payload-dependent) at one alignment of the
    // recording to its frames and hears it at any other: a recording where nothing was found is
    // listened to once more, half a frame later
    return this.#decodeAt(samples, sampleRate, Math.ceil((FRAME * checkRate(sampleRate, 'audio')) / CHIRP_SAMPLE_RATE / 2));
  }

  /** One pass of {@link decode}, with `offset` samples of silence before the recording. */
  async #decodeAt(samples: Float32Array, sampleRate: number, offset: number): Promise<Uint8Array[]> {
    const decoder = await this.openDecoder(sampleRate);
    try {
      const found = offset ? decoder.push(new Float32Array(offset)) : [];
      found.push(...decoder.push(samples));
      // a message that ends right at the end of the recording needs a little more audio to be closed
      found.push(...decoder.push(new Float32Array(Math.ceil(sampleRate / 2))));
      return found;
    } finally {
      decoder.close();
    }
  }

  /**
   * A streaming receiver (a microphone): push samples as they come. It holds one of the 4 instances
   * until {@link ChirpDecoder.close}; when all 4 are held, this waits for one.
   * @param sampleRate Hz, 16–96 kHz.
   * @throws FaztError `INVALID_ARGUMENT` for a rate out of range.
   */
  async openDecoder(sampleRate: number): Promise<ChirpDecoder> {
    const rate = checkRate(sampleRate, 'audio');
    const lease = await this.#acquire(`rx:${rate}`);
    return new ChirpDecoder(this.#gg, lease, Math.ceil((FRAME * rate) / CHIRP_SAMPLE_RATE));
  }
}

/** A receiver made by {@link Chirp.openDecoder}. */
export class ChirpDecoder {
  readonly #gg: GgwaveModule;
  #lease: Lease | undefined;
  readonly #frame: Float32Array;
  #fill = 0;

  /** @internal made by {@link Chirp.openDecoder}. */
  constructor(gg: GgwaveModule, lease: Lease, frameSamples: number) {
    this.#gg = gg;
    this.#lease = lease;
    this.#frame = new Float32Array(frameSamples);
  }

  /**
   * Feeds samples (any count; buffered into ggwave's frames).
   * @returns the messages completed by these samples, usually none.
   * @throws FaztError `INVALID_ARGUMENT` after {@link close}.
   */
  push(samples: Float32Array): Uint8Array[] {
    const lease = this.#lease;
    if (!lease) throw new FaztError('INVALID_ARGUMENT', 'This Chirp decoder is closed.');
    const found: Uint8Array[] = [];
    let i = 0;
    while (i < samples.length) {
      const n = Math.min(this.#frame.length - this.#fill, samples.length - i);
      this.#frame.set(samples.subarray(i, i + n), this.#fill);
      this.#fill += n;
      i += n;
      if (this.#fill < this.#frame.length) break;
      this.#fill = 0;
      const out = this.#gg.decode(lease.id, new Int8Array(this.#frame.buffer));
      if (out && out.length > 0) found.push(Uint8Array.from(out, (b) => b & 0xff));
    }
    return found;
  }

  /** Frees the instance (a receiver carries state from its audio, so it is never lent again). Idempotent. */
  close(): void {
    this.#lease?.release(true);
    this.#lease = undefined;
  }
}

/** The protocol invitations are played with (bench/chirp.mjs: decoded at −5 dB SNR; ≈ 3.5 s for 45 bytes). */
export const INVITATION_CHIRP_PROTOCOL: ChirpProtocol = 'fast';

/**
 * A heard message as text: its UTF-8 text, or, when it is not text but an invitation's binary form,
 * the invitation code; otherwise its bytes as lower-case hex.
 */
export function chirpMessageText(message: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(message);
  } catch {
    try {
      return invitationFromChirp(message);
    } catch {
      try {
        return answerFromChirp(message);
      } catch {
        return Array.from(message, (b) => b.toString(16).padStart(2, '0')).join('');
      }
    }
  }
}

/**
 * What to send for an invitation by sound: its 45-byte binary form (with two IPv4 addresses), not
 * the 75-character `FZ1…` code. Binary is 40 % shorter on air (bench/chirp.mjs) and leaves room under
 * 140 bytes for longer invitations.
 * @param code the invitation code (`FZ1…`).
 * @throws FaztError `INVALID_INVITATION` when `code` is not one, `PAYLOAD_TOO_LARGE` past 140 bytes.
 */
export function invitationChirpPayload(code: string): Uint8Array {
  parseInvitation(code);
  const s = code.replace(/[\s-]+/g, '').toUpperCase();
  return chirpPayloadBytes(base32nopad.decode(s.slice(CODE_PREFIX.length)));
}

/**
 * The invitation code in a heard Chirp message: the binary form ({@link invitationChirpPayload}) or
 * the code or words as text, all checked by `parseInvitation`.
 * @returns the `FZ1…` code (or the words as heard) to hand to `POST /api/mesh/join`.
 * @throws FaztError `INVALID_INVITATION` when the message holds something else (foreign or damaged
 *   bytes: the invitation's checksum catches them).
 */
export function invitationFromChirp(message: Uint8Array): string {
  let text: string | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(message).trim();
  } catch {
    text = undefined;
  }
  if (text && /^fz1/i.test(text.replace(/[\s-]+/g, ''))) {
    parseInvitation(text);
    return text;
  }
  if (message[0] === 1) {
    const code = CODE_PREFIX + base32nopad.encode(message);
    parseInvitation(code);
    return code;
  }
  if (text && /^[a-z\s]+$/i.test(text) && text.split(/\s+/).length === WORD_COUNT) {
    parseInvitation(text);
    return text;
  }
  throw new FaztError('INVALID_INVITATION', 'This Chirp message is not a Fazt invitation (it holds something else): play the invitation from the inviting device again.');
}

/**
 * What to send for a direct pairing's answer code (`FZA…`, invitation.ts `encodeAnswer`) by sound:
 * its binary form (at most 140 bytes), not the text.
 * @throws FaztError `INVALID_INVITATION` when `code` is not an answer code (or is damaged).
 */
export function answerChirpPayload(code: string): Uint8Array {
  decodeAnswer(code);
  const s = code.replace(/[\s-]+/g, '').toUpperCase();
  return chirpPayloadBytes(base32nopad.decode(s.slice(ANSWER_PREFIX.length)));
}

/**
 * The answer code in a heard Chirp message: its binary form ({@link answerChirpPayload}) or the
 * `FZA…` code as text, checked by `decodeAnswer` (its checksum tells it from an invitation).
 * @returns the `FZA…` code, for `POST /api/mesh/invitations/answer` (`fazt mesh accept`).
 * @throws FaztError `INVALID_INVITATION` when the message holds something else.
 */
export function answerFromChirp(message: Uint8Array): string {
  let code: string;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(message).trim();
    code = /^fza/i.test(text) ? text : ANSWER_PREFIX + base32nopad.encode(message);
  } catch {
    code = ANSWER_PREFIX + base32nopad.encode(message);
  }
  decodeAnswer(code);
  return code.replace(/[\s-]+/g, '').toUpperCase();
}
