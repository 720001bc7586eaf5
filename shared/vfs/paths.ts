import { FaztError } from '../errors.js';

/**
 * Path rules of the VFS. A stored path is relative, `/`-separated, without `.`/`..` segments,
 * empty segments, backslashes, NUL or other control characters, and at most 1024 bytes.
 */

/** Longest accepted path, in characters. */
export const MAX_PATH_LENGTH = 1024;

/**
 * Validates a path as given by an uploader (zip entry name, multipart file name) and returns its
 * normalized form. Never resolves `..`: an upload containing it is refused whole.
 * @throws FaztError `UNSAFE_PATH` for traversal (`..`), absolute paths (`/x`, `C:\x`), backslashes,
 *   NUL/control characters (C0, DEL, C1), empty or over-long paths.
 */
export function normalizeUploadPath(raw: string): string {
  const shown = JSON.stringify(raw.length > 200 ? raw.slice(0, 200) + '…' : raw);
  const fail = (why: string): never => {
    throw new FaztError('UNSAFE_PATH', `Refused file name ${shown}: ${why}. Nothing was deployed.`);
  };
  // eslint-disable-next-line no-control-regex
  // C0 controls, DEL and the C1 controls U+0080–U+009F (Unicode "Cc"): invisible, and some
  // terminals act on them (U+009B is CSI), so a file list could rewrite the screen.
  if (/[\u0000-\u001f\u007f-\u009f]/.test(raw)) fail('it contains a NUL or control character');
  if (raw.includes('\\')) fail('it contains a backslash');
  if (raw.startsWith('/')) fail('it is an absolute path');
  if (/^[a-zA-Z]:/.test(raw)) fail('it starts with a drive letter');
  let p = raw;
  while (p.startsWith('./')) p = p.slice(2);
  if (p.length === 0) fail('it is empty');
  if (p.length > MAX_PATH_LENGTH) fail(`it is longer than ${MAX_PATH_LENGTH} characters`);
  const segments = p.split('/');
  segments.forEach((s, i) => {
    if (s === '..') fail('it climbs out of the app folder (..)');
    if (s === '.') fail('it contains a "." segment');
    if (s === '' && i !== segments.length - 1) fail('it contains an empty segment (//)');
  });
  if (p.endsWith('/')) fail('it names a folder, not a file');
  return p;
}

/**
 * Turns the path of an HTTP request (already split off the app prefix) into a VFS path.
 * Percent-decodes each segment.
 * @returns the VFS path without leading slash (`''` for the app root), or `undefined` when the
 *   request path is unsafe (traversal, NUL, bad escapes): such requests get a 400.
 */
export function requestPathToVfs(pathname: string): string | undefined {
  const segments = pathname.split('/');
  const out: string[] = [];
  for (const raw of segments) {
    let s: string;
    try {
      s = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    // eslint-disable-next-line no-control-regex
    if (s === '..' || s.includes('/') || s.includes('\\') || /[\u0000-\u001f\u007f-\u009f]/.test(s)) return undefined;
    if (s === '.' || s === '') continue;
    out.push(s);
  }
  const trailing = pathname.endsWith('/') && out.length > 0 ? '/' : '';
  return out.join('/') + trailing;
}
