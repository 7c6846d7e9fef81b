/**
 * The store ports' contract, run against both implementations: DynamoStore on
 * dynalite, and the in-memory store the use-case tests run on. A case that
 * passes on one and fails on the other means the fake has drifted.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DynamoStore } from '../../../src/store/dynamo-store.js';
import { ensureTable } from '../../../src/local/local-stack.js';
import { CaError } from '../../../src/service/errors.js';
import { SerialCollisionError, type CaStore, type CertificateFilters, type CertificateRecord, type CertificateStore } from '../../../src/service/ports.js';
import { MAX_PARTITIONS_PER_PAGE } from '../../../src/store/certificate-listing.js';
import { rejectionOf } from '../../helpers/errors.js';
import { caRecord, certificate, claimFor, ledgerSample, matching, pagesOf } from '../../helpers/ledger-records.js';
import { MemoryStore } from '../../helpers/memory-store.js';
import { startTestLedger, type TestLedger } from '../../helpers/test-app.js';

type Store = CertificateStore & CaStore;

let ledger: TestLedger;
beforeAll(async () => {
  ledger = await startTestLedger();
});
afterAll(async () => {
  await ledger.close();
});

let tables = 0;
const STORES: Array<[string, () => Promise<Store>]> = [
  ['MemoryStore', async () => new MemoryStore()],
  [
    'DynamoStore on dynalite',
    async () => {
      const tableName = `contract-${process.pid}-${++tables}`;
      await ensureTable(ledger.client, tableName);
      return new DynamoStore(ledger.client, tableName);
    },
  ],
];

describe.each(STORES)('Contract: %s', (_name, open) => {
  let store: Store;
  beforeEach(async () => {
    store = await open();
  });

  describe('claims', () => {
    it('creates a claim on a free key and returns undefined', async () => {
      // Prepare
      const claim = claimFor('CN#device-0001', 'aa01');

      // Act
      const holder = await store.claim(claim);

      // Assess
      expect(holder).toBeUndefined();
      expect(await store.claim(claimFor('CN#device-0001', 'bb02'))).toStrictEqual(claim);
    });

    it('returns the holder, exactly as it was claimed, when the key is taken', async () => {
      // Prepare
      const first = claimFor('CN#device-0001', 'aa01', 1_700_000_000_123);
      await store.claim(first);

      // Act
      const holder = await store.claim(claimFor('CN#device-0001', 'bb02'));

      // Assess
      expect(holder).toStrictEqual(first);
    });

    it('takes its own claim again (same token: a retry meeting its own landed write) and refuses it to another token', async () => {
      const mine = claimFor('CN#device-retry', 'aa01', 1_700_000_000_000, 'token-mine');
      await store.claim(mine);
      expect(await store.claim(mine)).toBeUndefined();
      expect(await store.claim(claimFor('CN#device-retry', 'aa01', 1_700_000_000_000, 'token-other'))).toStrictEqual(mine);
    });

    it('moves its own claim to a new serial again without failing (a retried replace), but not another token\'s', async () => {
      const mine = claimFor('CN#device-move', 'aa01', 1_700_000_000_000, 'token-mine');
      await store.claim(mine);
      const moved = { ...mine, serialNumber: 'bb02' };
      expect(await store.replaceClaim(moved, 'aa01')).toBe(true);
      expect(await store.replaceClaim(moved, 'aa01')).toBe(true);
      expect(await store.replaceClaim({ ...moved, token: 'token-other' }, 'aa01')).toBe(false);
      expect(await store.claim(claimFor('CN#device-move', 'cc03'))).toStrictEqual(moved);
    });

    it('keeps claims on different keys apart', async () => {
      // Prepare
      await store.claim(claimFor('CN#device-0001', 'aa01'));

      // Act
      const holder = await store.claim(claimFor('CN#device-0002', 'bb02'));

      // Assess
      expect(holder).toBeUndefined();
    });

    it('replaces a claim only while it still names the expected serial', async () => {
      // Prepare
      await store.claim(claimFor('CN#device-0001', 'aa01'));
      const takeover = claimFor('CN#device-0001', 'cc03', 1_800_000_000_000);

      // Act
      const withWrongSerial = await store.replaceClaim(claimFor('CN#device-0001', 'bb02'), 'ffff');
      const holderAfterWrong = await store.claim(claimFor('CN#device-0001', 'dd04'));
      const withRightSerial = await store.replaceClaim(takeover, 'aa01');
      const holderAfterRight = await store.claim(claimFor('CN#device-0001', 'dd04'));

      // Assess
      expect(withWrongSerial).toBe(false);
      expect(holderAfterWrong?.serialNumber).toBe('aa01');
      expect(withRightSerial).toBe(true);
      expect(holderAfterRight).toStrictEqual(takeover);
    });

    it('does not replace a claim that does not exist', async () => {
      // Act
      const replaced = await store.replaceClaim(claimFor('CN#device-0001', 'bb02'), 'aa01');

      // Assess: nothing was created, the key is still free.
      expect(replaced).toBe(false);
      expect(await store.claim(claimFor('CN#device-0001', 'cc03'))).toBeUndefined();
    });

    it('releases a claim only if it names the given serial', async () => {
      // Prepare
      await store.claim(claimFor('CN#device-0001', 'aa01'));

      // Act
      await store.releaseClaim('CN#device-0001', 'bb02');
      const afterWrongRelease = await store.claim(claimFor('CN#device-0001', 'cc03'));
      await store.releaseClaim('CN#device-0001', 'aa01');
      const afterRightRelease = await store.claim(claimFor('CN#device-0001', 'cc03'));

      // Assess
      expect(afterWrongRelease?.serialNumber).toBe('aa01');
      expect(afterRightRelease).toBeUndefined();
    });

    it('releases a claim that is already gone without an error', async () => {
      // Act + Assess
      await expect(store.releaseClaim('CN#nobody', 'aa01')).resolves.toBeUndefined();
    });

    it('lets exactly one of concurrent claims on one key win; the others are told the winner', async () => {
      // Act
      const holders = await Promise.all(Array.from({ length: 8 }, (_, i) => store.claim(claimFor('CN#race', `a${i}`))));

      // Assess
      const winners = holders.flatMap((h, i) => (h === undefined ? [`a${i}`] : []));
      expect(winners).toHaveLength(1);
      expect(new Set(holders.filter((h) => h !== undefined).map((h) => h!.serialNumber))).toEqual(new Set(winners));
    });
  });

  describe('certificates', () => {
    it('round-trips a full certificate record exactly, without its key or index attributes', async () => {
      // Prepare
      const record = certificate({ revokedAt: '2025-06-01T00:00:00.000Z', revocationReason: 'superseded', iotRevocation: 'REVOKED', status: 'REVOKED' });

      // Act
      await store.putCertificate(record);
      const read = await store.getCertificate(record.serialNumber);

      // Assess
      expect(read).toStrictEqual(record);
      expect(Object.keys(read!).sort()).toEqual(Object.keys(record).sort());
      for (const leaked of ['pk', 'type', 'gsi1pk', 'gsi1sk']) expect(read).not.toHaveProperty(leaked);
    });

    it('returns undefined for a serial it never recorded', async () => {
      // Act + Assess
      expect(await store.getCertificate('0123456789abcdef')).toBeUndefined();
    });

    it('takes the same record again (a retry meeting its own landed write) without a collision', async () => {
      const record = certificate({ commonName: 'device-retry' });
      await store.putCertificate(record);
      await store.putCertificate(record);
      expect(await store.listByCommonName('device-retry')).toStrictEqual([record]);
    });

    it('revokes a SUPERSEDED record too (signed, never delivered)', async () => {
      const record = certificate({ commonName: 'device-aside-revoked' });
      await store.putCertificate(record);
      await store.supersedeCertificate(record, '2026-01-01T00:00:00.000Z');
      const revoked = await store.revokeCertificate(record.serialNumber, '2026-01-02T00:00:00.000Z', 'superseded');
      expect(revoked).toMatchObject({ status: 'REVOKED', revokedAt: '2026-01-02T00:00:00.000Z', revocationReason: 'superseded', supersededAt: '2026-01-01T00:00:00.000Z' });
    });

    it('sets aside only its own ISSUED record as SUPERSEDED', async () => {
      const record = certificate({ commonName: 'device-aside' });
      await store.putCertificate(record);
      await store.supersedeCertificate({ ...record, certificateId: 'not-this-one' }, '2026-01-01T00:00:00.000Z');
      expect((await store.getCertificate(record.serialNumber))!.status).toBe('ISSUED');
      await store.supersedeCertificate(record, '2026-01-01T00:00:00.000Z');
      expect(await store.getCertificate(record.serialNumber)).toStrictEqual({ ...record, status: 'SUPERSEDED', supersededAt: '2026-01-01T00:00:00.000Z' });
    });

    it('supersedes an ISSUED record by its replacement, once; the same replacement may then note what AWS IoT said', async () => {
      const record = certificate({ commonName: 'device-replaced' });
      await store.putCertificate(record);
      const first = await store.supersedeByReplacement(record, { supersededBy: 'bb02', supersededAt: '2026-01-01T00:00:00.000Z', iotDeactivation: 'PENDING' });
      const expected = { ...record, status: 'SUPERSEDED', supersededBy: 'bb02', supersededAt: '2026-01-01T00:00:00.000Z', iotDeactivation: 'PENDING' };
      expect(first).toStrictEqual(expected);
      // The same replacement again: only what AWS IoT said changes (the first time stands).
      const noted = await store.supersedeByReplacement(record, { supersededBy: 'bb02', supersededAt: '2026-01-02T00:00:00.000Z', iotDeactivation: 'INACTIVE' });
      expect(noted).toStrictEqual({ ...expected, iotDeactivation: 'INACTIVE' });
      // Another replacement: nothing changes, the record is returned as stored.
      expect(await store.supersedeByReplacement(record, { supersededBy: 'cc03', supersededAt: '2026-01-03T00:00:00.000Z', iotDeactivation: 'PENDING' })).toStrictEqual(noted);
      expect(await store.getCertificate(record.serialNumber)).toStrictEqual(noted);
      // Listed under its new status.
      expect((await store.listCertificates({ filters: { status: 'SUPERSEDED', commonName: 'device-replaced' }, limit: 10 })).records).toStrictEqual([noted]);
      // A superseded certificate may still be revoked.
      expect(await store.revokeCertificate(record.serialNumber, '2026-02-01T00:00:00.000Z', 'keyCompromise')).toMatchObject({ status: 'REVOKED', supersededBy: 'bb02' });
    });

    it('supersedes by replacement neither a revoked record, nor another certificate at the serial, nor a missing one', async () => {
      const revoked = certificate({ commonName: 'device-revoked-first' });
      await store.putCertificate(revoked);
      const stored = await store.revokeCertificate(revoked.serialNumber, '2026-01-01T00:00:00.000Z', 'keyCompromise');
      expect(await store.supersedeByReplacement(revoked, { supersededBy: 'bb02', supersededAt: '2026-01-02T00:00:00.000Z', iotDeactivation: 'PENDING' })).toStrictEqual(stored);
      const other = certificate({ commonName: 'device-other' });
      await store.putCertificate(other);
      expect(await store.supersedeByReplacement({ ...other, certificateId: 'not-this-one' }, { supersededBy: 'bb02', supersededAt: 'x', iotDeactivation: 'PENDING' })).toStrictEqual(other);
      expect(await store.supersedeByReplacement(certificate({ serialNumber: '7f0000000000000000000000000000ff' }), { supersededBy: 'bb02', supersededAt: 'x', iotDeactivation: 'PENDING' })).toBeUndefined();
    });

    it('refuses a second certificate with the same serial with SerialCollisionError and keeps the first', async () => {
      // Prepare
      const first = certificate({ commonName: 'device-0001' });
      await store.putCertificate(first);
      const second = certificate({ serialNumber: first.serialNumber, certificateId: 'another-certificate', commonName: 'device-0002', stationId: 'someone-else' });

      // Act
      const error = await rejectionOf(store.putCertificate(second));

      // Assess
      expect(error).toBeInstanceOf(SerialCollisionError);
      expect(await store.getCertificate(first.serialNumber)).toStrictEqual(first);
      expect(await store.listByCommonName('device-0002')).toEqual([]);
    });

    it('lists by common name only the certificates of that name', async () => {
      // Prepare
      const a1 = certificate({ commonName: 'device-a', issuedAt: '2025-01-01T00:00:00.000Z' });
      const a2 = certificate({ commonName: 'device-a', issuedAt: '2025-02-01T00:00:00.000Z' });
      const b = certificate({ commonName: 'device-b' });
      const prefix = certificate({ commonName: 'device-a-2' });
      for (const r of [a1, b, a2, prefix]) await store.putCertificate(r);

      // Act
      const listed = await store.listByCommonName('device-a');

      // Assess
      expect(listed).toHaveLength(2);
      expect(listed).toEqual(expect.arrayContaining([a1, a2]));
      for (const item of listed) for (const leaked of ['pk', 'type', 'gsi1pk', 'gsi1sk']) expect(item).not.toHaveProperty(leaked);
      expect(await store.listByCommonName('device-b')).toStrictEqual([b]);
      expect(await store.listByCommonName('nobody')).toEqual([]);
    });

    it('lists the certificates of a name in the order they were issued', async () => {
      // Prepare: recorded out of order.
      const later = certificate({ commonName: 'device-c', issuedAt: '2025-03-01T00:00:00.000Z' });
      const first = certificate({ commonName: 'device-c', issuedAt: '2025-01-01T00:00:00.000Z' });
      const middle = certificate({ commonName: 'device-c', issuedAt: '2025-02-01T00:00:00.000Z' });
      for (const r of [later, first, middle]) await store.putCertificate(r);

      // Act + Assess
      expect((await store.listByCommonName('device-c')).map((r) => r.issuedAt)).toEqual([first.issuedAt, middle.issuedAt, later.issuedAt]);
    });

    it('does not index a certificate without a common name', async () => {
      // Prepare
      const nameless = certificate({ commonName: undefined });

      // Act
      await store.putCertificate(nameless);

      // Assess
      expect(await store.getCertificate(nameless.serialNumber)).toStrictEqual(nameless);
      expect(await store.listByCommonName('')).toEqual([]);
      expect(await store.listByCommonName('undefined')).toEqual([]);
    });

    it('drops properties whose value is undefined, as the DynamoDB marshaller does', async () => {
      // Prepare
      const record = { ...certificate(), revokedAt: undefined };

      // Act
      await store.putCertificate(record);

      // Assess
      const read = await store.getCertificate(record.serialNumber);
      expect(read).not.toHaveProperty('revokedAt');
      expect(read).toStrictEqual(certificate({ serialNumber: record.serialNumber }));
    });

    it('shares no object with its callers: changing what was put or read changes nothing stored', async () => {
      // Prepare
      const record = certificate();
      const original = structuredClone(record);
      await store.putCertificate(record);

      // Act
      record.status = 'REVOKED';
      record.subject.CN = 'changed';
      const read = (await store.getCertificate(record.serialNumber))!;
      read.stationId = 'changed';
      read.subject.O = 'changed';

      // Assess
      expect(await store.getCertificate(record.serialNumber)).toStrictEqual(original);
    });

    it('revokes an ISSUED certificate once and returns the record as stored; the first time and reason stand', async () => {
      // Prepare
      const record = certificate();
      await store.putCertificate(record);

      // Act
      const first = await store.revokeCertificate(record.serialNumber, '2025-06-01T00:00:00.000Z', 'keyCompromise');
      const second = await store.revokeCertificate(record.serialNumber, '2025-07-01T00:00:00.000Z', 'superseded');
      const unknown = await store.revokeCertificate('0123456789abcdef', '2025-07-01T00:00:00.000Z', 'superseded');

      // Assess
      const revoked = { ...record, status: 'REVOKED', revokedAt: '2025-06-01T00:00:00.000Z', revocationReason: 'keyCompromise' };
      expect(first).toStrictEqual(revoked);
      expect(second).toStrictEqual(revoked);
      expect(await store.getCertificate(record.serialNumber)).toStrictEqual(revoked);
      expect(unknown).toBeUndefined();
    });

    it('records what AWS IoT said of a certificate, and refuses an unknown serial with INTERNAL', async () => {
      // Prepare
      const record = certificate();
      await store.putCertificate(record);

      // Act
      await store.setIotRevocation(record.serialNumber, 'REGISTERED_AS_REVOKED');
      const unknown = await rejectionOf<CaError>(store.setIotRevocation('0123456789abcdef', 'REVOKED'));

      // Assess
      expect(await store.getCertificate(record.serialNumber)).toStrictEqual({ ...record, iotRevocation: 'REGISTERED_AS_REVOKED' });
      expect(unknown).toBeInstanceOf(CaError);
      expect(unknown.code).toBe('INTERNAL');
      expect(await store.getCertificate('0123456789abcdef')).toBeUndefined();
    });
  });

  describe('ledger queries', () => {
    let sample: CertificateRecord[];
    beforeEach(async () => {
      sample = ledgerSample();
      for (const r of sample) await store.putCertificate(r);
    });

    const STATION = 'arn:aws:sts::111122223333:assumed-role/station/line-7';
    const QUERIES: Array<[string, CertificateFilters]> = [
      ['commonName', { commonName: 'dev-a' }],
      ['issuingCaId', { issuingCaId: 'issuing-2' }],
      ['stationId (an IAM ARN)', { stationId: STATION }],
      ['status ISSUED', { status: 'ISSUED' }],
      ['status REVOKED', { status: 'REVOKED' }],
      ['a time range alone (several days)', { issuedAfter: '2025-03-01T12:00:00.000Z', issuedBefore: '2025-03-03T09:00:00.000Z' }],
      ['commonName and status', { commonName: 'dev-a', status: 'ISSUED' }],
      ['issuingCaId, stationId and status', { issuingCaId: 'issuing-1', stationId: 'line-2', status: 'ISSUED' }],
      ['stationId and issuedAfter', { stationId: 'line-2', issuedAfter: '2025-03-02T00:00:00.000Z' }],
      ['status and issuedBefore', { status: 'ISSUED', issuedBefore: '2025-03-02T10:00:00.000Z' }],
      ['commonName and a time range', { commonName: 'dev-b', issuedAfter: '2025-03-01T05:00:00.000Z', issuedBefore: '2025-03-04T00:00:00.000Z' }],
      ['a common name nobody has', { commonName: 'nobody' }],
    ];

    it.each(QUERIES)('answers a query by %s with every match, in issue order, on one page', async (_, filters) => {
      // Act
      const [page, ...more] = await pagesOf(store, filters, 1000);

      // Assess
      expect(more).toEqual([]);
      expect(page!.records).toStrictEqual(matching(sample, filters));
      for (const r of page!.records) for (const leaked of ['pk', 'type', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi3pk', 'gsi4pk', 'gsi5pk']) expect(r).not.toHaveProperty(leaked);
    });

    it.each(QUERIES)('pages a query by %s with limit 2: every match exactly once, in issue order, never more than 2 a page', async (_, filters) => {
      // Act
      const pages = await pagesOf(store, filters, 2);

      // Assess
      expect(pages.flatMap((p) => p.records)).toStrictEqual(matching(sample, filters));
      for (const p of pages) expect(p.records.length).toBeLessThanOrEqual(2);
      expect(pages.at(-1)!.next).toBeUndefined();
      for (const p of pages.slice(0, -1)) expect(p.next).toMatch(/^[A-Za-z0-9_-]+$/);
    });

    it('includes issuedAfter and excludes issuedBefore', async () => {
      // Prepare: one record issued exactly at each bound.
      const [first, second] = matching(sample, { commonName: 'dev-a' });

      // Act
      const page = await store.listCertificates({ filters: { issuedAfter: first!.issuedAt, issuedBefore: second!.issuedAt }, limit: 1000 });

      // Assess
      expect(page.records.map((r) => r.serialNumber)).toContain(first!.serialNumber);
      expect(page.records.map((r) => r.serialNumber)).not.toContain(second!.serialNumber);
    });

    it('moves a revoked certificate from the ISSUED to the REVOKED partition of the status index', async () => {
      // Prepare
      const [target] = matching(sample, { commonName: 'dev-c', status: 'ISSUED' });

      // Act
      await store.revokeCertificate(target!.serialNumber, '2025-06-01T00:00:00.000Z', 'keyCompromise');

      // Assess
      const revoked = (await store.listCertificates({ filters: { status: 'REVOKED' }, limit: 1000 })).records;
      const issued = (await store.listCertificates({ filters: { status: 'ISSUED' }, limit: 1000 })).records;
      expect(revoked.find((r) => r.serialNumber === target!.serialNumber)).toMatchObject({ status: 'REVOKED', revocationReason: 'keyCompromise' });
      expect(issued.map((r) => r.serialNumber)).not.toContain(target!.serialNumber);
      expect(revoked).toHaveLength(matching(sample, { status: 'REVOKED' }).length + 1);
    });

    it('walks the days of a time range in order, across days without certificates', async () => {
      // Prepare: two certificates 45 days apart, more empty days between them than one page reads.
      const early = certificate({ commonName: 'walk-1', issuedAt: '2025-05-01T10:00:00.000Z' });
      const late = certificate({ commonName: 'walk-2', issuedAt: '2025-06-15T10:00:00.000Z' });
      for (const r of [late, early]) await store.putCertificate(r);

      // Act
      const pages = await pagesOf(store, { issuedAfter: '2025-05-01T00:00:00.000Z', issuedBefore: '2025-07-01T00:00:00.000Z' }, 10);

      // Assess: the first page ends after MAX_PARTITIONS_PER_PAGE days, short of its limit.
      expect(45).toBeGreaterThan(MAX_PARTITIONS_PER_PAGE);
      expect(pages.map((p) => p.records.map((r) => r.commonName))).toEqual([['walk-1'], ['walk-2']]);
    });

    it('ends a page of a time range at about 1 MiB of records, and goes on from there', async () => {
      // Prepare: twelve certificates of 100 kB, one a day.
      const big = Array.from({ length: 12 }, (_, i) =>
        certificate({ commonName: `big-${i}`, issuedAt: `2025-08-${String(i + 1).padStart(2, '0')}T00:00:00.000Z`, certificatePem: 'x'.repeat(100_000) }),
      );
      for (const r of big) await store.putCertificate(r);

      // Act
      const pages = await pagesOf(store, { issuedAfter: '2025-08-01T00:00:00.000Z', issuedBefore: '2025-09-01T00:00:00.000Z' }, 1000);

      // Assess
      expect(pages.map((p) => p.records.length)).toEqual([11, 1]);
      expect(pages.flatMap((p) => p.records)).toStrictEqual(big);
    });

    it.each([
      ['a garbled token', () => 'not a token!'],
      ['base64url of something else', () => Buffer.from('{"a":1}').toString('base64url')],
      ['base64url of non-JSON', () => Buffer.from('\u0000\u0001').toString('base64url')],
      ['a token of 2 kB', () => 'A'.repeat(2048)],
    ])('refuses %s as next with INVALID_REQUEST', async (_, token) => {
      // Act
      const error = await rejectionOf<CaError>(store.listCertificates({ filters: { commonName: 'dev-a' }, limit: 2, next: token() }));

      // Assess
      expect(error).toBeInstanceOf(CaError);
      expect(error.code).toBe('INVALID_REQUEST');
      expect(error.details).toEqual([{ field: 'next', reason: expect.any(String) }]);
    });

    it.each<[string, CertificateFilters]>([
      ['another common name', { commonName: 'dev-b' }],
      ['another index', { issuingCaId: 'issuing-1' }],
      ['a time range that does not hold the position', { commonName: 'dev-a', issuedAfter: '2025-04-01T00:00:00.000Z' }],
    ])('refuses a next token made for other filters: %s', async (_, other) => {
      // Prepare
      const { next } = await store.listCertificates({ filters: { commonName: 'dev-a' }, limit: 1 });

      // Act
      const error = await rejectionOf<CaError>(store.listCertificates({ filters: other, limit: 1, next: next! }));

      // Assess
      expect([error.code, error.details?.[0]?.field]).toEqual(['INVALID_REQUEST', 'next']);
    });

    it('refuses a forged token that points into another partition', async () => {
      // Prepare: a real token, its key moved to another common name's partition.
      const { next } = await store.listCertificates({ filters: { commonName: 'dev-a' }, limit: 1 });
      const token = JSON.parse(Buffer.from(next!, 'base64url').toString('utf8'));
      const forged = (t: unknown) => Buffer.from(JSON.stringify(t)).toString('base64url');

      // Act
      const moved = await rejectionOf<CaError>(store.listCertificates({ filters: { commonName: 'dev-a' }, limit: 1, next: forged({ ...token, k: { ...token.k, gsi1pk: 'CN#dev-b' } }) }));
      const both = await rejectionOf<CaError>(store.listCertificates({ filters: { commonName: 'dev-a' }, limit: 1, next: forged({ ...token, p: 'CN#dev-b', k: { ...token.k, gsi1pk: 'CN#dev-b' } }) }));
      const extra = await rejectionOf<CaError>(store.listCertificates({ filters: { commonName: 'dev-a' }, limit: 1, next: forged({ ...token, k: { ...token.k, gsi2pk: 'CA#x' } }) }));

      // Assess
      for (const e of [moved, both, extra]) expect([e.code, e.details?.[0]?.field]).toEqual(['INVALID_REQUEST', 'next']);
    });

    it.each<[string, CertificateFilters]>([
      ['no filter at all', {}],
      ['issuedAfter alone', { issuedAfter: '2025-03-01T00:00:00.000Z' }],
      ['a time range of more than 366 days', { issuedAfter: '2024-01-01T00:00:00.000Z', issuedBefore: '2025-01-02T00:00:01.000Z' }],
      ['issuedBefore not after issuedAfter', { commonName: 'dev-a', issuedAfter: '2025-03-02T00:00:00.000Z', issuedBefore: '2025-03-02T00:00:00.000Z' }],
    ])('refuses %s with INVALID_REQUEST', async (_, filters) => {
      // Act
      const error = await rejectionOf<CaError>(store.listCertificates({ filters, limit: 10 }));

      // Assess
      expect(error).toBeInstanceOf(CaError);
      expect(error.code).toBe('INVALID_REQUEST');
    });

    it('takes filter values as values, never as expressions', async () => {
      // Act
      const page = await store.listCertificates({ filters: { commonName: "dev-a' OR 1=1", stationId: ':pk OR #pk = :pk', status: 'ISSUED' }, limit: 10 });

      // Assess
      expect(page).toEqual({ records: [] });
    });
  });

  describe('CA records', () => {
    it('records a CA once and keeps the first record when the id is reused', async () => {
      // Prepare
      const first = caRecord('issuing-0a0b0c0d0e0f');

      // Act
      const created = await store.putCa(first);
      const again = await store.putCa(caRecord('issuing-0a0b0c0d0e0f', { status: 'RETIRED', subject: 'CN=Impostor' }));

      // Assess
      expect(created).toBe(true);
      expect(again).toBe(false);
      expect(await store.getCa('issuing-0a0b0c0d0e0f')).toStrictEqual(first);
    });

    it('round-trips a software-key root CA without a parent', async () => {
      // Prepare
      const { parentId: _, ...root } = caRecord('root-010203040506', { role: 'root', key: { kind: 'software', file: 'ca/root-1.key' } });

      // Act
      await store.putCa(root);

      // Assess
      expect(await store.getCa('root-010203040506')).toStrictEqual(root);
      expect(await store.getCa('root-ffffffffffff')).toBeUndefined();
    });

    it('replaces an existing CA record, and refuses to create one with INTERNAL', async () => {
      // Prepare
      const record = caRecord('issuing-1', { status: 'PENDING' });
      await store.putCa(record);
      const registered = { ...record, status: 'ACTIVE' as const, iotCertificateId: 'f'.repeat(64), iotStatus: 'ACTIVE' };

      // Act
      await store.updateCa(registered);
      const missing = await rejectionOf<CaError>(store.updateCa(caRecord('issuing-2')));

      // Assess
      expect(await store.getCa('issuing-1')).toStrictEqual(registered);
      expect(missing).toBeInstanceOf(CaError);
      expect(missing.code).toBe('INTERNAL');
      expect(await store.getCa('issuing-2')).toBeUndefined();
    });

    it('sets the active issuing CA once from nothing, then only over the expected id', async () => {
      // Act
      const initially = await store.getActiveIssuingCaId();
      const first = await store.setActiveIssuingCa('issuing-1', undefined);
      const secondFromNothing = await store.setActiveIssuingCa('issuing-2', undefined);
      const wrongExpected = await store.setActiveIssuingCa('issuing-2', 'issuing-9');
      const afterRefusals = await store.getActiveIssuingCaId();
      const rightExpected = await store.setActiveIssuingCa('issuing-2', 'issuing-1');
      const finally_ = await store.getActiveIssuingCaId();

      // Assess
      expect(initially).toBeUndefined();
      expect(first).toBe(true);
      expect(secondFromNothing).toBe(false);
      expect(wrongExpected).toBe(false);
      expect(afterRefusals).toBe('issuing-1');
      expect(rightExpected).toBe(true);
      expect(finally_).toBe('issuing-2');
    });

    it('does not move the pointer when none is set and one is expected', async () => {
      // Act + Assess
      expect(await store.setActiveIssuingCa('issuing-2', 'issuing-1')).toBe(false);
      expect(await store.getActiveIssuingCaId()).toBeUndefined();
    });
  });
});

describe('Contract: both stores page every query alike', () => {
  const QUERIES: CertificateFilters[] = [
    { commonName: 'dev-a' },
    { issuingCaId: 'issuing-1', status: 'ISSUED' },
    { stationId: 'line-2', issuedAfter: '2025-03-02T00:00:00.000Z' },
    { status: 'REVOKED' },
    { issuedAfter: '2025-03-01T00:00:00.000Z', issuedBefore: '2025-03-05T00:00:00.000Z' },
  ];

  it('gives the same pages, page boundaries and next tokens, for every limit', async () => {
    // Prepare
    const sample = ledgerSample();
    const [memory, dynamo] = await Promise.all(STORES.map(([, open]) => open()));
    for (const r of sample) {
      await memory!.putCertificate(r);
      await dynamo!.putCertificate(r);
    }

    for (const filters of QUERIES) {
      for (const limit of [1, 2, 3, 5, 1000]) {
        // Act
        const [fromMemory, fromDynamo] = await Promise.all([pagesOf(memory!, filters, limit), pagesOf(dynamo!, filters, limit)]);

        // Assess
        expect({ filters, limit, pages: fromDynamo }).toStrictEqual({ filters, limit, pages: fromMemory });
      }
    }
  });
});
