/**
 * A root, an issuing CA and a device certificate made with the project's own
 * builders and software keys (P-384 root, P-256 issuing CA and device): real
 * certificates for the tests of what carries them.
 */
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { certificateParts } from '../../src/pki/certificate.js';
import { parseCsr } from '../../src/pki/csr.js';
import { fastDeviceCertificate } from '../../src/pki/fast-certificate.js';
import { toPem } from '../../src/pki/pem.js';
import { deviceValidity } from '../../src/pki/profile.js';
import { newSerial } from '../../src/pki/serial.js';
import { createSoftwareSigner } from '../../src/pki/signer.js';
import { createIssuingCa, createRootCa } from '../../src/service/ca-setup.js';
import { buildCsr, newP256Key, STRING, subject } from './csr-builder.js';
import { NAMING } from './shipped-config.js';

export interface ChainCertificate {
  der: Uint8Array;
  pem: string;
  /** The subject's common name. */
  commonName: string;
}

export interface SmallChain {
  root: ChainCertificate;
  issuing: ChainCertificate;
  device: ChainCertificate;
}

const certificateOf = (pem: string): ChainCertificate => {
  const cert = new X509Certificate(pem);
  const cn = cert.subject.split('\n').find((line) => line.startsWith('CN='));
  return { der: new Uint8Array(cert.raw), pem, commonName: cn!.slice(3) };
};

/** A fresh chain; the device certificate's CN is `commonName`. */
export async function smallChain(commonName = 'device-0001'): Promise<SmallChain> {
  const clock = () => new Date();
  const rootSigner = createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, {});
  const issuingSigner = createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, {});
  const root = await createRootCa({ ref: { kind: 'software', file: 'root' }, signer: rootSigner }, NAMING, clock);
  const issuing = await createIssuingCa({ ref: { kind: 'software', file: 'issuing-1' }, signer: issuingSigner }, { record: root, signer: rootSigner }, NAMING, clock, undefined, {
    generation: 1,
  });
  const issuer = {
    subjectDer: certificateParts(new Uint8Array(new X509Certificate(issuing.certificatePem).raw)).subjectDer,
    keyIdentifier: issuing.keyIdentifier,
    notAfter: new Date(issuing.notAfter),
    signer: issuingSigner,
  };
  const csr = parseCsr(buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(commonName) }) }));
  const device = await fastDeviceCertificate(csr, issuer, newSerial(), deviceValidity(clock(), 365, 300, issuer.notAfter));
  return { root: certificateOf(root.certificatePem), issuing: certificateOf(issuing.certificatePem), device: certificateOf(toPem('CERTIFICATE', device.der)) };
}
