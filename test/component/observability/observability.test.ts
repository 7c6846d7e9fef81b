import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { createLogger } from '../../../src/observability/logger.js';
import { count, createMetrics, METRIC, MetricUnit } from '../../../src/observability/metrics.js';
import { CaError } from '../../../src/service/errors.js';
import { apiEvent, jsonPost, lambdaContext } from '../../helpers/api.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { composeLifecycle } from '../../../src/compose/operations.js';
import { bootstrapJob } from '../../../src/jobs/lifecycle-jobs.js';
import { createTestApp, memoryLogger, memoryMetrics, routesOf, startTestLedger, type TestApp, type TestLedger } from '../../helpers/test-app.js';

/** Everything written to stdout and stderr while `run` runs (Powertools writes there). */
async function stdoutOf(run: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const capture = (chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  };
  const spies = [jest.spyOn(process.stdout, 'write').mockImplementation(capture), jest.spyOn(process.stderr, 'write').mockImplementation(capture)];
  try {
    await run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return lines;
}

let ledger: TestLedger;
let t: TestApp;
const metrics = memoryMetrics();
beforeAll(async () => {
  ledger = await startTestLedger();
  // The real logger (Powertools), writing to stdout.
  t = await createTestApp(ledger, {}, { logger: createLogger(), metrics });
});
afterAll(async () => {
  t.cleanup();
  await ledger.close();
});
afterEach(() => {
  jest.restoreAllMocks();
});

const call = async (h: (e: ReturnType<typeof apiEvent>, c: ReturnType<typeof lambdaContext>) => Promise<APIGatewayProxyResult>, e: ReturnType<typeof apiEvent>) => {
  const res = await h(e, lambdaContext());
  return { ...res, json: JSON.parse(res.body) as Record<string, any> };
};
const routes = routesOf(() => t);
const issue = routes.issue;
const csrFor = (cn: string, extra: Parameters<typeof subject>[0] = {}) =>
  buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(cn), ...extra }) });
/** A 48-character run from the middle of a PEM's base64: it must never appear in a log. */
const innerChunk = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '').slice(100, 148);

describe('Structured logs (Powertools Logger)', () => {
  it('writes one JSON line per request with the facts an operator needs, a correlation id, and no PEM or CSR', async () => {
    const csr = csrFor('log-device-1');
    const event = { ...jsonPost({ csr }), requestContext: { ...apiEvent({ userArn: 'arn:aws:iam::123456789012:user/station-7' }).requestContext, requestId: 'apigw-req-1' } };
    let res: Awaited<ReturnType<typeof call>> | undefined;

    const lines = await stdoutOf(async () => {
      res = await call(issue, event);
    });

    expect(res!.statusCode).toBe(201);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const request = records.find((r) => r.message === 'request')!;
    expect(request).toMatchObject({
      level: 'INFO',
      service: 'factory-ca',
      correlation_id: 'apigw-req-1',
      route: 'POST /certificates',
      status: 201,
      outcome: 'success',
      serialNumber: res!.json.serialNumber,
      commonName: 'log-device-1',
      stationId: 'arn:aws:iam::123456789012:user/station-7',
      issuingCaId: res!.json.issuingCaId,
    });
    expect(typeof request.durationMs).toBe('number');
    expect(typeof request.timestamp).toBe('string');
    const text = lines.join('\n');
    expect(text).not.toMatch(/BEGIN|PRIVATE KEY/);
    expect(text).not.toContain(innerChunk(csr));
    expect(text).not.toContain(innerChunk(res!.json.certificatePem));
    expect(text).not.toContain(innerChunk(res!.json.caCertificatePem));
  });

  it('logs a rejection with its code and reason, and a failure with its cause, which the response does not carry', async () => {
    const rejected = await stdoutOf(async () => void (await call(issue, jsonPost({ csr: csrFor('log-device-2', { emailAddress: STRING.ia5('a@b.c') }) }))));
    expect(JSON.parse(rejected.find((l) => l.includes('"request"'))!)).toMatchObject({ level: 'INFO', outcome: 'rejected', errorCode: 'POLICY_VIOLATION', status: 422 });

    jest.spyOn(t.store, 'claim').mockRejectedValueOnce(new Error('disk on fire at /var/lib/secret-path'));
    let body = '';
    const failed = await stdoutOf(async () => {
      body = (await call(issue, jsonPost({ csr: csrFor('log-device-3') }))).body;
    });
    const line = JSON.parse(failed.find((l) => l.includes('request failed'))!) as Record<string, any>;
    expect(line).toMatchObject({ level: 'ERROR', outcome: 'failed', status: 500, errorCode: 'INTERNAL' });
    expect(JSON.stringify(line.error)).toContain('disk on fire');
    expect(body).not.toContain('disk on fire');
  });

  it('redacts PEM-bearing keys even if a caller passes them', async () => {
    const lines = await stdoutOf(async () => createLogger().info('oops', { certificatePem: '-----BEGIN CERTIFICATE-----x', csr: 'MIIB', serialNumber: '01' }));
    expect(JSON.parse(lines[0]!)).toMatchObject({ certificatePem: '[redacted]', csr: '[redacted]', serialNumber: '01' });
  });
});

describe('Metrics', () => {
  it('counts issued certificates, rejections by reason, server and signer failures', async () => {
    const before = {
      issued: metrics.counts(METRIC.issued),
      policy: metrics.counts(METRIC.rejected, { Reason: 'POLICY_VIOLATION' }),
      signer: metrics.counts(METRIC.signerFailures),
      server: metrics.counts(METRIC.serverErrors),
    };
    await stdoutOf(async () => {
      await call(issue, jsonPost({ csr: csrFor('metric-device-1') }));
      await call(issue, jsonPost({ csr: csrFor('metric-device-2', { emailAddress: STRING.ia5('a@b.c') }) }));
      await call(issue, jsonPost({ csr: 'not a csr' }));
      jest.spyOn(t.issuing.issue.cas, 'activeIssuer').mockRejectedValueOnce(new CaError('SIGNER_UNAVAILABLE', 'x', { retryAfterSeconds: 2 }));
      await call(issue, jsonPost({ csr: csrFor('metric-device-3') }));
      await call(routes.getCertificate, apiEvent({ pathParameters: { serialNumber: '00ff' } }));
    });
    expect(metrics.counts(METRIC.issued)).toBe(before.issued + 1);
    expect(metrics.counts(METRIC.rejected, { Reason: 'POLICY_VIOLATION' })).toBe(before.policy + 1);
    expect(metrics.counts(METRIC.rejected, { Reason: 'CSR_MALFORMED' })).toBeGreaterThanOrEqual(1);
    expect(metrics.counts(METRIC.signerFailures)).toBe(before.signer + 1);
    expect(metrics.counts(METRIC.serverErrors)).toBe(before.server + 1);
  });

  it('counts a replay of an identical CSR (200, the same certificate) as no issuance', async () => {
    const csr = csrFor('metric-replay');
    const first = await call(issue, jsonPost({ csr }));
    expect(first.statusCode).toBe(201);
    const issued = metrics.counts(METRIC.issued);
    const replay = await call(issue, jsonPost({ csr }));
    expect([replay.statusCode, replay.json.serialNumber]).toEqual([200, first.json.serialNumber]);
    expect(metrics.counts(METRIC.issued)).toBe(issued);
    expect(metrics.counts(METRIC.rejected, { Reason: 'DUPLICATE_COMMON_NAME' })).toBe(0);
  });

  it('counts rejections by reason on the issuing route only, not on reads', async () => {
    const before = metrics.counts(METRIC.rejected, { Reason: 'NOT_FOUND' });
    await call(routes.getCertificate, apiEvent({ pathParameters: { serialNumber: '00ee' } }));
    expect(metrics.counts(METRIC.rejected, { Reason: 'NOT_FOUND' })).toBe(before);
  });

  it('writes CloudWatch embedded metric format in the factory-ca namespace', async () => {
    const m = createMetrics();
    const lines = await stdoutOf(async () => {
      count(m, METRIC.issued);
      m.addMetric(METRIC.kmsSignLatency, MetricUnit.Milliseconds, 12.5);
      m.publishStoredMetrics();
      count(m, METRIC.rejected, { Reason: 'KEY_NOT_ALLOWED' });
      m.publishStoredMetrics(); // nothing buffered: no empty-metrics line, and no warning about it
    });
    const blobs = lines.map((l) => JSON.parse(l) as Record<string, any>);
    expect(blobs).toHaveLength(2);
    const buffered = blobs.find((b) => METRIC.issued in b)!;
    expect(buffered._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'factory-ca', Dimensions: [['service']] });
    expect(buffered).toMatchObject({ service: 'factory-ca', [METRIC.issued]: 1, [METRIC.kmsSignLatency]: 12.5 });
    const dimensioned = blobs.find((b) => METRIC.rejected in b)!;
    expect(dimensioned).toMatchObject({ Reason: 'KEY_NOT_ALLOWED', [METRIC.rejected]: 1 });
    expect(dimensioned._aws.CloudWatchMetrics[0].Dimensions[0]).toEqual(expect.arrayContaining(['service', 'Reason']));
  });
});

describe('The jobs and the cold start', () => {
  it('runs the bootstrap job through the same Powertools stack: a job line, the CA validity gauges, the cold-start metric', async () => {
    // Powertools counts a cold start only in an on-demand Lambda environment.
    process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
    const jobMetrics = memoryMetrics();
    delete process.env.AWS_LAMBDA_INITIALIZATION_TYPE;
    const logger = memoryLogger();
    const job = bootstrapJob(composeLifecycle(t.config, { store: t.store, logKeys: t.logStore, logger, metrics: jobMetrics }));
    const report = await job(undefined, { ...lambdaContext(), functionName: 'factory-ca-test-bootstrap' });
    expect(report.activeIssuingCaId).toBe('issuing-1');
    expect(logger.entries.find((e) => e.message === 'bootstrap')?.fields).toMatchObject({ job: 'bootstrap', outcome: 'success' });
    expect(jobMetrics.counts(METRIC.issuingCaDaysRemaining)).toBeGreaterThan(3000);
    expect(jobMetrics.counts('ColdStart', { function_name: 'factory-ca-test-bootstrap' })).toBe(1);
    await job(undefined, { ...lambdaContext(), functionName: 'factory-ca-test-bootstrap' });
    expect(jobMetrics.counts('ColdStart', { function_name: 'factory-ca-test-bootstrap' })).toBe(1);
  });

  it('logs a failed job with its cause and rethrows', async () => {
    const logger = memoryLogger();
    const store = Object.create(t.store) as typeof t.store;
    store.getActiveIssuingCaId = () => Promise.reject(new Error('table gone'));
    const job = bootstrapJob(composeLifecycle(t.config, { store, logKeys: t.logStore, logger, metrics: memoryMetrics() }));
    await expect(job(undefined, lambdaContext())).rejects.toThrow('table gone');
    const line = logger.entries.find((e) => e.message === 'bootstrap failed')!;
    expect(line.level).toBe('ERROR');
    expect(JSON.stringify(line.fields.error)).toContain('table gone');
  });
});
