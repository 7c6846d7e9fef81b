import type { IssuingFunction } from '../compose/issuing.js';
import { count, METRIC } from '../observability/metrics.js';
import { describeCertificate } from '../service/certificates.js';
import { issueCertificate, type IssueResult } from '../service/issue-certificate.js';
import { countRejections, httpFunction, type HttpEvent, type LogFields } from './edge.js';
import { negotiate } from './negotiation.js';
import { header, readIssueRequest, stationIdOf } from './requests.js';
import { CERTIFICATE_MEDIA_TYPES, certificateAnswer } from './views.js';

/** Where the new certificate is: API Gateway's requestContext.path carries the stage ("/prod/certificates"). */
function locationOf(event: HttpEvent, serialNumber: string): string {
  const base = (event.requestContext as { path?: string } | undefined)?.path || event.path || '/certificates';
  return `${base.replace(/\/+$/, '')}/${serialNumber}`;
}

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;

/** What an issuance adds to the request's log line, and the issued count (a replay is not counted). */
export function recordIssuance(fn: IssuingFunction, log: LogFields, result: IssueResult): void {
  const { record } = result;
  Object.assign(log, {
    serialNumber: record.serialNumber,
    commonName: record.commonName,
    issuingCaId: record.issuingCaId,
    created: result.created,
    stagesMs: Object.fromEntries(Object.entries(result.timings).map(([k, v]) => [k, round3(v)])),
  });
  if (result.created) count(fn.obs.metrics, METRIC.issued);
  const { lot } = result;
  if (lot) {
    Object.assign(log, { lotId: lot.lotId, lotIssued: lot.issued, lotQuota: lot.quota });
    // Once per lot each: the seat that crossed 90 %, and the last seat.
    if (lot.issued === Math.ceil(lot.quota * 0.9) && lot.issued < lot.quota) count(fn.obs.metrics, METRIC.lotNearQuota);
    if (lot.issued === lot.quota) count(fn.obs.metrics, METRIC.lotAtQuota);
  }
}

/**
 * POST /certificates: 201 for a new certificate, 200 for a replay of an identical
 * CSR (not counted as issued); JSON, or the PEM chain when Accept asks for it
 * (settled before anything is issued).
 */
export const issueRoute = (fn: IssuingFunction) =>
  httpFunction(
    'POST /certificates',
    fn,
    async (event, { log }) => {
      const as = negotiate(header(event, 'accept'), CERTIFICATE_MEDIA_TYPES);
      const request = readIssueRequest(event, fn.http.maxBodyBytes);
      log.stationId = stationIdOf(event, fn.http.trustStationHeader);
      if (request.lotId !== undefined) log.lotId = request.lotId;
      const result = await issueCertificate(fn.issue, { ...request, stationId: log.stationId as string });
      const { record } = result;
      recordIssuance(fn, log, result);
      const details = describeCertificate(fn.template, record, result.ca);
      return certificateAnswer(result.created ? 201 : 200, details, { as, withLedgerFields: false, headers: { Location: locationOf(event, record.serialNumber) } });
    },
    countRejections(fn.obs.metrics, METRIC.rejected),
  );
