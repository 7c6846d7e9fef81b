import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { issueCertificate, type IssueDeps } from '../../../src/service/issue-certificate.js';
import { CaDirectory } from '../../../src/service/ca-directory.js';
import { realSleep, systemClock, type Clock, type Sleep } from '../../../src/service/ports.js';
import { CaError } from '../../../src/service/errors.js';
import type { Policy } from '../../../src/pki/policy.js';
import { systemRandom, type RandomSource } from '../../../src/pki/serial.js';
import { x509 } from '../../../src/pki/x509.js';
import { signerError } from '../../../src/kms/kms-signer.js';
import { chainProblems } from '../../helpers/chain.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { MemoryLotStore } from '../../helpers/memory-lot-store.js';
import { MemoryStore, storeThrottled } from '../../helpers/memory-store.js';
import { shippedPolicy } from '../../helpers/shipped-config.js';
import { softwareCa } from '../../helpers/software-ca.js';

const csrFor = (cn: string, key = newP256Key()) => buildCsr({ key, subjectDer: subject({ CN: STRING.utf8(cn) }) });

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    if (e instanceof CaError) return e.code;
    throw e;
  }
}

afterEach(() => {
  jest.restoreAllMocks();
});

interface IssuerOptions {
  policy?: Partial<Policy>;
  clock?: Clock;
  random?: RandomSource;
  sleep?: Sleep;
  claimLeaseMs?: number;
  inFlightWaitMs?: number;
  /** How many issuing CAs to make (issuing-1 is active). */
  issuing?: number;
}

/** The issuance use case on an in-memory ledger, with a software CA active in it. */
async function newIssuer(o: IssuerOptions = {}): Promise<{ deps: IssueDeps; store: MemoryStore }> {
  const store = new MemoryStore();
  const clock = o.clock ?? systemClock;
  const { signerFactory } = await softwareCa(store, { activate: true, clock, issuing: o.issuing ?? 1 });
  const deps: IssueDeps = {
    policy: shippedPolicy(o.policy),
    store,
    lots: new MemoryLotStore(),
    cas: new CaDirectory(store, signerFactory, clock, 300_000),
    clock,
    random: o.random ?? systemRandom,
    sleep: o.sleep ?? realSleep,
    claimLeaseMs: o.claimLeaseMs ?? 120_000,
    inFlightWaitMs: o.inFlightWaitMs ?? 3_000,
  };
  return { deps, store };
}

/** A clock the test moves by hand. */
function manualClock(start = Date.now()) {
  let now = start;
  return { clock: () => new Date(now), advance: (ms: number) => (now += ms) };
}

describe('Function: issueCertificate', () => {
  it('records the certificate before returning it, with every ledger field', async () => {
    const { deps, store } = await newIssuer();
    const result = await issueCertificate(deps, { csr: csrFor('ledger-1'), stationId: 'station-7' });
    expect(result.created).toBe(true);
    const stored = await store.getCertificate(result.record.serialNumber);
    expect(stored).toEqual(result.record);
    expect(stored).toMatchObject({
      status: 'ISSUED',
      commonName: 'ledger-1',
      stationId: 'station-7',
      issuingCaId: result.ca.record.id,
      subject: { C: 'US', O: 'Example Corp', CN: 'ledger-1' },
      profile: 'device',
    });
    expect(stored!.serialNumber).toMatch(/^[0-9a-f]{32}$/);
    expect(stored!.csrSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(stored!.publicKeySha256).toMatch(/^[0-9a-f]{64}$/);
    const cert = new x509.X509Certificate(stored!.certificatePem);
    expect(cert.serialNumber).toBe(stored!.serialNumber);
    expect(stored!.certificateId).toBe(Buffer.from(await cert.getThumbprint('SHA-256')).toString('hex'));
    expect(await chainProblems({ root: result.ca.rootCertificatePem, ca: result.ca.caCertificatePem, pem: stored!.certificatePem })).toEqual([]);
  });

  it('returns no certificate when the record write fails and nothing is found, and holds the name until the lease ends', async () => {
    const t = manualClock();
    const { deps, store } = await newIssuer({ claimLeaseMs: 60_000, clock: t.clock });
    store.failNext('putCertificate');
    const err = (await issueCertificate(deps, { csr: csrFor('lost-1'), stationId: 's' }).catch((e) => e)) as CaError;
    expect([err.code, err.retryAfterSeconds]).toEqual(['STORE_UNAVAILABLE', 60]);
    expect(store.count('putCertificate')).toBe(1);
    expect(store.count('releaseClaim')).toBe(0);
    expect(await store.listByCommonName('lost-1')).toEqual([]);
    // The write may still land: no other key gets the name while the lease runs…
    expect(await codeOf(issueCertificate(deps, { csr: csrFor('lost-1'), stationId: 's' }))).toBe('DUPLICATE_COMMON_NAME');
    // …after it, a retry issues exactly one certificate.
    t.advance(61_000);
    const retry = await issueCertificate(deps, { csr: csrFor('lost-1'), stationId: 's' });
    expect(retry.created).toBe(true);
    expect(await store.listByCommonName('lost-1')).toHaveLength(1);
  });

  it('returns the certificate when a write reported as failed did land', async () => {
    const { deps, store } = await newIssuer();
    store.failNext('putCertificate', { when: 'after', error: new CaError('STORE_UNAVAILABLE', 'timed out', { retryAfterSeconds: 2 }) });
    const result = await issueCertificate(deps, { csr: csrFor('ambiguous-1'), stationId: 's' });
    expect(result.created).toBe(true);
    expect(await store.getCertificate(result.record.serialNumber)).toEqual(result.record);
    // The claim stays with the issued certificate: another key for the name is refused.
    expect(await codeOf(issueCertificate(deps, { csr: csrFor('ambiguous-1'), stationId: 's' }))).toBe('DUPLICATE_COMMON_NAME');
  });

  it('draws a new serial when the first one is already recorded', async () => {
    const fixed = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    let calls = 0;
    // The first two draws return the same bytes: the second certificate collides once.
    const random = (n: number) => (calls++ < 2 ? fixed.slice(0, n) : new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }).subarray(-n)));
    const { deps, store } = await newIssuer({ random });
    const first = await issueCertificate(deps, { csr: csrFor('serial-a'), stationId: 's' });
    const second = await issueCertificate(deps, { csr: csrFor('serial-b'), stationId: 's' });
    expect(first.record.serialNumber).toBe('4102030405060708090a0b0c0d0e0f10');
    expect(second.record.serialNumber).not.toBe(first.record.serialNumber);
    expect((await store.getCertificate(first.record.serialNumber))!.commonName).toBe('serial-a');
    expect((await store.getCertificate(second.record.serialNumber))!.commonName).toBe('serial-b');
    expect(new x509.X509Certificate(second.record.certificatePem).serialNumber).toBe(second.record.serialNumber);
  });

  it('returns the same certificate for a retry of the identical CSR', async () => {
    const { deps, store } = await newIssuer();
    const csr = csrFor('retry-1');
    const first = await issueCertificate(deps, { csr, stationId: 's' });
    const again = await issueCertificate(deps, { csr, stationId: 's' });
    expect(again.created).toBe(false);
    expect(again.record).toEqual(first.record);
    expect(await store.listByCommonName('retry-1')).toHaveLength(1);
  });

  it('refuses a second key for a common name that has an issued certificate', async () => {
    const { deps } = await newIssuer();
    const first = await issueCertificate(deps, { csr: csrFor('dup-1'), stationId: 's' });
    const err = (await issueCertificate(deps, { csr: csrFor('dup-1'), stationId: 's' }).catch((e) => e)) as CaError;
    expect(err).toBeInstanceOf(CaError);
    expect(err.code).toBe('DUPLICATE_COMMON_NAME');
    expect(err.details).toEqual([expect.objectContaining({ field: 'CN', serialNumber: first.record.serialNumber })]);
  });

  it('issues several certificates for one common name when the policy allows duplicates', async () => {
    const { deps, store } = await newIssuer({ policy: { allowDuplicateCommonName: true } });
    const csr = csrFor('many-1');
    const a = await issueCertificate(deps, { csr, stationId: 's' });
    const b = await issueCertificate(deps, { csr: csrFor('many-1'), stationId: 's' });
    const c = await issueCertificate(deps, { csr, stationId: 's' });
    expect([a.created, b.created, c.created]).toEqual([true, true, false]);
    expect(c.record.serialNumber).toBe(a.record.serialNumber);
    expect((await store.listByCommonName('many-1')).map((r) => r.serialNumber).sort()).toEqual(
      [a.record.serialNumber, b.record.serialNumber].sort(),
    );
  });

  it('lets exactly one of many concurrent requests for one common name win', async () => {
    const { deps, store } = await newIssuer();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, () => issueCertificate(deps, { csr: csrFor('race-1'), stationId: 's' })),
    );
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost.map((o) => (o.reason as CaError).code)).toEqual(Array(19).fill('DUPLICATE_COMMON_NAME'));
    expect(await store.listByCommonName('race-1')).toHaveLength(1);
  });

  it('answers concurrent retries of one CSR with one and the same certificate', async () => {
    const { deps, store } = await newIssuer();
    const csr = csrFor('race-2');
    const results = await Promise.all(Array.from({ length: 20 }, () => issueCertificate(deps, { csr, stationId: 's' })));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.record.certificatePem)).size).toBe(1);
    expect(await store.listByCommonName('race-2')).toHaveLength(1);
  });

  it('does not let a request that died between signing and recording block the name for good', async () => {
    const t = manualClock();
    const { deps, store } = await newIssuer({ claimLeaseMs: 60_000, clock: t.clock });
    // The "crash": the record is never written and the claim is never released.
    store.failNext('putCertificate', { error: new Error('process killed') });
    store.failNext('releaseClaim', { error: new Error('process killed') });
    expect(await codeOf(issueCertificate(deps, { csr: csrFor('crash-1'), stationId: 's' }))).toBe('STORE_UNAVAILABLE');
    // Within the lease the name is held by the unfinished request…
    expect(await codeOf(issueCertificate(deps, { csr: csrFor('crash-1'), stationId: 's' }))).toBe('DUPLICATE_COMMON_NAME');
    // …after it, the claim is stale and is taken over.
    t.advance(61_000);
    const later = await issueCertificate(deps, { csr: csrFor('crash-1'), stationId: 's' });
    expect(later.created).toBe(true);
    expect(await store.listByCommonName('crash-1')).toHaveLength(1);
  });

  it('frees the name when the signer fails, so the same CSR can be retried at once', async () => {
    const { deps } = await newIssuer();
    const ca = await deps.cas.activeIssuer();
    const sign = jest.spyOn(ca.issuer.signer, 'sign').mockRejectedValueOnce(signerError(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })));
    const csr = csrFor('signer-1');
    const err = (await issueCertificate(deps, { csr, stationId: 's' }).catch((e) => e)) as CaError;
    expect(err.code).toBe('SIGNER_UNAVAILABLE');
    expect(err.retryAfterSeconds).toBe(2);
    expect(sign).toHaveBeenCalledTimes(1);
    const retry = await issueCertificate(deps, { csr, stationId: 's' });
    expect(retry.created).toBe(true);
  });

  /** Holds the next signature until released, to keep a request in flight. */
  async function holdNextSignature(deps: IssueDeps) {
    const ca = await deps.cas.activeIssuer();
    const realSign = ca.issuer.signer.sign.bind(ca.issuer.signer);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered = false;
    jest.spyOn(ca.issuer.signer, 'sign').mockImplementationOnce(async (tbs) => {
      entered = true;
      await gate;
      return realSign(tbs);
    });
    const inFlight = async () => {
      while (!entered) await new Promise((r) => setTimeout(r, 5));
    };
    return { release, inFlight };
  }

  it('waits for an identical CSR in flight and returns its certificate', async () => {
    const sleeps: number[] = [];
    let hold: Awaited<ReturnType<typeof holdNextSignature>>;
    const { deps } = await newIssuer({
      sleep: async (ms) => {
        sleeps.push(ms);
        if (sleeps.length === 3) hold.release();
        await new Promise((r) => setTimeout(r, 5));
      },
    });
    hold = await holdNextSignature(deps);
    const csr = csrFor('inflight-1');
    const first = issueCertificate(deps, { csr, stationId: 's' });
    await hold.inFlight();
    const second = await issueCertificate(deps, { csr, stationId: 's' });
    expect(second.created).toBe(false);
    expect(second.record).toEqual((await first).record);
    expect(sleeps.length).toBeGreaterThanOrEqual(3);
  });

  it('reports an identical CSR that stays in flight as ISSUANCE_IN_PROGRESS with Retry-After', async () => {
    const t = manualClock();
    const { deps } = await newIssuer({ inFlightWaitMs: 1000, clock: t.clock, sleep: async (ms) => void t.advance(ms) });
    const hold = await holdNextSignature(deps);
    const csr = csrFor('inflight-2');
    const first = issueCertificate(deps, { csr, stationId: 's' });
    await hold.inFlight();
    const err = (await issueCertificate(deps, { csr, stationId: 's' }).catch((e) => e)) as CaError;
    expect(err.code).toBe('ISSUANCE_IN_PROGRESS');
    expect(err.retryAfterSeconds).toBe(1);
    hold.release();
    expect((await first).created).toBe(true);
  });

  it('refuses an unknown profile and reports a missing CA', async () => {
    const { deps } = await newIssuer();
    expect(await codeOf(issueCertificate(deps, { csr: csrFor('p-1'), profile: 'server', stationId: 's' }))).toBe('INVALID_REQUEST');
    const missing: IssueDeps = { ...deps, cas: { activeIssuer: () => Promise.reject(new CaError('CA_NOT_READY', 'no CA')) } as never };
    expect(await codeOf(issueCertificate(missing, { csr: csrFor('p-2'), stationId: 's' }))).toBe('CA_NOT_READY');
  });
});

describe('Function: issueCertificate — the ledger invariant under ambiguous writes', () => {
  /** Every ISSUED record of a common name. */
  const issued = async (store: MemoryStore, cn: string) => (await store.listByCommonName(cn)).filter((r) => r.status === 'ISSUED');

  it('returns the first certificate when the record write landed, its answer was lost and the SDK retry met it', async () => {
    const { deps, store } = await newIssuer();
    store.failNext('putCertificate', { when: 'retried' });
    const result = await issueCertificate(deps, { csr: csrFor('retried-1'), stationId: 's' });
    expect(result.created).toBe(true);
    expect(store.count('replaceClaim')).toBe(0);
    expect((await issued(store, 'retried-1')).map((r) => r.serialNumber)).toEqual([result.record.serialNumber]);
  });

  it('answers 503 and keeps the name held when the write landed but neither it nor the read-back could be confirmed; the same CSR then gets the landed certificate', async () => {
    const t = manualClock();
    const { deps, store } = await newIssuer({ clock: t.clock, inFlightWaitMs: 0 });
    store.failNext('putCertificate', { when: 'after' });
    store.failNext('getCertificate');
    const csr = csrFor('undecided-1');
    const err = (await issueCertificate(deps, { csr, stationId: 's' }).catch((e) => e)) as CaError;
    expect([err.code, err.retryAfterSeconds]).toEqual(['STORE_UNAVAILABLE', 120]);
    expect(store.count('releaseClaim')).toBe(0);
    // Another key never gets the name, during the lease or after it: the certificate landed.
    expect(await codeOf(issueCertificate(deps, { csr: csrFor('undecided-1'), stationId: 's' }))).toBe('DUPLICATE_COMMON_NAME');
    t.advance(121_000);
    expect(await codeOf(issueCertificate(deps, { csr: csrFor('undecided-1'), stationId: 's' }))).toBe('DUPLICATE_COMMON_NAME');
    const again = await issueCertificate(deps, { csr, stationId: 's' });
    expect(again.created).toBe(false);
    expect((await issued(store, 'undecided-1')).map((r) => r.serialNumber)).toEqual([again.record.serialNumber]);
  });

  it('frees the name at once when the ledger refused the record write before applying it (throttled): 503 with a short Retry-After', async () => {
    const { deps, store } = await newIssuer();
    store.failNext('putCertificate', { error: storeThrottled() });
    const csr = csrFor('throttled-1');
    const err = (await issueCertificate(deps, { csr, stationId: 's' }).catch((e) => e)) as CaError;
    expect([err.code, err.retryAfterSeconds]).toEqual(['STORE_UNAVAILABLE', 2]);
    expect(store.count('releaseClaim')).toBe(1);
    expect((await issueCertificate(deps, { csr, stationId: 's' })).created).toBe(true);
    expect(await issued(store, 'throttled-1')).toHaveLength(1);
  });

  it('recognises its own claim when the claim write landed and the SDK retry met it', async () => {
    const { deps, store } = await newIssuer({ inFlightWaitMs: 0 });
    store.failNext('claim', { when: 'retried' });
    const result = await issueCertificate(deps, { csr: csrFor('claim-retried'), stationId: 's' });
    expect(result.created).toBe(true);
    expect(await issued(store, 'claim-retried')).toHaveLength(1);
  });

  it('moves its claim once when a serial redraw\'s claim write landed and the SDK retry met it', async () => {
    const { deps, store } = await newIssuer();
    const first = await issueCertificate(deps, { csr: csrFor('redraw-a'), stationId: 's' });
    // The next request's 16-byte draws: its token, then the first request's serial (a forced collision), then fresh ones.
    const draws: Array<Uint8Array | undefined> = [undefined, new Uint8Array(Buffer.from(first.record.serialNumber, 'hex'))];
    const random: RandomSource = (size) => (size === 16 && draws.length ? (draws.shift() ?? systemRandom(size)) : systemRandom(size));
    store.failNext('replaceClaim', { when: 'retried' });
    const second = await issueCertificate({ ...deps, random }, { csr: csrFor('redraw-b'), stationId: 's' });
    expect(store.count('replaceClaim')).toBe(1);
    expect(second.created).toBe(true);
    expect(second.record.serialNumber).not.toBe(first.record.serialNumber);
    expect(await issued(store, 'redraw-b')).toHaveLength(1);
  });

  it('never redraws for its own write: a collision is proven by another certificate at the serial', async () => {
    const { deps, store } = await newIssuer();
    store.failNext('putCertificate', { when: 'after' });
    const result = await issueCertificate(deps, { csr: csrFor('own-write'), stationId: 's' });
    expect(result.created).toBe(true);
    expect(store.count('replaceClaim')).toBe(0);
    expect(await issued(store, 'own-write')).toHaveLength(1);
  });
});

describe('Function: issueCertificate — a rotation takes effect at once', () => {
  it('sets aside a certificate of the old CA recorded while the pointer moved, and returns one of the new CA', async () => {
    const { deps, store } = await newIssuer({ issuing: 2 });
    await issueCertificate(deps, { csr: csrFor('warm'), stationId: 's' });
    const put = store.putCertificate.bind(store);
    let rotated = false;
    store.putCertificate = async (record) => {
      await put(record);
      // The rotation answers between this request's record write and its confirmation.
      if (!rotated) rotated = await store.setActiveIssuingCa('issuing-2', 'issuing-1');
    };
    const result = await issueCertificate(deps, { csr: csrFor('racing'), stationId: 's' });
    expect(result.record.issuingCaId).toBe('issuing-2');
    expect(result.ca.record.id).toBe('issuing-2');
    const all = await store.listByCommonName('racing');
    expect(all.map((r) => [r.issuingCaId, r.status]).sort()).toEqual([
      ['issuing-1', 'SUPERSEDED'],
      ['issuing-2', 'ISSUED'],
    ]);
    expect(all.find((r) => r.status === 'SUPERSEDED')!.supersededAt).toEqual(expect.any(String));
    // The next request finds the new CA without waiting for the CA cache (300 s here).
    expect((await issueCertificate(deps, { csr: csrFor('after-rotation'), stationId: 's' })).record.issuingCaId).toBe('issuing-2');
  });

  it('under concurrent load across a rotation, returns no certificate of the old CA once the rotation has answered', async () => {
    const { deps, store } = await newIssuer({ issuing: 2 });
    let rotatedAt = Infinity;
    const answers: Array<{ ca: string; at: number }> = [];
    let twentieth!: () => void;
    const twentyAnswered = new Promise<void>((r) => (twentieth = r));
    const csrs = Array.from({ length: 60 }, (_, i) => csrFor(`load-${i}`));
    // Requests arrive one every millisecond, so the load is spread across the rotation.
    const load = csrs.map(async (csr, i) => {
      await new Promise((r) => setTimeout(r, i));
      const r = await issueCertificate(deps, { csr, stationId: 's' });
      answers.push({ ca: r.record.issuingCaId, at: performance.now() });
      if (answers.length === 20) twentieth();
    });
    // The rotation answers while 40 requests are still in flight.
    const rotation = (async () => {
      await twentyAnswered;
      await store.setActiveIssuingCa('issuing-2', 'issuing-1');
      rotatedAt = performance.now();
    })();
    await Promise.all([...load, rotation]);
    expect(answers).toHaveLength(60);
    expect(answers.filter((a) => a.at > rotatedAt && a.ca === 'issuing-1')).toEqual([]);
    // The load did cross the rotation: both CAs issued.
    expect(new Set(answers.map((a) => a.ca))).toEqual(new Set(['issuing-1', 'issuing-2']));
    for (let i = 0; i < 60; i++) {
      const records = await store.listByCommonName(`load-${i}`);
      expect(records.filter((r) => r.status === 'ISSUED')).toHaveLength(1);
    }
  });
});
