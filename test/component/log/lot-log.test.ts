/**
 * A production lot through the whole service and the issuance log: a lot is
 * opened, certificates issued under it (one revoked), the lot closed; the
 * sequencer logs it all, and a lot report assembled from the log's own routes
 * passes the auditor's verifier (tools/verify-report.mjs).
 */
import { describe, expect, it, jest } from '@jest/globals';
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyReport } from '../../../tools/verify-report.mjs';
import { logKeyAlias } from '../../../src/compose/log.js';
import { softwareKeyFile } from '../../../src/local/software-keys.js';
import { assembleLotReport, formatLotReport, type ProvenEntry } from '../../../src/log/lot-report.js';
import { sequenceLog } from '../../../src/service/log-sequencer.js';
import { apiEvent, lambdaContext, type EventInit } from '../../helpers/api.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { routesOf, useTestApp, type RouteHandler } from '../../helpers/test-app.js';

jest.setTimeout(60_000);
const STATION = 'arn:aws:sts::111122223333:assumed-role/station/line-7';
const testApp = useTestApp({ LOCAL_API_PORT: '3000' });
const routes = routesOf(testApp);

async function call(route: RouteHandler, init: EventInit) {
  const res = await route(apiEvent({ ...init, headers: { Host: 'localhost:3000', 'content-type': 'application/json', ...init.headers } }), lambdaContext());
  return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, any> };
}
const post = (body: unknown, extra: EventInit = {}): EventInit => ({ method: 'POST', body: JSON.stringify(body), userArn: STATION, ...extra });
const proven = (a: Record<string, any>): ProvenEntry => ({ leafIndex: a.leafIndex, entry: a.entry, auditPath: a.auditPath });

describe('A lot in the issuance log', () => {
  it('logs a lot, its certificates numbered 1..K and its closing, and its report verifies', async () => {
    // Prepare
    const t = testApp();
    const lotId = 'LOT-LOG-1';
    expect((await call(routes.openLot, post({ lotId, product: 'sensor', quota: 5, closesAt: new Date(Date.now() + 86_400_000).toISOString() }))).status).toBe(201);
    const issued: Array<{ serialNumber: string; certificatePem: string }> = [];
    for (let i = 0; i < 4; i++) {
      const csr = buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(`lot-log-device-${i}`) }) });
      const res = await call(routes.issue, post({ csr, lotId }));
      expect(res.status).toBe(201);
      issued.push({ serialNumber: res.body.serialNumber, certificatePem: res.body.certificatePem });
      if (i === 1) await sequenceLog(t.logSequencing.sequencer);
    }
    expect((await call(routes.revoke, post({ reason: 'keyCompromise' }, { pathParameters: { serialNumber: issued[2]!.serialNumber } }))).status).toBe(200);
    expect((await call(routes.closeLot, post({}, { pathParameters: { lotId } }))).status).toBe(200);

    // Act
    const report = await sequenceLog(t.logSequencing.sequencer);
    const view = (await call(routes.getLot, { pathParameters: { lotId } })).body;
    const at = { query: {} as Record<string, string> };
    const opened = (await call(routes.getLogEntry, { ...at, pathParameters: { index: String(view.log.openedIndex) } })).body;
    const closed = (await call(routes.getLogEntry, { ...at, pathParameters: { index: String(view.log.closedIndex) } })).body;
    const certificates = [];
    for (const c of issued) {
      const proof = (await call(routes.getLogProof, { pathParameters: { serialNumber: c.serialNumber } })).body;
      certificates.push({ certificatePem: c.certificatePem, issued: proven(proof), ...(proof.revocation ? { revocation: proven(proof.revocation) } : {}) });
    }
    const file = formatLotReport(assembleLotReport({ checkpoint: opened.checkpoint, lot: proven(opened), closed: proven(closed), certificates }));

    // Assess
    expect(report).toMatchObject({ conflict: false, queueDepth: 0 });
    expect(view.log).toMatchObject({ logged: 4, closedCount: 4 });
    const key = createPublicKey(readFileSync(join(t.stateDir, softwareKeyFile(logKeyAlias(t.config))), 'utf8')).export({ format: 'pem', type: 'spki' }) as string;
    const verdict = verifyReport(Buffer.from(file), key);
    expect(verdict).toMatchObject({ ok: true });
    const tampered = file.replace(/"leafIndex": (\d+)/, (_m, n) => `"leafIndex": ${Number(n) + 1}`);
    expect(verifyReport(Buffer.from(tampered), key)).toMatchObject({ ok: false });
  });
});
