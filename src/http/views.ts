import type { CaChain } from '../service/ca-directory.js';
import type { CertificateRecord } from '../service/ports.js';

/** The certificate as the API returns it, with the chain the device presents. */
export function certificateView(record: CertificateRecord, ca: CaChain, withLedgerFields: boolean) {
  return {
    serialNumber: record.serialNumber,
    certificateId: record.certificateId,
    certificatePem: record.certificatePem,
    certificateChainPem: record.certificatePem + ca.caCertificatePem,
    caCertificatePem: ca.caCertificatePem,
    rootCertificatePem: ca.rootCertificatePem,
    issuingCaId: record.issuingCaId,
    subject: record.subject,
    notBefore: record.notBefore,
    notAfter: record.notAfter,
    status: record.status,
    ...(withLedgerFields ? { issuedAt: record.issuedAt, stationId: record.stationId } : {}),
  };
}

export function caView(ca: CaChain) {
  return {
    id: ca.record.id,
    certificatePem: ca.caCertificatePem,
    notBefore: ca.record.notBefore,
    notAfter: ca.record.notAfter,
    rootCertificatePem: ca.rootCertificatePem,
    chainPem: ca.chainPem,
  };
}
