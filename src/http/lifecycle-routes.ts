/** POST /ca/rotate: the CA lifecycle on request (an operator's force, or a finished rotation). */
import type { LifecycleFunction } from '../compose/operations.js';
import { rotate } from '../service/ca-lifecycle.js';
import { withCrls } from '../service/crl.js';
import { httpFunction, json } from './edge.js';
import { readRotateRequest } from './requests.js';

export const rotateRoute = (fn: LifecycleFunction) =>
  httpFunction('POST /ca/rotate', fn, async (event, { log }) => {
    const options = readRotateRequest(event, fn.http.maxBodyBytes);
    const report = await withCrls(fn.crl, await rotate(fn.lifecycle, options));
    Object.assign(log, { ...options, rotated: report.rotated, activeIssuingCaId: report.activeIssuingCaId, actions: report.actions });
    return json(200, report);
  });
