/**
 * Chirp (docs/mesh.md "Sound") with the real ggwave 0.4 WebAssembly module: round trips per protocol,
 * white noise at 0 dB and −5 dB SNR (seeded; the seed is printed), ggwave's limits (140 bytes, 4
 * instances), WAV files (ours, ggwave's own, stereo, 44.1 kHz, silent, not a WAV), invitations by
 * sound, and `fazt chirp encode|decode` as a real process.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import wavefile from 'wavefile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaztError } from '../shared/index.js';
import {
  CHIRP_MAX_INSTANCES,
  CHIRP_PROTOCOLS,
  Chirp,
  invitationChirpPayload,
  invitationFromChirp,
  invitationToCode,
  type Invitation,
} from '../shared/mesh/index.js';
import { decodeWavFile, invitationFromWav, loadChirp, readWav, writeWav } from './chirp-file.js';
import { noisyRecording, prng } from './chirp-noise.js';
import { ensureBundle, removeTempDirs, spawnNode, tempDir } from './test-helpers.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'fazt.js');
const run = promisify(execFile);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

const SEED = Number(process.env.CHIRP_SEED ?? 20261206);
console.log(`chirp noise seed ${SEED} (replay with CHIRP_SEED=${SEED})`);

const invitation: Invitation = {
  secret: Uint8Array.from([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]),
  expiresAt: 1_900_000_000_000,
  inviterId: 'abcdefghijklmnop',
  addresses: [
    { host: '192.168.1.20', port: 8080 },
    { host: '10.0.0.7', port: 4698 },
  ],
};
const CODE = invitationToCode(invitation);

let chirp: Chirp;
let dir: string;
beforeAll(async () => {
  chirp = await loadChirp();
  dir = tempDir('fazt-chirp-');
});
afterAll(() => removeTempDirs());

async function rejects(p: Promise<unknown>, code: string, message: RegExp): Promise<FaztError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(FaztError);
    expect((e as FaztError).code).toBe(code);
    expect((e as FaztError).message).toMatch(message);
    return e as FaztError;
  }
  throw new Error(`expected a FaztError ${code}`);
}

describe('encode and decode', () => {
  it.each(CHIRP_PROTOCOLS)('round trips bytes with the %s protocol', async (protocol) => {
    const payload = Uint8Array.from({ length: 45 }, (_, i) => (i * 73 + 11) & 0xff);
    const audio = await chirp.encode(payload, { protocol });
    expect(audio).toBeInstanceOf(Float32Array);
    expect(audio.length / 48_000).toBeGreaterThan(1);
    const found = await chirp.decode(noisyRecording(audio, 48_000, Infinity, 0), 48_000);
    expect(found).toEqual([payload]);
  });

  it.each([
    [0, 'fast'],
    [-5, 'fast'],
    [0, 'normal'],
    [-5, 'normal'],
    [0, 'fastest'],
  ] as const)('decodes an invitation with white noise at %s dB SNR (%s)', async (snr, protocol) => {
    const payload = invitationChirpPayload(CODE);
    const audio = await chirp.encode(payload, { protocol });
    const rec = noisyRecording(audio, 48_000, snr, SEED + snr);
    const found = await chirp.decode(rec, 48_000);
    expect(found.map((m) => invitationFromChirp(m))).toEqual([CODE]);
  });

  it('hears payloads that ggwave misses at one frame alignment (found by a random round trip, 1 in ~80)', async () => {
    // each decodes to nothing when the recording starts on a frame boundary, and at any other offset
    for (const hex of [
      'd718ef3ae15eb0b8202bdacce6aeaeea1459d74b95a0be9fd621ced56d7c195f3f34c603fa6084f0924492ff8a',
      'bbab1d70df50d93d9112c5558320e6f505473196e5c1394e86bc7ca4c001a6d296cab9b86e2cdee2c57d11dcf4',
    ]) {
      const payload = Uint8Array.from(Buffer.from(hex, 'hex'));
      const audio = await chirp.encode(payload, { protocol: 'fast' });
      expect(await chirp.decode(audio, 48_000)).toEqual([payload]);
    }
  });

  it('finds every message of a recording, in order, and none in silence or noise', async () => {
    const a = await chirp.encode('first', { protocol: 'fastest' });
    const b = await chirp.encode('second', { protocol: 'fast' });
    const both = new Float32Array(a.length + b.length + 48_000);
    both.set(a, 12_000);
    both.set(b, a.length + 36_000);
    expect((await chirp.decode(both, 48_000)).map(text)).toEqual(['first', 'second']);
    expect(await chirp.decode(new Float32Array(48_000 * 3), 48_000)).toEqual([]);
    const rnd = prng(SEED);
    expect(await chirp.decode(Float32Array.from({ length: 48_000 * 3 }, () => rnd() - 0.5), 48_000)).toEqual([]);
  });

  it('encodes at another output rate, and text as UTF-8', async () => {
    const audio = await chirp.encode('grüße 👋', { sampleRate: 44_100, protocol: 'fastest' });
    expect((await chirp.decode(audio, 44_100)).map(text)).toEqual(['grüße 👋']);
  });

  it('refuses more than 140 bytes (ggwave would truncate silently), an empty payload, odd rates and protocols', async () => {
    expect((await chirp.encode(new Uint8Array(140).fill(65), { protocol: 'fastest' })).length).toBeGreaterThan(0);
    const e = await rejects(chirp.encode(new Uint8Array(141)), 'PAYLOAD_TOO_LARGE', /at most 140 bytes; this one is 141 bytes/);
    expect(e.status).toBe(413);
    await rejects(chirp.encode('é'.repeat(71)), 'PAYLOAD_TOO_LARGE', /142 bytes \(as UTF-8\)/);
    await rejects(chirp.encode(''), 'INVALID_ARGUMENT', /at least one byte/);
    await rejects(chirp.encode('x', { sampleRate: 8000 }), 'INVALID_ARGUMENT', /between 16 and 96 kHz \(got 8000 Hz\)/);
    await rejects(chirp.encode('x', { protocol: 'ultra' as never }), 'INVALID_ARGUMENT', /Unknown Chirp protocol “ultra”/);
    await rejects(chirp.decode(new Float32Array(100), 8000), 'INVALID_ARGUMENT', /between 16 and 96 kHz/);
  });
});

describe("ggwave's 4 instances", () => {
  it('a raw module crashes-or-refuses at the 5th instance (the trap the pool avoids)', async () => {
    const factory = createRequire(import.meta.url)('ggwave');
    const lines: string[] = [];
    const gg = await factory({ print: (s: string) => lines.push(s), printErr: (s: string) => lines.push(s) });
    const ids = Array.from({ length: 5 }, () => gg.init(gg.getDefaultParameters()));
    expect(ids).toEqual([0, 1, 2, 3, -1]);
    expect(lines.join('\n')).toMatch(/maximum number of instances \(4\)/);
  });

  it('10 concurrent decoders and encoders with different rates never make a 5th instance, and all finish', async () => {
    const own = await Chirp.load(createRequire(import.meta.url)('ggwave'));
    const rates = [48_000, 44_100, 32_000, 22_050, 16_000, 96_000, 48_000, 44_100, 24_000, 88_200];
    const jobs = rates.map(async (rate, i) => {
      const msg = `job ${i} at ${rate}`;
      const audio = await own.encode(msg, { sampleRate: rate, protocol: CHIRP_PROTOCOLS[i % 3] });
      // hold a receiver across awaits, so the pool really is contended
      const dec = await own.openDecoder(rate);
      try {
        const found: Uint8Array[] = [];
        for (let o = 0; o < audio.length; o += 4096) {
          found.push(...dec.push(audio.subarray(o, o + 4096)));
          await new Promise((r) => setTimeout(r, 0));
        }
        found.push(...dec.push(new Float32Array(rate)));
        return found.map(text);
      } finally {
        dec.close();
      }
    });
    const results = await Promise.all(jobs);
    expect(results).toEqual(rates.map((rate, i) => [`job ${i} at ${rate}`]));
    const stats = own.stats();
    expect(stats.peakLive).toBe(CHIRP_MAX_INSTANCES);
    expect(stats.busy).toBe(0);
    expect(stats.waiting).toBe(0);
    // the module still works afterwards
    expect((await own.decode(await own.encode('still alive', { protocol: 'fastest' }), 48_000)).map(text)).toEqual(['still alive']);
  });
});

describe('invitations by sound', () => {
  it('sends the 45-byte binary form, and the receiver accepts binary and the FZ1 text alike', () => {
    const bin = invitationChirpPayload(CODE);
    expect(bin.length).toBe(45);
    expect(invitationFromChirp(bin)).toBe(CODE);
    expect(invitationFromChirp(new TextEncoder().encode(CODE))).toBe(CODE);
  });

  it('refuses foreign and damaged messages with INVALID_INVITATION', () => {
    expect(() => invitationFromChirp(new TextEncoder().encode('hello there'))).toThrow(/not a Fazt invitation/);
    const damaged = invitationChirpPayload(CODE);
    damaged[20] = damaged[20]! ^ 1;
    try {
      invitationFromChirp(damaged);
      throw new Error('accepted');
    } catch (e) {
      expect((e as FaztError).code).toBe('INVALID_INVITATION');
      expect((e as FaztError).message).toMatch(/damaged/);
    }
    expect(() => invitationChirpPayload('FZ1AAAA')).toThrow(/not a Fazt invitation|too short/);
  });
});

describe('WAV files', () => {
  it('writes 48 kHz mono 16-bit and reads it back', async () => {
    const f = join(dir, 'ours.wav');
    writeWav(f, await chirp.encode('wav trip', { protocol: 'fastest' }));
    const w = readWav(f);
    expect([w.sampleRate, w.channels]).toEqual([48_000, 1]);
    expect((await decodeWavFile(f)).map(text)).toEqual(['wav trip']);
  });

  it('reads stereo float at 44.1 kHz (mixed down, resampled by ggwave)', async () => {
    const audio = await chirp.encode('stereo', { sampleRate: 44_100, protocol: 'fast' });
    const w = new wavefile.WaveFile();
    const quiet = audio.map((x) => x * 0.5);
    w.fromScratch(2, 44_100, '32f', [audio, quiet]);
    const f = join(dir, 'stereo.wav');
    writeFileSync(f, w.toBuffer());
    expect(readWav(f).channels).toBe(2);
    expect((await decodeWavFile(f)).map(text)).toEqual(['stereo']);
  });

  it('gives a clear error for a file that is not a WAV, a missing file, silence and an empty WAV', async () => {
    const junk = join(dir, 'junk.wav');
    writeFileSync(junk, 'this is not audio at all, just text');
    await rejects(decodeWavFile(junk), 'UNSUPPORTED_MEDIA_TYPE', /junk\.wav is not a WAV file/);
    await rejects(decodeWavFile(join(dir, 'nope.wav')), 'NOT_FOUND', /No file/);
    const silent = join(dir, 'silent.wav');
    writeWav(silent, new Float32Array(48_000 * 2));
    await rejects(decodeWavFile(silent), 'NOT_FOUND', /^No Chirp message found in silent\.wav \(2\.0 s of audio at 48000 Hz\)/);
    const empty = join(dir, 'empty.wav');
    writeWav(empty, new Float32Array(0), 22_050);
    await rejects(decodeWavFile(empty), 'NOT_FOUND', /^No Chirp message found in empty\.wav \(0\.0 s of audio at 22050 Hz\)/);
  });

  it('reads an invitation from a WAV, and refuses a WAV whose message is something else', async () => {
    const inv = join(dir, 'inv.wav');
    writeWav(inv, await chirp.encode(invitationChirpPayload(CODE)));
    expect(await invitationFromWav(inv)).toBe(CODE);
    const other = join(dir, 'other.wav');
    writeWav(other, await chirp.encode('a shopping list', { protocol: 'fastest' }));
    await rejects(invitationFromWav(other), 'INVALID_INVITATION', /other\.wav holds a Chirp message, but not a Fazt invitation/);
  });
});

describe('fazt chirp (a real CLI process)', () => {
  beforeAll(() => ensureBundle());
  const fazt = async (...args: string[]) => {
    try {
      const r = await run(process.execPath, [BIN, ...args]);
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { code: err.code ?? -1, stdout: String(err.stdout ?? ''), stderr: String(err.stderr ?? '') };
    }
  };

  it('encode → decode, in text and JSON, printing nothing of ggwave', async () => {
    const f = join(dir, 'cli.wav');
    const enc = await fazt('chirp', 'encode', 'hello from the cli', '--out', f, '--protocol', 'fastest');
    expect(enc.code).toBe(0);
    expect(enc.stdout).not.toMatch(/nActual/);
    expect(enc.stdout).toMatch(/cli\.wav/);
    const w = readWav(f);
    expect([w.sampleRate, w.channels]).toEqual([48_000, 1]);
    // a quarter second of silence on both sides, for players that clip the edges
    expect(w.samples.subarray(0, 12_000).every((x) => x === 0)).toBe(true);
    expect(w.samples.subarray(w.samples.length - 12_000).every((x) => x === 0)).toBe(true);
    const dec = await fazt('chirp', 'decode', f);
    expect(dec).toMatchObject({ code: 0, stdout: 'hello from the cli\n' });
    const json = await fazt('chirp', 'decode', f, '--json');
    expect(JSON.parse(json.stdout)).toEqual({ text: 'hello from the cli' });
  });

  it('decodes a WAV made by the ggwave package directly (not by Fazt)', async () => {
    const factory = createRequire(import.meta.url)('ggwave');
    const gg = await factory({ print: () => {}, printErr: () => {} });
    const inst = gg.init(gg.getDefaultParameters());
    const view = gg.encode(inst, 'made by ggwave itself', gg.ProtocolId.GGWAVE_PROTOCOL_AUDIBLE_NORMAL, 10);
    const samples = new Float32Array(view.slice().buffer);
    gg.free(inst);
    const w = new wavefile.WaveFile();
    w.fromScratch(1, 48_000, '32f', samples);
    const f = join(dir, 'ggwave.wav');
    writeFileSync(f, w.toBuffer());
    expect(await fazt('chirp', 'decode', f)).toMatchObject({ code: 0, stdout: 'made by ggwave itself\n' });
  });

  it('refuses > 140 bytes, a garbage file and a silent WAV with one clear line and exit 1', async () => {
    const big = await fazt('chirp', 'encode', 'x'.repeat(141), '--out', join(dir, 'big.wav'));
    expect(big.code).toBe(1);
    expect(big.stderr).toMatch(/^fazt: A Chirp message holds at most 140 bytes; this one is 141 bytes/);
    const junk = join(dir, 'garbage.wav');
    writeFileSync(junk, Uint8Array.from({ length: 4000 }, (_, i) => (i * 31) & 0xff));
    const g = await fazt('chirp', 'decode', junk);
    expect(g.code).toBe(1);
    expect(g.stderr).toMatch(/^fazt: garbage\.wav is not a WAV file/);
    const silent = join(dir, 'quiet.wav');
    writeWav(silent, new Float32Array(48_000));
    const s = await fazt('chirp', 'decode', silent, '--json');
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/^fazt: No Chirp message found in quiet\.wav \(1\.0 s of audio at 48000 Hz\)/);
    const proto = await fazt('chirp', 'encode', 'x', '--out', join(dir, 'p.wav'), '--protocol', 'ultra');
    expect(proto.code).toBe(1);
    // mesh join needs exactly one of an invitation and --chirp
    expect((await fazt('mesh', 'join', '--db', join(dir, 'none.db'))).stderr).toMatch(/^fazt: Give the invitation: fazt mesh join FZ1…/);
    expect((await fazt('mesh', 'join', 'FZ1AAAA', '--chirp', silent, '--db', join(dir, 'none.db'))).stderr).toMatch(/^fazt: Give the invitation either as an argument or with --chirp, not both/);
    // join --chirp on silence says so before touching any node
    expect((await fazt('mesh', 'join', '--chirp', silent, '--db', join(dir, 'none.db'))).stderr).toMatch(/^fazt: No Chirp message found in quiet\.wav/);
  });
});

describe('fazt mesh invite --chirp --qr and fazt mesh join --chirp (two real nodes)', () => {
  const procs: import('node:child_process').ChildProcess[] = [];
  afterAll(async () => {
    for (const p of procs) {
      if (p.exitCode !== null) continue;
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await done;
    }
  });

  async function node() {
    const db = join(tempDir('fazt-chirp-mesh-'), 'data.db');
    const { proc, url } = await spawnNode(db);
    procs.push(proc);
    const token = JSON.parse((await run(process.execPath, [BIN, 'token', 'create', '--db', db, '--scope', 'admin', '--json'])).stdout).token as string;
    return { url, db, token, target: ['--node', url, '--token', token] };
  }

  it('the inviter writes its invitation as a 48 kHz WAV and a small terminal QR; the joiner pairs from the recording', async () => {
    ensureBundle();
    const [pi, phone] = await Promise.all([node(), node()]);
    const wav = join(dir, 'invite.wav');
    const inv = await run(process.execPath, [BIN, 'mesh', 'invite', ...pi.target, '--chirp', wav, '--qr', '--json'], { env: { ...process.env, FAZT_NODE: '', FAZT_TOKEN: '' } });
    const { code } = JSON.parse(inv.stdout) as { code: string };
    expect(code).toMatch(/^FZ1[A-Z2-7]+$/);
    // the QR went to stderr (stdout stays JSON): alphanumeric mode, so the smallest version that holds the code
    const QRCode = (await import('qrcode')).default;
    const qr = QRCode.create([{ data: code, mode: 'alphanumeric' }], { errorCorrectionLevel: 'M' });
    const byteMode = QRCode.create([{ data: new TextEncoder().encode(code), mode: 'byte' }], { errorCorrectionLevel: 'M' });
    expect(qr.version).toBeLessThan(byteMode.version);
    const lines = inv.stderr.split('\n').filter((l) => /[█▀▄]/.test(l));
    expect(lines.length).toBe(Math.ceil((qr.modules.size + 2) / 2));
    // the WAV: 48 kHz mono, holding the invitation's binary form
    const w = readWav(wav);
    expect([w.sampleRate, w.channels]).toEqual([48_000, 1]);
    expect(await invitationFromWav(wav)).toBe(code);
    // human output names the file
    const human = await run(process.execPath, [BIN, 'mesh', 'invite', ...pi.target, '--chirp', join(dir, 'second.wav')], { env: { ...process.env, FAZT_NODE: '', FAZT_TOKEN: '' } });
    expect(human.stdout).toMatch(/sound {2}.*second\.wav \(Chirp, 48 kHz WAV/);

    // a recording of it, with noise at 0 dB SNR, played at the other device's microphone
    const noisy = join(dir, 'heard.wav');
    writeWav(noisy, noisyRecording(w.samples, 48_000, 0, SEED));
    const joined = await run(process.execPath, [BIN, 'mesh', 'join', '--chirp', noisy, ...phone.target, '--json'], { env: { ...process.env, FAZT_NODE: '', FAZT_TOKEN: '' } });
    const piId = JSON.parse((await run(process.execPath, [BIN, 'mesh', 'id', ...pi.target, '--json'])).stdout).nodeId;
    expect(JSON.parse(joined.stdout).peer.nodeId).toBe(piId);

    // a WAV that holds another message is refused, naming the file
    const other = join(dir, 'song.wav');
    writeWav(other, await chirp.encode('not an invitation', { protocol: 'fastest' }));
    const bad = await run(process.execPath, [BIN, 'mesh', 'join', '--chirp', other, ...phone.target]).catch((e) => e as { code: number; stderr: string });
    expect((bad as { code: number }).code).toBe(1);
    expect((bad as { stderr: string }).stderr).toMatch(/^fazt: song\.wav holds a Chirp message, but not a Fazt invitation/);
  }, 90_000);
});
