/**
 * Certificate revocation lists: one per CA, signed by that CA's key through the
 * signer port, kept in CrlObjects, bookkept in the ledger (CrlLedger).
 *
 * - An issuing CA's CRL lists every certificate it issued that is revoked and
 *   not yet expired. A revocation marks the serial pending on its CA; the
 *   publisher lists the pending serials (read consistently) as well as what the
 *   status index returns, so a revocation of the last second is never missed.
 * - The root's CRL is the authority revocation list: the issuing CAs whose keys
 *   were disabled after a compromise, reason cACompromise.
 * - A compromised issuing CA's own CRL is never signed again (its key is
 *   disabled): the last version stays published.
 * - Numbers are reserved before a CRL is built and a publication is recorded
 *   only if no higher number is, so two publishers racing never move a CA's CRL
 *   backwards; numbers may skip, which RFC 5280 allows.
 */
import { buildCrl, type CrlEntry, type CrlReason } from '../pki/crl.js';
import { certificateParts } from '../pki/certificate.js';
import { caCertificateDer, checkedSigner } from './ca-directory.js';
import { ROOT_CA_ID, issuingCaRecords } from './ca-ids.js';
import { CaError } from './errors.js';
import { REVOCATION_REASONS } from './revoke-certificate.js';
import type { CaRecord, CaStore, CertificateStore, Clock, CrlLedger, CrlObjects, PublishedCrl, SignerFactory } from './ports.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export interface CrlPolicy {
  /** nextUpdate − thisUpdate. */
  validityDays: number;
  /** A CRL older than this is signed again even with nothing new (at least daily). */
  republishAfterHours: number;
}

export interface CrlPublishDeps {
  store: CaStore & CrlLedger & Pick<CertificateStore, 'getCertificate'>;
  objects: CrlObjects;
  signerFactory: SignerFactory;
  clock: Clock;
  policy: CrlPolicy;
}

export interface CrlReadDeps {
  store: CaStore & CrlLedger;
  objects: CrlObjects;
}

/** The name a CRL is published under: `root` for the root's authority revocation list, the CA id otherwise. */
export const crlName = (caId: string): string => (caId === ROOT_CA_ID ? 'root' : caId);
const caIdOfName = (name: string): string => (name === 'root' ? ROOT_CA_ID : name);

/** The revocation reasons a certificate may have are the CRL's (checked at compile time below). */
const CRL_REASONS: ReadonlySet<string> = new Set<CrlReason>(REVOCATION_REASONS satisfies readonly CrlReason[]);
const crlReason = (reason: string): CrlReason => (CRL_REASONS.has(reason) ? (reason as CrlReason) : 'unspecified');
const bySerial = (a: CrlEntry, b: CrlEntry) => {
  const x = BigInt(`0x${a.serialNumber}`);
  const y = BigInt(`0x${b.serialNumber}`);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** What an issuing CA's CRL lists now: revoked, not yet expired; pending serials read consistently. */
async function issuingEntries(d: CrlPublishDeps, caId: string, pending: string[], now: Date): Promise<CrlEntry[]> {
  const found = new Map<string, CrlEntry & { notAfter: string }>();
  for await (const e of d.store.revokedOf(caId)) {
    found.set(e.serialNumber, { serialNumber: e.serialNumber, revokedAt: new Date(e.revokedAt), reason: crlReason(e.reason), notAfter: e.notAfter });
  }
  for (const serial of pending) {
    if (found.has(serial)) continue;
    const r = await d.store.getCertificate(serial);
    if (r?.status === 'REVOKED' && r.issuingCaId === caId && r.revokedAt) {
      found.set(serial, { serialNumber: serial, revokedAt: new Date(r.revokedAt), reason: crlReason(r.revocationReason ?? 'unspecified'), notAfter: r.notAfter });
    }
  }
  return [...found.values()]
    .filter((e) => Date.parse(e.notAfter) >= now.getTime())
    .map(({ serialNumber, revokedAt, reason }) => ({ serialNumber, revokedAt, reason }))
    .sort(bySerial);
}

/** The authority revocation list's entries: every issuing CA whose key was disabled after a compromise. */
function authorityEntries(issuing: CaRecord[]): CrlEntry[] {
  return issuing
    .filter((ca) => ca.keyDisabledAt)
    .map((ca) => ({ serialNumber: certificateParts(caCertificateDer(ca)).serialNumber, revokedAt: new Date(ca.keyDisabledAt!), reason: 'cACompromise' as const }))
    .sort(bySerial);
}

/** Signs and publishes a new CRL of one CA now. Returns what was published, or undefined when a newer one won the race. */
export async function publishCrl(d: CrlPublishDeps, ca: CaRecord, issuing?: CaRecord[]): Promise<PublishedCrl | undefined> {
  if (ca.keyDisabledAt) {
    throw new CaError('INTERNAL', `The key of ${ca.id} is disabled: its last CRL stays published`, { logDetail: `CRL of ${ca.id} not signed: key disabled` });
  }
  const state = await d.store.getCrlState(ca.id);
  const pending = state?.pending ?? [];
  const crlNumber = await d.store.reserveCrlNumber(ca.id);
  const now = d.clock();
  const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const nextUpdate = new Date(thisUpdate.getTime() + d.policy.validityDays * DAY_MS);
  const entries = ca.role === 'root' ? authorityEntries(issuing ?? (await issuingCaRecords(d.store, await d.store.getActiveIssuingCaId()))) : await issuingEntries(d, ca.id, pending, thisUpdate);
  const { signer, subjectDer } = await checkedSigner(d.signerFactory, ca);
  const der = await buildCrl({ issuer: { subjectDer, keyIdentifier: ca.keyIdentifier, signer }, crlNumber: BigInt(crlNumber), thisUpdate, nextUpdate, entries });
  const object = `crl/${crlName(ca.id)}/${crlNumber}.crl`;
  await d.objects.put(object, der);
  const published: PublishedCrl = { crlNumber, thisUpdate: thisUpdate.toISOString(), nextUpdate: nextUpdate.toISOString(), entries: entries.length, object };
  return (await d.store.recordCrlPublished(ca.id, published, pending)) ? published : undefined;
}

export interface CrlReport {
  published: Array<{ caId: string; crlNumber: number; entries: number; nextUpdate: string }>;
  /** CAs whose CRL was current, and why others were left alone. */
  skipped: Array<{ caId: string; why: string }>;
  /** Hours until the soonest nextUpdate among the CRLs in force (those of CAs not skipped as expired or disabled). */
  hoursRemaining?: number;
}

/**
 * Why a CA's CRL must be signed again now, or undefined when it is current:
 * never published, revocations pending, older than `republishAfterHours`, or
 * within a day of its nextUpdate.
 */
function dueBecause(d: CrlPublishDeps, published: PublishedCrl | undefined, pending: number, now: number): string | undefined {
  if (!published) return 'never published';
  if (pending > 0) return `${pending} revocation(s) pending`;
  if (now - Date.parse(published.thisUpdate) >= d.policy.republishAfterHours * HOUR_MS) return 'daily republication';
  if (Date.parse(published.nextUpdate) - now <= DAY_MS) return 'nextUpdate within a day';
  return undefined;
}

/**
 * The publishing job: for the root and every issuing CA, a new CRL when one is
 * due (dueBecause). An issuing CA whose certificate has expired has no valid
 * certificates left and gets none; a CA whose key was disabled keeps its last.
 * A failure on one CA does not stop the others; the job fails at the end if any did.
 */
export async function publishDueCrls(d: CrlPublishDeps): Promise<CrlReport> {
  const report: CrlReport = { published: [], skipped: [] };
  const root = await d.store.getCa(ROOT_CA_ID);
  if (!root) return report;
  const issuing = await issuingCaRecords(d.store, await d.store.getActiveIssuingCaId());
  const now = d.clock().getTime();
  const failures: string[] = [];
  for (const ca of [root, ...issuing]) {
    if (ca.keyDisabledAt) {
      report.skipped.push({ caId: ca.id, why: 'key disabled after a compromise: its last CRL stays' });
      continue;
    }
    if (Date.parse(ca.notAfter) < now) {
      report.skipped.push({ caId: ca.id, why: 'expired: no certificate it issued is still valid' });
      continue;
    }
    const state = await d.store.getCrlState(ca.id);
    const arlChanged = ca.role === 'root' && state?.published && authorityEntries(issuing).length !== state.published.entries;
    const reason = arlChanged ? 'an issuing CA was compromised' : dueBecause(d, state?.published, state?.pending.length ?? 0, now);
    const inForce = (nextUpdate: string) => {
      const hours = Math.floor((Date.parse(nextUpdate) - now) / HOUR_MS);
      report.hoursRemaining = Math.min(report.hoursRemaining ?? hours, hours);
    };
    if (!reason) {
      report.skipped.push({ caId: ca.id, why: 'current' });
      inForce(state!.published!.nextUpdate);
      continue;
    }
    try {
      const p = await publishCrl(d, ca, issuing);
      if (p) {
        report.published.push({ caId: ca.id, crlNumber: p.crlNumber, entries: p.entries, nextUpdate: p.nextUpdate });
        inForce(p.nextUpdate);
      } else report.skipped.push({ caId: ca.id, why: 'a newer CRL was published meanwhile' });
    } catch (e) {
      failures.push(`${ca.id}: ${(e as Error).message}`);
      if (state?.published) inForce(state.published.nextUpdate);
    }
  }
  if (failures.length) {
    throw new CaError('INTERNAL', `CRL publication failed for ${failures.length} CA(s)`, { logDetail: failures.join('; ') });
  }
  return report;
}

/** The CRL published under `name` (`root` or an issuing CA id): its DER and dates. NOT_FOUND when there is none. */
export async function currentCrl(d: CrlReadDeps, name: string): Promise<{ der: Uint8Array; crl: PublishedCrl }> {
  const caId = caIdOfName(name);
  const notFound = () => new CaError('NOT_FOUND', `No CRL is published for ${name}; CRLs are named root.crl and <issuing CA id>.crl (see GET /ca)`);
  if (!/^(root|issuing-[1-9][0-9]{0,5})$/.test(name)) throw notFound();
  const state = await d.store.getCrlState(caId);
  if (!state?.published) throw notFound();
  const der = await d.objects.get(state.published.object);
  if (!der) throw new CaError('INTERNAL', 'A published CRL is missing from its store', { logDetail: `CRL object ${state.published.object} not found` });
  return { der, crl: state.published };
}

/**
 * After a bootstrap or a rotation: the CRLs that are now due, signed at once
 * (the first CRLs of a new CA; the root's list naming a compromised CA). A
 * failure here never undoes what the run did: it is a notice, and the CRL job
 * tries again every minute.
 */
export async function withCrls<R extends { actions: string[]; notices?: string[] }>(d: CrlPublishDeps, report: R): Promise<R> {
  try {
    const r = await publishDueCrls(d);
    if (!r.published.length) return report;
    return { ...report, actions: [...report.actions, ...r.published.map((p) => `published CRL ${p.crlNumber} of ${p.caId} (${p.entries} entries, next update ${p.nextUpdate})`)] };
  } catch (e) {
    return { ...report, notices: [...(report.notices ?? []), `CRL publication failed (${(e as Error).message}); the CRL job tries again every minute`] };
  }
}
