import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { openapiRoute } from '../../../src/http/openapi-route.js';
import { CaError } from '../../../src/service/errors.js';
import { apiEvent, lambdaContext, type EventInit } from '../../helpers/api.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { documentedResponses, expectConforms, OPENAPI_FILE, seen } from '../../helpers/openapi.js';
import { lazyHandler, routesOf, useTestApp, type RouteHandler } from '../../helpers/test-app.js';

// As in local mode: the origin and host guard is on (port 3000).
const testApp = useTestApp({ CA_CACHE_TTL_SECONDS: '0', LOCAL_API_PORT: '3000' });
afterEach(() => {
  jest.restoreAllMocks();
});

const routes = routesOf(testApp);
type Handler = RouteHandler;
const ROUTES: Record<string, [string, string, Handler]> = {
  issue: ['POST', '/certificates', routes.issue],
  list: ['GET', '/certificates', routes.listCertificates],
  get: ['GET', '/certificates/{serialNumber}', routes.getCertificate],
  revoke: ['POST', '/certificates/{serialNumber}/revoke', routes.revoke],
  ca: ['GET', '/ca', routes.getCa],
  rotate: ['POST', '/ca/rotate', routes.rotate],
  health: ['GET', '/health', routes.health],
  block: ['POST', '/blocked-keys', routes.blockKeys],
  blocked: ['GET', '/blocked-keys/{spkiSha256}', routes.getBlockedKey],
  crl: ['GET', '/crl/{name}', routes.getCrl],
  checkpoint: ['GET', '/log/checkpoint', routes.getLogCheckpoint],
  proof: ['GET', '/log/proof/{serialNumber}', routes.getLogProof],
  entry: ['GET', '/log/entries/{index}', routes.getLogEntry],
  consistency: ['GET', '/log/consistency', routes.getLogConsistency],
  openapi: ['GET', '/openapi.json', lazyHandler(() => openapiRoute(testApp().issuing.obs, OPENAPI_FILE))],
  cacerts: ['GET', '/.well-known/est/cacerts', routes.estCaCerts],
  csrattrs: ['GET', '/.well-known/est/csrattrs', routes.estCsrAttrs],
  enroll: ['POST', '/.well-known/est/simpleenroll', routes.estSimpleEnroll],
  reenroll: ['POST', '/.well-known/est/simplereenroll', routes.estSimpleReenroll],
  openLot: ['POST', '/lots', routes.openLot],
  lot: ['GET', '/lots/{lotId}', routes.getLot],
  closeLot: ['POST', '/lots/{lotId}/close', routes.closeLot],
};

/** Calls a route and checks its answer against openapi.yaml; returns it. */
async function check(route: keyof typeof ROUTES, init: EventInit, expected: number) {
  const [method, path, handler] = ROUTES[route]!;
  const concrete = path.replace('{serialNumber}', init.pathParameters?.serialNumber ?? 'x').replace('{spkiSha256}', init.pathParameters?.spkiSha256 ?? 'x').replace('{name}', init.pathParameters?.name ?? 'x').replace('{lotId}', init.pathParameters?.lotId ?? 'x').replace('{index}', init.pathParameters?.index ?? 'x');
  const res = await handler(apiEvent({ method, path: concrete, ...init, headers: { Host: 'localhost:3000', ...init.headers } }), lambdaContext());
  const isJson = res.headers?.['Content-Type'] === 'application/json';
  const body = (isJson ? JSON.parse(res.body) : res.body) as Record<string, any>;
  expect({ status: res.statusCode, body }).toMatchObject({ status: expected });
  expectConforms(method, concrete, res.statusCode, body, res.headers as Record<string, string>);
  return body;
}

/** A route's answer as the PEM chain (Accept: application/pem-certificate-chain); its text. */
async function checkPem(route: keyof typeof ROUTES, init: EventInit, expected: number): Promise<string> {
  const pem = (await check(route, { ...init, headers: { ...init.headers, Accept: 'application/pem-certificate-chain' } }, expected)) as unknown;
  expect(typeof pem).toBe('string');
  return pem as string;
}

const csrFor = (cn: string, extra: Parameters<typeof subject>[0] = {}) =>
  buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(cn), ...extra }) });
const json = (body: unknown) => ({ body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const unavailable = () => new CaError('STORE_UNAVAILABLE', 'The certificate ledger is temporarily unavailable', { retryAfterSeconds: 2 });
const bug = () => new Error('an unexpected failure');

describe('openapi.yaml and the implementation agree', () => {
  let serial = '';

  it('POST /certificates: every documented answer', async () => {
    const csr = csrFor('contract-1');
    const issued = await check('issue', json({ csr }), 201);
    serial = issued.serialNumber;
    await check('issue', { ...json({ csr }) }, 200);
    // The PEM chain, for a new certificate and for a replay: the JSON's certificateChainPem.
    await checkPem('issue', json({ csr: csrFor('contract-pem') }), 201);
    expect(await checkPem('issue', json({ csr }), 200)).toBe(issued.certificateChainPem);
    const refused = await check('issue', { ...json({ csr: csrFor('contract-406') }), headers: { 'content-type': 'application/json', Accept: 'text/html' } }, 406);
    expect(refused.error.code).toBe('NOT_ACCEPTABLE');
    await check('issue', { body: '{"csr":', headers: { 'content-type': 'application/json' } }, 400);
    await check('issue', json({ csr: csrFor('contract-1') }), 409);
    await check('issue', { body: 'A'.repeat(16 * 1024 + 1), headers: { 'content-type': 'application/pkcs10' } }, 413);
    await check('issue', { body: 'x', headers: { 'content-type': 'text/plain' } }, 415);
    const violation = await check('issue', json({ csr: csrFor('contract-2', { emailAddress: STRING.ia5('a@b.c') }) }), 422);
    expect(violation.error.details.length).toBeGreaterThan(0);
    jest.spyOn(testApp().store, 'claim').mockRejectedValueOnce(bug());
    await check('issue', json({ csr: csrFor('contract-3') }), 500);
    jest.spyOn(testApp().issuing.issue.cas, 'activeIssuer').mockRejectedValueOnce(new CaError('SIGNER_UNAVAILABLE', 'The signing service is unavailable; retry later', { retryAfterSeconds: 2 }));
    await check('issue', json({ csr: csrFor('contract-4') }), 503);
  });

  it('GET /certificates/{serialNumber} and GET /certificates (the ledger query)', async () => {
    const record = await check('get', { pathParameters: { serialNumber: serial } }, 200);
    expect(await checkPem('get', { pathParameters: { serialNumber: serial } }, 200)).toBe(record.certificateChainPem);
    await check('get', { pathParameters: { serialNumber: serial }, headers: { Accept: 'application/pkix-cert, text/*' } }, 406);
    await check('get', { pathParameters: { serialNumber: 'xyz' } }, 400);
    await check('get', { pathParameters: { serialNumber: '00ff' } }, 404);
    // Errors are JSON whatever Accept says.
    expect((await check('get', { pathParameters: { serialNumber: '00ff' }, headers: { Accept: 'application/pem-certificate-chain' } }, 404)).error.code).toBe('NOT_FOUND');
    jest.spyOn(testApp().store, 'getCertificate').mockRejectedValueOnce(bug());
    await check('get', { pathParameters: { serialNumber: serial } }, 500);
    jest.spyOn(testApp().store, 'getCertificate').mockRejectedValueOnce(unavailable());
    await check('get', { pathParameters: { serialNumber: serial } }, 503);

    expect((await check('list', { query: { commonName: 'contract-1' } }, 200)).items).toHaveLength(1);
    // A page with next, and the page it leads to.
    const first = await check('list', { query: { status: 'ISSUED', limit: '1' } }, 200);
    expect(first.next).toEqual(expect.any(String));
    await check('list', { query: { status: 'ISSUED', limit: '1', next: first.next } }, 200);
    await check('list', {}, 400);
    await check('list', { query: { status: 'ISSUED', next: 'forged' } }, 400);
    jest.spyOn(testApp().store, 'listCertificates').mockRejectedValueOnce(bug());
    await check('list', { query: { commonName: 'contract-1' } }, 500);
    jest.spyOn(testApp().store, 'listCertificates').mockRejectedValueOnce(unavailable());
    await check('list', { query: { commonName: 'contract-1' } }, 503);
  });

  it('POST /certificates/{serialNumber}/revoke', async () => {
    const other = (await check('issue', json({ csr: csrFor('contract-revoke') }), 201)).serialNumber;
    await check('revoke', { pathParameters: { serialNumber: other }, ...json({ reason: 'superseded' }) }, 200);
    await check('revoke', { pathParameters: { serialNumber: other }, ...json({ reason: 'lost' }) }, 400);
    await check('revoke', { pathParameters: { serialNumber: '00ff' } }, 404);
    await check('revoke', { pathParameters: { serialNumber: other }, body: 'A'.repeat(16 * 1024 + 1), headers: { 'content-type': 'application/json' } }, 413);
    await check('revoke', { pathParameters: { serialNumber: other }, body: 'superseded', headers: { 'content-type': 'text/plain' } }, 415);
    jest.spyOn(testApp().store, 'getCertificate').mockRejectedValueOnce(bug());
    await check('revoke', { pathParameters: { serialNumber: other } }, 500);
    jest.spyOn(testApp().store, 'getCertificate').mockRejectedValueOnce(unavailable());
    await check('revoke', { pathParameters: { serialNumber: other } }, 503);
  });

  it('GET /ca and POST /ca/rotate', async () => {
    await check('ca', {}, 200);
    jest.spyOn(testApp().reading.read.chains, 'activeChain').mockRejectedValueOnce(bug());
    await check('ca', {}, 500);
    jest.spyOn(testApp().reading.read.chains, 'activeChain').mockRejectedValueOnce(new CaError('CA_NOT_READY', 'No issuing CA has been set up yet', { retryAfterSeconds: 60 }));
    await check('ca', {}, 503);

    await check('rotate', {}, 200);
    expect((await check('rotate', json({ force: true }), 200)).rotated).toBe(true);
    await check('rotate', json({ force: 1 }), 400);
    await check('rotate', { body: 'A'.repeat(16 * 1024 + 1), headers: { 'content-type': 'application/json' } }, 413);
    await check('rotate', { body: 'force', headers: { 'content-type': 'text/plain' } }, 415);
    jest.spyOn(testApp().store, 'getActiveIssuingCaId').mockRejectedValueOnce(bug());
    await check('rotate', {}, 500);
    jest.spyOn(testApp().store, 'getActiveIssuingCaId').mockRejectedValueOnce(unavailable());
    await check('rotate', {}, 503);
  });

  it('GET /health and GET /openapi.json', async () => {
    await check('health', {}, 200);
    const served = await check('openapi', {}, 200);
    expect(served).toEqual(parse(readFileSync(OPENAPI_FILE, 'utf8')));
  });

  const STATION = 'arn:aws:iam::123456789012:user/station-1';
  it('POST /lots, GET /lots/{lotId}, POST /lots/{lotId}/close, and issuance under a lot', async () => {
    const lot = { lotId: 'contract-lot', product: 'sensor', quota: 1, closesAt: new Date(Date.now() + 86_400_000).toISOString(), stations: [STATION], commonNamePattern: 'contract-lot-[0-9]+' };
    await check('openLot', json(lot), 201);
    await check('openLot', json(lot), 200);
    expect((await check('openLot', json({ ...lot, quota: 2 }), 409)).error.code).toBe('LOT_EXISTS');
    await check('openLot', json({ ...lot, quota: 0 }), 400);
    await check('openLot', { body: 'A'.repeat(16 * 1024 + 1), headers: { 'content-type': 'application/json' } }, 413);
    await check('openLot', { body: 'x', headers: { 'content-type': 'text/plain' } }, 415);
    await check('openLot', { ...json(lot), headers: { 'content-type': 'application/json', Host: 'evil.example:3000' } }, 403);
    const lots = testApp().lots.lots.lots;
    jest.spyOn(lots, 'createLot').mockRejectedValueOnce(bug());
    await check('openLot', json(lot), 500);
    jest.spyOn(lots, 'createLot').mockRejectedValueOnce(unavailable());
    await check('openLot', json(lot), 503);

    await check('lot', { pathParameters: { lotId: 'contract-lot' } }, 200);
    await check('lot', { pathParameters: { lotId: 'a b' } }, 400);
    await check('lot', { pathParameters: { lotId: 'no-such-lot' } }, 404);
    await check('lot', { pathParameters: { lotId: 'contract-lot' }, headers: { Host: 'evil.example:3000' } }, 403);
    jest.spyOn(lots, 'getLot').mockRejectedValueOnce(bug());
    await check('lot', { pathParameters: { lotId: 'contract-lot' } }, 500);
    jest.spyOn(lots, 'getLot').mockRejectedValueOnce(unavailable());
    await check('lot', { pathParameters: { lotId: 'contract-lot' } }, 503);

    // Issuance under the lot: its own answers, in the issuing route's documented statuses.
    const asStation = (body: unknown, userArn = STATION) => ({ ...json(body), userArn });
    expect((await check('issue', asStation({ csr: csrFor('contract-lot-1'), lotId: 'contract-lot' }), 201)).lotId).toBe('contract-lot');
    expect((await check('issue', asStation({ csr: csrFor('contract-lot-2'), lotId: 'contract-lot' }), 409)).error.code).toBe('LOT_QUOTA_EXCEEDED');
    expect((await check('issue', asStation({ csr: csrFor('contract-x'), lotId: 'contract-lot' }), 422)).error.code).toBe('POLICY_VIOLATION');
    expect((await check('issue', asStation({ csr: csrFor('contract-lot-3'), lotId: 'contract-lot' }, 'arn:aws:iam::123456789012:user/other'), 403)).error.code).toBe('LOT_STATION_NOT_ALLOWED');

    await check('closeLot', { pathParameters: { lotId: 'contract-lot' } }, 200);
    await check('closeLot', { pathParameters: { lotId: '-' } }, 400);
    await check('closeLot', { pathParameters: { lotId: 'no-such-lot' } }, 404);
    await check('closeLot', { pathParameters: { lotId: 'contract-lot' }, headers: { Host: 'evil.example:3000' } }, 403);
    jest.spyOn(lots, 'closeLot').mockRejectedValueOnce(bug());
    await check('closeLot', { pathParameters: { lotId: 'contract-lot' } }, 500);
    jest.spyOn(lots, 'closeLot').mockRejectedValueOnce(unavailable());
    await check('closeLot', { pathParameters: { lotId: 'contract-lot' } }, 503);
  });

  it('POST /blocked-keys and GET /blocked-keys/{spkiSha256}', async () => {
    const hash = 'c'.repeat(64);
    await check('block', json({ spkiSha256: hash, reason: 'keyCompromise', entry: 'vendor incident 42' }), 201);
    await check('block', json({ spkiSha256: hash, reason: 'keyCompromise' }), 200);
    await check('block', json({ spkiSha256s: [hash, 'd'.repeat(64)], reason: 'keyCompromise' }), 200);
    await check('block', json({ spkiSha256: 'nothex', reason: 'keyCompromise' }), 400);
    await check('block', { body: 'A'.repeat(16 * 1024 + 1), headers: { 'content-type': 'application/json' } }, 413);
    await check('block', { body: 'x', headers: { 'content-type': 'text/plain' } }, 415);
    jest.spyOn(testApp().store, 'blockKey').mockRejectedValueOnce(bug());
    await check('block', json({ spkiSha256: hash, reason: 'keyCompromise' }), 500);
    jest.spyOn(testApp().store, 'blockKey').mockRejectedValueOnce(unavailable());
    await check('block', json({ spkiSha256: hash, reason: 'keyCompromise' }), 503);
    for (const route of ['block', 'blocked'] as const) {
      await check(route, { pathParameters: { spkiSha256: hash }, headers: { Host: 'evil.example:3000' } }, 403);
    }

    expect(await check('blocked', { pathParameters: { spkiSha256: hash } }, 200)).toMatchObject({ status: 'BLOCKED', reason: 'keyCompromise', blockedByEntry: 'vendor incident 42' });
    await check('blocked', { pathParameters: { spkiSha256: 'x' } }, 400);
    await check('blocked', { pathParameters: { spkiSha256: 'e'.repeat(64) } }, 404);
    jest.spyOn(testApp().store, 'getKey').mockRejectedValueOnce(bug());
    await check('blocked', { pathParameters: { spkiSha256: hash } }, 500);
    jest.spyOn(testApp().store, 'getKey').mockRejectedValueOnce(unavailable());
    await check('blocked', { pathParameters: { spkiSha256: hash } }, 503);
  });

  it('GET /crl/{name}: every documented answer', async () => {
    await check('crl', { pathParameters: { name: 'root.crl' } }, 200);
    await check('crl', { pathParameters: { name: 'issuing-1.crl' } }, 200);
    await check('crl', { pathParameters: { name: 'issuing-42.crl' } }, 404);
    jest.spyOn(testApp().store, 'getCrlState').mockRejectedValueOnce(bug());
    await check('crl', { pathParameters: { name: 'root.crl' } }, 500);
    jest.spyOn(testApp().store, 'getCrlState').mockRejectedValueOnce(unavailable());
    await check('crl', { pathParameters: { name: 'root.crl' } }, 503);
  });

  it('GET /log/…: every documented answer', async () => {
    const t = testApp();
    jest.spyOn(t.logStore, 'getHead').mockResolvedValueOnce(undefined);
    await check('checkpoint', {}, 503);
    const { sequenceLog } = await import('../../../src/service/log-sequencer.js');
    await sequenceLog(t.logSequencing.sequencer);
    const issued = await check('issue', json({ csr: csrFor('contract-log-1') }), 201);
    await sequenceLog(t.logSequencing.sequencer);
    expect(await check('checkpoint', {}, 200)).toMatch(/^factory-ca\/local\n/);
    await check('checkpoint', { headers: { Accept: 'application/json' } }, 200);
    await check('checkpoint', { headers: { Accept: 'image/png' } }, 406);
    jest.spyOn(t.logStore, 'getHead').mockRejectedValueOnce(bug());
    await check('checkpoint', {}, 500);
    jest.spyOn(t.logStore, 'getHead').mockRejectedValueOnce(unavailable());
    await check('checkpoint', {}, 503);

    const size = (await t.logStore.getHead())!.size;
    await check('proof', { pathParameters: { serialNumber: issued.serialNumber } }, 200);
    await check('proof', { pathParameters: { serialNumber: issued.serialNumber }, query: { treeSize: String(size) } }, 200);
    await check('proof', { pathParameters: { serialNumber: 'abcdef' } }, 404);
    await check('proof', { pathParameters: { serialNumber: issued.serialNumber }, query: { treeSize: '01' } }, 400);
    await check('proof', { pathParameters: { serialNumber: issued.serialNumber }, headers: { Host: 'localhost:3000', Origin: 'https://evil.example' } }, 403);
    jest.spyOn(t.logStore, 'getEntryIndex').mockRejectedValueOnce(bug());
    await check('proof', { pathParameters: { serialNumber: issued.serialNumber } }, 500);
    jest.spyOn(t.logStore, 'getEntryIndex').mockRejectedValueOnce(unavailable());
    await check('proof', { pathParameters: { serialNumber: issued.serialNumber } }, 503);

    await check('entry', { pathParameters: { index: '0' } }, 200);
    await check('entry', { pathParameters: { index: String(size) } }, 404);
    await check('entry', { pathParameters: { index: 'x' } }, 400);
    await check('entry', { pathParameters: { index: '0' }, headers: { Host: 'evil.example:3000' } }, 403);
    jest.spyOn(t.logStore, 'getLeaf').mockRejectedValueOnce(bug());
    await check('entry', { pathParameters: { index: '0' } }, 500);
    jest.spyOn(t.logStore, 'getLeaf').mockRejectedValueOnce(unavailable());
    await check('entry', { pathParameters: { index: '0' } }, 503);

    await check('consistency', { query: { from: '0', to: String(size) } }, 200);
    await check('consistency', { query: { from: String(size), to: '0' } }, 400);
    await check('consistency', { query: { from: '0', to: String(size + 1) } }, 404);
    await check('consistency', { query: { from: '0', to: String(size) }, headers: { Host: 'localhost:3000', Origin: 'https://evil.example' } }, 403);
    jest.spyOn(t.logStore, 'getCheckpoint').mockRejectedValueOnce(bug());
    await check('consistency', { query: { from: '0', to: String(size) } }, 500);
    jest.spyOn(t.logStore, 'getCheckpoint').mockRejectedValueOnce(unavailable());
    await check('consistency', { query: { from: '0', to: String(size) } }, 503);
  });

  it('EST: GET /.well-known/est/cacerts, GET /.well-known/est/csrattrs, POST /.well-known/est/simpleenroll (errors as text)', async () => {
    const est = (cn: string, extra: Parameters<typeof subject>[0] = {}) => ({
      body: csrFor(cn, extra).replace(/-----[^-]+-----|\s/g, ''),
      headers: { 'content-type': 'application/pkcs10' },
    });
    expect(await check('cacerts', {}, 200)).toEqual(expect.any(String));
    jest.spyOn(testApp().reading.read.chains, 'activeChain').mockRejectedValueOnce(bug());
    await check('cacerts', {}, 500);
    jest.spyOn(testApp().reading.read.chains, 'activeChain').mockRejectedValueOnce(new CaError('CA_NOT_READY', 'No issuing CA has been set up yet', { retryAfterSeconds: 60 }));
    await check('cacerts', {}, 503);
    await check('csrattrs', {}, 200);

    const request = est('contract-est-1');
    await check('enroll', request, 200);
    await check('enroll', request, 200);
    expect(await check('enroll', { body: 'not base64!', headers: { 'content-type': 'application/pkcs10' } }, 400)).toMatch(/^CSR_MALFORMED: /);
    await check('enroll', est('contract-est-1'), 409);
    await check('enroll', { body: 'A'.repeat(16 * 1024 + 4), headers: { 'content-type': 'application/pkcs10' } }, 413);
    expect(await check('enroll', est('contract-est-2', { emailAddress: STRING.ia5('a@b.c') }), 422)).toMatch(/^POLICY_VIOLATION: /);
    jest.spyOn(testApp().store, 'claim').mockRejectedValueOnce(bug());
    await check('enroll', est('contract-est-3'), 500);
    jest.spyOn(testApp().issuing.issue.cas, 'activeIssuer').mockRejectedValueOnce(new CaError('SIGNER_UNAVAILABLE', 'The signing service is unavailable; retry later', { retryAfterSeconds: 2 }));
    await check('enroll', est('contract-est-4'), 503);
  });

  it('EST: POST /.well-known/est/simplereenroll, authenticated by the client certificate (errors as text)', async () => {
    const key = newP256Key();
    const otherKey = newP256Key();
    const csrOf = (cn: string, k = key, extra: Parameters<typeof subject>[0] = {}) => ({
      body: buildCsr({ key: k, subjectDer: subject({ CN: STRING.utf8(cn), ...extra }) }).replace(/-----[^-]+-----|\s/g, ''),
      headers: { 'content-type': 'application/pkcs10' },
    });
    const device = await check('issue', json({ csr: buildCsr({ key, subjectDer: subject({ CN: STRING.utf8('contract-reenroll') }) }) }), 201);
    await check('issue', json({ csr: buildCsr({ key: otherKey, subjectDer: subject({ CN: STRING.utf8('contract-reenroll-other') }) }) }), 201);
    const clientCertPem = device.certificatePem as string;
    expect(await check('reenroll', csrOf('contract-reenroll'), 401)).toMatch(/^EST_CLIENT_CERT_REQUIRED: /);
    expect(await check('reenroll', { ...csrOf('contract-reenroll-x'), clientCertPem }, 403)).toMatch(/^EST_SUBJECT_MISMATCH: /);
    expect(await check('reenroll', { body: 'not base64!', headers: { 'content-type': 'application/pkcs10' }, clientCertPem }, 400)).toMatch(/^CSR_MALFORMED: /);
    await check('reenroll', { body: 'A'.repeat(16 * 1024 + 4), headers: { 'content-type': 'application/pkcs10' }, clientCertPem }, 413);
    expect(await check('reenroll', { ...csrOf('contract-reenroll', newP256Key(), { emailAddress: STRING.ia5('a@b.c') }), clientCertPem }, 422)).toMatch(/^POLICY_VIOLATION: /);
    expect(await check('reenroll', { ...csrOf('contract-reenroll', otherKey), clientCertPem }, 409)).toMatch(/^KEY_IN_USE: /);
    jest.spyOn(testApp().store, 'getCertificate').mockRejectedValueOnce(bug());
    await check('reenroll', { ...csrOf('contract-reenroll'), clientCertPem }, 500);
    // The new certificate recorded, the old one not yet superseded: 503; the same request again completes it.
    const renewal = { ...csrOf('contract-reenroll', newP256Key()), clientCertPem };
    jest.spyOn(testApp().store, 'supersedeByReplacement').mockRejectedValueOnce(unavailable());
    await check('reenroll', renewal, 503);
    expect(await check('reenroll', renewal, 200)).toEqual(expect.any(String));
  });

  it('local mode: 403 FORBIDDEN_ORIGIN for another site\'s page or a foreign Host, on every route with configuration', async () => {
    for (const route of ['issue', 'list', 'get', 'revoke', 'ca', 'rotate'] as const) {
      const init = { pathParameters: { serialNumber: serial } };
      const page = await check(route, { ...init, headers: { Host: 'localhost:3000', Origin: 'https://evil.example' } }, 403);
      expect(page.error.code).toBe('FORBIDDEN_ORIGIN');
      const rebound = await check(route, { ...init, headers: { Host: 'evil.example:3000' } }, 403);
      expect(rebound.error.code).toBe('FORBIDDEN_ORIGIN');
    }
    // The EST routes answer the same, as text.
    for (const route of ['cacerts', 'csrattrs', 'enroll', 'reenroll'] as const) {
      expect(await check(route, { headers: { Host: 'localhost:3000', Origin: 'https://evil.example' } }, 403)).toMatch(/^FORBIDDEN_ORIGIN: /);
      expect(await check(route, { headers: { Host: 'evil.example:3000' } }, 403)).toMatch(/^FORBIDDEN_ORIGIN: /);
    }
  });

  it('every documented response was produced above, and nothing undocumented', () => {
    expect([...seen].sort()).toEqual(documentedResponses());
  });

  it('documents exactly the routes serverless.yml deploys', () => {
    const sls = parse(readFileSync(new URL('../../../serverless.yml', import.meta.url), 'utf8')) as {
      functions: Record<string, { events?: Array<{ http?: { path: string; method: string } }> }>;
    };
    const deployed = Object.values(sls.functions)
      .flatMap((f) => f.events ?? [])
      .filter((e) => e.http)
      .map((e) => `${e.http!.method.toUpperCase()} /${e.http!.path}`)
      .sort();
    const documented = [...new Set(documentedResponses().map((r) => r.split(' ').slice(0, 2).join(' ')))].sort();
    expect(deployed).toEqual(documented);
  });
});
