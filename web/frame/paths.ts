/**
 * App URLs inside a frame. An app in a frame sees itself at a virtual origin,
 * `https://<name>.fazt.invalid/`, which no network resolves (RFC 6761 `.invalid`): its document's
 * base URL, its module URLs and its `fetch` URLs live there, and the frame's host maps them onto
 * the app's files and API. Every mapping goes through {@link appPathOf}, which refuses anything
 * outside the app's own tree.
 */

/** Why an app URL or path was refused. */
export class FramePathError extends Error {
  /** Stable machine code: `UNSAFE_PATH` (traversal, encoded slash, control characters) or `OTHER_ORIGIN`. */
  readonly code: 'UNSAFE_PATH' | 'OTHER_ORIGIN';
  constructor(code: 'UNSAFE_PATH' | 'OTHER_ORIGIN', message: string) {
    super(message);
    this.name = 'FramePathError';
    this.code = code;
  }
}

/** The virtual origin of an app in a frame: `https://<name>.fazt.invalid` (no trailing slash). */
export function virtualOrigin(appName: string): string {
  const label =
    appName
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63) || 'app';
  return `https://${label}.fazt.invalid`;
}

/**
 * Normalizes an app-relative file path (decoded, `/`-separated): leading slashes and empty
 * segments go, a trailing slash stays (`about/`), `''` is the app's root.
 * @throws FramePathError `UNSAFE_PATH` for `.`/`..` segments, backslashes and control characters.
 */
export function normalizeAppPath(path: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(path)) throw new FramePathError('UNSAFE_PATH', `Refused the path “${printable(path)}”: it holds a backslash or a control character.`);
  const trailing = path.endsWith('/');
  const segments = path.split('/').filter((s) => s !== '');
  for (const s of segments) {
    if (s === '.' || s === '..') throw new FramePathError('UNSAFE_PATH', `Refused the path “${printable(path)}”: “${s}” segments may not leave the app's files.`);
  }
  const joined = segments.join('/');
  return trailing && joined ? `${joined}/` : joined;
}

/** An app URL split into the app-relative path (decoded, normalized) and the query. */
export interface AppLocation {
  /** App-relative path without leading slash (`''` is the root, `about/` a folder). */
  path: string;
  /** `?…` or `''`. */
  search: string;
}

/**
 * Maps an absolute URL in the frame's virtual origin onto the app's tree.
 * @throws FramePathError `OTHER_ORIGIN` when the URL is not in `origin`; `UNSAFE_PATH` when a
 *   decoded segment is `.`/`..` or holds `/` (`..%2F`), or the URL does not parse.
 */
export function appPathOf(url: string, origin: string): AppLocation {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FramePathError('UNSAFE_PATH', `Refused “${printable(url)}”: not a URL.`);
  }
  if (u.origin !== origin) throw new FramePathError('OTHER_ORIGIN', `Refused “${printable(url)}”: this frame reaches only its own app at ${origin}/.`);
  const decoded = u.pathname.split('/').map((seg) => {
    let d: string;
    try {
      d = decodeURIComponent(seg);
    } catch {
      throw new FramePathError('UNSAFE_PATH', `Refused “${printable(url)}”: bad percent-encoding.`);
    }
    if (d.includes('/') || d === '.' || d === '..') throw new FramePathError('UNSAFE_PATH', `Refused “${printable(url)}”: an encoded “${printable(d)}” may not leave the app's files.`);
    return d;
  });
  return { path: normalizeAppPath(decoded.join('/')), search: u.search };
}

/** Encodes a normalized app path for a URL, segment by segment (`my file.txt` → `my%20file.txt`). */
export function encodeAppPath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** True for an app path served by the app's server code: `api` and below. */
export function isApiPath(path: string): boolean {
  return path === 'api' || path === 'api/' || path.startsWith('api/');
}

/** A string cut and stripped of control characters, for error messages. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 200);
}
