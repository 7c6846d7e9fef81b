/**
 * The front door of local mode. `npm start` listens here and hands each request
 * to serverless-offline on an internal port, with two corrections for a service
 * that has no authentication locally: serverless-offline reflects any Origin
 * with Access-Control-Allow-Credentials and answers CORS preflights itself, so
 * the gateway refuses every preflight (403 FORBIDDEN_ORIGIN) and removes every
 * Access-Control-* header from the answers. The functions themselves refuse a
 * foreign Origin or Host (src/http/edge.ts localOriginGuard).
 *
 * Binary bodies: API Gateway hands the function the body of a request whose
 * Content-Type is one of `provider.apiGateway.binaryMediaTypes` base64-encoded,
 * with `isBase64Encoded: true`. serverless-offline 13 ignores that setting: it
 * decodes every body as UTF-8 text (which mangles DER) except when the request's
 * Content-Type contains application/octet-stream or multipart/form-data, which
 * it delivers base64-encoded with `isBase64Encoded: true`. It reads that
 * Content-Type from Node's parsed headers, which keep the first of two
 * Content-Type lines, while the event's `headers` come from the raw header
 * lines, where the last one wins. So the gateway sends such a request on with
 * `content-type: application/octet-stream` followed by the client's own
 * Content-Type: serverless-offline base64-encodes the body, and the function
 * sees the client's Content-Type and body exactly as API Gateway delivers them
 * (only `multiValueHeaders` also lists the added line).
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { renderError } from '../http/errors.js';
import { HttpError } from '../http/errors.js';
import { CaError } from '../service/errors.js';

/** An error answered by a local front door itself (no function ran), as the functions render it. */
export function answer(res: ServerResponse, error: Error): void {
  const { statusCode, body } = renderError(error);
  res.writeHead(statusCode, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(JSON.stringify(body));
}

const withoutCors = (headers: IncomingHttpHeaders) => Object.fromEntries(Object.entries(headers).filter(([k]) => !/^access-control-/i.test(k)));

/** Whether a Content-Type is one of API Gateway's binary media types: `type/subtype`, `type/` followed by a star, or any type. */
export function isBinaryMediaType(contentType: string | undefined, binaryMediaTypes: readonly string[]): boolean {
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (!mediaType) return false;
  const [type] = mediaType.split('/');
  return binaryMediaTypes.some((pattern) => {
    const p = pattern.trim().toLowerCase();
    return p === mediaType || p === '*/*' || p === `${type}/*`;
  });
}

/** The request's headers as raw lines, with serverless-offline's binary marker before the client's Content-Type. */
function markedBinary(headers: IncomingHttpHeaders): string[] {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (name === 'content-type') lines.push(name, 'application/octet-stream');
    for (const v of Array.isArray(value) ? value : [value]) lines.push(name, v);
  }
  return lines;
}

export interface LocalGateway {
  server: Server;
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** serverless.yml's `provider.apiGateway.binaryMediaTypes`: bodies of these types reach the function base64-encoded. */
  binaryMediaTypes?: readonly string[];
}

/** Listens on 127.0.0.1:`port` and forwards to serverless-offline on 127.0.0.1:`target`. */
export function startLocalGateway(port: number, target: number, options: GatewayOptions = {}): Promise<LocalGateway> {
  const binaryMediaTypes = options.binaryMediaTypes ?? [];
  const server = createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      answer(res, new HttpError('FORBIDDEN_ORIGIN', 'The local API answers no CORS preflight: it is not for web pages'));
      req.resume();
      return;
    }
    const headers = isBinaryMediaType(req.headers['content-type'], binaryMediaTypes) ? markedBinary(req.headers) : req.headers;
    forward(req, res, target, headers, withoutCors, 'The local functions are not answering; see the npm start output');
  });
  return listenOnLoopback(server, port);
}

/** Sends a request on to 127.0.0.1:`target` with `headers`, and its answer back (its headers through `answerHeaders`). */
export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  target: number,
  headers: IncomingHttpHeaders | string[],
  answerHeaders: (h: IncomingHttpHeaders) => IncomingHttpHeaders,
  unavailable: string,
): void {
  const upstream = httpRequest({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers }, (up) => {
    res.writeHead(up.statusCode ?? 502, answerHeaders(up.headers));
    up.pipe(res);
  });
  upstream.on('error', () => {
    if (!res.headersSent) answer(res, new CaError('INTERNAL', unavailable));
    else res.destroy();
  });
  req.pipe(upstream);
}

/** Starts `server` on 127.0.0.1:`port`. */
export function listenOnLoopback<S extends Server | HttpsServer>(server: S, port: number): Promise<{ server: S; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve({ server, close: () => new Promise<void>((r) => server.close(() => r())) });
    });
  });
}
