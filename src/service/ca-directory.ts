import { CaError } from './errors.js';
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
    throw new CaError('INTERNAL', 'CA record is corrupt', { logDetail: `CA ${record.id}: certificatePem` });
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
      logDetail: `CA ${record.id}: signer public key differs from the certificate's`,
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
 * The CA chains by id, read from the store once per process (a CA id's
 * certificate never changes). Reading a certificate needs only its CA's chain,
 * never its key: the reading functions get this and nothing that signs.
 */
export class CaChains {
  private readonly chains = new Map<string, Promise<CaChain>>();

  constructor(protected readonly store: CaStore) {}

  /**
   * The chain of the CA that issues now, without its signer: reading the CA
   * needs no access to its key (GET /ca runs with a role that has none).
   */
  async activeChain(): Promise<CaChain> {
    return this.chain(await this.activeId());
  }

  /** The chain of an issuing CA by id (also for certificates issued before a rotation). */
  chain(id: string): Promise<CaChain> {
    return memo(this.chains, id, () => this.loadChain(id));
  }

  protected async activeId(): Promise<string> {
    const id = await this.store.getActiveIssuingCaId();
    if (!id) throw new CaError('CA_NOT_READY', 'No issuing CA has been set up yet', { retryAfterSeconds: 60 });
    return id;
  }

  private async loadChain(id: string): Promise<CaChain> {
    const record = await this.store.getCa(id);
    if (!record || record.role !== 'issuing') {
      throw new CaError('INTERNAL', 'Issuing CA record missing', { logDetail: `CA record ${id} not found` });
    }
    const root = record.parentId ? await this.store.getCa(record.parentId) : undefined;
    if (!root) throw new CaError('INTERNAL', 'Root CA record missing', { logDetail: `root of ${id} not found` });
    return {
      record,
      caCertificatePem: record.certificatePem,
      rootCertificatePem: root.certificatePem,
      chainPem: record.certificatePem + root.certificatePem,
    };
  }
}

/**
 * The chains, and the active issuing CA with its signer, built once. The active
 * CA is cached for `ttlMs` (a rotation is picked up within that time); signers,
 * which never change for a given id, for the life of the process.
 */
export class CaDirectory extends CaChains {
  private active: { value: Promise<IssuingCa>; expires: number } | undefined;
  private readonly issuers = new Map<string, Promise<IssuingCa>>();

  constructor(
    store: CaStore,
    private readonly signerFactory: SignerFactory,
    private readonly clock: Clock,
    private readonly ttlMs: number,
    /** CRL_BASE_URL: device certificates then name their CA's CRL, `<base>/crl/<CA id>.crl`. */
    private readonly crlBaseUrl?: string,
  ) {
    super(store);
  }

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
   * Whether `id` is still the active issuing CA, read from the ledger now (one
   * consistent read). When it is not, the cached active CA is dropped, so the
   * next request finds the new one at once.
   */
  async confirmActive(id: string): Promise<boolean> {
    const current = await this.store.getActiveIssuingCaId();
    if (current === id) return true;
    this.active = undefined;
    return false;
  }

  private async loadActive(): Promise<IssuingCa> {
    const id = await this.activeId();
    return memo(this.issuers, id, () => this.loadIssuer(id));
  }

  private async loadIssuer(id: string): Promise<IssuingCa> {
    const chain = await this.chain(id);
    const { record } = chain;
    const { signer, subjectDer } = await checkedSigner(this.signerFactory, record);
    const crlUrl = this.crlBaseUrl ? `${this.crlBaseUrl}/crl/${record.id}.crl` : undefined;
    return {
      ...chain,
      issuer: { subjectDer, keyIdentifier: record.keyIdentifier, notBefore: new Date(record.notBefore), notAfter: new Date(record.notAfter), signer, ...(crlUrl ? { crlUrl } : {}) },
    };
  }
}
