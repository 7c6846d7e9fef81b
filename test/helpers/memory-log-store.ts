/**
 * The issuance log's ledger in memory (LogLedger), for sequencer and reading
 * tests that are not about DynamoDB. Like DynamoLogStore: a leaf put is
 * conditional on its index, the head's size moves conditionally, a queue item
 * leaves the queue only when unchanged since read, and every call yields to the
 * event loop first so that concurrent sequencers interleave.
 *
 * The queue's items are put here by the test: `putCertificate` (as every
 * certificate put queues it), `revoke`, `putLot`, `closeLot`.
 * `failNext(operation)` makes the next call of an operation throw before it
 * touches anything.
 */
import type { LogHead, LogKeys, LogKeyStore, LogLeaf, LogLedger, LotEffects, QueuedItem } from '../../src/log/ledger.js';
import { certificateKey, lotKey, lotQueueOrder } from '../../src/log/ledger.js';
import type { NodeHash, NodeId } from '../../src/log/merkle.js';
import type { CertificateRecord, LotRecord } from '../../src/service/ports.js';
import { issueOrder } from '../../src/store/table.js';

type Operation = keyof LogLedger | keyof LogKeyStore;
const tick = () => new Promise<void>((r) => setImmediate(r));
const copy = <T>(v: T): T => structuredClone(v);

interface Item {
  kind: 'certificate' | 'lot';
  value: CertificateRecord | LotRecord;
  queued: boolean;
  order: string;
}

export class MemoryLogStore implements LogLedger, LogKeyStore {
  head: LogHead | undefined;
  logKeys: LogKeys | undefined;
  readonly checkpointTimes = new Map<number, string>();
  readonly leaves = new Map<number, LogLeaf>();
  readonly ids = new Map<string, number>();
  readonly nodeHashes = new Map<string, Uint8Array>();
  readonly checkpoints = new Map<number, string>();
  readonly items = new Map<string, Item>();
  readonly #faults = new Map<Operation, Error>();

  failNext(operation: Operation, error = new Error(`injected fault in ${operation}`)): void {
    this.#faults.set(operation, error);
  }

  private async enter(operation: Operation): Promise<void> {
    await tick();
    const fault = this.#faults.get(operation);
    if (fault) {
      this.#faults.delete(operation);
      throw fault;
    }
  }

  // The test's side: what the certificate and lot stores write.
  putCertificate(record: CertificateRecord): void {
    this.items.set(certificateKey(record.serialNumber), { kind: 'certificate', value: copy(record), queued: true, order: issueOrder(record) });
  }

  revoke(serialNumber: string, revokedAt: string, reason: string): void {
    const item = this.items.get(certificateKey(serialNumber))!;
    item.value = { ...(item.value as CertificateRecord), status: 'REVOKED', revokedAt, revocationReason: reason };
    item.queued = true;
  }

  putLot(lot: LotRecord): void {
    this.items.set(lotKey(lot.lotId), { kind: 'lot', value: copy(lot), queued: true, order: lotQueueOrder(lot) });
  }

  updateLot(lotId: string, change: Partial<LotRecord>, queue = false): void {
    const item = this.items.get(lotKey(lotId))!;
    item.value = { ...(item.value as LotRecord), ...change };
    if (queue) item.queued = true;
  }

  lot(lotId: string): LotRecord | undefined {
    return copy(this.items.get(lotKey(lotId))?.value as LotRecord | undefined);
  }

  // LogLedger
  async getHead(): Promise<LogHead | undefined> {
    await this.enter('getHead');
    return copy(this.head);
  }

  async moveHead(expectedSize: number, head: { size: number; root: Uint8Array; updatedAt: string }): Promise<boolean> {
    await this.enter('moveHead');
    if ((this.head?.size ?? 0) !== expectedSize) return false;
    this.head = { ...this.head, size: head.size, root: new Uint8Array(head.root), updatedAt: head.updatedAt };
    return true;
  }

  async getLeaf(index: number): Promise<LogLeaf | undefined> {
    await this.enter('getLeaf');
    return copy(this.leaves.get(index));
  }

  async putLeaf(leaf: LogLeaf): Promise<boolean> {
    await this.enter('putLeaf');
    if (this.leaves.has(leaf.index)) return false;
    this.leaves.set(leaf.index, copy(leaf));
    return true;
  }

  async getEntryIndex(identity: string): Promise<number | undefined> {
    await this.enter('getEntryIndex');
    return this.ids.get(identity);
  }

  async putEntryIndexes(leaves: readonly Pick<LogLeaf, 'id' | 'index'>[]): Promise<void> {
    await this.enter('putEntryIndexes');
    for (const { id, index } of leaves) this.ids.set(id, index);
  }

  async putNodes(nodes: readonly NodeHash[]): Promise<void> {
    await this.enter('putNodes');
    for (const { id, hash } of nodes) this.nodeHashes.set(`${id.level}/${id.index}`, new Uint8Array(hash));
  }

  async nodes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    await this.enter('nodes');
    return ids.map(({ level, index }) => {
      const h = this.nodeHashes.get(`${level}/${index}`);
      if (!h) throw new Error(`log node (${level}, ${index}) is not stored`);
      return new Uint8Array(h);
    });
  }

  async recordCheckpoint(size: number, note: string, at: string, resigned = false): Promise<void> {
    await this.enter('recordCheckpoint');
    if (!this.checkpoints.has(size) || (resigned && this.checkpointTimes.get(size)! <= at)) {
      this.checkpoints.set(size, note);
      this.checkpointTimes.set(size, at);
    }
    if (this.head && (this.head.checkpointSize === undefined || this.head.checkpointSize < size || (resigned && this.head.checkpointSize === size && this.head.checkpointAt! <= at))) {
      this.head = { ...this.head, checkpoint: this.checkpoints.get(size)!, checkpointSize: size, checkpointAt: at };
    }
  }

  async markPublished(at: string): Promise<void> {
    await this.enter('markPublished');
    if (this.head && (this.head.publishedAt === undefined || this.head.publishedAt < at)) this.head = { ...this.head, publishedAt: at };
  }

  async getLogKeys(): Promise<LogKeys | undefined> {
    await this.enter('getLogKeys');
    return this.logKeys && copy(this.logKeys);
  }

  async putLogKeys(next: LogKeys, expected: number | undefined): Promise<boolean> {
    await this.enter('putLogKeys');
    if (this.logKeys?.version !== expected) return false;
    this.logKeys = copy(next);
    return true;
  }

  async getCheckpoint(size: number): Promise<string | undefined> {
    await this.enter('getCheckpoint');
    return this.checkpoints.get(size);
  }

  async queuePage(limit: number, after?: string): Promise<{ keys: string[]; next?: string }> {
    await this.enter('queuePage');
    const queued = [...this.items.entries()]
      .filter(([, i]) => i.queued)
      .map(([key, i]) => ({ key, sort: `${i.order}\u0000${key}` }))
      .sort((a, b) => (a.sort < b.sort ? -1 : a.sort > b.sort ? 1 : 0))
      .filter((k) => after === undefined || k.sort > after);
    const page = queued.slice(0, limit);
    return { keys: page.map((k) => k.key), ...(queued.length > limit ? { next: page[page.length - 1]!.sort } : {}) };
  }

  async getQueued(key: string): Promise<QueuedItem | undefined> {
    await this.enter('getQueued');
    const item = this.items.get(key);
    if (!item?.queued) return undefined;
    return item.kind === 'certificate' ? { kind: 'certificate', record: copy(item.value as CertificateRecord) } : { kind: 'lot', lot: copy(item.value as LotRecord) };
  }

  async dequeue(queued: QueuedItem): Promise<boolean> {
    await this.enter('dequeue');
    const key = queued.kind === 'certificate' ? certificateKey(queued.record.serialNumber) : lotKey(queued.lot.lotId);
    const item = this.items.get(key);
    const then = queued.kind === 'certificate' ? queued.record : queued.lot;
    if (!item || item.value.status !== then.status) return false;
    if (queued.kind === 'certificate' && (item.value as CertificateRecord).certificateId !== queued.record.certificateId) return false;
    item.queued = false;
    return true;
  }

  async getLot(lotId: string): Promise<LotRecord | undefined> {
    await this.enter('getLot');
    return this.lot(lotId);
  }

  async applyLotEffects(lotId: string, effects: LotEffects): Promise<void> {
    await this.enter('applyLotEffects');
    const item = this.items.get(lotKey(lotId));
    if (!item) return;
    const lot = { ...(item.value as LotRecord) };
    if (effects.logged !== undefined) lot.logged = Math.max(lot.logged ?? 0, effects.logged);
    if (effects.revoked !== undefined) lot.revoked = Math.max(lot.revoked ?? 0, effects.revoked);
    if (effects.openedLogIndex !== undefined) lot.openedLogIndex ??= effects.openedLogIndex;
    if (effects.closedLogIndex !== undefined) lot.closedLogIndex ??= effects.closedLogIndex;
    if (effects.closedCount !== undefined) lot.closedCount ??= effects.closedCount;
    item.value = lot;
  }
}
