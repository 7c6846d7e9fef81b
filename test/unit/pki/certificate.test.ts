import { describe, expect, it } from '@jest/globals';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { certificateParts } from '../../../src/pki/certificate.js';
import { childrenOf, encodedOf, readSingle } from '../../../src/pki/der/reader.js';
import { caSubjectDer } from '../../../src/pki/profile.js';
import { createSoftwareSigner } from '../../../src/pki/signer.js';
import { createIssuingCa, createRootCa } from '../../../src/service/ca-setup.js';
import { x509 } from '../../../src/pki/x509.js';

const hex = (b: Uint8Array | ArrayBuffer) => Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString('hex');
const naming = { organization: 'Example Corp', country: 'US' };

describe('Function: certificateParts', () => {
  it("reads a CA certificate's TBSCertificate, issuer, subject and public key as encoded", async () => {
    const rootSigner = createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, {});
    const issuingSigner = createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, {});
    const root = await createRootCa({ ref: { kind: 'software', file: 'r' }, signer: rootSigner }, naming, () => new Date());
    const issuing = await createIssuingCa({ ref: { kind: 'software', file: 'i' }, signer: issuingSigner }, { record: root, signer: rootSigner }, naming, () => new Date(), undefined, { generation: 1 });
    const der = new Uint8Array(new X509Certificate(issuing.certificatePem).raw);
    const cert = new x509.X509Certificate(der.slice());

    const parts = certificateParts(der);

    expect(hex(parts.tbsDer)).toBe(hex(encodedOf(childrenOf(readSingle(der))[0]!)));
    expect(hex(parts.subjectDer)).toBe(hex(cert.subjectName.toArrayBuffer()));
    expect(hex(parts.subjectDer)).toBe(hex(caSubjectDer({ C: 'US', O: 'Example Corp', CN: 'Example Corp Issuing CA G1' })));
    expect(hex(parts.issuerDer)).toBe(hex(cert.issuerName.toArrayBuffer()));
    expect(hex(parts.issuerDer)).toBe(hex(certificateParts(new Uint8Array(new X509Certificate(root.certificatePem).raw)).subjectDer));
    expect(hex(parts.spkiDer)).toBe(hex(issuingSigner.publicKey));
  });
});
