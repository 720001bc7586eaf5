/** Small helpers shared by the app storage modules (no host APIs beyond the web platform). */

/** A short, printable form of a user-given string for error messages (at most ~60 characters). */
export function quote(s: string): string {
  return JSON.stringify(s.length > 60 ? s.slice(0, 57) + '…' : s);
}

/** `typeof`, with `null` and arrays told apart: for error messages. */
export function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}
