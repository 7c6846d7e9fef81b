/**
 * The operator routes of the CA lifecycle (revocation, rotation): they import
 * neither the issuance pipeline nor the reading routes.
 */
import type { LifecycleFunction, RevocationFunction } from '../compose/operations.js';
import { count, METRIC } from '../observability/metrics.js';
import { rotate } from '../service/ca-lifecycle.js';
import { REVOCATION_REASONS, revokeCertificate } from '../service/revoke-certificate.js';
import { httpFunction, json } from './edge.js';
import { readRevokeRequest, readRotateRequest, readSerial, stationIdOf } from './requests.js';
import { revocationView } from './views.js';

export const revokeRoute = (fn: RevocationFunction) =>
  httpFunction('POST /certificates/{serialNumber}/revoke', fn.obs, async (event, { log }) => {
    const serial = readSerial(event);
    const { reason } = readRevokeRequest(event, fn.http.maxBodyBytes, REVOCATION_REASONS);
    Object.assign(log, { serialNumber: serial, reason, operator: stationIdOf(event, fn.http.trustStationHeader) });
    const result = await revokeCertificate(fn.revoke, serial, reason);
    Object.assign(log, { commonName: result.record.commonName, changed: result.changed, iotOutcome: result.iot.outcome });
    if (result.changed) count(fn.obs.metrics, METRIC.revoked);
    return json(200, revocationView(result));
  });

export const rotateRoute = (fn: LifecycleFunction) =>
  httpFunction('POST /ca/rotate', fn.obs, async (event, { log }) => {
    const { force } = readRotateRequest(event, fn.http.maxBodyBytes);
    const report = await rotate(fn.lifecycle, { force });
    Object.assign(log, { force, rotated: report.rotated, activeIssuingCaId: report.activeIssuingCaId, actions: report.actions });
    return json(200, report);
  });
