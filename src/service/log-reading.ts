/**
 * Reading the issuance log: the latest checkpoint, an entry with its inclusion
 * proof (by serial or by index), and consistency between two tree sizes. Every
 * proof is against a published checkpoint: the latest, or the one of the tree
 * size asked for.
 */
import { parseCheckpoint, parseNote } from '../log/checkpoint.js';
import { issuedIdentity, revokedIdentity } from '../log/entries.js';
import type { LogLedger } from '../log/ledger.js';
import { consistencyProof, inclusionProof, leafHash } from '../log/merkle.js';
import { CaError } from './errors.js';

export interface LogReadDeps {
  ledger: LogLedger;
}

export interface PublishedCheckpoint {
  /** The signed note. */
  checkpoint: string;
  treeSize: number;
  /** Lower-case hex. */
  rootHash: string;
}

export interface EntryProof {
  leafIndex: number;
  /** The entry's bytes, base64. */
  entry: string;
  /** Lower-case hex. */
  leafHash: string;
  auditPath: string[];
}

export interface LogProof extends EntryProof {
  treeSize: number;
  checkpoint: string;
  /** The certificate's revocation entry, when it is in the same tree. */
  revocation?: EntryProof;
}

export interface LogConsistency {
  from: number;
  to: number;
  consistencyPath: string[];
  checkpoint: string;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The latest checkpoint; CA_NOT_READY before the sequencer's first run. */
export async function latestCheckpoint(d: LogReadDeps): Promise<PublishedCheckpoint> {
  const head = await d.ledger.getHead();
  if (head?.checkpoint === undefined) throw new CaError('CA_NOT_READY', 'The issuance log has no checkpoint yet', { retryAfterSeconds: 60 });
  return published(head.checkpoint);
}

function published(note: string): PublishedCheckpoint {
  const checkpoint = parseCheckpoint(parseNote(note).text);
  return { checkpoint: note, treeSize: checkpoint.size, rootHash: hex(checkpoint.rootHash) };
}

/** The checkpoint of `treeSize` (the latest when absent); NOT_FOUND when none was published for that size. */
export async function checkpointOf(d: LogReadDeps, treeSize?: number): Promise<PublishedCheckpoint> {
  if (treeSize === undefined) return latestCheckpoint(d);
  const note = await d.ledger.getCheckpoint(treeSize);
  if (note === undefined) throw new CaError('NOT_FOUND', `No checkpoint was published for a tree of ${treeSize} entries`);
  return published(note);
}

async function entryProof(d: LogReadDeps, index: number, treeSize: number): Promise<EntryProof> {
  const [leaf, path] = await Promise.all([d.ledger.getLeaf(index), inclusionProof(index, treeSize, d.ledger)]);
  if (!leaf) throw new CaError('INTERNAL', 'The issuance log is incomplete', { logDetail: `leaf ${index} of a tree of ${treeSize} is missing` });
  return { leafIndex: index, entry: Buffer.from(leaf.entry).toString('base64'), leafHash: hex(leafHash(leaf.entry)), auditPath: path.map(hex) };
}

const notSequenced = (what: string, treeSize: number) =>
  new CaError('LOG_ENTRY_NOT_SEQUENCED', `${what} is not in the issuance log's tree of ${treeSize} entries (yet): the log's sequencer adds new entries within a minute (every few seconds locally)`);

/** A certificate's issuance entry with its proof, and its revocation entry when that is in the same tree. */
export async function proofBySerial(d: LogReadDeps, serialNumber: string, treeSize?: number): Promise<LogProof> {
  // The checkpoint and both identities at once; then the two proofs at once.
  const [cp, index, revokedAt] = await Promise.all([
    checkpointOf(d, treeSize),
    d.ledger.getEntryIndex(issuedIdentity(serialNumber)),
    d.ledger.getEntryIndex(revokedIdentity(serialNumber)),
  ]);
  if (index === undefined || index >= cp.treeSize) throw notSequenced(`The certificate ${serialNumber}`, cp.treeSize);
  const [proof, revocation] = await Promise.all([
    entryProof(d, index, cp.treeSize),
    revokedAt !== undefined && revokedAt < cp.treeSize ? entryProof(d, revokedAt, cp.treeSize) : Promise.resolve(undefined),
  ]);
  return { ...proof, treeSize: cp.treeSize, checkpoint: cp.checkpoint, ...(revocation ? { revocation } : {}) };
}

/** Any entry by its index, with its proof. */
export async function entryByIndex(d: LogReadDeps, index: number, treeSize?: number): Promise<LogProof> {
  const cp = await checkpointOf(d, treeSize);
  if (index >= cp.treeSize) throw notSequenced(`Entry ${index}`, cp.treeSize);
  return { ...(await entryProof(d, index, cp.treeSize)), treeSize: cp.treeSize, checkpoint: cp.checkpoint };
}

/** The consistency proof from the tree of `from` entries to the published tree of `to` entries. */
export async function consistency(d: LogReadDeps, from: number, to: number): Promise<LogConsistency> {
  if (from > to) throw new CaError('INVALID_REQUEST', `from (${from}) is at most to (${to})`);
  const cp = await checkpointOf(d, to);
  const path = from === 0 ? [] : await consistencyProof(from, to, d.ledger);
  return { from, to, consistencyPath: path.map(hex), checkpoint: cp.checkpoint };
}
