import { describe, expect, it } from '@jest/globals';
import { CaError } from '../../../src/service/errors.js';
import type { CertificateFilters } from '../../../src/service/ports.js';
import { decodeNext, encodeNext, planListing } from '../../../src/store/certificate-listing.js';
import { CERTIFICATE_INDEXES } from '../../../src/store/table.js';
import { thrownError } from '../../helpers/errors.js';

// What the stores answer is in store-contract.test.ts; here, the choice of index and the token's checks.
const token = (t: unknown) => Buffer.from(JSON.stringify(t)).toString('base64url');
const refusal = (fn: () => unknown): CaError => thrownError(fn, CaError);

describe('Function: planListing', () => {
  it.each<[CertificateFilters, string, string[], Record<string, string>]>([
    [{ commonName: 'a', issuingCaId: 'c', stationId: 's', status: 'ISSUED' }, 'byCommonName', ['CN#a'], { issuingCaId: 'c', stationId: 's', status: 'ISSUED' }],
    [{ issuingCaId: 'c', stationId: 's', status: 'REVOKED' }, 'byIssuingCa', ['CA#c'], { stationId: 's', status: 'REVOKED' }],
    [{ stationId: 's', status: 'ISSUED' }, 'byStation', ['STATION#s'], { status: 'ISSUED' }],
    [{ status: 'REVOKED', issuedAfter: '2025-01-01T00:00:00.000Z' }, 'byStatus', ['STATUS#REVOKED'], {}],
  ])('serves %j from the most selective index', (filters, index, partitions, others) => {
    const plan = planListing(filters);
    expect([plan.index.name, plan.partitions, plan.filters]).toEqual([index, partitions, others]);
  });

  it('walks the UTC days of a time range alone, the last one being the day before issuedBefore when it is midnight', () => {
    const plan = planListing({ issuedAfter: '2025-02-27T23:00:00.000Z', issuedBefore: '2025-03-02T00:00:00.000Z' });
    expect(plan.index).toBe(CERTIFICATE_INDEXES.byIssueDay);
    expect(plan.partitions).toEqual(['DAY#2025-02-27', 'DAY#2025-02-28', 'DAY#2025-03-01']);
    expect(plan.range).toEqual({ from: '2025-02-27T23:00:00.000Z', to: '2025-03-02T00:00:00.000Z' });
  });

  it('allows 366 days and no more for a time range alone', () => {
    expect(planListing({ issuedAfter: '2024-01-01T00:00:00.000Z', issuedBefore: '2025-01-01T00:00:00.000Z' }).partitions).toHaveLength(366);
    expect(refusal(() => planListing({ issuedAfter: '2024-01-01T00:00:00.000Z', issuedBefore: '2025-01-01T00:00:00.001Z' })).details).toEqual([{ field: 'issuedBefore', reason: expect.stringContaining('366 days') }]);
  });
});

describe('Function: decodeNext', () => {
  const byCn = planListing({ commonName: 'dev-a', issuedAfter: '2025-03-01T00:00:00.000Z' });
  const byDay = planListing({ issuedAfter: '2025-03-01T00:00:00.000Z', issuedBefore: '2025-03-03T00:00:00.000Z' });
  const key = { pk: 'CERT#0a0b', gsi1pk: 'CN#dev-a', gsi1sk: '2025-03-02T10:00:00.000Z#0a0b' };

  it('reads back what encodeNext wrote', () => {
    expect(decodeNext(encodeNext(byCn.index, { partition: 'CN#dev-a', key }), byCn)).toEqual({ partition: 'CN#dev-a', key });
    expect(decodeNext(encodeNext(byDay.index, { partition: 'DAY#2025-03-02' }), byDay)).toEqual({ partition: 'DAY#2025-03-02' });
  });

  it.each<[string, unknown]>([
    ['another top-level field', { i: 'byCommonName', p: 'CN#dev-a', k: key, x: 1 }],
    ['no key for a one-partition query', { i: 'byCommonName', p: 'CN#dev-a' }],
    ['a key with another serial in its sort key', { i: 'byCommonName', p: 'CN#dev-a', k: { ...key, gsi1sk: '2025-03-02T10:00:00.000Z#ffff' } }],
    ['a key that is not a certificate', { i: 'byCommonName', p: 'CN#dev-a', k: { ...key, pk: 'CA#issuing-1' } }],
    ['a sort key that is not an issue order', { i: 'byCommonName', p: 'CN#dev-a', k: { ...key, gsi1sk: 'zzz' } }],
    ['a key value of another type', { i: 'byCommonName', p: 'CN#dev-a', k: { ...key, gsi1sk: 1 } }],
    ['a key before issuedAfter', { i: 'byCommonName', p: 'CN#dev-a', k: { ...key, gsi1sk: '2025-02-28T10:00:00.000Z#0a0b' } }],
    ['a partition of another index', { i: 'byIssuingCa', p: 'CA#issuing-1', k: { pk: 'CERT#0a0b', gsi2pk: 'CA#issuing-1', gsi1sk: key.gsi1sk } }],
    ['an array', [1, 2]],
    ['null', null],
  ])('refuses a token with %s', (_, raw) => {
    expect(refusal(() => decodeNext(token(raw), byCn)).details).toEqual([{ field: 'next', reason: expect.any(String) }]);
  });

  it.each<[string, unknown]>([
    ['a day outside the range', { i: 'byIssueDay', p: 'DAY#2025-03-05' }],
    ['a key of another day than its partition', { i: 'byIssueDay', p: 'DAY#2025-03-01', k: { pk: 'CERT#0a0b', gsi5pk: 'DAY#2025-03-01', gsi1sk: '2025-03-02T10:00:00.000Z#0a0b' } }],
    ['a key at issuedBefore', { i: 'byIssueDay', p: 'DAY#2025-03-03', k: { pk: 'CERT#0a0b', gsi5pk: 'DAY#2025-03-03', gsi1sk: '2025-03-03T00:00:00.000Z#0a0b' } }],
  ])('refuses a day-walk token with %s', (_, raw) => {
    expect(refusal(() => decodeNext(token(raw), byDay)).code).toBe('INVALID_REQUEST');
  });
});
