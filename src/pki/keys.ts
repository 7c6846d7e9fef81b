import * as cryptoModule from 'node:crypto';
import { createHash } from 'node:crypto';
import { DerError, TAG, bitLength, bitStringBytes, childrenOf, decodeOid, expectTag, integerMagnitude, readSingle, type DerElement } from './der/reader.js';

/** Key types a policy can allow. Anything else is described but never allowed. */
export const KEY_TYPES = ['EC_P256', 'EC_P384', 'RSA_2048', 'RSA_3072', 'RSA_4096'] as const;
export type AllowedKeyType = (typeof KEY_TYPES)[number];

export interface KeyDescription {
  /** EC_P256, RSA_2048, … or a descriptive label for unsupported keys (EC_P521, RSA_1024, ED25519, DSA…). */
  keyType: string;
  family: 'EC' | 'RSA' | 'OTHER';
  /** Named curve for EC keys (node:crypto naming is derived from it). */
  curve?: 'P-256' | 'P-384' | 'P-521' | string;
  /** Modulus length for RSA keys. */
  bits?: number;
  /** RSA keys: the modulus and public exponent (unsigned big-endian, views into the CSR), for the weak-key tests. */
  rsa?: { modulus: Uint8Array; exponent: Uint8Array };
}

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsassaPss: '1.2.840.113549.1.1.10',
  ed25519: '1.3.101.112',
  ed448: '1.3.101.113',
  dsa: '1.2.840.10040.4.1',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  p521: '1.3.132.0.35',
  secp256k1: '1.3.132.0.10',
} as const;

const CURVES: Record<string, string> = {
  [OID.p256]: 'P-256',
  [OID.p384]: 'P-384',
  [OID.p521]: 'P-521',
  [OID.secp256k1]: 'secp256k1',
};

const OTHER_KEYS: Record<string, string> = {
  [OID.ed25519]: 'ED25519',
  [OID.ed448]: 'ED448',
  [OID.dsa]: 'DSA',
  [OID.rsassaPss]: 'RSA_PSS',
};

/** Describes a SubjectPublicKeyInfo from its DER; throws DerError when it is not one. */
export function describeSpki(spki: DerElement): KeyDescription {
  expectTag(spki, TAG.SEQUENCE, 'SubjectPublicKeyInfo');
  const [algId, keyBits, ...rest] = childrenOf(spki);
  if (!algId || !keyBits || rest.length) throw new DerError('SubjectPublicKeyInfo must have two parts');
  expectTag(algId, TAG.SEQUENCE, 'AlgorithmIdentifier');
  const [algOid, params, ...extra] = childrenOf(algId);
  if (!algOid) throw new DerError('AlgorithmIdentifier without an algorithm');
  // SEQUENCE { algorithm, parameters OPTIONAL }: anything more is not a key we may certify verbatim.
  if (extra.length) throw new DerError('AlgorithmIdentifier must have at most two parts');
  const alg = decodeOid(algOid);
  const key = bitStringBytes(keyBits);

  if (alg === OID.ecPublicKey) {
    if (!params) throw new DerError('EC key without parameters');
    if (params.tag !== TAG.OID) return { keyType: 'EC_EXPLICIT_PARAMETERS', family: 'OTHER' };
    const curveOid = decodeOid(params);
    const curve = CURVES[curveOid] ?? curveOid;
    const size = curve === 'P-256' ? 32 : curve === 'P-384' ? 48 : curve === 'P-521' ? 66 : 0;
    if (size && (key.length !== 1 + 2 * size || key[0] !== 0x04)) {
      throw new DerError('EC public key is not an uncompressed point of the curve size');
    }
    const label = curve.startsWith('P-') ? `EC_P${curve.slice(2)}` : `EC_${curve}`;
    return { keyType: label, family: label === 'EC_P256' || label === 'EC_P384' ? 'EC' : 'OTHER', curve };
  }
  if (alg === OID.rsaEncryption) {
    // RFC 3279 2.3.1: the parameters MUST be NULL (strict relying parties refuse anything else).
    if (!params || params.tag !== TAG.NULL || params.end !== params.valueStart) {
      throw new DerError('RSA key parameters must be NULL');
    }
    const rsa = readSingle(key);
    expectTag(rsa, TAG.SEQUENCE, 'RSAPublicKey');
    const [n, e, ...more] = childrenOf(rsa);
    if (!n || !e || more.length) throw new DerError('RSAPublicKey must have a modulus and an exponent');
    const modulus = integerMagnitude(n);
    const bits = bitLength(modulus);
    // RFC 8017 3.1: an odd exponent of at least 3 (e = 1 would let anyone forge signatures).
    const exponent = integerMagnitude(e);
    if ((exponent[exponent.length - 1]! & 1) === 0 || (exponent.length === 1 && exponent[0]! < 3)) {
      throw new DerError('RSA public exponent must be odd and at least 3');
    }
    const keyType = `RSA_${bits}`;
    return { keyType, family: 'RSA', bits, rsa: { modulus, exponent } };
  }
  return { keyType: OTHER_KEYS[alg] ?? `UNKNOWN_${alg}`, family: 'OTHER' };
}

export const isAllowedKeyType = (keyType: string, allowed: readonly string[]): boolean => allowed.includes(keyType);

/**
 * The subject key identifier of a public key: the SHA-1 of the subjectPublicKey
 * BIT STRING's contents (the EC point, or the RSAPublicKey DER), RFC 5280
 * 4.2.1.2 method 1. One-shot `crypto.hash` where node has it (no Hash object).
 */
export const subjectKeyIdentifier: (publicKeyBits: Uint8Array) => Buffer =
  typeof (cryptoModule as { hash?: unknown }).hash === 'function'
    ? (bits) => (cryptoModule as unknown as { hash(a: string, d: Uint8Array, e: 'buffer'): Buffer }).hash('sha1', bits, 'buffer')
    : (bits) => createHash('sha1').update(bits).digest();

/** The key identifier (hex) of a SubjectPublicKeyInfo DER: its subject key identifier. */
export function keyIdentifierOf(spkiDer: Uint8Array): string {
  const [, bits] = childrenOf(readSingle(spkiDer));
  return subjectKeyIdentifier(bitStringBytes(bits!)).toString('hex');
}
