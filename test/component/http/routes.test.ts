import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { CaError } from '../../../src/service/errors.js';
import { signerError } from '../../../src/kms/kms-signer.js';
import { apiEvent, jsonPost, lambdaContext } from '../../helpers/api.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { csrFixture, csrFixtureBytes } from '../../helpers/fixtures.js';
import { callRoute, routesOf, useTestApp } from '../../helpers/test-app.js';
import { opensslVerify } from '../../helpers/openssl.js';

const testApp = useTestApp();
afterEach(() => {
  jest.restoreAllMocks();
});

const routes = routesOf(testApp);
const issue = routes.issue;
const call = callRoute;
const csrFor = (cn: string) => buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(cn) }) });
const pkcs10 = (body: string, isBase64Encoded = false) =>
  apiEvent({ method: 'POST', path: '/certificates', body, isBase64Encoded, headers: { 'content-type': 'application/pkcs10' } });

describe('Route: POST /certificates', () => {
  it('issues a certificate for a JSON body: 201, Location and the documented fields', async () => {
    const res = await call(issue, jsonPost({ csr: csrFor('route-1') }));
    expect(res.statusCode).toBe(201);
    expect(res.headers?.Location).toBe(`/certificates/${res.json.serialNumber}`);
    expect(res.headers?.['Content-Type']).toBe('application/json');
    expect(Object.keys(res.json).sort()).toEqual(
      ['caCertificatePem', 'certificateChainPem', 'certificateId', 'certificatePem', 'issuingCaId', 'notAfter', 'notBefore', 'provisioning', 'rootCertificatePem', 'serialNumber', 'status', 'subject'].sort(),
    );
    // What JITP will create when the device first connects, from config/jitp-template.json.
    expect(res.json.provisioning).toMatchObject({
      thingName: 'route-1',
      attributes: { country: 'US', provisionedBy: 'factory-ca' },
      certificateId: res.json.certificateId,
      certificateStatus: 'ACTIVE',
      problems: [],
    });
    expect(res.json.provisioning.policyDocument.Statement[0]).toMatchObject({ Action: 'iot:Connect' });
    expect(res.json.certificateChainPem).toBe(res.json.certificatePem + res.json.caCertificatePem);
    expect(res.json.subject).toEqual({ C: 'US', O: 'Example Corp', CN: 'route-1' });
    expect(res.json.status).toBe('ISSUED');
    expect(opensslVerify(res.json.rootCertificatePem, res.json.caCertificatePem, res.json.certificatePem)).toMatch(/OK/);
  });

  it('answers a retry of the same CSR with 200 and the same certificate', async () => {
    const csr = csrFor('route-2');
    const first = await call(issue, jsonPost({ csr }));
    const again = await call(issue, jsonPost({ csr }));
    expect([first.statusCode, again.statusCode]).toEqual([201, 200]);
    expect(again.json).toEqual(first.json);
  });

  it.each([
    ['PEM', () => pkcs10(csrFixture('ec-p384.csr'))],
    ['base64 DER', () => pkcs10(csrFixture('rsa-2048.csr').replace(/-----[^-]+-----|\n/g, ''))],
    ['binary DER (base64-encoded by API Gateway)', () => pkcs10(Buffer.from(csrFixtureBytes('ec-p256.der')).toString('base64'), true)],
    ['a NEW CERTIFICATE REQUEST label', () => jsonPost({ csr: csrFixture('ec-p256-full.csr').replace(/CERTIFICATE REQUEST/g, 'NEW CERTIFICATE REQUEST') })],
  ])('accepts an application/pkcs10 or JSON body carrying %s', async (_, event) => {
    const res = await call(issue, event());
    expect([200, 201]).toContain(res.statusCode);
    expect(res.json.serialNumber).toMatch(/^[0-9a-f]{32}$/);
  });

  it.each([
    ['not JSON', 'INVALID_REQUEST', 400, jsonPost('{"csr": ')],
    ['a JSON array', 'INVALID_REQUEST', 400, jsonPost('[]')],
    ['no csr', 'INVALID_REQUEST', 400, jsonPost({})],
    ['csr of the wrong type', 'INVALID_REQUEST', 400, jsonPost({ csr: 42 })],
    ['an unknown field', 'INVALID_REQUEST', 400, jsonPost({ csr: 'x', admin: true })],
    ['profile of the wrong type', 'INVALID_REQUEST', 400, jsonPost({ csr: 'x', profile: 1 })],
    ['an unknown profile', 'INVALID_REQUEST', 400, jsonPost({ csr: csrFixture('ec-p256.csr'), profile: 'server' })],
    ['an empty pkcs10 body', 'INVALID_REQUEST', 400, pkcs10('')],
    ['a csr that is not PEM', 'CSR_MALFORMED', 400, jsonPost({ csr: 'not a csr' })],
    ['a certificate instead of a CSR', 'CSR_MALFORMED', 400, jsonPost({ csr: csrFixture('certificate.pem') })],
    ['truncated DER', 'CSR_MALFORMED', 400, pkcs10(Buffer.from(csrFixtureBytes('truncated.der')).toString('base64'), true)],
    ['a broken signature', 'CSR_SIGNATURE_INVALID', 400, jsonPost({ csr: csrFixture('bad-signature.csr') })],
    ['an RSA-1024 key', 'KEY_NOT_ALLOWED', 422, jsonPost({ csr: csrFixture('rsa-1024.csr') })],
    ['an Ed25519 key', 'KEY_NOT_ALLOWED', 422, jsonPost({ csr: csrFixture('ed25519.csr') })],
    ['a P-521 key', 'KEY_NOT_ALLOWED', 422, jsonPost({ csr: csrFixture('ec-p521.csr') })],
    ['a subject that breaks the policy', 'POLICY_VIOLATION', 422, jsonPost({ csr: csrFixture('wrong-org.csr') })],
    ['text/plain', 'UNSUPPORTED_MEDIA_TYPE', 415, apiEvent({ method: 'POST', body: 'x', headers: { 'Content-Type': 'text/plain' } })],
    ['no Content-Type', 'UNSUPPORTED_MEDIA_TYPE', 415, apiEvent({ method: 'POST', body: '{}' })],
    ['a body of 16 KiB + 1', 'PAYLOAD_TOO_LARGE', 413, jsonPost(JSON.stringify({ csr: 'A'.repeat(16 * 1024 - 9) }))],
    ['a 10 MB body', 'PAYLOAD_TOO_LARGE', 413, pkcs10('A'.repeat(10 * 1024 * 1024))],
  ] as const)('refuses %s with %s (%i)', async (_, code, status, event) => {
    const res = await call(issue, event);
    expect(res.statusCode).toBe(status);
    expect(res.json.error.code).toBe(code);
    expect(typeof res.json.error.message).toBe('string');
  });

  it('does not refuse a body of exactly 16 KiB for its size', async () => {
    const res = await call(issue, jsonPost(JSON.stringify({ csr: 'A'.repeat(16 * 1024 - 10) })));
    expect(res.json.error.code).toBe('CSR_MALFORMED');
  });

  it('lists every policy violation in details', async () => {
    const res = await call(issue, jsonPost({ csr: csrFixture('many-violations.csr') }));
    expect(res.statusCode).toBe(422);
    expect(res.json.error.details.map((d: { field: string }) => d.field).sort()).toEqual(['C', 'CN', 'O', 'title'].sort());
    for (const d of res.json.error.details) expect(typeof d.reason).toBe('string');
  });

  it('answers 409 DUPLICATE_COMMON_NAME with the existing serial, and says what to do about it', async () => {
    const first = await call(issue, jsonPost({ csr: csrFor('route-dup') }));
    const res = await call(issue, jsonPost({ csr: csrFor('route-dup') }));
    expect(res.statusCode).toBe(409);
    expect(res.json.error).toMatchObject({ code: 'DUPLICATE_COMMON_NAME', details: [{ field: 'CN', serialNumber: first.json.serialNumber }] });
    const serial = first.json.serialNumber as string;
    expect(res.json.error.message).toBe(
      `This common name already has certificate ${serial}, issued for another key. Sending the CSR it was issued for again returns that same certificate. ` +
        `If the device has a new key, an operator must first revoke serial ${serial} (POST /certificates/${serial}/revoke); then this CSR can be issued.`,
    );
  });

  it('says the first policy violations in the message, each field with its rule in words', async () => {
    const res = await call(issue, jsonPost({ csr: csrFixture('many-violations.csr') }));
    expect(res.json.error.message).toMatch(/^The CSR subject does not satisfy the issuance policy: C must be exactly 2 characters from A–Z; O must be exactly "Example Corp"; CN must be 1 to 64 characters from A–Z, a–z, 0–9, ':', '_' or '-'; and 1 more \(see details\)$/);
    expect(res.json.error.message).not.toContain('^[');
    expect(res.json.error.details.find((d: { field: string }) => d.field === 'CN')).toMatchObject({ pattern: '^[A-Za-z0-9:_-]{1,64}$' });
  });

  it('answers 503 SIGNER_UNAVAILABLE with Retry-After when KMS is throttled', async () => {
    const ca = await testApp().issuing.issue.cas.activeIssuer();
    jest.spyOn(ca.issuer.signer, 'sign').mockRejectedValueOnce(signerError(Object.assign(new Error('Rate exceeded for key arn:aws:kms:secret'), { name: 'ThrottlingException' })));
    const res = await call(issue, jsonPost({ csr: csrFor('route-kms') }));
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['Retry-After']).toBe('2');
    expect(res.json.error.code).toBe('SIGNER_UNAVAILABLE');
    expect(res.body).not.toContain('arn:aws:kms');
  });

  it('answers 503 STORE_UNAVAILABLE when the ledger is throttled, and issues nothing', async () => {
    jest.spyOn(testApp().store, 'putCertificate').mockRejectedValueOnce(new CaError('STORE_UNAVAILABLE', 'The certificate ledger is temporarily unavailable', { retryAfterSeconds: 2, notApplied: true }));
    const res = await call(issue, jsonPost({ csr: csrFor('route-ddb') }));
    expect(res.statusCode).toBe(503);
    expect(res.json.error.code).toBe('STORE_UNAVAILABLE');
    expect(res.headers?.['Retry-After']).toBe('2');
    expect(res.json).not.toHaveProperty('certificatePem');
    expect(await testApp().store.listByCommonName('route-ddb')).toEqual([]);
  });

  it('answers 500 INTERNAL without the cause, and logs the cause', async () => {
    jest.spyOn(testApp().store, 'claim').mockRejectedValueOnce(new Error('secret table detail xyz'));
    const res = await call(issue, jsonPost({ csr: csrFor('route-500') }));
    expect(res.statusCode).toBe(500);
    expect(res.json).toEqual({ error: { code: 'INTERNAL', message: expect.any(String) } });
    expect(res.body).not.toContain('xyz');
    const line = testApp().logger.entries.at(-1)!;
    expect(line.level).toBe('ERROR');
    expect(JSON.stringify(line.fields)).toContain('secret table detail xyz');
  });

  it('writes one log line per request with serial, CN, station and outcome, and no PEM', async () => {
    const before = testApp().logger.entries.length;
    const res = await call(issue, jsonPost({ csr: csrFor('route-log') }, { 'X-Station-Id': 'line-3' }));
    const lines = testApp().logger.entries.slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.fields).toMatchObject({
      route: 'POST /certificates',
      status: 201,
      outcome: 'success',
      serialNumber: res.json.serialNumber,
      commonName: 'route-log',
      issuingCaId: res.json.issuingCaId,
    });
    expect(JSON.stringify(lines[0])).not.toContain('BEGIN');
  });
});

const PEM = 'application/pem-certificate-chain';
const JSON_TYPE = 'application/json';

describe('Routes: POST /certificates and GET /certificates/{serialNumber} negotiate JSON or the PEM chain on Accept', () => {
  let cn = 0;
  const answered = [
    [undefined, JSON_TYPE],
    ['', JSON_TYPE],
    ['*/*', JSON_TYPE],
    ['application/*', JSON_TYPE],
    ['application/json', JSON_TYPE],
    ['application/json; charset=utf-8', JSON_TYPE],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', JSON_TYPE],
    [PEM, PEM],
    ['APPLICATION/PEM-Certificate-Chain', PEM],
    [`${PEM}; q=1.0`, PEM],
    [`${PEM}, ${JSON_TYPE}`, PEM],
    [`${JSON_TYPE}, ${PEM}`, JSON_TYPE],
    [`${JSON_TYPE};q=0.5, ${PEM}`, PEM],
    [`${PEM};q=0.5, ${JSON_TYPE}`, JSON_TYPE],
    [` ${PEM} ;q=0.9 , ${JSON_TYPE};q=0.8`, PEM],
    [`*/*;q=0.1, ${PEM}`, PEM],
    [`${PEM}, */*`, PEM],
    [`${JSON_TYPE};q=0, */*`, PEM],
    [`${PEM};q=0, */*`, JSON_TYPE],
    [`application/*;q=0.2, ${PEM};q=0.3`, PEM],
    [`text/plain;format="a,b", ${PEM}`, PEM],
    [`application/json;q=oops, ${PEM};q=0.1`, PEM],
  ] as const;

  function expectAnswer(res: { statusCode: number; headers?: Record<string, unknown>; body: string }, type: string, json: () => Record<string, any>) {
    expect(res.headers?.['Content-Type']).toBe(type);
    expect(res.headers?.Vary).toBe('Accept');
    if (type === JSON_TYPE) expect(res.body).toBe(JSON.stringify(json()));
    else expect(res.body).toBe(json().certificateChainPem);
  }

  it.each(answered)('Accept %j → %s, for a new certificate (201), a replay (200) and a read (200)', async (accept, type) => {
    const headers: Record<string, string> = accept === undefined ? {} : { Accept: accept };
    const csr = csrFor(`route-accept-${++cn}`);
    const created = await issue(jsonPost({ csr }, headers), lambdaContext());
    const asJson = await call(issue, jsonPost({ csr }));
    expect(created.statusCode).toBe(201);
    expect(created.headers?.Location).toBe(`/certificates/${asJson.json.serialNumber}`);
    expectAnswer(created, type, () => ({ ...asJson.json }));

    const replay = await issue(jsonPost({ csr }, headers), lambdaContext());
    expect(replay.statusCode).toBe(200);
    expect(replay.headers?.Location).toBe(created.headers?.Location);
    expectAnswer(replay, type, () => asJson.json);

    const get = (h: Record<string, string>) => routes.getCertificate(apiEvent({ pathParameters: { serialNumber: asJson.json.serialNumber }, headers: h }), lambdaContext());
    const read = await get(headers);
    const readJson = JSON.parse((await get({})).body);
    expect(read.statusCode).toBe(200);
    expectAnswer(read, type, () => readJson);
  });

  it('answers the PEM chain a verifier accepts: the device certificate, then the issuing CA', async () => {
    const res = await issue(jsonPost({ csr: csrFor('route-accept-pem') }, { Accept: PEM }), lambdaContext());
    const blocks = res.body.match(/-----BEGIN CERTIFICATE-----\n[^-]+-----END CERTIFICATE-----\n/g)!;
    expect(blocks).toHaveLength(2);
    expect(blocks.join('')).toBe(res.body);
    const ca = await call(routes.getCa, apiEvent({}));
    expect(blocks[1]).toBe(ca.json.certificatePem);
    expect(opensslVerify(ca.json.rootCertificatePem, blocks[1]!, blocks[0]!)).toMatch(/OK/);
  });

  it.each([
    'text/html',
    'application/xml',
    'application/pkix-cert',
    'text/*',
    `${JSON_TYPE};q=0`,
    `${JSON_TYPE};q=0, ${PEM};q=0`,
    '*/*;q=0',
    `${JSON_TYPE};q=2`,
    'garbage',
    ',,;',
  ])('answers 406 NOT_ACCEPTABLE, in JSON, for Accept %j, and issues nothing', async (accept) => {
    const name = `route-406-${++cn}`;
    const res = await call(issue, jsonPost({ csr: csrFor(name) }, { Accept: accept }));
    expect(res.statusCode).toBe(406);
    expect(res.headers?.['Content-Type']).toBe(JSON_TYPE);
    expect(res.json.error).toMatchObject({ code: 'NOT_ACCEPTABLE', details: [{ field: 'Accept' }] });
    expect(res.json.error.message).toContain(PEM);
    expect(await testApp().store.listByCommonName(name)).toEqual([]);

    const issued = await call(issue, jsonPost({ csr: csrFor(`${name}-ok`) }));
    const read = await call(routes.getCertificate, apiEvent({ pathParameters: { serialNumber: issued.json.serialNumber }, headers: { Accept: accept } }));
    expect([read.statusCode, read.json.error.code]).toEqual([406, 'NOT_ACCEPTABLE']);
  });

  it('answers errors in JSON whatever Accept asks for', async () => {
    const refused = await call(issue, jsonPost({ csr: csrFixture('wrong-org.csr') }, { Accept: PEM }));
    expect([refused.statusCode, refused.headers?.['Content-Type'], refused.json.error.code]).toEqual([422, JSON_TYPE, 'POLICY_VIOLATION']);
    const missing = await call(routes.getCertificate, apiEvent({ pathParameters: { serialNumber: '0123abcd' }, headers: { Accept: PEM } }));
    expect([missing.statusCode, missing.headers?.['Content-Type'], missing.json.error.code]).toEqual([404, JSON_TYPE, 'NOT_FOUND']);
  });
});

describe('Route: GET /certificates/{serialNumber}', () => {
  it('returns the record with issuedAt and stationId (the IAM caller)', async () => {
    const issued = await call(issue, { ...jsonPost({ csr: csrFor('route-get') }), requestContext: apiEvent({ userArn: 'arn:aws:iam::123456789012:user/station-9' }).requestContext });
    const res = await call(routes.getCertificate, apiEvent({ pathParameters: { serialNumber: issued.json.serialNumber.toUpperCase() } }));
    expect(res.statusCode).toBe(200);
    expect(res.json).toEqual({ ...issued.json, issuedAt: expect.any(String), stationId: 'arn:aws:iam::123456789012:user/station-9' });
  });

  it('answers 404 NOT_FOUND and 400 for a serial that is not hex', async () => {
    const missing = await call(routes.getCertificate, apiEvent({ pathParameters: { serialNumber: '0123abcd' } }));
    expect([missing.statusCode, missing.json.error.code]).toEqual([404, 'NOT_FOUND']);
    const bad = await call(routes.getCertificate, apiEvent({ pathParameters: { serialNumber: 'xyz' } }));
    expect([bad.statusCode, bad.json.error.code]).toEqual([400, 'INVALID_REQUEST']);
  });
});

describe('Route: GET /certificates', () => {
  it('lists the certificates of a common name', async () => {
    const issued = await call(issue, jsonPost({ csr: csrFor('route-list') }));
    const res = await call(routes.listCertificates, apiEvent({ query: { commonName: 'route-list' } }));
    expect(res.statusCode).toBe(200);
    expect(res.json.items).toHaveLength(1);
    expect(res.json.items[0]).toMatchObject({ serialNumber: issued.json.serialNumber, stationId: 'unknown' });
    const none = await call(routes.listCertificates, apiEvent({ query: { commonName: 'nobody' } }));
    expect(none.json).toEqual({ items: [] });
  });

  it('requires a filter', async () => {
    const res = await call(routes.listCertificates, apiEvent({}));
    expect([res.statusCode, res.json.error.code]).toEqual([400, 'INVALID_REQUEST']);
  });

  it('finds a certificate revoked through the API under status=REVOKED, and no longer under ISSUED', async () => {
    const issued = await call(issue, jsonPost({ csr: csrFor('route-revoked') }, { 'X-Station-Id': 'line-revoke' }));
    const byStatus = async (status: string) =>
      (await call(routes.listCertificates, apiEvent({ query: { commonName: 'route-revoked', status } }))).json.items.map((i: { serialNumber: string }) => i.serialNumber);
    expect(await byStatus('ISSUED')).toEqual([issued.json.serialNumber]);

    const revoked = await call(routes.revoke, apiEvent({ method: 'POST', pathParameters: { serialNumber: issued.json.serialNumber } }));
    expect(revoked.statusCode).toBe(200);

    expect(await byStatus('ISSUED')).toEqual([]);
    expect(await byStatus('REVOKED')).toEqual([issued.json.serialNumber]);
    const everyRevoked = await call(routes.listCertificates, apiEvent({ query: { status: 'REVOKED', limit: '1000' } }));
    expect(everyRevoked.json.items.map((i: { serialNumber: string }) => i.serialNumber)).toContain(issued.json.serialNumber);
  });
});

describe('Route: GET /ca and GET /health', () => {
  it('returns the active issuing CA, the root and the chain', async () => {
    const res = await call(routes.getCa, apiEvent({}));
    expect(res.statusCode).toBe(200);
    expect(res.json.chainPem).toBe(res.json.certificatePem + res.json.rootCertificatePem);
    expect(res.json.id).toMatch(/^issuing-/);
    expect(Date.parse(res.json.notAfter)).toBeGreaterThan(Date.parse(res.json.notBefore));
  });

  it('answers health with {"status":"ok"}', async () => {
    const res = await call(routes.health, apiEvent({}));
    expect([res.statusCode, res.json]).toEqual([200, { status: 'ok' }]);
  });
});
