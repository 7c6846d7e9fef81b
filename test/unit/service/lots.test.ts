import { describe, expect, it } from '@jest/globals';
import { CodedError } from '../../../src/pki/errors.js';
import { CaDirectory } from '../../../src/service/ca-directory.js';
import { CaError } from '../../../src/service/errors.js';
import { issueCertificate, type IssueDeps } from '../../../src/service/issue-certificate.js';
import { compileLotPattern, lotView, newLot, openLot } from '../../../src/service/lots.js';
import { realSleep, systemClock } from '../../../src/service/ports.js';
import { systemRandom } from '../../../src/pki/serial.js';
import type { Policy } from '../../../src/pki/policy.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { MemoryLotStore } from '../../helpers/memory-lot-store.js';
import { MemoryStore } from '../../helpers/memory-store.js';
import { shippedPolicy } from '../../helpers/shipped-config.js';
import { softwareCa } from '../../helpers/software-ca.js';

const csrFor = (cn: string) => buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(cn) }) });
const codeOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => (e instanceof CodedError ? e.code : Promise.reject(e)));
const future = () => new Date(Date.now() + 86_400_000).toISOString();

async function issuer(policy: Partial<Policy> = {}) {
  const store = new MemoryStore();
  const lots = new MemoryLotStore();
  const { signerFactory } = await softwareCa(store, { activate: true, clock: systemClock, issuing: 1 });
  const deps: IssueDeps = {
    policy: shippedPolicy(policy),
    store,
    lots,
    cas: new CaDirectory(store, signerFactory, systemClock, 300_000),
    clock: systemClock,
    random: systemRandom,
    sleep: realSleep,
    claimLeaseMs: 60_000,
    inFlightWaitMs: 1_000,
  };
  const open = (lotId: string, quota: number, extra: Record<string, unknown> = {}) => openLot({ lots, clock: systemClock }, { lotId, product: 'p', quota, closesAt: future(), ...extra }, 'operator');
  return { deps, store, lots, open };
}

describe('The lot pattern runs in linear time', () => {
  it.each(['LOT42-[0-9]{6}', '(A|B)-[0-9]+', 'sensor-(eu|us)-[a-f0-9]{8}', '[(]+x', 'a\\(+b', '(ab)+', '(?:x[0-9])*', '(?<id>[0-9]{4})-x', '((a))+x*'])('accepts %s', (p) => {
    expect(compileLotPattern(p)).toBeInstanceOf(RegExp);
  });
  it.each(['(a+)+$', '(a*)*', '(a|a)*', '(?:a|ab)+', '((a+))+', '(\\d+)+', '(a)\\1', '(?=a)a', '(?<!b)a', '', 'x'.repeat(257), '['])('refuses %j', (p) => {
    expect(() => compileLotPattern(p)).toThrow(CaError);
  });
  it.each([
    ['SV2-[0-9]*[0-9]*[0-9]*[0-9]*Z', 'four adjacent repetitions (polynomial backtracking, one power each)'],
    ['[0-9]+[0-9]+[0-9]?[0-9]?', 'four variable repetitions, ? included'],
    ['(a|b|c|d|e|f|g|h)-[0-9]+[a-z]+[A-Z]*', 'three repetitions and an alternation'],
    [Array.from({ length: 19 }, () => '(a|b)').join(''), 'nineteen two-way alternations'],
  ])('refuses %s: %s', (p) => {
    expect(() => compileLotPattern(p)).toThrow(
      'Invalid lot: commonNamePattern may hold at most three variable repetitions (*, +, ?, {n,}, {n,m}) or fewer with alternations (their backtracking grows with each); use exact counts such as {6}',
    );
  });
  it('accepts three variable repetitions and any exact counts, and the worst it accepts fails a hostile name at once', () => {
    expect(compileLotPattern('[A-Z]{3}-[0-9]{2}-[0-9]{6}-[a-f0-9]{8}')).toBeInstanceOf(RegExp);
    const worst = compileLotPattern('SV2-[0-9]*[0-9]*[0-9]*Z');
    expect(worst.test(`SV2-${'1'.repeat(60)}`)).toBe(false);
    expect(worst.test('SV2-123Z')).toBe(true);
  });
  it('matches the whole name only', () => {
    expect(compileLotPattern('L-[0-9]+').test('L-12')).toBe(true);
    expect(compileLotPattern('L-[0-9]+').test('xL-12')).toBe(false);
    expect(compileLotPattern('A|B').test('AB')).toBe(false);
  });
});

describe('A lot as an operator sends it', () => {
  it('is normalised (closesAt in UTC, stations without repeats) and starts with nothing issued', () => {
    const lot = newLot({ lotId: 'L1', product: 'p', quota: 3, closesAt: '2030-01-01T01:00:00+01:00', stations: ['a', 'a', 'b'] }, new Date('2026-01-01T00:00:00Z'), 'op');
    expect(lot).toMatchObject({ closesAt: '2030-01-01T00:00:00.000Z', stations: ['a', 'b'], issued: 0, status: 'OPEN', openedBy: 'op' });
  });
  it.each(['2027-02-30T10:00:00Z', '2027-04-31T10:00:00Z', '2027-02-28T24:00:00Z', '2027-02-28T10:60:00Z', '2027-02-28T10:00:60Z', '2027-02-28T10:00:00+24:00', '2027-13-01T10:00:00Z'])(
    'refuses a closesAt that does not exist, %s, rather than rolling it over',
    (closesAt) => {
      expect(() => newLot({ lotId: 'L1', product: 'p', quota: 3, closesAt }, new Date('2026-01-01T00:00:00Z'), 'op')).toThrow('Invalid lot: closesAt must be an ISO 8601 time with its zone, such as 2027-01-31T18:00:00Z');
    },
  );
  it('takes a leap day that exists', () => {
    expect(newLot({ lotId: 'L1', product: 'p', quota: 3, closesAt: '2028-02-29T10:00:00.5+02:00' }, new Date('2026-01-01T00:00:00Z'), 'op').closesAt).toBe('2028-02-29T08:00:00.500Z');
  });
  it('is shown CLOSED with nothing remaining once past closesAt', () => {
    const lot = newLot({ lotId: 'L1', product: 'p', quota: 3, closesAt: '2030-01-01T00:00:00Z' }, new Date('2026-01-01T00:00:00Z'), 'op');
    expect(lotView(lot, new Date('2031-01-01T00:00:00Z'))).toMatchObject({ status: 'CLOSED', remaining: 0, closedAt: '2030-01-01T00:00:00.000Z' });
  });
});

describe('Issuance under a lot (in-memory ledger)', () => {
  it('gives the seat back when nothing was recorded (the signer failed), and keeps it when the record may have landed', async () => {
    const { deps, store, lots, open } = await issuer();
    await open('L-faults', 5);
    store.failNext('putCertificate', { error: new CaError('STORE_UNAVAILABLE', 'throttled', { notApplied: true }) });
    expect(await codeOf(issueCertificate(deps, { csr: csrFor('f-1'), stationId: 's', lotId: 'L-faults' }))).toBe('STORE_UNAVAILABLE');
    expect(lots.lots.get('L-faults')!.issued).toBe(0);
    // A record write with no answer and no read-back: it may land, so the seat stays taken (the lot may end one short, never one over).
    store.failNext('putCertificate');
    expect(await codeOf(issueCertificate(deps, { csr: csrFor('f-2'), stationId: 's', lotId: 'L-faults' }))).toBe('STORE_UNAVAILABLE');
    expect(lots.lots.get('L-faults')!.issued).toBe(1);
  });

  it('a replay takes no seat; a lot is required only when the policy says so (LOT_REQUIRED)', async () => {
    const { deps, lots, open } = await issuer();
    await open('L-replay', 1);
    const csr = csrFor('r-1');
    const first = await issueCertificate(deps, { csr, stationId: 's', lotId: 'L-replay' });
    const again = await issueCertificate(deps, { csr, stationId: 's', lotId: 'L-replay' });
    expect([first.created, again.created, again.record.serialNumber, first.lot]).toEqual([true, false, first.record.serialNumber, { lotId: 'L-replay', issued: 1, quota: 1 }]);
    expect([lots.seatRequests, first.record.lotId]).toEqual([1, 'L-replay']);
    expect((await issueCertificate(deps, { csr: csrFor('r-2'), stationId: 's' })).created).toBe(true);
    const strict = await issuer({ requireLot: true });
    expect(await codeOf(issueCertificate(strict.deps, { csr: csrFor('r-3'), stationId: 's' }))).toBe('LOT_REQUIRED');
  });

  it('the same CSR sent twice at once under a lot of quota 1: one certificate, one seat, never LOT_QUOTA_EXCEEDED', async () => {
    const { deps, lots, open } = await issuer();
    await open('L-twice', 1);
    const csr = csrFor('tw-1');
    const [a, b] = await Promise.all([0, 1].map(() => issueCertificate(deps, { csr, stationId: 's', lotId: 'L-twice' }).then((r) => r, (e: CaError) => e.code)));
    const results = [a, b].filter((r): r is Awaited<ReturnType<typeof issueCertificate>> => typeof r === 'object');
    expect([a, b].filter((r) => typeof r === 'string').every((code) => code === 'ISSUANCE_IN_PROGRESS')).toBe(true);
    expect(new Set(results.map((r) => r.record.serialNumber)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect([lots.seatRequests, (await lots.getLot('L-twice'))!.issued]).toEqual([1, 1]);
  });

  it('a re-enrollment of a certificate issued without a lot needs none, even when the policy requires lots', async () => {
    const plain = await issuer();
    const key = newP256Key();
    const csrOf = () => buildCsr({ key, subjectDer: subject({ CN: STRING.utf8('re-nolot') }) });
    const first = await issueCertificate(plain.deps, { csr: csrOf(), stationId: 's' });
    const strict: IssueDeps = { ...plain.deps, policy: { ...plain.deps.policy, requireLot: true } };
    const renewed = await issueCertificate(strict, { csr: csrOf(), stationId: 's', replaces: first.record });
    expect([renewed.created, renewed.record.replaces, renewed.record.lotId]).toEqual([true, first.record.serialNumber, undefined]);
    expect(await codeOf(issueCertificate(strict, { csr: csrFor('re-nolot-2'), stationId: 's' }))).toBe('LOT_REQUIRED');
  });

  it('100 racing requests for a quota of 50: exactly 50 certificates', async () => {
    const { deps, store, open } = await issuer();
    await open('L-race', 50);
    const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) => issueCertificate(deps, { csr: csrFor(`race-${i}`), stationId: 's', lotId: 'L-race' }).then(() => 'issued', (e: CaError) => e.code)));
    expect(outcomes.filter((o) => o === 'issued')).toHaveLength(50);
    expect(outcomes.filter((o) => o === 'LOT_QUOTA_EXCEEDED')).toHaveLength(50);
    const page = await store.listCertificates({ filters: { lotId: 'L-race' }, limit: 1000 });
    expect(page.records).toHaveLength(50);
  });
});
