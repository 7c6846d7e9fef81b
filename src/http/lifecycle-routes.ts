/** POST /ca/rotate: the CA lifecycle on request (an operator's force, or a finished rotation), the issuing CA's or the log key's. */
import type { LifecycleFunction } from '../compose/operations.js';
import { rotateKeys } from '../service/rotation.js';
import { withCrls } from '../service/crl.js';
import { countRotations } from '../observability/metrics.js';
import { httpFunction, json } from './edge.js';
import { readRotateRequest } from './requests.js';

export const rotateRoute = (fn: LifecycleFunction) =>
  httpFunction('POST /ca/rotate', fn, async (event, { log }) => {
    const options = readRotateRequest(event, fn.http.maxBodyBytes);
    const report = await withCrls(fn.crl, await rotateKeys(fn.lifecycle, options));
    countRotations(fn.obs.metrics, report);
    Object.assign(log, { ...options, rotated: report.rotated, activeIssuingCaId: report.activeIssuingCaId, logKeyRotated: report.logKey.rotated, logKeyGeneration: report.logKey.generation, actions: [...report.actions, ...report.logKey.actions] });
    return json(200, report);
  });
