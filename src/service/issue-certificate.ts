import { createHash } from 'node:crypto';
import { CaError } from './errors.js';
import { acceptRequest, timed, type StageTimings } from '../pki/request.js';
import { deviceValidity } from '../pki/validity.js';
import { fastDeviceCertificate } from '../pki/fast-certificate.js';
import { newSerial, type RandomSource } from '../pki/serial.js';
import { toPem } from '../pki/pem.js';
import { nameToString } from '../pki/names.js';
import type { Policy } from '../pki/policy.js';
import type { CaChain, CaDirectory } from './ca-directory.js';
import { SerialCollisionError, type CertificateRecord, type CertificateStore, type Claim, type Clock, type Sleep } from './ports.js';

export interface IssueInput {
  csr: string | Uint8Array;
  profile?: string;
  stationId: string;
}

export interface IssueResult {
  record: CertificateRecord;
  ca: CaChain;
  /** False when an identical CSR was issued before and its certificate is returned again. */
  created: boolean;
  timings: StageTimings;
}

export interface IssueDeps {
  policy: Policy;
  store: CertificateStore;
  cas: CaDirectory;
  clock: Clock;
  random: RandomSource;
  sleep: Sleep;
  /** How long an unconfirmed claim holds its key; must exceed the function timeout. */
  claimLeaseMs: number;
  /** How long a retry waits for an identical CSR already being issued. */
  inFlightWaitMs: number;
}

export const PROFILES = ['device'] as const;
const MAX_SERIAL_ATTEMPTS = 4;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * The issuance use case: parse → verify → policy → claim → build → sign → record.
 * A certificate is returned only after its record is written; a claim makes the
 * common name (or the CSR, when duplicates are allowed) single-winner.
 */
export async function issueCertificate(deps: IssueDeps, input: IssueInput): Promise<IssueResult> {
  const profile = input.profile ?? 'device';
  if (!(PROFILES as readonly string[]).includes(profile)) {
    throw new CaError('INVALID_REQUEST', `Unknown profile "${profile}"`, {
      details: [{ field: 'profile', reason: `must be one of ${PROFILES.join(', ')}` }],
    });
  }
  const timings: StageTimings = {};
  const accepted = acceptRequest(input.csr, deps.policy, timings);
  const { csr, commonName } = accepted;
  const csrSha256 = sha256(csr.der);
  const ca = await deps.cas.activeIssuer();
  // Before anything is written: an expired CA signs nothing (a notAfter before notBefore is no certificate).
  if (ca.issuer.notAfter.getTime() <= deps.clock().getTime() + 1000) throw caExpired(ca.record.id, ca.record.notAfter);
  const key = !deps.policy.allowDuplicateCommonName && commonName !== undefined ? `CN#${commonName}` : `CSR#${csrSha256}`;

  const acquired = await acquireClaim(deps, { key, serialNumber: newSerial(deps.random), csrSha256 });
  if ('record' in acquired) {
    const { record } = acquired;
    return { record, ca: await deps.cas.chain(record.issuingCaId), created: false, timings };
  }
  let claim = acquired.claim;

  try {
    for (let attempt = 1; ; attempt++) {
      const now = deps.clock();
      const validity = deviceValidity(now, deps.policy.validityDays, deps.policy.backdateSeconds, ca.issuer.notAfter, ca.issuer.notBefore);
      const t0 = performance.now();
      // The device profile covers every key type a policy can allow; anything else is INTERNAL.
      const built = await fastDeviceCertificate(csr, ca.issuer, claim.serialNumber, validity);
      timings.buildAndSign = performance.now() - t0;
      const record: CertificateRecord = timed(timings, 'encode', () => ({
        serialNumber: claim.serialNumber,
        certificateId: sha256(built.der),
        profile,
        subject: accepted.subject,
        subjectDn: nameToString(csr.subject),
        ...(commonName !== undefined ? { commonName } : {}),
        issuingCaId: ca.record.id,
        notBefore: built.notBefore.toISOString(),
        notAfter: built.notAfter.toISOString(),
        csrSha256,
        publicKeySha256: sha256(csr.spkiDer),
        stationId: input.stationId,
        certificatePem: toPem('CERTIFICATE', built.der),
        status: 'ISSUED',
        issuedAt: now.toISOString(),
      }));
      try {
        const t1 = performance.now();
        await deps.store.putCertificate(record);
        timings.record = performance.now() - t1;
        return { record, ca, created: true, timings };
      } catch (e) {
        if (!(e instanceof SerialCollisionError)) {
          // A failed write may still have landed (a timeout after DynamoDB applied it):
          // if the record is there, the certificate is issued and may be returned.
          const stored = await deps.store.getCertificate(record.serialNumber).catch(() => undefined);
          if (stored?.certificateId === record.certificateId) return { record: stored, ca, created: true, timings };
          throw e;
        }
        if (attempt >= MAX_SERIAL_ATTEMPTS) throw e;
        // Draw a new serial, move the claim to it, and sign again (the serial is signed).
        const next: Claim = { ...claim, serialNumber: newSerial(deps.random) };
        if (!(await deps.store.replaceClaim(next, claim.serialNumber))) {
          throw new CaError('INTERNAL', 'Issuance could not be completed', { logDetail: 'claim lost during serial redraw' });
        }
        claim = next;
      }
    }
  } catch (e) {
    await deps.store.releaseClaim(claim.key, claim.serialNumber).catch(() => undefined);
    throw e;
  }
}

/**
 * Takes the claim, or resolves who holds it: the same CSR already issued (its
 * certificate is returned), another certificate for this name (409), a stale
 * claim of a request that died (taken over), or the same CSR in flight (wait).
 */
async function acquireClaim(
  d: IssueDeps,
  wanted: Omit<Claim, 'leaseExpiresAt'>,
): Promise<{ claim: Claim } | { record: CertificateRecord }> {
  const deadline = d.clock().getTime() + d.inFlightWaitMs;
  let delay = 25;
  for (;;) {
    const claim: Claim = { ...wanted, leaseExpiresAt: d.clock().getTime() + d.claimLeaseMs };
    const holder = await d.store.claim(claim);
    if (!holder) return { claim };
    const cert = await d.store.getCertificate(holder.serialNumber);
    if (cert && cert.csrSha256 === wanted.csrSha256) {
      // The same CSR again: its certificate, unless it was revoked (its key must not be certified again).
      if (cert.status === 'REVOKED') {
        throw new CaError('CERTIFICATE_REVOKED', 'The certificate for this CSR was revoked; make a new key and CSR', {
          details: [{ reason: 'revoked', serialNumber: cert.serialNumber, revocationReason: cert.revocationReason ?? 'unspecified' }],
        });
      }
      return { record: cert };
    }
    if (cert && cert.status === 'ISSUED') throw duplicate(cert.serialNumber);
    // A claim whose certificate was revoked, or whose request died before recording, is free.
    const stale = cert !== undefined || holder.leaseExpiresAt <= d.clock().getTime();
    if (stale) {
      if (await d.store.replaceClaim(claim, holder.serialNumber)) return { claim };
      continue;
    }
    if (holder.csrSha256 !== wanted.csrSha256) throw duplicate(holder.serialNumber);
    if (d.clock().getTime() >= deadline) {
      throw new CaError('ISSUANCE_IN_PROGRESS', 'This CSR is being issued by another request; retry shortly', {
        retryAfterSeconds: 1,
      });
    }
    await d.sleep(delay);
    delay = Math.min(delay * 2, 250);
  }
}

/** The active issuing CA is past its end: nothing it signs would be valid. An operator must rotate. */
function caExpired(id: string, notAfter: string): CaError {
  return new CaError('CA_NOT_READY', 'The issuing CA has expired; an operator must rotate it (POST /ca/rotate {"force": true})', {
    retryAfterSeconds: 60,
    logDetail: `active issuing CA ${id} expired at ${notAfter}`,
  });
}

function duplicate(serialNumber: string): CaError {
  return new CaError('DUPLICATE_COMMON_NAME', 'A certificate for this common name exists already', {
    details: [{ field: 'CN', reason: 'a certificate was already issued for this common name', serialNumber }],
  });
}
