import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  DynamoDBServiceException,
  ProvisionedThroughputExceededException,
  ScanCommand,
  ThrottlingException,
} from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { DynamoStore } from '../../../src/store/dynamo-store.js';
import { COMMON_NAME_INDEX } from '../../../src/store/table.js';
import { ensureTable } from '../../../src/local/local-stack.js';
import { CaError } from '../../../src/pki/errors.js';
import { SerialCollisionError, type CaRecord, type CertificateRecord, type Claim } from '../../../src/service/ports.js';
import { startTestLedger, type TestLedger } from '../../helpers/test-app.js';

let counter = 0;
const serial = () => `${(0x10 + ++counter).toString(16)}${'ab'.repeat(8)}`;

function certificate(overrides: Partial<CertificateRecord> = {}): CertificateRecord {
  const serialNumber = overrides.serialNumber ?? serial();
  const commonName = 'commonName' in overrides ? overrides.commonName : 'device-0001';
  const record: CertificateRecord = {
    serialNumber,
    certificateId: `${serialNumber}-id`,
    profile: 'device',
    subject: { C: 'US', O: 'Example Corp', ...(commonName !== undefined ? { CN: commonName } : {}) },
    subjectDn: `C=US, O=Example Corp${commonName !== undefined ? `, CN=${commonName}` : ''}`,
    issuingCaId: 'issuing-0a0b0c0d0e0f',
    notBefore: '2025-01-01T00:00:00.000Z',
    notAfter: '2035-01-01T00:00:00.000Z',
    csrSha256: 'c'.repeat(64),
    publicKeySha256: 'd'.repeat(64),
    stationId: 'arn:aws:sts::111122223333:assumed-role/station/line-7',
    certificatePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    status: 'ISSUED',
    issuedAt: '2025-01-01T00:05:00.000Z',
    ...overrides,
  };
  if (commonName === undefined) delete record.commonName;
  else record.commonName = commonName;
  return record;
}

const claimFor = (key: string, serialNumber: string, leaseExpiresAt = 1_767_225_600_000): Claim => ({
  key,
  serialNumber,
  csrSha256: 'e'.repeat(64),
  leaseExpiresAt,
});

function caRecord(id: string, overrides: Partial<CaRecord> = {}): CaRecord {
  return {
    id,
    role: 'issuing',
    parentId: 'root-010203040506',
    key: { kind: 'kms', keyId: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' },
    certificatePem: '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n',
    fingerprintSha256: 'f'.repeat(64),
    subject: 'C=US, O=Example Corp, CN=Example Corp Issuing CA',
    keyIdentifier: '0123456789abcdef0123456789abcdef01234567',
    notBefore: '2025-01-01T00:00:00.000Z',
    notAfter: '2045-01-01T00:00:00.000Z',
    status: 'ACTIVE',
    createdAt: '2025-01-01T00:00:00.000Z',
    activatedAt: '2025-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/** The rejection of a promise (fails the test if it resolves). */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('Class: DynamoStore', () => {
  describe('on an in-memory DynamoDB (dynalite)', () => {
    let ledger: TestLedger;
    let store: DynamoStore;
    let tableName: string;

    beforeAll(async () => {
      ledger = await startTestLedger();
    });
    afterAll(async () => {
      await ledger.close();
    });
    beforeEach(async () => {
      tableName = `store-${process.pid}-${++counter}`;
      await ensureTable(ledger.client, tableName);
      store = new DynamoStore(ledger.client, tableName);
    });

    /** Every raw item in the table (to see what was, or was not, written). */
    const rawItems = async () => (await ledger.client.send(new ScanCommand({ TableName: tableName }))).Items ?? [];

    describe('claims', () => {
      it('creates a claim on a free key and returns undefined', async () => {
        // Prepare
        const claim = claimFor('CN#device-0001', 'aa01');

        // Act
        const holder = await store.claim(claim);

        // Assess
        expect(holder).toBeUndefined();
        expect(await rawItems()).toHaveLength(1);
      });

      it('returns the holder, exactly as it was claimed, when the key is taken', async () => {
        // Prepare
        const first = claimFor('CN#device-0001', 'aa01', 1_700_000_000_123);
        await store.claim(first);

        // Act
        const holder = await store.claim(claimFor('CN#device-0001', 'bb02'));

        // Assess
        expect(holder).toStrictEqual(first);
      });

      it('keeps claims on different keys apart', async () => {
        // Prepare
        await store.claim(claimFor('CN#device-0001', 'aa01'));

        // Act
        const holder = await store.claim(claimFor('CN#device-0002', 'bb02'));

        // Assess
        expect(holder).toBeUndefined();
      });

      it('replaces a claim only while it still names the expected serial', async () => {
        // Prepare
        await store.claim(claimFor('CN#device-0001', 'aa01'));
        const takeover = claimFor('CN#device-0001', 'cc03', 1_800_000_000_000);

        // Act
        const withWrongSerial = await store.replaceClaim(claimFor('CN#device-0001', 'bb02'), 'ffff');
        const holderAfterWrong = await store.claim(claimFor('CN#device-0001', 'dd04'));
        const withRightSerial = await store.replaceClaim(takeover, 'aa01');
        const holderAfterRight = await store.claim(claimFor('CN#device-0001', 'dd04'));

        // Assess
        expect(withWrongSerial).toBe(false);
        expect(holderAfterWrong?.serialNumber).toBe('aa01');
        expect(withRightSerial).toBe(true);
        expect(holderAfterRight).toStrictEqual(takeover);
      });

      it('does not replace a claim that does not exist', async () => {
        // Act
        const replaced = await store.replaceClaim(claimFor('CN#device-0001', 'bb02'), 'aa01');

        // Assess
        expect(replaced).toBe(false);
        expect(await rawItems()).toHaveLength(0);
      });

      it('releases a claim only if it names the given serial', async () => {
        // Prepare
        await store.claim(claimFor('CN#device-0001', 'aa01'));

        // Act
        await store.releaseClaim('CN#device-0001', 'bb02');
        const afterWrongRelease = await store.claim(claimFor('CN#device-0001', 'cc03'));
        await store.releaseClaim('CN#device-0001', 'aa01');
        const afterRightRelease = await store.claim(claimFor('CN#device-0001', 'cc03'));

        // Assess
        expect(afterWrongRelease?.serialNumber).toBe('aa01');
        expect(afterRightRelease).toBeUndefined();
      });

      it('releases a claim that is already gone without an error', async () => {
        // Act + Assess
        await expect(store.releaseClaim('CN#nobody', 'aa01')).resolves.toBeUndefined();
      });
    });

    describe('certificates', () => {
      it('round-trips a full certificate record exactly, without its key or index attributes', async () => {
        // Prepare
        const record = certificate();

        // Act
        await store.putCertificate(record);
        const read = await store.getCertificate(record.serialNumber);

        // Assess
        expect(read).toStrictEqual(record);
        expect(Object.keys(read!).sort()).toEqual(Object.keys(record).sort());
        for (const leaked of ['pk', 'type', 'gsi1pk', 'gsi1sk']) expect(read).not.toHaveProperty(leaked);
      });

      it('returns undefined for a serial it never recorded', async () => {
        // Act + Assess
        expect(await store.getCertificate('0123456789abcdef')).toBeUndefined();
      });

      it('refuses a second certificate with the same serial with SerialCollisionError and keeps the first', async () => {
        // Prepare
        const first = certificate({ commonName: 'device-0001' });
        await store.putCertificate(first);
        const second = certificate({ serialNumber: first.serialNumber, commonName: 'device-0002', stationId: 'someone-else' });

        // Act
        const error = await rejectionOf(store.putCertificate(second));

        // Assess
        expect(error).toBeInstanceOf(SerialCollisionError);
        expect(await store.getCertificate(first.serialNumber)).toStrictEqual(first);
        expect(await store.listByCommonName('device-0002')).toEqual([]);
      });

      it('lists by common name only the certificates of that name', async () => {
        // Prepare
        const a1 = certificate({ commonName: 'device-a', issuedAt: '2025-01-01T00:00:00.000Z' });
        const a2 = certificate({ commonName: 'device-a', issuedAt: '2025-02-01T00:00:00.000Z' });
        const b = certificate({ commonName: 'device-b' });
        const prefix = certificate({ commonName: 'device-a-2' });
        for (const r of [a1, b, a2, prefix]) await store.putCertificate(r);

        // Act
        const listed = await store.listByCommonName('device-a');

        // Assess
        expect(listed).toHaveLength(2);
        expect(listed).toEqual(expect.arrayContaining([a1, a2]));
        for (const item of listed) for (const leaked of ['pk', 'type', 'gsi1pk', 'gsi1sk']) expect(item).not.toHaveProperty(leaked);
        expect(await store.listByCommonName('device-b')).toStrictEqual([b]);
        expect(await store.listByCommonName('nobody')).toEqual([]);
      });

      it('does not index a certificate without a common name', async () => {
        // Prepare
        const nameless = certificate({ commonName: undefined });

        // Act
        await store.putCertificate(nameless);

        // Assess
        expect(await store.getCertificate(nameless.serialNumber)).toStrictEqual(nameless);
        const [item] = await rawItems();
        expect(item).not.toHaveProperty('gsi1pk');
        expect(item).not.toHaveProperty('gsi1sk');
        expect(await store.listByCommonName('')).toEqual([]);
        expect(await store.listByCommonName('undefined')).toEqual([]);
      });
    });

    describe('CA records', () => {
      it('records a CA once and keeps the first record when the id is reused', async () => {
        // Prepare
        const first = caRecord('issuing-0a0b0c0d0e0f');

        // Act
        const created = await store.putCa(first);
        const again = await store.putCa(caRecord('issuing-0a0b0c0d0e0f', { status: 'RETIRED', subject: 'CN=Impostor' }));

        // Assess
        expect(created).toBe(true);
        expect(again).toBe(false);
        expect(await store.getCa('issuing-0a0b0c0d0e0f')).toStrictEqual(first);
      });

      it('round-trips a software-key root CA without a parent', async () => {
        // Prepare
        const { parentId: _, ...root } = caRecord('root-010203040506', { role: 'root', key: { kind: 'software', file: 'ca/root-1.key' } });

        // Act
        await store.putCa(root);

        // Assess
        expect(await store.getCa('root-010203040506')).toStrictEqual(root);
        expect(await store.getCa('root-ffffffffffff')).toBeUndefined();
      });

      it('sets the active issuing CA once from nothing, then only over the expected id', async () => {
        // Act
        const initially = await store.getActiveIssuingCaId();
        const first = await store.setActiveIssuingCa('issuing-1', undefined);
        const secondFromNothing = await store.setActiveIssuingCa('issuing-2', undefined);
        const wrongExpected = await store.setActiveIssuingCa('issuing-2', 'issuing-9');
        const afterRefusals = await store.getActiveIssuingCaId();
        const rightExpected = await store.setActiveIssuingCa('issuing-2', 'issuing-1');
        const finally_ = await store.getActiveIssuingCaId();

        // Assess
        expect(initially).toBeUndefined();
        expect(first).toBe(true);
        expect(secondFromNothing).toBe(false);
        expect(wrongExpected).toBe(false);
        expect(afterRefusals).toBe('issuing-1');
        expect(rightExpected).toBe(true);
        expect(finally_).toBe('issuing-2');
      });
    });
  });

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
        ConditionExpression: 'attribute_not_exists(pk)',
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
        ConditionExpression: 'attribute_not_exists(pk)',
        Item: { pk: `CERT#${record.serialNumber}`, gsi1pk: `CN#${record.commonName}`, gsi1sk: `${record.issuedAt}#${record.serialNumber}` },
      });
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
