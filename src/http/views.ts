import type { CaChain } from '../service/ca-directory.js';
import type { CertificateDetails } from '../service/certificates.js';
import type { RevokeResult } from '../service/revoke-certificate.js';
import { json, text, type HttpResult } from './edge.js';
import { JSON_TYPE, PEM_CHAIN_TYPE } from './negotiation.js';

/** What a certificate can be answered as, JSON first (the default). */
export const CERTIFICATE_MEDIA_TYPES = [JSON_TYPE, PEM_CHAIN_TYPE] as const;
export type CertificateMediaType = (typeof CERTIFICATE_MEDIA_TYPES)[number];

/** What the device presents: its certificate, then the issuing CA's. */
const chainPem = ({ record, chain }: Pick<CertificateDetails, 'record' | 'chain'>) => record.certificatePem + chain.caCertificatePem;

/** A certificate as the API returns it, with the chain the device presents and the JITP preview. */
export function certificateView({ record, chain, provisioning }: CertificateDetails, withLedgerFields: boolean) {
  return {
    serialNumber: record.serialNumber,
    certificateId: record.certificateId,
    certificatePem: record.certificatePem,
    certificateChainPem: chainPem({ record, chain }),
    caCertificatePem: chain.caCertificatePem,
    rootCertificatePem: chain.rootCertificatePem,
    issuingCaId: record.issuingCaId,
    subject: record.subject,
    notBefore: record.notBefore,
    notAfter: record.notAfter,
    status: record.status,
    ...(record.lotId !== undefined ? { lotId: record.lotId } : {}),
    ...(withLedgerFields ? { issuedAt: record.issuedAt, stationId: record.stationId, ...reenrollmentFields(record) } : {}),
    ...(record.status === 'REVOKED' ? { revokedAt: record.revokedAt, revocationReason: record.revocationReason } : {}),
    provisioning,
  };
}

/** A re-enrollment's traces in the ledger: what a certificate replaced, or what replaced it and what AWS IoT said. */
function reenrollmentFields(record: CertificateDetails['record']) {
  const { replaces, supersededBy, supersededAt, iotDeactivation } = record;
  return {
    ...(replaces ? { replaces } : {}),
    ...(supersededBy ? { supersededBy, supersededAt, iotDeactivation } : {}),
  };
}

/** A certificate answer in the negotiated media type: the JSON view, or the PEM chain as text (RFC 8555 §9.1). */
export function certificateAnswer(
  statusCode: number,
  details: CertificateDetails,
  o: { as: CertificateMediaType; withLedgerFields: boolean; headers?: Record<string, string> },
): HttpResult {
  const headers = { Vary: 'Accept', ...o.headers };
  return o.as === PEM_CHAIN_TYPE ? text(statusCode, chainPem(details), PEM_CHAIN_TYPE, headers) : json(statusCode, certificateView(details, o.withLedgerFields), headers);
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
    /** The CRL that lists it, and the time by which it will (the publishing job runs every minute). */
    crl: result.crl,
  };
}
