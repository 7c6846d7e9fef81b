import type { Signer } from '../pki/signer.js';

/** Where a CA's private key lives. The signer factory turns it into a Signer. */
export type KeyReference =
  | { kind: 'kms'; keyId: string }
  /** A PKCS#8 PEM file under the local state directory (local mode and tests only). */
  | { kind: 'software'; file: string };

export type CaRole = 'root' | 'issuing';
export type CaStatus = 'PENDING' | 'ACTIVE' | 'RETIRED';

export interface CaRecord {
  id: string;
  role: CaRole;
  /** For an issuing CA: the id of the root that signed it. */
  parentId?: string;
  key: KeyReference;
  certificatePem: string;
  /** Lower-case hex SHA-256 of the certificate DER. */
  fingerprintSha256: string;
  subject: string;
  /** Key identifier (hex) of the CA key: the authorityKeyIdentifier of what it signs. */
  keyIdentifier: string;
  notBefore: string;
  notAfter: string;
  status: CaStatus;
  createdAt: string;
  activatedAt?: string;
  retiredAt?: string;
  /** Issuing CAs are numbered 1, 2, 3… in rotation order; the number is in the subject and the key alias. */
  generation?: number;
  /** The KMS alias (or local key name) the key is found by. */
  keyAlias?: string;
  /** AWS IoT registration (issuing CAs, for JITP). */
  iotCertificateId?: string;
  iotStatus?: string;
  iotRegisteredAt?: string;
}

/** Every status a certificate record may have (GET /certificates?status= takes any of them). */
export const CERTIFICATE_STATUSES = ['ISSUED', 'REVOKED'] as const;
export type CertificateStatus = (typeof CERTIFICATE_STATUSES)[number];

export interface CertificateRecord {
  serialNumber: string;
  certificateId: string;
  profile: string;
  subject: Record<string, string>;
  subjectDn: string;
  commonName?: string;
  issuingCaId: string;
  notBefore: string;
  notAfter: string;
  csrSha256: string;
  publicKeySha256: string;
  stationId: string;
  certificatePem: string;
  status: CertificateStatus;
  issuedAt: string;
  revokedAt?: string;
  /** RFC 5280 CRLReason name. */
  revocationReason?: string;
  /** What AWS IoT says of the certificate after revocation (see RevocationOutcome). */
  iotRevocation?: string;
}

/**
 * A claim reserves a uniqueness key (a common name, or a CSR when duplicates are
 * allowed) for one serial while it is being issued. It counts as held only while
 * its certificate record exists or its lease has not expired, so a request that
 * dies between claiming and recording never blocks the name for good.
 */
export interface Claim {
  key: string;
  serialNumber: string;
  csrSha256: string;
  /** Epoch milliseconds after which an unconfirmed claim may be taken over. */
  leaseExpiresAt: number;
}

/**
 * What a ledger query filters by: at least one of them. Times are ISO 8601 UTC
 * in the form `Date.toISOString()` writes; `issuedAfter` is inclusive and
 * `issuedBefore` exclusive (consecutive windows neither overlap nor miss).
 */
export interface CertificateFilters {
  commonName?: string;
  issuingCaId?: string;
  stationId?: string;
  status?: CertificateStatus;
  issuedAfter?: string;
  issuedBefore?: string;
}

export interface CertificateQuery {
  filters: CertificateFilters;
  /** The most records the store reads for the page (a page holds fewer when other filters drop some). */
  limit: number;
  /** The `next` of the previous page: opaque, valid only with the filters that produced it. */
  next?: string;
}

export interface CertificatePage {
  /** In issue order (issuedAt, then serial). */
  records: CertificateRecord[];
  /** Present while the query may have more records. */
  next?: string;
}

export class SerialCollisionError extends Error {
  constructor(serial: string) {
    super(`serial ${serial} is already recorded`);
    this.name = 'SerialCollisionError';
  }
}

/** The ledger: conditional single-item writes only (no transactions). */
export interface CertificateStore {
  /** Creates the claim if its key is free; otherwise returns the claim that holds it. */
  claim(claim: Claim): Promise<Claim | undefined>;
  /** Replaces a claim only if it still names `expectedSerial`; false when someone else changed it. */
  replaceClaim(claim: Claim, expectedSerial: string): Promise<boolean>;
  /** Deletes a claim if it still names `serial` (best effort after a failure). */
  releaseClaim(key: string, serial: string): Promise<void>;
  /** Records a certificate; throws SerialCollisionError when the serial is taken. */
  putCertificate(record: CertificateRecord): Promise<void>;
  getCertificate(serialNumber: string): Promise<CertificateRecord | undefined>;
  listByCommonName(commonName: string): Promise<CertificateRecord[]>;
  /**
   * One page of the certificates that match every filter, read through the most
   * selective index (no scan). A `next` that does not belong to these filters is
   * refused with INVALID_REQUEST.
   */
  listCertificates(query: CertificateQuery): Promise<CertificatePage>;
  /** Marks an ISSUED certificate REVOKED; returns the record as stored (unchanged when it was revoked already). */
  revokeCertificate(serialNumber: string, revokedAt: string, reason: string): Promise<CertificateRecord | undefined>;
  /** Records what AWS IoT reported for a revoked certificate. */
  setIotRevocation(serialNumber: string, outcome: string): Promise<void>;
}

export interface CaStore {
  getCa(id: string): Promise<CaRecord | undefined>;
  /** Records a CA; false when a CA with that id exists already. */
  putCa(record: CaRecord): Promise<boolean>;
  getActiveIssuingCaId(): Promise<string | undefined>;
  /** Points issuance at `id`, only if the pointer still names `expected` (undefined: no pointer yet). */
  setActiveIssuingCa(id: string, expected: string | undefined): Promise<boolean>;
  /** Replaces an existing CA record (status, AWS IoT registration); never creates one. */
  updateCa(record: CaRecord): Promise<void>;
}

/** Creates and finds CA keys by alias (KMS, or software keys in local mode). Never deletes one. */
export interface KeyManager {
  /** The key `alias` names, if any; a key manager that can tell refuses a key not made for `purpose` by the CA. */
  findKey(alias: string, purpose: 'root' | 'issuing'): Promise<KeyReference | undefined>;
  /** Creates a signing key reachable through `alias`. Returns the key the alias names if another run created it first. */
  createKey(alias: string, purpose: 'root' | 'issuing'): Promise<KeyReference>;
}

/** AWS IoT's view of a registered CA certificate. */
export interface IotCaRegistration {
  certificateId: string;
  status: string;
  autoRegistration: boolean;
  templateBody?: string;
  roleArn?: string;
}

export interface IotCaRegistrationRequest {
  /** The id AWS IoT will give the CA (SHA-256 of its DER), to find a registration an earlier run made. */
  certificateId: string;
  caCertificatePem: string;
  /** For the dry-run bundle: the root the CA chains to. */
  rootCertificatePem: string;
  verificationCertificatePem: string;
  templateBody: string;
  roleArn: string;
  tags: Record<string, string>;
}

/** What revoking a device certificate did in AWS IoT. */
export type RevocationOutcome =
  /** The certificate was registered (JITP had run); its status is now REVOKED. */
  | 'REVOKED'
  /** JITP had not registered it yet; it is now registered as REVOKED, so a later first connection is refused. */
  | 'REGISTERED_AS_REVOKED'
  /** Local mode: nothing was sent; the request is recorded in the bundle. */
  | 'DRY_RUN';

/** The AWS IoT calls the CA lifecycle needs (or a dry run that writes them down). */
export interface IotRegistrar {
  readonly mode: 'aws' | 'dry-run';
  getRegistrationCode(): Promise<string>;
  /** The registration of a CA certificate by its id (AWS IoT's id is the SHA-256 of the DER). */
  describeCa(certificateId: string): Promise<IotCaRegistration | undefined>;
  registerCa(request: IotCaRegistrationRequest): Promise<IotCaRegistration>;
  /** Sets the template and role, ACTIVE, auto-registration on. */
  updateCa(certificateId: string, update: { templateBody: string; roleArn: string }): Promise<IotCaRegistration>;
  revokeCertificate(certificate: { certificateId: string; certificatePem: string; caCertificatePem: string }): Promise<RevocationOutcome>;
}

export type SignerFactory = (key: KeyReference) => Promise<Signer>;
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();
export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms));
