/**
 * The operator routes of the CA lifecycle (revocation, rotation). Apart from
 * routes.ts so the issuing and reading functions do not bundle AWS IoT.
 */
import type { App } from '../app.js';
import { lifecycleOf, revokeDepsOf } from '../app-lifecycle.js';
import { METRIC } from '../observability/metrics.js';
import { rotate } from '../service/ca-lifecycle.js';
import { REVOCATION_REASONS, revokeCertificate } from '../service/revoke-certificate.js';
import { httpHandler, json } from './handler.js';
import { readRevokeRequest, readRotateRequest, readSerial } from './requests.js';
import { stationIdOf } from './routes.js';
import { revocationView } from './views.js';

export const revokeRoute = (app: () => App) =>
  httpHandler('POST /certificates/{serialNumber}/revoke', app, async (event, log) => {
    const a = app();
    const serial = readSerial(event);
    const { reason } = readRevokeRequest(event, a.config.maxBodyBytes, REVOCATION_REASONS);
    Object.assign(log, { serialNumber: serial, reason, operator: stationIdOf(event, a.config.trustStationHeader) });
    const result = await revokeCertificate(revokeDepsOf(a), serial, reason);
    Object.assign(log, { commonName: result.record.commonName, changed: result.changed, iotOutcome: result.iot.outcome });
    if (result.changed) a.metrics.count(METRIC.revoked);
    return json(200, revocationView(result));
  });

export const rotateRoute = (app: () => App) =>
  httpHandler('POST /ca/rotate', app, async (event, log) => {
    const a = app();
    const { force } = readRotateRequest(event, a.config.maxBodyBytes);
    const report = await rotate(lifecycleOf(a), { force });
    Object.assign(log, { force, rotated: report.rotated, activeIssuingCaId: report.activeIssuingCaId, actions: report.actions });
    return json(200, report);
  });

