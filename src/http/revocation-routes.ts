/** POST /certificates/{serialNumber}/revoke: imports neither the issuance pipeline nor the CA lifecycle. */
import type { RevocationFunction } from '../compose/operations.js';
import { count, METRIC } from '../observability/metrics.js';
import { REVOCATION_REASONS, revokeCertificate } from '../service/revoke-certificate.js';
import { httpFunction, json } from './edge.js';
import { readRevokeRequest, readSerial, stationIdOf } from './requests.js';
import { revocationView } from './views.js';

export const revokeRoute = (fn: RevocationFunction) =>
  httpFunction('POST /certificates/{serialNumber}/revoke', fn, async (event, { log }) => {
    const serial = readSerial(event);
    const { reason } = readRevokeRequest(event, fn.http.maxBodyBytes, REVOCATION_REASONS);
    Object.assign(log, { serialNumber: serial, reason, operator: stationIdOf(event, fn.http.trustStationHeader) });
    const result = await revokeCertificate(fn.revoke, serial, reason);
    Object.assign(log, { commonName: result.record.commonName, changed: result.changed, iotOutcome: result.iot.outcome });
    if (result.changed) count(fn.obs.metrics, METRIC.revoked);
    return json(200, revocationView(result));
  });
