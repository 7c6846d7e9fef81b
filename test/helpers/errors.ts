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

/** The rejection of a promise (fails the test if it resolves). */
export async function rejectionOf<E = Error>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (e) {
    return e as E;
  }
  throw new Error('expected a rejection');
}
