/**
 * What DynamoDB on demand bills for each request a client makes, from the items
 * themselves: a meter on the client reads every item a write touches before and
 * after it (with a second, unmetered client), sizes them by DynamoDB's rules
 * (itemSize), and charges the table and each global secondary index the write
 * changes, as DynamoDB's documentation describes index writes:
 *
 * - an item that enters an index: one write of its index entry;
 * - an item that leaves it: one write (the deletion) of the entry it had;
 * - an item whose index key changes: both;
 * - an item that stays, with a projected attribute changed: one write.
 *
 * An index entry is what the index projects (the whole item for ALL, as every
 * index of the ledger does: src/store/table.ts, which a test keeps equal to
 * serverless.yml). Reads: 4 KB units, half for an eventually consistent read;
 * a Query is billed on the size of the index entries it reads, whatever its
 * ProjectionExpression returns.
 */
import { GetItemCommand, type AttributeValue, type CreateTableCommandInput, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { itemSize, rru, wru } from './cost.js';

type Item = Record<string, AttributeValue>;

/** One charge: the units one request used on the table or on one index. */
export interface Charge {
  /** The request: GetItem, PutItem, UpdateItem, BatchWriteItem, BatchGetItem, Query. */
  command: string;
  /** What the item is, from its key (see kindOf). */
  kind: string;
  /** `table`, or the index the units are for. */
  where: string;
  unit: 'WRU' | 'RRU';
  units: number;
  /** The size the units were computed from. */
  bytes: number;
}

/** What an item is, from its partition key: the ledger's item kinds, the log's by their second part. */
export function kindOf(pk: string): string {
  const [first = '', second = ''] = pk.split('#');
  const log: Record<string, string> = { LEAF: 'log leaf', ID: 'log identity', NODE: 'log node', HEAD: 'log head', CHECKPOINT: 'log checkpoint' };
  if (first === 'LOG') return log[second] ?? 'log';
  const kinds: Record<string, string> = { CERT: 'certificate', LOT: 'lot', CLAIM: 'claim', KEY: 'key', CA: 'CA', CA_ACTIVE: 'CA pointer', CRL: 'CRL', META: 'marker' };
  return kinds[first] ?? first;
}

const readUnits = (bytes: number, consistent: boolean): number => rru(bytes) * (consistent ? 1 : 0.5);

const isMarshalled = (item: Record<string, unknown>): boolean => typeof item.pk === 'object' && item.pk !== null;
const asItem = (raw: Record<string, unknown>): Item => (isMarshalled(raw) ? raw : marshall(raw, { removeUndefinedValues: true })) as Item;

interface Index {
  name: string;
  keys: string[];
  /** The attributes it projects besides the keys; undefined for ALL. */
  projected?: string[];
}

function indexesOf(table: CreateTableCommandInput): { tableKeys: string[]; indexes: Index[] } {
  const tableKeys = (table.KeySchema ?? []).map((k) => k.AttributeName!);
  const indexes = (table.GlobalSecondaryIndexes ?? []).map((g) => {
    const keys = (g.KeySchema ?? []).map((k) => k.AttributeName!);
    const type = g.Projection?.ProjectionType ?? 'ALL';
    return { name: g.IndexName!, keys, ...(type === 'ALL' ? {} : { projected: [...tableKeys, ...(type === 'INCLUDE' ? (g.Projection?.NonKeyAttributes ?? []) : [])] }) };
  });
  return { tableKeys, indexes };
}

/** The item's entry in the index, or undefined when the item is not in it (an index key attribute missing). */
function entryOf(item: Item | undefined, index: Index): Item | undefined {
  if (!item || index.keys.some((k) => item[k] === undefined)) return undefined;
  if (!index.projected) return item;
  const names = new Set([...index.keys, ...index.projected]);
  return Object.fromEntries(Object.entries(item).filter(([k]) => names.has(k)));
}

const canonical = (item: Item): string => JSON.stringify(Object.keys(item).sort().map((k) => [k, item[k]]));

/** The index writes one item's change costs, before → after (undefined: absent). */
function indexWrites(before: Item | undefined, after: Item | undefined, index: Index): number[] {
  const [b, a] = [entryOf(before, index), entryOf(after, index)];
  if (!b && !a) return [];
  if (!a) return [itemSize(b!)];
  if (!b) return [itemSize(a)];
  const keyChanged = index.keys.some((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]));
  if (keyChanged) return [itemSize(b), itemSize(a)];
  return canonical(b) === canonical(a) ? [] : [Math.max(itemSize(b), itemSize(a))];
}

/**
 * Meters `client`: every request it sends is charged into the returned list.
 * `reader` is a client of the same table without the meter; `table` its definition.
 */
export function meterCapacity(client: DynamoDBClient, reader: DynamoDBClient, table: CreateTableCommandInput): Charge[] {
  const charges: Charge[] = [];
  const tableName = table.TableName!;
  const { tableKeys, indexes } = indexesOf(table);
  const keyOf = (item: Item): Item => Object.fromEntries(tableKeys.map((k) => [k, item[k]!]));
  const read = async (key: Item): Promise<Item | undefined> => (await reader.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }))).Item;
  const pkOf = (key: Item) => String(key.pk?.S ?? '');

  const charge = (command: string, key: Item, where: string, unit: Charge['unit'], units: number, bytes: number) =>
    charges.push({ command, kind: kindOf(pkOf(key)), where, unit, units, bytes });

  /** A write of one item: the table's units (the larger of before and after) and each index's. */
  const written = (command: string, key: Item, before: Item | undefined, after: Item | undefined, applied: boolean) => {
    const bytes = Math.max(before ? itemSize(before) : 0, after ? itemSize(after) : 0);
    charge(command, key, 'table', 'WRU', wru(bytes), bytes);
    if (!applied) return;
    for (const index of indexes) for (const b of indexWrites(before, after, index)) charge(command, key, index.name, 'WRU', wru(b), b);
  };
  const readCharge = (command: string, key: Item, item: Item | undefined, consistent: boolean) => {
    const bytes = item ? itemSize(item) : 0;
    charge(command, key, 'table', 'RRU', readUnits(bytes, consistent), bytes);
  };

  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName).replace(/Command$/, '');
      const input = args.input as Record<string, any>;
      if (command === 'PutItem' || command === 'UpdateItem' || command === 'DeleteItem') {
        const key = keyOf(asItem(input.Key ?? input.Item));
        const before = await read(key);
        try {
          const out = await next(args);
          written(command, key, before, command === 'PutItem' ? asItem(input.Item) : command === 'UpdateItem' ? await read(key) : undefined, true);
          return out;
        } catch (e) {
          // A conditional write that fails is billed all the same; it changes no index.
          written(command, key, before, command === 'PutItem' ? asItem(input.Item) : undefined, false);
          throw e;
        }
      }
      if (command === 'BatchWriteItem') {
        const requests = (input.RequestItems?.[tableName] ?? []) as Array<{ PutRequest?: { Item: Record<string, unknown> }; DeleteRequest?: { Key: Record<string, unknown> } }>;
        const changes = await Promise.all(
          requests.map(async (r) => {
            const after = r.PutRequest ? asItem(r.PutRequest.Item) : undefined;
            const key = keyOf(after ?? asItem(r.DeleteRequest!.Key));
            return { key, before: await read(key), after };
          }),
        );
        const out = await next(args);
        const unprocessed = new Set(((out.output as any).UnprocessedItems?.[tableName] ?? []).map((r: any) => pkOf(keyOf(asItem(r.PutRequest?.Item ?? r.DeleteRequest?.Key)))));
        for (const c of changes) if (!unprocessed.has(pkOf(c.key))) written(command, c.key, c.before, c.after, true);
        return out;
      }
      const out = await next(args);
      const output = out.output as Record<string, any>;
      if (command === 'GetItem') readCharge(command, keyOf(asItem(input.Key)), output.Item ? asItem(output.Item) : undefined, input.ConsistentRead === true);
      if (command === 'BatchGetItem') {
        const request = input.RequestItems?.[tableName] ?? {};
        const found = new Map<string, Item>(((output.Responses?.[tableName] ?? []) as Record<string, unknown>[]).map((i) => [pkOf(asItem(i)), asItem(i)]));
        const unprocessed = new Set(((output.UnprocessedKeys?.[tableName]?.Keys ?? []) as Record<string, unknown>[]).map((k) => pkOf(asItem(k))));
        for (const k of (request.Keys ?? []) as Record<string, unknown>[]) {
          const key = asItem(k);
          if (!unprocessed.has(pkOf(key))) readCharge(command, key, found.get(pkOf(key)), request.ConsistentRead === true);
        }
      }
      if (command === 'Query') {
        // Billed on the index entries read, however few attributes the answer holds.
        const items = (output.Items ?? []) as Record<string, unknown>[];
        const index = indexes.find((i) => i.name === input.IndexName);
        const entries = await Promise.all(items.map(async (i) => entryOf(await read(keyOf(asItem(i))), index ?? { name: 'table', keys: [] })));
        const bytes = entries.reduce((a, e) => a + (e ? itemSize(e) : 0), 0);
        charges.push({ command, kind: 'page', where: input.IndexName ?? 'table', unit: 'RRU', units: readUnits(bytes, input.ConsistentRead === true), bytes });
      }
      return out;
    },
    { step: 'serialize', priority: 'high', name: 'benchCapacityMeter' },
  );
  return charges;
}

/** The sum of the units of the charges that pass `keep`. */
export const unitsOf = (charges: readonly Charge[], keep: (c: Charge) => boolean = () => true): number => charges.filter(keep).reduce((a, c) => a + c.units, 0);

/** Units per certificate by what they were for (`kind`, or `kind → index`, and the request), largest first. */
export function breakdown(charges: readonly Charge[], certificates: number): Array<{ what: string; units: number; bytes: number }> {
  const groups = new Map<string, Charge[]>();
  for (const c of charges) {
    const what = `${c.kind}${c.where === 'table' ? '' : ` → ${c.where}`} (${c.command})`;
    groups.set(what, [...(groups.get(what) ?? []), c]);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  return [...groups]
    .map(([what, cs]) => ({ what, units: unitsOf(cs) / certificates, bytes: median(cs.map((c) => c.bytes)) }))
    .sort((a, b) => b.units - a.units);
}

/** Counts the requests a client sends, by command. */
export function countRequests(client: DynamoDBClient): Map<string, number> {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (a) => {
      counts.set(String(context.commandName), (counts.get(String(context.commandName)) ?? 0) + 1);
      return next(a);
    },
    { step: 'initialize', name: 'benchCount' },
  );
  return counts;
}
