import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import { errorText } from '../../../src/http/edge.js';
import { certificatesOfCms } from '../../../src/pki/cms.js';
import { csrAttributes } from '../../../src/pki/csr-attrs.js';
import { toPem } from '../../../src/pki/pem.js';
import { CaError } from '../../../src/service/errors.js';
import { apiEvent, jsonPost, lambdaContext } from '../../helpers/api.js';
import { buildCsrDer, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { csrFixture, csrFixtureBytes } from '../../helpers/fixtures.js';
import { opensslVerify } from '../../helpers/openssl.js';
import { callRoute, routesOf, useTestApp, type RouteHandler } from '../../helpers/test-app.js';

const testApp = useTestApp();
afterEach(() => {
  jest.restoreAllMocks();
});
const routes = routesOf(testApp);

const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64');
const derOf = (pem: string) => new X509Certificate(pem).raw;
const csrDer = (cn: string, extra: Parameters<typeof subject>[0] = {}) => buildCsrDer({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(cn), ...extra }) });
/** A CSR's DER in base64, as an EST client sends it (lines of 64, CRLF). */
const estBody = (der: Uint8Array) => b64(der).replace(/.{1,64}/g, '$&\r\n');

const enroll = (body: string, o: { isBase64Encoded?: boolean; headers?: Record<string, string>; userArn?: string } = {}) =>
  apiEvent({
    method: 'POST',
    path: '/.well-known/est/simpleenroll',
    body,
    isBase64Encoded: o.isBase64Encoded ?? false,
    headers: { 'Content-Type': 'application/pkcs10', ...o.headers },
    ...(o.userArn ? { userArn: o.userArn } : {}),
  });
const get = (path: string) => apiEvent({ method: 'GET', path });

async function call(handler: RouteHandler, event: ReturnType<typeof apiEvent>) {
  return handler(event, lambdaContext());
}

/** The certificates of an EST certs-only answer (base64 of the CMS DER). */
const certsOf = (body: string) => certificatesOfCms(Buffer.from(body, 'base64')).map((der) => new X509Certificate(Buffer.from(der)));

/** The text/plain error of an EST route: its status, code (first line) and the whole text. */
async function estError(handler: RouteHandler, event: ReturnType<typeof apiEvent>) {
  const res = await call(handler, event);
  expect(res.headers?.['Content-Type']).toBe('text/plain; charset=utf-8');
  expect(res.body).toMatch(/^[A-Z_]+: .+\n/);
  return { status: res.statusCode, code: res.body.split(':')[0], text: res.body, headers: res.headers ?? {} };
}

describe('Route: GET /.well-known/est/cacerts', () => {
  it('answers the active chain (issuing CA and root) as a base64 certs-only CMS message', async () => {
    const res = await call(routes.estCaCerts, get('/.well-known/est/cacerts'));
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['Content-Type']).toBe('application/pkcs7-mime');
    expect(res.body).toMatch(/^([A-Za-z0-9+/=]{1,64}\r\n)+$/);
    const ca = (await callRoute(routes.getCa, get('/ca'))).json;
    const certs = certsOf(res.body).map((c) => c.raw.toString('hex')).sort();
    expect(certs).toEqual([derOf(ca.certificatePem), derOf(ca.rootCertificatePem)].map((d) => d.toString('hex')).sort());
  });

  it('keeps the error mapping, as text: 503 CA_NOT_READY with Retry-After, 500 without its cause', async () => {
    jest.spyOn(testApp().reading.read.chains, 'activeChain').mockRejectedValueOnce(new CaError('CA_NOT_READY', 'No issuing CA has been set up yet', { retryAfterSeconds: 60 }));
    const notReady = await estError(routes.estCaCerts, get('/.well-known/est/cacerts'));
    expect([notReady.status, notReady.code, notReady.headers['Retry-After']]).toEqual([503, 'CA_NOT_READY', '60']);
    expect(notReady.text).toBe('CA_NOT_READY: No issuing CA has been set up yet\n');
    jest.spyOn(testApp().reading.read.chains, 'activeChain').mockRejectedValueOnce(new Error('secret table name in the cause'));
    const bug = await estError(routes.estCaCerts, get('/.well-known/est/cacerts'));
    expect([bug.status, bug.code]).toEqual([500, 'INTERNAL']);
    expect(bug.text).not.toMatch(/secret/);
  });
});

describe('Route: GET /.well-known/est/csrattrs', () => {
  it("answers the policy's CSR attributes, base64", async () => {
    const res = await call(routes.estCsrAttrs, get('/.well-known/est/csrattrs'));
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['Content-Type']).toBe('application/csrattrs');
    expect(res.body).toMatch(/^([A-Za-z0-9+/=]{1,64}\r\n)+$/);
    expect(Buffer.from(res.body, 'base64')).toEqual(Buffer.from(csrAttributes(testApp().config.policy)));
  });
});

describe('Route: POST /.well-known/est/simpleenroll', () => {
  it('issues: 200 and the certificate alone in a certs-only CMS message, which chains to cacerts', async () => {
    const res = await call(routes.estSimpleEnroll, enroll(estBody(csrDer('est-1')), { userArn: 'arn:aws:iam::111122223333:user/station-est' }));
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['Content-Type']).toBe('application/pkcs7-mime; smime-type=certs-only');
    const [device, ...more] = certsOf(res.body);
    expect(more).toEqual([]);
    expect(device!.subject).toBe('C=US\nO=Example Corp\nCN=est-1');

    const chain = certsOf((await call(routes.estCaCerts, get('/.well-known/est/cacerts'))).body);
    const issuing = chain.find((c) => c.subject !== c.issuer)!;
    const root = chain.find((c) => c.subject === c.issuer)!;
    expect(device!.checkIssued(issuing)).toBe(true);
    expect(device!.verify(issuing.publicKey)).toBe(true);
    expect(issuing.verify(root.publicKey)).toBe(true);
    expect(opensslVerify(root.toString(), issuing.toString(), device!.toString())).toMatch(/OK/);

    // The same ledger record as POST /certificates makes, with the station from IAM.
    const serial = device!.serialNumber.toLowerCase();
    const record = await callRoute(routes.getCertificate, apiEvent({ pathParameters: { serialNumber: serial } }));
    expect(record.json).toMatchObject({ status: 'ISSUED', stationId: 'arn:aws:iam::111122223333:user/station-est', certificatePem: device!.toString() });
  });

  it('answers a replay of the same CSR with the same certificate, counted once', async () => {
    const body = estBody(csrDer('est-replay'));
    const before = testApp().metrics.counts('CertificatesIssued');
    const first = await call(routes.estSimpleEnroll, enroll(body));
    const again = await call(routes.estSimpleEnroll, enroll(body));
    expect([first.statusCode, again.statusCode]).toEqual([200, 200]);
    expect(again.body).toBe(first.body);
    expect(testApp().metrics.counts('CertificatesIssued') - before).toBe(1);
  });

  it('is the issuance of POST /certificates: a CSR issued there is answered with the same certificate here', async () => {
    const der = csrDer('est-shared');
    const viaJson = await callRoute(routes.issue, apiEvent({ method: 'POST', path: '/certificates', body: JSON.stringify({ csr: toPem('CERTIFICATE REQUEST', der) }), headers: { 'content-type': 'application/json' } }));
    expect(viaJson.statusCode).toBe(201);
    const viaEst = await call(routes.estSimpleEnroll, enroll(b64(der)));
    expect(certsOf(viaEst.body)[0]!.toString()).toBe(viaJson.json.certificatePem);
  });

  it('takes the DER of an openssl-made CSR', async () => {
    const res = await call(routes.estSimpleEnroll, enroll(estBody(csrFixtureBytes('ec-p256.der'))));
    expect([200, 409]).toContain(res.statusCode);
    if (res.statusCode === 200) expect(certsOf(res.body)).toHaveLength(1);
  });

  it.each([
    ['base64 on one line, no CRLF', (der: Uint8Array) => enroll(b64(der))],
    ['LF line breaks and a Content-Transfer-Encoding header (ignored)', (der: Uint8Array) => enroll(b64(der).replace(/.{1,76}/g, '$&\n'), { headers: { 'Content-Transfer-Encoding': 'base64' } })],
    ['API Gateway binary media type (the base64 body base64-encoded again)', (der: Uint8Array) => enroll(Buffer.from(estBody(der)).toString('base64'), { isBase64Encoded: true })],
    ['no Content-Type', (der: Uint8Array) => ({ ...enroll(b64(der)), headers: {} })],
  ])('takes a body sent as %s', async (_label, event) => {
    const res = await call(routes.estSimpleEnroll, event(csrDer(`est-form-${Math.random().toString(16).slice(2, 10)}`)));
    expect(res.statusCode).toBe(200);
    expect(certsOf(res.body)).toHaveLength(1);
  });

  it('refuses a policy violation: 422 text/plain, the code on the first line, a line per violation', async () => {
    const err = await estError(routes.estSimpleEnroll, enroll(estBody(csrDer('est-policy', { emailAddress: STRING.ia5('a@b.c') }))));
    expect([err.status, err.code]).toEqual([422, 'POLICY_VIOLATION']);
    expect(err.text.split('\n').length).toBeGreaterThan(2);
    expect(err.text).toMatch(/emailAddress|1\.2\.840\.113549\.1\.9\.1/);
  });

  it.each([
    ['garbage base64', 'CSR_MALFORMED', 400, () => enroll('not base64 at all!')],
    ['an empty body', 'CSR_MALFORMED', 400, () => enroll('')],
    ['base64 of something that is not a CSR', 'CSR_MALFORMED', 400, () => enroll(b64(Buffer.from('hello world')))],
    ['a JSON body (POST /certificates\' form)', 'CSR_MALFORMED', 400, () => enroll(JSON.stringify({ csr: csrFixture('ec-p256.csr') }), { headers: { 'Content-Type': 'application/json' } })],
    ['a PEM body', 'CSR_MALFORMED', 400, () => enroll(csrFixture('ec-p256.csr'))],
    ['a broken signature', 'CSR_SIGNATURE_INVALID', 400, () => enroll(b64(Buffer.from(csrFixture('bad-signature.csr').replace(/-----[^-]+-----|\s/g, ''), 'base64')))],
    ['an RSA-1024 key', 'KEY_NOT_ALLOWED', 422, () => enroll(b64(Buffer.from(csrFixture('rsa-1024.csr').replace(/-----[^-]+-----|\s/g, ''), 'base64')))],
    ['a body over 16 KiB', 'PAYLOAD_TOO_LARGE', 413, () => enroll('A'.repeat(16 * 1024 + 4))],
    ['a binary body over 16 KiB', 'PAYLOAD_TOO_LARGE', 413, () => enroll(Buffer.from('A'.repeat(16 * 1024 + 4)).toString('base64'), { isBase64Encoded: true })],
  ])('refuses %s: %s %i as text/plain', async (_label, code, status, event) => {
    const err = await estError(routes.estSimpleEnroll, event());
    expect([err.status, err.code]).toEqual([status, code]);
  });

  it('refuses a JSON body with a word on where JSON goes', async () => {
    const err = await estError(routes.estSimpleEnroll, enroll('{"csr": "x"}', { headers: { 'Content-Type': 'application/json' } }));
    expect(err.text).toMatch(/JSON.*base64.*POST \/certificates/);
  });

  it('answers DUPLICATE_COMMON_NAME 409 for another key with an issued name', async () => {
    expect((await call(routes.estSimpleEnroll, enroll(b64(csrDer('est-dup'))))).statusCode).toBe(200);
    const err = await estError(routes.estSimpleEnroll, enroll(b64(csrDer('est-dup'))));
    expect([err.status, err.code]).toEqual([409, 'DUPLICATE_COMMON_NAME']);
    expect(err.text).toMatch(/serialNumber=[0-9a-f]+/);
  });

  it('keeps 503 and Retry-After (no 202), and records a rejection by its code', async () => {
    jest.spyOn(testApp().issuing.issue.cas, 'activeIssuer').mockRejectedValueOnce(new CaError('SIGNER_UNAVAILABLE', 'The signing service is unavailable; retry later', { retryAfterSeconds: 2 }));
    const err = await estError(routes.estSimpleEnroll, enroll(b64(csrDer('est-503'))));
    expect([err.status, err.code, err.headers['Retry-After']]).toEqual([503, 'SIGNER_UNAVAILABLE', '2']);
    const rejected = testApp().metrics.counts('CertificatesRejected', { Reason: 'CSR_MALFORMED' });
    await call(routes.estSimpleEnroll, enroll('!'));
    expect(testApp().metrics.counts('CertificatesRejected', { Reason: 'CSR_MALFORMED' })).toBe(rejected + 1);
  });

  it('logs one line per request with the route and the outcome', async () => {
    await call(routes.estSimpleEnroll, enroll(b64(csrDer('est-log'))));
    const line = testApp().logger.entries.filter((e) => e.fields.route === 'POST /.well-known/est/simpleenroll').pop()!;
    expect(line.fields).toMatchObject({ status: 200, outcome: 'success', commonName: 'est-log', created: true });
  });
});

describe('The EST routes in local mode (origin and host guard)', () => {
  const local = useTestApp({ LOCAL_API_PORT: '3000', TRUST_STATION_HEADER: 'true' });
  const localRoutes = routesOf(local);

  it('refuses another site\'s page with 403 FORBIDDEN_ORIGIN as text, on every EST route', async () => {
    for (const [handler, event] of [
      [localRoutes.estCaCerts, get('/.well-known/est/cacerts')],
      [localRoutes.estCsrAttrs, get('/.well-known/est/csrattrs')],
      [localRoutes.estSimpleEnroll, enroll(b64(csrDer('est-origin')))],
    ] as const) {
      const err = await estError(handler, { ...event, headers: { ...event.headers, Host: 'localhost:3000', Origin: 'https://evil.example' } });
      expect([err.status, err.code]).toEqual([403, 'FORBIDDEN_ORIGIN']);
    }
  });

  it('names the station by X-Station-Id, as POST /certificates does locally', async () => {
    const res = await call(localRoutes.estSimpleEnroll, enroll(b64(csrDer('est-station')), { headers: { Host: 'localhost:3000', 'X-Station-Id': 'line-7' } }));
    expect(res.statusCode).toBe(200);
    const serial = certsOf(res.body)[0]!.serialNumber.toLowerCase();
    const record = await callRoute(localRoutes.getCertificate, apiEvent({ pathParameters: { serialNumber: serial }, headers: { Host: 'localhost:3000' } }));
    expect(record.json.stationId).toBe('line-7');
  });
});


describe('Function: errorText', () => {
  it('writes the code and message, then a line per detail with its other fields; a line break in a value stays on its line', () => {
    expect(
      errorText({
        error: {
          code: 'DUPLICATE_COMMON_NAME',
          message: 'CN "a\nb" is taken',
          details: [{ field: 'CN', reason: 'issued\r\nbefore', serialNumber: '4a' }, { reason: 'no field', count: 2 }],
        },
      }),
    ).toBe('DUPLICATE_COMMON_NAME: CN "a b" is taken\nCN: issued before (serialNumber=4a)\nno field (count=2)\n');
    expect(errorText({ error: { code: 'INTERNAL', message: 'Internal error' } })).toBe('INTERNAL: Internal error\n');
  });
});

describe('EST simpleenroll under a production lot (X-Lot-Id)', () => {
  const openLot = (lotId: string, quota: number) =>
    callRoute(routes.openLot, jsonPost({ lotId, product: 'est-device', quota, closesAt: new Date(Date.now() + 86_400_000).toISOString() }));

  it('takes a seat per new certificate and refuses past the quota, an unknown lot and a malformed lot id, as text/plain', async () => {
    expect((await openLot('EST-LOT', 1)).statusCode).toBe(201);
    const body = estBody(csrDer('est-lot-1'));
    const first = await call(routes.estSimpleEnroll, enroll(body, { headers: { 'X-Lot-Id': 'EST-LOT' } }));
    expect(first.statusCode).toBe(200);
    // A replay of the same CSR gets its certificate back and takes no seat.
    const replay = await call(routes.estSimpleEnroll, enroll(body, { headers: { 'X-Lot-Id': 'EST-LOT' } }));
    expect([replay.statusCode, replay.body]).toEqual([200, first.body]);
    const lot = await callRoute(routes.getLot, apiEvent({ pathParameters: { lotId: 'EST-LOT' } }));
    expect(lot.json).toMatchObject({ issued: 1, remaining: 0 });
    const listed = await callRoute(routes.listCertificates, apiEvent({ query: { lotId: 'EST-LOT' } }));
    expect(listed.json.items.map((c: { subject: { CN: string } }) => c.subject.CN)).toEqual(['est-lot-1']);

    expect(await estError(routes.estSimpleEnroll, enroll(estBody(csrDer('est-lot-2')), { headers: { 'X-Lot-Id': 'EST-LOT' } }))).toMatchObject({ status: 409, code: 'LOT_QUOTA_EXCEEDED' });
    expect(await estError(routes.estSimpleEnroll, enroll(estBody(csrDer('est-lot-3')), { headers: { 'X-Lot-Id': 'EST-NONE' } }))).toMatchObject({ status: 409, code: 'LOT_NOT_FOUND' });
    expect(await estError(routes.estSimpleEnroll, enroll(estBody(csrDer('est-lot-4')), { headers: { 'X-Lot-Id': '../x' } }))).toMatchObject({ status: 400, code: 'INVALID_REQUEST' });
    expect((await callRoute(routes.getLot, apiEvent({ pathParameters: { lotId: 'EST-LOT' } }))).json.issued).toBe(1);
  });
});
