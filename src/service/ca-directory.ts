import { CaError } from '../pki/errors.js';
import { certificatesFromPem, findPemBlocks } from '../pki/pem.js';
import { childrenOf, encodedOf, readSingle } from '../pki/der.js';
import type { Issuer } from '../pki/profile.js';
import type { CaRecord, CaStore, Clock, SignerFactory } from './ports.js';

/** An issuing CA ready to sign: its record, its signer, and the PEMs clients need. */
export interface IssuingCa {
  record: CaRecord;
  issuer: Issuer;
  caCertificatePem: string;
  rootCertificatePem: string;
  /** Issuing CA followed by the root. */
  chainPem: string;
}

/** The subject Name and SubjectPublicKeyInfo of a certificate, as encoded. */
export function certificateParts(certDer: Uint8Array): { subjectDer: Uint8Array; spkiDer: Uint8Array } {
  const [tbs] = childrenOf(readSingle(certDer));
  const fields = childrenOf(tbs!);
  // TBSCertificate: [0] version, serial, signature, issuer, validity, subject, spki, …
  const offset = fields[0]!.tag === 0xa0 ? 1 : 0;
  return { subjectDer: encodedOf(fields[offset + 4]!), spkiDer: encodedOf(fields[offset + 5]!) };
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Finds the active issuing CA and builds its signer once. The active CA is cached
 * for `ttlMs` (a rotation is picked up within that time); CA records and signers,
 * which never change for a given id, are cached for the life of the process.
 */
export class CaDirectory {
  private active: { value: Promise<IssuingCa>; expires: number } | undefined;
  private readonly byId = new Map<string, Promise<IssuingCa>>();

  constructor(
    private readonly store: CaStore,
    private readonly signerFactory: SignerFactory,
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  /** The CA that issues now. Throws CA_NOT_READY when none has been set up. */
  activeIssuer(): Promise<IssuingCa> {
    const now = this.clock().getTime();
    if (this.active && this.active.expires > now) return this.active.value;
    const value = this.loadActive();
    this.active = { value, expires: now + this.ttlMs };
    value.catch(() => {
      if (this.active?.value === value) this.active = undefined;
    });
    return value;
  }

  /** An issuing CA by id (for certificates issued before a rotation). */
  issuer(id: string): Promise<IssuingCa> {
    let entry = this.byId.get(id);
    if (!entry) {
      entry = this.load(id);
      this.byId.set(id, entry);
      entry.catch(() => this.byId.delete(id));
    }
    return entry;
  }

  private async loadActive(): Promise<IssuingCa> {
    const id = await this.store.getActiveIssuingCaId();
    if (!id) throw new CaError('CA_NOT_READY', 'No issuing CA has been set up yet', { retryAfterSeconds: 60 });
    return this.issuer(id);
  }

  private async load(id: string): Promise<IssuingCa> {
    const record = await this.store.getCa(id);
    if (!record || record.role !== 'issuing') {
      throw new CaError('INTERNAL', 'Issuing CA record missing', { cause: new Error(`CA record ${id} not found`) });
    }
    const root = record.parentId ? await this.store.getCa(record.parentId) : undefined;
    if (!root) throw new CaError('INTERNAL', 'Root CA record missing', { cause: new Error(`root of ${id} not found`) });
    const [der] = certificatesFromPem(record.certificatePem);
    if (!der || findPemBlocks(record.certificatePem).length !== 1) {
      throw new CaError('INTERNAL', 'Issuing CA record is corrupt', { cause: new Error(`CA ${id} certificatePem`) });
    }
    const { subjectDer, spkiDer } = certificateParts(der);
    const signer = await this.signerFactory(record.key);
    if (!sameBytes(signer.publicKey, spkiDer)) {
      throw new CaError('INTERNAL', 'Issuing CA key does not match its certificate', {
        cause: new Error(`CA ${id}: signer public key differs from the certificate's`),
      });
    }
    return {
      record,
      issuer: { subjectDer, keyIdentifier: record.keyIdentifier, notAfter: new Date(record.notAfter), signer },
      caCertificatePem: record.certificatePem,
      rootCertificatePem: root.certificatePem,
      chainPem: record.certificatePem + root.certificatePem,
    };
  }
}
