/**
 * GET /certificates, the ledger query, through the real route on a dynalite
 * ledger holding a known sample: two issuing CAs (one rotation), three
 * stations, both statuses, five days of issue.
 */
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { CertificateFilters, CertificateRecord } from '../../../src/service/ports.js';
import { apiEvent } from '../../helpers/api.js';
import { ledgerSample, matching } from '../../helpers/ledger-records.js';
import { expectConforms } from '../../helpers/openapi.js';
import { callRoute, routesOf, useTestApp } from '../../helpers/test-app.js';

// "Now" for queries by time that name no end.
const NOW = new Date('2025-03-06T12:00:00.000Z');
const testApp = useTestApp({}, { clock: () => NOW });
const routes = routesOf(testApp);
const STATION = 'arn:aws:sts::111122223333:assumed-role/station/line-7';

let sample: CertificateRecord[];
beforeAll(async () => {
  // A second issuing CA, so that certificates of issuing-1 and issuing-2 both have a chain.
  const rotated = await callRoute(routes.rotate, apiEvent({ method: 'POST', body: '{"force": true}', headers: { 'content-type': 'application/json' } }));
  expect(rotated.json.activeIssuingCaId).toBe('issuing-2');
  sample = ledgerSample().map((r) => ({ ...r, certificateId: r.serialNumber.padEnd(64, '0') }));
  for (const r of sample) await testApp().store.putCertificate(r);
});

async function list(query: Record<string, string>, more: Partial<APIGatewayProxyEvent> = {}) {
  const res = await callRoute(routes.listCertificates, { ...apiEvent({ path: '/certificates', query }), ...more });
  expectConforms('GET', '/certificates', res.statusCode, res.json, res.headers as Record<string, string>);
  expect(res.statusCode).toBeLessThan(500);
  return res;
}

/** Every page, following next; the serials of each page. */
async function pages(query: Record<string, string>): Promise<string[][]> {
  const out: string[][] = [];
  let next: string | undefined;
  do {
    const res = await list({ ...query, ...(next ? { next } : {}) });
    expect(res.statusCode).toBe(200);
    out.push(res.json.items.map((i: { serialNumber: string }) => i.serialNumber));
    next = res.json.next;
  } while (next && out.length < 100);
  return out;
}

const serials = (f: CertificateFilters) => matching(sample, f).map((r) => r.serialNumber);
const toQuery = (f: CertificateFilters) => Object.fromEntries(Object.entries(f).map(([k, v]) => [k, String(v)]));

describe('Route: GET /certificates (ledger query)', () => {
  it.each<[string, CertificateFilters]>([
    ['commonName', { commonName: 'dev-a' }],
    ['issuingCaId', { issuingCaId: 'issuing-2' }],
    ['stationId', { stationId: STATION }],
    ['status=ISSUED', { status: 'ISSUED' }],
    ['status=REVOKED', { status: 'REVOKED' }],
    ['issuedAfter and issuedBefore alone', { issuedAfter: '2025-03-02T00:00:00.000Z', issuedBefore: '2025-03-04T00:00:00.000Z' }],
    ['commonName and status', { commonName: 'dev-b', status: 'ISSUED' }],
    ['issuingCaId and stationId', { issuingCaId: 'issuing-1', stationId: 'line-1' }],
    ['stationId, status and a time range', { stationId: 'line-2', status: 'ISSUED', issuedAfter: '2025-03-01T10:00:00.000Z', issuedBefore: '2025-03-05T00:00:00.000Z' }],
    ['status and issuedBefore', { status: 'REVOKED', issuedBefore: '2025-03-03T00:00:00.000Z' }],
  ])('filters by %s: every match, in issue order, with the ledger fields', async (_, filters) => {
    const res = await list({ ...toQuery(filters), limit: '1000' });
    expect(res.statusCode).toBe(200);
    expect(res.json.items.map((i: { serialNumber: string }) => i.serialNumber)).toEqual(serials(filters));
    expect(res.json.items.length).toBeGreaterThan(0);
    expect(res.json).not.toHaveProperty('next');
    for (const item of res.json.items) expect(Object.keys(item)).toEqual(expect.arrayContaining(['issuedAt', 'stationId', 'status', 'issuingCaId', 'caCertificatePem', 'provisioning']));
  });

  it.each<[string, CertificateFilters]>([
    ['commonName', { commonName: 'dev-a' }],
    ['issuingCaId with a filter that drops some', { issuingCaId: 'issuing-1', status: 'REVOKED' }],
    ['status', { status: 'ISSUED' }],
    ['a time range alone, across days', { issuedAfter: '2025-03-01T00:00:00.000Z', issuedBefore: '2025-03-06T00:00:00.000Z' }],
  ])('pages a query by %s with limit=2: each certificate exactly once, in issue order', async (_, filters) => {
    const got = await pages({ ...toQuery(filters), limit: '2' });
    expect(got.flat()).toEqual(serials(filters));
    expect(new Set(got.flat()).size).toBe(got.flat().length);
    expect(got.length).toBeGreaterThan(1);
    for (const page of got) expect(page.length).toBeLessThanOrEqual(2);
  });

  it('ends a query by issuedAfter alone now', async () => {
    const res = await list({ issuedAfter: '2025-03-04' });
    expect(res.json.items.map((i: { serialNumber: string }) => i.serialNumber)).toEqual(serials({ issuedAfter: '2025-03-04T00:00:00.000Z', issuedBefore: NOW.toISOString() }));
    expect((await list({ issuedAfter: '2025-03-07T00:00:00Z' })).json).toEqual({ items: [] });
  });

  it('reads a time with a zone as the same instant in UTC', async () => {
    const utc = await list({ issuedAfter: '2025-03-02T10:00:00Z', issuedBefore: '2025-03-03T10:00:00Z' });
    const paris = await list({ issuedAfter: '2025-03-02T11:00+01:00', issuedBefore: '2025-03-03T05:00:00.000-05:00' });
    expect(paris.json.items.length).toBeGreaterThan(0);
    expect(paris.json).toEqual(utc.json);
  });

  it('reads at most 100 certificates a page when no limit is given', async () => {
    const spy = jest.spyOn(testApp().store, 'listCertificates');
    await list({ commonName: 'dev-a' });
    expect(spy.mock.calls[0]![0].limit).toBe(100);
    spy.mockRestore();
  });

  it('takes filter values as values: quotes and expression syntax find nothing', async () => {
    for (const value of ["dev-a' OR '1'='1", 'dev-a OR #pk = :pk', ':pk', '#status', 'CN#dev-a', '${commonName}']) {
      const res = await list({ commonName: value, stationId: value });
      expect([value, res.statusCode, res.json]).toEqual([value, 200, { items: [] }]);
    }
  });

  const invalid = async (query: Record<string, string>, field: string, more: Partial<APIGatewayProxyEvent> = {}) => {
    const res = await list(query, more);
    expect([res.statusCode, res.json.error.code]).toEqual([400, 'INVALID_REQUEST']);
    expect(res.json.error.details.map((d: { field: string }) => d.field)).toContain(field);
    return res.json.error;
  };

  it('requires a filter and names them', async () => {
    const error = await invalid({}, 'query');
    expect(error.message).toMatch(/commonName, lotId, issuingCaId, stationId, status, or issuedAfter/);
    await invalid({ limit: '5' }, 'query');
  });

  it('refuses an unknown parameter, naming the known ones, and a parameter given twice', async () => {
    const error = await invalid({ commonName: 'dev-a', CommonName: 'dev-b' }, 'CommonName');
    expect(error.details[0].reason).toMatch(/commonName, lotId, issuingCaId, stationId, status, issuedAfter, issuedBefore, limit, next/);
    await invalid({ commonName: 'dev-b' }, 'commonName', { multiValueQueryStringParameters: { commonName: ['dev-a', 'dev-b'] } });
  });

  it.each(['0', '1001', '-1', '1.5', '1e3', ' 5', 'ten', '99999999999999999999', ''])('refuses limit=%j', async (limit) => {
    await invalid({ commonName: 'dev-a', limit }, 'limit');
  });

  it('queries with the longest values it accepts without a server error', async () => {
    const longest: Array<Record<string, string>> = [{ stationId: 'a'.repeat(1024) }, { stationId: '\u{1F600}'.repeat(256) }, { commonName: '\u{1F600}'.repeat(128) }, { issuingCaId: 'é'.repeat(128) }];
    for (const query of longest) {
      expect(await list(query)).toMatchObject({ statusCode: 200, json: { items: [] } });
    }
  });

  it('accepts limit=1 and limit=1000', async () => {
    expect((await list({ commonName: 'dev-a', limit: '1' })).json.items).toHaveLength(1);
    expect((await list({ commonName: 'dev-a', limit: '1000' })).statusCode).toBe(200);
  });

  it.each([
    ['an unknown status', { status: 'EXPIRED' }, 'status'],
    ['a lower-case status', { status: 'issued' }, 'status'],
    ['an empty common name', { commonName: '' }, 'commonName'],
    ['a common name over 256 characters', { commonName: 'a'.repeat(257) }, 'commonName'],
    ['a station id over 1,024 characters', { stationId: 'a'.repeat(1025) }, 'stationId'],
    ['a station id over 1,024 bytes of UTF-8', { stationId: '\u{1F600}'.repeat(257) }, 'stationId'],
    ['a lone surrogate', { commonName: 'dev-\uD800' }, 'commonName'],
    ['a date that does not exist', { issuedAfter: '2025-02-30' }, 'issuedAfter'],
    ['hour 24', { issuedAfter: '2025-03-01T24:00:00Z' }, 'issuedAfter'],
    ['a time without a zone', { issuedAfter: '2025-03-01T10:00:00' }, 'issuedAfter'],
    ['a time that is not ISO 8601', { issuedAfter: 'yesterday' }, 'issuedAfter'],
    ['microseconds', { issuedAfter: '2025-03-01T10:00:00.123456Z' }, 'issuedAfter'],
    ['issuedBefore at issuedAfter', { issuedAfter: '2025-03-01', issuedBefore: '2025-03-01T00:00:00Z' }, 'issuedBefore'],
    ['issuedBefore alone', { issuedBefore: '2025-03-01' }, 'issuedAfter'],
    ['a time range alone of 367 days', { issuedAfter: '2024-03-01', issuedBefore: '2025-03-03' }, 'issuedBefore'],
    ['issuedAfter alone more than 366 days ago', { issuedAfter: '2024-03-01' }, 'issuedBefore'],
  ])('refuses %s', async (_, query, field) => {
    await invalid(query, field);
  });

  it('allows a time range of 366 days alone, and any range with another filter', async () => {
    expect((await list({ issuedAfter: '2024-03-05', issuedBefore: '2025-03-06' })).statusCode).toBe(200);
    expect((await list({ commonName: 'dev-a', issuedAfter: '2000-01-01', issuedBefore: '2099-01-01' })).json.items).toHaveLength(serials({ commonName: 'dev-a' }).length);
  });

  describe('next tokens', () => {
    const firstNext = async (query: Record<string, string>) => (await list({ ...query, limit: '1' })).json.next as string;
    const forge = (t: unknown) => Buffer.from(JSON.stringify(t)).toString('base64url');

    it('refuses a token reused with other filters: another value, another index, another time range', async () => {
      const next = await firstNext({ commonName: 'dev-a' });
      await invalid({ commonName: 'dev-b', next }, 'next');
      await invalid({ issuingCaId: 'issuing-1', next }, 'next');
      await invalid({ status: 'ISSUED', next }, 'next');
      await invalid({ issuedAfter: '2025-03-01', issuedBefore: '2025-03-05', next }, 'next');
      await invalid({ commonName: 'dev-a', issuedAfter: '2025-03-05', next }, 'next');
      const byDay = await firstNext({ issuedAfter: '2025-03-01', issuedBefore: '2025-03-06' });
      await invalid({ issuedAfter: '2025-03-03', issuedBefore: '2025-03-06', next: byDay }, 'next');
    });

    it('refuses a forged token that moves the key into another partition or another index', async () => {
      const next = await firstNext({ commonName: 'dev-a' });
      const token = JSON.parse(Buffer.from(next, 'base64url').toString('utf8'));
      await invalid({ commonName: 'dev-a', next: forge({ ...token, k: { ...token.k, gsi1pk: 'CN#dev-b' } }) }, 'next');
      await invalid({ commonName: 'dev-a', next: forge({ ...token, i: 'byStatus', p: 'STATUS#ISSUED', k: { pk: token.k.pk, gsi4pk: 'STATUS#ISSUED', gsi1sk: token.k.gsi1sk } }) }, 'next');
      await invalid({ commonName: 'dev-a', next: forge({ ...token, k: { ...token.k, pk: 'CA#issuing-1' } }) }, 'next');
      await invalid({ commonName: 'dev-a', next: forge({ ...token, k: { ...token.k, gsi1sk: 'CN#' } }) }, 'next');
    });

    it.each([
      ['not base64url', '%%%'],
      ['base64url of garbage', 'bm90IGpzb24'],
      ['a JSON string', forge('x')],
      ['JSON with __proto__', forge({ __proto__: { i: 'byCommonName' }, i: 'byCommonName', p: 'CN#dev-a' })],
      ['a token of 1025 characters', 'A'.repeat(1025)],
      ['a deeply nested key', forge({ i: 'byCommonName', p: 'CN#dev-a', k: JSON.parse('['.repeat(200) + ']'.repeat(200)) })],
    ])('answers 400, never 5xx, for next = %s', async (_, next) => {
      await invalid({ commonName: 'dev-a', next }, 'next');
    });
  });
});
