import { createHash } from 'node:crypto';
import { buildCaCertificate, caSubjectDer, keyIdentifierOf, type BuiltCertificate } from '../pki/profile.js';
import { newSerial, type RandomSource, systemRandom } from '../pki/serial.js';
import { toPem } from '../pki/pem.js';
import { x509 } from '../pki/x509.js';
import type { Signer } from '../pki/signer.js';
import type { CaRecord, CaStore, Clock, KeyReference } from './ports.js';

const YEAR_MS = 365.25 * 86_400_000;

export interface CaKey {
  ref: KeyReference;
  signer: Signer;
}

export interface CaNaming {
  organization: string;
  country: string;
}

export const ROOT_VALIDITY_YEARS = 25;
export const ISSUING_VALIDITY_YEARS = 20;

export const newCaId = (role: 'root' | 'issuing', random: RandomSource = systemRandom) =>
  `${role}-${Buffer.from(random(6)).toString('hex')}`;

function caRecord(id: string, role: 'root' | 'issuing', key: KeyReference, cert: BuiltCertificate, now: Date, parentId?: string): CaRecord {
  const parsed = new x509.X509Certificate(cert.der.slice());
  return {
    id,
    role,
    ...(parentId ? { parentId } : {}),
    key,
    certificatePem: toPem('CERTIFICATE', cert.der),
    fingerprintSha256: createHash('sha256').update(cert.der).digest('hex'),
    subject: parsed.subject,
    keyIdentifier: keyIdentifierOf(new Uint8Array(parsed.publicKey.rawData)),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    status: 'ACTIVE',
    createdAt: now.toISOString(),
    activatedAt: now.toISOString(),
  };
}

/** A self-signed root CA certificate and its record. */
export async function createRootCa(key: CaKey, naming: CaNaming, clock: Clock, random: RandomSource = systemRandom): Promise<CaRecord> {
  const now = clock();
  const subjectDer = caSubjectDer({ C: naming.country, O: naming.organization, CN: `${naming.organization} Root CA` });
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const cert = await buildCaCertificate({
    role: 'root',
    serialNumber: newSerial(random),
    subjectDer,
    publicKey: key.signer.publicKey,
    validity: { notBefore, notAfter: new Date(notBefore.getTime() + ROOT_VALIDITY_YEARS * YEAR_MS) },
    issuer: { subjectDer, keyIdentifier: keyIdentifierOf(key.signer.publicKey), signer: key.signer },
  });
  return caRecord(newCaId('root', random), 'root', key.ref, cert, now);
}

/** An issuing CA certificate signed by the root; never valid beyond the root. */
export async function createIssuingCa(
  key: CaKey,
  root: { record: CaRecord; signer: Signer },
  naming: CaNaming,
  clock: Clock,
  random: RandomSource = systemRandom,
): Promise<CaRecord> {
  const now = clock();
  const id = newCaId('issuing', random);
  const rootDer = x509.PemConverter.decodeFirst(root.record.certificatePem);
  const rootSubject = new Uint8Array(new x509.X509Certificate(rootDer).subjectName.toArrayBuffer());
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const notAfter = new Date(Math.min(notBefore.getTime() + ISSUING_VALIDITY_YEARS * YEAR_MS, Date.parse(root.record.notAfter)));
  const cert = await buildCaCertificate({
    role: 'issuing',
    serialNumber: newSerial(random),
    subjectDer: caSubjectDer({ C: naming.country, O: naming.organization, CN: `${naming.organization} Issuing CA ${id.slice(8)}` }),
    publicKey: key.signer.publicKey,
    validity: { notBefore, notAfter },
    issuer: { subjectDer: rootSubject, keyIdentifier: root.record.keyIdentifier, signer: root.signer },
  });
  return caRecord(id, 'issuing', key.ref, cert, now, root.record.id);
}

/**
 * Sets up a root and an issuing CA and points issuance at the issuing CA, unless
 * an active issuing CA exists already (then nothing is created).
 */
export async function ensureCaHierarchy(
  store: CaStore,
  keys: { root: () => Promise<CaKey>; issuing: () => Promise<CaKey> },
  naming: CaNaming,
  clock: Clock,
): Promise<{ created: boolean; issuingCaId: string }> {
  const current = await store.getActiveIssuingCaId();
  if (current) return { created: false, issuingCaId: current };
  const rootKey = await keys.root();
  const root = await createRootCa(rootKey, naming, clock);
  const issuing = await createIssuingCa(await keys.issuing(), { record: root, signer: rootKey.signer }, naming, clock);
  await store.putCa(root);
  await store.putCa(issuing);
  if (!(await store.setActiveIssuingCa(issuing.id, undefined))) {
    // Another process set one up at the same time; theirs stands.
    return { created: false, issuingCaId: (await store.getActiveIssuingCaId())! };
  }
  return { created: true, issuingCaId: issuing.id };
}

