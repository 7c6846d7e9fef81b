/**
 * Re-enrollment (EST simplereenroll, RFC 7030 4.2.2): a device renews its
 * certificate (same key) or re-keys (new key), authenticated by its current
 * certificate. The new certificate is issued by the issuance use case with its
 * one exception, `replaces`: the claim on the name and the key entry of exactly
 * the certificate being replaced may pass to the new one.
 *
 * Order of the writes, and why a fault anywhere leaves the ledger consistent:
 * 1. the new certificate is issued and recorded (issueCertificate: the claim
 *    moves to it; a request that dies before recording leaves the name, and the
 *    key, to the replaced certificate);
 * 2. the replaced certificate is marked SUPERSEDED (supersededBy = the new serial,
 *    AWS IoT deactivation PENDING), conditional on it still being ISSUED;
 * 3. only then is the new certificate delivered;
 * 4. AWS IoT sets the replaced certificate INACTIVE, and the ledger notes what it
 *    said. When AWS IoT cannot be reached, the new certificate is delivered all
 *    the same and the record keeps PENDING: a replay of the request retries it.
 * A failure at 2 answers 503 and delivers nothing: the same request sent again
 * finds the new certificate by its CSR (step 1 is a replay) and finishes 2.
 * A replay after 2 answers the same certificate; the replaced certificate with
 * any other CSR is refused (SUPERSEDED).
 */
import { createHash } from 'node:crypto';
import { certificateParts } from '../pki/certificate.js';
import { acceptRequest } from '../pki/request.js';
import { certificatesFromPem } from '../pki/pem.js';
import { CaError } from './errors.js';
import { issueCertificate, type IssueDeps, type IssueResult } from './issue-certificate.js';
import type { CertificateRecord, IotRegistrar } from './ports.js';

export interface ReenrollDeps {
  issue: IssueDeps;
  iot: () => IotRegistrar;
}

export interface ReenrollInput {
  /** The client certificate the TLS connection was authenticated with (DER), if any. */
  clientCertificate: Uint8Array | undefined;
  /** The CSR's DER. */
  csr: Uint8Array;
}

export interface ReenrollResult extends IssueResult {
  /** The certificate replaced, as stored after the re-enrollment (SUPERSEDED). */
  replaced: CertificateRecord;
  /** What AWS IoT said of the replaced certificate: INACTIVE, NOT_REGISTERED, DRY_RUN, or PENDING (not reached; retried by a replay). */
  iotDeactivation: string;
  /** Why AWS IoT could not be updated (for the log only). */
  iotError?: unknown;
}

/** Why a client certificate is refused. */
export type ClientCertificateRefusal = 'unknown' | 'revoked' | 'superseded' | 'expired' | 'not yet valid';

const REFUSALS: Record<ClientCertificateRefusal, string> = {
  unknown: 'it was not issued by this CA (no ledger record holds it)',
  revoked: 'it is revoked',
  superseded: 'it has been replaced by a re-enrollment; authenticate with the current certificate',
  expired: 'it has expired; the device must enroll again (simpleenroll)',
  'not yet valid': 'it is not valid yet',
};

export function clientCertificateRefused(reason: ClientCertificateRefusal, serialNumber?: string): CaError {
  return new CaError('EST_CLIENT_CERT_REFUSED', `The client certificate is refused: ${REFUSALS[reason]}`, {
    details: [{ field: 'clientCertificate', reason, ...(serialNumber ? { serialNumber } : {}) }],
  });
}

export const clientCertificateRequired = (): CaError =>
  new CaError('EST_CLIENT_CERT_REQUIRED', 'Re-enrollment needs the current certificate as the TLS client certificate, and none was presented');

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

/** The current certificate of the device: issued here, recorded with exactly these bytes, within its validity. */
async function currentCertificate(d: ReenrollDeps, der: Uint8Array): Promise<{ record: CertificateRecord; subjectDer: Uint8Array }> {
  let parts;
  try {
    parts = certificateParts(der);
  } catch {
    throw clientCertificateRefused('unknown');
  }
  const record = await d.issue.store.getCertificate(parts.serialNumber);
  const recorded = record && certificatesFromPem(record.certificatePem)[0];
  if (!record || !recorded || !sameBytes(recorded, der)) throw clientCertificateRefused('unknown');
  const now = d.issue.clock().getTime();
  if (now < Date.parse(record.notBefore)) throw clientCertificateRefused('not yet valid', record.serialNumber);
  if (now > Date.parse(record.notAfter)) throw clientCertificateRefused('expired', record.serialNumber);
  if (record.status === 'REVOKED') throw clientCertificateRefused('revoked', record.serialNumber);
  return { record, subjectDer: parts.subjectDer };
}

export async function reenrollCertificate(d: ReenrollDeps, input: ReenrollInput): Promise<ReenrollResult> {
  if (!input.clientCertificate) throw clientCertificateRequired();
  const { record: old, subjectDer } = await currentCertificate(d, input.clientCertificate);
  if (old.status === 'SUPERSEDED') {
    // A replay of a re-enrollment that completed (the CSR it was accepted for, byte for byte): the same certificate.
    const next = old.supersededBy ? await d.issue.store.getCertificate(old.supersededBy) : undefined;
    if (!next || next.status !== 'ISSUED' || next.csrSha256 !== sha256(input.csr)) throw clientCertificateRefused('superseded', old.serialNumber);
    return { record: next, ca: await d.issue.cas.chain(next.issuingCaId), created: false, timings: {}, ...(await deactivate(d, old, next.serialNumber)) };
  }
  // Every check simpleenroll makes (proof of possession, key type, weak RSA, policy), then the subject: the same Name, byte for byte.
  const accepted = acceptRequest(input.csr, d.issue.policy);
  if (!sameBytes(accepted.csr.subject.der, subjectDer)) {
    throw new CaError('EST_SUBJECT_MISMATCH', 'The CSR subject must be exactly the subject of the certificate being renewed (RFC 7030 4.2.2)', {
      details: [{ field: 'subject', reason: 'differs from the client certificate\'s subject', serialNumber: old.serialNumber, subject: old.subjectDn }],
    });
  }

  const issued = await issueCertificate(d.issue, { csr: input.csr, stationId: old.stationId, replaces: old });
  const { serialNumber } = issued.record;
  const stored = await d.issue.store.supersedeByReplacement(old, { supersededBy: serialNumber, supersededAt: d.issue.clock().toISOString(), iotDeactivation: 'PENDING' });
  if (stored?.status !== 'SUPERSEDED' || stored.supersededBy !== serialNumber) {
    // Revoked while it was being replaced: the new certificate is set aside, never delivered.
    await d.issue.store.supersedeCertificate(issued.record, d.issue.clock().toISOString());
    throw clientCertificateRefused(stored?.status === 'REVOKED' ? 'revoked' : 'superseded', old.serialNumber);
  }
  return { ...issued, ...(await deactivate(d, stored, serialNumber)) };
}

/**
 * AWS IoT: the replaced certificate INACTIVE, and its answer noted on the
 * record. Not reached: PENDING stays on the record (a replay retries); the new
 * certificate is delivered all the same, since the device holds both and the
 * one AWS IoT still accepts is its own.
 */
async function deactivate(d: ReenrollDeps, replaced: CertificateRecord, by: string): Promise<Pick<ReenrollResult, 'replaced' | 'iotDeactivation' | 'iotError'>> {
  if (replaced.iotDeactivation && replaced.iotDeactivation !== 'PENDING') return { replaced, iotDeactivation: replaced.iotDeactivation };
  let outcome: string;
  try {
    outcome = await d.iot().deactivateCertificate(replaced.certificateId);
  } catch (e) {
    return { replaced, iotDeactivation: 'PENDING', iotError: e };
  }
  const noted = await d.issue.store
    .supersedeByReplacement(replaced, { supersededBy: by, supersededAt: replaced.supersededAt ?? d.issue.clock().toISOString(), iotDeactivation: outcome })
    .catch(() => undefined);
  return { replaced: noted ?? replaced, iotDeactivation: outcome };
}
