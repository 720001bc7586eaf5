/** Minimal cookie handling (RFC 6265 §4.2 `Cookie` header parsing, §4.1 `Set-Cookie` serialization). */

/** Value of one cookie in a `Cookie` header, or `undefined`. */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** Attributes of a `Set-Cookie`. */
export interface CookieOptions {
  path: string;
  /** Lifetime, seconds; 0 deletes the cookie. */
  maxAge: number;
  httpOnly?: boolean;
  secure?: boolean;
  sameSite?: 'Strict' | 'Lax' | 'None';
}

/** Serializes a host-only cookie (no `Domain` attribute, so subdomains never receive it). */
export function serializeCookie(name: string, value: string, o: CookieOptions): string {
  let s = `${name}=${value}; Path=${o.path}; Max-Age=${o.maxAge}`;
  if (o.httpOnly) s += '; HttpOnly';
  if (o.secure) s += '; Secure';
  if (o.sameSite) s += `; SameSite=${o.sameSite}`;
  return s;
}
