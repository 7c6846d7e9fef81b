/**
 * The cost of the RSA weak-key tests (src/pki/rsa-key-quality.ts) for good RSA 2048
 * keys, which run every test, next to the one operation those tests cannot avoid: a
 * 2048-bit modular exponentiation with a full-length exponent (the Miller–Rabin round),
 * measured alone as OpenSSL's raw RSA public-key operation. The two alternate key by
 * key, so that both see the same machine load.
 */
import { constants, createPublicKey, generateKeyPairSync, publicEncrypt } from 'node:crypto';
import { rsaKeyRefusal } from '../src/pki/rsa-key-quality.js';
import { stats, type Stats } from './pipeline.js';

export interface KeyQualityResult {
  /** µs per key for every test: median over rounds, and the range. */
  checks: Stats;
  /** µs per key for the exponentiation alone. */
  exponentiation: Stats;
  keys: number;
}

const elapsedUs = (fn: () => unknown) => {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) * 1000;
};

export function measureKeyQuality(keyCount = 12, roundCount = 5): KeyQualityResult {
  const keys = Array.from({ length: keyCount }, () => {
    const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    const n = Buffer.from(jwk.n!, 'base64url');
    // 2^(n >> 1) mod n: an exponent as long as the modulus, as in the Miller–Rabin round.
    const hex = (BigInt(`0x${n.toString('hex')}`) >> 1n).toString(16);
    const half = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex').toString('base64url');
    return { n, e: Buffer.from(jwk.e!, 'base64url'), jwk: { kty: 'RSA', n: jwk.n!, e: half } };
  });
  const two = Buffer.concat([Buffer.alloc(255), Buffer.of(2)]);
  const check = (k: (typeof keys)[number]) => {
    if (rsaKeyRefusal(k.n, k.e)) throw new Error('a freshly generated RSA key was refused');
  };
  const exponentiate = (k: (typeof keys)[number]) =>
    publicEncrypt({ key: createPublicKey({ key: k.jwk, format: 'jwk' }), padding: constants.RSA_NO_PADDING }, two);
  const checks: number[] = [];
  const exponentiation: number[] = [];
  for (let round = -1; round < roundCount; round++) {
    let c = 0;
    let x = 0;
    for (const k of keys) {
      c += elapsedUs(() => check(k));
      x += elapsedUs(() => exponentiate(k));
    }
    if (round >= 0) {
      checks.push(c / keys.length);
      exponentiation.push(x / keys.length);
    }
  }
  return { checks: stats(checks), exponentiation: stats(exponentiation), keys: keyCount };
}
