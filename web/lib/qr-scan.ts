/**
 * Scanning a QR code with the device's camera: `getUserMedia` (W3C Media Capture and Streams) into a
 * `<video>`, and every ~150 ms a frame is read by the browser's `BarcodeDetector` (WICG Shape
 * Detection API) where it reads QR codes, otherwise by `jsQR` (a pure-JS decoder, loaded on demand).
 *
 * The camera is released (every track stopped) whatever the outcome: a code found, an error, or
 * the caller's abort signal.
 */

/** Why a scan could not start or stopped, in words a person can act on. */
export type ScanErrorCode =
  /** The person or the browser refused the camera (`NotAllowedError`, `SecurityError`). */
  | 'CAMERA_DENIED'
  /** There is no camera (`NotFoundError`, `OverconstrainedError`). */
  | 'CAMERA_MISSING'
  /** The camera exists but another app holds it, or the hardware failed (`NotReadableError`, `AbortError`). */
  | 'CAMERA_BUSY'
  /** The page has no camera access at all: `navigator.mediaDevices` exists only on secure pages (https, localhost). */
  | 'CAMERA_UNAVAILABLE'
  /** The caller aborted. */
  | 'ABORTED';

/** A scan failure with a stable `code` and a message that says what to do. */
export class ScanError extends Error {
  constructor(
    readonly code: ScanErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ScanError';
  }
}

/** Options of {@link scanQr}. */
export interface ScanOptions {
  /** Stops the scan (rejects with `ABORTED`) and releases the camera. */
  signal?: AbortSignal;
  /** Called once the camera shows a picture (the person can aim now). */
  onStarted?: () => void;
  /**
   * Called with the text of each QR code read; return `true` to accept it (the scan ends and
   * resolves with it) or `false` to keep looking (e.g. a code that is not an invitation).
   * Default: accept the first one.
   */
  accept?: (text: string) => boolean;
  /** Time between two reads of a frame, ms (default 150). */
  intervalMs?: number;
}

/** Minimal typing of the Shape Detection API's `BarcodeDetector` (not in TypeScript's DOM lib). */
interface BarcodeDetectorLike {
  detect(source: CanvasImageSource): Promise<{ rawValue: string }[]>;
}
interface BarcodeDetectorCtor {
  new (opts: { formats: string[] }): BarcodeDetectorLike;
  getSupportedFormats(): Promise<string[]>;
}

/** The browser's QR detector, when it has one that reads QR codes. */
async function nativeDetector(): Promise<BarcodeDetectorLike | undefined> {
  const Ctor = (globalThis as { BarcodeDetector?: BarcodeDetectorCtor }).BarcodeDetector;
  if (!Ctor) return undefined;
  try {
    if (!(await Ctor.getSupportedFormats()).includes('qr_code')) return undefined;
    return new Ctor({ formats: ['qr_code'] });
  } catch {
    return undefined;
  }
}

/** Plain words for a `getUserMedia` failure. */
export function cameraError(e: unknown): ScanError {
  const name = (e as { name?: string })?.name;
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return new ScanError(
        'CAMERA_DENIED',
        'The camera is blocked for this page. To scan, allow the camera in the browser’s site settings (tap the icon left of the address), then try again — or type the words instead.',
      );
    case 'NotFoundError':
    case 'OverconstrainedError':
      return new ScanError('CAMERA_MISSING', 'This device has no camera the browser can use. Type the words or the code instead.');
    case 'NotReadableError':
    case 'AbortError':
      return new ScanError('CAMERA_BUSY', 'The camera could not be started: another app may be using it. Close that app and try again, or type the words instead.');
    default:
      return new ScanError('CAMERA_MISSING', `The camera could not be started (${(e as Error)?.message || name || 'no reason given'}). Type the words or the code instead.`);
  }
}

/**
 * Shows the camera in `video` and resolves with the text of the first QR code accepted.
 * @param video an element in the page (it gets the camera stream; `playsinline` and `muted` are set).
 * @throws ScanError `CAMERA_UNAVAILABLE` (no camera API on this page: not a secure context),
 *   `CAMERA_DENIED`, `CAMERA_MISSING`, `CAMERA_BUSY`, or `ABORTED` when `signal` fires.
 */
export async function scanQr(video: HTMLVideoElement, opts: ScanOptions = {}): Promise<string> {
  const aborted = () => new ScanError('ABORTED', 'The scan was stopped.');
  if (opts.signal?.aborted) throw aborted();
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new ScanError(
      'CAMERA_UNAVAILABLE',
      'This browser offers the camera only to secure pages (https:// or localhost), and this page is not one. Type the words or the code instead.',
    );
  }
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' } }, audio: false });
  } catch (e) {
    throw cameraError(e);
  }
  const stop = () => {
    for (const t of stream.getTracks()) t.stop();
    video.srcObject = null;
  };
  if (opts.signal?.aborted) {
    stop();
    throw aborted();
  }
  try {
    video.muted = true;
    video.playsInline = true;
    video.setAttribute('playsinline', '');
    video.srcObject = stream;
    await video.play().catch(() => {});
    const detector = await nativeDetector();
    const jsQR = detector ? undefined : (await import('jsqr')).default;
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    const accept = opts.accept ?? (() => true);
    let started = false;
    return await new Promise<string>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        clearTimeout(timer);
        reject(aborted());
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const done = (fn: () => void) => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const tick = async () => {
        if (opts.signal?.aborted) return;
        try {
          const w = video.videoWidth;
          const h = video.videoHeight;
          if (w && h && video.readyState >= 2) {
            if (!started) {
              started = true;
              opts.onStarted?.();
            }
            let texts: string[] = [];
            if (detector) texts = (await detector.detect(video)).map((c) => c.rawValue);
            else if (jsQR && ctx) {
              // at most 640 px on the long side: enough for a code held in front of the camera, and fast
              const scale = Math.min(1, 640 / Math.max(w, h));
              canvas.width = Math.round(w * scale);
              canvas.height = Math.round(h * scale);
              ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
              const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
              const found = jsQR(img.data, img.width, img.height, { inversionAttempts: 'attemptBoth' });
              if (found?.data) texts = [found.data];
            }
            for (const t of texts) {
              if (accept(t)) {
                done(() => resolve(t));
                return;
              }
            }
          }
        } catch (e) {
          done(() => reject(e));
          return;
        }
        if (!opts.signal?.aborted) timer = setTimeout(tick, opts.intervalMs ?? 150);
      };
      void tick();
    });
  } finally {
    stop();
  }
}
