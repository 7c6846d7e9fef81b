/**
 * Faults at the HTTP edge, with the real SDK clients: KMS through a wire-level
 * fake (the SDK's own retries run), DynamoDB in dynalite with failures injected
 * into the client's middleware, AWS IoT failing a revocation. Whatever fails, no certificate leaves without
 * its record, the answer is the documented 503 with Retry-After and no cause,
 * and a retry afterwards issues exactly one certificate.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { DynamoDBClient, DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { composeIssuing } from '../../../src/compose/issuing.js';
import { composeLifecycle, composeRevocation, type RevocationFunction } from '../../../src/compose/operations.js';
import type { IssueDeps } from '../../../src/service/issue-certificate.js';
import type { LifecycleDeps } from '../../../src/service/ca-lifecycle.js';
import { loadConfig } from '../../../src/config/config.js';
import { issueRoute } from '../../../src/http/issuing-routes.js';
import { revokeRoute } from '../../../src/http/revocation-routes.js';
import { ensureTable, LOCAL_AWS_ENV } from '../../../src/local/local-stack.js';
import { bootstrap, rotate } from '../../../src/service/ca-lifecycle.js';
import { apiEvent, jsonPost, lambdaContext } from '../../helpers/api.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { FakeIot, iotError } from '../../helpers/iot-fake.js';
import { JitpSimulator } from '../../helpers/jitp-simulator.js';
import { FakeKms, kmsError } from '../../helpers/kms-fake.js';
import { expectConforms } from '../../helpers/openapi.js';
import { opensslVerify } from '../../helpers/openssl.js';
import { memoryLogger, memoryMetrics, startTestLedger, type TestLedger } from '../../helpers/test-app.js';

let ledger: TestLedger;
beforeAll(async () => {
  ledger = await startTestLedger();
});
afterAll(async () => {
  await ledger.close();
});
afterEach(() => {
  jest.restoreAllMocks();
});

let tables = 0;

/** A DynamoDB client whose next matching requests fail with the given error (below the document client, as the SDK would see them). */
function faultyDynamo(endpoint: string) {
  const failures: Array<{ command: string; error: Error }> = [];
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_AWS_ENV.AWS_REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const i = failures.findIndex((f) => f.command === context.commandName);
      if (i >= 0) throw failures.splice(i, 1)[0]!.error;
      return next(args);
    },
    { step: 'initialize', name: 'injectFailures' },
  );
  return { client, failNext: (command: string, error: Error) => void failures.push({ command, error }) };
}

const dynamoError = (name: string) =>
  new DynamoDBServiceException({ name, message: `${name} (injected)`, $fault: 'client', $metadata: { httpStatusCode: 400 } });

interface Stack {
  app: IssueDeps;
  lifecycleApp: LifecycleDeps;
  /** The revocation function (another Lambda in AWS; it calls AWS IoT). */
  revocation: RevocationFunction;
  kms: FakeKms;
  iot: FakeIot;
  http: ReturnType<FakeKms['httpHandler']>;
  dynamo: ReturnType<typeof faultyDynamo>;
  logger: ReturnType<typeof memoryLogger>;
  now: { t: number };
  issue(csr: string): Promise<APIGatewayProxyResult & { json: Record<string, any> }>;
  records(cn: string): Promise<number>;
}

/** A deployed-like app: the CA in (fake) KMS behind the real KMS client with retries, the ledger in dynalite. */
async function stack(): Promise<Stack> {
  const tableName = `faults-${process.pid}-${++tables}`;
  await ensureTable(ledger.client, tableName);
  const kms = new FakeKms();
  const now = { t: Date.now() };
  const clock = () => new Date(now.t);
  const config = loadConfig({
    TABLE_NAME: tableName,
    JITP_ROLE_ARN: 'arn:aws:iam::111122223333:role/jitp',
    ISSUE_ROLE_ARN: 'arn:aws:iam::111122223333:role/issue',
    LIFECYCLE_ROLE_ARN: 'arn:aws:iam::111122223333:role/lifecycle',
    IN_FLIGHT_WAIT_MS: '0',
  });
  const iot = new FakeIot({ clock });
  // Setting up (CreateKey, aliases) goes through the mock-level fake; issuing through the wire-level one.
  const setupKms = kms.install().client;
  // The lifecycle functions' own app (another Lambda in AWS).
  const operations = { dynamo: ledger.client, kms: setupKms, iot: iot.install().client, clock, logger: memoryLogger(), metrics: memoryMetrics() };
  const lifecycleApp = composeLifecycle(config, operations).lifecycle;
  const revocation = composeRevocation(config, operations);
  await bootstrap(lifecycleApp);

  const http = kms.httpHandler();
  const kmsClient = new KMSClient({ region: 'us-east-1', maxAttempts: 3, requestHandler: http, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  const dynamo = faultyDynamo(ledger.endpoint);
  const logger = memoryLogger();
  const issuing = composeIssuing(config, { dynamo: dynamo.client, kms: kmsClient, clock, logger, metrics: memoryMetrics() });
  const app = issuing.issue;
  const route = issueRoute(issuing);
  return {
    app,
    lifecycleApp,
    revocation,
    kms,
    iot,
    http,
    dynamo,
    logger,
    now,
    issue: async (csr) => {
      const res = await route(jsonPost({ csr }), lambdaContext());
      const json = JSON.parse(res.body) as Record<string, any>;
      expectConforms('POST', '/certificates', res.statusCode, json, res.headers as Record<string, string>);
      return { ...res, json };
    },
    records: async (cn) => (await app.store.listByCommonName(cn)).length,
  };
}

const csrFor = (cn: string) => buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(cn) }) });
const issuingKey = (s: Stack) => s.kms.keys.find((k) => k.aliases.some((a) => a.includes('-issuing-')))!;

describe('Faults: KMS', () => {
  it('rides out throttling through the SDK retries; past them, 503 SIGNER_UNAVAILABLE with Retry-After, nothing recorded, and a retry issues one certificate', async () => {
    // Keeps the SDK's jittered retry backoff to a few milliseconds.
    jest.spyOn(Math, 'random').mockReturnValue(0.01);
    const s = await stack();
    s.kms.failNext('Sign', kmsError('ThrottlingException', 'Rate exceeded'), 2);
    const ridden = await s.issue(csrFor('kms-throttle-1'));
    expect(ridden.statusCode).toBe(201);

    const csr = csrFor('kms-throttle-2');
    s.kms.failNext('Sign', kmsError('ThrottlingException', 'Rate exceeded'), 3);
    const before = s.http.requests;
    const refused = await s.issue(csr);
    expect([refused.statusCode, refused.json.error.code, refused.headers?.['Retry-After']]).toEqual([503, 'SIGNER_UNAVAILABLE', '2']);
    expect(s.http.requests - before).toBe(3); // the SDK tried three times
    expect(refused.body).not.toMatch(/Rate exceeded|Throttling|arn:aws/);
    expect(await s.records('kms-throttle-2')).toBe(0);

    const retried = await s.issue(csr);
    expect(retried.statusCode).toBe(201);
    expect(await s.records('kms-throttle-2')).toBe(1);
  });

  it.each([
    ['a disabled key', (s: Stack) => void (issuingKey(s).state = 'Disabled')],
    ['access denied', (s: Stack) => void s.kms.failNext('Sign', kmsError('AccessDeniedException', 'User arn:aws:sts::111122223333:assumed-role/x is not authorized'))],
  ])('answers %s with 503 SIGNER_UNAVAILABLE, Retry-After 30, the cause in the log and never in the body', async (_case, inject) => {
    const s = await stack();
    await s.issue(csrFor('kms-warm')); // the signer is built (GetPublicKey) before the fault
    inject(s);

    const res = await s.issue(csrFor('kms-denied'));

    expect([res.statusCode, res.json.error.code, res.headers?.['Retry-After']]).toEqual([503, 'SIGNER_UNAVAILABLE', '30']);
    expect(res.body).not.toMatch(/Disabled|AccessDenied|arn:aws|assumed-role/);
    const line = s.logger.entries.find((e) => e.fields.errorCode === 'SIGNER_UNAVAILABLE')!;
    expect(JSON.stringify(line.fields.error)).toMatch(/DisabledException|AccessDeniedException/);
    expect(await s.records('kms-denied')).toBe(0);
  });
});

describe('Faults: DynamoDB', () => {
  it.each([
    ['the claim write', 'PutItemCommand', 0],
    ['the certificate record write', 'PutItemCommand', 1],
  ])('a throttled %s: 503 STORE_UNAVAILABLE, no certificate returned, and a retry issues exactly one', async (_case, command, skip) => {
    const s = await stack();
    const csr = csrFor(`dynamo-${skip}`);
    // Let `skip` writes through, then throttle one.
    let seen = 0;
    s.dynamo.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === command && seen++ === skip) throw dynamoError('ProvisionedThroughputExceededException');
        return next(args);
      },
      { step: 'initialize', name: `throttleOnce${skip}` },
    );

    const refused = await s.issue(csr);
    expect([refused.statusCode, refused.json.error.code, refused.headers?.['Retry-After']]).toEqual([503, 'STORE_UNAVAILABLE', '2']);
    expect(refused.json).not.toHaveProperty('certificatePem');
    expect(await s.records(`dynamo-${skip}`)).toBe(0);

    const retried = await s.issue(csr);
    expect(retried.statusCode).toBe(201);
    expect(await s.records(`dynamo-${skip}`)).toBe(1);
  });

  it('answers a DynamoDB failure that is not transient with 500, no cause in the body, and nothing recorded', async () => {
    const s = await stack();
    s.dynamo.failNext('PutItemCommand', dynamoError('ValidationException'));
    const res = await s.issue(csrFor('dynamo-validation'));
    expect([res.statusCode, res.json.error.code]).toEqual([500, 'INTERNAL']);
    expect(res.body).not.toMatch(/ValidationException|injected/);
    expect(await s.records('dynamo-validation')).toBe(0);
  });
});

describe('Faults: a crash between signing and recording', () => {
  it('never returns the signed certificate, and leaves no half record that blocks the name past its lease', async () => {
    const s = await stack();
    const csr = csrFor('crash-1');
    // The function dies (or times out) while writing the record: the write never completes.
    jest.spyOn(s.app.store, 'putCertificate').mockImplementationOnce(() => new Promise<void>(() => undefined));
    const dying = s.issue(csr);
    const settled = await Promise.race([dying.then(() => 'answered'), new Promise((r) => setTimeout(() => r('no answer'), 300))]);
    expect(settled).toBe('no answer');
    expect(await s.records('crash-1')).toBe(0);

    // Another key for the name, while the dead request's claim is leased: refused, the claim holds.
    const during = await s.issue(csrFor('crash-1'));
    expect([during.statusCode, during.json.error.code]).toEqual([409, 'DUPLICATE_COMMON_NAME']);

    // Past the lease (120 s), the station's retry is issued; exactly one record.
    s.now.t += 121_000;
    const retried = await s.issue(csr);
    expect(retried.statusCode).toBe(201);
    expect(await s.records('crash-1')).toBe(1);
  });
});

describe('Faults: the CA pointer changing mid-request (rotation)', () => {
  it('finishes the request with the CA it started with; the certificate verifies and names that CA', async () => {
    const s = await stack();
    await s.issue(csrFor('rotate-warm'));
    const before = (await s.app.cas.activeIssuer()).record.id;
    // Rotate right after the request has taken its claim (after it resolved the active CA).
    const claim = s.app.store.claim.bind(s.app.store);
    jest.spyOn(s.app.store, 'claim').mockImplementationOnce(async (c) => {
      await rotate(s.lifecycleApp, { force: true });
      return claim(c);
    });

    const res = await s.issue(csrFor('rotate-mid'));

    expect(res.statusCode).toBe(201);
    expect(res.json.issuingCaId).toBe(before);
    expect(await s.lifecycleApp.store.getActiveIssuingCaId()).not.toBe(before);
    expect(opensslVerify(res.json.rootCertificatePem, res.json.caCertificatePem, res.json.certificatePem)).toMatch(/OK/);
  });
});

describe('Route: POST /certificates/{serialNumber}/revoke with AWS IoT failing', () => {
  const revokeEvent = (serialNumber: string) =>
    apiEvent({ method: 'POST', pathParameters: { serialNumber }, body: '{"reason":"keyCompromise"}', headers: { 'content-type': 'application/json' } });
  const call = async (s: Stack, serial: string) => {
    const res = await revokeRoute(s.revocation)(revokeEvent(serial), lambdaContext());
    return { ...res, json: JSON.parse(res.body) as Record<string, any> };
  };

  it('answers 503 IOT_UNAVAILABLE with Retry-After when AWS IoT is throttled; the ledger is revoked and a repeat finishes', async () => {
    const s = await stack();
    const device = (await s.issue(csrFor('device-throttled'))).json;
    await new JitpSimulator(s.iot).connect(device.certificatePem);
    s.iot.failNext('UpdateCertificate', iotError('ThrottlingException'));

    const first = await call(s, device.serialNumber);

    expect([first.statusCode, first.json.error.code, first.headers?.['Retry-After']]).toEqual([503, 'IOT_UNAVAILABLE', '5']);
    expect(first.json.error.message).toMatch(/revoked in the ledger/);
    expect((await s.app.store.getCertificate(device.serialNumber))?.status).toBe('REVOKED');
    const second = await call(s, device.serialNumber);
    expect(second.statusCode).toBe(200);
    expect(second.json).toMatchObject({ alreadyRevoked: true, iot: { outcome: 'REVOKED', wasRegistered: true } });
    expect([...s.iot.certificates.values()].map((c) => c.status)).toEqual(['REVOKED']);
  });

  it('answers 500 without the cause when AWS IoT denies access', async () => {
    const s = await stack();
    const device = (await s.issue(csrFor('device-denied'))).json;
    s.iot.failNext('UpdateCertificate', iotError('AccessDeniedException', 'User: arn:aws:sts::111122223333:assumed-role/x is not authorized'));

    const res = await call(s, device.serialNumber);

    expect([res.statusCode, res.json.error.code]).toEqual([500, 'INTERNAL']);
    expect(res.body).not.toMatch(/assumed-role|AccessDenied/);
  });
});
