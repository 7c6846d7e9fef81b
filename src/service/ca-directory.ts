import { CaError } from '../pki/errors.js';
import { findPemBlocks } from '../pki/pem.js';
import { certificateParts } from '../pki/certificate.js';
import type { Issuer } from '../pki/profile.js';
import type { Signer } from '../pki/signer.js';
import type { CaRecord, CaStore, Clock, SignerFactory } from './ports.js';

/** An issuing CA as clients see it: its record and the PEMs of its chain. */
export interface CaChain {
  record: CaRecord;
  caCertificatePem: string;
  rootCertificatePem: string;
  /** Issuing CA followed by the root. */
  chainPem: string;
}

/** An issuing CA ready to sign: its chain and its signer. */
export interface IssuingCa extends CaChain {
  issuer: Issuer;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

/** The DER of a CA record's certificate (exactly one CERTIFICATE block), or INTERNAL. */
export function caCertificateDer(record: CaRecord): Uint8Array {
  const blocks = findPemBlocks(record.certificatePem);
  const [block] = blocks;
  if (blocks.length !== 1 || !block || !('der' in block) || block.label !== 'CERTIFICATE') {
    throw new CaError('INTERNAL', 'CA record is corrupt', { cause: new Error(`CA ${record.id}: certificatePem`) });
  }
  return block.der;
}

/**
 * The signer of a CA record, refused (INTERNAL) unless its public key is the
 * certificate's: a wrong key must fail before it signs anything. Also returns
 * the certificate's subject, the issuer name of what the CA signs.
 */
export async function checkedSigner(signerFactory: SignerFactory, record: CaRecord): Promise<{ signer: Signer; subjectDer: Uint8Array }> {
  const { subjectDer, spkiDer } = certificateParts(caCertificateDer(record));
  const signer = await signerFactory(record.key);
  if (!sameBytes(signer.publicKey, spkiDer)) {
    throw new CaError('INTERNAL', 'A CA key does not match its certificate', {
      cause: new Error(`CA ${record.id}: signer public key differs from the certificate's`),
    });
  }
  return { signer, subjectDer };
}

/** Caches a promise per key, forgetting it if it rejects. */
function memo<T>(map: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let entry = map.get(key);
  if (!entry) {
    entry = load();
    map.set(key, entry);
    entry.catch(() => map.delete(key));
  }
  return entry;
}

/**
 * Finds the active issuing CA and builds its signer once. The active CA is cached
 * for `ttlMs` (a rotation is picked up within that time); CA chains and signers,
 * which never change for a given id, are cached for the life of the process.
 * Reading a certificate needs only its CA's chain, never its key.
 */
export class CaDirectory {
  private active: { value: Promise<IssuingCa>; expires: number } | undefined;
  private readonly chains = new Map<string, Promise<CaChain>>();
  private readonly issuers = new Map<string, Promise<IssuingCa>>();

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

  /**
   * The chain of the CA that issues now, without its signer: reading the CA
   * needs no access to its key (GET /ca runs with a role that has none).
   */
  async activeChain(): Promise<CaChain> {
    const id = await this.store.getActiveIssuingCaId();
    if (!id) throw new CaError('CA_NOT_READY', 'No issuing CA has been set up yet', { retryAfterSeconds: 60 });
    return this.chain(id);
  }

  /** The chain of an issuing CA by id (also for certificates issued before a rotation). */
  chain(id: string): Promise<CaChain> {
    return memo(this.chains, id, () => this.loadChain(id));
  }

  private async loadActive(): Promise<IssuingCa> {
    const id = await this.store.getActiveIssuingCaId();
    if (!id) throw new CaError('CA_NOT_READY', 'No issuing CA has been set up yet', { retryAfterSeconds: 60 });
    return memo(this.issuers, id, () => this.loadIssuer(id));
  }

  private async loadChain(id: string): Promise<CaChain> {
    const record = await this.store.getCa(id);
    if (!record || record.role !== 'issuing') {
      throw new CaError('INTERNAL', 'Issuing CA record missing', { cause: new Error(`CA record ${id} not found`) });
    }
    const root = record.parentId ? await this.store.getCa(record.parentId) : undefined;
    if (!root) throw new CaError('INTERNAL', 'Root CA record missing', { cause: new Error(`root of ${id} not found`) });
    return {
      record,
      caCertificatePem: record.certificatePem,
      rootCertificatePem: root.certificatePem,
      chainPem: record.certificatePem + root.certificatePem,
    };
  }

  private async loadIssuer(id: string): Promise<IssuingCa> {
    const chain = await this.chain(id);
    const { record } = chain;
    const { signer, subjectDer } = await checkedSigner(this.signerFactory, record);
    return { ...chain, issuer: { subjectDer, keyIdentifier: record.keyIdentifier, notAfter: new Date(record.notAfter), signer } };
  }
}
