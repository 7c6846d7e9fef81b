import { describe, expect, it } from '@jest/globals';
import { systemClock } from '../../../src/service/ports.js';
import { KEY_INDEX_MARKER, reindexKeys } from '../../../src/service/key-index.js';
import { certificate } from '../../helpers/ledger-records.js';
import { MemoryStore } from '../../helpers/memory-store.js';

const key = (n: number) => n.toString(16).padStart(64, '0');

/** A ledger from before the key index: records only. */
async function oldLedger() {
  const store = new MemoryStore();
  const records = [
    certificate({ commonName: 'old-1', publicKeySha256: key(1) }),
    certificate({ commonName: 'old-2', publicKeySha256: key(2), status: 'REVOKED', revokedAt: '2025-06-01T00:00:00.000Z', revocationReason: 'keyCompromise' }),
    certificate({ commonName: 'old-3', publicKeySha256: key(3) }),
    // Two devices that were given one key.
    certificate({ commonName: 'old-4', publicKeySha256: key(4) }),
    certificate({ commonName: 'old-5', publicKeySha256: key(4) }),
  ];
  for (let i = 6; i < 250; i++) records.push(certificate({ commonName: `old-${i}`, publicKeySha256: key(i) }));
  for (const r of records) await store.putCertificate(r);
  return { store, records };
}

describe('Use case: reindexKeys (a ledger from before the key index)', () => {
  it('takes every ISSUED certificate\'s key for it, blocks every revoked one\'s, reports shared keys, and marks the index complete', async () => {
    const { store, records } = await oldLedger();
    const report = await reindexKeys({ store, clock: systemClock }, { pageSize: 40 });
    expect(report).toMatchObject({ scanned: 249, indexed: 247, blocked: 1, unchanged: 0 });
    expect(report.conflicts).toHaveLength(1);
    expect(report.conflicts[0]!.problem).toMatch(/shares its key with certificate/);
    expect(await store.getKey(key(2))).toMatchObject({ status: 'BLOCKED', reason: 'keyCompromise', blockedBySerial: records[1]!.serialNumber });
    expect(await store.getKey(key(1))).toMatchObject({ status: 'IN_USE', serialNumber: records[0]!.serialNumber });
    expect(await store.getMarker(KEY_INDEX_MARKER)).toEqual(expect.any(String));
  });

  it('is idempotent: a second run changes nothing', async () => {
    const { store } = await oldLedger();
    await reindexKeys({ store, clock: systemClock }, { pageSize: 40 });
    const again = await reindexKeys({ store, clock: systemClock }, { pageSize: 40 });
    expect(again).toMatchObject({ scanned: 249, indexed: 0, blocked: 0, unchanged: 248 });
  });

  it('resumes where an interrupted run stopped and covers every certificate once', async () => {
    const { store } = await oldLedger();
    let resumeAt: string | undefined;
    store.failNext('scanCertificates', { skip: 3, error: new Error('operator pressed Ctrl-C') });
    await expect(reindexKeys({ store, clock: systemClock }, { pageSize: 40, onPage: (r) => (resumeAt = r.next) })).rejects.toThrow('Ctrl-C');
    expect(await store.getMarker(KEY_INDEX_MARKER)).toBeUndefined();
    const rest = await reindexKeys({ store, clock: systemClock }, { pageSize: 40, after: resumeAt! });
    expect(rest.scanned).toBe(249 - 120);
    for (let i = 6; i < 250; i++) expect((await store.getKey(key(i)))?.status).toBe('IN_USE');
    expect(await store.getMarker(KEY_INDEX_MARKER)).toEqual(expect.any(String));
  });
});
