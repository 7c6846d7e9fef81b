import { randomFillSync } from 'node:crypto';

/** A source of randomness; injectable so tests can force collisions. */
export type RandomSource = (size: number) => Uint8Array;

const POOL_SIZE = 4096;
const pool = new Uint8Array(POOL_SIZE);
let poolOffset = POOL_SIZE;

/**
 * The operating system's CSPRNG (OpenSSL RAND_bytes), drawn 4 KiB at a time:
 * one call per 256 serials instead of one per serial. Each byte is handed out once.
 */
export const systemRandom: RandomSource = (size) => {
  if (size > POOL_SIZE) return randomFillSync(new Uint8Array(size));
  if (poolOffset + size > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const out = pool.slice(poolOffset, poolOffset + size);
  pool.fill(0, poolOffset, poolOffset + size);
  poolOffset += size;
  return out;
};

/**
 * A certificate serial: 16 random bytes as lower-case hex. The top bit is cleared
 * (the INTEGER is positive, RFC 5280 4.1.2.2) and the next one set, so the value
 * always takes exactly 16 octets and 32 hex digits: 126 bits of entropy.
 */
export function newSerial(random: RandomSource = systemRandom): string {
  const b = random(16);
  if (b.length !== 16) throw new Error('random source returned the wrong size');
  const first = (b[0]! & 0x7f) | 0x40;
  // 0x40–0x7f: always two hex digits.
  return first.toString(16) + Buffer.from(b.buffer, b.byteOffset + 1, 15).toString('hex');
}

export const isSerial = (s: string): boolean => /^[0-9a-f]{2,40}$/.test(s);
