import { FaztError } from '../errors.js';
import type { AppRecord } from '../apps/index.js';
import type { ApiCall } from './router.js';

/** Reading the admin API's input: JSON bodies, path parameters and query values, each refused with a clear error. */

/** Reads a JSON object body (≤ `maxChars`, default 64 KiB). @throws FaztError `BAD_REQUEST`, `PAYLOAD_TOO_LARGE`. */
export async function jsonBody(c: ApiCall, maxChars = 65536): Promise<Record<string, unknown>> {
  const declared = Number(c.request.headers.get('content-length') ?? NaN);
  const tooLarge = () => new FaztError('PAYLOAD_TOO_LARGE', `JSON body larger than ${Math.round(maxChars / 1024)} KiB.`);
  if (declared > maxChars * 3) throw tooLarge(); // a UTF-16 unit is at most 3 UTF-8 bytes
  const text = await c.request.text();
  if (text.length > maxChars) throw tooLarge();
  if (text.trim() === '') return {};
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new FaztError('BAD_REQUEST', 'The request body must be a JSON object.');
  }
}

/** Path parameter `i`, percent-decoded. @throws FaztError `BAD_REQUEST` for broken percent-encoding. */
export function param(c: ApiCall, i: number): string {
  try {
    return decodeURIComponent(c.params[i]!);
  } catch {
    throw new FaztError('BAD_REQUEST', `Malformed percent-encoding in the path: "${c.params[i]!.slice(0, 80)}".`);
  }
}

/** The app named by the first path parameter (name, alias or id). @throws FaztError `APP_NOT_FOUND`. */
export function appOf(c: ApiCall): AppRecord {
  return c.kernel.apps.require(param(c, 0));
}

/**
 * An optional integer query value in `[min, max]`.
 * @throws FaztError `BAD_REQUEST` when present but not such an integer.
 */
export function intParam(name: string, v: string | null, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new FaztError('BAD_REQUEST', `${name} must be a whole number${max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : ` ≥ ${min}`} (got "${v.slice(0, 40)}").`);
  }
  return n;
}
