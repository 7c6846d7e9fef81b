import { ROOT_CA_ID, issuingCaId, issuingCaRecords } from './ca-ids.js';
import type { LogKeyStore } from '../log/ledger.js';
import { generateKeyPairSync } from 'node:crypto';
import { certificateParts } from '../pki/certificate.js';
import { CaError } from './errors.js';
import { buildVerificationCertificate } from '../pki/profile.js';
import { toPem } from '../pki/pem.js';
import { newSerial, type RandomSource } from '../pki/serial.js';
import type { Signer } from '../pki/signer.js';
import type { ProvisioningTemplate } from '../provisioning/template.js';
import { caCertificateDer, checkedSigner } from './ca-directory.js';
import { createIssuingCa, createRootCa, ISSUING_VALIDITY_YEARS, type CaNaming } from './ca-setup.js';
import { KEY_INDEX_MARKER } from './key-index.js';
import { type CaRecord, type CaStore, type Clock, type IotCaRegistration, type IotRegistrar, type KeyManager, type KeyPurpose, type SignerFactory } from './ports.js';

const DAY_MS = 86_400_000;
const YEAR_MS = 365.25 * DAY_MS;
/** How long a verification certificate stays valid (a dry-run bundle may be registered by hand later). */
const VERIFICATION_VALIDITY_MS = 30 * DAY_MS;

export { ROOT_CA_ID, issuingCaId } from './ca-ids.js';

export interface LifecycleDeps {
  store: CaStore;
  keys: KeyManager;
  iot: IotRegistrar;
  signerFactory: SignerFactory;
  clock: Clock;
  random: RandomSource;
  naming: CaNaming;
  /** CA keys are `<prefix>-root-1` and `<prefix>-issuing-<generation>`. */
  keyAliasPrefix: string;
  template: ProvisioningTemplate;
  jitpRoleArn: string;
  rotation: { periodDays: number; minRemainingDays: number };
  /** Extra tags on AWS IoT registrations. */
  tags?: Record<string, string>;
  /** The issuance log key's state, and its rotation (src/service/log-keys.ts). */
  logKeys: LogKeyStore;
  logKeyRotation: { periodDays: number; cosignDays: number };
}

export interface CaSummary {
  id: string;
  role: 'root' | 'issuing';
  generation?: number;
  status: string;
  notAfter: string;
  fingerprintSha256: string;
  iotCertificateId?: string;
  iotStatus?: string;
}

export interface LifecycleReport {
  /** What this run changed, in order; empty when everything was in place. */
  actions: string[];
  /** What an operator should do next, when anything. */
  notices?: string[];
  rootCaId: string;
  activeIssuingCaId: string;
  cas: CaSummary[];
}

export interface RotationReport extends LifecycleReport {
  rotated: boolean;
  /** Why the run rotated or did not. */
  reason: string;
  previousIssuingCaId?: string;
  /** When the active issuing CA next becomes due (when not rotated). */
  nextDueAt?: string;
}

const summary = (r: CaRecord): CaSummary => ({
  id: r.id,
  role: r.role,
  ...(r.generation !== undefined ? { generation: r.generation } : {}),
  status: r.status,
  notAfter: r.notAfter,
  fingerprintSha256: r.fingerprintSha256,
  ...(r.iotCertificateId ? { iotCertificateId: r.iotCertificateId } : {}),
  ...(r.iotStatus ? { iotStatus: r.iotStatus } : {}),
});

/** The signer of a CA record, checked against its certificate. */
const signerOf = async (d: LifecycleDeps, record: CaRecord): Promise<Signer> => (await checkedSigner(d.signerFactory, record)).signer;

/** The key an alias names, created when there is none (idempotent: a key another run made first is the one). */
export async function keyFor(d: Pick<LifecycleDeps, 'keys'>, alias: string, purpose: KeyPurpose, actions: string[]) {
  const existing = await d.keys.findKey(alias, purpose);
  if (existing) return existing;
  const ref = await d.keys.createKey(alias, purpose);
  actions.push(purpose === 'log' ? `created the issuance log key ${alias}` : `created ${purpose} CA key ${alias}`);
  return ref;
}

/** Puts a new CA record; when another run stored one first, that one stands. */
async function store(d: LifecycleDeps, record: CaRecord, actions: string[]): Promise<CaRecord> {
  if (await d.store.putCa(record)) {
    actions.push(`created ${record.role} CA ${record.id} (${record.subject})`);
    return record;
  }
  const winner = await d.store.getCa(record.id);
  if (!winner) throw new CaError('INTERNAL', 'CA record could not be stored', { logDetail: `CA ${record.id}` });
  return winner;
}

async function ensureRoot(d: LifecycleDeps, id: string, actions: string[]): Promise<CaRecord> {
  const found = await d.store.getCa(id);
  if (found) return found;
  const alias = `${d.keyAliasPrefix}-root-1`;
  const ref = await keyFor(d, alias, 'root', actions);
  const signer = await d.signerFactory(ref);
  const record = await createRootCa({ ref, signer }, d.naming, d.clock, d.random, { id, keyAlias: alias, status: 'ACTIVE' });
  return store(d, record, actions);
}

async function ensureIssuing(d: LifecycleDeps, root: CaRecord, generation: number, actions: string[]): Promise<CaRecord> {
  const id = issuingCaId(generation);
  const found = await d.store.getCa(id);
  if (found) return found;
  const alias = `${d.keyAliasPrefix}-issuing-${generation}`;
  const ref = await keyFor(d, alias, 'issuing', actions);
  const signer = await d.signerFactory(ref);
  const record = await createIssuingCa({ ref, signer }, { record: root, signer: await signerOf(d, root) }, d.naming, d.clock, d.random, {
    id,
    generation,
    keyAlias: alias,
    status: 'PENDING',
  });
  return store(d, record, actions);
}

/** A verification certificate for the account's registration code, signed by the CA; its key pair is thrown away. */
async function verificationCertificate(d: LifecycleDeps, ca: CaRecord, registrationCode: string): Promise<string> {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { subjectDer } = certificateParts(caCertificateDer(ca));
  const now = Math.floor(d.clock().getTime() / 1000) * 1000;
  const cert = await buildVerificationCertificate({
    registrationCode,
    serialNumber: newSerial(d.random),
    publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
    validity: { notBefore: new Date(now - 300_000), notAfter: new Date(Math.min(now + VERIFICATION_VALIDITY_MS, Date.parse(ca.notAfter))) },
    issuer: { subjectDer, keyIdentifier: ca.keyIdentifier, signer: await signerOf(d, ca) },
  });
  return toPem('CERTIFICATE', cert.der);
}

const registrationUsable = (r: IotCaRegistration) => r.status === 'ACTIVE' || r.status === 'DRY_RUN';

/**
 * Registers an issuing CA with AWS IoT for JITP (found first by its id, the
 * SHA-256 of the certificate), or brings an existing registration's template,
 * role, status and auto-registration up to date. Records what IoT reports.
 */
async function ensureRegistered(d: LifecycleDeps, ca: CaRecord, root: CaRecord, actions: string[]): Promise<CaRecord> {
  const certificateId = ca.fingerprintSha256;
  let registration = await d.iot.describeCa(certificateId);
  if (!registration) {
    const code = await d.iot.getRegistrationCode();
    registration = await d.iot.registerCa({
      certificateId,
      caCertificatePem: ca.certificatePem,
      rootCertificatePem: root.certificatePem,
      verificationCertificatePem: await verificationCertificate(d, ca, code),
      templateBody: d.template.body,
      roleArn: d.jitpRoleArn,
      tags: { ...d.tags, 'factory-ca:ca-id': ca.id, 'factory-ca:role': 'issuing' },
    });
    actions.push(`registered ${ca.id} with AWS IoT${d.iot.mode === 'dry-run' ? ' (dry run)' : ''}: ${registration.certificateId} ${registration.status}`);
  } else if (!registrationUsable(registration) || !registration.autoRegistration || registration.templateBody !== d.template.body || registration.roleArn !== d.jitpRoleArn) {
    registration = await d.iot.updateCa(certificateId, { templateBody: d.template.body, roleArn: d.jitpRoleArn });
    actions.push(`updated the AWS IoT registration of ${ca.id} (template, role, ACTIVE, auto-registration)`);
  }
  if (!registrationUsable(registration)) {
    throw new CaError('INTERNAL', 'AWS IoT did not activate the CA certificate', {
      logDetail: `${ca.id}: AWS IoT status ${registration.status}`,
    });
  }
  if (ca.iotCertificateId === registration.certificateId && ca.iotStatus === registration.status) return ca;
  const updated: CaRecord = {
    ...ca,
    iotCertificateId: registration.certificateId,
    iotStatus: registration.status,
    iotRegisteredAt: ca.iotRegisteredAt ?? d.clock().toISOString(),
  };
  await d.store.updateCa(updated);
  return updated;
}

/** Makes record statuses follow the pointer: the pointed-at CA ACTIVE, every other once-active one RETIRED. */
async function reconcile(d: LifecycleDeps, activeId: string, cas: CaRecord[], actions: string[]): Promise<CaRecord[]> {
  const now = d.clock().toISOString();
  const out: CaRecord[] = [];
  for (const r of cas) {
    let next = r;
    if (r.id === activeId && r.status !== 'ACTIVE') next = { ...r, status: 'ACTIVE', activatedAt: r.activatedAt ?? now };
    else if (r.id !== activeId && r.status === 'ACTIVE') next = { ...r, status: 'RETIRED', retiredAt: r.retiredAt ?? now };
    if (next !== r) {
      await d.store.updateCa(next);
      actions.push(`${r.id}: ${r.status} → ${next.status}`);
    }
    out.push(next);
  }
  return out;
}

function requireActive(cas: CaRecord[], id: string): CaRecord {
  const active = cas.find((r) => r.id === id);
  if (!active) throw new CaError('INTERNAL', 'The active issuing CA record is missing', { logDetail: `CA ${id} not found` });
  return active;
}

/** After issuance has moved away from it: the compromised CA's key signs nothing more, and its record says since when. */
async function disableCompromisedKey(d: LifecycleDeps, ca: CaRecord, actions: string[]): Promise<void> {
  await d.keys.disableKey(ca.key);
  const current = (await d.store.getCa(ca.id)) ?? ca;
  await d.store.updateCa({ ...current, keyDisabledAt: current.keyDisabledAt ?? d.clock().toISOString() });
  actions.push(`disabled the key of ${ca.id} (${ca.keyAlias ?? 'key'}): it signs nothing more`);
}

/**
 * Creates the CA and registers it for JITP. Idempotent: every step looks for
 * what an earlier run made first (keys by alias, CA records by id, AWS IoT
 * registrations by certificate id), so a second run creates nothing and a run
 * after an interrupted one finishes its work. Every issuing CA still valid,
 * retired ones included, is kept registered with the current template and role.
 */
export async function bootstrap(d: LifecycleDeps): Promise<LifecycleReport> {
  const actions: string[] = [];
  let activeId = await d.store.getActiveIssuingCaId();
  const activeRecord = activeId ? await d.store.getCa(activeId) : undefined;
  // A new ledger has no certificate yet: its key index is complete from the start.
  if (!activeId && !(await d.store.getMarker(KEY_INDEX_MARKER))) await d.store.putMarker(KEY_INDEX_MARKER, d.clock().toISOString());
  const root = await ensureRoot(d, activeRecord?.parentId ?? ROOT_CA_ID, actions);
  if (!activeId) await ensureIssuing(d, root, 1, actions);

  const now = d.clock().getTime();
  const registered: CaRecord[] = [];
  for (const ca of await issuingCaRecords(d.store, activeId)) {
    registered.push(Date.parse(ca.notAfter) > now ? await ensureRegistered(d, ca, root, actions) : ca);
  }
  if (!activeId) {
    const first = issuingCaId(1);
    if (await d.store.setActiveIssuingCa(first, undefined)) actions.push(`issuance now uses ${first}`);
    activeId = (await d.store.getActiveIssuingCaId())!;
  }
  const cas = await reconcile(d, activeId, registered, actions);
  const notices = (await d.store.getMarker(KEY_INDEX_MARKER))
    ? []
    : ['the ledger holds certificates from before the key index: index their keys with `npm run keys -- reindex` (see the runbook) so revoked keys stay blocked and no key is certified twice'];
  return { actions, ...(notices.length ? { notices } : {}), rootCaId: root.id, activeIssuingCaId: activeId, cas: [summary(root), ...cas.map(summary)] };
}

/**
 * Replaces the issuing CA when it is due (older than the issuance period, or
 * too close to its end), or when `force` is set, or to finish a rotation an
 * earlier run started. The new CA is registered with AWS IoT and confirmed
 * ACTIVE before issuance moves to it (one conditional write); the old one is
 * RETIRED for issuance but stays registered and active in AWS IoT, so the
 * devices it signed keep provisioning and connecting.
 */
export interface RotateOptions {
  force?: boolean;
  /**
   * `keyCompromise`: the active issuing CA's key is compromised. Rotates at once
   * (force is implied) and, once issuance uses the new CA, disables the old key
   * (KMS DisableKey): it signs nothing more, not even a request already in flight.
   */
  reason?: 'keyCompromise';
}

export async function rotate(d: LifecycleDeps, options: RotateOptions = {}): Promise<RotationReport> {
  if (options.reason === 'keyCompromise') options = { ...options, force: true };
  const actions: string[] = [];
  const activeId = await d.store.getActiveIssuingCaId();
  if (!activeId) throw new CaError('CA_NOT_READY', 'There is no CA to rotate; run the bootstrap first', { retryAfterSeconds: 60 });
  let cas = await reconcile(d, activeId, await issuingCaRecords(d.store, activeId), actions);
  const active = requireActive(cas, activeId);
  const root = await d.store.getCa(active.parentId ?? ROOT_CA_ID);
  if (!root) throw new CaError('INTERNAL', 'The root CA record is missing', { logDetail: `root of ${active.id}` });

  const now = d.clock().getTime();
  const generation = Math.max(0, ...cas.map((r) => r.generation ?? 0));
  const pending = cas.find((r) => r.status === 'PENDING' && (r.generation ?? 0) > (active.generation ?? 0));
  const activatedAt = Date.parse(active.activatedAt ?? active.createdAt);
  const dueByAge = activatedAt + d.rotation.periodDays * DAY_MS;
  const dueByExpiry = Date.parse(active.notAfter) - d.rotation.minRemainingDays * DAY_MS;
  const dueAt = Math.min(dueByAge, dueByExpiry);
  const base = () => ({ rootCaId: root.id, activeIssuingCaId: activeId, cas: [summary(root), ...cas.map(summary)] });

  let reason: string;
  if (pending) reason = `finishing the rotation to ${pending.id}`;
  else if (options.reason === 'keyCompromise') reason = `the key of ${active.id} is compromised`;
  else if (options.force) reason = 'rotation requested';
  else if (now >= dueByAge) reason = `${active.id} has issued for ${d.rotation.periodDays} days`;
  else if (now >= dueByExpiry) reason = `${active.id} expires in less than ${d.rotation.minRemainingDays} days`;
  else return { ...base(), actions, rotated: false, reason: 'not due', nextDueAt: new Date(dueAt).toISOString() };

  if (!pending && !options.force && now < dueByAge) {
    // Due only because the CA nears its end: a new one would end no later than the root.
    const newEnd = Math.min(now + ISSUING_VALIDITY_YEARS * YEAR_MS, Date.parse(root.notAfter));
    if (newEnd - now < d.rotation.minRemainingDays * DAY_MS) {
      return { ...base(), actions, rotated: false, reason: `not rotated: the root CA ${root.id} expires too soon; replace the root` };
    }
  }

  let next = pending ?? (await ensureIssuing(d, root, generation + 1, actions));
  next = await ensureRegistered(d, next, root, actions);
  if (await d.store.setActiveIssuingCa(next.id, active.id)) {
    actions.push(`issuance now uses ${next.id} (was ${active.id})`);
  } else if ((await d.store.getActiveIssuingCaId()) !== next.id) {
    throw new CaError('INTERNAL', 'The active issuing CA changed during rotation', { logDetail: `pointer moved away from ${active.id}` });
  }
  if (options.reason === 'keyCompromise') await disableCompromisedKey(d, active, actions);
  cas = await reconcile(d, next.id, await issuingCaRecords(d.store, next.id), actions);
  return { ...base(), activeIssuingCaId: next.id, cas: [summary(root), ...cas.map(summary)], actions, rotated: true, reason, previousIssuingCaId: active.id };
}
