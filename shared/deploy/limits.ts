/** Upload limits, enforced while the body streams in (never after buffering it). */
export interface DeployLimits {
  /** Largest request body (the zip or multipart as sent), bytes. Default 1 GiB. */
  maxUploadBytes: number;
  /** Largest single file after decompression, bytes. Default 512 MiB. */
  maxFileBytes: number;
  /** Largest sum of all files after decompression (zip-bomb guard), bytes. Default 2 GiB. */
  maxTotalBytes: number;
  /** Most files in one deploy. Default 20,000. */
  maxFiles: number;
  /**
   * Largest ratio of unpacked bytes to zip bytes fed to the unpacker (zip-bomb guard), checked as
   * the bytes come and against each entry's declared sizes. Default 200 (text compresses 3–20×;
   * deflate's ceiling is 1032×). Applies once more than {@link ratioFloorBytes} are unpacked.
   */
  maxRatio: number;
  /** Unpacked bytes below which {@link maxRatio} is not applied (a small file of zeros is fine), bytes. Default 32 MiB. */
  ratioFloorBytes: number;
}

/** Defaults of {@link DeployLimits}. */
export const DEFAULT_DEPLOY_LIMITS: DeployLimits = {
  maxUploadBytes: 1024 * 1024 * 1024,
  maxFileBytes: 512 * 1024 * 1024,
  maxTotalBytes: 2 * 1024 * 1024 * 1024,
  maxFiles: 20_000,
  maxRatio: 200,
  ratioFloorBytes: 32 * 1024 * 1024,
};

/** Formats bytes for messages: `1.5 MiB`. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
