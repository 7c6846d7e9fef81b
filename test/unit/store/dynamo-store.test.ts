import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  DynamoDBServiceException,
  ProvisionedThroughputExceededException,
  ThrottlingException,
} from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { DynamoStore } from '../../../src/store/dynamo-store.js';
import { COMMON_NAME_INDEX } from '../../../src/store/table.js';
import { CaError } from '../../../src/service/errors.js';
import type { CertificateRecord } from '../../../src/service/ports.js';
import { rejectionOf } from '../../helpers/errors.js';
import { caRecord, certificate, claimFor } from '../../helpers/ledger-records.js';

// What every store does is in store-contract.test.ts (run on dynalite and on the
// in-memory store); here, what only DynamoStore does: its requests and its errors.
describe('Class: DynamoStore', () => {
  describe('with the SDK mocked', () => {
    // DynamoStore talks through a DynamoDBDocumentClient made with DynamoDBDocumentClient.from(client).
    // That client shares the DynamoDBClient's config and middleware but has its own `send`, so the
    // mock goes on DynamoDBDocumentClient (a mock on DynamoDBClient#send would never see these calls).
    let mock: AwsClientStub<DynamoDBDocumentClient>;
    let store: DynamoStore;

    beforeEach(() => {
      mock = mockClient(DynamoDBDocumentClient);
      const client = new DynamoDBClient({
        region: 'us-east-1',
        credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake' },
        maxAttempts: 1,
        requestHandler: {
          handle: async () => {
            throw new Error('a DynamoDB request escaped the mock (no AWS calls in tests)');
          },
        },
      });
      store = new DynamoStore(client, 'ledger');
    });
    afterEach(() => {
      mock.restore();
    });

    const metadata = { httpStatusCode: 400, requestId: 'req-1' };

    it.each([
      ['ProvisionedThroughputExceededException', () => new ProvisionedThroughputExceededException({ message: 'The level of configured provisioned throughput for the table was exceeded', $metadata: metadata })],
      ['ThrottlingException', () => new ThrottlingException({ message: 'Rate of requests exceeds the allowed throughput', $metadata: metadata })],
      ['RequestLimitExceeded', () => new DynamoDBServiceException({ name: 'RequestLimitExceeded', $fault: 'client', message: 'Throughput exceeds the current throughput limit for your account', $metadata: metadata })],
      ['InternalServerError', () => new DynamoDBServiceException({ name: 'InternalServerError', $fault: 'server', message: 'Internal server error', $metadata: { ...metadata, httpStatusCode: 500 } })],
      ['a socket error', () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ])('turns %s on PutItem into STORE_UNAVAILABLE with a retry delay', async (_name, makeError) => {
      // Prepare
      const cause = makeError();
      mock.on(PutCommand).rejects(cause);

      // Act
      const error = await rejectionOf(store.putCertificate(certificate()));

      // Assess
      expect(error).toBeInstanceOf(CaError);
      expect((error as CaError).code).toBe('STORE_UNAVAILABLE');
      expect((error as CaError).retryAfterSeconds).toBeGreaterThan(0);
      expect((error as CaError).cause).toBe(cause);
      expect((error as CaError).message).not.toContain(cause.message);
    });

    it('turns throttling on the claim put into STORE_UNAVAILABLE (not a claim held by nobody)', async () => {
      // Prepare
      mock.on(PutCommand).rejects(new ProvisionedThroughputExceededException({ message: 'exceeded', $metadata: metadata }));

      // Act
      const error = await rejectionOf(store.claim(claimFor('CN#device-0001', 'aa01')));

      // Assess
      expect((error as CaError).code).toBe('STORE_UNAVAILABLE');
      expect((error as CaError).retryAfterSeconds).toBe(2);
      expect(mock.commandCalls(GetCommand)).toHaveLength(0);
    });

    it('turns a ValidationException into INTERNAL without a retry delay', async () => {
      // Prepare
      const cause = new DynamoDBServiceException({
        name: 'ValidationException',
        $fault: 'client',
        message: 'One or more parameter values were invalid: Missing the key pk in the item',
        $metadata: metadata,
      });
      mock.on(PutCommand).rejects(cause);

      // Act
      const error = await rejectionOf(store.putCa(caRecord('issuing-1')));

      // Assess
      expect(error).toBeInstanceOf(CaError);
      expect((error as CaError).code).toBe('INTERNAL');
      expect((error as CaError).retryAfterSeconds).toBeUndefined();
      expect((error as CaError).cause).toBe(cause);
    });

    it('translates a failing read (GetItem) as well', async () => {
      // Prepare
      mock.on(GetCommand).rejects(new ThrottlingException({ message: 'slow down', $metadata: metadata }));

      // Act
      const error = await rejectionOf(store.getCertificate('aa01'));

      // Assess
      expect((error as CaError).code).toBe('STORE_UNAVAILABLE');
    });

    it('translates a failing delete, but swallows a failed release condition', async () => {
      // Prepare
      mock
        .on(DeleteCommand)
        .rejectsOnce(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: metadata }))
        .rejectsOnce(new ProvisionedThroughputExceededException({ message: 'exceeded', $metadata: metadata }));

      // Act
      const afterConditionFailure = await store.releaseClaim('CN#device-0001', 'aa01');
      const throttled = await rejectionOf(store.releaseClaim('CN#device-0001', 'aa01'));

      // Assess
      expect(afterConditionFailure).toBeUndefined();
      expect((throttled as CaError).code).toBe('STORE_UNAVAILABLE');
      expect(mock.commandCalls(DeleteCommand)[0]!.args[0].input).toMatchObject({
        Key: { pk: 'CLAIM#CN#device-0001' },
        ConditionExpression: 'serialNumber = :serial',
        ExpressionAttributeValues: { ':serial': 'aa01' },
      });
    });

    it('reads the holder (consistently) when the claim put fails its condition', async () => {
      // Prepare
      const holder = claimFor('CN#device-0001', 'aa01');
      mock.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: metadata }));
      mock.on(GetCommand).resolves({ Item: { pk: 'CLAIM#CN#device-0001', type: 'claim', ...holder } });

      // Act
      const result = await store.claim(claimFor('CN#device-0001', 'bb02'));

      // Assess
      expect(result).toStrictEqual(holder);
      expect(mock.commandCalls(PutCommand)[0]!.args[0].input).toMatchObject({
        TableName: 'ledger',
        ConditionExpression: 'attribute_not_exists(pk) OR #token = :token',
        ExpressionAttributeNames: { '#token': 'token' },
        Item: { pk: 'CLAIM#CN#device-0001', serialNumber: 'bb02' },
      });
      expect(mock.commandCalls(GetCommand)[0]!.args[0].input).toEqual({
        TableName: 'ledger',
        Key: { pk: 'CLAIM#CN#device-0001' },
        ConsistentRead: true,
      });
    });

    it('tries again when the holder vanished between the failed put and the read, and succeeds', async () => {
      // Prepare
      mock
        .on(PutCommand)
        .rejectsOnce(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: metadata }))
        .resolvesOnce({});
      mock.on(GetCommand).resolves({});

      // Act
      const result = await store.claim(claimFor('CN#device-0001', 'bb02'));

      // Assess
      expect(result).toBeUndefined();
      expect(mock.commandCalls(PutCommand)).toHaveLength(2);
    });

    it('gives up with STORE_UNAVAILABLE after three rounds of put-fails/holder-gone', async () => {
      // Prepare
      mock.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: metadata }));
      mock.on(GetCommand).resolves({});

      // Act
      const error = await rejectionOf(store.claim(claimFor('CN#device-0001', 'bb02')));

      // Assess
      expect((error as CaError).code).toBe('STORE_UNAVAILABLE');
      expect((error as CaError).retryAfterSeconds).toBe(1);
      expect(mock.calls()).toHaveLength(6);
    });

    it('makes exactly 2 DynamoDB calls for a successful claim and certificate record', async () => {
      // Prepare
      mock.on(PutCommand).resolves({});
      const record = certificate();

      // Act
      await store.claim(claimFor(`CN#${record.commonName}`, record.serialNumber));
      await store.putCertificate(record);

      // Assess
      expect(mock.calls()).toHaveLength(2);
      expect(mock.commandCalls(PutCommand)[1]!.args[0].input).toMatchObject({
        // Idempotent for this record: a retry that meets its own landed write succeeds.
        ConditionExpression: 'attribute_not_exists(pk) OR certificateId = :id',
        ExpressionAttributeValues: { ':id': record.certificateId },
        Item: { pk: `CERT#${record.serialNumber}`, gsi1pk: `CN#${record.commonName}`, gsi1sk: `${record.issuedAt}#${record.serialNumber}` },
      });
    });

    it('writes every index attribute with a certificate', async () => {
      // Prepare
      mock.on(PutCommand).resolves({});
      const record = certificate({ commonName: 'device-7', issuingCaId: 'issuing-3', stationId: 'line-2', issuedAt: '2025-03-04T05:06:07.890Z' });

      // Act
      await store.putCertificate(record);

      // Assess
      expect(mock.commandCalls(PutCommand)[0]!.args[0].input.Item).toStrictEqual({
        pk: `CERT#${record.serialNumber}`,
        type: 'certificate',
        ...record,
        gsi1pk: 'CN#device-7',
        gsi2pk: 'CA#issuing-3',
        gsi3pk: 'STATION#line-2',
        gsi4pk: 'STATUS#ISSUED',
        gsi5pk: 'DAY#2025-03-04',
        gsi1sk: `2025-03-04T05:06:07.890Z#${record.serialNumber}`,
        gsi7pk: 'LOG#QUEUED',
      });
    });

    it('moves a revoked certificate to the REVOKED partition of the status index in the same update', async () => {
      // Prepare
      mock.on(UpdateCommand).resolves({ Attributes: { pk: 'CERT#0a', gsi4pk: 'STATUS#REVOKED', ...certificate({ serialNumber: '0a', status: 'REVOKED' }) } });

      // Act
      const revoked = await store.revokeCertificate('0a', '2025-06-01T00:00:00.000Z', 'superseded');

      // Assess
      const update = mock.commandCalls(UpdateCommand)[0]!.args[0].input;
      expect(update.UpdateExpression).toContain('#statusKey = :revokedKey');
      expect(update.ExpressionAttributeNames).toMatchObject({ '#statusKey': 'gsi4pk' });
      // And queues it for the issuance log's revocation entry.
      expect(update.UpdateExpression).toContain('#logQueue = :queued');
      expect(update.ExpressionAttributeNames).toMatchObject({ '#logQueue': 'gsi7pk' });
      expect(update.ExpressionAttributeValues).toMatchObject({ ':queued': 'LOG#QUEUED' });
      expect(update.ExpressionAttributeValues).toMatchObject({ ':revokedKey': 'STATUS#REVOKED' });
      expect(revoked).not.toHaveProperty('gsi4pk');
    });

    it('queries one index partition with every value as an expression attribute value', async () => {
      // Prepare
      mock.on(QueryCommand).resolves({ Items: [] });
      const hostile = "x' OR #pk = :pk) --";

      // Act
      await store.listCertificates({ filters: { issuingCaId: 'issuing-1', stationId: hostile, status: 'ISSUED', issuedAfter: '2025-01-01T00:00:00.000Z' }, limit: 25 });

      // Assess
      const [query] = mock.commandCalls(QueryCommand).map((c) => c.args[0].input);
      expect(query).toStrictEqual({
        TableName: 'ledger',
        IndexName: 'byIssuingCa',
        KeyConditionExpression: '#pk = :pk AND #order >= :from',
        FilterExpression: '#f0 = :f0 AND #f1 = :f1',
        ExpressionAttributeNames: { '#pk': 'gsi2pk', '#order': 'gsi1sk', '#f0': 'stationId', '#f1': 'status' },
        ExpressionAttributeValues: { ':pk': 'CA#issuing-1', ':from': '2025-01-01T00:00:00.000Z', ':f0': hostile, ':f1': 'ISSUED' },
        Limit: 25,
      });
    });

    it('writes a certificate without a common name outside the common-name index, and a claim as one item of its own', async () => {
      // Prepare
      mock.on(PutCommand).resolves({});
      const nameless = certificate({ commonName: undefined });

      // Act
      await store.putCertificate(nameless);
      await store.claim(claimFor(`CSR#${nameless.csrSha256}`, nameless.serialNumber));

      // Assess
      const [cert, claim] = mock.commandCalls(PutCommand).map((c) => c.args[0].input.Item!);
      expect(cert).toMatchObject({ pk: `CERT#${nameless.serialNumber}`, type: 'certificate' });
      expect(cert).not.toHaveProperty('gsi1pk');
      expect(claim).toEqual({ pk: `CLAIM#CSR#${nameless.csrSha256}`, type: 'claim', ...claimFor(`CSR#${nameless.csrSha256}`, nameless.serialNumber) });
    });

    it('follows LastEvaluatedKey through every page of the common-name index', async () => {
      // Prepare
      const a = certificate({ commonName: 'device-a' });
      const b = certificate({ commonName: 'device-a' });
      const index = (r: CertificateRecord) => ({ pk: `CERT#${r.serialNumber}`, type: 'certificate', gsi1pk: 'CN#device-a', gsi1sk: `${r.issuedAt}#${r.serialNumber}`, ...r });
      const lastKey = { pk: `CERT#${a.serialNumber}`, gsi1pk: 'CN#device-a', gsi1sk: `${a.issuedAt}#${a.serialNumber}` };
      mock.on(QueryCommand).resolvesOnce({ Items: [index(a)], LastEvaluatedKey: lastKey }).resolvesOnce({ Items: [index(b)] });

      // Act
      const listed = await store.listByCommonName('device-a');

      // Assess
      expect(listed).toStrictEqual([a, b]);
      const queries = mock.commandCalls(QueryCommand).map((c) => c.args[0].input);
      expect(queries).toHaveLength(2);
      expect(queries[0]).toMatchObject({ IndexName: COMMON_NAME_INDEX, ExpressionAttributeValues: { ':cn': 'CN#device-a' } });
      expect(queries[0]).not.toHaveProperty('ExclusiveStartKey');
      expect(queries[1]!.ExclusiveStartKey).toEqual(lastKey);
    });
  });
});
