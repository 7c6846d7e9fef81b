import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { isTransientAwsError } from '../aws/transient.js';
import { CaError } from '../service/errors.js';
import {
  SerialCollisionError,
  type CaRecord,
  type CaStore,
  type CertificatePage,
  type CertificateQuery,
  type CertificateRecord,
  type CertificateStore,
  type Claim,
} from '../service/ports.js';
import { listingPage, type PartitionPage, type PartitionQuery } from './certificate-listing.js';
import { CERTIFICATE_INDEXES, COMMON_NAME_INDEX, INDEX_ATTRIBUTES, ISSUE_ORDER_KEY, certificateIndexKeys } from './table.js';

const CERT = (serial: string) => `CERT#${serial}`;
const CLAIM = (key: string) => `CLAIM#${key}`;
const CA = (id: string) => `CA#${id}`;
const ACTIVE_ISSUING = 'CA_ACTIVE#issuing';

/** A DynamoDB failure as a domain error: STORE_UNAVAILABLE (retry later) or INTERNAL; the cause is for the log. */
export function storeError(e: unknown): Error {
  if (e instanceof CaError || e instanceof SerialCollisionError) return e;
  if (isTransientAwsError(e)) {
    return new CaError('STORE_UNAVAILABLE', 'The certificate ledger is temporarily unavailable', { cause: e, retryAfterSeconds: 2 });
  }
  return new CaError('INTERNAL', 'The certificate ledger failed', { cause: e });
}

const isConditionFailure = (e: unknown) =>
  e instanceof ConditionalCheckFailedException || (e as { name?: string })?.name === 'ConditionalCheckFailedException';

function strip<T>(item: Record<string, unknown> | undefined, ...keys: string[]): T | undefined {
  if (!item) return undefined;
  const copy = { ...item };
  for (const k of ['pk', 'type', ...keys]) delete copy[k];
  return copy as T;
}

/**
 * The ledger and CA records in one DynamoDB table, with conditional single-item
 * writes only, so the same code runs on DynamoDB and on dynalite.
 */
export class DynamoStore implements CertificateStore, CaStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(client: DynamoDBClient, private readonly tableName: string) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  private async get(pk: string): Promise<Record<string, unknown> | undefined> {
    try {
      const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk }, ConsistentRead: true }));
      return out.Item;
    } catch (e) {
      throw storeError(e);
    }
  }

  /** A conditional put; false when the condition does not hold. */
  private async putIf(item: Record<string, unknown>, condition: string, values?: Record<string, unknown>): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: condition,
          ...(values ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw storeError(e);
    }
  }

  async claim(claim: Claim): Promise<Claim | undefined> {
    const item = { pk: CLAIM(claim.key), type: 'claim', ...claim };
    for (let i = 0; i < 3; i++) {
      if (await this.putIf(item, 'attribute_not_exists(pk)')) return undefined;
      const holder = strip<Claim>(await this.get(CLAIM(claim.key)));
      if (holder) return holder;
      // Released between our write and our read: try again.
    }
    throw new CaError('STORE_UNAVAILABLE', 'The certificate ledger is busy', { retryAfterSeconds: 1, logDetail: 'claim contention' });
  }

  replaceClaim(claim: Claim, expectedSerial: string): Promise<boolean> {
    return this.putIf({ pk: CLAIM(claim.key), type: 'claim', ...claim }, 'serialNumber = :expected', { ':expected': expectedSerial });
  }

  async releaseClaim(key: string, serial: string): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: CLAIM(key) },
          ConditionExpression: 'serialNumber = :serial',
          ExpressionAttributeValues: { ':serial': serial },
        }),
      );
    } catch (e) {
      if (!isConditionFailure(e)) throw storeError(e);
    }
  }

  async putCertificate(record: CertificateRecord): Promise<void> {
    const item = { pk: CERT(record.serialNumber), type: 'certificate', ...record, ...certificateIndexKeys(record) };
    if (!(await this.putIf(item, 'attribute_not_exists(pk)'))) throw new SerialCollisionError(record.serialNumber);
  }

  async getCertificate(serialNumber: string): Promise<CertificateRecord | undefined> {
    return strip<CertificateRecord>(await this.get(CERT(serialNumber)), ...INDEX_ATTRIBUTES);
  }

  async listByCommonName(commonName: string): Promise<CertificateRecord[]> {
    const items: CertificateRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    try {
      do {
        const out = await this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: COMMON_NAME_INDEX,
            KeyConditionExpression: 'gsi1pk = :cn',
            ExpressionAttributeValues: { ':cn': `CN#${commonName}` },
            ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          }),
        );
        for (const item of out.Items ?? []) items.push(strip<CertificateRecord>(item, ...INDEX_ATTRIBUTES)!);
        startKey = out.LastEvaluatedKey;
      } while (startKey);
    } catch (e) {
      throw storeError(e);
    }
    return items;
  }

  listCertificates(query: CertificateQuery): Promise<CertificatePage> {
    return listingPage(query, (q) => this.queryPartition(q));
  }

  /** One Query on one index partition; every value the caller gave is an expression attribute value. */
  private async queryPartition({ index, partition, range, filters, limit, startKey }: PartitionQuery): Promise<PartitionPage> {
    const names: Record<string, string> = { '#pk': index.partitionKey };
    const values: Record<string, string> = { ':pk': partition };
    let keyCondition = '#pk = :pk';
    if (range.from !== undefined || range.to !== undefined) {
      names['#order'] = ISSUE_ORDER_KEY;
      if (range.from !== undefined) values[':from'] = range.from;
      if (range.to !== undefined) values[':to'] = range.to;
      keyCondition +=
        range.from !== undefined && range.to !== undefined
          ? ' AND #order BETWEEN :from AND :to'
          : range.from !== undefined
            ? ' AND #order >= :from'
            : ' AND #order < :to';
    }
    const conditions = Object.entries(filters).map(([field, value], i) => {
      names[`#f${i}`] = field;
      values[`:f${i}`] = value;
      return `#f${i} = :f${i}`;
    });
    try {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: index.name,
          KeyConditionExpression: keyCondition,
          ...(conditions.length ? { FilterExpression: conditions.join(' AND ') } : {}),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          Limit: limit,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      return {
        records: (out.Items ?? []).map((item) => strip<CertificateRecord>(item, ...INDEX_ATTRIBUTES)!),
        ...(out.LastEvaluatedKey ? { lastKey: out.LastEvaluatedKey as Record<string, string> } : {}),
      };
    } catch (e) {
      throw storeError(e);
    }
  }

  async revokeCertificate(serialNumber: string, revokedAt: string, reason: string): Promise<CertificateRecord | undefined> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: CERT(serialNumber) },
          // The record moves to the REVOKED partition of the status index with it.
          UpdateExpression: 'SET #status = :revoked, revokedAt = :at, revocationReason = :reason, #statusKey = :revokedKey',
          ConditionExpression: 'attribute_exists(pk) AND #status = :issued',
          ExpressionAttributeNames: { '#status': 'status', '#statusKey': CERTIFICATE_INDEXES.byStatus.partitionKey },
          ExpressionAttributeValues: {
            ':revoked': 'REVOKED',
            ':issued': 'ISSUED',
            ':at': revokedAt,
            ':reason': reason,
            ':revokedKey': `${CERTIFICATE_INDEXES.byStatus.prefix}REVOKED`,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return strip<CertificateRecord>(out.Attributes, ...INDEX_ATTRIBUTES);
    } catch (e) {
      if (!isConditionFailure(e)) throw storeError(e);
    }
    // Missing, or revoked already: the record as it is.
    return this.getCertificate(serialNumber);
  }

  async setIotRevocation(serialNumber: string, outcome: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: CERT(serialNumber) },
          UpdateExpression: 'SET iotRevocation = :outcome',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':outcome': outcome },
        }),
      );
    } catch (e) {
      throw storeError(e);
    }
  }

  async getCa(id: string): Promise<CaRecord | undefined> {
    return strip<CaRecord>(await this.get(CA(id)));
  }

  putCa(record: CaRecord): Promise<boolean> {
    return this.putIf({ pk: CA(record.id), type: 'ca', ...record }, 'attribute_not_exists(pk)');
  }

  async updateCa(record: CaRecord): Promise<void> {
    if (!(await this.putIf({ pk: CA(record.id), type: 'ca', ...record }, 'attribute_exists(pk)'))) {
      throw new CaError('INTERNAL', 'CA record missing', { logDetail: `CA record ${record.id} does not exist` });
    }
  }

  async getActiveIssuingCaId(): Promise<string | undefined> {
    const item = await this.get(ACTIVE_ISSUING);
    return item?.caId as string | undefined;
  }

  setActiveIssuingCa(id: string, expected: string | undefined): Promise<boolean> {
    const item = { pk: ACTIVE_ISSUING, type: 'pointer', caId: id, updatedAt: new Date().toISOString() };
    return expected === undefined
      ? this.putIf(item, 'attribute_not_exists(pk)')
      : this.putIf(item, 'caId = :expected', { ':expected': expected });
  }
}
