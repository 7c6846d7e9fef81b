/**
 * Local mode's guards, added to every composed function's edge only when the
 * configuration asks for them (never in AWS): the origin and host check, and
 * local SigV4 mode's signature check.
 */
import { HttpError } from './errors.js';
import type { Middleware } from './edge.js';
import { header } from './requests.js';
import { verifySigV4, type LocalCredentials } from './sigv4.js';

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/**
 * Local mode's guard against web pages: the local API has no authentication, so
 * a page in the developer's browser must not be able to drive it. A request
 * whose Host is not a loopback name with the API's port (DNS rebinding), or
 * whose Origin is any other site, is refused with 403 FORBIDDEN_ORIGIN.
 * Command-line clients send no Origin and pass.
 */
export function localOriginGuard(port: number): Middleware {
  const hosts = new Set(LOOPBACK_HOSTS.map((h) => `${h}:${port}`));
  const origins = new Set(LOOPBACK_HOSTS.map((h) => `http://${h}:${port}`));
  return {
    before: ({ event }) => {
      const host = header(event, 'host')?.toLowerCase();
      if (!host || !hosts.has(host)) {
        throw new HttpError('FORBIDDEN_ORIGIN', `The local API answers only to localhost:${port}, 127.0.0.1:${port} or [::1]:${port}`);
      }
      const origin = header(event, 'origin');
      if (origin !== undefined && !origins.has(origin.toLowerCase())) {
        throw new HttpError('FORBIDDEN_ORIGIN', 'The local API does not answer requests made by web pages of other sites');
      }
    },
  };
}

/** Local SigV4 mode: the request must carry a valid signature by the local access key (403 ACCESS_DENIED otherwise). */
export function localSigV4(credentials: LocalCredentials, clock: () => Date = () => new Date()): Middleware {
  return {
    before: async (request) => {
      request.context.log.accessKeyId = await verifySigV4(request.event, credentials, clock());
    },
  };
}
