import { describe, expect, it } from '@jest/globals';
import { checkPrimeSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseCsr, verifyCsr } from '../../../src/pki/csr.js';
import { PkiError } from '../../../src/pki/errors.js';
import { parsePolicy, PolicyConfigError, type Policy } from '../../../src/pki/policy.js';
import { acceptRequest } from '../../../src/pki/request.js';
import {
  FERMAT_ROUNDS,
  MAX_RSA_PUBLIC_EXPONENT,
  REASONS,
  ROCA_PRIMES,
  rocaSubgroup,
  rsaKeyRefusal,
  type RsaWeakness,
} from '../../../src/pki/rsa-key-quality.js';
import { STRING, subject, toCsrPem } from '../../helpers/csr-builder.js';
import { csrFixture } from '../../helpers/fixtures.js';
import { WEAK_RSA_KINDS, primeFrom, weakRsaCsrDer, weakRsaKey, type WeakRsaKind } from '../../helpers/weak-rsa.js';

const CORPUS = new URL('../../fixtures/hostile/corpus/', import.meta.url);
const corpusCsr = (kind: WeakRsaKind) => readFileSync(new URL(`rsa-weak-${kind}.csr`, CORPUS), 'utf8');
const POLICY_DOC = () => JSON.parse(readFileSync(new URL('../../../config/policy.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const policyWith = (extra: Record<string, unknown> = {}): Policy => parsePolicy({ ...POLICY_DOC(), ...extra }, { organization: 'Example Corp' });
const shipped = policyWith();

/** Modulus and exponent of a CSR's RSA key, as the pipeline hands them over (bytes). */
function rsaOf(csrText: string): { n: Uint8Array; e: Uint8Array } {
  const { rsa } = parseCsr(csrText).key;
  if (!rsa) throw new Error('not an RSA key');
  return { n: rsa.modulus, e: rsa.exponent };
}
const big = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
const GOOD = { 2048: rsaOf(csrFixture('rsa-2048.csr')), 3072: rsaOf(csrFixture('rsa-3072.csr')), 4096: rsaOf(csrFixture('rsa-4096.csr')) };
const goodN = big(GOOD[2048].n);
const idOf = (n: bigint | Uint8Array, e: bigint | Uint8Array = 65537n, allowedExponents?: number[]) =>
  rsaKeyRefusal(n, e, allowedExponents ? { allowedExponents } : {})?.id;

const TOO_LARGE = "is larger than 2^32 − 1, which common verifiers (Go's crypto/x509 among them) refuse";
const EXPECTED: Record<WeakRsaKind, { id: RsaWeakness; reason: string }> = {
  'prime-modulus': { id: 'prime-modulus', reason: 'the modulus is prime, so its private key is trivial to compute' },
  'three-times-prime': { id: 'small-prime-factor', reason: 'the modulus has a small prime factor' },
  'prime-squared': { id: 'perfect-power', reason: REASONS['perfect-power'] },
  'close-primes': { id: 'close-primes', reason: 'the primes are too close together' },
  'exponent-3': { id: 'public-exponent', reason: 'the public exponent 3 is not allowed (allowed: 65537)' },
  'exponent-2-32-plus-1': { id: 'public-exponent', reason: `the public exponent 4294967297 ${TOO_LARGE}` },
  'exponent-1001-bits': { id: 'public-exponent', reason: `a 1001-bit public exponent ${TOO_LARGE}` },
  roca: { id: 'roca', reason: 'ROCA-vulnerable key (Infineon RSALib): regenerate it on updated firmware' },
};

/** floor(√x), for the tests' own arithmetic. */
function isqrt(x: bigint): bigint {
  let r = 1n << BigInt(Math.ceil(x.toString(2).length / 2));
  for (let next = (r + x / r) >> 1n; next < r; next = (r + x / r) >> 1n) r = next;
  return r;
}

describe('rsaKeyRefusal: the weak-key corpus', () => {
  it.each(WEAK_RSA_KINDS)('refuses the %s key with its reason', (kind) => {
    const { n, e } = rsaOf(corpusCsr(kind));
    expect(rsaKeyRefusal(n, e)).toEqual(EXPECTED[kind]);
  });

  it.each(WEAK_RSA_KINDS)('pipeline: %s passes proof of possession, then is refused as KEY_NOT_ALLOWED', (kind) => {
    const csr = corpusCsr(kind);
    const parsed = parseCsr(csr);
    expect(parsed.key.keyType).toBe('RSA_2048');
    expect(() => verifyCsr(parsed)).not.toThrow();
    let thrown: unknown;
    try {
      acceptRequest(csr, shipped);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(PkiError);
    const err = thrown as PkiError;
    expect([err.code, err.message]).toEqual(['KEY_NOT_ALLOWED', `The RSA key is weak: ${EXPECTED[kind].reason}; make a new key pair for the device`]);
    expect(err.details).toEqual([{ field: 'publicKey', reason: EXPECTED[kind].reason, check: EXPECTED[kind].id }]);
  });

  it('accepts the e = 3 CSR when the policy lists 3', () => {
    expect(acceptRequest(corpusCsr('exponent-3'), policyWith({ rsaPublicExponents: [3, 65537] })).commonName).toBe('hostile-rsa-exponent-3');
  });

  it('regenerating the corpus gives the committed bytes, and each key is what it claims', () => {
    for (const kind of WEAK_RSA_KINDS) {
      expect(toCsrPem(weakRsaCsrDer(kind, subject({ CN: STRING.utf8(`hostile-rsa-${kind}`) })))).toBe(corpusCsr(kind));
      const key = weakRsaKey(kind);
      expect(key.factors.reduce((a, b) => a * b, 1n)).toBe(key.n);
      expect(key.factors.every((p) => checkPrimeSync(p))).toBe(true);
    }
    expect(weakRsaKey('prime-modulus').factors).toHaveLength(1);
    expect(weakRsaKey('three-times-prime').factors[0]).toBe(3n);
    const [p, q] = weakRsaKey('prime-squared').factors;
    expect(p).toBe(q);
    const [a, b] = weakRsaKey('close-primes').factors as [bigint, bigint];
    expect(b - a).toBeLessThan(1n << 16n);
    expect([3n, (1n << 32n) + 1n]).toEqual([weakRsaKey('exponent-3').e, weakRsaKey('exponent-2-32-plus-1').e]);
    expect(weakRsaKey('exponent-1001-bits').e.toString(2)).toHaveLength(1001);
    // ROCA: every prime factor lies in the subgroup generated by 65537 modulo each small prime.
    for (const factor of weakRsaKey('roca').factors) {
      for (const prime of ROCA_PRIMES) expect(rocaSubgroup(prime)[Number(factor % BigInt(prime))]).toBe(1);
    }
  });
});

describe('rsaKeyRefusal: good keys', () => {
  it.each([2048, 3072, 4096] as const)('accepts the openssl-made RSA %i fixture', (bits) => {
    expect(rsaKeyRefusal(GOOD[bits].n, GOOD[bits].e)).toBeUndefined();
  });

  it('gives the same answer for bytes and for bigints', () => {
    expect(rsaKeyRefusal(goodN, 65537n)).toBeUndefined();
    const { n, e } = rsaOf(corpusCsr('roca'));
    expect(rsaKeyRefusal(big(n), big(e))).toEqual(rsaKeyRefusal(n, e));
  });
});

describe('rsaKeyRefusal: public exponent', () => {
  it('accepts 65537 and refuses 65539 by default', () => {
    expect(idOf(goodN, 65537n)).toBeUndefined();
    expect(rsaKeyRefusal(goodN, 65539n)).toEqual({ id: 'public-exponent', reason: 'the public exponent 65539 is not allowed (allowed: 65537)' });
  });

  it('accepts 65539, 3 and 2^32 − 1 when they are listed', () => {
    expect(idOf(goodN, 65539n, [65537, 65539])).toBeUndefined();
    expect(idOf(goodN, 3n, [3])).toBeUndefined();
    expect(idOf(goodN, BigInt(MAX_RSA_PUBLIC_EXPONENT), [MAX_RSA_PUBLIC_EXPONENT])).toBeUndefined();
  });

  it.each([
    ['2^32 + 1', (1n << 32n) + 1n],
    ['2^32 + 3', (1n << 32n) + 3n],
    ['a 1001-bit number', (1n << 1000n) + 1n],
  ])('never accepts %s, even when listed', (_, e) => {
    expect(idOf(goodN, e, [Number(e), 65537])).toBe('public-exponent');
  });

  it.each([
    ['1', 1n],
    ['2', 2n],
    ['65536', 65536n],
    ['0', 0n],
  ])('never accepts %s, even when listed', (_, e) => {
    expect(rsaKeyRefusal(goodN, e, { allowedExponents: [Number(e)] })).toEqual({ id: 'public-exponent', reason: 'the public exponent must be odd and at least 3' });
  });
});

describe('rsaKeyRefusal: modulus', () => {
  it('refuses an even modulus', () => {
    expect(idOf(goodN + 1n)).toBe('even-modulus');
  });

  it.each([3n, 5n, 751n])('refuses a modulus with the prime factor %s', (p) => {
    const q = weakRsaKey('three-times-prime').factors[1]!;
    expect(idOf(p * q)).toBe('small-prime-factor');
  });

  it.each([
    ['p³', 683, 3],
    ['p⁵', 409, 5],
    ['p⁷', 292, 7],
    ['p¹³', 157, 13],
  ])('refuses %s', (_, bits, k) => {
    const p = primeFrom((1n << BigInt(bits - 1)) + 12345n);
    expect(idOf(p ** BigInt(k))).toBe('perfect-power');
  });

  it('refuses the cube of a composite, and 757^211 (the largest prime exponent for its size)', () => {
    const m = primeFrom((1n << 299n) + 1n) * primeFrom((1n << 382n) + 1n);
    expect(idOf(m ** 3n)).toBe('perfect-power');
    const n = 757n ** 211n;
    expect(Math.floor(n.toString(2).length / Math.log2(757))).toBe(211);
    expect(idOf(n)).toBe('perfect-power');
  });

  it('flags the 2048-bit Infineon modulus of the ROCA detector\'s own tests (crocs-muni/roca mod03)', () => {
    const n = BigInt(
      '0x9dcd7420e420c270a68060eb8b5aa7457a9f6648f86fafed2775cc1f79ae962f1e63f1b9e51c55f9ea6fdc7332e9b0058c9ff2eb1fc89855029cf6aafe21e689' +
        'feb38ac9ffb12f1ce371bb5d0e9aae64161abce74b4244bf68f1edb4411f756a097c8929c14740245ea355f8332d1aa36bb50c7dcb4505da8de02e4e53d38f8df' +
        '06097da7524df0df93db48eac8cc4af2d3a16257eb2b2adca6ba464e5974fa92550d31b1babf161e7692d00b86e3dd886ecab4abfbe1a8f8cc263ff4af55cdb45' +
        'f4249a5193925f5e983d762f0b6800943eb0267b08f42ed311ce1f5c86eacbc8ce4d3cb7a2fee1ef5641423a1cf4114e5ecf50034a60a412523af9e6f4aa11',
    );
    expect(idOf(n)).toBe('roca');
  });

  it('builds the ROCA subgroups of 65537 (38 primes from 3 to 167)', () => {
    expect(ROCA_PRIMES).toHaveLength(38);
    expect([ROCA_PRIMES[0], ROCA_PRIMES[37]]).toEqual([3, 167]);
    const members = (p: number) => [...rocaSubgroup(p)].flatMap((m, i) => (m ? [i] : []));
    expect(members(3)).toEqual([1, 2]); // 65537 ≡ 2 (mod 3)
    expect(members(11)).toEqual([1, 10]); // 65537 ≡ −1 (mod 11)
    expect(members(17)).toEqual([1, 2, 4, 8, 9, 13, 15, 16]); // 65537 ≡ 2 (mod 17), of order 8
  });

  it(`refuses primes Fermat's method separates in fewer than ${FERMAT_ROUNDS} rounds, not in more`, () => {
    const p = weakRsaKey('close-primes').factors[0]!;
    // (p + q)/2 − ⌈√(pq)⌉ ≈ δ²/(8p) rounds for q ≈ p + δ.
    const roundsFor = (q: bigint) => (p + q) / 2n - (isqrt(p * q) + 1n);
    const near = primeFrom(p + 20n * isqrt(p));
    const far = primeFrom(p + 34n * isqrt(p));
    expect(roundsFor(near)).toBeLessThan(BigInt(FERMAT_ROUNDS));
    expect(roundsFor(far)).toBeGreaterThanOrEqual(BigInt(FERMAT_ROUNDS));
    expect(idOf(p * near)).toBe('close-primes');
    expect(idOf(p * far)).toBeUndefined();
  });

  it('refuses a prime modulus of each allowed size', () => {
    expect(idOf(weakRsaKey('prime-modulus').n)).toBe('prime-modulus');
    // The first primes from 3·2^3070 and 3·2^4094 on (found once with primeFrom, confirmed by `openssl prime`):
    // a 4096-bit modulus takes the other way through OpenSSL (exponents over 64 bits are refused there).
    expect(idOf((3n << 3070n) + 1319n)).toBe('prime-modulus');
    expect(idOf((3n << 4094n) + 3389n)).toBe('prime-modulus');
    expect(idOf((3n << 4094n) + 3391n)).toBeUndefined();
  });
});

describe('parsePolicy: rsaPublicExponents', () => {
  it('defaults to [65537] and keeps a valid list', () => {
    expect(shipped.rsaPublicExponents).toEqual([65537]);
    expect(policyWith({ rsaPublicExponents: [3, 65537, MAX_RSA_PUBLIC_EXPONENT] }).rsaPublicExponents).toEqual([3, 65537, 4294967295]);
  });

  it.each([
    ['an even exponent', [65536]],
    ['1', [1]],
    ['2^32 + 1', [4294967297]],
    ['2^32', [4294967296]],
    ['a fraction', [65537.5]],
    ['a string', ['65537']],
    ['an empty list', []],
    ['a number instead of a list', 65537],
  ])('refuses %s', (_, value) => {
    expect(() => policyWith({ rsaPublicExponents: value })).toThrow(PolicyConfigError);
    expect(() => policyWith({ rsaPublicExponents: value })).toThrow(
      'rsaPublicExponents: must be a non-empty list of odd integers from 3 to 4294967295 (2^32 − 1)',
    );
  });
});
