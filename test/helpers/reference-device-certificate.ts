/**
 * The `device` profile built on @peculiar/x509: the differential test's
 * reference for the fast path (src/pki/fast-certificate.ts), which is what
 * ships. The CSR's subject and key, CA:FALSE, digitalSignature
 * (+ keyEncipherment for RSA), clientAuth, subject and authority key
 * identifiers, and the issuer's CRL distribution point when it has a CRL URL;
 * nothing the CSR requests is copied.
 */
import type { ParsedCsr } from '../../src/pki/csr.js';
import { keyIdentifierOf } from '../../src/pki/keys.js';
import { generateCertificate, type BuiltCertificate, type Issuer, type Validity } from '../../src/pki/profile.js';
import { x509 } from '../../src/pki/x509.js';

export function referenceDeviceCertificate(csr: ParsedCsr, issuer: Issuer, serialNumber: string, validity: Validity): Promise<BuiltCertificate> {
  const usages = x509.KeyUsageFlags.digitalSignature | (csr.key.family === 'RSA' ? x509.KeyUsageFlags.keyEncipherment : 0);
  return generateCertificate({
    serialNumber,
    subjectDer: csr.subject.der,
    issuerDer: issuer.subjectDer,
    publicKey: csr.spkiDer,
    validity,
    signer: issuer.signer,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usages, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectKeyIdentifierExtension(keyIdentifierOf(csr.spkiDer)),
      new x509.AuthorityKeyIdentifierExtension(issuer.keyIdentifier),
      ...(issuer.crlUrl === undefined ? [] : [new x509.CRLDistributionPointsExtension([issuer.crlUrl], false)]),
    ],
  });
}
