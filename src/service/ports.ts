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
  /** When its key was disabled because it was compromised (it signs nothing after). */
  keyDisabledAt?: string;
  /** Issuing CAs are numbered 1, 2, 3… in rotation order; the number is in the subject and the key alias. */
  generation?: number;
  /** The KMS alias (or local key name) the key is found by. */
  keyAlias?: string;
  /** AWS IoT registration (issuing CAs, for JITP). */
  iotCertificateId?: string;
  iotStatus?: string;
  iotRegisteredAt?: string;
}

/**
 * Every status a certificate record may have (GET /certificates?status= takes any of them).
 * ISSUED: valid. REVOKED: revoked by an operator. SUPERSEDED: set aside, either
 * signed and recorded but never delivered (the issuing CA was rotated away while
 * it was being issued, and the request was answered with a certificate of the new
 * CA instead), or replaced by its device's re-enrollment (EST simplereenroll:
 * `supersededBy` names the new certificate).
 */
export const CERTIFICATE_STATUSES = ['ISSUED', 'REVOKED', 'SUPERSEDED'] as const;
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
  /** When a certificate never delivered was set aside, or replaced by a re-enrollment (status SUPERSEDED). */
  supersededAt?: string;
  /** SUPERSEDED by a re-enrollment: the serial of the certificate that replaced it. */
  supersededBy?: string;
  /** A re-enrollment's certificate: the serial of the certificate it replaced. */
  replaces?: string;
  /** What AWS IoT says of a certificate replaced by a re-enrollment (see DeactivationOutcome); PENDING until AWS IoT answered. */
  iotDeactivation?: string;
  /** RFC 5280 CRLReason name. */
  revocationReason?: string;
  /** What AWS IoT says of the certificate after revocation (see RevocationOutcome). */
  iotRevocation?: string;
  /** The production lot it was issued under (a re-enrollment's certificate stays in its predecessor's lot). */
  lotId?: string;
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
  /**
   * Random, one per issuance request: a write whose answer was lost (a timeout,
   * a 5xx, an SDK retry that meets its own write) is recognised by it as ours.
   */
  token: string;
  /**
   * A re-enrollment's claim: the serial of the certificate it replaces. Until the
   * new certificate is recorded, the name stays that certificate's: a request
   * that dies leaves the name to it, never free.
   */
  replaces?: string;
}

/**
 * The key index: one entry per public key ever certified (or blocked), under the
 * SHA-256 of its SubjectPublicKeyInfo DER. IN_USE names the request that holds
 * the key, by its claim and token; the certificate is the one that claim names.
 * BLOCKED is final: a key on a revoked certificate, or on the operators' block list.
 */
export interface KeyEntry {
  spkiSha256: string;
  status: 'IN_USE' | 'BLOCKED';
  /** IN_USE: the claim (CN#… or CSR#…) and the token of the request that certified the key. */
  claimKey?: string;
  token?: string;
  /** IN_USE, indexed from the ledger afterwards (certificates issued before the key index): the certificate itself. */
  serialNumber?: string;
  /** BLOCKED: when, why (an RFC 5280 reason name), and by what: a revoked certificate's serial, or a block-list entry. */
  blockedAt?: string;
  reason?: string;
  blockedBySerial?: string;
  blockedByEntry?: string;
}

/**
 * What a ledger query filters by: at least one of them. Times are ISO 8601 UTC
 * in the form `Date.toISOString()` writes; `issuedAfter` is inclusive and
 * `issuedBefore` exclusive (consecutive windows neither overlap nor miss).
 */
export interface CertificateFilters {
  commonName?: string;
  lotId?: string;
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

/**
 * The ledger: conditional single-item writes only (no transactions). Every write
 * is idempotent for its own request: repeating it after a lost answer succeeds
 * (the claim by its token, the record by its certificate id), so a condition
 * failure always means another request's item.
 */
export interface CertificateStore {
  /** Creates the claim if its key is free (or already ours, by token); otherwise returns the claim that holds it. */
  claim(claim: Claim): Promise<Claim | undefined>;
  /** Replaces a claim only if it still names `expectedSerial` (or is already this one); false when someone else changed it. */
  replaceClaim(claim: Claim, expectedSerial: string): Promise<boolean>;
  /** Deletes a claim if it still names `serial` (best effort after a failure). */
  releaseClaim(key: string, serial: string): Promise<void>;
  /** The claim on a uniqueness key, if any (consistent read). */
  getClaim(key: string): Promise<Claim | undefined>;
  /**
   * Takes a public key for this request: creates its IN_USE entry if there is
   * none (or it is already this request's, by token); otherwise returns the entry.
   */
  claimKey(entry: KeyEntry & { status: 'IN_USE'; token: string }): Promise<KeyEntry | undefined>;
  /** Takes over an IN_USE entry only while it still names `expectedToken` (a request that died, or set its certificate aside). */
  replaceKeyClaim(entry: KeyEntry & { status: 'IN_USE'; token: string }, expectedToken: string): Promise<boolean>;
  /** Blocks a key for good (idempotent: the first block's time, reason and cause stand). Returns the entry, and whether this call blocked it. */
  blockKey(spkiSha256: string, block: { at: string; reason: string; serialNumber?: string; entry?: string }): Promise<{ entry: KeyEntry; changed: boolean }>;
  getKey(spkiSha256: string): Promise<KeyEntry | undefined>;
  /** Records a certificate; throws SerialCollisionError when another certificate holds the serial. */
  putCertificate(record: CertificateRecord): Promise<void>;
  /** Sets this request's own ISSUED record, never delivered, aside as SUPERSEDED (no-op for any other record). */
  supersedeCertificate(record: CertificateRecord, at: string): Promise<void>;
  /**
   * Marks `record` SUPERSEDED by its re-enrollment's certificate, only while it is
   * still ISSUED (same certificate id), or already superseded by that same
   * certificate (then only `iotDeactivation` changes: what AWS IoT answered).
   * Returns the record as stored afterwards (unchanged when the condition did not hold), undefined when there is none.
   */
  supersedeByReplacement(record: CertificateRecord, replacement: { supersededBy: string; supersededAt: string; iotDeactivation: string }): Promise<CertificateRecord | undefined>;
  getCertificate(serialNumber: string): Promise<CertificateRecord | undefined>;
  listByCommonName(commonName: string): Promise<CertificateRecord[]>;
  /**
   * One page of the certificates that match every filter, read through the most
   * selective index (no scan). A `next` that does not belong to these filters is
   * refused with INVALID_REQUEST.
   */
  listCertificates(query: CertificateQuery): Promise<CertificatePage>;
  /** Marks an ISSUED (or SUPERSEDED) certificate REVOKED; returns the record as stored (unchanged when it was revoked already). */
  revokeCertificate(serialNumber: string, revokedAt: string, reason: string): Promise<CertificateRecord | undefined>;
  /** Records what AWS IoT reported for a revoked certificate. */
  setIotRevocation(serialNumber: string, outcome: string): Promise<void>;
}

/** A revoked certificate as a CRL lists it. */
export interface RevokedEntry {
  serialNumber: string;
  revokedAt: string;
  /** RFC 5280 CRLReason name. */
  reason: string;
  notAfter: string;
}

/** The CRL last published for a CA. */
export interface PublishedCrl {
  crlNumber: number;
  thisUpdate: string;
  nextUpdate: string;
  entries: number;
  /** Where its DER is kept (a key of CrlObjects). */
  object: string;
}

/** A CA's CRL bookkeeping in the ledger. */
export interface CrlState {
  caId: string;
  /** The last CRL number handed out (a number is reserved before its CRL is built, so numbers may skip). */
  lastNumber: number;
  published?: PublishedCrl;
  /** Serials revoked since the published CRL was built: the next one must list them. */
  pending: string[];
}

/**
 * The ledger's side of CRLs: one item per CA. Reserving a number is an atomic
 * counter; recording a publication is conditional on no higher number being
 * published, so racing publishers never move the published CRL backwards.
 */
export interface CrlLedger {
  /** Notes a newly revoked serial for its CA's next CRL (idempotent). */
  markCrlPending(caId: string, serialNumber: string): Promise<void>;
  getCrlState(caId: string): Promise<CrlState | undefined>;
  /** Reserves the CA's next CRL number (1, 2, …). */
  reserveCrlNumber(caId: string): Promise<number>;
  /** Records `crl` as published unless a CRL with a number as high is; clears the pending serials it lists. */
  recordCrlPublished(caId: string, crl: PublishedCrl, listed: string[]): Promise<boolean>;
  /** Every revoked certificate an issuing CA issued (through the status index: a revocation of the last second may be missing, hence `pending`). */
  revokedOf(caId: string): AsyncIterable<RevokedEntry>;
}

/** Where published CRLs are kept: S3 in AWS, files under the state directory locally. */
export interface CrlObjects {
  put(key: string, der: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
}

/** Reading the whole ledger, page by page: for operator commands (re-indexing), never on a request path. */
export interface CertificateScan {
  /** One page of certificate records, in no particular order; `next` continues (an opaque token), absent at the end. */
  scanCertificates(page: { limit: number; after?: string }): Promise<{ records: CertificateRecord[]; next?: string }>;
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
  /** Facts about the ledger itself, such as since when its key index is complete. */
  getMarker(name: string): Promise<string | undefined>;
  putMarker(name: string, value: string): Promise<void>;
}

/** What a key signs: CA certificates (root), device certificates (issuing), the issuance log's checkpoints (log: always P-256). */
export type KeyPurpose = 'root' | 'issuing' | 'log';

/** The issuance log's key of a generation: `<prefix>-log-<generation>` (ECDSA P-256), which signs its checkpoints. */
export const logKeyAliasOf = (keyAliasPrefix: string, generation = 1): string => `${keyAliasPrefix}-log-${generation}`;

/** Creates and finds CA keys by alias (KMS, or software keys in local mode). Never deletes one. */
export interface KeyManager {
  /** The key `alias` names, if any; a key manager that can tell refuses a key not made for `purpose` by the CA. */
  findKey(alias: string, purpose: KeyPurpose): Promise<KeyReference | undefined>;
  /** Creates a signing key reachable through `alias`. Returns the key the alias names if another run created it first. */
  createKey(alias: string, purpose: KeyPurpose): Promise<KeyReference>;
  /** Makes a key unable to sign (a compromised issuing key); it stays, for the audit, and can be re-enabled by an administrator. */
  disableKey(key: KeyReference): Promise<void>;
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

/** What AWS IoT says of a device certificate replaced by a re-enrollment. */
export type DeactivationOutcome =
  /** The certificate was registered (JITP had run); its status is now INACTIVE. */
  | 'INACTIVE'
  /** AWS IoT has never seen it (the device never connected with it): nothing to deactivate. */
  | 'NOT_REGISTERED'
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
  /** Sets a device certificate INACTIVE (its device re-enrolled): it may no longer connect. */
  deactivateCertificate(certificateId: string): Promise<DeactivationOutcome>;
}

export type SignerFactory = (key: KeyReference) => Promise<Signer>;
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();
export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A production lot: a quota of certificates a contract manufacturer may have
 * issued for one product, optionally limited to some stations and to common
 * names of a narrower pattern, until it closes.
 */
export type LotStatus = 'OPEN' | 'CLOSED';
export interface LotRecord {
  lotId: string;
  product: string;
  /** How many certificates may be issued under the lot. */
  quota: number;
  /** A regular expression every common name issued under the lot must match in full (besides the policy's own rule). */
  commonNamePattern?: string;
  /** The station ids (or IAM identities) allowed to issue under the lot; every station when absent. */
  stations?: string[];
  /** When the lot closes by itself (ISO 8601 UTC). */
  closesAt: string;
  status: LotStatus;
  openedAt: string;
  openedBy: string;
  closedAt?: string;
  closedBy?: string;
  /**
   * Seats taken: certificates issued under the lot, and any request in flight.
   * A seat is taken atomically (only while `issued < quota`, the lot OPEN and
   * before `closesAt`) and given back only when its request certainly recorded
   * nothing, so the lot never issues more than its quota.
   */
  issued: number;
  /** Revocations of the lot's certificates, as the issuance log counts them (lotRevocationSeq of its last one). */
  revoked: number;
  /** The issuance log's count of the lot's issuance entries (lotSeq of its last one). */
  logged: number;
  /** Leaf indexes of the lot's own log entries, once sequenced. */
  openedLogIndex?: number;
  closedLogIndex?: number;
  /** The number of issuance entries the lot-closed entry states (its certificates are lotSeq 1..closedCount). */
  closedCount?: number;
}

/** The ledger's side of lots: one item per lot, its seats an atomic conditional counter. */
export interface LotStore {
  /** Creates the lot; when one exists under its id, nothing is written and that lot is returned. */
  createLot(lot: LotRecord): Promise<LotRecord | undefined>;
  getLot(lotId: string): Promise<LotRecord | undefined>;
  /**
   * Takes one seat: `issued` + 1 only while the lot is OPEN, `now` is before
   * `closesAt` and `issued < quota`, in one conditional write. Refused: the lot
   * as stored (undefined when there is none), to say why.
   */
  takeSeat(lotId: string, now: string): Promise<{ taken: true; lot: LotRecord } | { taken: false; lot: LotRecord | undefined }>;
  /** Gives a seat back (a request that certainly recorded nothing); never below zero. */
  releaseSeat(lotId: string): Promise<void>;
  /** Closes an OPEN lot; returns the lot as stored afterwards (unchanged when it was closed already), undefined when there is none. */
  closeLot(lotId: string, at: string, by: string): Promise<LotRecord | undefined>;
}
