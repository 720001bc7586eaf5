import { FaztError } from '../errors.js';

/**
 * Channel names and message data of `fazt.realtime` (docs/realtime.md). A channel name is only ever
 * the app-local part: the kernel keys every channel by the calling app's id, so two apps may use the
 * same name without meeting.
 */

/** A channel name: 1–64 characters, letters, digits and `. _ : -`, starting with a letter or digit. */
export const CHANNEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
/** Longest channel name, characters. */
export const MAX_CHANNEL_LENGTH = 64;
/** Most channels one stream (one page) subscribes to. */
export const MAX_CHANNELS_PER_STREAM = 32;
/** Largest message data, bytes of its UTF-8 JSON text. */
export const MAX_DATA_BYTES = 64 * 1024;

/**
 * Checks a channel name.
 * @param where how to name the caller in the message (`fazt.realtime.publish`).
 * @returns the name.
 * @throws FaztError `INVALID_ARGUMENT` when it is not a string matching {@link CHANNEL_PATTERN}.
 */
export function checkChannel(name: unknown, where: string): string {
  if (typeof name !== 'string' || !CHANNEL_PATTERN.test(name)) {
    const shown = typeof name === 'string' ? `"${name.slice(0, 80)}"${name.length > 80 ? '…' : ''}` : typeof name;
    throw new FaztError(
      'INVALID_ARGUMENT',
      `${where}: ${shown} is not a channel name. Use 1–${MAX_CHANNEL_LENGTH} letters, digits, ".", "_", ":" or "-", starting with a letter or digit (e.g. "list" or "room:42").`,
    );
  }
  return name;
}

/**
 * Parses a stream's channel list (`?channels=a,b`): comma-separated, each checked, duplicates removed.
 * @throws FaztError `BAD_REQUEST` for an empty list, a bad name or more than {@link MAX_CHANNELS_PER_STREAM}.
 */
export function parseChannelList(value: string | null): string[] {
  const names = (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (!names.length) throw new FaztError('BAD_REQUEST', 'Say which channels to follow: /_fazt/realtime?channels=a,b');
  const unique = [...new Set(names)];
  if (unique.length > MAX_CHANNELS_PER_STREAM) {
    throw new FaztError('BAD_REQUEST', `A stream follows at most ${MAX_CHANNELS_PER_STREAM} channels (asked for ${unique.length}).`);
  }
  for (const n of unique) {
    try {
      checkChannel(n, 'channels');
    } catch (e) {
      throw new FaztError('BAD_REQUEST', (e as Error).message);
    }
  }
  return unique;
}

/**
 * Encodes message data as JSON text (`undefined` is `null`).
 * @returns the JSON text (what goes on the wire in the `data:` field).
 * @throws FaztError `INVALID_ARGUMENT` when it cannot be JSON (a cycle, a BigInt);
 *   `PAYLOAD_TOO_LARGE` when its JSON is over {@link MAX_DATA_BYTES} bytes.
 */
export function encodeData(data: unknown, where: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(data === undefined ? null : data);
  } catch (e) {
    throw new FaztError('INVALID_ARGUMENT', `${where}: the data cannot be sent as JSON (${String((e as Error)?.message ?? e).slice(0, 120)}).`);
  }
  if (text === undefined) text = 'null'; // a function or a symbol
  const bytes = new TextEncoder().encode(text).byteLength;
  if (bytes > MAX_DATA_BYTES) {
    throw new FaztError('PAYLOAD_TOO_LARGE', `${where}: the data is ${bytes} bytes as JSON; a message carries at most ${MAX_DATA_BYTES}. Send an id and let the page fetch the rest from your api/.`, {
      limitBytes: MAX_DATA_BYTES,
    });
  }
  return text;
}
