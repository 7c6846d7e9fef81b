/**
 * The issuance log's ledger on the certificate table (see LogLedger): single
 * item writes only, conditional where order matters (a leaf's index, the
 * head's size, a queue item's removal), so it runs on DynamoDB and dynalite.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LogHead, LogKeys, LogKeyStore, LogLeaf, LogLedger, LotEffects, QueuedItem } from '../log/ledger.js';
import { certificateKey, lotKey } from '../log/ledger.js';
import type { NodeHash, NodeId } from '../log/merkle.js';
import { CaError } from '../service/errors.js';
import type { CertificateRecord, LotRecord } from '../service/ports.js';
import { isConditionFailure, storeError } from './dynamo-store.js';
import { INDEX_ATTRIBUTES, ISSUE_ORDER_KEY, LOG_QUEUE_INDEX } from './table.js';

const HEAD = 'LOG#HEAD';
const LEAF = (index: number) => `LOG#LEAF#${index}`;
const ID = (identity: string) => `LOG#ID#${identity}`;
const NODE = ({ level, index }: NodeId) => `LOG#NODE#${level}#${index}`;
const CHECKPOINT = (size: number) => `LOG#CHECKPOINT#${size}`;
const KEYS = 'LOG#KEYS';

/** BatchWriteItem takes 25 items, BatchGetItem 100 keys. */
const WRITE_BATCH = 25;
const GET_BATCH = 100;
const BATCH_ATTEMPTS = 8;


const bytes = (value: unknown): Uint8Array => new Uint8Array(value as Uint8Array);
const chunks = <T>(items: readonly T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};
const pause = (attempt: number) => new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** attempt)));

function without(item: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const copy = { ...item };
  for (const k of ['pk', 'type', ...keys]) delete copy[k];
  return copy;
}

export class DynamoLogStore implements LogLedger, LogKeyStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(client: DynamoDBClient, private readonly tableName: string) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  private async get(pk: string): Promise<Record<string, unknown> | undefined> {
    try {
      return (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk }, ConsistentRead: true }))).Item;
    } catch (e) {
      throw storeError(e);
    }
  }

  /** A conditional put; false when the condition does not hold. */
  private async putIf(item: Record<string, unknown>, condition: string, names?: Record<string, string>, values?: Record<string, unknown>): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: condition,
          ...(names ? { ExpressionAttributeNames: names } : {}),
          ...(values ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw storeError(e);
    }
  }

  /** A conditional update; false when the condition does not hold. */
  private async updateIf(pk: string, expression: string, condition: string, values: Record<string, unknown>, names: Record<string, string>): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk },
          UpdateExpression: expression,
          ConditionExpression: condition,
          ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
          ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailure(e)) return false;
      throw storeError(e);
    }
  }

  /** Plain puts in batches, retrying what DynamoDB left unprocessed. */
  private async putAll(items: readonly Record<string, unknown>[]): Promise<void> {
    for (const batch of chunks(items, WRITE_BATCH)) {
      let requests = batch.map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; requests.length; attempt++) {
        if (attempt === BATCH_ATTEMPTS) throw new CaError('STORE_UNAVAILABLE', 'The certificate ledger is busy', { retryAfterSeconds: 2, logDetail: 'log batch write left unprocessed items' });
        if (attempt) await pause(attempt);
        try {
          const out = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }));
          requests = (out.UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
        } catch (e) {
          throw storeError(e);
        }
      }
    }
  }

  async getHead(): Promise<LogHead | undefined> {
    const item = await this.get(HEAD);
    if (!item) return undefined;
    return {
      size: Number(item.size),
      root: bytes(item.root),
      ...(typeof item.checkpoint === 'string' ? { checkpoint: item.checkpoint, checkpointSize: Number(item.checkpointSize), checkpointAt: String(item.checkpointAt) } : {}),
      ...(typeof item.publishedAt === 'string' ? { publishedAt: item.publishedAt } : {}),
      updatedAt: String(item.updatedAt),
    };
  }

  moveHead(expectedSize: number, head: { size: number; root: Uint8Array; updatedAt: string }): Promise<boolean> {
    return this.updateIf(
      HEAD,
      'SET #type = :type, #size = :size, #root = :root, updatedAt = :at',
      expectedSize === 0 ? 'attribute_not_exists(pk) OR #size = :expected' : '#size = :expected',
      { ':type': 'log-head', ':size': head.size, ':root': head.root, ':at': head.updatedAt, ':expected': expectedSize },
      { '#type': 'type', '#size': 'size', '#root': 'root' },
    );
  }

  async getLeaf(index: number): Promise<LogLeaf | undefined> {
    const item = await this.get(LEAF(index));
    return item ? { index, entry: bytes(item.entry), id: String(item.id) } : undefined;
  }

  putLeaf(leaf: LogLeaf): Promise<boolean> {
    return this.putIf({ pk: LEAF(leaf.index), type: 'log-leaf', index: leaf.index, entry: leaf.entry, id: leaf.id }, 'attribute_not_exists(pk)');
  }

  async getEntryIndex(identity: string): Promise<number | undefined> {
    const item = await this.get(ID(identity));
    return item ? Number(item.index) : undefined;
  }

  putEntryIndexes(leaves: readonly Pick<LogLeaf, 'id' | 'index'>[]): Promise<void> {
    return this.putAll(leaves.map(({ id, index }) => ({ pk: ID(id), type: 'log-id', index })));
  }

  putNodes(nodes: readonly NodeHash[]): Promise<void> {
    return this.putAll(nodes.map(({ id, hash }) => ({ pk: NODE(id), type: 'log-node', hash })));
  }

  async nodes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    const found = new Map<string, Uint8Array>();
    const wanted = [...new Set(ids.map(NODE))];
    for (const batch of chunks(wanted, GET_BATCH)) {
      let keys: Array<Record<string, unknown>> = batch.map((pk) => ({ pk }));
      for (let attempt = 0; keys.length; attempt++) {
        if (attempt === BATCH_ATTEMPTS) throw new CaError('STORE_UNAVAILABLE', 'The certificate ledger is busy', { retryAfterSeconds: 2, logDetail: 'log batch read left unprocessed keys' });
        if (attempt) await pause(attempt);
        try {
          const out = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }));
          for (const item of out.Responses?.[this.tableName] ?? []) found.set(String(item.pk), bytes(item.hash));
          keys = out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
        } catch (e) {
          throw storeError(e);
        }
      }
    }
    return ids.map((id) => {
      const hash = found.get(NODE(id));
      if (!hash) throw new CaError('INTERNAL', 'The issuance log is incomplete', { logDetail: `log node (${id.level}, ${id.index}) is not stored` });
      return hash;
    });
  }

  async recordCheckpoint(size: number, note: string, at: string, resigned = false): Promise<void> {
    const item = { pk: CHECKPOINT(size), type: 'log-checkpoint', size, note, at };
    if (resigned) {
      await this.putIf(item, 'attribute_not_exists(pk) OR #at <= :at', { '#at': 'at' }, { ':at': at });
      note = (await this.getCheckpoint(size)) ?? note;
    } else if (!(await this.putIf(item, 'attribute_not_exists(pk)'))) {
      // Racing sequencers may sign the same size twice (ECDSA differs each time): the first stored note is the one.
      note = (await this.getCheckpoint(size)) ?? note;
    }
    await this.updateIf(
      HEAD,
      'SET checkpoint = :note, checkpointSize = :size, checkpointAt = :at',
      resigned
        ? 'attribute_exists(pk) AND (attribute_not_exists(checkpointSize) OR checkpointSize < :size OR (checkpointSize = :size AND checkpointAt <= :at))'
        : 'attribute_exists(pk) AND (attribute_not_exists(checkpointSize) OR checkpointSize < :size)',
      { ':note': note, ':size': size, ':at': at },
      {},
    );
  }

  async getLogKeys(): Promise<LogKeys | undefined> {
    const item = await this.get(KEYS);
    return item ? (without(item, []) as unknown as LogKeys) : undefined;
  }

  putLogKeys(next: LogKeys, expected: number | undefined): Promise<boolean> {
    return this.putIf(
      { ...next, pk: KEYS, type: 'log-keys' },
      expected === undefined ? 'attribute_not_exists(pk)' : '#version = :expected',
      expected === undefined ? undefined : { '#version': 'version' },
      expected === undefined ? undefined : { ':expected': expected },
    );
  }

  async markPublished(at: string): Promise<void> {
    await this.updateIf(HEAD, 'SET publishedAt = :at', 'attribute_exists(pk) AND (attribute_not_exists(publishedAt) OR publishedAt < :at)', { ':at': at }, {});
  }

  async getCheckpoint(size: number): Promise<string | undefined> {
    const item = await this.get(CHECKPOINT(size));
    return typeof item?.note === 'string' ? item.note : undefined;
  }

  async queuePage(limit: number, after?: string): Promise<{ keys: string[]; next?: string }> {
    try {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: LOG_QUEUE_INDEX.name,
          KeyConditionExpression: '#q = :queued',
          ProjectionExpression: 'pk',
          ExpressionAttributeNames: { '#q': LOG_QUEUE_INDEX.partitionKey },
          ExpressionAttributeValues: { ':queued': LOG_QUEUE_INDEX.value },
          Limit: limit,
          ...(after ? { ExclusiveStartKey: JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as Record<string, unknown> } : {}),
        }),
      );
      return {
        keys: (out.Items ?? []).map((i) => String(i.pk)),
        ...(out.LastEvaluatedKey ? { next: Buffer.from(JSON.stringify(out.LastEvaluatedKey)).toString('base64url') } : {}),
      };
    } catch (e) {
      throw storeError(e);
    }
  }

  async getQueued(key: string): Promise<QueuedItem | undefined> {
    const item = await this.get(key);
    if (!item || item[LOG_QUEUE_INDEX.partitionKey] !== LOG_QUEUE_INDEX.value) return undefined;
    if (key.startsWith('CERT#')) return { kind: 'certificate', record: without(item, INDEX_ATTRIBUTES) as unknown as CertificateRecord };
    if (key.startsWith('LOT#')) return { kind: 'lot', lot: without(item, [LOG_QUEUE_INDEX.partitionKey, ISSUE_ORDER_KEY]) as unknown as LotRecord };
    return undefined;
  }

  dequeue(item: QueuedItem): Promise<boolean> {
    const names = { '#q': LOG_QUEUE_INDEX.partitionKey, '#status': 'status' };
    return item.kind === 'certificate'
      ? this.updateIf(certificateKey(item.record.serialNumber), 'REMOVE #q', '#status = :status AND certificateId = :id', { ':status': item.record.status, ':id': item.record.certificateId }, names)
      : this.updateIf(lotKey(item.lot.lotId), 'REMOVE #q', '#status = :status', { ':status': item.lot.status }, names);
  }

  async getLot(lotId: string): Promise<LotRecord | undefined> {
    const item = await this.get(lotKey(lotId));
    return item ? (without(item, [LOG_QUEUE_INDEX.partitionKey, ISSUE_ORDER_KEY]) as unknown as LotRecord) : undefined;
  }

  async applyLotEffects(lotId: string, effects: LotEffects): Promise<void> {
    const pk = lotKey(lotId);
    // A max is a conditional SET; DynamoDB has no max function.
    for (const field of ['logged', 'revoked'] as const) {
      const value = effects[field];
      if (value === undefined) continue;
      await this.updateIf(pk, 'SET #f = :v', 'attribute_exists(pk) AND (attribute_not_exists(#f) OR #f < :v)', { ':v': value }, { '#f': field });
    }
    const once = (['openedLogIndex', 'closedLogIndex', 'closedCount'] as const).filter((f) => effects[f] !== undefined);
    if (once.length) {
      await this.updateIf(
        pk,
        `SET ${once.map((f, i) => `#f${i} = if_not_exists(#f${i}, :v${i})`).join(', ')}`,
        'attribute_exists(pk)',
        Object.fromEntries(once.map((f, i) => [`:v${i}`, effects[f]])),
        Object.fromEntries(once.map((f, i) => [`#f${i}`, f])),
      );
    }
  }
}
