import { expect } from 'vitest';
import { FaztError } from '../errors.js';

/** Test support: runs `fn`, asserts it throws a FaztError and returns it (fails the test otherwise). */
export function faztError(fn: () => unknown): FaztError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FaztError);
    return e as FaztError;
  }
  throw new Error('expected a FaztError');
}
