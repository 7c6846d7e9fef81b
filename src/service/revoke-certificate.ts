import { CaError } from './errors.js';
import type { CaChains } from './ca-directory.js';
import type { CertificateRecord, CertificateStore, Clock, CrlLedger, IotRegistrar, RevocationOutcome } from './ports.js';

/**
 * RFC 5280 CRLReason names a revocation may give. `certificateHold` and
 * `removeFromCRL` are left out: here a revocation is final, as it is in AWS IoT.
 */
export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'privilegeWithdrawn',
  'aACompromise',
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** The CRL publishing job runs every minute: a revocation is on its CA's CRL by then. */
export const CRL_PUBLISH_WITHIN_SECONDS = 60;

export interface RevokeDeps {
  store: CertificateStore & Pick<CrlLedger, 'markCrlPending'>;
  /** The CA chains (to register a revoked certificate AWS IoT has not seen, with its CA). */
  cas: Pick<CaChains, 'chain'>;
  iot: () => IotRegistrar;
  clock: Clock;
}

export interface RevokeResult {
  record: CertificateRecord;
  /** False when the certificate was revoked before (the first revocation's time and reason stand). */
  changed: boolean;
  iot: { certificateId: string; outcome: RevocationOutcome };
  /** The CRL that will list it: published by the CRL job within CRL_PUBLISH_WITHIN_SECONDS of the revocation. */
  crl: { issuingCaId: string; path: string; publishedBy: string };
}

/**
 * Revokes a certificate: the ledger first (status REVOKED, time, reason; this
 * also frees its common name), then its public key is blocked for good in the
 * key index, then noted for its CA's next CRL, then AWS IoT (status REVOKED, or registered as
 * REVOKED when JITP has not seen it yet). Repeating it is harmless and finishes
 * an AWS IoT update an earlier attempt could not make.
 */
export async function revokeCertificate(d: RevokeDeps, serialNumber: string, reason: RevocationReason): Promise<RevokeResult> {
  const before = await d.store.getCertificate(serialNumber);
  if (!before) throw new CaError('NOT_FOUND', `No certificate with serial number ${serialNumber}`);
  let record = before;
  if (before.status !== 'REVOKED') {
    record = (await d.store.revokeCertificate(serialNumber, d.clock().toISOString(), reason)) ?? before;
  }
  const changed = before.status !== 'REVOKED';
  // Its key is never certified again, whatever the reason (repeated on every call: a crash between the two writes is finished).
  await d.store.blockKey(record.publicKeySha256, { at: record.revokedAt ?? d.clock().toISOString(), reason: record.revocationReason ?? reason, serialNumber: record.serialNumber });
  // Its CA's next CRL lists it (also repeated: a set, so once is enough).
  await d.store.markCrlPending(record.issuingCaId, record.serialNumber);
  let outcome = record.iotRevocation as RevocationOutcome | undefined;
  if (!outcome) {
    const chain = await d.cas.chain(record.issuingCaId);
    try {
      outcome = await d.iot().revokeCertificate({
        certificateId: record.certificateId,
        certificatePem: record.certificatePem,
        caCertificatePem: chain.caCertificatePem,
      });
    } catch (e) {
      if (e instanceof CaError && e.code === 'IOT_UNAVAILABLE') {
        throw new CaError('IOT_UNAVAILABLE', 'The certificate is revoked in the ledger, but AWS IoT could not be updated yet; repeat the request', {
          cause: e,
          retryAfterSeconds: e.retryAfterSeconds ?? 5,
        });
      }
      throw e;
    }
    await d.store.setIotRevocation(serialNumber, outcome);
    record = { ...record, iotRevocation: outcome };
  }
  const revokedAt = Date.parse(record.revokedAt ?? d.clock().toISOString());
  const crl = {
    issuingCaId: record.issuingCaId,
    path: `/crl/${record.issuingCaId}.crl`,
    publishedBy: new Date(revokedAt + CRL_PUBLISH_WITHIN_SECONDS * 1000).toISOString(),
  };
  return { record, changed, iot: { certificateId: record.certificateId, outcome }, crl };
}
