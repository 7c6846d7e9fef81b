import type { ReadingFunction } from '../compose/reading.js';
import { getCertificate, listCertificates } from '../service/certificates.js';
import { httpFunction, json } from './edge.js';
import { readCommonName, readSerial } from './requests.js';
import { caView, certificateView } from './views.js';

export const getCertificateRoute = (fn: ReadingFunction) =>
  httpFunction('GET /certificates/{serialNumber}', fn, async (event, { log }) => {
    const serial = readSerial(event);
    log.serialNumber = serial;
    return json(200, certificateView(await getCertificate(fn.read, serial), true));
  });

export const listCertificatesRoute = (fn: ReadingFunction) =>
  httpFunction('GET /certificates', fn, async (event, { log }) => {
    const commonName = readCommonName(event);
    log.commonName = commonName;
    const items = await listCertificates(fn.read, commonName);
    return json(200, { items: items.map((d) => certificateView(d, true)) });
  });

export const getCaRoute = (fn: ReadingFunction) => httpFunction('GET /ca', fn, async () => json(200, caView(await fn.read.chains.activeChain())));
