import { expect } from '@jest/globals';
import { DerError } from '../../src/pki/der/reader.js';

/** The `kind` of error `fn` throws; fails the test when it throws nothing or something else. */
export function thrownError<E extends Error>(fn: () => unknown, kind: abstract new (...args: never[]) => E): E {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(kind);
    return e as E;
  }
  throw new Error(`expected a ${kind.name}, but nothing was thrown`);
}

/** The message of the `kind` of error `fn` throws; fails the test when it throws nothing or something else. */
export const thrownMessage = (fn: () => unknown, kind: abstract new (...args: never[]) => Error): string => thrownError(fn, kind).message;

/** The DerError message `fn` throws. */
export const derErrorOf = (fn: () => unknown): string => thrownMessage(fn, DerError);

/** The rejection of a promise (fails the test if it resolves). */
export async function rejectionOf<E = Error>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (e) {
    return e as E;
  }
  throw new Error('expected a rejection');
}
