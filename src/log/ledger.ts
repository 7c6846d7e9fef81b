/**
 * The issuance log's ledger port: what the sequencer and the log's readers
 * need from the ledger's table. DynamoLogStore (src/store) implements it on
 * the certificate table; test/helpers/memory-log-store.ts in memory.
 *
 * Items: a leaf per index (its put, conditional on the index being free, is the
 * commit point), an identity → index item per entry, complete-subtree hashes,
 * the head (size, root, latest checkpoint; its size moves only conditionally)
 * and every published checkpoint. The queue is the sparse index of the
 * certificate and lot items with something not yet logged.
 */
import type { CertificateRecord, KeyReference, LotRecord } from '../service/ports.js';
import type { NodeHash, NodeReader } from './merkle.js';

export interface LogHead {
  size: number;
  /** The root hash of the tree of `size` leaves. */
  root: Uint8Array;
  /** The latest signed checkpoint (note text) and its tree size; absent before the first one. */
  checkpoint?: string;
  checkpointSize?: number;
  /** When the latest checkpoint was recorded. */
  checkpointAt?: string;
  /** The recording time of the latest checkpoint whose copy was put in the checkpoint store (S3, or the local state directory). */
  publishedAt?: string;
  updatedAt: string;
}

export interface LogLeaf {
  index: number;
  entry: Uint8Array;
  /** The entry's identity (see entryIdentity). */
  id: string;
}

/** A queue item, read consistently: a certificate or a lot with work for the log. */
export type QueuedItem = { kind: 'certificate'; record: CertificateRecord } | { kind: 'lot'; lot: LotRecord };

/** What one or more log entries did to a lot: every field a "max" or set-if-absent update. */
export interface LotEffects {
  logged?: number;
  revoked?: number;
  openedLogIndex?: number;
  closedLogIndex?: number;
  closedCount?: number;
}

/**
 * The log key's state: the generation that signs checkpoints (KMS alias
 * `<prefix>-log-<generation>`), and after a rotation the previous one, which
 * co-signs until `cosignUntil` so that a verifier holding either key accepts
 * every checkpoint of the transition. Absent before the first rotation: then
 * generation 1 signs alone.
 */
export interface LogKeys {
  /** Moves up by one at every change of the state: the condition of every write. */
  version: number;
  generation: number;
  /** When this generation began signing. */
  since: string;
  /** The KMS key (or local key file) of this generation, recorded when it was made or found. */
  key?: KeyReference;
  previous?: { generation: number; cosignUntil: string; key?: KeyReference };
  /**
   * Generations that sign no more, and when their key was disabled: retired once
   * their co-signing ended, or compromised (never co-signing again).
   */
  retired?: Array<{ generation: number; key?: KeyReference; reason: 'superseded' | 'keyCompromise'; at: string; disabledAt?: string }>;
}

/** The log key's state in the ledger: read by the sequencer, replaced (conditionally) by the key rotation. */
export interface LogKeyStore {
  /** The state, read consistently; undefined before the first rotation. */
  getLogKeys(): Promise<LogKeys | undefined>;
  /** Replaces the state only if its version is still `expected` (undefined: there is no state yet); false otherwise. */
  putLogKeys(next: LogKeys, expected: number | undefined): Promise<boolean>;
}

/** The generations that sign a checkpoint at `now`: the current one, and the previous one while it co-signs. */
export function signingGenerations(keys: LogKeys | undefined, now: Date): number[] {
  if (!keys) return [1];
  const { previous } = keys;
  return previous && now.getTime() < Date.parse(previous.cosignUntil) ? [keys.generation, previous.generation] : [keys.generation];
}

export interface LogLedger extends NodeReader, Pick<LogKeyStore, 'getLogKeys'> {
  /** The head, read consistently; undefined before the first entry. */
  getHead(): Promise<LogHead | undefined>;
  /** Moves the head from `expectedSize` (0 also when there is no head) to `head.size`; false when its size is no longer `expectedSize`. */
  moveHead(expectedSize: number, head: { size: number; root: Uint8Array; updatedAt: string }): Promise<boolean>;
  /** The leaf at `index`, read consistently. */
  getLeaf(index: number): Promise<LogLeaf | undefined>;
  /** Puts a leaf only if its index is free: false when another entry holds it. */
  putLeaf(leaf: LogLeaf): Promise<boolean>;
  /** The index of the entry with this identity, read consistently. */
  getEntryIndex(identity: string): Promise<number | undefined>;
  /** Records identity → index for each leaf (idempotent: the same leaf gives the same item). */
  putEntryIndexes(leaves: readonly Pick<LogLeaf, 'id' | 'index'>[]): Promise<void>;
  /** Writes complete-subtree hashes (deterministic from the leaves: rewriting one writes the same value). */
  putNodes(nodes: readonly NodeHash[]): Promise<void>;
  /**
   * Records a signed checkpoint of `size` leaves, and makes it the head's latest
   * unless a larger one is. With `resigned` (the same tree signed again by
   * another set of log keys) it replaces the note already kept for `size`.
   */
  recordCheckpoint(size: number, note: string, at: string, resigned?: boolean): Promise<void>;
  /** Notes that the checkpoint recorded at `at` was copied to the checkpoint store (never moves back). */
  markPublished(at: string): Promise<void>;
  /** The checkpoint published for `size` leaves. */
  getCheckpoint(size: number): Promise<string | undefined>;
  /** One page of the queue (an index: eventually consistent, in queue order): the keys of its items. */
  queuePage(limit: number, after?: string): Promise<{ keys: string[]; next?: string }>;
  /** A queue item by key, read consistently; undefined when it is gone or is no longer queued. */
  getQueued(key: string): Promise<QueuedItem | undefined>;
  /** Takes an item off the queue, only if it is unchanged (same status) since it was read; false otherwise. */
  dequeue(item: QueuedItem): Promise<boolean>;
  /** A lot, read consistently. */
  getLot(lotId: string): Promise<LotRecord | undefined>;
  /** Applies a lot's log effects: logged/revoked as max, the indexes and closedCount set if absent. */
  applyLotEffects(lotId: string, effects: LotEffects): Promise<void>;
}

/** The queue key of a certificate item and of a lot item. */
export const certificateKey = (serialNumber: string): string => `CERT#${serialNumber}`;
export const lotKey = (lotId: string): string => `LOT#${lotId}`;
/** A lot item's place in the queue (its gsi1sk): after what was issued before it opened. */
export const lotQueueOrder = (lot: Pick<LotRecord, 'openedAt' | 'lotId'>): string => `${lot.openedAt}#LOT#${lot.lotId}`;
