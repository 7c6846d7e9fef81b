import type { CaChain } from '../service/ca-directory.js';
import type { CertificateDetails } from '../service/certificates.js';
import type { RevokeResult } from '../service/revoke-certificate.js';

/** A certificate as the API returns it, with the chain the device presents and the JITP preview. */
export function certificateView({ record, chain, provisioning }: CertificateDetails, withLedgerFields: boolean) {
  return {
    serialNumber: record.serialNumber,
    certificateId: record.certificateId,
    certificatePem: record.certificatePem,
    certificateChainPem: record.certificatePem + chain.caCertificatePem,
    caCertificatePem: chain.caCertificatePem,
    rootCertificatePem: chain.rootCertificatePem,
    issuingCaId: record.issuingCaId,
    subject: record.subject,
    notBefore: record.notBefore,
    notAfter: record.notAfter,
    status: record.status,
    ...(withLedgerFields ? { issuedAt: record.issuedAt, stationId: record.stationId } : {}),
    ...(record.status === 'REVOKED' ? { revokedAt: record.revokedAt, revocationReason: record.revocationReason } : {}),
    provisioning,
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
