import { expect } from '@jest/globals';
import { DerError } from '../../src/pki/der/reader.js';

/** The DerError message `fn` throws; fails the test when it throws nothing or something else. */
export function derErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DerError);
    return (e as DerError).message;
  }
  throw new Error('expected a DerError, but nothing was thrown');
}
