import { createPublicKey, verify as cryptoVerify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { CSR_SIGNATURE_SCHEMES, SIGNATURE_ALGORITHM_NAMES, WEAK_DIGEST_OF_SIGNATURE, type CsrSignatureScheme } from './algorithms.js';
import { csrMalformed, CsrError, KeyError } from './errors.js';
import { DerError, TAG, bitStringBytes, checkStructure, childrenOf, decodeOid, encodedOf, expectTag, readSingle, valueOf } from './der/reader.js';
import { describeSpki, type KeyDescription } from './keys.js';
import { readName, type DistinguishedName } from './names.js';
import { decodeBase64Strict, findPemBlocks, singlePemBlock } from './pem.js';

/** A parsed PKCS#10 certification request. Nothing in it is trusted until `verifyCsr` passes. */
export interface ParsedCsr {
  /** The whole CertificationRequest. */
  der: Uint8Array;
  /** The signed part (CertificationRequestInfo), exactly as encoded. */
  infoDer: Uint8Array;
  subject: DistinguishedName;
  /** SubjectPublicKeyInfo, exactly as encoded. */
  spkiDer: Uint8Array;
  /** The subjectPublicKey BIT STRING's contents (the EC point, or the RSAPublicKey DER). */
  publicKeyBits: Uint8Array;
  key: KeyDescription;
  signatureAlgorithmOid: string;
  signature: Uint8Array;
}

const PEM_LABELS = new Set(['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);

/**
 * Turns request input into DER: PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE
 * REQUEST`), base64 DER, or raw DER bytes.
 */
export function csrInputToDer(input: string | Uint8Array): Uint8Array {
  if (typeof input !== 'string') {
    if (input.length > 0 && input[0] === TAG.SEQUENCE) return input;
    return csrInputToDer(Buffer.from(input).toString('latin1'));
  }
  if (input.includes('-----BEGIN')) {
    const single = singlePemBlock(input);
    if (single && PEM_LABELS.has(single.label)) return single.der;
    const blocks = findPemBlocks(input);
    if (blocks.length === 0) throw csrMalformed('incomplete PEM block');
    if (blocks.length > 1) throw csrMalformed('expected exactly one PEM block');
    const block = blocks[0]!;
    if (!PEM_LABELS.has(block.label)) {
      throw csrMalformed(`expected a CERTIFICATE REQUEST PEM block, found ${block.label}`);
    }
    if ('error' in block) throw csrMalformed(block.error);
    return block.der;
  }
  const der = decodeBase64Strict(input);
  if (!der) throw csrMalformed('not PEM and not base64-encoded DER');
  return der;
}

/** Parses the structure of a CSR. Throws CSR_MALFORMED for anything that is not one. */
export function parseCsr(input: string | Uint8Array): ParsedCsr {
  const der = csrInputToDer(input);
  try {
    const root = expectTag(readSingle(der), TAG.SEQUENCE, 'CertificationRequest');
    checkStructure(root);
    const parts = childrenOf(root);
    if (parts.length !== 3) throw new DerError('CertificationRequest must have three parts');
    const [info, sigAlg, sig] = parts as [typeof root, typeof root, typeof root];
    expectTag(info, TAG.SEQUENCE, 'CertificationRequestInfo');
    const infoParts = childrenOf(info);
    if (infoParts.length !== 4) {
      // A certificate has more parts at this level; say so, it is a common mistake.
      if (infoParts.length >= 6) throw new DerError('this is an X.509 certificate, not a certification request');
      throw new DerError('CertificationRequestInfo must have four parts');
    }
    const [version, subjectEl, spkiEl, attributes] = infoParts as [typeof root, typeof root, typeof root, typeof root];
    expectTag(version, TAG.INTEGER, 'version');
    const v = valueOf(version);
    if (v.length !== 1 || v[0] !== 0) throw new DerError('unsupported CSR version');
    expectTag(attributes, TAG.CONTEXT_0, 'attributes');
    // Attributes ::= SET OF Attribute { type OID, values SET OF value }: nothing of them is used, but it must be one.
    for (const attribute of childrenOf(attributes)) {
      expectTag(attribute, TAG.SEQUENCE, 'attribute');
      const parts = childrenOf(attribute);
      if (parts.length !== 2) throw new DerError('an attribute must have a type and a set of values');
      decodeOid(parts[0]!);
      expectTag(parts[1]!, TAG.SET, 'attribute values');
    }
    expectTag(sigAlg, TAG.SEQUENCE, 'signatureAlgorithm');
    const [sigOid] = childrenOf(sigAlg);
    if (!sigOid) throw new DerError('signatureAlgorithm without an algorithm');
    return {
      der,
      infoDer: encodedOf(info),
      subject: readName(subjectEl),
      spkiDer: encodedOf(spkiEl),
      key: describeSpki(spkiEl),
      publicKeyBits: bitStringBytes(childrenOf(spkiEl)[1]!),
      signatureAlgorithmOid: decodeOid(sigOid),
      signature: bitStringBytes(sig),
    };
  } catch (e) {
    if (e instanceof DerError) throw csrMalformed(e.message, e);
    throw e;
  }
}

function schemeFamilyOf(csr: ParsedCsr, key: KeyObject): CsrSignatureScheme['family'] | undefined {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return 'EC';
    case 'rsa':
      return 'RSA';
    case 'ed25519':
      return 'ED25519';
    case 'dsa':
      return 'DSA';
    default:
      return csr.key.family === 'OTHER' ? undefined : csr.key.family;
  }
}

const JWK_CURVES: Record<string, { crv: string; size: number }> = { EC_P256: { crv: 'P-256', size: 32 }, EC_P384: { crv: 'P-384', size: 48 } };

/**
 * The CSR's public key as a KeyObject. An uncompressed P-256/P-384 point is
 * loaded as a JWK, which OpenSSL imports in about half the time of SPKI DER
 * (and checks the point is on the curve just the same); anything else as SPKI.
 */
export function publicKeyOf(csr: ParsedCsr): KeyObject {
  const jwk = ecJwkOf(csr);
  if (jwk) return createPublicKey({ key: jwk, format: 'jwk' });
  return createPublicKey({ key: Buffer.from(csr.spkiDer), format: 'der', type: 'spki' });
}

/** An uncompressed P-256/P-384 point as a public JWK; undefined for any other key. */
function ecJwkOf(csr: ParsedCsr): JsonWebKey | undefined {
  const jwk = JWK_CURVES[csr.key.keyType];
  if (!jwk) return undefined;
  const point = csr.publicKeyBits;
  if (point.length !== 1 + 2 * jwk.size || point[0] !== 0x04) return undefined;
  const coordinate = (from: number) => Buffer.from(point.buffer, point.byteOffset + from, jwk.size).toString('base64url');
  return { kty: 'EC', crv: jwk.crv, x: coordinate(1), y: coordinate(1 + jwk.size) };
}

/**
 * The CSR's public key as `crypto.verify` takes it. An uncompressed P-256/P-384
 * point is passed as a JWK: node imports it exactly as `publicKeyOf` does (the
 * same OpenSSL import, the same point check) but wraps no KeyObject around it,
 * which saves that object and its finalisation on every request. Any other key
 * is a KeyObject from `publicKeyOf`.
 */
export function verifyKeyOf(csr: ParsedCsr): KeyObject | { key: JsonWebKey; format: 'jwk' } {
  const jwk = ecJwkOf(csr);
  return jwk ? { key: jwk, format: 'jwk' } : publicKeyOf(csr);
}

const SIGN_WITH_SHA256 = 'ecdsa-with-SHA256 for an EC key, sha256WithRSAEncryption for an RSA key';

/** A CSR signature algorithm this CA does not check: a broken digest said as such, another named when it is known. */
function unacceptedSignature(oid: string): CsrError {
  const name = SIGNATURE_ALGORITHM_NAMES[oid];
  const digest = WEAK_DIGEST_OF_SIGNATURE[oid];
  const algorithm = { algorithm: name ?? oid, oid };
  if (digest) {
    return new CsrError('CSR_SIGNATURE_INVALID', `${digest} signatures are not accepted; sign the CSR with SHA-256`, {
      details: [{ field: 'signatureAlgorithm', reason: `${name} uses ${digest}, which is too weak; use ${SIGN_WITH_SHA256}`, ...algorithm }],
    });
  }
  const what = name ? `${name} signatures are` : `The CSR's signature algorithm (OID ${oid}) is`;
  return new CsrError('CSR_SIGNATURE_INVALID', `${what} not accepted; sign the CSR with SHA-256 (${SIGN_WITH_SHA256})`, {
    details: [{ field: 'signatureAlgorithm', reason: 'not an algorithm this CA accepts', ...algorithm }],
  });
}

/**
 * Proof of possession: the CSR is signed by the private key of the public key
 * it carries. Keys we cannot even load are refused as KEY_NOT_ALLOWED.
 */
export function verifyCsr(csr: ParsedCsr): void {
  const scheme = CSR_SIGNATURE_SCHEMES[csr.signatureAlgorithmOid];
  const jwk = ecJwkOf(csr);
  if (jwk && scheme?.family === 'EC') {
    // The common case, with no KeyObject: the key is imported inside `verify`. A
    // point the import refuses is the same CSR_MALFORMED as from `publicKeyOf`;
    // the other checks below cannot fail for an EC key with an EC signature.
    verifySignature(csr, scheme, { key: jwk, format: 'jwk' });
    return;
  }
  let key: KeyObject;
  try {
    key = publicKeyOf(csr);
  } catch (e) {
    if (csr.key.family === 'OTHER') {
      throw new KeyError(`Key type ${csr.key.keyType} is not allowed`, { cause: e });
    }
    throw csrMalformed('the public key is not valid', e);
  }
  if (!scheme) {
    // A key we do not certify anyway (Ed448, RSA-PSS…) is the answer that helps the station.
    if (csr.key.family === 'OTHER') throw new KeyError(`Key type ${csr.key.keyType} is not allowed`);
    throw unacceptedSignature(csr.signatureAlgorithmOid);
  }
  if (scheme.family !== schemeFamilyOf(csr, key)) {
    const name = SIGNATURE_ALGORITHM_NAMES[csr.signatureAlgorithmOid] ?? csr.signatureAlgorithmOid;
    throw new CsrError('CSR_SIGNATURE_INVALID', `The CSR is signed with ${name}, which does not fit its ${csr.key.keyType} public key; sign it with the key it carries`, {
      details: [{ field: 'signatureAlgorithm', reason: `${name} is not a signature of a ${csr.key.keyType} key`, algorithm: name }],
    });
  }
  verifySignature(csr, scheme, key);
}

function verifySignature(csr: ParsedCsr, scheme: CsrSignatureScheme, key: KeyObject | { key: JsonWebKey; format: 'jwk' }): void {
  let ok = false;
  try {
    ok = cryptoVerify(scheme.hash, csr.infoDer, key, csr.signature);
  } catch (e) {
    // Only a JWK is imported here; its refusal means the point is not on the curve.
    if ((e as { code?: unknown }).code === 'ERR_CRYPTO_INVALID_JWK') throw csrMalformed('the public key is not valid', e);
    ok = false;
  }
  if (!ok) {
    throw new CsrError(
      'CSR_SIGNATURE_INVALID',
      'The CSR signature does not verify with its public key: it was not signed with the key it carries, or was changed after signing; make the CSR again with the device key',
    );
  }
}
