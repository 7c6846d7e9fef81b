import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { issueRoute, getCertificateRoute } from '../../../src/http/routes.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics, METRIC } from '../../../src/observability/metrics.js';
import { CaError } from '../../../src/pki/errors.js';
import { apiEvent, jsonPost, lambdaContext } from '../../helpers/api.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { createTestApp, memoryMetrics, startTestLedger, type TestApp, type TestLedger } from '../../helpers/test-app.js';

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
const issue = issueRoute(() => t.app);
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

    jest.spyOn(t.app.store, 'putCertificate').mockRejectedValueOnce(new Error('disk on fire at /var/lib/secret-path'));
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
      jest.spyOn(t.app.cas, 'activeIssuer').mockRejectedValueOnce(new CaError('SIGNER_UNAVAILABLE', 'x', { retryAfterSeconds: 2 }));
      await call(issue, jsonPost({ csr: csrFor('metric-device-3') }));
      await call(getCertificateRoute(() => t.app), apiEvent({ pathParameters: { serialNumber: '00ff' } }));
    });
    expect(metrics.counts(METRIC.issued)).toBe(before.issued + 1);
    expect(metrics.counts(METRIC.rejected, { Reason: 'POLICY_VIOLATION' })).toBe(before.policy + 1);
    expect(metrics.counts(METRIC.rejected, { Reason: 'CSR_MALFORMED' })).toBeGreaterThanOrEqual(1);
    expect(metrics.counts(METRIC.signerFailures)).toBe(before.signer + 1);
    expect(metrics.counts(METRIC.serverErrors)).toBe(before.server + 1);
  });

  it('writes CloudWatch embedded metric format in the factory-ca namespace', async () => {
    const m = createMetrics();
    const lines = await stdoutOf(async () => {
      m.count(METRIC.issued);
      m.milliseconds(METRIC.kmsSignLatency, 12.5);
      m.flush();
      m.count(METRIC.rejected, { Reason: 'KEY_NOT_ALLOWED' });
      m.flush(); // nothing buffered: no empty-metrics line
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
