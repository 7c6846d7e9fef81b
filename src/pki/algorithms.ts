/**
 * The signature algorithms the CA knows, in one place: those its own keys sign
 * certificates with, and those it accepts on a certification request.
 */
import { algorithmIdentifier } from './der/writer.js';

/** Signature algorithms a CA key may sign with, named as AWS KMS names them. */
export type SigningAlgorithm = 'ECDSA_SHA_256' | 'ECDSA_SHA_384' | 'RSASSA_PKCS1_V1_5_SHA_256';

/** Signature algorithm OIDs (RFC 5758, RFC 4055, RFC 8410, NIST CSOR). */
export const SIGNATURE_OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  ed25519: '1.3.101.112',
  dsaWithSha256: '2.16.840.1.101.3.4.3.2',
} as const;

export interface SigningAlgorithmSpec {
  /** The digest, as node:crypto names it. */
  hash: 'sha256' | 'sha384';
  /**
   * The AlgorithmIdentifier DER that certificates carry (signature and
   * signatureAlgorithm): ECDSA without parameters (RFC 5758), PKCS #1 v1.5 with
   * a NULL parameter (RFC 4055).
   */
  identifier: Uint8Array;
  /** The WebCrypto algorithm of the signature and of the signing key. */
  web: { sign: Record<string, unknown>; key: Record<string, unknown> };
  /** ECDSA only: the octets of each of r and s in WebCrypto's fixed-size r||s. */
  ecdsaSize?: number;
  /**
   * The CA keys that sign with it: node:crypto's key type and named curve, and
   * the key specs (the names AWS KMS and CA_KEY_SPEC use).
   */
  key: { type: 'ec' | 'rsa'; namedCurve?: string; specs: readonly string[] };
}

/** ECDSA on a NIST curve with the digest of the same size (P-256 with SHA-256, P-384 with SHA-384). */
const ecdsa = (bits: 256 | 384, oid: string, namedCurve: string): SigningAlgorithmSpec => ({
  hash: `sha${bits}`,
  identifier: algorithmIdentifier(oid, 'absent'),
  web: { sign: { name: 'ECDSA', hash: `SHA-${bits}` }, key: { name: 'ECDSA', namedCurve: `P-${bits}` } },
  ecdsaSize: bits / 8,
  key: { type: 'ec', namedCurve, specs: [`ECC_NIST_P${bits}`] },
});

export const SIGNING_ALGORITHMS: Readonly<Record<SigningAlgorithm, SigningAlgorithmSpec>> = {
  ECDSA_SHA_256: ecdsa(256, SIGNATURE_OID.ecdsaWithSha256, 'prime256v1'),
  ECDSA_SHA_384: ecdsa(384, SIGNATURE_OID.ecdsaWithSha384, 'secp384r1'),
  RSASSA_PKCS1_V1_5_SHA_256: {
    hash: 'sha256',
    identifier: algorithmIdentifier(SIGNATURE_OID.sha256WithRsa, 'NULL'),
    web: { sign: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, key: { name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } } },
    key: { type: 'rsa', specs: ['RSA_2048', 'RSA_3072', 'RSA_4096'] },
  },
};

const ALGORITHMS = Object.entries(SIGNING_ALGORITHMS) as Array<[SigningAlgorithm, SigningAlgorithmSpec]>;

/** The algorithm a CA key of this key spec signs with (P-256 → SHA-256, P-384 → SHA-384, RSA → SHA-256), if any. */
export function signingAlgorithmOfKeySpec(spec: string | undefined): SigningAlgorithm | undefined {
  return ALGORITHMS.find(([, a]) => spec !== undefined && a.key.specs.includes(spec))?.[0];
}

/** The algorithm a CA key signs with, from node:crypto's key type and named curve, if any (an RSA key of any size). */
export function signingAlgorithmOfKey(type: string | undefined, namedCurve: string | undefined): SigningAlgorithm | undefined {
  return ALGORITHMS.find(([, a]) => a.key.type === type && (a.key.namedCurve === undefined || a.key.namedCurve === namedCurve))?.[0];
}

/** A signature scheme a CSR may be signed with: the key family it belongs to and its digest. */
export interface CsrSignatureScheme {
  family: 'EC' | 'RSA' | 'ED25519' | 'DSA';
  /** The digest, as node:crypto names it; null for Ed25519, which hashes by itself. */
  hash: string | null;
}

/** The names of signature algorithms, by OID, for messages: those a CSR may use, and those it is refused for. */
export const SIGNATURE_ALGORITHM_NAMES: Readonly<Record<string, string>> = {
  [SIGNATURE_OID.ecdsaWithSha256]: 'ecdsa-with-SHA256',
  [SIGNATURE_OID.ecdsaWithSha384]: 'ecdsa-with-SHA384',
  [SIGNATURE_OID.ecdsaWithSha512]: 'ecdsa-with-SHA512',
  [SIGNATURE_OID.sha256WithRsa]: 'sha256WithRSAEncryption',
  [SIGNATURE_OID.sha384WithRsa]: 'sha384WithRSAEncryption',
  [SIGNATURE_OID.sha512WithRsa]: 'sha512WithRSAEncryption',
  [SIGNATURE_OID.ed25519]: 'Ed25519',
  [SIGNATURE_OID.dsaWithSha256]: 'dsa-with-SHA256',
  '1.2.840.113549.1.1.2': 'md2WithRSAEncryption',
  '1.2.840.113549.1.1.3': 'md4WithRSAEncryption',
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.3.14.3.2.29': 'sha1WithRSASignature',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10040.4.3': 'dsa-with-SHA1',
  '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption',
  '1.2.840.10045.4.3.1': 'ecdsa-with-SHA224',
  '2.16.840.1.101.3.4.3.1': 'dsa-with-SHA224',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.3.101.113': 'Ed448',
  '2.16.840.1.101.3.4.3.9': 'ecdsa-with-SHA3-224',
  '2.16.840.1.101.3.4.3.10': 'ecdsa-with-SHA3-256',
  '2.16.840.1.101.3.4.3.11': 'ecdsa-with-SHA3-384',
  '2.16.840.1.101.3.4.3.12': 'ecdsa-with-SHA3-512',
  '2.16.840.1.101.3.4.3.13': 'RSASSA-PKCS1-v1_5 with SHA3-224',
  '2.16.840.1.101.3.4.3.14': 'RSASSA-PKCS1-v1_5 with SHA3-256',
  '2.16.840.1.101.3.4.3.15': 'RSASSA-PKCS1-v1_5 with SHA3-384',
  '2.16.840.1.101.3.4.3.16': 'RSASSA-PKCS1-v1_5 with SHA3-512',
  '1.2.156.10197.1.501': 'SM2 with SM3',
};

/** The broken digest a refused CSR signature algorithm uses, by OID (SHA-1, MD5, and older). */
export const WEAK_DIGEST_OF_SIGNATURE: Readonly<Record<string, 'SHA-1' | 'MD5' | 'MD4' | 'MD2'>> = {
  '1.2.840.113549.1.1.2': 'MD2',
  '1.2.840.113549.1.1.3': 'MD4',
  '1.2.840.113549.1.1.4': 'MD5',
  '1.2.840.113549.1.1.5': 'SHA-1',
  '1.3.14.3.2.29': 'SHA-1',
  '1.2.840.10045.4.1': 'SHA-1',
  '1.2.840.10040.4.3': 'SHA-1',
};

/** CSR signature algorithms we can check, by OID. SHA-1 and MD5 are refused as too weak. */
export const CSR_SIGNATURE_SCHEMES: Readonly<Record<string, CsrSignatureScheme>> = {
  [SIGNATURE_OID.ecdsaWithSha256]: { family: 'EC', hash: 'sha256' },
  [SIGNATURE_OID.ecdsaWithSha384]: { family: 'EC', hash: 'sha384' },
  [SIGNATURE_OID.ecdsaWithSha512]: { family: 'EC', hash: 'sha512' },
  [SIGNATURE_OID.sha256WithRsa]: { family: 'RSA', hash: 'sha256' },
  [SIGNATURE_OID.sha384WithRsa]: { family: 'RSA', hash: 'sha384' },
  [SIGNATURE_OID.sha512WithRsa]: { family: 'RSA', hash: 'sha512' },
  [SIGNATURE_OID.ed25519]: { family: 'ED25519', hash: null },
  [SIGNATURE_OID.dsaWithSha256]: { family: 'DSA', hash: 'sha256' },
};
