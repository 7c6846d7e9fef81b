import type { App } from '../app.js';
import { CaError } from '../pki/errors.js';
import { issueCertificate } from '../service/issue-certificate.js';
import { httpHandler, json, type HttpEvent, type Observability } from './handler.js';
import { header, readCommonName, readIssueRequest, readSerial } from './requests.js';
import { caView, certificateView } from './views.js';
import { previewProvisioning } from '../provisioning/template.js';
import type { CaChain } from '../service/ca-directory.js';
import type { CertificateRecord } from '../service/ports.js';

/** The caller: the IAM identity API Gateway authenticated, or (local mode only) X-Station-Id. */
export function stationIdOf(event: HttpEvent, trustHeader: boolean): string {
  if (trustHeader) return header(event, 'x-station-id')?.slice(0, 128) || 'local';
  const identity = event.requestContext?.identity;
  return identity?.userArn || identity?.caller || 'unknown';
}

/** A certificate as returned, with the provisioning preview JITP's template gives for it. */
function view(a: App, record: CertificateRecord, ca: CaChain, withLedgerFields: boolean) {
  const preview = previewProvisioning(a.config.template, record.subject, record.certificateId);
  const provisioning =
    record.status === 'REVOKED'
      ? { ...preview, certificateStatus: 'REVOKED', problems: [...preview.problems, 'the certificate is revoked: AWS IoT refuses its connections'] }
      : preview;
  return certificateView(record, ca, withLedgerFields, provisioning);
}

/** Where the new certificate is: API Gateway's requestContext.path carries the stage ("/prod/certificates"). */
function locationOf(event: HttpEvent, serialNumber: string): string {
  const base = (event.requestContext as { path?: string } | undefined)?.path || event.path || '/certificates';
  return `${base.replace(/\/+$/, '')}/${serialNumber}`;
}

export const issueRoute = (app: () => App) =>
  httpHandler('POST /certificates', app, async (event, log) => {
    const a = app();
    const request = readIssueRequest(event, a.config.maxBodyBytes);
    const stationId = stationIdOf(event, a.config.trustStationHeader);
    log.stationId = stationId;
    const result = await issueCertificate(a.issue, { ...request, stationId });
    const { record } = result;
    Object.assign(log, {
      serialNumber: record.serialNumber,
      commonName: record.commonName,
      issuingCaId: record.issuingCaId,
      created: result.created,
      stagesMs: Object.fromEntries(Object.entries(result.timings).map(([k, v]) => [k, Math.round(v * 1000) / 1000])),
    });
    return json(result.created ? 201 : 200, view(a, record, result.ca, false), { Location: locationOf(event, record.serialNumber) });
  });

export const getCertificateRoute = (app: () => App) =>
  httpHandler('GET /certificates/{serialNumber}', app, async (event, log) => {
    const a = app();
    const serial = readSerial(event);
    log.serialNumber = serial;
    const record = await a.store.getCertificate(serial);
    if (!record) throw new CaError('NOT_FOUND', `No certificate with serial number ${serial}`);
    return json(200, view(a, record, await a.cas.chain(record.issuingCaId), true));
  });

export const listCertificatesRoute = (app: () => App) =>
  httpHandler('GET /certificates', app, async (event, log) => {
    const a = app();
    const commonName = readCommonName(event);
    log.commonName = commonName;
    const records = await a.store.listByCommonName(commonName);
    const items = await Promise.all(records.map(async (r) => view(a, r, await a.cas.chain(r.issuingCaId), true)));
    return json(200, { items });
  });

export const getCaRoute = (app: () => App) =>
  httpHandler('GET /ca', app, async () => json(200, caView(await app().cas.activeChain())));

export const healthRoute = (obs: () => Observability) => httpHandler('GET /health', obs, async () => json(200, { status: 'ok' }));
