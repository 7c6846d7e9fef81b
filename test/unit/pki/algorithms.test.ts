import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, sign, verify, createPublicKey } from 'node:crypto';
import {
  CSR_SIGNATURE_SCHEMES,
  SIGNING_ALGORITHMS,
  signingAlgorithmOfKey,
  signingAlgorithmOfKeySpec,
  type SigningAlgorithm,
} from '../../../src/pki/algorithms.js';
import { ecdsaDerToRaw } from '../../../src/pki/der/ecdsa.js';
import { childrenOf, decodeOid, readSingle } from '../../../src/pki/der/reader.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('Table: SIGNING_ALGORITHMS', () => {
  it.each<[SigningAlgorithm, string, string, number | undefined]>([
    // RFC 5758: ECDSA without parameters; RFC 4055: PKCS #1 v1.5 with a NULL parameter.
    ['ECDSA_SHA_256', 'sha256', '300a06082a8648ce3d040302', 32],
    ['ECDSA_SHA_384', 'sha384', '300a06082a8648ce3d040303', 48],
    ['RSASSA_PKCS1_V1_5_SHA_256', 'sha256', '300d06092a864886f70d01010b0500', undefined],
  ])('%s: %s, AlgorithmIdentifier %s, ECDSA size %s', (name, hash, identifier, size) => {
    const a = SIGNING_ALGORITHMS[name];
    expect(a.hash).toBe(hash);
    expect(hex(a.identifier)).toBe(identifier);
    expect(a.ecdsaSize).toBe(size);
    expect(a.web.sign.hash).toBe(hash.replace('sha', 'SHA-'));
  });

  it('verifies a CSR signed with each signing algorithm by its own scheme (same OID, same digest)', () => {
    for (const a of Object.values(SIGNING_ALGORITHMS)) {
      const scheme = CSR_SIGNATURE_SCHEMES[decodeOid(childrenOf(readSingle(a.identifier))[0]!)]!;
      expect(scheme.hash).toBe(a.hash);
      expect(scheme.family).toBe(a.key.type.toUpperCase());
    }
  });

  it.each([
    ['ECDSA_SHA_256', 'P-256'],
    ['ECDSA_SHA_384', 'P-384'],
  ] as const)('%s: the DER signature of a %s key turns into the fixed-size r||s WebCrypto verifies', (name, namedCurve) => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve });
    const a = SIGNING_ALGORITHMS[name];
    const der = sign(a.hash, Buffer.from('tbs'), { key: privateKey, dsaEncoding: 'der' });
    const raw = ecdsaDerToRaw(der, a.ecdsaSize!);
    expect(verify(a.hash, Buffer.from('tbs'), { key: createPublicKey(privateKey), dsaEncoding: 'ieee-p1363' }, raw)).toBe(true);
  });
});

describe('Function: signingAlgorithmOfKeySpec', () => {
  it.each([
    ['ECC_NIST_P256', 'ECDSA_SHA_256'],
    ['ECC_NIST_P384', 'ECDSA_SHA_384'],
    ['RSA_2048', 'RSASSA_PKCS1_V1_5_SHA_256'],
    ['RSA_3072', 'RSASSA_PKCS1_V1_5_SHA_256'],
    ['RSA_4096', 'RSASSA_PKCS1_V1_5_SHA_256'],
    ['ECC_NIST_P521', undefined],
    ['ECC_SECG_P256K1', undefined],
    ['HMAC_256', undefined],
    ['toString', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%s → %s', (spec, algorithm) => {
    expect(signingAlgorithmOfKeySpec(spec)).toBe(algorithm);
  });
});

describe('Function: signingAlgorithmOfKey', () => {
  it.each([
    ['ec', 'prime256v1', 'ECDSA_SHA_256'],
    ['ec', 'secp384r1', 'ECDSA_SHA_384'],
    ['rsa', undefined, 'RSASSA_PKCS1_V1_5_SHA_256'],
    ['ec', 'secp521r1', undefined],
    ['ec', undefined, undefined],
    ['ed25519', undefined, undefined],
    [undefined, undefined, undefined],
  ])('%s %s → %s', (type, curve, algorithm) => {
    expect(signingAlgorithmOfKey(type, curve)).toBe(algorithm);
  });
});
