import { describe, expect, it } from '@jest/globals';
import type { KeyObject } from 'node:crypto';
import { issueCertificate, type IssueDeps } from '../../../src/service/issue-certificate.js';
import { reenrollCertificate, type ReenrollDeps } from '../../../src/service/reenroll-certificate.js';
import { CaDirectory } from '../../../src/service/ca-directory.js';
import { CaError } from '../../../src/service/errors.js';
import { realSleep, type Clock, type IotRegistrar } from '../../../src/service/ports.js';
import { certificatesFromPem } from '../../../src/pki/pem.js';
import { systemRandom } from '../../../src/pki/serial.js';
import { buildCsrDer, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { rejectionOf } from '../../helpers/errors.js';
import { MemoryLotStore } from '../../helpers/memory-lot-store.js';
import { MemoryStore, storeThrottled } from '../../helpers/memory-store.js';
import { shippedPolicy } from '../../helpers/shipped-config.js';
import { softwareCa } from '../../helpers/software-ca.js';

/** AWS IoT as the re-enrollment sees it: every deactivation asked for, and a switch to make it unreachable. */
function fakeIot() {
  const deactivated: string[] = [];
  let down = false;
  const registrar = {
    mode: 'aws',
    deactivateCertificate: async (certificateId: string) => {
      if (down) throw new CaError('IOT_UNAVAILABLE', 'AWS IoT is unavailable; retry later', { retryAfterSeconds: 5 });
      deactivated.push(certificateId);
      return 'INACTIVE' as const;
    },
  } as unknown as IotRegistrar;
  return { registrar, deactivated, setDown: (d: boolean) => (down = d) };
}

interface Setup {
  deps: ReenrollDeps;
  issue: IssueDeps;
  store: MemoryStore;
  iot: ReturnType<typeof fakeIot>;
  now: { advance(ms: number): void };
}

async function setup(o: { claimLeaseMs?: number } = {}): Promise<Setup> {
  const store = new MemoryStore();
  let offset = 0;
  const clock: Clock = () => new Date(Date.now() + offset);
  const { signerFactory } = await softwareCa(store, { activate: true, clock });
  const issue: IssueDeps = {
    policy: shippedPolicy(),
    store,
    lots: new MemoryLotStore(),
    cas: new CaDirectory(store, signerFactory, clock, 300_000),
    clock,
    random: systemRandom,
    sleep: realSleep,
    claimLeaseMs: o.claimLeaseMs ?? 120_000,
    inFlightWaitMs: 200,
  };
  const iot = fakeIot();
  return { deps: { issue, iot: () => iot.registrar }, issue, store, iot, now: { advance: (ms) => (offset += ms) } };
}

const csr = (cn: string, key: KeyObject, extra: Parameters<typeof subject>[0] = {}) => buildCsrDer({ key, subjectDer: subject({ CN: STRING.utf8(cn), ...extra }) });
const derOf = (pem: string) => certificatesFromPem(pem)[0]!;

/** A device enrolled by POST /certificates' issuance: its key and its certificate's DER and serial. */
async function enrolled(s: Setup, cn: string, key = newP256Key()) {
  const body = csr(cn, key);
  const { record } = await issueCertificate(s.issue, { csr: body, stationId: 'line-1' });
  return { key, csr: body, cert: derOf(record.certificatePem), serialNumber: record.serialNumber, record };
}

const codeOf = async (p: Promise<unknown>) => ((await rejectionOf<CaError>(p)) as CaError).code;
const reasonOf = async (p: Promise<unknown>) => {
  const e = await rejectionOf<CaError>(p);
  return [e.code, (e.details?.[0] as { reason?: string } | undefined)?.reason];
};

describe('Function: reenrollCertificate', () => {
  it('renews with the same key: a new certificate, the old one SUPERSEDED by it and INACTIVE in AWS IoT', async () => {
    const s = await setup();
    const device = await enrolled(s, 'renew-1');
    const result = await reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: csr('renew-1', device.key) });
    expect(result.created).toBe(true);
    expect(result.record).toMatchObject({ status: 'ISSUED', commonName: 'renew-1', replaces: device.serialNumber, stationId: 'line-1', publicKeySha256: device.record.publicKeySha256 });
    expect(result.record.serialNumber).not.toBe(device.serialNumber);
    expect(await s.store.getCertificate(device.serialNumber)).toMatchObject({ status: 'SUPERSEDED', supersededBy: result.record.serialNumber, iotDeactivation: 'INACTIVE' });
    expect(s.iot.deactivated).toEqual([device.record.certificateId]);
    expect(result.iotDeactivation).toBe('INACTIVE');
    // The name and the key are the new certificate's: a renewal of it works in turn.
    expect((await s.store.getClaim('CN#renew-1'))!.serialNumber).toBe(result.record.serialNumber);
    const again = await reenrollCertificate(s.deps, { clientCertificate: derOf(result.record.certificatePem), csr: csr('renew-1', device.key) });
    expect(again.record.replaces).toBe(result.record.serialNumber);
  });

  it('re-keys with a new key; the old key stays that device\'s: no other request may certify it', async () => {
    const s = await setup();
    const device = await enrolled(s, 'rekey-1');
    const result = await reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: csr('rekey-1', newP256Key()) });
    expect(result.record.publicKeySha256).not.toBe(device.record.publicKeySha256);
    expect((await s.store.getCertificate(device.serialNumber))!.status).toBe('SUPERSEDED');
    expect(await codeOf(issueCertificate(s.issue, { csr: csr('another-device', device.key), stationId: 'line-1' }))).toBe('KEY_IN_USE');
    expect(await codeOf(issueCertificate(s.issue, { csr: csr('rekey-1', newP256Key()), stationId: 'line-1' }))).toBe('DUPLICATE_COMMON_NAME');
  });

  it('answers a replay (same certificate, same CSR) with the same new certificate; the old certificate with another CSR is refused', async () => {
    const s = await setup();
    const device = await enrolled(s, 'replay-1');
    const body = csr('replay-1', newP256Key());
    const first = await reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: body });
    const replay = await reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: body });
    expect([replay.created, replay.record.certificatePem]).toEqual([false, first.record.certificatePem]);
    expect(await reasonOf(reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: csr('replay-1', newP256Key()) }))).toEqual(['EST_CLIENT_CERT_REFUSED', 'superseded']);
    expect(await reasonOf(reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: csr('replay-1', device.key) }))).toEqual(['EST_CLIENT_CERT_REFUSED', 'superseded']);
  });

  it('refuses no client certificate (401 code), one it did not issue, a revoked one and an expired one', async () => {
    const s = await setup();
    const device = await enrolled(s, 'refuse-1');
    const body = csr('refuse-1', newP256Key());
    expect(await codeOf(reenrollCertificate(s.deps, { clientCertificate: undefined, csr: body }))).toBe('EST_CLIENT_CERT_REQUIRED');
    // Another CA's certificate with the same serial: the bytes are not the record's.
    const other = await setup();
    const stranger = await enrolled(other, 'refuse-1');
    expect(await reasonOf(reenrollCertificate(s.deps, { clientCertificate: stranger.cert, csr: body }))).toEqual(['EST_CLIENT_CERT_REFUSED', 'unknown']);
    expect(await reasonOf(reenrollCertificate(s.deps, { clientCertificate: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), csr: body }))).toEqual(['EST_CLIENT_CERT_REFUSED', 'unknown']);

    const expiring = await enrolled(s, 'refuse-2');
    s.now.advance(Date.parse(expiring.record.notAfter) - Date.now() + 1000);
    expect(await reasonOf(reenrollCertificate(s.deps, { clientCertificate: expiring.cert, csr: csr('refuse-2', newP256Key()) }))).toEqual(['EST_CLIENT_CERT_REFUSED', 'expired']);

    const t = await setup();
    const revoked = await enrolled(t, 'refuse-3');
    await t.store.revokeCertificate(revoked.serialNumber, new Date().toISOString(), 'keyCompromise');
    expect(await reasonOf(reenrollCertificate(t.deps, { clientCertificate: revoked.cert, csr: csr('refuse-3', newP256Key()) }))).toEqual(['EST_CLIENT_CERT_REFUSED', 'revoked']);
    expect(device.serialNumber).toBeDefined();
  });

  it('makes every check simpleenroll makes, then asks for the same subject, byte for byte', async () => {
    const s = await setup();
    const device = await enrolled(s, 'subject-1');
    const holder = await enrolled(s, 'subject-holder');
    const reenroll = (body: Uint8Array) => codeOf(reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: body }));
    expect(await reenroll(csr('subject-2', newP256Key()))).toBe('EST_SUBJECT_MISMATCH');
    // The same text in another string type is another Name.
    expect(await reenroll(buildCsrDer({ key: newP256Key(), subjectDer: subject({ CN: STRING.printable('subject-1') }) }))).toBe('EST_SUBJECT_MISMATCH');
    expect(await reenroll(csr('subject-1', newP256Key(), { emailAddress: STRING.ia5('a@b.c') }))).toBe('POLICY_VIOLATION');
    expect(await reenroll(new Uint8Array([0x30, 0x00]))).toBe('CSR_MALFORMED');
    // Another device's key: KEY_IN_USE, as POST /certificates says.
    expect(await reenroll(csr('subject-1', holder.key))).toBe('KEY_IN_USE');
    // The refused re-enrollment leaves the name to the certificate it would have replaced.
    expect((await s.store.getCertificate(device.serialNumber))!.status).toBe('ISSUED');
    expect((await rejectionOf<CaError>(issueCertificate(s.issue, { csr: csr('subject-1', newP256Key()), stationId: 'x' }))).details).toEqual([expect.objectContaining({ serialNumber: device.serialNumber })]);
    expect((await issueCertificate(s.issue, { csr: device.csr, stationId: 'x' })).record.serialNumber).toBe(device.serialNumber);
  });

  it('delivers the new certificate when AWS IoT is unreachable, notes PENDING, and a replay finishes the deactivation', async () => {
    const s = await setup();
    const device = await enrolled(s, 'iot-1');
    const body = csr('iot-1', newP256Key());
    s.iot.setDown(true);
    const first = await reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: body });
    expect(first.iotDeactivation).toBe('PENDING');
    expect(await s.store.getCertificate(device.serialNumber)).toMatchObject({ status: 'SUPERSEDED', iotDeactivation: 'PENDING' });
    s.iot.setDown(false);
    const replay = await reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: body });
    expect([replay.record.serialNumber, replay.iotDeactivation]).toEqual([first.record.serialNumber, 'INACTIVE']);
    expect(await s.store.getCertificate(device.serialNumber)).toMatchObject({ status: 'SUPERSEDED', iotDeactivation: 'INACTIVE' });
  });
});

describe('Function: reenrollCertificate — a fault between the writes leaves the ledger consistent', () => {
  it('new certificate recorded, the supersede fails: 503, nothing delivered, the name stays held; the same request again completes it', async () => {
    const s = await setup();
    const device = await enrolled(s, 'fault-1');
    const body = csr('fault-1', newP256Key());
    s.store.failNext('supersedeByReplacement');
    const failed = await rejectionOf<CaError>(reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: body }));
    expect([failed.code, failed.retryAfterSeconds]).toEqual(['STORE_UNAVAILABLE', 2]);
    const claim = (await s.store.getClaim('CN#fault-1'))!;
    const pending = (await s.store.getCertificate(claim.serialNumber))!;
    expect(pending).toMatchObject({ status: 'ISSUED', replaces: device.serialNumber });
    expect((await s.store.getCertificate(device.serialNumber))!.status).toBe('ISSUED');
    // Nobody else gets the name or the old key meanwhile.
    expect(await codeOf(issueCertificate(s.issue, { csr: csr('fault-1', newP256Key()), stationId: 'x' }))).toBe('DUPLICATE_COMMON_NAME');
    expect(await codeOf(issueCertificate(s.issue, { csr: csr('fault-other', device.key), stationId: 'x' }))).toBe('KEY_IN_USE');

    const retry = await reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: body });
    expect([retry.record.serialNumber, retry.created]).toEqual([pending.serialNumber, false]);
    expect(await s.store.getCertificate(device.serialNumber)).toMatchObject({ status: 'SUPERSEDED', supersededBy: pending.serialNumber, iotDeactivation: 'INACTIVE' });
  });

  it('the supersede landed but its answer was lost: the retry finds it done and answers the same certificate', async () => {
    const s = await setup();
    const device = await enrolled(s, 'fault-2');
    const body = csr('fault-2', device.key);
    s.store.failNext('supersedeByReplacement', { when: 'after' });
    expect(await codeOf(reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: body }))).toBe('STORE_UNAVAILABLE');
    const retry = await reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: body });
    expect(await s.store.getCertificate(device.serialNumber)).toMatchObject({ status: 'SUPERSEDED', supersededBy: retry.record.serialNumber });
  });

  it('the record write is refused: the name goes straight back to the old certificate, and the device can retry at once', async () => {
    const s = await setup();
    const device = await enrolled(s, 'fault-3');
    const body = csr('fault-3', device.key);
    s.store.failNext('putCertificate', { error: storeThrottled() });
    expect(await codeOf(reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: body }))).toBe('STORE_UNAVAILABLE');
    expect((await s.store.getCertificate(device.serialNumber))!.status).toBe('ISSUED');
    expect(await codeOf(issueCertificate(s.issue, { csr: csr('fault-3', newP256Key()), stationId: 'x' }))).toBe('DUPLICATE_COMMON_NAME');
    expect(await codeOf(issueCertificate(s.issue, { csr: csr('fault-3-other', device.key), stationId: 'x' }))).toBe('KEY_IN_USE');
    const retry = await reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: body });
    expect(retry.created).toBe(true);
  });

  it('a request that died after moving the claim and the key: once its lease ends, both are still the old certificate\'s', async () => {
    const s = await setup({ claimLeaseMs: 10_000 });
    const device = await enrolled(s, 'fault-4');
    const body = csr('fault-4', device.key);
    // The record write fails in a way that may have applied it: the claim is held until its lease ends, as for a request that died.
    s.store.failNext('putCertificate', { error: new Error('process killed') });
    expect(await codeOf(reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: body }))).toBe('STORE_UNAVAILABLE');
    expect((await s.store.getClaim('CN#fault-4'))!.replaces).toBe(device.serialNumber);
    s.now.advance(11_000);
    expect(await codeOf(issueCertificate(s.issue, { csr: csr('fault-4', newP256Key()), stationId: 'x' }))).toBe('DUPLICATE_COMMON_NAME');
    expect(await codeOf(issueCertificate(s.issue, { csr: csr('fault-4-other', device.key), stationId: 'x' }))).toBe('KEY_IN_USE');
    // The original CSR sent again to POST /certificates still gets the old certificate, which holds the name.
    expect((await issueCertificate(s.issue, { csr: device.csr, stationId: 'x' })).record.serialNumber).toBe(device.serialNumber);
    const retry = await reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: body });
    expect(retry.record.replaces).toBe(device.serialNumber);
  });

  it('revoked while it was being replaced: the new certificate is set aside, never delivered', async () => {
    const s = await setup();
    const device = await enrolled(s, 'fault-5');
    const supersede = s.store.supersedeByReplacement.bind(s.store);
    s.store.supersedeByReplacement = async (record, replacement) => {
      await s.store.revokeCertificate(record.serialNumber, new Date().toISOString(), 'keyCompromise');
      return supersede(record, replacement);
    };
    expect(await reasonOf(reenrollCertificate(s.deps, { clientCertificate: device.cert, csr: csr('fault-5', newP256Key()) }))).toEqual(['EST_CLIENT_CERT_REFUSED', 'revoked']);
    const claim = (await s.store.getClaim('CN#fault-5'))!;
    expect((await s.store.getCertificate(claim.serialNumber))!.status).toBe('SUPERSEDED');
  });
});
