import type { ReadingFunction } from '../compose/reading.js';
import { getCertificate, listCertificates } from '../service/certificates.js';
import { httpFunction, json } from './edge.js';
import { negotiate } from './negotiation.js';
import { readCertificateQuery } from './certificate-query.js';
import { header, readSerial } from './requests.js';
import { CERTIFICATE_MEDIA_TYPES, caView, certificateAnswer, certificateView } from './views.js';

export const getCertificateRoute = (fn: ReadingFunction) =>
  httpFunction('GET /certificates/{serialNumber}', fn, async (event, { log }) => {
    const as = negotiate(header(event, 'accept'), CERTIFICATE_MEDIA_TYPES);
    const serial = readSerial(event);
    log.serialNumber = serial;
    return certificateAnswer(200, await getCertificate(fn.read, serial), { as, withLedgerFields: true });
  });

export const listCertificatesRoute = (fn: ReadingFunction) =>
  httpFunction('GET /certificates', fn, async (event, { log }) => {
    const query = readCertificateQuery(event);
    Object.assign(log, { ...query.filters, limit: query.limit, continued: query.next !== undefined });
    const { items, next } = await listCertificates(fn.read, query);
    Object.assign(log, { count: items.length, more: next !== undefined });
    return json(200, { items: items.map((d) => certificateView(d, true)), ...(next !== undefined ? { next } : {}) });
  });

export const getCaRoute = (fn: ReadingFunction) => httpFunction('GET /ca', fn, async () => json(200, caView(await fn.read.chains.activeChain())));
