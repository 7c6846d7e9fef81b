import type { CrlReadingFunction } from '../compose/crl.js';
import { currentCrl } from '../service/crl.js';
import { CaError } from '../service/errors.js';
import { binary, httpFunction } from './edge.js';

/** How long a relying party or a cache may keep a CRL before asking again: a new revocation is seen within about two minutes. */
const MAX_AGE_SECONDS = 60;

/**
 * GET /crl/{name}: `root.crl` (the authority revocation list) or
 * `<issuing CA id>.crl`, DER, application/pkix-crl. Public, as a CRL
 * distribution point is: a CRL is signed and holds nothing secret.
 */
export const getCrlRoute = (fn: CrlReadingFunction) =>
  // Public in local SigV4 mode too, as in AWS: the origin and host guard only.
  httpFunction('GET /crl/{name}', { obs: fn.obs, guards: fn.publicGuards }, async (event, { log }) => {
    const file = event.pathParameters?.name ?? '';
    const name = file.endsWith('.crl') ? file.slice(0, -4) : '';
    if (!name) throw new CaError('NOT_FOUND', 'CRLs are named root.crl and <issuing CA id>.crl, such as issuing-1.crl');
    log.crl = name;
    const { der, crl } = await currentCrl(fn.crls, name);
    Object.assign(log, { crlNumber: crl.crlNumber, entries: crl.entries });
    return binary(200, der, 'application/pkix-crl', {
      'Cache-Control': `public, max-age=${MAX_AGE_SECONDS}`,
      'Last-Modified': new Date(crl.thisUpdate).toUTCString(),
      'Content-Disposition': `attachment; filename="${name}.crl"`,
    });
  });
