import { describe, expect, it } from '@jest/globals';
import { createHash, type KeyObject } from 'node:crypto';
import { parseCsr } from '../../../src/pki/csr.js';
import { systemRandom } from '../../../src/pki/serial.js';
import { CaChains, CaDirectory } from '../../../src/service/ca-directory.js';
import { CaError } from '../../../src/service/errors.js';
import { issueCertificate, type IssueDeps } from '../../../src/service/issue-certificate.js';
import { realSleep, systemClock, type IotRegistrar } from '../../../src/service/ports.js';
import { revokeCertificate, type RevokeDeps } from '../../../src/service/revoke-certificate.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { MemoryLotStore } from '../../helpers/memory-lot-store.js';
import { MemoryStore } from '../../helpers/memory-store.js';
import { shippedPolicy } from '../../helpers/shipped-config.js';
import { softwareCa } from '../../helpers/software-ca.js';

const csrFor = (cn: string, key: KeyObject = newP256Key()) => buildCsr({ key, subjectDer: subject({ CN: STRING.utf8(cn) }) });
const spkiSha256 = (csr: string) => createHash('sha256').update(parseCsr(csr).spkiDer).digest('hex');

/** AWS IoT in dry run: revocation only needs an answer. */
const dryRunIot = { revokeCertificate: async () => 'DRY_RUN' } as unknown as IotRegistrar;

async function world() {
  const store = new MemoryStore();
  const { signerFactory } = await softwareCa(store, { activate: true });
  const issue: IssueDeps = {
    policy: shippedPolicy(),
    store,
    lots: new MemoryLotStore(),
    cas: new CaDirectory(store, signerFactory, systemClock, 300_000),
    clock: systemClock,
    random: systemRandom,
    sleep: realSleep,
    claimLeaseMs: 120_000,
    inFlightWaitMs: 3_000,
  };
  const revoke: RevokeDeps = { store, cas: new CaChains(store), iot: () => dryRunIot, clock: systemClock };
  return { store, issue, revoke };
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; details: unknown }> {
  const e = (await p.then(() => undefined, (err: unknown) => err)) as CaError | undefined;
  if (!(e instanceof CaError)) throw new Error(`expected a CaError, got ${String(e)}`);
  return { code: e.code, details: e.details };
}

describe('The key index: a compromised key is never certified again, one key per device', () => {
  it('refuses a new CSR with the key of a certificate revoked for keyCompromise: 409 KEY_BLOCKED naming the serial and reason; nothing recorded', async () => {
    const w = await world();
    const key = newP256Key();
    const first = await issueCertificate(w.issue, { csr: csrFor('dev-a', key), stationId: 's' });
    await revokeCertificate(w.revoke, first.record.serialNumber, 'keyCompromise');
    const again = csrFor('dev-a', key); // ECDSA signs anew: other bytes, same key

    expect(await refusal(issueCertificate(w.issue, { csr: again, stationId: 's' }))).toEqual({
      code: 'KEY_BLOCKED',
      details: [{ field: 'publicKey', reason: 'blocked', spkiSha256: spkiSha256(again), revocationReason: 'keyCompromise', serialNumber: first.record.serialNumber }],
    });
    expect(await refusal(issueCertificate(w.issue, { csr: csrFor('dev-other-name', key), stationId: 's' }))).toMatchObject({ code: 'KEY_BLOCKED' });
    expect((await w.store.listByCommonName('dev-a')).map((r) => r.status)).toEqual(['REVOKED']);
    expect(await w.store.listByCommonName('dev-other-name')).toEqual([]);
  });

  it('refuses the same key under another common name while its certificate is ISSUED: 409 KEY_IN_USE naming the serial', async () => {
    const w = await world();
    const key = newP256Key();
    const first = await issueCertificate(w.issue, { csr: csrFor('dev-b', key), stationId: 's' });
    expect(await refusal(issueCertificate(w.issue, { csr: csrFor('dev-b-clone', key), stationId: 's' }))).toEqual({
      code: 'KEY_IN_USE',
      details: [{ field: 'publicKey', reason: 'in use by another certificate', serialNumber: first.record.serialNumber }],
    });
    expect(await w.store.listByCommonName('dev-b-clone')).toEqual([]);
  });

  it('still answers an identical CSR with its certificate (200), not KEY_IN_USE', async () => {
    const w = await world();
    const csr = csrFor('dev-replay');
    const first = await issueCertificate(w.issue, { csr, stationId: 's' });
    const again = await issueCertificate(w.issue, { csr, stationId: 's' });
    expect([again.created, again.record.serialNumber]).toEqual([false, first.record.serialNumber]);
  });

  it('refuses CSR A after A and then B (same name) were both issued and revoked: any revocation blocks the key', async () => {
    const w = await world();
    const csrA = csrFor('dev-c');
    const a = await issueCertificate(w.issue, { csr: csrA, stationId: 's' });
    await revokeCertificate(w.revoke, a.record.serialNumber, 'superseded');
    const b = await issueCertificate(w.issue, { csr: csrFor('dev-c'), stationId: 's' });
    await revokeCertificate(w.revoke, b.record.serialNumber, 'unspecified');
    expect(await refusal(issueCertificate(w.issue, { csr: csrA, stationId: 's' }))).toMatchObject({ code: 'KEY_BLOCKED' });
  });

  it('gives one key exactly one certificate when 50 CSRs with it race under 50 common names', async () => {
    const w = await world();
    const key = newP256Key();
    const csrs = Array.from({ length: 50 }, (_, i) => csrFor(`race-${i}`, key));
    const results = await Promise.allSettled(csrs.map((csr) => issueCertificate(w.issue, { csr, stationId: 's' })));
    const issued = results.filter((r) => r.status === 'fulfilled');
    expect(issued).toHaveLength(1);
    const codes = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as CaError).code);
    expect(new Set(codes)).toEqual(new Set(['KEY_IN_USE']));
    const records = (await Promise.all(csrs.map((_, i) => w.store.listByCommonName(`race-${i}`)))).flat();
    expect(records).toHaveLength(1);
  });

  it('never leaves a key with an ISSUED certificate after a revocation racing its re-issue has answered', async () => {
    for (let round = 0; round < 10; round++) {
      const w = await world();
      const key = newP256Key();
      const first = await issueCertificate(w.issue, { csr: csrFor(`rr-${round}`, key), stationId: 's' });
      const reissue = issueCertificate(w.issue, { csr: csrFor(`rr-${round}`, key), stationId: 's' }).catch((e: CaError) => e);
      await revokeCertificate(w.revoke, first.record.serialNumber, 'keyCompromise');
      await reissue;
      const records = await w.store.listByCommonName(`rr-${round}`);
      expect(records.filter((r) => r.status === 'ISSUED')).toEqual([]);
      expect((await w.store.getKey(first.record.publicKeySha256))?.status).toBe('BLOCKED');
    }
  });

  it('takes over the key of a request that died before recording, once its claim is past its lease', async () => {
    let now = Date.now();
    const w = await world();
    const deps: IssueDeps = { ...w.issue, clock: () => new Date(now), claimLeaseMs: 60_000 };
    const key = newP256Key();
    // The "crash": the record write never completes and nothing is released.
    w.store.failNext('putCertificate', { error: new Error('process killed') });
    w.store.failNext('getCertificate', { error: new Error('process killed') });
    await issueCertificate(deps, { csr: csrFor('dev-died', key), stationId: 's' }).catch(() => undefined);
    // While the lease runs, the key is taken…
    expect(await refusal(issueCertificate(deps, { csr: csrFor('dev-died-2', key), stationId: 's' }))).toMatchObject({ code: 'KEY_IN_USE' });
    // …after it, it is free again.
    now += 61_000;
    expect((await issueCertificate(deps, { csr: csrFor('dev-died-2', key), stationId: 's' })).created).toBe(true);
  });
});
