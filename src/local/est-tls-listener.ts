/**
 * Local mode's stand-in for the custom domain with mutual TLS that EST
 * re-enrollment needs in AWS: an HTTPS listener on 127.0.0.1 (EST_TLS_PORT,
 * default 8443) that asks every client for a certificate but refuses none
 * itself (`rejectUnauthorized: false`): the route decides, so an expired,
 * revoked or foreign certificate gets EST's answer (403), not a TLS alert, and
 * no certificate gets 401.
 *
 * It serves /.well-known/est/* only, by forwarding to the local API
 * (http://127.0.0.1:PORT) with the client certificate it was shown in
 * X-Est-Client-Cert (base64 of the PEM), after removing any such header the
 * client sent. The functions trust that header only in local mode
 * (TRUST_CLIENT_CERT_HEADER, refused in a deployed stage).
 *
 * Its server certificate (serverAuth, localhost, 127.0.0.1 and ::1) is issued
 * by the local issuing CA at each start, on a new key kept in memory only: a
 * client trusting the local root reaches it by name (curl --cacert root.pem).
 */
import { generateKeyPairSync } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { CLIENT_CERT_HEADER } from '../http/est-routes.js';
import { toPem } from '../pki/pem.js';
import { buildTlsServerCertificate } from '../pki/profile.js';
import { newSerial } from '../pki/serial.js';
import type { IssuingCa } from '../service/ca-directory.js';
import { CaError } from '../service/errors.js';
import { answer, forward, listenOnLoopback } from './local-gateway.js';

/** The only paths the listener serves. */
export const EST_PATH_PREFIX = '/.well-known/est/';
/** How long the listener's certificate is valid (a new one is made at every start). */
const SERVER_CERTIFICATE_DAYS = 30;

export interface EstTlsCredentials {
  /** PKCS#8 PEM of the listener's key. */
  key: string;
  /** The listener's certificate, then the issuing CA's. */
  cert: string;
  /** The CAs a client certificate may chain to (named in the TLS certificate request). */
  ca: string[];
}

/** A new key and its server certificate for localhost, issued by the local issuing CA. */
export async function estTlsCredentials(ca: IssuingCa, now: Date = new Date()): Promise<EstTlsCredentials> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const notAfter = new Date(Math.min(now.getTime() + SERVER_CERTIFICATE_DAYS * 86_400_000, ca.issuer.notAfter.getTime()));
  const built = await buildTlsServerCertificate({
    serialNumber: newSerial(),
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
    publicKey: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
    validity: { notBefore: new Date(now.getTime() - 60_000), notAfter },
    issuer: ca.issuer,
  });
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: toPem('CERTIFICATE', built.der) + ca.caCertificatePem,
    ca: [ca.rootCertificatePem, ca.caCertificatePem],
  };
}

/** The request's headers for the local API: the client's, less any certificate header it sent, plus the one shown in TLS. */
export function forwardedHeaders(headers: IncomingHttpHeaders, peerDer: Uint8Array | undefined, apiPort: number): IncomingHttpHeaders {
  const carrier = CLIENT_CERT_HEADER.toLowerCase();
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() !== carrier) out[name] = value;
  // The local API answers only to its own host (localOriginGuard).
  out.host = `127.0.0.1:${apiPort}`;
  if (peerDer?.length) out[carrier] = Buffer.from(toPem('CERTIFICATE', peerDer)).toString('base64');
  return out;
}

export interface EstTlsListener {
  server: Server;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:`port` and forwards EST requests to the local API on 127.0.0.1:`apiPort`. */
export function startEstTlsListener(port: number, apiPort: number, credentials: EstTlsCredentials): Promise<EstTlsListener> {
  const server = createServer({ ...credentials, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    if (!req.url?.startsWith(EST_PATH_PREFIX)) {
      answer(res, new CaError('NOT_FOUND', `This listener serves ${EST_PATH_PREFIX} only (EST with a TLS client certificate); the API is http://127.0.0.1:${apiPort}`));
      req.resume();
      return;
    }
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    forward(req, res, apiPort, forwardedHeaders(req.headers, peer?.raw, apiPort), (h) => h, 'The local API is not answering; see the npm start output');
  });
  return listenOnLoopback(server, port);
}
