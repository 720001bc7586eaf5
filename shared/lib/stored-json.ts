import { FaztError, type FaztErrorCode } from '../errors.js';
import { utf8Length } from './utf8.js';

/** Largest JSON text (UTF-8 bytes) of a job state or an event payload: 64 KiB. */
export const MAX_JSON_BYTES = 64 * 1024;

/**
 * Serializes an app-supplied value for storage.
 * @param value any JSON-serializable value; `undefined` gives `undefined` (nothing stored).
 * @param what how to name the value in errors (`'job state'`, `'event "x" payload'`).
 * @param tooLarge error code when the JSON exceeds `maxBytes`.
 * @returns the JSON text, or `undefined` for `undefined`.
 * @throws FaztError `INVALID_ARGUMENT` when the value is not JSON-serializable (cycles, BigInt,
 *   functions); `tooLarge` when its JSON is longer than `maxBytes` UTF-8 bytes.
 */
export function toStoredJson(value: unknown, what: string, maxBytes = MAX_JSON_BYTES, tooLarge: FaztErrorCode = 'LIMIT_EXCEEDED'): string | undefined {
  if (value === undefined) return undefined;
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (e) {
    throw new FaztError('INVALID_ARGUMENT', `The ${what} must be JSON-serializable: ${(e as Error).message}.`);
  }
  if (json === undefined) throw new FaztError('INVALID_ARGUMENT', `The ${what} must be JSON-serializable (got ${typeof value}).`);
  const bytes = utf8Length(json);
  if (bytes > maxBytes) {
    throw new FaztError(tooLarge, `The ${what} is ${bytes} bytes of JSON; the limit is ${maxBytes} bytes. Store large data in fazt.kv or fazt.docs and pass its key.`, {
      limitBytes: maxBytes,
    });
  }
  return json;
}
