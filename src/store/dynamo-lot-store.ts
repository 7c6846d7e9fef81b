/**
 * Production lots in the ledger's table: one item per lot, `LOT#<lotId>`. A
 * seat is one conditional UpdateItem (DynamoDB compares the item's own
 * `issued` with its own `quota`), so racing stations can never take more seats
 * than the quota, whatever their number.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { LotRecord, LotStore } from '../service/ports.js';
import { lotKey as LOT, lotQueueOrder } from '../log/ledger.js';
import { isConditionFailure, storeError } from './dynamo-store.js';
import { ISSUE_ORDER_KEY, LOG_QUEUE_INDEX } from './table.js';

/** The attributes of a lot item that are not the lot: its key, its type, and its place in the log's queue. */
const ITEM_ONLY = ['pk', 'type', LOG_QUEUE_INDEX.partitionKey, ISSUE_ORDER_KEY];

export function lotFromItem(item: Record<string, unknown> | undefined): LotRecord | undefined {
  if (!item) return undefined;
  const lot = { ...item };
  for (const k of ITEM_ONLY) delete lot[k];
  return lot as unknown as LotRecord;
}

/** A lot item: the lot, queued for the issuance log (its lot-opened entry). */
export const lotItem = (lot: LotRecord): Record<string, unknown> => ({
  pk: LOT(lot.lotId),
  type: 'lot',
  ...lot,
  [LOG_QUEUE_INDEX.partitionKey]: LOG_QUEUE_INDEX.value,
  [ISSUE_ORDER_KEY]: lotQueueOrder(lot),
});

export class DynamoLotStore implements LotStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(client: DynamoDBClient, private readonly tableName: string) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  }

  async getLot(lotId: string): Promise<LotRecord | undefined> {
    try {
      const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk: LOT(lotId) }, ConsistentRead: true }));
      return lotFromItem(out.Item);
    } catch (e) {
      throw storeError(e);
    }
  }

  async createLot(lot: LotRecord): Promise<LotRecord | undefined> {
    try {
      await this.doc.send(new PutCommand({ TableName: this.tableName, Item: lotItem(lot), ConditionExpression: 'attribute_not_exists(pk)' }));
      return undefined;
    } catch (e) {
      if (!isConditionFailure(e)) throw storeError(e);
    }
    return this.getLot(lot.lotId);
  }

  async takeSeat(lotId: string, now: string): Promise<{ taken: true; lot: LotRecord } | { taken: false; lot: LotRecord | undefined }> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: LOT(lotId) },
          UpdateExpression: 'SET issued = issued + :one',
          ConditionExpression: '#status = :open AND closesAt > :now AND issued < quota',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':one': 1, ':open': 'OPEN', ':now': now },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { taken: true, lot: lotFromItem(out.Attributes)! };
    } catch (e) {
      if (!isConditionFailure(e)) throw storeError(e);
    }
    return { taken: false, lot: await this.getLot(lotId) };
  }

  async releaseSeat(lotId: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: LOT(lotId) },
          UpdateExpression: 'SET issued = issued - :one',
          ConditionExpression: 'issued > :zero',
          ExpressionAttributeValues: { ':one': 1, ':zero': 0 },
        }),
      );
    } catch (e) {
      if (!isConditionFailure(e)) throw storeError(e);
    }
  }

  async closeLot(lotId: string, at: string, by: string): Promise<LotRecord | undefined> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: LOT(lotId) },
          // Queued again: the log's lot-closed entry.
          UpdateExpression: 'SET #status = :closed, closedAt = :at, closedBy = :by, #queue = :queued',
          ConditionExpression: '#status = :open',
          ExpressionAttributeNames: { '#status': 'status', '#queue': LOG_QUEUE_INDEX.partitionKey },
          ExpressionAttributeValues: { ':closed': 'CLOSED', ':open': 'OPEN', ':at': at, ':by': by, ':queued': LOG_QUEUE_INDEX.value },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return lotFromItem(out.Attributes);
    } catch (e) {
      if (!isConditionFailure(e)) throw storeError(e);
    }
    return this.getLot(lotId);
  }
}
