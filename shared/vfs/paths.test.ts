import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFaztError } from '../errors.js';
import { normalizeUploadPath, requestPathToVfs } from './paths.js';

/** Property tests of the VFS path rules: whatever comes in, nothing that leaves the app's tree comes out. */

/** Strings rich in the characters that matter to paths. */
const pathish = fc
  .array(fc.constantFrom('a', 'b', 'é', '.', '..', '/', '\\', '%', '%2e', '%2E', '%2f', '%5c', '%00', '\u0000', '\u001f', '\u007f', 'C:', ' ', './', '//'), { maxLength: 12 })
  .map((parts) => parts.join(''));
const anyPath = fc.oneof(pathish, fc.string(), fc.string({ unit: 'grapheme' }));

/** True when a VFS path stays inside the app's tree. */
function isContained(p: string): boolean {
  if (p.startsWith('/') || p.includes('\\') || /[\u0000-\u001f]/.test(p)) return false;
  const segments = p.replace(/\/$/, '').split('/');
  return p === '' || segments.every((s) => s !== '' && s !== '.' && s !== '..');
}

describe('VFS paths (properties)', () => {
  it('normalizeUploadPath refuses with UNSAFE_PATH or returns a contained path that normalizes to itself', () => {
    fc.assert(
      fc.property(anyPath, (raw) => {
        let p: string;
        try {
          p = normalizeUploadPath(raw);
        } catch (e) {
          expect(isFaztError(e) && e.code).toBe('UNSAFE_PATH');
          return;
        }
        expect(isContained(p) && p !== '' && !p.endsWith('/')).toBe(true);
        expect(normalizeUploadPath(p)).toBe(p);
        // only leading "./" segments are dropped: the path is the raw name's tail
        expect(raw.endsWith(p)).toBe(true);
      }),
    );
  });

  it('requestPathToVfs gives undefined or a contained path, and is stable under re-encoding', () => {
    fc.assert(
      fc.property(anyPath, (raw) => {
        const p = requestPathToVfs('/' + raw);
        if (p === undefined) return;
        expect(isContained(p)).toBe(true);
        const encoded = '/' + p.split('/').map(encodeURIComponent).join('/');
        expect(requestPathToVfs(encoded)).toBe(p);
      }),
    );
  });

  it('every file name an upload may hold is reachable by its encoded request path', () => {
    fc.assert(
      fc.property(anyPath, (raw) => {
        let p: string;
        try {
          p = normalizeUploadPath(raw);
        } catch {
          return;
        }
        expect(requestPathToVfs('/' + p.split('/').map(encodeURIComponent).join('/'))).toBe(p);
      }),
    );
  });
});
