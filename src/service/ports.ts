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
  /** AWS IoT registration (filled when the CA is registered for JITP). */
  iotCertificateId?: string;
  iotStatus?: string;
}

export type CertificateStatus = 'ISSUED' | 'REVOKED';

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
}

export interface CaStore {
  getCa(id: string): Promise<CaRecord | undefined>;
  /** Records a CA; false when a CA with that id exists already. */
  putCa(record: CaRecord): Promise<boolean>;
  getActiveIssuingCaId(): Promise<string | undefined>;
  /** Points issuance at `id`, only if the pointer still names `expected` (undefined: no pointer yet). */
  setActiveIssuingCa(id: string, expected: string | undefined): Promise<boolean>;
}

export type SignerFactory = (key: KeyReference) => Promise<Signer>;
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();
export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms));
