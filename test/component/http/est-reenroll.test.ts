import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { certificatesOfCms } from '../../../src/pki/cms.js';
import { CaError } from '../../../src/service/errors.js';
import { issueCertificate } from '../../../src/service/issue-certificate.js';
import type { IotRegistrar } from '../../../src/service/ports.js';
import { apiEvent, lambdaContext } from '../../helpers/api.js';
import { buildCsrDer, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { opensslVerify } from '../../helpers/openssl.js';
import { callRoute, routesOf, useTestApp, type RouteHandler } from '../../helpers/test-app.js';

const testApp = useTestApp();
afterEach(() => {
  jest.restoreAllMocks();
});
const routes = routesOf(testApp);

const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64');
const csrDer = (cn: string, key: KeyObject, extra: Parameters<typeof subject>[0] = {}) => buildCsrDer({ key, subjectDer: subject({ CN: STRING.utf8(cn), ...extra }) });
const certsOf = (body: string) => certificatesOfCms(Buffer.from(body, 'base64')).map((der) => new X509Certificate(Buffer.from(der)));

/** POST /.well-known/est/simplereenroll with a CSR and (unless undefined) a client certificate. */
const reenroll = (pem: string | undefined, csr: Uint8Array | string, headers: Record<string, string> = {}) =>
  apiEvent({ method: 'POST', path: '/.well-known/est/simplereenroll', body: typeof csr === 'string' ? csr : b64(csr), headers: { 'Content-Type': 'application/pkcs10', ...headers }, ...(pem ? { clientCertPem: pem } : {}) });

const call = (handler: RouteHandler, event: ReturnType<typeof apiEvent>) => handler(event, lambdaContext());

async function estError(event: ReturnType<typeof apiEvent>) {
  const res = await call(routes.estSimpleReenroll, event);
  expect(res.headers?.['Content-Type']).toBe('text/plain; charset=utf-8');
  return { status: res.statusCode, code: res.body.split(':')[0], text: res.body, headers: res.headers ?? {} };
}

/** A device enrolled through simpleenroll: its key and certificate PEM. */
async function enrolled(cn: string, key = newP256Key()) {
  const res = await call(routes.estSimpleEnroll, apiEvent({ method: 'POST', path: '/.well-known/est/simpleenroll', body: b64(csrDer(cn, key)), headers: { 'Content-Type': 'application/pkcs10' }, userArn: 'arn:aws:iam::111122223333:user/station-7' }));
  expect(res.statusCode).toBe(200);
  const cert = certsOf(res.body)[0]!;
  return { key, pem: cert.toString(), serialNumber: cert.serialNumber.toLowerCase() };
}

const record = async (serialNumber: string) => (await callRoute(routes.getCertificate, apiEvent({ pathParameters: { serialNumber } }))).json;

describe('Route: POST /.well-known/est/simplereenroll', () => {
  it('renews with the same key: 200, a new certificate alone in certs-only CMS, chaining to cacerts; the old one SUPERSEDED', async () => {
    const device = await enrolled('reenroll-1');
    const res = await call(routes.estSimpleReenroll, reenroll(device.pem, csrDer('reenroll-1', device.key)));
    expect([res.statusCode, res.headers?.['Content-Type']]).toEqual([200, 'application/pkcs7-mime; smime-type=certs-only']);
    const [cert, ...more] = certsOf(res.body);
    expect(more).toEqual([]);
    expect(cert!.subject).toBe('C=US\nO=Example Corp\nCN=reenroll-1');
    expect(cert!.publicKey.export({ format: 'der', type: 'spki' })).toEqual(new X509Certificate(device.pem).publicKey.export({ format: 'der', type: 'spki' }));
    const chain = certsOf((await call(routes.estCaCerts, apiEvent({ path: '/.well-known/est/cacerts' }))).body);
    const root = chain.find((c) => c.subject === c.issuer)!;
    const issuing = chain.find((c) => c.subject !== c.issuer)!;
    expect(opensslVerify(root.toString(), issuing.toString(), cert!.toString())).toMatch(/OK/);

    const serial = cert!.serialNumber.toLowerCase();
    expect(await record(device.serialNumber)).toMatchObject({ status: 'SUPERSEDED', supersededBy: serial, iotDeactivation: 'DRY_RUN' });
    // The station of the first enrollment stays the device's; the new record names what it replaced.
    expect(await record(serial)).toMatchObject({ status: 'ISSUED', replaces: device.serialNumber, stationId: 'arn:aws:iam::111122223333:user/station-7' });
    // Local mode's AWS IoT dry run writes the command down.
    const certificateId = (await record(device.serialNumber)).certificateId as string;
    expect(readFileSync(join(testApp().stateDir, 'iot', 'deactivations.jsonl'), 'utf8')).toContain(`aws iot update-certificate --certificate-id ${certificateId} --new-status INACTIVE`);
    const line = testApp().logger.entries.filter((e) => e.fields.route === 'POST /.well-known/est/simplereenroll').pop()!;
    expect(line.fields).toMatchObject({ status: 200, created: true, serialNumber: serial, replacedSerialNumber: device.serialNumber, iotDeactivation: 'DRY_RUN' });
  });

  it('re-keys with a new key; a replay answers the same certificate, counted once; the old certificate is then refused (403, superseded)', async () => {
    const device = await enrolled('reenroll-2');
    const body = csrDer('reenroll-2', newP256Key());
    const before = testApp().metrics.counts('CertificatesIssued');
    const first = await call(routes.estSimpleReenroll, reenroll(device.pem, body));
    const again = await call(routes.estSimpleReenroll, reenroll(device.pem, body));
    expect([first.statusCode, again.statusCode, again.body]).toEqual([200, 200, first.body]);
    expect(testApp().metrics.counts('CertificatesIssued') - before).toBe(1);
    const refused = await estError(reenroll(device.pem, csrDer('reenroll-2', newP256Key())));
    expect([refused.status, refused.code]).toEqual([403, 'EST_CLIENT_CERT_REFUSED']);
    expect(refused.text).toMatch(/clientCertificate: superseded \(serialNumber=[0-9a-f]+\)/);
    // The new certificate re-enrolls in turn.
    const next = certsOf(first.body)[0]!.toString();
    expect((await call(routes.estSimpleReenroll, reenroll(next, csrDer('reenroll-2', newP256Key())))).statusCode).toBe(200);
  });

  it('401 EST_CLIENT_CERT_REQUIRED without a client certificate; the local header is not trusted in AWS', async () => {
    const device = await enrolled('reenroll-3');
    const none = await estError(reenroll(undefined, csrDer('reenroll-3', device.key)));
    expect([none.status, none.code]).toEqual([401, 'EST_CLIENT_CERT_REQUIRED']);
    const forged = await estError(reenroll(undefined, csrDer('reenroll-3', device.key), { 'X-Est-Client-Cert': Buffer.from(device.pem).toString('base64') }));
    expect([forged.status, forged.code]).toEqual([401, 'EST_CLIENT_CERT_REQUIRED']);
    // Authentication first: not even the body is looked at.
    expect((await estError(reenroll(undefined, 'not base64!'))).status).toBe(401);
  });

  it.each([
    ['a certificate this CA never recorded (the issuing CA\'s own)', 'unknown'],
    ['a revoked certificate', 'revoked'],
    ['an expired certificate', 'expired'],
  ])('403 EST_CLIENT_CERT_REFUSED for %s', async (_label, reason) => {
    const device = await enrolled(`reenroll-refused-${reason}`);
    let pem = device.pem;
    if (reason === 'unknown') pem = certsOf((await call(routes.estCaCerts, apiEvent({ path: '/.well-known/est/cacerts' }))).body).find((c) => c.subject !== c.issuer)!.toString();
    if (reason === 'revoked') {
      const revoked = await callRoute(routes.revoke, apiEvent({ method: 'POST', pathParameters: { serialNumber: device.serialNumber }, body: JSON.stringify({ reason: 'keyCompromise' }), headers: { 'content-type': 'application/json' } }));
      expect(revoked.statusCode).toBe(200);
    }
    if (reason === 'expired') {
      const after = new Date(Date.parse(new X509Certificate(device.pem).validTo) + 1000);
      jest.spyOn(testApp().reenrolling.issue, 'clock').mockReturnValue(after);
    }
    const err = await estError(reenroll(pem, csrDer(`reenroll-refused-${reason}`, newP256Key())));
    expect([err.status, err.code]).toEqual([403, 'EST_CLIENT_CERT_REFUSED']);
    expect(err.text).toContain(`clientCertificate: ${reason}`);
  });

  it('403 EST_SUBJECT_MISMATCH for another subject; every simpleenroll refusal as simpleenroll answers it', async () => {
    const device = await enrolled('reenroll-4');
    const other = await enrolled('reenroll-4-other');
    const mismatch = await estError(reenroll(device.pem, csrDer('reenroll-4-renamed', device.key)));
    expect([mismatch.status, mismatch.code]).toEqual([403, 'EST_SUBJECT_MISMATCH']);
    const extra = await estError(reenroll(device.pem, csrDer('reenroll-4', device.key, { OU: STRING.utf8('line 2') })));
    // An attribute the policy allows, added: another Name.
    expect([extra.status, extra.code]).toEqual([403, 'EST_SUBJECT_MISMATCH']);
    expect([(await estError(reenroll(device.pem, csrDer('reenroll-4', device.key, { emailAddress: STRING.ia5('a@b.c') })))).code]).toEqual(['POLICY_VIOLATION']);
    expect((await estError(reenroll(device.pem, 'not base64!'))).code).toBe('CSR_MALFORMED');
    expect((await estError(reenroll(device.pem, 'A'.repeat(16 * 1024 + 4)))).code).toBe('PAYLOAD_TOO_LARGE');
    const inUse = await estError(reenroll(device.pem, csrDer('reenroll-4', other.key)));
    expect([inUse.status, inUse.code]).toEqual([409, 'KEY_IN_USE']);
    // Nothing changed for the device.
    expect((await record(device.serialNumber)).status).toBe('ISSUED');
    expect((await call(routes.estSimpleReenroll, reenroll(device.pem, csrDer('reenroll-4', device.key)))).statusCode).toBe(200);
  });

  it('leaves POST /certificates as it was: a second key for the name is DUPLICATE_COMMON_NAME, before and after a re-enrollment', async () => {
    const device = await enrolled('reenroll-5');
    const issue = (key: KeyObject) => callRoute(routes.issue, apiEvent({ method: 'POST', path: '/certificates', body: b64(csrDer('reenroll-5', key)), headers: { 'content-type': 'application/pkcs10' } }));
    expect((await issue(newP256Key())).json.error.code).toBe('DUPLICATE_COMMON_NAME');
    expect((await call(routes.estSimpleReenroll, reenroll(device.pem, csrDer('reenroll-5', newP256Key())))).statusCode).toBe(200);
    expect((await issue(newP256Key())).json.error.code).toBe('DUPLICATE_COMMON_NAME');
    // The replaced key is not given to another device.
    const elsewhere = await callRoute(routes.issue, apiEvent({ method: 'POST', path: '/certificates', body: b64(csrDer('reenroll-5-b', device.key)), headers: { 'content-type': 'application/pkcs10' } }));
    expect(elsewhere.json.error.code).toBe('KEY_IN_USE');
  });

  it('a fault between the writes: the new certificate recorded, the supersede fails → 503, nothing delivered; the same request again completes it', async () => {
    const device = await enrolled('reenroll-6');
    const body = csrDer('reenroll-6', newP256Key());
    jest.spyOn(testApp().store, 'supersedeByReplacement').mockRejectedValueOnce(new CaError('STORE_UNAVAILABLE', 'The certificate ledger is temporarily unavailable', { retryAfterSeconds: 2 }));
    const failed = await estError(reenroll(device.pem, body));
    expect([failed.status, failed.code, failed.headers['Retry-After']]).toEqual([503, 'STORE_UNAVAILABLE', '2']);
    const listed = await callRoute(routes.listCertificates, apiEvent({ path: '/certificates', query: { commonName: 'reenroll-6' } }));
    const pending = (listed.json.items as Array<Record<string, string>>).find((r) => r.serialNumber !== device.serialNumber)!;
    expect(pending).toMatchObject({ status: 'ISSUED', replaces: device.serialNumber });
    expect((await record(device.serialNumber)).status).toBe('ISSUED');

    const retry = await call(routes.estSimpleReenroll, reenroll(device.pem, body));
    expect(retry.statusCode).toBe(200);
    expect(certsOf(retry.body)[0]!.serialNumber.toLowerCase()).toBe(pending.serialNumber);
    expect(await record(device.serialNumber)).toMatchObject({ status: 'SUPERSEDED', supersededBy: pending.serialNumber });
  });

  it('AWS IoT unreachable: 200 with the new certificate, the old record notes PENDING; the same request again deactivates it', async () => {
    const device = await enrolled('reenroll-7');
    const body = csrDer('reenroll-7', newP256Key());
    const down = { deactivateCertificate: async () => Promise.reject(new CaError('IOT_UNAVAILABLE', 'AWS IoT is unavailable; retry later', { retryAfterSeconds: 5 })) } as unknown as IotRegistrar;
    jest.spyOn(testApp().reenrolling.reenroll, 'iot').mockReturnValueOnce(down);
    const first = await call(routes.estSimpleReenroll, reenroll(device.pem, body));
    expect(first.statusCode).toBe(200);
    expect(await record(device.serialNumber)).toMatchObject({ status: 'SUPERSEDED', iotDeactivation: 'PENDING' });
    const line = testApp().logger.entries.filter((e) => e.fields.route === 'POST /.well-known/est/simplereenroll').pop()!;
    expect(line.fields).toMatchObject({ status: 200, iotDeactivation: 'PENDING', iotError: expect.objectContaining({ code: 'IOT_UNAVAILABLE' }) });
    const again = await call(routes.estSimpleReenroll, reenroll(device.pem, body));
    expect(again.body).toBe(first.body);
    expect(await record(device.serialNumber)).toMatchObject({ status: 'SUPERSEDED', iotDeactivation: 'DRY_RUN' });
  });
});

describe('Route: POST /.well-known/est/simplereenroll in local mode', () => {
  const local = useTestApp({ LOCAL_API_PORT: '3000', TRUST_STATION_HEADER: 'true', TRUST_CLIENT_CERT_HEADER: 'true', LOCAL_AUTH: 'sigv4' });
  const localRoutes = routesOf(local);

  it('takes the client certificate from the local TLS listener\'s header, needs no SigV4, and keeps the origin guard', async () => {
    const host = { Host: '127.0.0.1:3000' };
    const enroll = await call(localRoutes.estSimpleEnroll, apiEvent({ method: 'POST', path: '/.well-known/est/simpleenroll', body: 'x', headers: host }));
    expect(enroll.statusCode).toBe(403); // simpleenroll needs SigV4 in local SigV4 mode: the device uses its certificate instead.
    const key = newP256Key();
    const issued = await issueCertificate(local().issuing.issue, { csr: csrDer('reenroll-local', key), stationId: 'line-9' });
    const header = { 'X-Est-Client-Cert': Buffer.from(issued.record.certificatePem).toString('base64') };
    const res = await call(localRoutes.estSimpleReenroll, reenroll(undefined, csrDer('reenroll-local', key), { ...host, ...header }));
    expect(res.statusCode).toBe(200);
    // Local mode reads only the header.
    const none = await call(localRoutes.estSimpleReenroll, reenroll(issued.record.certificatePem, csrDer('reenroll-local', key), host));
    expect([none.statusCode, none.body.split(':')[0]]).toEqual([401, 'EST_CLIENT_CERT_REQUIRED']);
    const page = await call(localRoutes.estSimpleReenroll, reenroll(undefined, csrDer('reenroll-local', key), { ...host, ...header, Origin: 'https://evil.example' }));
    expect([page.statusCode, page.body.split(':')[0]]).toEqual([403, 'FORBIDDEN_ORIGIN']);
  });
});
