/**
 * Production lots through the routes, on a dynalite ledger: opening, reading and
 * closing a lot; issuance under it with its quota enforced by the ledger's
 * conditional counter, whatever the number of racing stations.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { CaError } from '../../../src/service/errors.js';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { apiEvent, jsonPost } from '../../helpers/api.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { callRoute, routesOf, useTestApp } from '../../helpers/test-app.js';

const testApp = useTestApp({ TRUST_STATION_HEADER: 'true' });
const routes = routesOf(testApp);
const csrFor = (cn: string, key = newP256Key()) => buildCsr({ key, subjectDer: subject({ CN: STRING.utf8(cn) }) });
const inAWeek = () => new Date(Date.now() + 7 * 86_400_000).toISOString();
const open = (lot: Record<string, unknown>) => callRoute(routes.openLot, jsonPost(lot));
const show = (lotId: string) => callRoute(routes.getLot, apiEvent({ pathParameters: { lotId } }));
const close = (lotId: string, operator = 'operator-1') => callRoute(routes.closeLot, apiEvent({ method: 'POST', pathParameters: { lotId }, headers: { 'X-Station-Id': operator } }));
const issue = (cn: string, lotId?: string, o: { station?: string; key?: ReturnType<typeof newP256Key>; header?: boolean } = {}) =>
  callRoute(
    routes.issue,
    jsonPost(o.header || lotId === undefined ? { csr: csrFor(cn, o.key) } : { csr: csrFor(cn, o.key), lotId }, {
      'X-Station-Id': o.station ?? 'line-1',
      ...(o.header && lotId ? { 'X-Lot-Id': lotId } : {}),
    }),
  );

async function lotCertificates(lotId: string): Promise<number> {
  const out = await testApp().client.send(new ScanCommand({ TableName: testApp().config.tableName }));
  return (out.Items ?? []).filter((i) => i.pk?.S?.startsWith('CERT#') && i.lotId?.S === lotId).length;
}

describe('Lots: open, read, close', () => {
  it('opens a lot (201), answers the same lot again with 200, and a different lot under its id with 409 LOT_EXISTS', async () => {
    const lot = { lotId: 'L-open-1', product: 'sensor-v2', quota: 10, closesAt: inAWeek() };
    const first = await open(lot);
    expect(first.statusCode).toBe(201);
    expect(first.json).toMatchObject({ lotId: 'L-open-1', product: 'sensor-v2', quota: 10, issued: 0, revoked: 0, remaining: 10, status: 'OPEN' });
    expect((await open(lot)).statusCode).toBe(200);
    const other = await open({ ...lot, quota: 11 });
    expect([other.statusCode, other.json.error.code]).toEqual([409, 'LOT_EXISTS']);
    expect((await show('L-open-1')).json.quota).toBe(10);
  });

  it("two operators racing to open different lots under one id: one 201, the other 409 LOT_EXISTS, and the winner's terms stand", async () => {
    const [a, b] = await Promise.all([open({ lotId: 'L-race-open', product: 'a', quota: 5, closesAt: inAWeek() }), open({ lotId: 'L-race-open', product: 'b', quota: 7, closesAt: inAWeek() })]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([201, 409]);
    const winner = a.statusCode === 201 ? a.json : b.json;
    expect((await show('L-race-open')).json).toMatchObject({ product: winner.product, quota: winner.quota });
  });

  it('a close racing issuances: every certificate recorded took a seat before the close, and none after', async () => {
    await open({ lotId: 'L-race-close', product: 'p', quota: 40, closesAt: inAWeek() });
    const [answers] = await Promise.all([Promise.all(Array.from({ length: 30 }, (_, i) => issue(`rc-${i}`, 'L-race-close'))), close('L-race-close')]);
    const issued = answers.filter((r) => r.statusCode === 201).length;
    expect(answers.every((r) => r.statusCode === 201 || r.json.error.code === 'LOT_CLOSED')).toBe(true);
    expect(await lotCertificates('L-race-close')).toBe(issued);
    expect((await show('L-race-close')).json).toMatchObject({ issued, status: 'CLOSED' });
    expect((await issue('rc-late', 'L-race-close')).json.error.code).toBe('LOT_CLOSED');
  });

  it.each([
    ['no lotId', { product: 'p', quota: 1, closesAt: 'X' }, 'lotId'],
    ['a lotId with a slash', { lotId: 'a/b', product: 'p', quota: 1 }, 'lotId'],
    ['a quota of 0', { lotId: 'L-bad', product: 'p', quota: 0, closesAt: '2030-01-01T00:00:00Z' }, 'quota'],
    ['a fractional quota', { lotId: 'L-bad', product: 'p', quota: 1.5, closesAt: '2030-01-01T00:00:00Z' }, 'quota'],
    ['a quota given as a string', { lotId: 'L-bad', product: 'p', quota: '5', closesAt: '2030-01-01T00:00:00Z' }, 'quota'],
    ['closesAt in the past', { lotId: 'L-bad', product: 'p', quota: 1, closesAt: '2020-01-01T00:00:00Z' }, 'closesAt'],
    ['closesAt without a zone', { lotId: 'L-bad', product: 'p', quota: 1, closesAt: '2030-01-01T00:00:00' }, 'closesAt'],
    ['an invalid pattern', { lotId: 'L-bad', product: 'p', quota: 1, closesAt: '2030-01-01T00:00:00Z', commonNamePattern: '(' }, 'commonNamePattern'],
    ['a pattern that backtracks exponentially', { lotId: 'L-bad', product: 'p', quota: 1, closesAt: '2030-01-01T00:00:00Z', commonNamePattern: '(a+)+$' }, 'commonNamePattern'],
    ['an empty station list', { lotId: 'L-bad', product: 'p', quota: 1, closesAt: '2030-01-01T00:00:00Z', stations: [] }, 'stations'],
    ['an unknown field', { lotId: 'L-bad', product: 'p', quota: 1, closesAt: '2030-01-01T00:00:00Z', owner: 'x' }, 'owner'],
    ['a quota over 100,000,000', { lotId: 'L-bad', product: 'p', quota: 100_000_001, closesAt: '2030-01-01T00:00:00Z' }, 'quota'],
    ['closesAt more than 5 years ahead', { lotId: 'L-bad', product: 'p', quota: 1, closesAt: new Date(Date.now() + 6 * 366 * 86_400_000).toISOString() }, 'closesAt'],
    ['101 stations', { lotId: 'L-bad', product: 'p', quota: 1, closesAt: '2030-01-01T00:00:00Z', stations: Array.from({ length: 101 }, (_, i) => `s${i}`) }, 'stations'],
    ['a station of 1025 characters', { lotId: 'L-bad', product: 'p', quota: 1, closesAt: '2030-01-01T00:00:00Z', stations: ['s'.repeat(1025)] }, 'stations'],
    ['a product of 129 characters', { lotId: 'L-bad', product: 'p'.repeat(129), quota: 1, closesAt: '2030-01-01T00:00:00Z' }, 'product'],
    ['a product with a control character', { lotId: 'L-bad', product: 'p\u0007', quota: 1, closesAt: '2030-01-01T00:00:00Z' }, 'product'],
    ['a product of spaces', { lotId: 'L-bad', product: '   ', quota: 1, closesAt: '2030-01-01T00:00:00Z' }, 'product'],
  ])('refuses %s: 400 INVALID_REQUEST naming the field', async (_what, body, field) => {
    const r = await open(body);
    expect([r.statusCode, r.json.error.code, r.json.error.details[0].field]).toEqual([400, 'INVALID_REQUEST', field]);
    expect((await show('L-bad')).statusCode).toBe(404);
  });

  it('GET of an unknown lot is 404 NOT_FOUND; closing it too', async () => {
    expect([(await show('L-none')).statusCode, (await show('L-none')).json.error.code]).toEqual([404, 'NOT_FOUND']);
    expect((await close('L-none')).statusCode).toBe(404);
  });
});

describe('Issuance under a lot', () => {
  it('counts issued seats, a replay of the same CSR takes none, and the quota stops the next: 409 LOT_QUOTA_EXCEEDED, nothing recorded', async () => {
    await open({ lotId: 'L-quota', product: 'p', quota: 2, closesAt: inAWeek() });
    const csr = csrFor('lq-a');
    const send = () => callRoute(routes.issue, jsonPost({ csr, lotId: 'L-quota' }, { 'X-Station-Id': 'line-1' }));
    const a = await send();
    expect(a.statusCode).toBe(201);
    const replay = await send();
    expect([replay.statusCode, replay.json.serialNumber]).toEqual([200, a.json.serialNumber]);
    expect((await issue('lq-b', 'L-quota', { header: true })).statusCode).toBe(201);
    const over = await issue('lq-c', 'L-quota');
    expect([over.statusCode, over.json.error.code]).toEqual([409, 'LOT_QUOTA_EXCEEDED']);
    expect((await show('L-quota')).json).toMatchObject({ issued: 2, remaining: 0 });
    expect(await lotCertificates('L-quota')).toBe(2);
    const listed = await callRoute(routes.listCertificates, apiEvent({ query: { lotId: 'L-quota' } }));
    expect(listed.json.items.map((c: { subject: { CN: string } }) => c.subject.CN).sort()).toEqual(['lq-a', 'lq-b']);
    expect(listed.json.items.every((c: { lotId: string }) => c.lotId === 'L-quota')).toBe(true);
    // The name refused under the quota is free: it was never claimed for good.
    await open({ lotId: 'L-quota-2', product: 'p', quota: 1, closesAt: inAWeek() });
    expect((await issue('lq-c', 'L-quota-2')).statusCode).toBe(201);
  });

  it('100 issuances racing for a lot with quota 50 give exactly 50 certificates; the others 409 LOT_QUOTA_EXCEEDED', async () => {
    await open({ lotId: 'L-race', product: 'p', quota: 50, closesAt: inAWeek() });
    const [near, at] = [testApp().metrics.counts('LotsNearQuota'), testApp().metrics.counts('LotsAtQuota')];
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => issue(`race-${i}`, 'L-race')));
    const codes = answers.map((r) => (r.statusCode === 201 ? 201 : r.json.error.code));
    expect(codes.filter((c) => c === 201)).toHaveLength(50);
    expect(codes.filter((c) => c === 'LOT_QUOTA_EXCEEDED')).toHaveLength(50);
    // The seat that crossed 90 % and the last seat are counted once each.
    expect([testApp().metrics.counts('LotsNearQuota') - near, testApp().metrics.counts('LotsAtQuota') - at]).toEqual([1, 1]);
    expect(await lotCertificates('L-race')).toBe(50);
    expect((await show('L-race')).json).toMatchObject({ issued: 50, remaining: 0 });
  }, 60_000);

  it('refuses a closed lot (409 LOT_CLOSED, counted as a rejection), an unknown lot (409 LOT_NOT_FOUND), a station not listed (403) and a name outside the pattern (422)', async () => {
    await open({ lotId: 'L-rules', product: 'p', quota: 5, closesAt: inAWeek(), stations: ['line-7'], commonNamePattern: 'LR-[0-9]{4}' });
    const station = await issue('LR-0001', 'L-rules', { station: 'line-1' });
    expect([station.statusCode, station.json.error.code]).toEqual([403, 'LOT_STATION_NOT_ALLOWED']);
    const pattern = await issue('LR-01', 'L-rules', { station: 'line-7' });
    expect([pattern.statusCode, pattern.json.error.code, pattern.json.error.details[0].field]).toEqual([422, 'POLICY_VIOLATION', 'CN']);
    expect((await issue('LR-0001', 'L-rules', { station: 'line-7' })).statusCode).toBe(201);
    const unknown = await issue('LR-0002', 'L-nope', { station: 'line-7' });
    expect([unknown.statusCode, unknown.json.error.code]).toEqual([409, 'LOT_NOT_FOUND']);

    const closed = await close('L-rules');
    expect(closed.json).toMatchObject({ status: 'CLOSED', closedBy: 'operator-1', issued: 1, remaining: 0 });
    const after = await issue('LR-0003', 'L-rules', { station: 'line-7' });
    expect([after.statusCode, after.json.error.code]).toEqual([409, 'LOT_CLOSED']);
    expect(testApp().metrics.counts('CertificatesRejected', { Reason: 'LOT_CLOSED' })).toBeGreaterThan(0);
    expect((await close('L-rules')).json.closedBy).toBe('operator-1');
    expect(await lotCertificates('L-rules')).toBe(1);
  });

  it('a replay of a CSR issued before the lot closed still gets its certificate, and takes no seat; a second close by another operator changes nothing', async () => {
    await open({ lotId: 'L-replay-closed', product: 'p', quota: 3, closesAt: inAWeek() });
    const csr = csrFor('lrc-1');
    const send = () => callRoute(routes.issue, jsonPost({ csr, lotId: 'L-replay-closed' }, { 'X-Station-Id': 'line-1' }));
    const first = await send();
    expect(first.statusCode).toBe(201);
    const closed = await close('L-replay-closed');
    const replay = await send();
    expect([replay.statusCode, replay.json.serialNumber]).toEqual([200, first.json.serialNumber]);
    const again = await close('L-replay-closed', 'operator-2');
    expect(again.statusCode).toBe(200);
    expect(again.json).toMatchObject({ issued: 1, status: 'CLOSED', closedBy: 'operator-1', closedAt: closed.json.closedAt });
  });

  it('gives the seat back on the ledger when the record was certainly not written, and keeps it when the write\'s outcome is unknown', async () => {
    await open({ lotId: 'L-seat-back', product: 'p', quota: 2, closesAt: inAWeek() });
    const store = testApp().store;
    // Refused before it was applied (throttled): nothing written, the seat goes back.
    jest.spyOn(store, 'putCertificate').mockRejectedValueOnce(new CaError('STORE_UNAVAILABLE', 'throttled', { notApplied: true, retryAfterSeconds: 2 }));
    const refused = await issue('lsb-1', 'L-seat-back');
    expect([refused.statusCode, refused.json.error.code]).toEqual([503, 'STORE_UNAVAILABLE']);
    expect((await show('L-seat-back')).json).toMatchObject({ issued: 0, remaining: 2 });
    // Unknown (no answer, and nothing found on reading back): the record may still land, so the seat stays taken.
    jest.spyOn(store, 'putCertificate').mockRejectedValueOnce(new Error('socket hang up'));
    const unknown = await issue('lsb-2', 'L-seat-back');
    expect(unknown.statusCode).toBeGreaterThanOrEqual(500);
    expect((await show('L-seat-back')).json).toMatchObject({ issued: 1, remaining: 1 });
    expect(await lotCertificates('L-seat-back')).toBe(0);
  });

  it('a lot past its closesAt refuses new certificates with 409 LOT_CLOSED and shows CLOSED, closed at closesAt', async () => {
    const closesAt = new Date(Date.now() + 1500).toISOString();
    await open({ lotId: 'L-by-time', product: 'p', quota: 5, closesAt });
    expect((await issue('lbt-1', 'L-by-time')).statusCode).toBe(201);
    await new Promise((r) => setTimeout(r, 1600));
    const late = await issue('lbt-2', 'L-by-time');
    expect([late.statusCode, late.json.error.code]).toEqual([409, 'LOT_CLOSED']);
    expect(late.json.error.message).toContain(`at ${closesAt}`);
    expect((await show('L-by-time')).json).toMatchObject({ status: 'CLOSED', remaining: 0, issued: 1, closedAt: closesAt });
  });

  it('a lot id sent two ways must agree; a malformed one is 400', async () => {
    const both = await callRoute(routes.issue, jsonPost({ csr: csrFor('lx-1'), lotId: 'L-a' }, { 'X-Lot-Id': 'L-b' }));
    expect([both.statusCode, both.json.error.code]).toEqual([400, 'INVALID_REQUEST']);
    const bad = await callRoute(routes.issue, jsonPost({ csr: csrFor('lx-1'), lotId: '../x' }));
    expect([bad.statusCode, bad.json.error.details[0].field]).toEqual([400, 'lotId']);
    // The header alone, with either body.
    const header = await callRoute(routes.issue, jsonPost({ csr: csrFor('lx-2') }, { 'X-Lot-Id': '../x' }));
    expect([header.statusCode, header.json.error.code, header.json.error.details[0].field]).toEqual([400, 'INVALID_REQUEST', 'lotId']);
    const pkcs10 = await callRoute(routes.issue, apiEvent({ method: 'POST', path: '/certificates', body: csrFor('lx-3'), headers: { 'Content-Type': 'application/pkcs10', 'X-Lot-Id': 'a b' } }));
    expect([pkcs10.statusCode, pkcs10.json.error.code, pkcs10.json.error.details[0].field]).toEqual([400, 'INVALID_REQUEST', 'lotId']);
  });
});
