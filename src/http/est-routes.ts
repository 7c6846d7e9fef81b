/**
 * EST (RFC 7030, with RFC 8951's clarifications) for the stations that speak it,
 * under /.well-known/est: the CA chain (cacerts), what a CSR must hold
 * (csrattrs), and enrollment (simpleenroll), which is POST /certificates'
 * issuance (same policy, key checks, ledger and idempotency) with EST's
 * framing: bodies are base64 DER, the certificate comes back in a certs-only
 * CMS message; and re-enrollment (simplereenroll), authenticated by the
 * device's current certificate. Errors keep the one mapping's status, code and Retry-After, as
 * text/plain (plainTextErrors).
 */
import type { IssuingFunction, ReenrollingFunction } from '../compose/issuing.js';
import type { PolicyReadingFunction, ReadingFunction } from '../compose/reading.js';
import { certsOnlyCms } from '../pki/cms.js';
import { csrAttributes } from '../pki/csr-attrs.js';
import { csrMalformed } from '../pki/errors.js';
import { decodeEstBase64, encodeEstBase64 } from '../pki/est.js';
import { certificatesFromPem } from '../pki/pem.js';
import { describeError } from '../observability/logger.js';
import { METRIC } from '../observability/metrics.js';
import { issueCertificate } from '../service/issue-certificate.js';
import { clientCertificateRefused, clientCertificateRequired, reenrollCertificate } from '../service/reenroll-certificate.js';
import { countRejections, httpFunction, plainTextErrors, text, type HttpEvent } from './edge.js';
import { recordIssuance } from './issuing-routes.js';
import { bodyBytes, header, stationIdOf } from './requests.js';
import { checkLotId } from '../service/lots.js';

/** RFC 7030 4.1.3 (cacerts). */
export const CACERTS_TYPE = 'application/pkcs7-mime';
/** RFC 7030 4.2.3 (simpleenroll's answer). */
export const CERTS_ONLY_TYPE = 'application/pkcs7-mime; smime-type=certs-only';
/** RFC 7030 4.5.2. */
export const CSRATTRS_TYPE = 'application/csrattrs';

/** The certificates of a PEM bundle as a certs-only CMS message in base64, as EST sends it. */
const certsOnlyBase64 = (pem: string) => encodeEstBase64(certsOnlyCms(certificatesFromPem(pem)));

/** GET /.well-known/est/cacerts: the active issuing CA and the root. No authentication (RFC 7030 4.1.1). */
export const estCaCertsRoute = (fn: ReadingFunction) =>
  httpFunction(
    'GET /.well-known/est/cacerts',
    { obs: fn.obs, guards: fn.publicGuards },
    async (_event, { log }) => {
      const chain = await fn.read.chains.activeChain();
      log.issuingCaId = chain.record.id;
      return text(200, certsOnlyBase64(chain.chainPem), CACERTS_TYPE);
    },
    plainTextErrors(),
  );

/** GET /.well-known/est/csrattrs: what the policy asks of a CSR, made once at cold start. No authentication. */
export function estCsrAttrsRoute(fn: PolicyReadingFunction) {
  const body = encodeEstBase64(csrAttributes(fn.policy));
  return httpFunction('GET /.well-known/est/csrattrs', { obs: fn.obs, guards: fn.publicGuards }, async () => text(200, body, CSRATTRS_TYPE), plainTextErrors());
}

/**
 * The DER of the PKCS#10 request an EST body carries: base64 (RFC 8951 3). The
 * body's size is bodyBytes' (413 over the limit); its Content-Type and any
 * Content-Transfer-Encoding are not looked at. When API Gateway takes
 * application/pkcs10 as binary, bodyBytes undoes its base64 and what is left is
 * the client's. A JSON or PEM body is refused with a word on what to send.
 */
export function readEstCsr(event: HttpEvent, maxBytes: number): Uint8Array {
  const bytes = bodyBytes(event, maxBytes);
  const start = bytes.toString('latin1').trimStart();
  if (start.startsWith('{')) {
    throw csrMalformed('the request body is JSON; EST takes the DER of the CSR in base64 (Content-Type: application/pkcs10), and POST /certificates takes JSON');
  }
  if (start.startsWith('-----BEGIN')) {
    throw csrMalformed('the request body is PEM; EST takes the DER of the CSR in base64 only: send the lines between BEGIN and END');
  }
  return decodeEstBase64(bytes, maxBytes);
}

/**
 * POST /.well-known/est/simpleenroll: 200 and the issued certificate alone in a
 * certs-only CMS message, for a new certificate and for a replay of an
 * identical CSR alike (RFC 7030 4.2.3 has no other success). IAM in AWS, the
 * station as POST /certificates names it.
 */
export const estSimpleEnrollRoute = (fn: IssuingFunction) =>
  httpFunction(
    'POST /.well-known/est/simpleenroll',
    fn,
    async (event, { log }) => {
      const csr = readEstCsr(event, fn.http.maxBodyBytes);
      log.stationId = stationIdOf(event, fn.http.trustStationHeader);
      const lotId = header(event, 'x-lot-id');
      if (lotId !== undefined) log.lotId = checkLotId(lotId, 'X-Lot-Id');
      const result = await issueCertificate(fn.issue, { csr, stationId: log.stationId as string, ...(lotId !== undefined ? { lotId } : {}) });
      recordIssuance(fn, log, result);
      return text(200, certsOnlyBase64(result.record.certificatePem), CERTS_ONLY_TYPE);
    },
    countRejections(fn.obs.metrics, METRIC.rejected),
    plainTextErrors(),
  );

/**
 * Local mode's carrier of the TLS client certificate: the local TLS listener
 * (src/local/est-tls-listener.ts) sets it to the base64 of the PEM it was
 * shown, and strips any a client sent. Read only when the configuration trusts
 * it (TRUST_CLIENT_CERT_HEADER, refused in a deployed stage).
 */
export const CLIENT_CERT_HEADER = 'X-Est-Client-Cert';

/**
 * The DER of the client certificate the TLS connection was authenticated with:
 * in AWS, what API Gateway's mutual TLS (custom domain) puts in
 * requestContext.identity.clientCert.clientCertPem; locally, the trusted header.
 * Undefined when none was presented (the execute-api endpoint never has one).
 */
export function clientCertificateOf(event: HttpEvent, trustHeader: boolean): Uint8Array | undefined {
  const carried = trustHeader ? header(event, CLIENT_CERT_HEADER) : undefined;
  const pem = carried !== undefined ? Buffer.from(carried, 'base64').toString('utf8') : trustHeader ? undefined : event.requestContext?.identity?.clientCert?.clientCertPem;
  if (!pem) return undefined;
  const [der, ...more] = certificatesFromPem(pem);
  if (!der || more.length) throw clientCertificateRefused('unknown');
  return der;
}

/**
 * POST /.well-known/est/simplereenroll (RFC 7030 4.2.2): the device's current
 * certificate authenticates it (TLS client authentication, no IAM); the CSR,
 * with the same subject, gets a new certificate (same key or a new one), 200 in
 * a certs-only CMS message, and the current one is superseded. 401 without a
 * client certificate, 403 for one that is not current.
 */
export const estSimpleReenrollRoute = (fn: ReenrollingFunction) =>
  httpFunction(
    'POST /.well-known/est/simplereenroll',
    { obs: fn.obs, guards: fn.publicGuards },
    async (event, { log }) => {
      const clientCertificate = clientCertificateOf(event, fn.http.trustClientCertHeader);
      if (!clientCertificate) throw clientCertificateRequired();
      const csr = readEstCsr(event, fn.http.maxBodyBytes);
      const result = await reenrollCertificate(fn.reenroll, { clientCertificate, csr });
      log.stationId = result.record.stationId;
      recordIssuance(fn, log, result);
      Object.assign(log, {
        replacedSerialNumber: result.replaced.serialNumber,
        iotDeactivation: result.iotDeactivation,
        ...(result.iotError !== undefined ? { iotError: describeError(result.iotError) } : {}),
      });
      return text(200, certsOnlyBase64(result.record.certificatePem), CERTS_ONLY_TYPE);
    },
    countRejections(fn.obs.metrics, METRIC.rejected),
    plainTextErrors(),
  );
