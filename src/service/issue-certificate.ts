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
import { admitToLot, takeLotSeat } from './lots.js';
import { SerialCollisionError, type LotStore, type KeyEntry, type CertificateRecord, type CertificateStore, type Claim, type Clock, type Sleep } from './ports.js';

export interface IssueInput {
  csr: string | Uint8Array;
  profile?: string;
  stationId: string;
  /**
   * A re-enrollment (EST simplereenroll): the ISSUED certificate the new one
   * replaces, checked by the caller. Its claim on the name and its key entry, and
   * only those, may pass to the new certificate; the caller supersedes it once
   * the new one is recorded. Absent (POST /certificates, simpleenroll): nothing
   * held by another ISSUED certificate is ever taken.
   */
  replaces?: CertificateRecord;
  /**
   * The production lot to issue under (a re-enrollment stays in the lot of the
   * certificate it replaces and takes no seat). Every certificate recorded under
   * a lot holds one of its seats.
   */
  lotId?: string;
}

/** The lot's seats after this issuance took one. */
export interface LotUsage {
  lotId: string;
  issued: number;
  quota: number;
}

export interface IssueResult {
  record: CertificateRecord;
  ca: CaChain;
  /** False when an identical CSR was issued before and its certificate is returned again. */
  created: boolean;
  timings: StageTimings;
  /** Present when the certificate took a seat of a lot. */
  lot?: LotUsage;
}

export interface IssueDeps {
  policy: Policy;
  store: CertificateStore;
  /** Production lots (the lot counters live in the ledger's table too). */
  lots: LotStore;
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
/** Signatures one request may make: serial collisions and rotations while it signs each cost one. */
const MAX_ATTEMPTS = 4;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * The issuance use case: parse → verify → policy → claim → build → sign → record
 * → confirm the CA. The ledger's invariant holds under every fault: at most one
 * ISSUED certificate per common name (or CSR, when duplicates are allowed), and
 * no certificate returned without its record.
 *
 * - Every write carries this request's token (the claim) or identity (the
 *   record's certificate id), so a write whose answer was lost is recognised as
 *   ours when it is met again, by a read-back or by the SDK's own retry.
 * - A new serial is drawn only on a proven collision (another certificate holds it).
 * - When the outcome of the record write cannot be decided, the answer is 503,
 *   no certificate, and the claim stays held until its lease ends, so no other
 *   key can take the name while the write may still land.
 * - A certificate is returned only if, after its record was written, the pointer
 *   still names the CA that signed it: once a rotation has moved the pointer, no
 *   request returns a certificate of the old CA. One signed in the race is set
 *   aside (SUPERSEDED, never delivered) and the request signs with the new CA.
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
  const lotId = input.replaces ? input.replaces.lotId : input.lotId;
  if (!input.replaces) {
    if (input.lotId !== undefined) await admitToLot(deps, input.lotId, input.stationId, commonName);
    else if (deps.policy.requireLot) {
      throw new CaError('LOT_REQUIRED', 'The issuance policy requires a production lot: send lotId in the body or the X-Lot-Id header', {
        details: [{ field: 'lotId', reason: 'required by the policy' }],
      });
    }
  }
  let ca = await usableIssuer(deps);
  const key = !deps.policy.allowDuplicateCommonName && commonName !== undefined ? `CN#${commonName}` : `CSR#${csrSha256}`;
  const token = Buffer.from(deps.random(16)).toString('hex');
  const replaces = input.replaces?.serialNumber;
  // Its key entry names it by serial before its claim moves: the claim can no longer lead to it.
  if (input.replaces) await pinKey(deps, input.replaces);

  const acquired = await acquireClaim(deps, { key, serialNumber: newSerial(deps.random), csrSha256, token, ...(replaces ? { replaces } : {}) }, replaces);
  if ('record' in acquired) {
    const { record } = acquired;
    return { record, ca: await deps.cas.chain(record.issuingCaId), created: false, timings };
  }
  let claim = acquired.claim;
  /** Set once a record write's outcome is unknown: the claim must then stay held until its lease ends. */
  let undecided = false;
  /** A lot seat taken for the record this request is about to write (a record written consumes it). */
  let seatHeld = false;
  let lot: LotUsage | undefined;
  const publicKeySha256 = sha256(csr.spkiDer);

  try {
    const tk = performance.now();
    await acquireKey(deps, { spkiSha256: publicKeySha256, status: 'IN_USE', claimKey: key, token }, replaces);
    timings.keyIndex = performance.now() - tk;
    for (let attempt = 1; ; attempt++) {
      // A seat before each certificate that may be recorded: one set aside by a rotation keeps the one it took.
      if (lotId !== undefined && !input.replaces && !seatHeld) {
        const held = await takeLotSeat({ lots: deps.lots, clock: deps.clock }, lotId);
        seatHeld = true;
        lot = { lotId, issued: held.issued, quota: held.quota };
      }
      const now = deps.clock();
      const validity = deviceValidity(now, deps.policy.validityDays, deps.policy.backdateSeconds, ca.issuer.notAfter, ca.issuer.notBefore);
      const t0 = performance.now();
      // The device profile covers every key type a policy can allow; anything else is a 500.
      const built = await fastDeviceCertificate(csr, ca.issuer, claim.serialNumber, validity).catch(async (e: unknown) => {
        // A key that stopped signing because its CA was rotated away (a compromise disables it): sign with the new CA.
        if (attempt < MAX_ATTEMPTS && !(await deps.cas.confirmActive(ca.record.id))) return undefined;
        throw e;
      });
      timings.buildAndSign = performance.now() - t0;
      if (!built) {
        ca = await usableIssuer(deps);
        continue;
      }
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
        publicKeySha256,
        stationId: input.stationId,
        certificatePem: toPem('CERTIFICATE', built.der),
        status: 'ISSUED',
        issuedAt: now.toISOString(),
        ...(replaces ? { replaces } : {}),
        ...(lotId !== undefined ? { lotId } : {}),
      }));
      const t1 = performance.now();
      const outcome = await recordCertificate(deps, record);
      timings.record = performance.now() - t1;
      if (outcome === 'undecided') {
        undecided = true;
        throw new CaError('STORE_UNAVAILABLE', 'The certificate ledger did not confirm the issuance; send the same CSR again shortly', {
          retryAfterSeconds: Math.ceil(deps.claimLeaseMs / 1000),
          logDetail: `record ${record.serialNumber} for ${key}: outcome unknown; the claim stays held until its lease ends`,
        });
      }
      if (outcome === 'recorded') {
        seatHeld = false;
        const t2 = performance.now();
        const current = await deps.cas.confirmActive(ca.record.id);
        timings.confirm = performance.now() - t2;
        if (current) return { record, ca, created: true, timings, ...(lot ? { lot } : {}) };
        // Rotated while this request signed: never delivered, set aside; sign again with the CA that issues now.
        await deps.store.supersedeCertificate(record, deps.clock().toISOString());
        ca = await usableIssuer(deps);
      }
      if (attempt >= MAX_ATTEMPTS) {
        throw new CaError('INTERNAL', 'Issuance could not be completed', { logDetail: `${attempt} attempts for ${key} (serial collisions or rotations)` });
      }
      // A proven serial collision, or a certificate set aside: a new serial (it is signed), the claim moved to it.
      const next: Claim = { ...claim, serialNumber: newSerial(deps.random) };
      if (!(await deps.store.replaceClaim(next, claim.serialNumber))) {
        throw new CaError('INTERNAL', 'Issuance could not be completed', { logDetail: 'claim lost while drawing a new serial' });
      }
      claim = next;
    }
  } catch (e) {
    // A seat whose record was certainly not written goes back to the lot; one whose record may still land stays taken.
    if (seatHeld && !undecided && lotId !== undefined) await deps.lots.releaseSeat(lotId).catch(() => undefined);
    // Nothing was recorded (or the record is set aside): the name is free at once. Unknown: held until the lease ends.
    // A re-enrollment's name goes back to the certificate it replaces at once: its claim expires, it is never released.
    if (!undecided && replaces) await deps.store.replaceClaim({ ...claim, leaseExpiresAt: 0 }, claim.serialNumber).catch(() => undefined);
    else if (!undecided) await deps.store.releaseClaim(claim.key, claim.serialNumber).catch(() => undefined);
    throw e;
  }
}

/**
 * Takes the CSR's public key for this request in the key index (one conditional
 * write), or says why it cannot be certified: blocked for good (it was on a
 * revoked certificate, or an operator blocked it), or on another device's
 * ISSUED certificate (another common name or another CSR). An entry whose
 * request died, or whose certificate was set aside, is taken over.
 */
async function acquireKey(d: IssueDeps, entry: KeyEntry & { status: 'IN_USE'; token: string }, replaces: string | undefined): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const holder = await d.store.claimKey(entry);
    if (!holder) return;
    if (holder.status === 'BLOCKED') throw keyBlocked(holder);
    // The certificate that holds the key: named by the entry (indexed from the ledger), or by its request's claim.
    const claim = holder.claimKey ? await d.store.getClaim(holder.claimKey) : undefined;
    const own = claim !== undefined && claim.token === holder.token;
    const serial = holder.serialNumber ?? (own ? claim.serialNumber : undefined);
    if (serial) {
      const cert = await d.store.getCertificate(serial);
      // Revoked, its key not blocked yet (a revocation between its two writes, which its repeat finishes): blocked all the same.
      if (cert?.status === 'REVOKED') {
        throw keyBlocked({ spkiSha256: entry.spkiSha256, status: 'BLOCKED', reason: cert.revocationReason ?? 'unspecified', blockedBySerial: cert.serialNumber });
      }
      // The certificate this re-enrollment replaces passes its key on (renewal with the same key); any other keeps it.
      if (cert?.status === 'ISSUED' && cert.serialNumber !== replaces) throw keyInUse(cert.serialNumber, cert.commonName);
      // Replaced by its device's re-enrollment: a key that was delivered on a certificate stays that device's.
      if (cert?.status === 'SUPERSEDED' && cert.supersededBy) throw keyInUse(cert.serialNumber, cert.commonName);
      if (!cert && claim && claim.leaseExpiresAt > d.clock().getTime()) throw keyInUse(serial, undefined);
      // A re-enrollment that died with the key: the key is still the certificate it was replacing.
      if (!cert && own && claim.replaces && claim.replaces !== replaces) {
        const prior = await d.store.getCertificate(claim.replaces);
        if (prior?.status === 'ISSUED' && prior.publicKeySha256 === entry.spkiSha256) throw keyInUse(prior.serialNumber, prior.commonName);
      }
    }
    // Its request died (claim gone, replaced or past its lease with nothing recorded), or its certificate was set aside.
    if (await d.store.replaceKeyClaim(entry, holder.token ?? '')) return;
  }
  throw new CaError('STORE_UNAVAILABLE', 'The certificate ledger is busy; retry shortly', { retryAfterSeconds: 1, logDetail: `key index contention on ${entry.spkiSha256}` });
}

function keyBlocked(entry: KeyEntry): CaError {
  const by = entry.blockedBySerial ? `it was on certificate ${entry.blockedBySerial}, revoked` : `an operator blocked it${entry.blockedByEntry ? ` (${entry.blockedByEntry})` : ''}`;
  return new CaError('KEY_BLOCKED', `This public key is blocked for good: ${by} (${entry.reason ?? 'unspecified'}); make a new key and CSR`, {
    details: [
      {
        field: 'publicKey',
        reason: 'blocked',
        spkiSha256: entry.spkiSha256,
        revocationReason: entry.reason ?? 'unspecified',
        ...(entry.blockedBySerial ? { serialNumber: entry.blockedBySerial } : {}),
        ...(entry.blockedByEntry ? { blockEntry: entry.blockedByEntry } : {}),
      },
    ],
  });
}

function keyInUse(serialNumber: string, commonName: string | undefined): CaError {
  return new CaError(
    'KEY_IN_USE',
    `This public key is already certified (serial ${serialNumber}${commonName ? `, CN ${commonName}` : ''}): every device needs a key of its own; make a new key and CSR`,
    { details: [{ field: 'publicKey', reason: 'in use by another certificate', serialNumber }] },
  );
}

/**
 * Before a re-enrollment moves the claim of the certificate it replaces, that
 * certificate's key entry is made to name it by serial (as the key index names
 * certificates indexed from the ledger), so the key stays held by it whatever
 * happens to the claim: it passes only to the re-enrollment (same key) or stays
 * with the replaced certificate for good (new key). Only its own entry (found
 * through its claim, by token) is changed; a repeat changes nothing.
 */
async function pinKey(d: IssueDeps, replaced: CertificateRecord): Promise<void> {
  const held = await d.store.getKey(replaced.publicKeySha256);
  if (held?.status !== 'IN_USE' || held.serialNumber !== undefined || !held.claimKey || !held.token) return;
  const claim = await d.store.getClaim(held.claimKey);
  if (claim?.token !== held.token || claim.serialNumber !== replaced.serialNumber) return;
  await d.store.replaceKeyClaim({ spkiSha256: replaced.publicKeySha256, status: 'IN_USE', token: `ledger:${replaced.serialNumber}`, serialNumber: replaced.serialNumber }, held.token);
}

/** The active issuing CA, refused when it has expired: nothing it signs would be valid, and nothing is written. */
async function usableIssuer(deps: IssueDeps) {
  const ca = await deps.cas.activeIssuer();
  if (ca.issuer.notAfter.getTime() <= deps.clock().getTime() + 1000) throw caExpired(ca.record.id, ca.record.notAfter);
  return ca;
}

/**
 * Writes the record. `recorded`: it is in the ledger (this write, or an earlier
 * attempt of it whose answer was lost). `collision`: another certificate holds
 * the serial. `undecided`: the write failed in a way that may have applied it
 * (a 5xx, a timeout) and its read-back could not show it; it may still land.
 * A write the ledger refused before applying it (throttling) is thrown as is.
 */
async function recordCertificate(deps: IssueDeps, record: CertificateRecord): Promise<'recorded' | 'collision' | 'undecided'> {
  try {
    await deps.store.putCertificate(record);
    return 'recorded';
  } catch (e) {
    if (e instanceof SerialCollisionError) return 'collision';
    // Refused before it was applied (throttled, invalid): nothing was written, the failure is decided.
    if (e instanceof CaError && e.notApplied) throw e;
  }
  const stored = await deps.store.getCertificate(record.serialNumber).catch(() => undefined);
  if (stored?.certificateId === record.certificateId) return 'recorded';
  return stored ? 'collision' : 'undecided';
}

/**
 * Takes the claim, or resolves who holds it: the same CSR already issued (its
 * certificate is returned), another certificate for this name (409), a stale
 * claim of a request that died (taken over), or the same CSR in flight (wait).
 */
async function acquireClaim(
  d: IssueDeps,
  wanted: Omit<Claim, 'leaseExpiresAt'>,
  replaces: string | undefined,
): Promise<{ claim: Claim } | { record: CertificateRecord }> {
  const deadline = d.clock().getTime() + d.inFlightWaitMs;
  let delay = 25;
  for (;;) {
    const claim: Claim = { ...wanted, leaseExpiresAt: d.clock().getTime() + d.claimLeaseMs };
    const holder = await d.store.claim(claim);
    if (!holder) return { claim };
    let cert = await d.store.getCertificate(holder.serialNumber);
    // A re-enrollment that died before recording leaves the name to the certificate it was replacing.
    if (!cert && holder.replaces && holder.leaseExpiresAt <= d.clock().getTime()) {
      const prior = await d.store.getCertificate(holder.replaces);
      if (prior?.status === 'ISSUED') cert = prior;
    }
    // The certificate a re-enrollment replaces hands its name over (its own CSR sent again included).
    if (cert && cert.serialNumber === replaces && cert.status === 'ISSUED') {
      if (await d.store.replaceClaim(claim, holder.serialNumber)) return { claim };
      continue;
    }
    if (cert && cert.csrSha256 === wanted.csrSha256 && cert.status !== 'SUPERSEDED') {
      // The same CSR again: its certificate, unless it was revoked (its key must not be certified again).
      if (cert.status === 'REVOKED') {
        throw new CaError('CERTIFICATE_REVOKED', 'The certificate for this CSR was revoked; make a new key and CSR', {
          details: [{ reason: 'revoked', serialNumber: cert.serialNumber, revocationReason: cert.revocationReason ?? 'unspecified' }],
        });
      }
      return { record: cert };
    }
    if (cert && cert.status === 'ISSUED') throw duplicate(cert.serialNumber);
    // A claim whose certificate was revoked or set aside, or whose request died before recording, is free.
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

/** Another key holds the name: what the station can do about it, in the message itself. */
function duplicate(serialNumber: string): CaError {
  return new CaError(
    'DUPLICATE_COMMON_NAME',
    `This common name already has certificate ${serialNumber}, issued for another key. Sending the CSR it was issued for again returns that same certificate. ` +
      `If the device has a new key, an operator must first revoke serial ${serialNumber} (POST /certificates/${serialNumber}/revoke); then this CSR can be issued.`,
    {
      details: [{ field: 'CN', reason: 'a certificate was already issued for this common name', serialNumber }],
    },
  );
}
