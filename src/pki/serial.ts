import { randomBytes } from 'node:crypto';

/** A source of randomness; injectable so tests can force collisions. */
export type RandomSource = (size: number) => Uint8Array;
export const systemRandom: RandomSource = (size) => new Uint8Array(randomBytes(size));

/**
 * A certificate serial: 16 random bytes as lower-case hex. The top bit is cleared
 * (the INTEGER is positive, RFC 5280 4.1.2.2) and the next one set, so the value
 * always takes exactly 16 octets and 32 hex digits: 126 bits of entropy.
 */
export function newSerial(random: RandomSource = systemRandom): string {
  const bytes = random(16);
  if (bytes.length !== 16) throw new Error('random source returned the wrong size');
  const b = Uint8Array.from(bytes);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return Buffer.from(b).toString('hex');
}

export const isSerial = (s: string): boolean => /^[0-9a-f]{2,40}$/.test(s);
