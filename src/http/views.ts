import type { CaChain } from '../service/ca-directory.js';
import type { CertificateRecord } from '../service/ports.js';
import type { ProvisioningPreview } from '../provisioning/template.js';
import type { RevokeResult } from '../service/revoke-certificate.js';

/** The certificate as the API returns it, with the chain the device presents. */
export function certificateView(record: CertificateRecord, ca: CaChain, withLedgerFields: boolean, provisioning?: ProvisioningPreview) {
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
    ...(record.status === 'REVOKED' ? { revokedAt: record.revokedAt, revocationReason: record.revocationReason } : {}),
    ...(provisioning ? { provisioning } : {}),
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

/** The answer to a revocation: the ledger's state and what AWS IoT now holds. */
export function revocationView(result: RevokeResult) {
  const { record, iot } = result;
  return {
    serialNumber: record.serialNumber,
    status: record.status,
    revokedAt: record.revokedAt,
    revocationReason: record.revocationReason,
    alreadyRevoked: !result.changed,
    iot: {
      certificateId: iot.certificateId,
      outcome: iot.outcome,
      /** False when JITP had not registered the certificate yet. */
      wasRegistered: iot.outcome === 'REVOKED',
    },
  };
}
