/**
 * The log sequencer on dynalite: the certificate store queues, the sequencer
 * appends, and every proof is checked with an independent RFC 9162
 * implementation (test/helpers/rfc9162.ts), never with src/log/merkle.ts's own
 * verifier.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ensureTable } from '../../../src/local/local-stack.js';
import { decodeEntry, type LogEntry } from '../../../src/log/entries.js';
import { lotKey, lotQueueOrder } from '../../../src/log/ledger.js';
import { consistencyProof, inclusionProof } from '../../../src/log/merkle.js';
import { verifyCheckpoint, noteKey } from '../../../src/log/checkpoint.js';
import { createSoftwareSigner } from '../../../src/pki/signer.js';
import { sequenceLog, type LogSequencerDeps } from '../../../src/service/log-sequencer.js';
import type { CertificateRecord, LotRecord } from '../../../src/service/ports.js';
import { DynamoLogStore } from '../../../src/store/dynamo-log-store.js';
import { DynamoStore } from '../../../src/store/dynamo-store.js';
import { LOG_QUEUE_INDEX } from '../../../src/store/table.js';
import { certificate } from '../../helpers/ledger-records.js';
import { rfcLeafHash, rfcRoot, rfcVerifyConsistency, rfcVerifyInclusion } from '../../helpers/rfc9162.js';
import { startTestLedger, type TestLedger } from '../../helpers/test-app.js';

jest.setTimeout(60_000);

const ORIGIN = 'factory-ca/test';
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const signer = createSoftwareSigner(privateKey);
const KEY = noteKey(ORIGIN, signer.publicKey);

let ledger: TestLedger;
beforeAll(async () => {
  ledger = await startTestLedger();
});
afterAll(async () => {
  await ledger.close();
});

/** The log store with a fault to inject: the next call of a method throws (after the call when `after`). */
class FaultyLogStore extends DynamoLogStore {
  faults = new Map<string, { after: boolean }>();
  failNext(method: 'moveHead' | 'putEntryIndexes' | 'putNodes', after = false): void {
    this.faults.set(method, { after });
  }
  private async faulty<T>(method: string, call: () => Promise<T>): Promise<T> {
    const fault = this.faults.get(method);
    if (!fault) return call();
    this.faults.delete(method);
    if (fault.after) await call();
    throw new Error(`injected fault in ${method}`);
  }
  override moveHead(...a: Parameters<DynamoLogStore['moveHead']>) {
    return this.faulty('moveHead', () => super.moveHead(...a));
  }
  override putEntryIndexes(...a: Parameters<DynamoLogStore['putEntryIndexes']>) {
    return this.faulty('putEntryIndexes', () => super.putEntryIndexes(...a));
  }
  override putNodes(...a: Parameters<DynamoLogStore['putNodes']>) {
    return this.faulty('putNodes', () => super.putNodes(...a));
  }
}

let tables = 0;
let store: DynamoStore;
let log: FaultyLogStore;
let doc: DynamoDBDocumentClient;
let tableName: string;
let now: Date;

const deps = (overrides: Partial<LogSequencerDeps> = {}): LogSequencerDeps => ({
  ledger: log,
  logSigner: async () => signer,
  origin: ORIGIN,
  clock: () => now,
  claimLeaseMs: 120_000,
  ...overrides,
});

beforeEach(async () => {
  tableName = `log-${process.pid}-${++tables}`;
  await ensureTable(ledger.client, tableName);
  store = new DynamoStore(ledger.client, tableName);
  log = new FaultyLogStore(ledger.client, tableName);
  doc = DynamoDBDocumentClient.from(ledger.client);
  now = new Date('2026-03-01T10:00:00.000Z');
});

let n = 0;
/** A certificate record whose certificateId is a SHA-256 hex, as the issuing function records it. */
function cert(overrides: Partial<CertificateRecord> = {}): CertificateRecord {
  const serialNumber = `7e${(++n).toString(16).padStart(30, '0')}`;
  return certificate({
    serialNumber,
    certificateId: createHash('sha256').update(serialNumber).digest('hex'),
    issuedAt: new Date(Date.parse('2026-03-01T09:00:00.000Z') + n * 1000).toISOString(),
    ...overrides,
  });
}

/** A lot item as the lot store writes it: queued, in the queue at its opening time. */
async function putLot(lot: LotRecord): Promise<void> {
  await doc.send(new PutCommand({ TableName: tableName, Item: { pk: lotKey(lot.lotId), type: 'lot', ...lot, [LOG_QUEUE_INDEX.partitionKey]: LOG_QUEUE_INDEX.value, gsi1sk: lotQueueOrder(lot) } }));
}

const lotRecord = (lotId: string, overrides: Partial<LotRecord> = {}): LotRecord => ({
  lotId,
  product: 'sensor-v2',
  quota: 100,
  closesAt: '2026-04-01T00:00:00.000Z',
  status: 'OPEN',
  openedAt: '2026-03-01T08:00:00.000Z',
  openedBy: 'operator',
  issued: 0,
  revoked: 0,
  logged: 0,
  ...overrides,
});

/** Every leaf of the log, by reading LOG#LEAF#0… until one is missing. */
async function leaves(): Promise<Array<{ index: number; bytes: Uint8Array; entry: LogEntry; id: string }>> {
  const out = [];
  for (let i = 0; ; i++) {
    const leaf = await log.getLeaf(i);
    if (!leaf) return out;
    out.push({ index: i, bytes: leaf.entry, entry: decodeEntry(leaf.entry), id: leaf.id });
  }
}

/** The head's checkpoint, verified with the log key; its size and root. */
async function checkpoint(): Promise<{ size: number; root: Uint8Array; note: string }> {
  const head = await log.getHead();
  const c = verifyCheckpoint(head!.checkpoint!, KEY, { origin: ORIGIN });
  return { size: c.size, root: c.rootHash, note: head!.checkpoint! };
}

/** The log is consecutive from 0, each identity once, and the head's checkpoint is the MTH of exactly its leaves. */
async function expectSound(): Promise<Awaited<ReturnType<typeof leaves>>> {
  const all = await leaves();
  const head = await log.getHead();
  expect(head!.size).toBe(all.length);
  expect(new Set(all.map((l) => l.id)).size).toBe(all.length);
  const { size, root } = await checkpoint();
  expect(size).toBe(all.length);
  expect(Buffer.from(root).equals(rfcRoot(all.map((l) => rfcLeafHash(l.bytes))))).toBe(true);
  for (const l of all) expect(await log.getEntryIndex(l.id)).toBe(l.index);
  return all;
}

describe('Function: sequenceLog', () => {
  it('logs 500 certificates recorded by putCertificate, each with an inclusion proof that RFC 9162 verifies', async () => {
    // Prepare
    const records = Array.from({ length: 500 }, () => cert());
    for (const r of records) await store.putCertificate(r);

    // Act
    const report = await sequenceLog(deps());

    // Assess
    expect(report).toMatchObject({ sequenced: 500, size: 500, conflict: false, queueDepth: 0, checkpointSize: 500 });
    const all = await expectSound();
    const { size, root } = await checkpoint();
    for (const r of records) {
      const index = await log.getEntryIndex(`${r.serialNumber}#issued`);
      expect(index).toBeDefined();
      const leaf = all[index!]!;
      expect(leaf.entry).toStrictEqual({
        v: 1,
        type: 'issued',
        serialNumber: r.serialNumber,
        certificateSha256: r.certificateId,
        issuingCaId: r.issuingCaId,
        commonName: r.commonName,
        stationId: r.stationId,
        issuedAt: r.issuedAt,
      });
      const path = await inclusionProof(index!, size, log);
      expect(rfcVerifyInclusion(index!, size, rfcLeafHash(leaf.bytes), path, root)).toBe(true);
    }
    // Nothing is left queued; a second run appends nothing and signs nothing.
    expect(await log.queuePage(10)).toStrictEqual({ keys: [] });
    expect(await sequenceLog(deps())).toMatchObject({ sequenced: 0, size: 500, queueDepth: 0 });
    expect((await log.getHead())!.checkpointSize).toBe(500);
  });

  it('answers proofs the standalone verifier (tools/verify-log-proof.mjs) accepts', async () => {
    // Prepare
    const records = Array.from({ length: 11 }, () => cert());
    for (const r of records) await store.putCertificate(r);
    await sequenceLog(deps());
    const dir = mkdtempSync(join(tmpdir(), 'factory-ca-proof-'));
    try {
      const { note, size } = await checkpoint();
      writeFileSync(join(dir, 'cp.txt'), note);
      writeFileSync(join(dir, 'log.pem'), createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }) as string);
      const index = (await log.getEntryIndex(`${records[6]!.serialNumber}#issued`))!;
      const path = await inclusionProof(index, size, log);

      const entry = (await log.getLeaf(index))!.entry;

      // Act
      const run = (proof: Uint8Array[]) =>
        execFileSync(process.execPath, ['tools/verify-log-proof.mjs', '--key', join(dir, 'log.pem'), '--checkpoint', join(dir, 'cp.txt'), '--index', String(index), '--entry', Buffer.from(entry).toString('base64'), '--proof', proof.map((h) => Buffer.from(h).toString('hex')).join(',')], { encoding: 'utf8', stdio: 'pipe' });

      // Assess
      expect(() => run(path)).not.toThrow();
      expect(() => run([...path.slice(1), path[0]!])).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('signs a checkpoint of the empty log on its first run', async () => {
    const report = await sequenceLog(deps());
    expect(report).toMatchObject({ sequenced: 0, size: 0, checkpointSize: 0 });
    expect((await checkpoint()).size).toBe(0);
    expect(await log.getCheckpoint(0)).toBe((await log.getHead())!.checkpoint);
  });

  it('logs a revocation after the issuance, whether the revocation came before or after the first run', async () => {
    // Prepare
    const early = cert();
    const late = cert({ lotId: undefined });
    await store.putCertificate(early);
    await store.putCertificate(late);
    await store.revokeCertificate(early.serialNumber, '2026-03-01T09:30:00.000Z', 'keyCompromise');
    await sequenceLog(deps());

    // Act
    await store.revokeCertificate(late.serialNumber, '2026-03-01T10:30:00.000Z', 'superseded');
    await sequenceLog(deps());

    // Assess
    const all = await expectSound();
    for (const r of [early, late]) {
      const issued = (await log.getEntryIndex(`${r.serialNumber}#issued`))!;
      const revoked = (await log.getEntryIndex(`${r.serialNumber}#revoked`))!;
      expect(revoked).toBeGreaterThan(issued);
      expect(all[revoked]!.entry).toMatchObject({ type: 'revoked', serialNumber: r.serialNumber, certificateSha256: r.certificateId });
    }
    expect(all.map((l) => l.entry.type)).toStrictEqual(['issued', 'revoked', 'issued', 'revoked']);
    expect(all[1]!.entry).toMatchObject({ reason: 'keyCompromise', revokedAt: '2026-03-01T09:30:00.000Z' });
  });

  it.each([
    ['after the leaves, before the head moves', 'moveHead', false],
    ['after the leaves, before their identities', 'putEntryIndexes', false],
    ['after the node hashes were written, their answer lost', 'putNodes', true],
  ] as const)('rolls a run that died %s forward: no entry twice, indexes consecutive', async (_when, method, after) => {
    // Prepare
    const first = Array.from({ length: 7 }, () => cert());
    for (const r of first) await store.putCertificate(r);
    await sequenceLog(deps());
    const more = Array.from({ length: 13 }, () => cert());
    for (const r of more) await store.putCertificate(r);
    log.failNext(method, after);
    await expect(sequenceLog(deps())).rejects.toThrow(`injected fault in ${method}`);
    expect((await log.getHead())!.size).toBe(7);

    // Act
    const extra = cert();
    await store.putCertificate(extra);
    now = new Date(now.getTime() + 60_000);
    const report = await sequenceLog(deps());

    // Assess
    expect(report).toMatchObject({ adopted: 13, sequenced: 1, size: 21, queueDepth: 0 });
    const all = await expectSound();
    expect(all.map((l) => (l.entry as { serialNumber: string }).serialNumber)).toStrictEqual([...first, ...more, extra].map((r) => r.serialNumber));
  });

  it('never logs twice nor leaves a gap when two sequencers race', async () => {
    const records: CertificateRecord[] = [];
    for (let round = 0; round < 6; round++) {
      // Prepare
      const batch = Array.from({ length: 25 }, () => cert());
      records.push(...batch);
      await Promise.all(batch.map((r) => store.putCertificate(r)));
      if (round % 2) await store.revokeCertificate(records[round]!.serialNumber, now.toISOString(), 'unspecified');

      // Act
      await Promise.all([sequenceLog(deps()), sequenceLog(deps()), sequenceLog(deps())]);
      now = new Date(now.getTime() + 60_000);
    }
    await sequenceLog(deps());

    // Assess
    const all = await expectSound();
    expect(all).toHaveLength(150 + 3);
    for (const r of records) expect(await log.getEntryIndex(`${r.serialNumber}#issued`)).toBeDefined();
    expect(await log.queuePage(10)).toStrictEqual({ keys: [] });
  });

  it('numbers each lot\'s certificates 1, 2, 3… in log order, and closes the lot with their count', async () => {
    // Prepare
    await putLot(lotRecord('lot-a'));
    await putLot(lotRecord('lot-b', { openedAt: '2026-03-01T08:30:00.000Z' }));
    const records: CertificateRecord[] = [];
    for (let round = 0; round < 3; round++) {
      const batch = Array.from({ length: 20 }, (_, i) => cert({ lotId: i % 3 === 0 ? 'lot-b' : i % 3 === 1 ? 'lot-a' : undefined }));
      for (const r of batch) await store.putCertificate(r);
      records.push(...batch);
      await Promise.all([sequenceLog(deps()), sequenceLog(deps())]);
    }
    await store.revokeCertificate(records.find((r) => r.lotId === 'lot-a')!.serialNumber, now.toISOString(), 'keyCompromise');
    const inA = records.filter((r) => r.lotId === 'lot-a').length;
    // The lot closes with every seat logged.
    await putLot({ ...lotRecord('lot-a'), ...(await log.getLot('lot-a')), status: 'CLOSED', closedAt: now.toISOString(), closedBy: 'operator', issued: inA });

    // Act
    await sequenceLog(deps());

    // Assess
    const all = await expectSound();
    for (const lotId of ['lot-a', 'lot-b']) {
      const seqs = all.filter((l) => l.entry.type === 'issued' && l.entry.lotId === lotId).map((l) => (l.entry as { lotSeq: number }).lotSeq);
      expect(seqs).toStrictEqual(seqs.map((_, i) => i + 1));
      expect((await log.getLot(lotId))!.logged).toBe(seqs.length);
      expect((await log.getLot(lotId))!.openedLogIndex).toBe(await log.getEntryIndex(`LOT#${lotId}#opened`));
    }
    expect(all.filter((l) => l.entry.type === 'issued' && l.entry.lotId === undefined).every((l) => !('lotSeq' in l.entry))).toBe(true);
    expect(all[0]!.entry).toMatchObject({ type: 'lot-opened', lotId: 'lot-a', quota: 100 });
    const closed = all.find((l) => l.entry.type === 'lot-closed')!;
    expect(closed.entry).toStrictEqual({ v: 1, type: 'lot-closed', lotId: 'lot-a', closedAt: now.toISOString(), issued: inA });
    expect(all.find((l) => l.entry.type === 'revoked')!.entry).toMatchObject({ lotId: 'lot-a', lotRevocationSeq: 1 });
    expect(await log.getLot('lot-a')).toMatchObject({ closedLogIndex: closed.index, closedCount: inA, revoked: 1, logged: inA });
    // The open lot stays queued (it may close by time); the closed one is done.
    expect((await log.queuePage(10)).keys).toStrictEqual(['LOT#lot-b']);
  });

  it('waits to close a lot while a seat taken is not logged, until the claim lease has run out', async () => {
    // Prepare
    await putLot(lotRecord('lot-c', { status: 'CLOSED', closedAt: now.toISOString(), issued: 2 }));
    await store.putCertificate(cert({ lotId: 'lot-c' }));

    // Act
    await sequenceLog(deps());
    const waiting = (await leaves()).map((l) => l.entry.type);
    now = new Date(now.getTime() + 121_000);
    await sequenceLog(deps());

    // Assess
    expect(waiting).toStrictEqual(['lot-opened', 'issued']);
    const all = await expectSound();
    expect(all[2]!.entry).toMatchObject({ type: 'lot-closed', lotId: 'lot-c', issued: 1 });
  });

  it('does not log a certificate again when it is superseded after it was logged', async () => {
    // Prepare
    const r = cert();
    await store.putCertificate(r);
    await sequenceLog(deps());

    // Act
    await store.supersedeCertificate(r, now.toISOString());
    expect((await log.queuePage(10)).keys).toStrictEqual([`CERT#${r.serialNumber}`]);
    const report = await sequenceLog(deps());

    // Assess
    expect(report).toMatchObject({ sequenced: 0, size: 1, queueDepth: 0 });
    expect(await log.queuePage(10)).toStrictEqual({ keys: [] });
    expect((await expectSound()).length).toBe(1);
  });

  it('logs a certificate superseded before it was ever logged (everything signed and recorded is logged)', async () => {
    const r = cert();
    await store.putCertificate(r);
    await store.supersedeCertificate(r, now.toISOString());
    await sequenceLog(deps());
    expect((await expectSound()).map((l) => l.id)).toStrictEqual([`${r.serialNumber}#issued`]);
  });

  it('publishes checkpoints that are consistent with each other (RFC 9162 consistency proofs)', async () => {
    // Prepare
    const checkpoints: Array<{ size: number; root: Uint8Array }> = [];
    for (const count of [1, 1, 2, 5, 8, 13, 3, 31]) {
      for (let i = 0; i < count; i++) await store.putCertificate(cert());
      await sequenceLog(deps());
      checkpoints.push(await checkpoint());
    }

    // Act, Assess
    for (const a of checkpoints) {
      for (const b of checkpoints) {
        if (a.size > b.size) continue;
        const proof = await consistencyProof(a.size, b.size, log);
        expect(rfcVerifyConsistency(a.size, b.size, a.root, b.root, proof)).toBe(true);
      }
    }
    expect(checkpoints.map((c) => c.size)).toStrictEqual([1, 2, 4, 9, 17, 30, 33, 64]);
    for (const c of checkpoints) expect(verifyCheckpoint((await log.getCheckpoint(c.size))!, KEY).size).toBe(c.size);
  });
});

describe('Checkpoint copies, on dynalite', () => {
  it('puts the copy a run failed to put on the next run, once (the head records which copy was put)', async () => {
    const puts: Array<{ key: string; note: string }> = [];
    let failing = true;
    const objects = {
      put: async (key: string, body: Uint8Array) => {
        if (failing) {
          failing = false;
          throw new Error('S3 unavailable');
        }
        puts.push({ key, note: Buffer.from(body).toString('utf8') });
      },
    };
    for (let i = 0; i < 2; i++) await store.putCertificate(cert());
    await expect(sequenceLog(deps({ objects: objects as unknown as LogSequencerDeps['objects'] }))).rejects.toThrow('S3 unavailable');
    const head = (await log.getHead())!;
    expect([head.checkpointSize, head.publishedAt]).toEqual([2, undefined]);

    await sequenceLog(deps({ objects: objects as unknown as LogSequencerDeps['objects'] }));
    expect(puts).toEqual([{ key: 'log/checkpoints/2', note: (await log.getCheckpoint(2))! }]);
    expect((await log.getHead())!.publishedAt).toBe(head.checkpointAt);
    await sequenceLog(deps({ objects: objects as unknown as LogSequencerDeps['objects'] }));
    expect(puts).toHaveLength(1);
  });
});

describe('The log key state and a rotation, on dynalite', () => {
  const second = createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
  const SECOND = noteKey(ORIGIN, second.publicKey);
  const signers = (generation: number) => Promise.resolve(generation === 1 ? signer : second);

  it('moves the state only from the version expected, with its key references', async () => {
    expect(await log.getLogKeys()).toBeUndefined();
    expect(await log.putLogKeys({ version: 1, generation: 1, since: '2026-03-01T10:00:00.000Z' }, 1)).toBe(false);
    expect(await log.putLogKeys({ version: 1, generation: 1, since: '2026-03-01T10:00:00.000Z' }, undefined)).toBe(true);
    expect(await log.putLogKeys({ version: 1, generation: 1, since: '2026-03-01T11:00:00.000Z' }, undefined)).toBe(false);
    const next = {
      version: 2,
      generation: 2,
      since: '2026-03-02T10:00:00.000Z',
      key: { kind: 'kms' as const, keyId: 'arn:aws:kms:eu-west-1:111122223333:key/2' },
      previous: { generation: 1, cosignUntil: '2026-04-01T10:00:00.000Z', key: { kind: 'kms' as const, keyId: 'arn:aws:kms:eu-west-1:111122223333:key/1' } },
    };
    const racing = await Promise.all([log.putLogKeys(next, 1), log.putLogKeys({ ...next, since: '2026-03-02T10:00:01.000Z' }, 1)]);
    expect(racing.sort()).toStrictEqual([false, true]);
    expect((await log.getLogKeys())!.previous).toStrictEqual(next.previous);
    expect(await log.putLogKeys({ version: 3, generation: 3, since: '2026-03-03T10:00:00.000Z' }, 1)).toBe(false);
    expect(await log.putLogKeys({ ...next, version: 3, retired: [{ generation: 1, reason: 'keyCompromise', at: '2026-03-03T00:00:00.000Z' }] }, 2)).toBe(true);
    expect((await log.getLogKeys())!.retired).toStrictEqual([{ generation: 1, reason: 'keyCompromise', at: '2026-03-03T00:00:00.000Z' }]);
  });

  it('signs the same tree again when the keys change, and keeps that note as the checkpoint of its size', async () => {
    // Prepare: three entries under key 1.
    for (let i = 0; i < 3; i++) await store.putCertificate(cert());
    await sequenceLog(deps({ logSigner: signers }));
    const before = (await log.getCheckpoint(3))!;
    expect(verifyCheckpoint(before, KEY).size).toBe(3);
    expect(() => verifyCheckpoint(before, SECOND)).toThrow();

    // Act: key 2 signs, key 1 co-signs.
    await log.putLogKeys({ version: 1, generation: 2, since: now.toISOString(), previous: { generation: 1, cosignUntil: '2026-03-31T10:00:00.000Z' } }, undefined);
    now = new Date(now.getTime() + 60_000);
    const run = await sequenceLog(deps({ logSigner: signers }));

    // Assess: a new note for size 3 in the head and the checkpoint item, signed by both.
    expect(run.checkpointSize).toBe(3);
    const after = (await log.getCheckpoint(3))!;
    expect(after).not.toBe(before);
    expect((await log.getHead())!.checkpoint).toBe(after);
    expect(verifyCheckpoint(after, KEY).size).toBe(3);
    expect(verifyCheckpoint(after, SECOND).size).toBe(3);
    // An older note of the same size cannot replace it.
    await log.recordCheckpoint(3, before, '2026-03-01T10:00:00.000Z', true);
    expect(await log.getCheckpoint(3)).toBe(after);
    expect((await log.getHead())!.checkpoint).toBe(after);
    // Nothing changes: the next run signs nothing.
    expect((await sequenceLog(deps({ logSigner: signers }))).checkpointSize).toBeUndefined();
  });
});
