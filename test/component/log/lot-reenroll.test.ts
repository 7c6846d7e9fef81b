/**
 * Re-enrollments in a lot's log: a device's re-enrollment stays in its lot but
 * takes no seat, so its entry carries `replaces` and no lotSeq. The lot's seats
 * stay numbered 1..K, a lot is closed in the log only once every seat is
 * logged, and a report of the seats verifies; one that leaves a seat out does not.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyReport } from '../../../tools/verify-report.mjs';
import { logKeyAlias } from '../../../src/compose/log.js';
import { softwareKeyFile } from '../../../src/local/software-keys.js';
import { assembleLotReport, formatLotReport, type ProvenEntry } from '../../../src/log/lot-report.js';
import { sequenceLog } from '../../../src/service/log-sequencer.js';
import { issueCertificate } from '../../../src/service/issue-certificate.js';
import { reenrollCertificate } from '../../../src/service/reenroll-certificate.js';
import { closeLot, getLot, openLot } from '../../../src/service/lots.js';
import { entryByIndex, proofBySerial } from '../../../src/service/log-reading.js';
import { buildCsrDer, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { useTestApp, type TestApp } from '../../helpers/test-app.js';

jest.setTimeout(60_000);
const testApp = useTestApp();
const STATION = 'station-1';
const DAY = 86_400_000;
const proven = (a: { leafIndex: number; entry: string; auditPath: string[] }): ProvenEntry => ({ leafIndex: a.leafIndex, entry: a.entry, auditPath: a.auditPath });
const der = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);
const entryOf = (p: { entry: string }) => JSON.parse(Buffer.from(p.entry, 'base64').toString('utf8')) as Record<string, unknown>;
const csr = (cn: string, key = newP256Key()) => buildCsrDer({ key, subjectDer: subject({ CN: STRING.utf8(cn) }) });

/** A report of `serials` (with their PEMs) against the latest checkpoint, as `factory-ca lot report` assembles it. */
async function report(t: TestApp, lotId: string, certs: Array<{ serialNumber: string; certificatePem: string }>): Promise<Uint8Array> {
  const lot = await getLot(t.lots.lots, lotId);
  const opened = await entryByIndex(t.logReading.log, lot.openedLogIndex!);
  const closed = lot.closedLogIndex !== undefined ? await entryByIndex(t.logReading.log, lot.closedLogIndex) : undefined;
  const certificates = [];
  for (const c of certs) {
    const p = await proofBySerial(t.logReading.log, c.serialNumber);
    certificates.push({ certificatePem: c.certificatePem, issued: proven(p), ...(p.revocation ? { revocation: proven(p.revocation) } : {}) });
  }
  return Buffer.from(formatLotReport(assembleLotReport({ checkpoint: opened.checkpoint, lot: proven(opened), ...(closed ? { closed: proven(closed) } : {}), certificates })));
}
const logKey = (t: TestApp) =>
  createPublicKey(readFileSync(join(t.stateDir, softwareKeyFile(logKeyAlias(t.config))), 'utf8')).export({ format: 'pem', type: 'spki' }) as string;
const open = (t: TestApp, lotId: string, quota: number) => openLot(t.lots.lots, { lotId, product: 'sensor', quota, closesAt: new Date(Date.now() + DAY).toISOString() }, 'operator');

describe('Re-enrollments of a lot\'s devices in the log', () => {
  it('logs a re-enrollment with replaces and no lotSeq: a lot of quota 1 whose device re-enrolled closes at 1, and its report verifies', async () => {
    const t = testApp();
    await open(t, 'RE-A', 1);
    const key = newP256Key();
    const first = await issueCertificate(t.issuing.issue, { csr: csr('re-a-1', key), stationId: STATION, lotId: 'RE-A' });
    const renewed = await reenrollCertificate(t.reenrolling.reenroll, { clientCertificate: der(first.record.certificatePem), csr: csr('re-a-1', key) });
    await closeLot(t.lots.lots, 'RE-A', 'operator');
    await sequenceLog(t.logSequencing.sequencer);

    expect(entryOf(await proofBySerial(t.logReading.log, first.record.serialNumber))).toMatchObject({ lotId: 'RE-A', lotSeq: 1 });
    const reentry = entryOf(await proofBySerial(t.logReading.log, renewed.record.serialNumber));
    expect(reentry).toMatchObject({ type: 'issued', lotId: 'RE-A', replaces: first.record.serialNumber });
    expect(reentry).not.toHaveProperty('lotSeq');
    const lot = await getLot(t.lots.lots, 'RE-A');
    expect([lot.issued, lot.logged, lot.closedCount]).toEqual([1, 1, 1]);
    const verdict = verifyReport(await report(t, 'RE-A', [first.record]), logKey(t));
    expect(verdict.ok).toBe(true);
    // The re-enrollment is not a seat: a report that adds it is refused.
    expect(verifyReport(await report(t, 'RE-A', [first.record, renewed.record]), logKey(t)).ok).toBe(false);
  });

  it('waits for a seat still in flight when the lot closes, though a re-enrollment was logged: the close states every seat, and a report without one fails', async () => {
    const t = testApp();
    await open(t, 'RE-C', 10);
    const key = newP256Key();
    const first = await issueCertificate(t.issuing.issue, { csr: csr('re-c-1', key), stationId: STATION, lotId: 'RE-C' });
    await reenrollCertificate(t.reenrolling.reenroll, { clientCertificate: der(first.record.certificatePem), csr: csr('re-c-1', key) });
    // A second station's request takes its seat and stalls before its record is written.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const put = t.store.putCertificate.bind(t.store);
    let held = false;
    const spy = jest.spyOn(t.store, 'putCertificate').mockImplementation(async (record) => {
      if (record.commonName === 're-c-2' && !held) {
        held = true;
        await gate;
      }
      return put(record);
    });
    const pending = issueCertificate(t.issuing.issue, { csr: csr('re-c-2'), stationId: STATION, lotId: 'RE-C' });
    while (!held) await new Promise((r) => setTimeout(r, 10));
    await closeLot(t.lots.lots, 'RE-C', 'operator');

    // The run after the close logs the first certificate and the re-enrollment, and does not close the lot: seat 2 is not logged.
    await sequenceLog(t.logSequencing.sequencer);
    expect((await getLot(t.lots.lots, 'RE-C')).closedLogIndex).toBeUndefined();
    release();
    const second = await pending;
    spy.mockRestore();
    await sequenceLog(t.logSequencing.sequencer);

    const lot = await getLot(t.lots.lots, 'RE-C');
    expect([lot.issued, lot.logged, lot.closedCount]).toEqual([2, 2, 2]);
    expect(entryOf(await proofBySerial(t.logReading.log, second.record.serialNumber))).toMatchObject({ lotSeq: 2 });
    expect((await proofBySerial(t.logReading.log, second.record.serialNumber)).leafIndex).toBeLessThan(lot.closedLogIndex!);
    const without = verifyReport(await report(t, 'RE-C', [first.record]), logKey(t));
    expect(without.ok).toBe(false);
    expect(verifyReport(await report(t, 'RE-C', [first.record, second.record]), logKey(t)).ok).toBe(true);
  });
});
