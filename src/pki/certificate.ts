/**
 * Reading back the certificates the CA made itself (CA certificates from its
 * records): the TBSCertificate's fields, exactly as encoded.
 */
import { TAG, childrenOf, encodedOf, integerMagnitude, readSingle } from './der/reader.js';

export interface CertificateParts {
  /** The signed part, TBSCertificate. */
  tbsDer: Uint8Array;
  /** The serial number, lower-case hex without leading zeros (as a CRL lists it). */
  serialNumber: string;
  /** The issuer Name. */
  issuerDer: Uint8Array;
  /** The subject Name. */
  subjectDer: Uint8Array;
  /** The SubjectPublicKeyInfo. */
  spkiDer: Uint8Array;
}

/** The TBSCertificate of a certificate DER and the fields of it the CA reads. */
export function certificateParts(certDer: Uint8Array): CertificateParts {
  const [tbs] = childrenOf(readSingle(certDer));
  const fields = childrenOf(tbs!);
  // TBSCertificate: [0] version (absent for v1), serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, …
  const offset = fields[0]!.tag === TAG.CONTEXT_0 ? 1 : 0;
  return {
    tbsDer: encodedOf(tbs!),
    serialNumber: BigInt(`0x${Buffer.from(integerMagnitude(fields[offset]!)).toString('hex') || '0'}`).toString(16),
    issuerDer: encodedOf(fields[offset + 2]!),
    subjectDer: encodedOf(fields[offset + 4]!),
    spkiDer: encodedOf(fields[offset + 5]!),
  };
}
