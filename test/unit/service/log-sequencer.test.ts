/**
 * The sequencer's choices on the in-memory log ledger: what it refuses, how
 * much one run takes, and the lot rules (the dynalite tests cover the rest).
 */
import { describe, expect, it } from '@jest/globals';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { decodeEntry } from '../../../src/log/entries.js';
import { createSoftwareSigner } from '../../../src/pki/signer.js';
import { sequenceLog, type LogSequencerDeps } from '../../../src/service/log-sequencer.js';
import type { CertificateRecord, LotRecord } from '../../../src/service/ports.js';
import { certificate } from '../../helpers/ledger-records.js';
import { MemoryLogStore } from '../../helpers/memory-log-store.js';

const signer = createSoftwareSigner(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
let n = 0;
const cert = (overrides: Partial<CertificateRecord> = {}) => {
  const serialNumber = `4c${(++n).toString(16).padStart(6, '0')}`;
  return certificate({ serialNumber, certificateId: createHash('sha256').update(serialNumber).digest('hex'), ...overrides });
};
const lot = (overrides: Partial<LotRecord> = {}): LotRecord => ({
  lotId: 'L-1', product: 'p', quota: 10, closesAt: '2026-03-02T00:00:00.000Z', status: 'OPEN', openedAt: '2026-03-01T00:00:00.000Z', openedBy: 'op', issued: 0, revoked: 0, logged: 0, ...overrides,
});
const world = (overrides: Partial<LogSequencerDeps> = {}) => {
  const ledger = new MemoryLogStore();
  let now = new Date('2026-03-01T12:00:00.000Z');
  const deps: LogSequencerDeps = { ledger, logSigner: async () => signer, origin: 'factory-ca/unit', clock: () => now, claimLeaseMs: 120_000, ...overrides };
  const types = () => [...ledger.leaves.values()].map((l) => decodeEntry(l.entry).type);
  return { ledger, deps, types, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
};

describe('Function: sequenceLog', () => {
  it('leaves a record whose entry cannot be built queued, names it, and logs the others', async () => {
    // Prepare
    const w = world();
    const bad = cert({ certificateId: 'not-a-sha256' });
    w.ledger.putCertificate(cert());
    w.ledger.putCertificate(bad);
    w.ledger.putCertificate(cert());

    // Act
    const report = await sequenceLog(w.deps);

    // Assess
    expect(report).toMatchObject({ sequenced: 2, size: 2, refused: [bad.serialNumber], queueDepth: 1 });
    expect((await w.ledger.queuePage(10)).keys).toEqual([`CERT#${bad.serialNumber}`]);
  });

  it('reports how long the oldest unlogged certificate has waited: a refused one, the rest of a long queue, never a lot waiting to close', async () => {
    // Prepare: the clock is 2026-03-01T12:00Z.
    const w = world({ maxEntries: 2, pageSize: 2 });
    w.ledger.putLot(lot());
    expect((await sequenceLog(w.deps)).backlogAgeSeconds).toBe(0);
    const bad = cert({ certificateId: 'not-a-sha256', issuedAt: '2026-03-01T11:50:00.000Z' });
    w.ledger.putCertificate(bad);
    for (let i = 0; i < 3; i++) w.ledger.putCertificate(cert({ issuedAt: `2026-03-01T11:5${5 + i}:00.000Z` }));

    // Act and assess: the refused one has waited 10 minutes, and stays the oldest.
    expect(await sequenceLog(w.deps)).toMatchObject({ sequenced: 2, refused: [bad.serialNumber], backlogAgeSeconds: 600 });
    expect(await sequenceLog(w.deps)).toMatchObject({ sequenced: 1, backlogAgeSeconds: 600 });
    // A revocation waits from when it was revoked.
    const revoked = cert({ issuedAt: '2026-01-01T00:00:00.000Z' });
    w.ledger.putCertificate(revoked);
    await sequenceLog(w.deps);
    w.ledger.revoke(revoked.serialNumber, '2026-03-01T11:59:00.000Z', 'keyCompromise');
    w.ledger.items.get(`CERT#${bad.serialNumber}`)!.queued = false;
    w.ledger.failNext('putLeaf');
    await expect(sequenceLog(w.deps)).rejects.toThrow('injected fault in putLeaf');
    expect(await sequenceLog(w.deps)).toMatchObject({ sequenced: 1, backlogAgeSeconds: 0, queueDepth: 1 });
  });

  it('counts what lies past a run\'s share of a long queue as waiting since the last certificate it read', async () => {
    const w = world({ maxEntries: 2, pageSize: 2 });
    for (let i = 0; i < 4; i++) w.ledger.putCertificate(cert({ issuedAt: `2026-03-01T11:0${i}:00.000Z` }));
    expect(await sequenceLog(w.deps)).toMatchObject({ sequenced: 2, backlogAgeSeconds: 3540 });
    expect(await sequenceLog(w.deps)).toMatchObject({ sequenced: 2, backlogAgeSeconds: 0, queueDepth: 0 });
  });

  it('puts a checkpoint copy that a run failed to put on the next run, even with nothing new to log', async () => {
    // Prepare: a checkpoint store whose first put fails.
    const puts: string[] = [];
    let failing = true;
    const objects = {
      put: async (key: string, body: Uint8Array) => {
        if (failing) {
          failing = false;
          throw new Error('S3 unavailable');
        }
        puts.push(`${key} ${Buffer.from(body).toString('utf8').split('\n')[1]}`);
      },
    };
    const w = world({ objects: objects as unknown as LogSequencerDeps['objects'] });
    w.ledger.putCertificate(cert());
    w.ledger.putCertificate(cert());

    // Act: the run signs and records, then fails to put the copy; the next has nothing to log.
    await expect(sequenceLog(w.deps)).rejects.toThrow('S3 unavailable');
    expect(w.ledger.head!.checkpointSize).toBe(2);
    const second = await sequenceLog(w.deps);

    // Assess: the copy of the recorded checkpoint is put, once.
    expect(second).toMatchObject({ sequenced: 0, size: 2 });
    expect(second.checkpointSize).toBeUndefined();
    expect(puts).toEqual(['log/checkpoints/2 2']);
    await sequenceLog(w.deps);
    expect(puts).toEqual(['log/checkpoints/2 2']);
  });

  it('appends at most maxEntries a run; the next run takes the rest', async () => {
    const w = world({ maxEntries: 3, pageSize: 2 });
    for (let i = 0; i < 7; i++) w.ledger.putCertificate(cert());
    expect(await sequenceLog(w.deps)).toMatchObject({ sequenced: 4, size: 4 });
    expect(await sequenceLog(w.deps)).toMatchObject({ sequenced: 3, size: 7, queueDepth: 0 });
  });

  it('closes a lot that passed closesAt unclosed, once its seats are logged, and keeps an open lot queued until then', async () => {
    // Prepare: the certificate sorts before its lot in the queue; the lot is opened in the log first all the same.
    const w = world();
    w.ledger.putLot(lot({ issued: 1 }));
    w.ledger.putCertificate(cert({ lotId: 'L-1', issuedAt: '2025-12-31T00:00:00.000Z' }));

    // Act
    await sequenceLog(w.deps);
    const open = (await w.ledger.queuePage(10)).keys;
    w.advance(86_400_000);
    await sequenceLog(w.deps);

    // Assess
    expect(open).toEqual(['LOT#L-1']);
    expect(w.types()).toEqual(['lot-opened', 'issued', 'lot-closed']);
    expect(decodeEntry(w.ledger.leaves.get(2)!.entry)).toMatchObject({ closedAt: '2026-03-02T00:00:00.000Z', issued: 1 });
    expect(w.ledger.lot('L-1')).toMatchObject({ logged: 1, openedLogIndex: 0, closedLogIndex: 2, closedCount: 1 });
    expect((await w.ledger.queuePage(10)).keys).toEqual([]);
  });

  it('adopts a leaf another sequencer committed past the head, then appends after it, logging each certificate once', async () => {
    // Prepare
    const w = world();
    w.ledger.putCertificate(cert());
    await sequenceLog(w.deps);
    w.ledger.putCertificate(cert());
    // Another sequencer's leaf at index 1, not yet under the head.
    const theirs = cert();
    w.ledger.putCertificate(theirs);
    const { encodeEntry } = await import('../../../src/log/entries.js');
    const { issuedEntry } = await import('../../../src/service/log-sequencer.js');
    await w.ledger.putLeaf({ index: 1, entry: encodeEntry(issuedEntry(theirs)), id: `${theirs.serialNumber}#issued` });
    expect(w.ledger.head!.size).toBe(1);

    // Act
    const report = await sequenceLog(w.deps);

    // Assess: adopted theirs, then appended the other certificate, never theirs twice.
    expect(report).toMatchObject({ adopted: 1, sequenced: 1, size: 3, conflict: false });
    const ids = [...w.ledger.leaves.values()].map((l) => l.id);
    expect(new Set(ids).size).toBe(3);
    expect([w.ledger.head!.size, w.ledger.leaves.get(1)!.id]).toEqual([3, `${theirs.serialNumber}#issued`]);
  });
});
