/**
 * The `device` profile, the only builder on the issuing path: the
 * TBSCertificate is assembled from precomputed DER fragments (everything that
 * depends only on the issuer and the key family) plus the variable parts
 * (serial, validity, the CSR's subject and public key copied byte for byte, the
 * subject key identifier), then signed once by the signer port. No ASN.1 object
 * model, no WebCrypto hop.
 *
 * When the issuer has a CRL URL, a cRLDistributionPoints extension follows the
 * authority key identifier; without one the certificate has no such extension.
 *
 * It covers every key a policy can allow (EC P-256/P-384, RSA) and every CA
 * signing algorithm; anything else is an INTERNAL error, never a certificate
 * built some other way. A differential test proves its TBSCertificate
 * byte-identical to one built by @peculiar/x509 for the same serial and times.
 */
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from './algorithms.js';
import type { ParsedCsr } from './csr.js';
import { TAG } from './der/reader.js';
import { bitString, integerFromHex, lengthOctets, timeLength, tlv, writeTime } from './der/writer.js';
import { subjectKeyIdentifier } from './keys.js';
import type { BuiltCertificate, Issuer, Validity } from './profile.js';

const hex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));

const VERSION_V3 = hex('a003 020102');
const BASIC_CONSTRAINTS_END_ENTITY = hex('300c 0603551d13 0101ff 0402 3000');
const KEY_USAGE = {
  /** digitalSignature */
  EC: hex('300e 0603551d0f 0101ff 0404 03020780'),
  /** digitalSignature, keyEncipherment */
  RSA: hex('300e 0603551d0f 0101ff 0404 030205a0'),
};
const EXTENDED_KEY_USAGE_CLIENT_AUTH = hex('3013 0603551d25 040c 300a 06082b06010505070302');
const SKI_PREFIX = hex('301d 0603551d0e 0416 0414');
/** Context-specific tags: extensions [3] (constructed), keyIdentifier [0] (primitive). */
const EXTENSIONS_TAG = 0xa3;
const KEY_IDENTIFIER_TAG = 0x80;
/** distributionPoint [0] and fullName [0] (constructed), uniformResourceIdentifier [6] (primitive). */
const DISTRIBUTION_POINT_TAG = 0xa0;
const FULL_NAME_TAG = 0xa0;
const URI_TAG = 0x86;

/** What stays the same for every certificate an issuer signs for one key family. */
interface IssuerFragments {
  signatureAlgorithm: Uint8Array;
  issuerName: Uint8Array;
  /**
   * `[3] { SEQUENCE {` headers, basicConstraints, keyUsage, extendedKeyUsage and
   * the subject key identifier's prefix: everything before its 20 bytes.
   */
  extensionsHead: { EC: Uint8Array; RSA: Uint8Array };
  /** After the subject key identifier: the authority key identifier, then the CRL distribution point if any. */
  extensionsTail: Uint8Array;
}

const fragmentsByIssuer = new WeakMap<Issuer, IssuerFragments>();
const SKI_LENGTH = 20;

/**
 * What the device profile cannot build. Not a client's error (every key type a
 * policy can allow is covered): it reaches the edge as a 500 with this in the log.
 */
export class ProfileNotCoveredError extends Error {
  constructor(detail: string) {
    super(`device profile: ${detail}`);
    this.name = 'ProfileNotCoveredError';
  }
}
const notCovered = (detail: string) => new ProfileNotCoveredError(detail);

function fragmentsOf(issuer: Issuer): IssuerFragments {
  let f = fragmentsByIssuer.get(issuer);
  if (f) return f;
  const algorithm = SIGNING_ALGORITHMS[issuer.signer.algorithm];
  if (!algorithm) throw notCovered(`unknown issuer signing algorithm ${issuer.signer.algorithm}`);
  // AuthorityKeyIdentifier ::= SEQUENCE { [0] keyIdentifier }
  const aki = tlv(TAG.SEQUENCE, [
    hex('0603551d23'),
    tlv(TAG.OCTET_STRING, [tlv(TAG.SEQUENCE, [tlv(KEY_IDENTIFIER_TAG, [hex(issuer.keyIdentifier)])])]),
  ]);
  const tail = issuer.crlUrl === undefined ? [aki] : [aki, crlDistributionPointsExtension(issuer.crlUrl)];
  const tailLength = tail.reduce((n, part) => n + part.length, 0);
  const head = (keyUsage: Uint8Array) => {
    // The lengths are known: the SKI is always 20 bytes. Encode with a placeholder, then drop it and the tail.
    const placeholder = new Uint8Array(SKI_LENGTH);
    const whole = tlv(EXTENSIONS_TAG, [
      tlv(TAG.SEQUENCE, [BASIC_CONSTRAINTS_END_ENTITY, keyUsage, EXTENDED_KEY_USAGE_CLIENT_AUTH, SKI_PREFIX, placeholder, ...tail]),
    ]);
    return whole.subarray(0, whole.length - SKI_LENGTH - tailLength);
  };
  const extensionsTail = new Uint8Array(tailLength);
  let at = 0;
  for (const part of tail) {
    extensionsTail.set(part, at);
    at += part.length;
  }
  f = {
    signatureAlgorithm: algorithm.identifier,
    issuerName: issuer.subjectDer,
    extensionsHead: { EC: head(KEY_USAGE.EC), RSA: head(KEY_USAGE.RSA) },
    extensionsTail,
  };
  fragmentsByIssuer.set(issuer, f);
  return f;
}

/** An http:// or https:// URL with a host, in printable ASCII (IA5String without spaces or controls). */
const CRL_URL = /^https?:\/\/[^\s/?#][\x21-\x7e]*$/;

/**
 * cRLDistributionPoints (RFC 5280 4.2.1.13), non-critical: one DistributionPoint
 * whose distributionPoint is fullName { uniformResourceIdentifier `url` }.
 * Throws (INTERNAL) for a URL that is not http:// or https:// printable ASCII.
 */
export function crlDistributionPointsExtension(url: string): Uint8Array {
  if (typeof url !== 'string' || !CRL_URL.test(url) || !URL.canParse(url)) {
    throw notCovered(`the CRL URL must be an http:// or https:// URL in printable ASCII, not ${JSON.stringify(url)}`);
  }
  // DistributionPoint ::= SEQUENCE { distributionPoint [0] { fullName [0] { uniformResourceIdentifier [6] IA5String } } }
  const uri = tlv(URI_TAG, [Uint8Array.from(Buffer.from(url, 'latin1'))]);
  const distributionPoint = tlv(TAG.SEQUENCE, [tlv(DISTRIBUTION_POINT_TAG, [tlv(FULL_NAME_TAG, [uri])])]);
  return tlv(TAG.SEQUENCE, [hex('0603551d1f'), tlv(TAG.OCTET_STRING, [tlv(TAG.SEQUENCE, [distributionPoint])])]);
}

/** The TBSCertificate of the `device` profile. Throws INTERNAL for a key family it does not cover. */
export function deviceTbsCertificate(csr: ParsedCsr, issuer: Issuer, serialNumber: string, validity: Validity): Uint8Array {
  const f = fragmentsOf(issuer);
  const family = csr.key.family;
  if (family !== 'EC' && family !== 'RSA') throw notCovered(`key type ${csr.key.keyType} (family ${family})`);
  const ski = subjectKeyIdentifier(csr.publicKeyBits);
  const serial = integerFromHex(serialNumber);
  const head = f.extensionsHead[family];
  const validityLength = timeLength(validity.notBefore) + timeLength(validity.notAfter);
  const subject = csr.subject.der;
  const spki = csr.spkiDer;
  const contentLength =
    VERSION_V3.length + serial.length + f.signatureAlgorithm.length + f.issuerName.length + 2 + validityLength +
    subject.length + spki.length + head.length + SKI_LENGTH + f.extensionsTail.length;
  const header = lengthOctets(contentLength);
  const out = new Uint8Array(1 + header.length + contentLength);
  out[0] = TAG.SEQUENCE;
  out.set(header, 1);
  let at = 1 + header.length;
  const put = (bytes: Uint8Array) => {
    out.set(bytes, at);
    at += bytes.length;
  };
  put(VERSION_V3);
  put(serial);
  put(f.signatureAlgorithm);
  put(f.issuerName);
  out[at] = TAG.SEQUENCE;
  out[at + 1] = validityLength;
  at = writeTime(out, at + 2, validity.notBefore);
  at = writeTime(out, at, validity.notAfter);
  put(subject);
  put(spki);
  put(head);
  put(ski);
  put(f.extensionsTail);
  return out;
}

/**
 * The `device` certificate: TBSCertificate, one signature by the signer port,
 * Certificate. Throws INTERNAL for what the profile does not cover.
 */
export async function fastDeviceCertificate(
  csr: ParsedCsr,
  issuer: Issuer,
  serialNumber: string,
  validity: Validity,
): Promise<BuiltCertificate> {
  const tbs = deviceTbsCertificate(csr, issuer, serialNumber, validity);
  const der = certificateDer(tbs, issuer.signer.algorithm, await issuer.signer.sign(tbs));
  return { der, serialNumber, notBefore: validity.notBefore, notAfter: validity.notAfter };
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }. */
export function certificateDer(tbs: Uint8Array, algorithm: SigningAlgorithm, signature: Uint8Array): Uint8Array {
  return tlv(TAG.SEQUENCE, [tbs, SIGNING_ALGORITHMS[algorithm].identifier, bitString(signature)]);
}
