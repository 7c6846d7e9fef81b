/**
 * The ledger and CA records in memory, for use-case tests that are about the
 * use case, not about DynamoDB. It keeps the semantics of DynamoStore (the
 * store contract test runs the same cases against both):
 * - every write is one conditional single-item write, applied at once (no
 *   await between the check and the write), so concurrent calls see each
 *   other's writes as they would in DynamoDB;
 * - what goes in and what comes out are copies: a caller never shares a
 *   mutable object with the store, and properties whose value is undefined
 *   are dropped, as the DynamoDB marshaller drops them;
 * - every call yields to the event loop first, as a network round trip does,
 *   so that concurrent requests interleave.
 *
 * - a ledger query runs the same planner, pages and tokens as DynamoStore
 *   (src/store/certificate-listing.ts) over an emulation of a DynamoDB Query
 *   on one index partition (DynamoDB's 1 MB read limit excepted).
 *
 * Faults are injected per operation with `failNext`: before the call touches
 * the data, or after a write has landed (the write is applied, the call still
 * fails: a timeout after DynamoDB applied it).
 */
import { CaError } from '../../src/service/errors.js';
import {
  SerialCollisionError,
  type CaRecord,
  type CaStore,
  type CertificatePage,
  type CertificateQuery,
  type CertificateRecord,
  type CertificateScan,
  type CertificateStore,
  type Claim,
  type KeyEntry,
  type CrlLedger,
  type CrlState,
  type PublishedCrl,
  type RevokedEntry,
} from '../../src/service/ports.js';
import { keyOf, listingPage, type PartitionPage, type PartitionQuery } from '../../src/store/certificate-listing.js';
import { ISSUE_ORDER_KEY, certificateIndexKeys } from '../../src/store/table.js';

export type StoreOperation = keyof CertificateStore | keyof CaStore | keyof CertificateScan | keyof CrlLedger;

export interface StoreFault {
  /**
   * `before`: the call fails and changes nothing. `after`: the call's write lands,
   * then the call fails. `retried`: the write lands, its answer is lost, and the
   * SDK sends the same request again, whose answer (meeting the first write) is
   * what the caller gets.
   */
  when?: 'before' | 'after' | 'retried';
  /** How many calls of the operation go through before the one that fails. */
  skip?: number;
  /** What the call throws; by default what DynamoStore throws for a throttled or timed-out request. */
  error?: Error;
}

/** What DynamoStore throws for a transient DynamoDB failure. */
export const storeUnavailable = (): CaError =>
  new CaError('STORE_UNAVAILABLE', 'The certificate ledger is temporarily unavailable', { retryAfterSeconds: 2, cause: new Error('injected store fault') });

/** What DynamoStore throws for a throttled request: DynamoDB refused it, nothing was written. */
export const storeThrottled = (): CaError =>
  new CaError('STORE_UNAVAILABLE', 'The certificate ledger is temporarily unavailable', { retryAfterSeconds: 2, notApplied: true, cause: new Error('injected throttling') });

/** A deep copy through the marshaller's eyes: plain data only, undefined properties dropped. */
const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** GSI sort key of DynamoStore's common-name index: issue time, then serial. */
const issueOrder = (r: CertificateRecord) => `${r.issuedAt}#${r.serialNumber}`;

export class MemoryStore implements CertificateStore, CaStore, CertificateScan, CrlLedger {
  /** Every call, in order (a call that an injected fault made fail included). */
  readonly calls: StoreOperation[] = [];
  private readonly claims = new Map<string, Claim>();
  private readonly keys = new Map<string, KeyEntry>();
  private readonly certificates = new Map<string, CertificateRecord>();
  private readonly cas = new Map<string, CaRecord>();
  private activeIssuingCaId: string | undefined;
  private readonly markers = new Map<string, string>();
  private readonly crls = new Map<string, { lastNumber: number; published?: PublishedCrl; pending: Set<string> }>();
  private readonly faults = new Map<StoreOperation, Array<Required<StoreFault>>>();

  /** The next call of `operation` (after `skip` others) fails; faults of one operation are used in the order given. */
  failNext(operation: StoreOperation, fault: StoreFault = {}): this {
    const queue = this.faults.get(operation) ?? [];
    queue.push({ when: fault.when ?? 'before', skip: fault.skip ?? 0, error: fault.error ?? storeUnavailable() });
    this.faults.set(operation, queue);
    return this;
  }

  /** How many calls of `operation` were made. */
  count(operation: StoreOperation): number {
    return this.calls.filter((c) => c === operation).length;
  }

  private takeFault(operation: StoreOperation): Required<StoreFault> | undefined {
    const queue = this.faults.get(operation);
    const next = queue?.[0];
    if (!next) return undefined;
    if (next.skip > 0) {
      next.skip--;
      return undefined;
    }
    queue.shift();
    return next;
  }

  /** Runs one operation: `apply` checks and writes in one go, as one conditional DynamoDB request does. */
  private async run<T>(operation: StoreOperation, apply: () => T): Promise<T> {
    this.calls.push(operation);
    await yieldToEventLoop();
    const fault = this.takeFault(operation);
    if (fault?.when === 'before') throw fault.error;
    const result = apply();
    if (fault?.when === 'after') throw fault.error;
    if (fault?.when === 'retried') return apply();
    return result;
  }

  claim(claim: Claim): Promise<Claim | undefined> {
    return this.run('claim', () => {
      const holder = this.claims.get(claim.key);
      if (holder && holder.token !== claim.token) return copy(holder);
      this.claims.set(claim.key, copy(claim));
      return undefined;
    });
  }

  replaceClaim(claim: Claim, expectedSerial: string): Promise<boolean> {
    return this.run('replaceClaim', () => {
      const held = this.claims.get(claim.key);
      const ours = held?.token === claim.token && held.serialNumber === claim.serialNumber;
      if (held?.serialNumber !== expectedSerial && !ours) return false;
      this.claims.set(claim.key, copy(claim));
      return true;
    });
  }

  releaseClaim(key: string, serial: string): Promise<void> {
    return this.run('releaseClaim', () => {
      if (this.claims.get(key)?.serialNumber === serial) this.claims.delete(key);
    });
  }

  getClaim(key: string): Promise<Claim | undefined> {
    return this.run('getClaim', () => {
      const claim = this.claims.get(key);
      return claim && copy(claim);
    });
  }

  claimKey(entry: KeyEntry & { status: 'IN_USE'; token: string }): Promise<KeyEntry | undefined> {
    return this.run('claimKey', () => {
      const holder = this.keys.get(entry.spkiSha256);
      if (holder && holder.token !== entry.token) return copy(holder);
      this.keys.set(entry.spkiSha256, copy(entry));
      return undefined;
    });
  }

  replaceKeyClaim(entry: KeyEntry & { status: 'IN_USE'; token: string }, expectedToken: string): Promise<boolean> {
    return this.run('replaceKeyClaim', () => {
      const held = this.keys.get(entry.spkiSha256);
      if (held?.status !== 'IN_USE' || (held.token !== expectedToken && held.token !== entry.token)) return false;
      this.keys.set(entry.spkiSha256, copy(entry));
      return true;
    });
  }

  blockKey(spkiSha256: string, block: { at: string; reason: string; serialNumber?: string; entry?: string }): Promise<{ entry: KeyEntry; changed: boolean }> {
    return this.run('blockKey', () => {
      const held = this.keys.get(spkiSha256);
      const entry: KeyEntry = {
        ...held,
        spkiSha256,
        status: 'BLOCKED',
        blockedAt: held?.blockedAt ?? block.at,
        reason: held?.reason ?? block.reason,
        ...(block.serialNumber || held?.blockedBySerial ? { blockedBySerial: held?.blockedBySerial ?? block.serialNumber } : {}),
        ...(block.entry || held?.blockedByEntry ? { blockedByEntry: held?.blockedByEntry ?? block.entry } : {}),
      };
      this.keys.set(spkiSha256, copy(entry));
      return { entry: copy(entry), changed: held?.status !== 'BLOCKED' };
    });
  }

  getMarker(name: string): Promise<string | undefined> {
    return this.run('getMarker', () => this.markers.get(name));
  }

  putMarker(name: string, value: string): Promise<void> {
    return this.run('putMarker', () => void this.markers.set(name, value));
  }

  scanCertificates(page: { limit: number; after?: string }): Promise<{ records: CertificateRecord[]; next?: string }> {
    return this.run('scanCertificates', () => {
      const all = [...this.certificates.keys()].sort();
      const from = page.after ? all.findIndex((k) => k > page.after!) : 0;
      const slice = from < 0 ? [] : all.slice(from, from + page.limit);
      const last = slice.at(-1);
      return { records: slice.map((k) => copy(this.certificates.get(k)!)), ...(last && from + page.limit < all.length ? { next: last } : {}) };
    });
  }

  getKey(spkiSha256: string): Promise<KeyEntry | undefined> {
    return this.run('getKey', () => {
      const entry = this.keys.get(spkiSha256);
      return entry && copy(entry);
    });
  }

  putCertificate(record: CertificateRecord): Promise<void> {
    return this.run('putCertificate', () => {
      const held = this.certificates.get(record.serialNumber);
      if (held && held.certificateId !== record.certificateId) throw new SerialCollisionError(record.serialNumber);
      this.certificates.set(record.serialNumber, copy(record));
    });
  }

  supersedeCertificate(record: CertificateRecord, at: string): Promise<void> {
    return this.run('supersedeCertificate', () => {
      const stored = this.certificates.get(record.serialNumber);
      if (stored?.status === 'ISSUED' && stored.certificateId === record.certificateId) {
        this.certificates.set(record.serialNumber, { ...copy(record), status: 'SUPERSEDED', supersededAt: at });
      }
    });
  }

  supersedeByReplacement(record: CertificateRecord, replacement: { supersededBy: string; supersededAt: string; iotDeactivation: string }): Promise<CertificateRecord | undefined> {
    return this.run('supersedeByReplacement', () => {
      const stored = this.certificates.get(record.serialNumber);
      if (!stored || stored.certificateId !== record.certificateId) return this.certificate(record.serialNumber);
      const again = stored.status === 'SUPERSEDED' && stored.supersededBy === replacement.supersededBy;
      if (stored.status !== 'ISSUED' && !again) return this.certificate(record.serialNumber);
      this.certificates.set(record.serialNumber, {
        ...stored,
        status: 'SUPERSEDED',
        supersededBy: replacement.supersededBy,
        supersededAt: again ? stored.supersededAt! : replacement.supersededAt,
        iotDeactivation: replacement.iotDeactivation,
      });
      return this.certificate(record.serialNumber);
    });
  }

  getCertificate(serialNumber: string): Promise<CertificateRecord | undefined> {
    return this.run('getCertificate', () => this.certificate(serialNumber));
  }

  listByCommonName(commonName: string): Promise<CertificateRecord[]> {
    return this.run('listByCommonName', () =>
      [...this.certificates.values()]
        .filter((r) => r.commonName !== undefined && r.commonName === commonName)
        .sort((a, b) => (issueOrder(a) < issueOrder(b) ? -1 : issueOrder(a) > issueOrder(b) ? 1 : 0))
        .map(copy),
    );
  }

  async listCertificates(query: CertificateQuery): Promise<CertificatePage> {
    // A read: an injected fault fails it before anything is read.
    await this.run('listCertificates', () => undefined);
    return listingPage(query, async (q) => this.queryPartition(q));
  }

  /**
   * A DynamoDB Query on one index partition: the partition's items in sort key
   * order, after the start key and inside the range; `limit` of them read, the
   * filters applied to what was read, and the last key read whenever the read
   * stopped at `limit`.
   */
  private queryPartition({ index, partition, range, filters, limit, startKey }: PartitionQuery): PartitionPage {
    const after = startKey?.[ISSUE_ORDER_KEY];
    const inPartition = [...this.certificates.values()]
      .map((record) => ({ record, keys: certificateIndexKeys(record) }))
      .filter(({ keys }) => keys[index.partitionKey] === partition)
      .map(({ record, keys }) => ({ record, order: keys[ISSUE_ORDER_KEY]! }))
      .filter(({ order }) => (range.from === undefined || order >= range.from) && (range.to === undefined || order <= range.to) && (after === undefined || order > after))
      .sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    const read = inPartition.slice(0, limit).map(({ record }) => record);
    const last = read.length === limit ? read.at(-1) : undefined;
    return {
      records: read.filter((r) => Object.entries(filters).every(([field, value]) => r[field as keyof CertificateRecord] === value)).map(copy),
      ...(last ? { lastKey: keyOf(index, partition, last) } : {}),
    };
  }

  revokeCertificate(serialNumber: string, revokedAt: string, reason: string): Promise<CertificateRecord | undefined> {
    return this.run('revokeCertificate', () => {
      const stored = this.certificates.get(serialNumber);
      if (stored?.status === 'ISSUED' || stored?.status === 'SUPERSEDED') this.certificates.set(serialNumber, { ...stored, status: 'REVOKED', revokedAt, revocationReason: reason });
      return this.certificate(serialNumber);
    });
  }

  setIotRevocation(serialNumber: string, outcome: string): Promise<void> {
    return this.run('setIotRevocation', () => {
      const stored = this.certificates.get(serialNumber);
      // DynamoStore: a failed attribute_exists condition is not transient, so INTERNAL.
      if (!stored) throw new CaError('INTERNAL', 'The certificate ledger failed', { cause: new Error(`no certificate ${serialNumber}`) });
      this.certificates.set(serialNumber, { ...stored, iotRevocation: outcome });
    });
  }

  getCa(id: string): Promise<CaRecord | undefined> {
    return this.run('getCa', () => {
      const r = this.cas.get(id);
      return r && copy(r);
    });
  }

  putCa(record: CaRecord): Promise<boolean> {
    return this.run('putCa', () => {
      if (this.cas.has(record.id)) return false;
      this.cas.set(record.id, copy(record));
      return true;
    });
  }

  updateCa(record: CaRecord): Promise<void> {
    return this.run('updateCa', () => {
      if (!this.cas.has(record.id)) {
        throw new CaError('INTERNAL', 'CA record missing', { cause: new Error(`CA record ${record.id} does not exist`) });
      }
      this.cas.set(record.id, copy(record));
    });
  }

  getActiveIssuingCaId(): Promise<string | undefined> {
    return this.run('getActiveIssuingCaId', () => this.activeIssuingCaId);
  }

  setActiveIssuingCa(id: string, expected: string | undefined): Promise<boolean> {
    return this.run('setActiveIssuingCa', () => {
      if (this.activeIssuingCaId !== expected) return false;
      this.activeIssuingCaId = id;
      return true;
    });
  }

  private certificate(serialNumber: string): CertificateRecord | undefined {
    const r = this.certificates.get(serialNumber);
    return r && copy(r);
  }

  private crlItem(caId: string) {
    let item = this.crls.get(caId);
    if (!item) this.crls.set(caId, (item = { lastNumber: 0, pending: new Set() }));
    return item;
  }

  markCrlPending(caId: string, serialNumber: string): Promise<void> {
    return this.run('markCrlPending', () => void this.crlItem(caId).pending.add(serialNumber));
  }

  getCrlState(caId: string): Promise<CrlState | undefined> {
    return this.run('getCrlState', () => {
      const item = this.crls.get(caId);
      if (!item) return undefined;
      return copy({ caId, lastNumber: item.lastNumber, ...(item.published ? { published: item.published } : {}), pending: [...item.pending].sort() });
    });
  }

  reserveCrlNumber(caId: string): Promise<number> {
    return this.run('reserveCrlNumber', () => ++this.crlItem(caId).lastNumber);
  }

  recordCrlPublished(caId: string, crl: PublishedCrl, listed: string[]): Promise<boolean> {
    return this.run('recordCrlPublished', () => {
      const item = this.crlItem(caId);
      if (item.published && item.published.crlNumber >= crl.crlNumber) return false;
      item.published = copy(crl);
      for (const s of listed) item.pending.delete(s);
      return true;
    });
  }

  async *revokedOf(caId: string): AsyncIterable<RevokedEntry> {
    const found = await this.run('revokedOf', () =>
      [...this.certificates.values()].filter((r) => r.status === 'REVOKED' && r.issuingCaId === caId),
    );
    for (const r of found) yield { serialNumber: r.serialNumber, revokedAt: r.revokedAt!, reason: r.revocationReason ?? 'unspecified', notAfter: r.notAfter };
  }
}
