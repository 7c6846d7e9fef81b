/**
 * RSA keys of the weak classes the CA refuses (src/pki/rsa-key-quality.ts), and
 * real PKCS#10 CSRs carrying them, made deterministically from fixed seeds: the
 * same bytes on every run. Each CSR is properly self-signed (sha256WithRSAEncryption,
 * RSASSA-PKCS1-v1_5 computed here in BigInt, since OpenSSL will not load some of
 * these keys as private keys), so proof of possession passes and only the
 * weak-key tests can refuse it.
 *
 * Primality of candidates is decided by node:crypto's checkPrimeSync.
 */
import { checkPrimeSync, createHash } from 'node:crypto';
import { bigintPowMod as powMod } from '../../src/pki/rsa-key-quality.js';
import { oid, seq, tlv } from './csr-builder.js';

export const WEAK_RSA_KINDS = [
  'prime-modulus',
  'three-times-prime',
  'prime-squared',
  'close-primes',
  'exponent-3',
  'exponent-2-32-plus-1',
  'exponent-1001-bits',
  'roca',
] as const;
export type WeakRsaKind = (typeof WEAK_RSA_KINDS)[number];

export interface WeakRsaKey {
  kind: WeakRsaKind;
  n: bigint;
  e: bigint;
  /** A private exponent that works: e·d ≡ 1 modulo λ(n). */
  d: bigint;
  /** The prime factors with multiplicity (n itself when n is prime). */
  factors: bigint[];
}

const E65537 = 65537n;

/** A deterministic stream of bits: SHA-256 of the seed and a counter. */
class Stream {
  private counter = 0;
  constructor(private readonly seed: string) {}

  bits(count: number): bigint {
    let hex = '';
    while (hex.length * 4 < count) hex += createHash('sha256').update(`factory-ca weak RSA ${this.seed} ${this.counter++}`).digest('hex');
    return BigInt(`0x${hex}`) >> BigInt(hex.length * 4 - count);
  }

  /** An odd number of exactly `count` bits whose two top bits are set (so two of them multiply to 2·count bits). */
  candidate(count: number): bigint {
    return this.bits(count) | (3n << BigInt(count - 2)) | 1n;
  }
}

const SIEVE = (() => {
  const out: bigint[] = [];
  for (let x = 3; x < 2000; x += 2) if (out.every((p) => BigInt(x) % p !== 0n)) out.push(BigInt(x));
  return out;
})();

const isPrime = (x: bigint): boolean => SIEVE.every((p) => x % p !== 0n || x === p) && checkPrimeSync(x);

/** The first prime from `start` on (stepping by `step`, which keeps its parity) that `accept` takes. */
export function primeFrom(start: bigint, accept: (p: bigint) => boolean = () => true, step = 2n): bigint {
  for (let x = start; ; x += step) if (isPrime(x) && accept(x)) return x;
}

const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));
const lcm = (a: bigint, b: bigint) => (a / gcd(a, b)) * b;

function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [a % m, m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new Error('not invertible');
  return ((s0 % m) + m) % m;
}

const coprimeTo = (e: bigint) => (p: bigint) => gcd(e, p - 1n) === 1n;

/** Two distinct 1024-bit primes whose product has 2048 bits. */
function twoPrimes(stream: Stream, accept: (p: bigint) => boolean): [bigint, bigint] {
  const p = primeFrom(stream.candidate(1024), accept);
  const q = primeFrom(stream.candidate(1024), (x) => x !== p && accept(x));
  return [p, q];
}

function keyOf(kind: WeakRsaKind, factors: bigint[], e: bigint, lambda: bigint): WeakRsaKey {
  const n = factors.reduce((a, b) => a * b, 1n);
  return { kind, n, e, d: modInverse(e, lambda), factors };
}

/** The primorial of the first `count` primes. */
function primorial(count: number): bigint {
  let m = 1n;
  let found = 0;
  for (let x = 2; found < count; x++) {
    if ([...Array(x - 2)].every((_, i) => x % (i + 2) !== 0)) {
      m *= BigInt(x);
      found++;
    }
  }
  return m;
}

/**
 * Infineon RSALib's construction (the ROCA paper, section 2.1): p = k·M + (65537^a mod M),
 * M the primorial of the first 126 primes for keys of 1984 to 3936 bits.
 */
function rocaPrime(stream: Stream, M: bigint): bigint {
  const residue = powMod(65537n, stream.bits(256), M);
  const kMin = (3n << 1022n) / M + 1n; // p ≥ 1.5 · 2^1023
  const kMax = (1n << 1024n) / M - 1n;
  const k = kMin + (stream.bits(64) % (kMax - kMin - 10_000n));
  const p = primeFrom(k * M + residue, coprimeTo(E65537), M);
  if (p >> 1024n !== 0n) throw new Error('ROCA prime out of range');
  return p;
}

function generate(kind: WeakRsaKind): WeakRsaKey {
  const stream = new Stream(kind);
  switch (kind) {
    case 'prime-modulus': {
      const n = primeFrom(stream.candidate(2048), coprimeTo(E65537));
      return keyOf(kind, [n], E65537, n - 1n);
    }
    case 'three-times-prime': {
      // q between 2^2047/3 and 2^2048/3, so that 3·q has 2048 bits.
      const q = primeFrom(((1n << 2047n) / 3n + stream.bits(2045)) | 1n, coprimeTo(E65537));
      return keyOf(kind, [3n, q], E65537, q - 1n);
    }
    case 'prime-squared': {
      const p = primeFrom(stream.candidate(1024), coprimeTo(E65537));
      return keyOf(kind, [p, p], E65537, p * (p - 1n));
    }
    case 'close-primes': {
      const p = primeFrom(stream.candidate(1024), coprimeTo(E65537));
      const q = primeFrom(p + 2n, coprimeTo(E65537));
      return keyOf(kind, [p, q], E65537, lcm(p - 1n, q - 1n));
    }
    case 'exponent-3': {
      const [p, q] = twoPrimes(stream, coprimeTo(3n));
      return keyOf(kind, [p, q], 3n, lcm(p - 1n, q - 1n));
    }
    case 'exponent-2-32-plus-1': {
      const e = (1n << 32n) + 1n; // 641 · 6700417
      const [p, q] = twoPrimes(stream, coprimeTo(e));
      return keyOf(kind, [p, q], e, lcm(p - 1n, q - 1n));
    }
    case 'exponent-1001-bits': {
      const [p, q] = twoPrimes(stream, () => true);
      const lambda = lcm(p - 1n, q - 1n);
      let e = stream.bits(1001) | (1n << 1000n) | 1n;
      while (gcd(e, lambda) !== 1n) e += 2n;
      return keyOf(kind, [p, q], e, lambda);
    }
    case 'roca': {
      const M = primorial(126);
      const p = rocaPrime(stream, M);
      const q = rocaPrime(stream, M);
      return keyOf(kind, [p, q], E65537, lcm(p - 1n, q - 1n));
    }
  }
}

const keys = new Map<WeakRsaKind, WeakRsaKey>();

/** The weak key of that kind (made once per process, then cached). */
export function weakRsaKey(kind: WeakRsaKind): WeakRsaKey {
  let key = keys.get(kind);
  if (!key) {
    key = generate(kind);
    if (key.n >> 2047n !== 1n) throw new Error(`${kind}: the modulus does not have 2048 bits`);
    keys.set(kind, key);
  }
  return key;
}

// --- DER and signatures ------------------------------------------------------------------------

const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const SHA256 = '2.16.840.1.101.3.4.2.1';

function unsigned(x: bigint, size?: number): Uint8Array {
  const hex = x.toString(16);
  const bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  return size === undefined ? bytes : Buffer.concat([Buffer.alloc(size - bytes.length), bytes]);
}

const integer = (x: bigint) => {
  const bytes = unsigned(x);
  return tlv(0x02, bytes[0]! & 0x80 ? Buffer.concat([Uint8Array.of(0), bytes]) : bytes);
};
const bitString = (bytes: Uint8Array) => tlv(0x03, Uint8Array.of(0), bytes);

/** SubjectPublicKeyInfo of an rsaEncryption key. */
export const rsaSpki = (key: Pick<WeakRsaKey, 'n' | 'e'>): Uint8Array =>
  seq(seq(oid(RSA_ENCRYPTION), tlv(0x05)), bitString(seq(integer(key.n), integer(key.e))));

/** RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 8.2.1), by the raw private-key operation. */
export function pkcs1Sign(key: Pick<WeakRsaKey, 'n' | 'd'>, data: Uint8Array): Uint8Array {
  const size = Math.ceil(key.n.toString(16).length / 2);
  const digestInfo = seq(seq(oid(SHA256), tlv(0x05)), tlv(0x04, createHash('sha256').update(data).digest()));
  const em = Buffer.concat([Uint8Array.of(0x00, 0x01), Buffer.alloc(size - 3 - digestInfo.length, 0xff), Uint8Array.of(0x00), digestInfo]);
  return unsigned(powMod(BigInt(`0x${em.toString('hex')}`), key.d, key.n), size);
}

/** A CSR for `subjectDer` carrying the weak key of that kind, signed with it. */
export function weakRsaCsrDer(kind: WeakRsaKind, subjectDer: Uint8Array): Uint8Array {
  const key = weakRsaKey(kind);
  const info = seq(tlv(0x02, Uint8Array.of(0)), subjectDer, rsaSpki(key), tlv(0xa0));
  return seq(info, seq(oid(SHA256_WITH_RSA), tlv(0x05)), bitString(pkcs1Sign(key, info)));
}
