/**
 * The front door of local mode. `npm start` listens here and hands each request
 * to serverless-offline on an internal port, with two corrections for a service
 * that has no authentication locally: serverless-offline reflects any Origin
 * with Access-Control-Allow-Credentials and answers CORS preflights itself, so
 * the gateway refuses every preflight (403 FORBIDDEN_ORIGIN) and removes every
 * Access-Control-* header from the answers. The functions themselves refuse a
 * foreign Origin or Host (src/http/edge.ts localOriginGuard).
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { renderError } from '../http/errors.js';
import { HttpError } from '../http/errors.js';
import { CaError } from '../service/errors.js';

function answer(res: import('node:http').ServerResponse, error: Error): void {
  const { statusCode, body } = renderError(error);
  res.writeHead(statusCode, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(JSON.stringify(body));
}

const withoutCors = (headers: IncomingHttpHeaders) => Object.fromEntries(Object.entries(headers).filter(([k]) => !/^access-control-/i.test(k)));

export interface LocalGateway {
  server: Server;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:`port` and forwards to serverless-offline on 127.0.0.1:`target`. */
export function startLocalGateway(port: number, target: number): Promise<LocalGateway> {
  const server = createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      answer(res, new HttpError('FORBIDDEN_ORIGIN', 'The local API answers no CORS preflight: it is not for web pages'));
      req.resume();
      return;
    }
    const upstream = httpRequest({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, withoutCors(up.headers));
      up.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) answer(res, new CaError('INTERNAL', 'The local functions are not answering; see the npm start output'));
      else res.destroy();
    });
    req.pipe(upstream);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve({ server, close: () => new Promise<void>((r) => server.close(() => r())) });
    });
  });
}
