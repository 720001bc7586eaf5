/**
 * Test and bench helpers for Chirp: a seeded PRNG and white noise mixed in at a given SNR, so a
 * failing trial can be replayed from its printed seed.
 */

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mean power (mean of squares) of samples. */
export function power(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return x.length ? s / x.length : 0;
}

/**
 * A recording: `signal` placed after `leadSeconds` of silence, followed by `tailSeconds`, with
 * Gaussian white noise over the whole length at `snrDb` below the signal's mean power (the power of
 * the encoded message itself, not of the padded recording).
 * @param snrDb signal-to-noise ratio, dB (`Infinity`: no noise).
 */
export function noisyRecording(signal: Float32Array, rate: number, snrDb: number, seed: number, leadSeconds = 0.5, tailSeconds = 0.5): Float32Array {
  const lead = Math.round(leadSeconds * rate);
  const out = new Float32Array(lead + signal.length + Math.round(tailSeconds * rate));
  out.set(signal, lead);
  if (Number.isFinite(snrDb)) {
    const sigma = Math.sqrt(power(signal) / 10 ** (snrDb / 10));
    const rnd = prng(seed);
    for (let i = 0; i < out.length; i += 2) {
      // Box–Muller: two independent normals per pair of uniforms
      const u = 1 - rnd();
      const v = rnd();
      const r = Math.sqrt(-2 * Math.log(u)) * sigma;
      out[i]! += r * Math.cos(2 * Math.PI * v);
      if (i + 1 < out.length) out[i + 1]! += r * Math.sin(2 * Math.PI * v);
    }
    // keep within full scale, as a recorder would (clipping is rare at these levels)
    for (let i = 0; i < out.length; i++) out[i] = Math.max(-1, Math.min(1, out[i]!));
  }
  return out;
}
