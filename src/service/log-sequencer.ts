/**
 * The issuance log's sequencer: one run appends what the queue holds to the
 * log, moves the head and signs a checkpoint.
 *
 * 1. Roll forward: leaves a run before this one committed (its leaf put
 *    landed) past the head are adopted: their identity items, lot effects and
 *    node hashes are written again (all idempotent) and the head moved.
 * 2. Read the queue; for each item, the entries it still needs (deduped by
 *    identity, consistently).
 * 3. Put leaves at consecutive indexes, one after the other, each only if its
 *    index is free: the put is the commit point, and a taken index means
 *    another sequencer is at work (this run stops; the next rolls forward).
 *    Then identities, lot effects, node hashes, the head (conditionally), the
 *    queue markers (only where the item is unchanged since read).
 * 4. Sign a checkpoint when the log grew.
 *
 * Leaves are put in order, one at a time, so two sequencers never interleave:
 * the loser's first put meets the winner's leaf, and everything before its
 * first put was adopted (its identities written) before it read the queue.
 */
import { encodeEntry, decodeEntry, entryIdentity, issuedIdentity, lotClosedIdentity, lotOpenedIdentity, revokedIdentity, EntryError, type LogEntry } from '../log/entries.js';
import { formatCheckpoint, noteKey, parseNote, signNote } from '../log/checkpoint.js';
import { signingGenerations, type LogHead, type LogLeaf, type LogLedger, type LotEffects, type QueuedItem } from '../log/ledger.js';
import { CompactTree, emptyRoot, leafHash, rangeNodes, type NodeHash } from '../log/merkle.js';
import type { Signer } from '../pki/signer.js';
import type { CertificateRecord, Clock, CrlObjects, LotRecord } from './ports.js';
import { mapLimited } from './map-limited.js';

export interface LogSequencerDeps {
  ledger: LogLedger;
  /**
   * The log key of a generation (KMS alias `<prefix>-log-<generation>` in AWS,
   * a software key locally); called when a checkpoint may need signing.
   */
  logSigner: (generation: number) => Promise<Signer>;
  /** The checkpoint origin (config LOG_ORIGIN); also the note's key name. */
  origin: string;
  clock: Clock;
  /** A closed lot whose seats are not all logged is closed in the log anyway this long after it closed. */
  claimLeaseMs: number;
  /** Where every checkpoint is also kept, as `log/checkpoints/<size>` (the CRL bucket, or the local state directory). */
  objects?: CrlObjects;
  /** The most entries one run appends (the rest stays queued for the next). */
  maxEntries?: number;
  /** Queue page size (≤ 500). */
  pageSize?: number;
}

export interface SequenceReport {
  /** Entries this run appended. */
  sequenced: number;
  /** Leaves an earlier run committed that this run adopted. */
  adopted: number;
  /** The log's size after the run. */
  size: number;
  /** Queue items this run left queued (changed since read, waiting, or beyond this run's share). */
  queueDepth: number;
  /** Another sequencer was at work: this run stopped early. */
  conflict: boolean;
  /** The checkpoint signed by this run, if any. */
  checkpointSize?: number;
  /** How old the latest checkpoint is after the run. */
  checkpointAgeSeconds?: number;
  /**
   * How long the oldest certificate or revocation this run left unlogged has
   * waited (since its issuance or revocation), 0 when none: what the log's
   * alarm watches. Lots waiting to close are not counted (they wait by design).
   */
  backlogAgeSeconds: number;
  /** Queue items whose entries could not be built (a malformed record): left queued, for an operator. */
  refused: string[];
}

/** Whether a run did anything worth a log line: appended, adopted, met another sequencer, refused an item, or signed a checkpoint. */
export const didWork = (r: SequenceReport): boolean => r.sequenced > 0 || r.adopted > 0 || r.conflict || r.refused.length > 0 || r.checkpointSize !== undefined;

const MAX_PAGE = 500;
const READ_CONCURRENCY = 16;

/** A certificate's issuance entry; `lotSeq` only for one that took a seat of its lot (a re-enrollment takes none). */
export function issuedEntry(record: CertificateRecord, lotSeq?: number): LogEntry {
  return {
    v: 1,
    type: 'issued',
    serialNumber: record.serialNumber,
    certificateSha256: record.certificateId,
    issuingCaId: record.issuingCaId,
    ...(record.commonName !== undefined ? { commonName: record.commonName } : {}),
    stationId: record.stationId,
    issuedAt: record.issuedAt,
    ...(record.lotId !== undefined ? { lotId: record.lotId, ...(lotSeq !== undefined && !record.replaces ? { lotSeq } : {}) } : {}),
    ...(record.replaces ? { replaces: record.replaces } : {}),
  };
}

/** Whether a certificate holds a seat of its lot: issued under it, not a re-enrollment (which stays in the lot of the one it replaced). */
const seated = (record: CertificateRecord): boolean => record.lotId !== undefined && !record.replaces;

export function revokedEntry(record: CertificateRecord, lotRevocationSeq?: number): LogEntry {
  return {
    v: 1,
    type: 'revoked',
    serialNumber: record.serialNumber,
    certificateSha256: record.certificateId,
    issuingCaId: record.issuingCaId,
    reason: record.revocationReason ?? 'unspecified',
    revokedAt: record.revokedAt!,
    ...(record.lotId !== undefined ? { lotId: record.lotId, ...(lotRevocationSeq !== undefined ? { lotRevocationSeq } : {}) } : {}),
  };
}

export function lotOpenedEntry(lot: LotRecord): LogEntry {
  return {
    v: 1,
    type: 'lot-opened',
    lotId: lot.lotId,
    product: lot.product,
    quota: lot.quota,
    ...(lot.commonNamePattern !== undefined ? { commonNamePattern: lot.commonNamePattern } : {}),
    ...(lot.stations !== undefined ? { stations: lot.stations } : {}),
    closesAt: lot.closesAt,
    openedAt: lot.openedAt,
  };
}

export const lotClosedEntry = (lot: LotRecord, issued: number): LogEntry => ({ v: 1, type: 'lot-closed', lotId: lot.lotId, closedAt: lot.closedAt ?? lot.closesAt, issued });

/** The lot effects of a run of leaves, per lot. */
export function lotEffectsOf(leaves: readonly LogLeaf[]): Map<string, LotEffects> {
  const effects = new Map<string, LotEffects>();
  const of = (lotId: string) => effects.get(lotId) ?? effects.set(lotId, {}).get(lotId)!;
  for (const leaf of leaves) {
    const entry = decodeEntry(leaf.entry);
    if (entry.type === 'issued' && entry.lotId !== undefined && entry.lotSeq !== undefined) {
      const e = of(entry.lotId);
      e.logged = Math.max(e.logged ?? 0, entry.lotSeq);
    } else if (entry.type === 'revoked' && entry.lotId !== undefined && entry.lotRevocationSeq !== undefined) {
      const e = of(entry.lotId);
      e.revoked = Math.max(e.revoked ?? 0, entry.lotRevocationSeq);
    } else if (entry.type === 'lot-opened') {
      of(entry.lotId).openedLogIndex ??= leaf.index;
    } else if (entry.type === 'lot-closed') {
      const e = of(entry.lotId);
      e.closedLogIndex ??= leaf.index;
      e.closedCount ??= entry.issued;
    }
  }
  return effects;
}

type CertificateItem = Extract<QueuedItem, { kind: 'certificate' }>;

interface Planned {
  entry: LogEntry;
  bytes: Uint8Array;
  id: string;
}

/** Since when a queued certificate waits for the log: its revocation once revoked, else its issuance. */
const pendingSince = (r: CertificateRecord): string => (r.status === 'REVOKED' && r.revokedAt ? r.revokedAt : r.issuedAt);

/** The keys that sign a checkpoint now: the current log key, and its predecessor while it co-signs. */
async function checkpointSigners(d: LogSequencerDeps) {
  const generations = signingGenerations(await d.ledger.getLogKeys(), d.clock());
  return Promise.all(
    generations.map(async (generation) => {
      const signer = await d.logSigner(generation);
      return { name: d.origin, signer, keyId: noteKey(d.origin, signer.publicKey).keyId };
    }),
  );
}

/** Whether two lists name the same set of key IDs. */
function sameKeyIds(a: readonly number[], b: readonly number[]): boolean {
  const ids = new Set(a);
  return ids.size === new Set(b).size && b.every((id) => ids.has(id));
}
const keyIdsOf = (keys: readonly { keyId: number }[]) => keys.map((k) => k.keyId);

/** One sequencer run. */
export async function sequenceLog(d: LogSequencerDeps): Promise<SequenceReport> {
  const { ledger } = d;
  const pageSize = Math.min(d.pageSize ?? MAX_PAGE, MAX_PAGE);
  const maxEntries = d.maxEntries ?? 5000;
  const refused: string[] = [];

  // The head, created empty on the first run.
  let head: LogHead | undefined = await ledger.getHead();
  if (!head) {
    const empty = { size: 0, root: emptyRoot(), updatedAt: d.clock().toISOString() };
    await ledger.moveHead(0, empty);
    head = (await ledger.getHead()) ?? empty;
  }
  const frontier = head.size ? await ledger.nodes(rangeNodes(0, head.size)) : [];
  const tree = new CompactTree(head.size, frontier);

  /** Identities, lot effects, node hashes of committed leaves, then the head; false when another sequencer moved it. */
  const commit = async (leaves: LogLeaf[]): Promise<boolean> => {
    if (!leaves.length) return true;
    const from = tree.size;
    const nodes: NodeHash[] = leaves.flatMap((l) => tree.append(leafHash(l.entry)));
    await ledger.putEntryIndexes(leaves);
    for (const [lotId, effects] of lotEffectsOf(leaves)) await ledger.applyLotEffects(lotId, effects);
    await ledger.putNodes(nodes);
    return ledger.moveHead(from, { size: tree.size, root: tree.root(), updatedAt: d.clock().toISOString() });
  };

  // 1. Roll forward.
  const adopted: LogLeaf[] = [];
  for (let leaf = await ledger.getLeaf(tree.size); leaf; leaf = await ledger.getLeaf(tree.size + adopted.length)) adopted.push(leaf);
  const report = (extra: Partial<SequenceReport>): SequenceReport => ({ sequenced: 0, adopted: adopted.length, size: tree.size, queueDepth: 0, conflict: false, refused, backlogAgeSeconds: 0, ...extra });
  if (!(await commit(adopted))) return report({ conflict: true });

  // 2. The queue: what each item still needs, in queue order.
  const planned: Planned[] = [];
  const plannedIds = new Set<string>();
  const owners: Array<{ item: QueuedItem; upTo: number }> = [];
  const lots: QueuedItem[] = [];
  const counters = new Map<string, { logged: number; revoked: number; lot?: LotRecord }>();
  const counter = async (lotId: string) => {
    let c = counters.get(lotId);
    if (!c) {
      const lot = await ledger.getLot(lotId);
      c = { logged: lot?.logged ?? 0, revoked: lot?.revoked ?? 0, ...(lot ? { lot } : {}) };
      counters.set(lotId, c);
    }
    return c;
  };
  // A lot's opening is asked about once per certificate under it: each identity is read once a run.
  const loggedIds = new Set<string>();
  const logged = async (identity: string) => {
    if (plannedIds.has(identity) || loggedIds.has(identity)) return true;
    const found = (await ledger.getEntryIndex(identity)) !== undefined;
    if (found) loggedIds.add(identity);
    return found;
  };
  const plan = (entry: LogEntry) => {
    const bytes = encodeEntry(entry);
    const id = entryIdentity(entry);
    planned.push({ entry, bytes, id });
    plannedIds.add(id);
  };

  let seen = 0;
  let drained = false;
  const refusedItems: QueuedItem[] = [];
  /** The last certificate read, when the run stops before the queue's end: what follows it waits at least since then. */
  let lastRead: CertificateItem | undefined;
  const keysSeen = new Set<string>();
  for (let after: string | undefined, first = true; first || after; first = false) {
    if (planned.length >= maxEntries) break;
    const page = await ledger.queuePage(pageSize, after);
    after = page.next;
    const keys = page.keys.filter((k) => !keysSeen.has(k));
    keys.forEach((k) => keysSeen.add(k));
    seen += keys.length;
    const items = await mapLimited(keys, READ_CONCURRENCY, async (key) => {
      const item = await ledger.getQueued(key);
      if (!item) return undefined;
      if (item.kind === 'lot') return { item, issued: false, revoked: false, opened: (await ledger.getEntryIndex(lotOpenedIdentity(item.lot.lotId))) !== undefined };
      const r = item.record;
      const [issued, revoked] = await Promise.all([
        ledger.getEntryIndex(issuedIdentity(r.serialNumber)).then((i) => i !== undefined),
        r.status === 'REVOKED' ? ledger.getEntryIndex(revokedIdentity(r.serialNumber)).then((i) => i !== undefined) : Promise.resolve(false),
      ]);
      return { item, issued, revoked, opened: false };
    });
    for (const read of items) {
      if (!read) continue;
      const { item } = read;
      if (item.kind === 'certificate') lastRead = item;
      const mark = planned.length;
      try {
        if (item.kind === 'lot') {
          if (!read.opened && !plannedIds.has(lotOpenedIdentity(item.lot.lotId))) plan(lotOpenedEntry(item.lot));
          lots.push(item);
          continue;
        }
        const r = item.record;
        if (!read.issued && !plannedIds.has(issuedIdentity(r.serialNumber))) {
          const c = seated(r) ? await counter(r.lotId!) : undefined;
          // A lot's opening comes before its first certificate in the log, whatever the queue's order.
          if (c?.lot && !(await logged(lotOpenedIdentity(c.lot.lotId)))) plan(lotOpenedEntry(c.lot));
          plan(issuedEntry(r, c ? c.logged + 1 : undefined));
          if (c) c.logged++;
        }
        if (r.status === 'REVOKED' && !read.revoked && !plannedIds.has(revokedIdentity(r.serialNumber))) {
          const c = seated(r) ? await counter(r.lotId!) : undefined;
          plan(revokedEntry(r, c ? c.revoked + 1 : undefined));
          if (c) c.revoked++;
        }
        owners.push({ item, upTo: planned.length });
      } catch (e) {
        if (!(e instanceof EntryError)) throw e;
        // Undo this item's plans; lot numbers are not taken by it.
        for (const p of planned.splice(mark)) {
          plannedIds.delete(p.id);
          if (p.entry.type === 'issued' && p.entry.lotId) counters.get(p.entry.lotId)!.logged--;
          if (p.entry.type === 'revoked' && p.entry.lotId) counters.get(p.entry.lotId)!.revoked--;
        }
        refused.push(item.kind === 'certificate' ? item.record.serialNumber : item.lot.lotId);
        refusedItems.push(item);
      }
    }
    if (!after) drained = true;
  }

  // Lots: closed in the log once every seat taken is logged (or the claim lease ran out since they closed).
  const now = d.clock();
  for (const item of lots) {
    if (item.kind !== 'lot') continue;
    const lot = item.lot;
    let done = (await ledger.getEntryIndex(lotClosedIdentity(lot.lotId))) !== undefined;
    const closing = lot.status === 'CLOSED' || now.getTime() >= Date.parse(lot.closesAt);
    if (!done && closing && drained && planned.length < maxEntries) {
      const c = await counter(lot.lotId);
      const fresh = (await ledger.getLot(lot.lotId)) ?? lot;
      const closedAt = Date.parse(fresh.closedAt ?? fresh.closesAt);
      if (fresh.issued === c.logged || now.getTime() - closedAt >= d.claimLeaseMs) {
        plan(lotClosedEntry(fresh, c.logged));
        done = true;
      }
    }
    // An open lot stays queued: nothing else queues it again when it closes by time.
    owners.push({ item, upTo: done ? planned.length : Number.POSITIVE_INFINITY });
  }

  // 3. Leaves, one at a time, each only where its index is free.
  const leaves: LogLeaf[] = [];
  let conflict = false;
  for (const p of planned) {
    const leaf = { index: tree.size + leaves.length, entry: p.bytes, id: p.id };
    if (!(await ledger.putLeaf(leaf))) {
      conflict = true;
      break;
    }
    leaves.push(leaf);
  }
  if (!(await commit(leaves))) conflict = true;
  if (conflict) return report({ sequenced: leaves.length, conflict: true, queueDepth: seen });

  let dequeued = 0;
  const finished = owners.filter((o) => o.upTo <= leaves.length).map((o) => o.item);
  const taken = await mapLimited(finished, READ_CONCURRENCY, (item) => ledger.dequeue(item));
  for (const ok of taken) if (ok) dequeued++;
  // What waits for the log: certificates left queued (changed since read, refused, beyond this run's share).
  const left = new Set(finished.filter((_, i) => taken[i]));
  const waiting = [...owners.map((o) => o.item), ...refusedItems].filter((item): item is CertificateItem => item.kind === 'certificate' && !left.has(item));
  // The queue's unread rest waits at least since the last certificate read, logged or not.
  if (!drained && lastRead) waiting.push(lastRead);
  const oldest = Math.min(...waiting.map((item) => Date.parse(pendingSince(item.record))));
  const backlogAgeSeconds = Number.isFinite(oldest) ? Math.max(0, Math.round((d.clock().getTime() - oldest) / 1000)) : 0;

  // 4. A checkpoint when the log grew (and the first one, of the empty log), or
  // when the keys that sign changed (a rotation): the same tree, signed again.
  const latest = (await ledger.getHead()) ?? head;
  let checkpointSize: number | undefined;
  let checkpointAt = latest.checkpointAt;
  const signers = await checkpointSigners(d);
  const resigned =
    latest.checkpoint !== undefined && latest.checkpointSize === tree.size && !sameKeyIds(parseNote(latest.checkpoint).signatures.map((s) => s.keyId), keyIdsOf(signers));
  // The latest checkpoint's copy, unless it was put: a run that failed to put it is followed by one that does.
  let publish = latest.checkpoint !== undefined && latest.checkpointAt !== latest.publishedAt ? { size: latest.checkpointSize!, note: latest.checkpoint, at: latest.checkpointAt! } : undefined;
  if (latest.checkpointSize === undefined || tree.size > latest.checkpointSize || resigned) {
    const text = formatCheckpoint({ origin: d.origin, size: tree.size, rootHash: tree.root() });
    checkpointAt = d.clock().toISOString();
    await ledger.recordCheckpoint(tree.size, await signNote(text, signers), checkpointAt, resigned);
    // The keys changed while this run signed (a compromise rotation): the tree is signed again by the keys of now.
    const now = await checkpointSigners(d);
    if (!sameKeyIds(keyIdsOf(now), keyIdsOf(signers))) {
      checkpointAt = d.clock().toISOString();
      await ledger.recordCheckpoint(tree.size, await signNote(text, now), checkpointAt, true);
    }
    publish = { size: tree.size, note: (await ledger.getCheckpoint(tree.size))!, at: checkpointAt };
    checkpointSize = tree.size;
  }
  if (publish && d.objects) {
    await d.objects.put(`log/checkpoints/${publish.size}`, new Uint8Array(Buffer.from(publish.note, 'utf8')));
    await ledger.markPublished(publish.at);
  }
  return report({
    sequenced: leaves.length,
    queueDepth: seen - dequeued,
    backlogAgeSeconds,
    ...(checkpointSize !== undefined ? { checkpointSize } : {}),
    ...(checkpointAt ? { checkpointAgeSeconds: Math.max(0, Math.round((d.clock().getTime() - Date.parse(checkpointAt)) / 1000)) } : {}),
  });
}
