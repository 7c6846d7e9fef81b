import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeIssuing } from '../../../src/compose/issuing.js';
import { composeLifecycle } from '../../../src/compose/operations.js';
import { ledger as ledgerStore } from '../../../src/compose/shared.js';
import { loadConfig } from '../../../src/config/config.js';
import { ensureTable } from '../../../src/local/local-stack.js';
import { CaError } from '../../../src/service/errors.js';
import { deviceValidity } from '../../../src/pki/validity.js';
import { bootstrap, rotate } from '../../../src/service/ca-lifecycle.js';
import { CA_BACKDATE_SECONDS } from '../../../src/service/ca-setup.js';
import { issueCertificate } from '../../../src/service/issue-certificate.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { opensslVerify } from '../../helpers/openssl.js';
import { memoryLogger, memoryMetrics, startTestLedger, type TestLedger } from '../../helpers/test-app.js';

let db: TestLedger;
const dirs: string[] = [];
beforeAll(async () => {
  db = await startTestLedger();
});
afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await db.close();
});

let tables = 0;
/** A local-mode CA on dynalite whose clock the test sets. */
async function world(start: number) {
  const now = { t: start };
  const clock = () => new Date(now.t);
  const stateDir = mkdtempSync(join(tmpdir(), 'factory-ca-validity-'));
  dirs.push(stateDir);
  const config = loadConfig({ TABLE_NAME: `validity-${process.pid}-${++tables}`, ALLOW_SOFTWARE_SIGNER: 'true', LOCAL_STATE_DIR: stateDir, IOT_MODE: 'dry-run', CA_CACHE_TTL_SECONDS: '0' });
  await ensureTable(db.client, config.tableName);
  const options = { store: ledgerStore(config, db.client), clock, logger: memoryLogger(), metrics: memoryMetrics() };
  const lifecycle = composeLifecycle(config, options).lifecycle;
  const issuing = composeIssuing(config, options).issue;
  const issue = async (cn: string) => {
    const r = await issueCertificate(issuing, { csr: buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(cn) }) }), stationId: 's' });
    return { record: r.record, root: r.ca.rootCertificatePem, ca: r.ca.caCertificatePem, pem: r.record.certificatePem };
  };
  return { now, lifecycle, issuing, issue, store: options.store };
}

const at = (ms: number) => ['-attime', String(Math.floor(ms / 1000))];

describe('Validity of CA and device certificates', () => {
  it('backdates the root and the issuing CA, so a device certificate issued right after the bootstrap verifies at its own notBefore', async () => {
    const t0 = Date.parse('2026-12-01T10:00:00Z');
    const w = await world(t0);
    const report = await bootstrap(w.lifecycle);
    const root = report.cas.find((c) => c.role === 'root')!;
    expect(Date.parse((await w.store.getCa(root.id))!.notBefore)).toBe(t0 - CA_BACKDATE_SECONDS * 1000);
    const device = await w.issue('right-after-bootstrap');
    // The device's clock is 5 minutes slow: the moment the backdating is for.
    expect(Date.parse(device.record.notBefore)).toBe(t0 - 300_000);
    expect(opensslVerify(device.root, device.ca, device.pem, at(t0 - 300_000))).toMatch(/OK/);
  });

  it('after a rotation, the new issuing CA is backdated too, and device certificates never start before their issuer', async () => {
    const t0 = Date.parse('2026-12-01T10:00:00Z');
    const w = await world(t0);
    await bootstrap(w.lifecycle);
    w.now.t = t0 + 86_400_000;
    await rotate(w.lifecycle, { force: true });
    const device = await w.issue('right-after-rotation');
    expect(device.record.issuingCaId).toBe('issuing-2');
    const issuing = (await w.store.getCa('issuing-2'))!;
    expect(Date.parse(issuing.notBefore)).toBe(w.now.t - CA_BACKDATE_SECONDS * 1000);
    expect(Date.parse(device.record.notBefore)).toBeGreaterThanOrEqual(Date.parse(issuing.notBefore));
    expect(opensslVerify(device.root, device.ca, device.pem, at(Date.parse(device.record.notBefore)))).toMatch(/OK/);
  });

  it('refuses to issue with an expired issuing CA: 503 CA_NOT_READY, and nothing is claimed or recorded', async () => {
    const t0 = Date.parse('2026-12-01T10:00:00Z');
    const w = await world(t0);
    await bootstrap(w.lifecycle);
    const active = (await w.store.getCa('issuing-1'))!;
    w.now.t = Date.parse(active.notAfter) + 1000;
    const err = (await w.issue('after-the-end').catch((e: unknown) => e)) as CaError;
    expect(err).toBeInstanceOf(CaError);
    expect([err.code, err.retryAfterSeconds]).toEqual(['CA_NOT_READY', 60]);
    expect(err.message).toMatch(/expired/);
    expect(await w.store.listByCommonName('after-the-end')).toEqual([]);
    // The name was never claimed: once rotated, the same name is issued at once.
    await rotate(w.lifecycle, { force: true });
    expect((await w.issue('after-the-end')).record.issuingCaId).toBe('issuing-2');
  });
});

describe('Function: deviceValidity', () => {
  it('never starts before the issuer, however far it is backdated', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const issuerStart = new Date('2029-12-31T23:58:30.500Z');
    const v = deviceValidity(now, 365, 3600, new Date('2040-01-01T00:00:00Z'), issuerStart);
    expect(v.notBefore.toISOString()).toBe('2029-12-31T23:58:31.000Z');
  });

  it('gives a notAfter at or before now for an expired issuer, which the caller refuses', () => {
    const v = deviceValidity(new Date('2030-01-01T00:00:00Z'), 365, 300, new Date('2029-12-31T00:00:00Z'));
    expect(v.notAfter.getTime()).toBeLessThan(v.notBefore.getTime());
  });
});
