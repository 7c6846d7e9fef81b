/**
 * Weak-key tests for RSA public keys: classes of keys whose private key anyone
 * can compute, or that widely used verifiers refuse (CA/Browser Forum Baseline
 * Requirements 6.1.6; the tests Let's Encrypt's goodkey package runs).
 *
 * Given only the public modulus n and exponent e, in the order of their cost:
 *
 *   1. the public exponent: one the policy lists (65537 by default), and never
 *      even, below 3 or above 2^32 − 1 whatever the policy says;
 *   2. n is odd;
 *   3. n has no prime factor below 752;
 *   4. n is not a perfect power (p², p³…);
 *   5. n does not carry the ROCA fingerprint of Infineon RSALib keys;
 *   6. Fermat's method does not factor n within 100 rounds (primes too close);
 *   7. n is not prime (one Miller–Rabin round: a single modular exponentiation,
 *      the only step that costs more than microseconds).
 *
 * The size of the modulus is the policy's key types' concern and is checked
 * before this. Tables are built on first use, so code that never sees an RSA
 * key never pays for them.
 */
import { constants, createPublicKey, publicEncrypt } from 'node:crypto';

/** The exponents accepted when the policy does not list any. */
export const DEFAULT_RSA_PUBLIC_EXPONENTS: readonly number[] = [65537];
/** Larger exponents are refused by common verifiers (Go's crypto/x509 among them), whatever the policy lists. */
export const MAX_RSA_PUBLIC_EXPONENT = 2 ** 32 - 1;
/** Rounds of Fermat's factorisation, as Let's Encrypt runs it. */
export const FERMAT_ROUNDS = 100;
/** n must have no prime factor below this. */
export const SMALL_PRIME_BOUND = 752;

/** Stable identifiers of the weaknesses, for logs, metrics and clients. */
export type RsaWeakness =
  | 'public-exponent'
  | 'even-modulus'
  | 'small-prime-factor'
  | 'perfect-power'
  | 'roca'
  | 'close-primes'
  | 'prime-modulus';

export interface RsaKeyRefusal {
  id: RsaWeakness;
  /** Why, in words a person understands. */
  reason: string;
}

export interface RsaKeyQualityOptions {
  /** Public exponents the policy allows (default [65537]); values the rules above forbid are ignored. */
  allowedExponents?: readonly number[];
}

export const REASONS: Record<Exclude<RsaWeakness, 'public-exponent'>, string> = {
  'even-modulus': 'the modulus is even, so 2 is one of its factors',
  'small-prime-factor': 'the modulus has a small prime factor',
  'perfect-power': 'the modulus is a power of a single number (such as p²), so its factors are easy to find',
  roca: 'ROCA-vulnerable key (Infineon RSALib): regenerate it on updated firmware',
  'close-primes': 'the primes are too close together',
  'prime-modulus': 'the modulus is prime, so its private key is trivial to compute',
};

/** Returns undefined for a key that passes every test, else the first weakness found. */
export function rsaKeyRefusal(modulus: Uint8Array | bigint, exponent: Uint8Array | bigint, options: RsaKeyQualityOptions = {}): RsaKeyRefusal | undefined {
  const e = toBigInt(exponent);
  const exponentProblem = exponentRefusal(e, options.allowedExponents ?? DEFAULT_RSA_PUBLIC_EXPONENTS);
  if (exponentProblem) return { id: 'public-exponent', reason: exponentProblem };
  const n = toBigInt(modulus);
  const weakness = modulusWeakness(n);
  return weakness === undefined ? undefined : { id: weakness, reason: REASONS[weakness] };
}

function exponentRefusal(e: bigint, allowed: readonly number[]): string | undefined {
  if (e < 3n || (e & 1n) === 0n) return 'the public exponent must be odd and at least 3';
  if (e > BigInt(MAX_RSA_PUBLIC_EXPONENT)) {
    const shown = bitLength(e) <= 64 ? `the public exponent ${e}` : `a ${bitLength(e)}-bit public exponent`;
    return `${shown} is larger than 2^32 − 1, which common verifiers (Go's crypto/x509 among them) refuse`;
  }
  const usable = allowed.filter((a) => Number.isInteger(a) && a >= 3 && a <= MAX_RSA_PUBLIC_EXPONENT && a % 2 === 1);
  if (!usable.includes(Number(e))) return `the public exponent ${e} is not allowed (allowed: ${usable.join(', ') || 'none'})`;
  return undefined;
}

function modulusWeakness(n: bigint): Exclude<RsaWeakness, 'public-exponent'> | undefined {
  if ((n & 1n) === 0n) return 'even-modulus';
  const t = tables();
  const residues = t.smallPrimeChunks.map((c) => Number(n % c.productBig));
  if (t.smallPrimeChunks.some((c, i) => gcd(residues[i]!, c.product) !== 1)) return 'small-prime-factor';
  const root = iroot(n, 2);
  if (root * root === n || isHigherPower(n)) return 'perfect-power';
  if (hasRocaFingerprint(residues)) return 'roca';
  if (fermatFinds(n, root)) return 'close-primes';
  if (isStrongProbablePrimeBase2(n)) return 'prime-modulus';
  return undefined;
}

// --- Small primes ------------------------------------------------------------------------------

/**
 * The product of the primes below 752 is split into factors below 2^53: one BigInt
 * remainder per factor, then a gcd in double arithmetic. (One BigInt gcd against
 * the whole 1038-bit product takes some 600 Euclid steps on BigInts: about a
 * hundred times slower in V8.) The remainders also serve the ROCA test.
 */
interface PrimeChunk {
  product: number;
  productBig: bigint;
  primes: number[];
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

// --- Perfect powers ----------------------------------------------------------------------------

/**
 * n = m^k for a prime k ≥ 3? With no prime factor below 752, m ≥ 757, so k ≤ log2(n) / log2(757).
 * Each k is screened first: if n = m^k, n is a k-th power modulo every prime q ≡ 1 (mod k), i.e.
 * n^((q−1)/k) ≡ 1 (or n ≡ 0). A number that is no k-th power fails one of six such q with
 * probability ≥ 1 − k^−6; only one that passes them all gets its integer k-th root computed.
 */
function isHigherPower(n: bigint): boolean {
  const maxK = Math.floor(bitLength(n) / Math.log2(757));
  for (const { k, witnesses } of powerScreens(maxK)) {
    const passes = witnesses.every((q) => {
      const r = Number(n % BigInt(q));
      return r === 0 || powMod(r, (q - 1) / k, q) === 1;
    });
    if (passes) {
      const m = iroot(n, k);
      if (m ** BigInt(k) === n) return true;
    }
  }
  return false;
}

/** a^e mod m in double arithmetic (m < 2^26, so every product is exact). */
function powMod(a: number, e: number, m: number): number {
  let result = 1;
  let base = a % m;
  for (let x = e; x > 0; x = Math.floor(x / 2)) {
    if (x % 2 === 1) result = (result * base) % m;
    base = (base * base) % m;
  }
  return result;
}

/** floor(n^(1/k)) by Newton's method from a floating-point estimate. */
function iroot(n: bigint, k: number): bigint {
  if (n < 2n) return n;
  const K = BigInt(k);
  const step = (x: bigint) => ((K - 1n) * x + n / x ** (K - 1n)) / K;
  // One step from any positive x lands at or above floor(n^(1/k)); from there the iteration decreases to it.
  let x = step(rootEstimate(n, k));
  for (;;) {
    const y = step(x);
    if (y >= x) return x;
    x = y;
  }
}

function rootEstimate(n: bigint, k: number): bigint {
  const bits = bitLength(n);
  const shift = Math.max(0, bits - 64);
  const log2Root = (Math.log2(Number(n >> BigInt(shift))) + shift) / k;
  const whole = Math.floor(log2Root);
  const mantissa = BigInt(Math.floor(2 ** (log2Root - whole + 52)));
  const x = whole >= 52 ? mantissa << BigInt(whole - 52) : mantissa >> BigInt(52 - whole);
  return x > 0n ? x : 1n;
}

// --- ROCA (CVE-2017-15361) ---------------------------------------------------------------------

/**
 * Infineon RSALib made primes p = k·M + (65537^a mod M), M a primorial, so n mod p lies in the
 * subgroup generated by 65537 modulo every small prime p. The fingerprint test of the ROCA
 * authors' detector (crocs-muni/roca, roca/detect.py): n is flagged when that holds for each
 * prime from 3 to 167 (a random modulus passes all 38 with negligible probability).
 */
export const ROCA_PRIMES: readonly number[] = [
  3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127,
  131, 137, 139, 149, 151, 157, 163, 167,
];
const ROCA_GENERATOR = 65537;

function hasRocaFingerprint(smallResidues: number[]): boolean {
  const t = tables();
  return t.roca.every(({ prime, chunk, subgroup }) => subgroup[smallResidues[chunk]! % prime] === 1);
}

/** The residues modulo `prime` reached by powers of 65537 (1 marks a member). */
export function rocaSubgroup(prime: number): Uint8Array {
  const member = new Uint8Array(prime);
  const g = ROCA_GENERATOR % prime;
  for (let x = 1; member[x] === 0; x = (x * g) % prime) member[x] = 1;
  return member;
}

// --- Fermat's factorisation --------------------------------------------------------------------

/**
 * n = a² − b² = (a − b)(a + b): starting at a = ceil(√n), is a² − n a square for one of
 * FERMAT_ROUNDS consecutive values of a? Found quickly when the primes differ in roughly their
 * upper half of bits. a² − n is followed modulo 64·63·65·11 in doubles and rejected by the
 * quadratic residues of those moduli (more than 99% of non-squares); only the rest get a square root.
 */
function fermatFinds(n: bigint, floorRoot: bigint): boolean {
  const t = tables();
  const M = FERMAT_FILTER_MODULUS;
  const a0 = floorRoot * floorRoot === n ? floorRoot : floorRoot + 1n;
  let a = Number(a0 % BigInt(M));
  let b2 = Number((a0 * a0 - n) % BigInt(M));
  for (let i = 0; i < FERMAT_ROUNDS; i++) {
    if (t.squareModFilter(b2)) {
      const ai = a0 + BigInt(i);
      const exact = ai * ai - n;
      const b = iroot(exact, 2);
      if (b * b === exact) return true;
    }
    b2 = (b2 + 2 * a + 1) % M; // (a + 1)² − n = a² − n + 2a + 1
    a = (a + 1) % M;
  }
  return false;
}

const FERMAT_FILTER_MODULUS = 64 * 63 * 65 * 11;

// --- Primality ---------------------------------------------------------------------------------

/**
 * One Miller–Rabin round to base 2 (the first half of BPSW). A prime passes; so does a composite
 * built to be a base-2 strong pseudoprime, which no key generator makes by chance: refusing it is
 * no loss. One round only, so a prime modulus costs no more than a good one.
 */
function isStrongProbablePrimeBase2(n: bigint): boolean {
  const minusOne = n - 1n;
  let d = minusOne;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  let x = powerOfTwoMod(d, n);
  if (x === 1n || x === minusOne) return true;
  for (let i = 1; i < s; i++) {
    x = (x * x) % n;
    if (x === minusOne) return true;
    if (x === 1n) return false;
  }
  return false;
}

/**
 * 2^d mod n (n odd, d < n). A raw RSA public-key operation with exponent d is exactly this
 * exponentiation, done by OpenSSL some ten times faster than BigInt arithmetic. OpenSSL refuses
 * exponents over 64 bits for moduli over 3072 bits: there d is applied 12 bits at a time
 * (x ← x^(2^12) · 2^w, the window size that measured fastest). Should OpenSSL refuse anything
 * else, BigInt arithmetic does it.
 */
function powerOfTwoMod(d: bigint, n: bigint): bigint {
  const size = byteLength(n);
  try {
    return rawRsa(n, d, size)(2n);
  } catch {
    // The windowed form below.
  }
  try {
    const WINDOW = 12;
    const power = rawRsa(n, 1n << BigInt(WINDOW), size);
    const mask = (1n << BigInt(WINDOW)) - 1n;
    let x = 1n;
    for (let shift = Math.ceil(bitLength(d) / WINDOW) * WINDOW - WINDOW; shift >= 0; shift -= WINDOW) {
      x = power(x);
      x = (x << ((d >> BigInt(shift)) & mask)) % n;
    }
    return x;
  } catch {
    return bigintPowMod(2n, d, n);
  }
}

function rawRsa(n: bigint, e: bigint, size: number): (x: bigint) => bigint {
  const key = createPublicKey({ key: { kty: 'RSA', n: toBase64Url(n), e: toBase64Url(e) }, format: 'jwk' });
  return (x) => toBigInt(publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, toBytes(x, size)));
}

/** base^exponent mod modulus in BigInt arithmetic (slow: for what OpenSSL will not do, and for tests). */
export function bigintPowMod(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

// --- Tables, built on first use ----------------------------------------------------------------

interface Tables {
  smallPrimeChunks: PrimeChunk[];
  roca: Array<{ prime: number; chunk: number; subgroup: Uint8Array }>;
  squareModFilter: (r: number) => boolean;
}

let cachedTables: Tables | undefined;

function tables(): Tables {
  if (cachedTables) return cachedTables;
  const primes = primesBelow(SMALL_PRIME_BOUND);
  const smallPrimeChunks: PrimeChunk[] = [];
  for (const p of primes) {
    const last = smallPrimeChunks[smallPrimeChunks.length - 1];
    if (last && last.product * p <= Number.MAX_SAFE_INTEGER) {
      last.product *= p;
      last.primes.push(p);
    } else smallPrimeChunks.push({ product: p, productBig: 0n, primes: [p] });
  }
  for (const c of smallPrimeChunks) c.productBig = BigInt(c.product);
  const chunkOf = (p: number) => smallPrimeChunks.findIndex((c) => c.primes.includes(p));
  const roca = ROCA_PRIMES.map((prime) => ({ prime, chunk: chunkOf(prime), subgroup: rocaSubgroup(prime) }));
  const residues = (m: number) => {
    const squares = new Uint8Array(m);
    for (let i = 0; i < m; i++) squares[(i * i) % m] = 1;
    return squares;
  };
  const [q64, q63, q65, q11] = [residues(64), residues(63), residues(65), residues(11)] as const;
  const squareModFilter = (r: number) => q64[r % 64] === 1 && q63[r % 63] === 1 && q65[r % 65] === 1 && q11[r % 11] === 1;
  cachedTables = { smallPrimeChunks, roca, squareModFilter };
  return cachedTables;
}

/** For each prime k from 3 to maxK, six primes q ≡ 1 (mod k), all below 2^26. */
const screens: Array<{ k: number; witnesses: number[] }> = [];
let screenedUpTo = 2;

function powerScreens(maxK: number): ReadonlyArray<{ k: number; witnesses: number[] }> {
  for (let k = screenedUpTo + 1; k <= maxK; k++) {
    if (!isSmallPrime(k)) continue;
    const witnesses: number[] = [];
    for (let q = 2 * k + 1; witnesses.length < 6 && q < 2 ** 26; q += 2 * k) if (isSmallPrime(q)) witnesses.push(q);
    screens.push({ k, witnesses });
  }
  screenedUpTo = Math.max(screenedUpTo, maxK);
  return screens.filter((s) => s.k <= maxK);
}

function isSmallPrime(x: number): boolean {
  if (x < 2) return false;
  for (let d = 2; d * d <= x; d++) if (x % d === 0) return false;
  return true;
}

function primesBelow(limit: number): number[] {
  const out: number[] = [];
  for (let x = 2; x < limit; x++) if (isSmallPrime(x)) out.push(x);
  return out;
}

// --- Conversions -------------------------------------------------------------------------------

function toBigInt(v: Uint8Array | bigint): bigint {
  if (typeof v === 'bigint') return v;
  return v.length === 0 ? 0n : BigInt(`0x${Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex')}`);
}

function toBytes(x: bigint, size: number): Buffer {
  return Buffer.from(x.toString(16).padStart(size * 2, '0'), 'hex');
}

function toBase64Url(x: bigint): string {
  const hex = x.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex').toString('base64url');
}

function bitLength(x: bigint): number {
  if (x === 0n) return 0;
  const hex = x.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0]!, 16)));
}

const byteLength = (x: bigint) => Math.ceil(bitLength(x) / 8);
