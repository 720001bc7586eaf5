#!/usr/bin/env node
// Chirp benchmark (issue 11): the invitation as sound, with the real ggwave 0.4 module and Fazt's
// wrapper (shared/mesh/chirp.ts, loaded through tsx).
//
//   1. airtime of an invitation with two IPv4 addresses per protocol: its 45-byte binary form (what
//      Fazt sends) against its 75-character FZ1 code as text (the baseline)
//   2. decode success over N trials with Gaussian white noise at 0, −5 and −10 dB SNR (relative to the
//      message's own power), per protocol and form; trial i uses seed SEED+i (printed)
//   3. encode time and decode time per message, and decode speed as a multiple of real time
//
// Usage: `node bench/chirp.mjs [--trials 20] [--seed 7] [--json]`
import { createRequire } from 'node:module';
import { register } from 'tsx/esm/api';

register();
const { Chirp, CHIRP_PROTOCOLS, invitationChirpPayload } = await import('../shared/mesh/chirp.ts');
const { invitationToCode } = await import('../shared/mesh/invitation.ts');
const { noisyRecording } = await import('../node/chirp-noise.ts');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const TRIALS = arg('trials', 20);
const SEED = arg('seed', 7);
const JSON_ONLY = process.argv.includes('--json');
const log = (...a) => !JSON_ONLY && console.log(...a);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const RATE = 48_000;
const SNRS = [0, -5, -10];

const chirp = await Chirp.load(createRequire(import.meta.url)('ggwave'));
const code = invitationToCode({
  secret: Uint8Array.from({ length: 10 }, (_, i) => i * 29 + 3),
  expiresAt: Date.now() + 600_000,
  inviterId: 'k7q2m4xa3c3vb5tn',
  addresses: [
    { host: '192.168.1.20', port: 4698 },
    { host: '10.0.0.7', port: 4698 },
  ],
});
const forms = { binary: invitationChirpPayload(code), code: new TextEncoder().encode(code) };
log(`Chirp bench: invitation binary ${forms.binary.length} bytes, code ${forms.code.length} characters; ${TRIALS} trials per cell, seeds ${SEED}…${SEED + TRIALS - 1}`);

const results = { seed: SEED, trials: TRIALS, bytes: { binary: forms.binary.length, code: forms.code.length }, protocols: {} };
for (const protocol of CHIRP_PROTOCOLS) {
  const row = (results.protocols[protocol] = {});
  for (const [form, payload] of Object.entries(forms)) {
    const encMs = [];
    let audio;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      audio = await chirp.encode(payload, { protocol });
      encMs.push(performance.now() - t);
    }
    const airtimeS = audio.length / RATE;
    const cell = { airtimeS: Math.round(airtimeS * 100) / 100, encodeMs: Math.round(median(encMs) * 10) / 10, success: {} };
    const decMs = [];
    for (const snr of SNRS) {
      let ok = 0;
      for (let i = 0; i < TRIALS; i++) {
        const rec = noisyRecording(audio, RATE, snr, SEED + i);
        const t = performance.now();
        const found = await chirp.decode(rec, RATE);
        decMs.push({ ms: performance.now() - t, s: rec.length / RATE });
        if (found.length === 1 && found[0].length === payload.length && found[0].every((b, j) => b === payload[j])) ok++;
      }
      cell.success[`${snr}dB`] = ok / TRIALS;
    }
    cell.decodeMs = Math.round(median(decMs.map((d) => d.ms)));
    cell.realtimeX = Math.round(median(decMs.map((d) => d.s / (d.ms / 1000))));
    row[form] = cell;
  }
  const b = row.binary;
  const c = row.code;
  log(
    `${protocol.padEnd(8)} airtime binary ${b.airtimeS.toFixed(2)} s vs code ${c.airtimeS.toFixed(2)} s (binary/code ${(b.airtimeS / c.airtimeS).toFixed(2)}) | ` +
      SNRS.map((s) => `${s} dB: ${Math.round(b.success[`${s}dB`] * 100)}% / ${Math.round(c.success[`${s}dB`] * 100)}%`).join('  ') +
      ` (binary / code) | encode ${b.encodeMs} ms, decode ${b.decodeMs} ms (${b.realtimeX}× real time)`,
  );
}
if (JSON_ONLY) console.log(JSON.stringify(results, null, 2));
