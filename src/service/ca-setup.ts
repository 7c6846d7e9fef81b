import { createHash } from 'node:crypto';
import { keyIdentifierOf } from '../pki/keys.js';
import { buildCaCertificate, caSubjectDer, type BuiltCertificate } from '../pki/profile.js';
import { newSerial, type RandomSource, systemRandom } from '../pki/serial.js';
import { toPem } from '../pki/pem.js';
import { x509 } from '../pki/x509.js';
import type { Signer } from '../pki/signer.js';
import type { CaRecord, Clock, KeyReference } from './ports.js';

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
/**
 * CA certificates start this long before they are made, so a device whose clock
 * is behind (the reason device certificates are backdated too) verifies a chain
 * made a moment ago; device certificates never start before their issuer.
 */
export const CA_BACKDATE_SECONDS = 3600;
const caNotBefore = (now: Date) => new Date(Math.floor(now.getTime() / 1000) * 1000 - CA_BACKDATE_SECONDS * 1000);
export const ISSUING_VALIDITY_YEARS = 20;

export const newCaId = (role: 'root' | 'issuing', random: RandomSource = systemRandom) =>
  `${role}-${Buffer.from(random(6)).toString('hex')}`;

/** How a new CA record is named and whether it starts active (local quick setup) or pending (bootstrap, rotation). */
export interface CaIdentity {
  id?: string;
  generation?: number;
  keyAlias?: string;
  status?: 'ACTIVE' | 'PENDING';
}

function caRecord(id: string, role: 'root' | 'issuing', key: KeyReference, cert: BuiltCertificate, now: Date, parentId: string | undefined, identity: CaIdentity): CaRecord {
  const parsed = new x509.X509Certificate(cert.der.slice());
  const status = identity.status ?? 'ACTIVE';
  return {
    id,
    role,
    ...(parentId ? { parentId } : {}),
    ...(identity.generation !== undefined ? { generation: identity.generation } : {}),
    ...(identity.keyAlias ? { keyAlias: identity.keyAlias } : {}),
    key,
    certificatePem: toPem('CERTIFICATE', cert.der),
    fingerprintSha256: createHash('sha256').update(cert.der).digest('hex'),
    subject: parsed.subject,
    keyIdentifier: keyIdentifierOf(new Uint8Array(parsed.publicKey.rawData)),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    status,
    createdAt: now.toISOString(),
    ...(status === 'ACTIVE' ? { activatedAt: now.toISOString() } : {}),
  };
}

/** The subject CN of an issuing CA: a generation number keeps every rotation's subject distinct. */
export const issuingCaCommonName = (organization: string, label: string) => `${organization} Issuing CA ${label}`;

/** A self-signed root CA certificate and its record. */
export async function createRootCa(
  key: CaKey,
  naming: CaNaming,
  clock: Clock,
  random: RandomSource = systemRandom,
  identity: CaIdentity = {},
): Promise<CaRecord> {
  const now = clock();
  const subjectDer = caSubjectDer({ C: naming.country, O: naming.organization, CN: `${naming.organization} Root CA` });
  const notBefore = caNotBefore(now);
  const cert = await buildCaCertificate({
    role: 'root',
    serialNumber: newSerial(random),
    subjectDer,
    publicKey: key.signer.publicKey,
    validity: { notBefore, notAfter: new Date(notBefore.getTime() + ROOT_VALIDITY_YEARS * YEAR_MS) },
    issuer: { subjectDer, keyIdentifier: keyIdentifierOf(key.signer.publicKey), signer: key.signer },
  });
  return caRecord(identity.id ?? newCaId('root', random), 'root', key.ref, cert, now, undefined, identity);
}

/** An issuing CA certificate signed by the root; never valid beyond the root. */
export async function createIssuingCa(
  key: CaKey,
  root: { record: CaRecord; signer: Signer },
  naming: CaNaming,
  clock: Clock,
  random: RandomSource = systemRandom,
  identity: CaIdentity = {},
): Promise<CaRecord> {
  const now = clock();
  const id = identity.id ?? newCaId('issuing', random);
  const label = identity.generation !== undefined ? `G${identity.generation}` : id.slice(8);
  const rootDer = x509.PemConverter.decodeFirst(root.record.certificatePem);
  const rootSubject = new Uint8Array(new x509.X509Certificate(rootDer).subjectName.toArrayBuffer());
  // Within the root's validity at both ends.
  const notBefore = new Date(Math.max(caNotBefore(now).getTime(), Date.parse(root.record.notBefore)));
  const notAfter = new Date(Math.min(notBefore.getTime() + ISSUING_VALIDITY_YEARS * YEAR_MS, Date.parse(root.record.notAfter)));
  const cert = await buildCaCertificate({
    role: 'issuing',
    serialNumber: newSerial(random),
    subjectDer: caSubjectDer({ C: naming.country, O: naming.organization, CN: issuingCaCommonName(naming.organization, label) }),
    publicKey: key.signer.publicKey,
    validity: { notBefore, notAfter },
    issuer: { subjectDer: rootSubject, keyIdentifier: root.record.keyIdentifier, signer: root.signer },
  });
  return caRecord(id, 'issuing', key.ref, cert, now, root.record.id, identity);
}
