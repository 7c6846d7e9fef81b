import { describe, expect, it } from '@jest/globals';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { verifySigV4, type LocalCredentials } from '../../../src/http/sigv4.js';
import { readLocalCredentials } from '../../../src/local/local-credentials.js';
import { CaError } from '../../../src/service/errors.js';
import { apiEvent, jsonPost, lambdaContext } from '../../helpers/api.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { callRoute, routesOf, useTestApp } from '../../helpers/test-app.js';

const CREDS: LocalCredentials = { accessKeyId: 'AKIALOCALTESTKEY0001', secretAccessKey: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', region: 'us-east-1' };
const NOW = new Date('2026-11-30T12:00:00Z');

/** Signs an API Gateway event the way an SDK client would sign the HTTP request behind it. */
async function signed(event: APIGatewayProxyEvent, creds: Omit<LocalCredentials, 'region'> = CREDS, at = NOW, region = 'us-east-1'): Promise<APIGatewayProxyEvent> {
  const headers: Record<string, string> = { host: 'localhost:3000', ...Object.fromEntries(Object.entries(event.headers).map(([k, v]) => [k.toLowerCase(), v!])) };
  const request = new HttpRequest({
    method: event.httpMethod,
    protocol: 'http:',
    hostname: 'localhost:3000',
    path: event.path,
    query: (event.queryStringParameters ?? {}) as Record<string, string>,
    headers,
    body: event.body ?? undefined,
  });
  const signer = new SignatureV4({ credentials: creds, region, service: 'execute-api', sha256: Sha256 });
  const out = await signer.sign(request, { signingDate: at });
  return { ...event, headers: out.headers };
}

const verdict = (e: APIGatewayProxyEvent, now = NOW) =>
  verifySigV4(e, CREDS, now).then(
    (key) => ({ ok: key }),
    (err: CaError) => ({ code: err.code, message: err.message }),
  );

describe('Function: verifySigV4', () => {
  const post = () => jsonPost({ csr: 'x' });

  it('accepts a request signed by the SDK signer with the local key (body hash header included)', async () => {
    expect(await verdict(await signed(post()))).toEqual({ ok: CREDS.accessKeyId });
  });

  it('accepts a GET with a query string', async () => {
    const e = apiEvent({ method: 'GET', path: '/certificates', query: { commonName: 'dev 1/ä' } });
    expect(await verdict(await signed(e))).toEqual({ ok: CREDS.accessKeyId });
  });

  it.each([
    ['no Authorization header', async () => post(), /Missing authentication/],
    ['a wrong secret', async () => signed(post(), { ...CREDS, secretAccessKey: 'wrong' }), /signature does not match/],
    ['another access key', async () => signed(post(), { ...CREDS, accessKeyId: 'AKIAOTHER00000000000' }), /access key is not known/],
    ['another region', async () => signed(post(), CREDS, NOW, 'eu-west-1'), /scope must be region us-east-1/],
    ['a signature 6 minutes old', async () => signed(post(), CREDS, new Date(NOW.getTime() - 6 * 60_000)), /stale/],
    ['a signature from 6 minutes in the future', async () => signed(post(), CREDS, new Date(NOW.getTime() + 6 * 60_000)), /stale/],
    ['a body changed after signing', async () => ({ ...(await signed(post())), body: JSON.stringify({ csr: 'y' }) }), /hash of the body/],
    ['a query changed after signing', async () => {
      const e = await signed(apiEvent({ method: 'GET', path: '/certificates', query: { commonName: 'a' } }));
      return { ...e, queryStringParameters: { commonName: 'b' } };
    }, /signature does not match/],
    ['a path changed after signing', async () => ({ ...(await signed(apiEvent({ method: 'GET', path: '/certificates/00aa' }))), path: '/certificates/00ab' }), /signature does not match/],
    ['a method changed after signing', async () => ({ ...(await signed(apiEvent({ method: 'GET', path: '/ca' }))), httpMethod: 'POST' }), /signature does not match/],
    ['a garbled Authorization header', async () => ({ ...post(), headers: { ...post().headers, Authorization: 'AWS4-HMAC-SHA256 Credential=x' } }), /not an AWS4-HMAC-SHA256 signature/],
  ])('refuses %s with ACCESS_DENIED', async (_label, make, message) => {
    const v = await verdict(await make());
    expect(v).toMatchObject({ code: 'ACCESS_DENIED' });
    expect((v as { message: string }).message).toMatch(message);
  });

  it('accepts a signature 4 minutes old (within the 5 minutes AWS allows)', async () => {
    expect(await verdict(await signed(post(), CREDS, new Date(NOW.getTime() - 4 * 60_000)))).toEqual({ ok: CREDS.accessKeyId });
  });
});

describe('Local SigV4 mode through the routes (LOCAL_AUTH=sigv4)', () => {
  const testApp = useTestApp({ LOCAL_AUTH: 'sigv4' });
  const routes = routesOf(testApp);
  const creds = () => readLocalCredentials(testApp().stateDir)!;
  const csr = () => buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(`sigv4-${Math.random().toString(16).slice(2, 10)}`) }) });

  it('issues for a signed request and refuses an unsigned one with 403 ACCESS_DENIED', async () => {
    const ok = await callRoute(routes.issue, await signed(jsonPost({ csr: csr() }), creds(), new Date()));
    expect(ok.statusCode).toBe(201);
    const unsigned = await callRoute(routes.issue, jsonPost({ csr: csr() }));
    expect([unsigned.statusCode, unsigned.json.error.code]).toEqual([403, 'ACCESS_DENIED']);
    const wrong = await callRoute(routes.getCa, await signed(apiEvent({ method: 'GET', path: '/ca' }), { ...creds(), secretAccessKey: 'nope' }, new Date()));
    expect([wrong.statusCode, wrong.json.error.code]).toEqual([403, 'ACCESS_DENIED']);
  });

  it('leaves /health open', async () => {
    expect((await callRoute(routes.health, apiEvent({ path: '/health' }))).statusCode).toBe(200);
  });

  it('leaves the CRLs open, as API Gateway does (a CRL distribution point needs no credentials)', async () => {
    expect((await routes.getCrl(apiEvent({ path: '/crl/root.crl', pathParameters: { name: 'root.crl' } }), lambdaContext())).statusCode).toBe(200);
  });

  it("leaves EST's cacerts and csrattrs open (as API Gateway does), and requires a signature for simpleenroll", async () => {
    expect((await routes.estCaCerts(apiEvent({ path: '/.well-known/est/cacerts' }), lambdaContext())).statusCode).toBe(200);
    expect((await routes.estCsrAttrs(apiEvent({ path: '/.well-known/est/csrattrs' }), lambdaContext())).statusCode).toBe(200);
    const der = Buffer.from(csr().replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const enroll = () => apiEvent({ method: 'POST', path: '/.well-known/est/simpleenroll', body: der.toString('base64'), headers: { 'content-type': 'application/pkcs10' } });
    const unsigned = await routes.estSimpleEnroll(enroll(), lambdaContext());
    expect([unsigned.statusCode, unsigned.body.split(':')[0]]).toEqual([403, 'ACCESS_DENIED']);
    expect((await routes.estSimpleEnroll(await signed(enroll(), creds(), new Date()), lambdaContext())).statusCode).toBe(200);
  });
});
