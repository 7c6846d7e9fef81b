import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { composeIssuing } from '../../../src/compose/issuing.js';
import { composeLifecycle } from '../../../src/compose/operations.js';
import { loadConfig } from '../../../src/config/config.js';
import { ensureTable, localDynamoClient } from '../../../src/local/local-stack.js';
import { bootstrap } from '../../../src/service/ca-lifecycle.js';
import { issueCertificate } from '../../../src/service/issue-certificate.js';
import { buildCsr, newP256Key, STRING, subject } from '../../helpers/csr-builder.js';
import { FakeIot } from '../../helpers/iot-fake.js';
import { FakeKms } from '../../helpers/kms-fake.js';
import { opensslVerify } from '../../helpers/openssl.js';
import { memoryLogger, memoryMetrics, startTestLedger, type TestLedger } from '../../helpers/test-app.js';

/** Counts every DynamoDB request the client sends (by command name), below the document client. */
function countRequests(client: DynamoDBClient): Map<string, number> {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  return counts;
}

let ledger: TestLedger;
beforeAll(async () => {
  ledger = await startTestLedger();
});
afterAll(async () => {
  await ledger.close();
});

describe('AWS round trips per certificate on a warm function', () => {
  it('one kms:Sign, three DynamoDB writes and one pointer read for a new certificate; no GetPublicKey and no CA read', async () => {
    // A deployed-like app: CA keys in (fake) KMS, the CA cache as configured (300 s).
    const tableName = `sdk-calls-${process.pid}`;
    await ensureTable(ledger.client, tableName);
    const kms = new FakeKms();
    const iot = new FakeIot();
    const config = loadConfig({
      TABLE_NAME: tableName,
      JITP_ROLE_ARN: 'arn:aws:iam::111122223333:role/jitp',
      ISSUE_ROLE_ARN: 'arn:aws:iam::111122223333:role/issue',
      LIFECYCLE_ROLE_ARN: 'arn:aws:iam::111122223333:role/lifecycle',
    });
    const kmsClient = kms.install().client;
    await bootstrap(composeLifecycle(config, { dynamo: ledger.client, kms: kmsClient, iot: iot.install().client, logger: memoryLogger(), metrics: memoryMetrics() }).lifecycle);

    // The issuing function's own container: its own DynamoDB client, counted.
    const dynamo = localDynamoClient(ledger.endpoint);
    const counts = countRequests(dynamo);
    const app = composeIssuing(config, { dynamo, kms: kmsClient, logger: memoryLogger(), metrics: memoryMetrics() });
    const issue = (cn: string) =>
      issueCertificate(app.issue, { csr: buildCsr({ key: newP256Key(), subjectDer: subject({ CN: STRING.utf8(cn) }) }), stationId: 's' });

    // Cold: the pointer, the CA records and the KMS public key are read once.
    const bootstrapCalls = kms.callsOf('GetPublicKey').length;
    const first = await issue('sdk-cold');
    expect(kms.callsOf('GetPublicKey').length - bootstrapCalls).toBe(1);
    expect(counts.get('GetItemCommand')).toBe(4); // the pointer, the issuing CA, the root; the pointer again after recording
    const kmsBefore = { sign: kms.callsOf('Sign').length, getPublicKey: kms.callsOf('GetPublicKey').length };
    counts.clear();

    const n = 20;
    for (let i = 0; i < n; i++) await issue(`sdk-warm-${i}`);

    expect(kms.callsOf('Sign').length - kmsBefore.sign).toBe(n);
    expect(kms.callsOf('GetPublicKey').length - kmsBefore.getPublicKey).toBe(0);
    // The claim, the key index entry and the record; one read of the pointer after recording (a rotation takes effect at once).
    expect(Object.fromEntries(counts)).toEqual({ PutItemCommand: 3 * n, GetItemCommand: n });
    expect(opensslVerify(first.ca.rootCertificatePem, first.ca.caCertificatePem, first.record.certificatePem)).toMatch(/OK/);
    dynamo.destroy();
  });
});
