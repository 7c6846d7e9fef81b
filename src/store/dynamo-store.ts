import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
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
  type KeyEntry,
  type CertificateScan,
  type CrlLedger,
  type CrlState,
  type PublishedCrl,
  type RevokedEntry,
} from '../service/ports.js';
import { listingPage, type PartitionPage, type PartitionQuery } from './certificate-listing.js';
import { CERTIFICATE_INDEXES, COMMON_NAME_INDEX, INDEX_ATTRIBUTES, ISSUE_ORDER_KEY, LOG_QUEUE_INDEX, certificateIndexKeys } from './table.js';

const CERT = (serial: string) => `CERT#${serial}`;
const CLAIM = (key: string) => `CLAIM#${key}`;
const CA = (id: string) => `CA#${id}`;
const KEY = (spkiSha256: string) => `KEY#${spkiSha256}`;
const META = (name: string) => `META#${name}`;
const ACTIVE_ISSUING = 'CA_ACTIVE#issuing';
const CRL = (caId: string) => `CRL#${caId}`;

/** A DynamoDB failure as a domain error: STORE_UNAVAILABLE (retry later) or INTERNAL; the cause is for the log. */
export function storeError(e: unknown): Error {
  if (e instanceof CaError || e instanceof SerialCollisionError) return e;
  // DynamoDB answered 4xx (throttled, invalid): it applied nothing. A 5xx, a timeout or a dropped connection may have.
  const status = (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  const notApplied = (e as { $fault?: string })?.$fault === 'client' || (status !== undefined && status >= 400 && status < 500);
  if (isTransientAwsError(e)) {
    return new CaError('STORE_UNAVAILABLE', 'The certificate ledger is temporarily unavailable', { cause: e, retryAfterSeconds: 2, notApplied });
  }
  return new CaError('INTERNAL', 'The certificate ledger failed', { cause: e, notApplied });
}

/** DynamoDB refused a write because its condition did not hold. */
export const isConditionFailure = (e: unknown) =>
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
export class DynamoStore implements CertificateStore, CaStore, CertificateScan, CrlLedger {
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
  private async putIf(item: Record<string, unknown>, condition: string, values?: Record<string, unknown>, names?: Record<string, string>): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: condition,
          ...(values ? { ExpressionAttributeValues: values } : {}),
          ...(names ? { ExpressionAttributeNames: names } : {}),
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
      if (await this.putIf(item, 'attribute_not_exists(pk) OR #token = :token', { ':token': claim.token }, { '#token': 'token' })) return undefined;
      const holder = strip<Claim>(await this.get(CLAIM(claim.key)));
      if (holder) return holder;
      // Released between our write and our read: try again.
    }
    throw new CaError('STORE_UNAVAILABLE', 'The certificate ledger is busy', { retryAfterSeconds: 1, logDetail: 'claim contention' });
  }

  replaceClaim(claim: Claim, expectedSerial: string): Promise<boolean> {
    return this.putIf(
      { pk: CLAIM(claim.key), type: 'claim', ...claim },
      'serialNumber = :expected OR (#token = :token AND serialNumber = :serial)',
      { ':expected': expectedSerial, ':token': claim.token, ':serial': claim.serialNumber },
      { '#token': 'token' },
    );
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

  private certificateItem(record: CertificateRecord): Record<string, unknown> {
    // Every put queues the item for the issuance log (the sequencer dedupes what is logged already).
    return { pk: CERT(record.serialNumber), type: 'certificate', ...record, ...certificateIndexKeys(record), [LOG_QUEUE_INDEX.partitionKey]: LOG_QUEUE_INDEX.value };
  }

  async getClaim(key: string): Promise<Claim | undefined> {
    return strip<Claim>(await this.get(CLAIM(key)));
  }

  async claimKey(entry: KeyEntry & { status: 'IN_USE'; token: string }): Promise<KeyEntry | undefined> {
    const item = { pk: KEY(entry.spkiSha256), type: 'key', ...entry };
    for (let i = 0; i < 3; i++) {
      if (await this.putIf(item, 'attribute_not_exists(pk) OR #token = :token', { ':token': entry.token }, { '#token': 'token' })) return undefined;
      const holder = await this.getKey(entry.spkiSha256);
      if (holder) return holder;
    }
    throw new CaError('STORE_UNAVAILABLE', 'The certificate ledger is busy', { retryAfterSeconds: 1, logDetail: 'key index contention' });
  }

  replaceKeyClaim(entry: KeyEntry & { status: 'IN_USE'; token: string }, expectedToken: string): Promise<boolean> {
    return this.putIf(
      { pk: KEY(entry.spkiSha256), type: 'key', ...entry },
      '#status = :inUse AND (#token = :expected OR #token = :token)',
      { ':inUse': 'IN_USE', ':expected': expectedToken, ':token': entry.token },
      { '#status': 'status', '#token': 'token' },
    );
  }

  async blockKey(spkiSha256: string, block: { at: string; reason: string; serialNumber?: string; entry?: string }): Promise<{ entry: KeyEntry; changed: boolean }> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: KEY(spkiSha256) },
          UpdateExpression:
            'SET #type = :type, spkiSha256 = :sha, #status = :blocked, blockedAt = if_not_exists(blockedAt, :at), #reason = if_not_exists(#reason, :reason)' +
            (block.serialNumber ? ', blockedBySerial = if_not_exists(blockedBySerial, :serial)' : '') +
            (block.entry ? ', blockedByEntry = if_not_exists(blockedByEntry, :entry)' : ''),
          ExpressionAttributeNames: { '#status': 'status', '#type': 'type', '#reason': 'reason' },
          ExpressionAttributeValues: {
            ':type': 'key',
            ':sha': spkiSha256,
            ':blocked': 'BLOCKED',
            ':at': block.at,
            ':reason': block.reason,
            ...(block.serialNumber ? { ':serial': block.serialNumber } : {}),
            ...(block.entry ? { ':entry': block.entry } : {}),
          },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const entry = (await this.getKey(spkiSha256))!;
      return { entry, changed: out.Attributes?.status !== 'BLOCKED' };
    } catch (e) {
      throw storeError(e);
    }
  }

  async scanCertificates(page: { limit: number; after?: string }): Promise<{ records: CertificateRecord[]; next?: string }> {
    try {
      const out = await this.doc.send(
        new ScanCommand({
          TableName: this.tableName,
          Limit: page.limit,
          FilterExpression: '#type = :certificate',
          ExpressionAttributeNames: { '#type': 'type' },
          ExpressionAttributeValues: { ':certificate': 'certificate' },
          ConsistentRead: true,
          ...(page.after ? { ExclusiveStartKey: JSON.parse(Buffer.from(page.after, 'base64url').toString('utf8')) as Record<string, unknown> } : {}),
        }),
      );
      const records = (out.Items ?? []).map((item) => strip<CertificateRecord>(item, ...INDEX_ATTRIBUTES)!);
      return { records, ...(out.LastEvaluatedKey ? { next: Buffer.from(JSON.stringify(out.LastEvaluatedKey)).toString('base64url') } : {}) };
    } catch (e) {
      throw storeError(e);
    }
  }

  async getKey(spkiSha256: string): Promise<KeyEntry | undefined> {
    return strip<KeyEntry>(await this.get(KEY(spkiSha256)));
  }

  async putCertificate(record: CertificateRecord): Promise<void> {
    const item = this.certificateItem(record);
    // Our own record (same certificate id) again is a retry that already landed, not a collision.
    if (!(await this.putIf(item, 'attribute_not_exists(pk) OR certificateId = :id', { ':id': record.certificateId }))) {
      throw new SerialCollisionError(record.serialNumber);
    }
  }

  async supersedeCertificate(record: CertificateRecord, at: string): Promise<void> {
    // A put, not an update: the issuing function may write certificate items but never update them.
    await this.putIf(this.certificateItem({ ...record, status: 'SUPERSEDED', supersededAt: at }), 'certificateId = :id AND #status = :issued', { ':id': record.certificateId, ':issued': 'ISSUED' }, { '#status': 'status' });
  }

  async supersedeByReplacement(record: CertificateRecord, replacement: { supersededBy: string; supersededAt: string; iotDeactivation: string }): Promise<CertificateRecord | undefined> {
    const current = await this.getCertificate(record.serialNumber);
    if (!current || current.certificateId !== record.certificateId) return current;
    const again = current.status === 'SUPERSEDED' && current.supersededBy === replacement.supersededBy;
    if (current.status !== 'ISSUED' && !again) return current;
    // A put of the record as read, conditional on what was read: nothing written in between is lost (the issuing roles put, never update).
    const next: CertificateRecord = { ...current, status: 'SUPERSEDED', supersededBy: replacement.supersededBy, supersededAt: again ? current.supersededAt! : replacement.supersededAt, iotDeactivation: replacement.iotDeactivation };
    const written = again
      ? await this.putIf(this.certificateItem(next), 'certificateId = :id AND #status = :superseded AND supersededBy = :by', { ':id': record.certificateId, ':superseded': 'SUPERSEDED', ':by': replacement.supersededBy }, { '#status': 'status' })
      : await this.putIf(this.certificateItem(next), 'certificateId = :id AND #status = :issued', { ':id': record.certificateId, ':issued': 'ISSUED' }, { '#status': 'status' });
    return written ? next : this.getCertificate(record.serialNumber);
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
          // And it is queued for the issuance log's revocation entry.
          UpdateExpression: 'SET #status = :revoked, revokedAt = :at, revocationReason = :reason, #statusKey = :revokedKey, #logQueue = :queued',
          // ISSUED, or SUPERSEDED (signed, never delivered: it may still be revoked, for the record and the CRLs).
          ConditionExpression: 'attribute_exists(pk) AND (#status = :issued OR #status = :superseded)',
          ExpressionAttributeNames: { '#status': 'status', '#statusKey': CERTIFICATE_INDEXES.byStatus.partitionKey, '#logQueue': LOG_QUEUE_INDEX.partitionKey },
          ExpressionAttributeValues: {
            ':queued': LOG_QUEUE_INDEX.value,
            ':revoked': 'REVOKED',
            ':issued': 'ISSUED',
            ':superseded': 'SUPERSEDED',
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

  async getMarker(name: string): Promise<string | undefined> {
    return (await this.get(META(name)))?.value as string | undefined;
  }

  async putMarker(name: string, value: string): Promise<void> {
    await this.putIf({ pk: META(name), type: 'marker', value }, 'attribute_not_exists(pk) OR attribute_exists(pk)');
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

  async markCrlPending(caId: string, serialNumber: string): Promise<void> {
    await this.update(CRL(caId), 'SET #type = :type ADD pending :serial', { ':type': 'crl', ':serial': new Set([serialNumber]) }, { '#type': 'type' });
  }

  async getCrlState(caId: string): Promise<CrlState | undefined> {
    const item = await this.get(CRL(caId));
    if (!item) return undefined;
    return {
      caId,
      lastNumber: Number(item.lastNumber ?? 0),
      ...(item.published ? { published: item.published as PublishedCrl } : {}),
      pending: item.pending instanceof Set ? [...(item.pending as Set<string>)].sort() : [],
    };
  }

  async reserveCrlNumber(caId: string): Promise<number> {
    const out = await this.update(CRL(caId), 'SET #type = :type ADD lastNumber :one', { ':type': 'crl', ':one': 1 }, { '#type': 'type' }, 'UPDATED_NEW');
    return Number(out?.lastNumber);
  }

  async recordCrlPublished(caId: string, crl: PublishedCrl, listed: string[]): Promise<boolean> {
    try {
      await this.update(
        CRL(caId),
        `SET published = :crl${listed.length ? ' DELETE pending :listed' : ''}`,
        { ':crl': crl, ':n': crl.crlNumber, ...(listed.length ? { ':listed': new Set(listed) } : {}) },
        undefined,
        undefined,
        'attribute_not_exists(published) OR published.crlNumber < :n',
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e) || isConditionFailure((e as { cause?: unknown }).cause)) return false;
      throw e;
    }
  }

  async *revokedOf(caId: string): AsyncIterable<RevokedEntry> {
    const { byStatus } = CERTIFICATE_INDEXES;
    let start: Record<string, unknown> | undefined;
    do {
      let out;
      try {
        out = await this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: byStatus.name,
            KeyConditionExpression: '#p = :revoked',
            FilterExpression: 'issuingCaId = :ca',
            ProjectionExpression: 'serialNumber, revokedAt, revocationReason, notAfter',
            ExpressionAttributeNames: { '#p': byStatus.partitionKey },
            ExpressionAttributeValues: { ':revoked': `${byStatus.prefix}REVOKED`, ':ca': caId },
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
      } catch (e) {
        throw storeError(e);
      }
      for (const item of out.Items ?? []) {
        yield {
          serialNumber: String(item.serialNumber),
          revokedAt: String(item.revokedAt),
          reason: String(item.revocationReason ?? 'unspecified'),
          notAfter: String(item.notAfter),
        };
      }
      start = out.LastEvaluatedKey;
    } while (start);
  }

  /** One UpdateItem; returns the attributes asked for. A condition failure is rethrown as is. */
  private async update(
    pk: string,
    expression: string,
    values: Record<string, unknown>,
    names?: Record<string, string>,
    returnValues?: 'UPDATED_NEW',
    condition?: string,
  ): Promise<Record<string, unknown> | undefined> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk },
          UpdateExpression: expression,
          ExpressionAttributeValues: values,
          ...(names ? { ExpressionAttributeNames: names } : {}),
          ...(condition ? { ConditionExpression: condition } : {}),
          ...(returnValues ? { ReturnValues: returnValues } : {}),
        }),
      );
      return out.Attributes;
    } catch (e) {
      if (isConditionFailure(e)) throw e;
      throw storeError(e);
    }
  }
}
