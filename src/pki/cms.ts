/**
 * CMS "certs-only" messages (RFC 5652 SignedData without signers, RFC 7030
 * 4.1.3): how EST carries certificates, in /cacerts and in the response to
 * an enrollment. The writer takes certificates the CA has itself; the reader
 * takes what a peer sent and refuses anything that is not exactly such a
 * message.
 *
 *   ContentInfo ::= SEQUENCE { contentType id-signedData, content [0] EXPLICIT SignedData }
 *   SignedData ::= SEQUENCE {
 *     version 1, digestAlgorithms SET {}, encapContentInfo SEQUENCE { id-data },
 *     certificates [0] IMPLICIT SET OF Certificate, signerInfos SET {} }
 */
import { DerError, TAG, checkStructure, childrenOf, decodeOid, encodedOf, expectTag, readSingle, valueOf, type DerElement } from './der/reader.js';
import { objectIdentifier, setOf, tlv } from './der/writer.js';

export const CMS_OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
} as const;

/** A CMS message (or a certificate given for one) that is not what it must be. */
export class CmsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CmsError';
  }
}

/** The [1] IMPLICIT crls field of SignedData. */
const CONTEXT_1 = 0xa1;
const VERSION_1 = Uint8Array.of(TAG.INTEGER, 1, 1);
const EMPTY_SET = Uint8Array.of(TAG.SET, 0);

/**
 * Checks that `el` has the outline of an X.509 Certificate: SEQUENCE {
 * TBSCertificate SEQUENCE (at least six fields: a CSR's info has four),
 * AlgorithmIdentifier SEQUENCE, BIT STRING }. Throws DerError otherwise.
 */
function checkCertificateOutline(el: DerElement): void {
  expectTag(el, TAG.SEQUENCE, 'Certificate');
  const parts = childrenOf(el);
  if (parts.length !== 3) throw new DerError(`a certificate has three parts, not ${parts.length}`);
  const [tbs, algorithm, signature] = parts as [DerElement, DerElement, DerElement];
  expectTag(tbs, TAG.SEQUENCE, 'TBSCertificate');
  expectTag(algorithm, TAG.SEQUENCE, 'signatureAlgorithm');
  expectTag(signature, TAG.BIT_STRING, 'signature');
  if (childrenOf(tbs).length < 6) throw new DerError('not a certificate (its signed part has fewer than six fields)');
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);

/**
 * A certs-only CMS message carrying `certificates` (the DER of each), in the
 * order DER gives a SET OF: sorted by encoding, so the order they are given in
 * is not kept (a receiver builds the chain from the names). A certificate
 * given twice is carried once. Throws CmsError when there is none, or when one
 * is not a single well-formed DER certificate.
 */
export function certsOnlyCms(certificates: readonly Uint8Array[]): Uint8Array {
  if (certificates.length === 0) throw new CmsError('a certs-only CMS message needs at least one certificate');
  const distinct: Uint8Array[] = [];
  certificates.forEach((der, i) => {
    try {
      const el = readSingle(der);
      checkStructure(el);
      checkCertificateOutline(el);
    } catch (e) {
      if (e instanceof DerError) throw new CmsError(`certificate ${i + 1} of ${certificates.length} is not a DER certificate: ${e.message}`, { cause: e });
      throw e;
    }
    if (!distinct.some((d) => sameBytes(d, der))) distinct.push(der);
  });
  const signedData = tlv(TAG.SEQUENCE, [
    VERSION_1,
    EMPTY_SET, // digestAlgorithms
    tlv(TAG.SEQUENCE, [objectIdentifier(CMS_OID.data)]), // encapContentInfo, no eContent
    setOf(distinct, TAG.CONTEXT_0), // certificates [0] IMPLICIT SET OF
    EMPTY_SET, // signerInfos
  ]);
  return tlv(TAG.SEQUENCE, [objectIdentifier(CMS_OID.signedData), tlv(TAG.CONTEXT_0, [signedData])]);
}

/**
 * The certificates (DER, in the order they are encoded) of a certs-only CMS
 * message. Refuses, with a CmsError, anything else: another content type, a
 * signer, digest algorithms, encapsulated content, CRLs, a certificate choice
 * other than an X.509 certificate, no certificate at all, or DER that the
 * strict reader does not accept. The order of the certificates is not
 * checked: it carries no meaning, and BER writers do not sort.
 */
export function certificatesOfCms(der: Uint8Array): Uint8Array[] {
  try {
    const contentInfo = expectTag(readSingle(der), TAG.SEQUENCE, 'ContentInfo');
    checkStructure(contentInfo);
    const [contentType, content, ...extra] = childrenOf(contentInfo);
    if (!contentType || !content || extra.length) throw new DerError('ContentInfo must have two parts');
    const type = decodeOid(contentType);
    if (type !== CMS_OID.signedData) throw new DerError(`content type ${type} is not id-signedData`);
    expectTag(content, TAG.CONTEXT_0, 'content');
    const [signedData, ...more] = childrenOf(content);
    if (!signedData || more.length) throw new DerError('content must hold exactly one SignedData');
    expectTag(signedData, TAG.SEQUENCE, 'SignedData');

    const fields = childrenOf(signedData);
    const [version, digestAlgorithms, encapContentInfo] = fields;
    if (!version || !digestAlgorithms || !encapContentInfo) throw new DerError('SignedData is incomplete');
    expectTag(version, TAG.INTEGER, 'version');
    const v = valueOf(version);
    if (v.length !== 1 || v[0] !== 1) throw new DerError('SignedData version must be 1');
    expectTag(digestAlgorithms, TAG.SET, 'digestAlgorithms');
    if (childrenOf(digestAlgorithms).length) throw new DerError('a certs-only message has no digest algorithms');
    expectTag(encapContentInfo, TAG.SEQUENCE, 'encapContentInfo');
    const encap = childrenOf(encapContentInfo);
    if (encap.length !== 1) throw new DerError('a certs-only message has no encapsulated content');
    const eContentType = decodeOid(encap[0]!);
    if (eContentType !== CMS_OID.data) throw new DerError(`encapsulated content type ${eContentType} is not id-data`);

    const rest = fields.slice(3);
    const certificates = rest[0]?.tag === TAG.CONTEXT_0 ? rest.shift() : undefined;
    if (rest[0]?.tag === CONTEXT_1) throw new DerError('a certs-only message carries no CRLs');
    const [signerInfos, ...trailing] = rest;
    if (!signerInfos || trailing.length) throw new DerError('SignedData must end with signerInfos');
    expectTag(signerInfos, TAG.SET, 'signerInfos');
    if (childrenOf(signerInfos).length) throw new DerError('a certs-only message has no signers');

    if (!certificates) throw new DerError('the message carries no certificates');
    const certs = childrenOf(certificates);
    if (!certs.length) throw new DerError('the message carries no certificates');
    return certs.map((cert, i) => {
      // CertificateChoices: only the plain X.509 certificate, not the tagged other kinds.
      if (cert.tag !== TAG.SEQUENCE) throw new DerError(`certificate ${i + 1} is not an X.509 certificate (tag 0x${cert.tag.toString(16)})`);
      checkCertificateOutline(cert);
      return encodedOf(cert).slice();
    });
  } catch (e) {
    if (e instanceof DerError) throw new CmsError(`not a certs-only CMS message: ${e.message}`, { cause: e });
    throw e;
  }
}
