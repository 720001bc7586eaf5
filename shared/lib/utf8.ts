/** UTF-8 measures of JavaScript strings, without encoding them. */

/** Length in bytes of `s` encoded as UTF-8 (lone surrogates count as the 3-byte U+FFFD), without allocating. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `s` has no unpaired UTF-16 surrogate (so it round-trips through UTF-8 unchanged). */
export function isWellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}
