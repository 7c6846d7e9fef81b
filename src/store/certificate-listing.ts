/**
 * Ledger queries, the part every store shares: which index serves a query, the
 * pages (one partition, or the days of a time range walked in order), and the
 * `next` token. A store supplies one primitive, a DynamoDB Query on one index
 * partition with DynamoDB's semantics (`Limit` counts the items read, before the
 * other filters; a LastEvaluatedKey whenever the read stopped at `Limit`).
 *
 * The token is base64url(JSON {i: index, p: partition, k?: LastEvaluatedKey}).
 * It is not signed: on decode it must name the index and a partition this very
 * query reads, and its key must be a certificate key inside that partition and
 * inside the query's time range, so no token can lead a query anywhere its own
 * filters would not.
 */
import { CaError } from '../service/errors.js';
import type { CertificateFilters, CertificatePage, CertificateQuery, CertificateRecord } from '../service/ports.js';
import { CERTIFICATE_INDEXES, ISSUE_ORDER_KEY, issueDay, issueOrder, type CertificateIndex } from './table.js';

/** The filters an index can serve, most selective first: the first one a query has chooses its index. */
const EQUALITY_FILTERS = [
  ['commonName', CERTIFICATE_INDEXES.byCommonName],
  ['lotId', CERTIFICATE_INDEXES.byLot],
  ['issuingCaId', CERTIFICATE_INDEXES.byIssuingCa],
  ['stationId', CERTIFICATE_INDEXES.byStation],
  ['status', CERTIFICATE_INDEXES.byStatus],
] as const;

export type EqualityFilter = (typeof EQUALITY_FILTERS)[number][0];

/** How many partitions one page of a time-range query reads at most (a long run of empty days ends a page). */
export const MAX_PARTITIONS_PER_PAGE = 32;
/** How many bytes of records (as JSON) a page of a time-range query gathers at most across partitions. */
export const MAX_PAGE_BYTES = 1024 * 1024;
/** The widest time range a query by time alone may cover (it reads one partition per day). */
export const MAX_TIME_RANGE_DAYS = 366;
/** The longest `next` token accepted. */
export const MAX_TOKEN_LENGTH = 1024;

/** A DynamoDB key of a certificate in one index: the table key, the index's partition key and ISSUE_ORDER_KEY. */
export type IndexKey = Record<string, string>;

/** One Query: a partition of an index, a range of issue order, the other filters. */
export interface PartitionQuery {
  index: CertificateIndex;
  partition: string;
  /** from ≤ ISSUE_ORDER_KEY ≤ to: a time (no serial), so `from` is inclusive and `to` exclusive of that time. */
  range: { from?: string; to?: string };
  /** Equality filters on record fields, applied to the items read (a DynamoDB FilterExpression). */
  filters: Partial<Record<EqualityFilter, string>>;
  limit: number;
  startKey?: IndexKey;
}

export interface PartitionPage {
  records: CertificateRecord[];
  lastKey?: IndexKey;
}

export type QueryPartition = (query: PartitionQuery) => Promise<PartitionPage>;

/** What a query reads: an index, its partitions in order, a range and the other filters. */
export interface ListingPlan {
  index: CertificateIndex;
  partitions: string[];
  range: { from?: string; to?: string };
  filters: Partial<Record<EqualityFilter, string>>;
}

const invalid = (field: string, message: string, reason: string) => new CaError('INVALID_REQUEST', message, { details: [{ field, reason }] });
const badToken = (reason: string) =>
  invalid('next', 'The next token does not belong to this query; repeat the query without next, or with the filters that gave the token', reason);

const DAY_MS = 86_400_000;

/** The UTC days from the day of `from` to the day of the last millisecond before `to`, as day-index partitions. */
function daysOf(from: string, to: string): string[] {
  const days: string[] = [];
  const last = Date.parse(to) - 1;
  for (let t = Date.parse(from.slice(0, 10)); t <= last; t += DAY_MS) days.push(issueDay(new Date(t).toISOString()));
  return days;
}

/**
 * The index that serves a query: the most selective filter it has
 * (commonName > lotId > issuingCaId > stationId > status), the others applied to what
 * the index reads; the time range bounds the sort key. With only a time range,
 * the day index: both bounds are needed then.
 */
export function planListing(filters: CertificateFilters): ListingPlan {
  const range = { ...(filters.issuedAfter ? { from: filters.issuedAfter } : {}), ...(filters.issuedBefore ? { to: filters.issuedBefore } : {}) };
  if (range.from !== undefined && range.to !== undefined && range.from >= range.to) {
    throw invalid('issuedBefore', 'issuedBefore must be later than issuedAfter', 'must be later than issuedAfter');
  }
  const present = EQUALITY_FILTERS.filter(([field]) => filters[field] !== undefined);
  const [first] = present;
  if (first) {
    const [field, index] = first;
    const others = Object.fromEntries(present.slice(1).map(([f]) => [f, filters[f]!]));
    return { index, partitions: [`${index.prefix}${filters[field]!}`], range, filters: others };
  }
  if (range.from === undefined && range.to === undefined) {
    throw invalid('filters', 'A ledger query needs at least one filter', 'give commonName, lotId, issuingCaId, stationId, status or issuedAfter and issuedBefore');
  }
  if (range.from === undefined || range.to === undefined) {
    throw invalid('issuedAfter', 'A query by time alone needs issuedAfter and issuedBefore', 'required with issuedBefore when no other filter is given');
  }
  if (Date.parse(range.to) - Date.parse(range.from) > MAX_TIME_RANGE_DAYS * DAY_MS) {
    throw invalid(
      'issuedBefore',
      `A query by time alone may cover at most ${MAX_TIME_RANGE_DAYS} days; narrow issuedAfter..issuedBefore, or add another filter`,
      `at most ${MAX_TIME_RANGE_DAYS} days after issuedAfter when no other filter is given`,
    );
  }
  return { index: CERTIFICATE_INDEXES.byIssueDay, partitions: daysOf(range.from, range.to), range, filters: {} };
}

/** The key a record has in one partition of an index (what DynamoDB would return as LastEvaluatedKey after it). */
export const keyOf = (index: CertificateIndex, partition: string, record: CertificateRecord): IndexKey => ({
  pk: `CERT#${record.serialNumber}`,
  [index.partitionKey]: partition,
  [ISSUE_ORDER_KEY]: issueOrder(record),
});

interface Position {
  partition: string;
  key?: IndexKey;
}

/** The token of a position; the key's attributes in one order, whatever order the store gave them in. */
export function encodeNext(index: CertificateIndex, position: Position): string {
  const { partition, key } = position;
  const k = key && { pk: key.pk, [index.partitionKey]: key[index.partitionKey], [ISSUE_ORDER_KEY]: key[ISSUE_ORDER_KEY] };
  return Buffer.from(JSON.stringify({ i: index.name, p: partition, ...(k ? { k } : {}) }), 'utf8').toString('base64url');
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ORDER = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)#([0-9a-f]{1,64})$/;
const CERT_KEY = /^CERT#([0-9a-f]{1,64})$/;

/** Where a page starts, from a `next` token; anything that is not a position inside this plan is refused. */
export function decodeNext(token: string, plan: ListingPlan): Position {
  if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) throw badToken('not a token this API made');
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw badToken('not a token this API made');
  }
  if (!isPlainObject(raw) || Object.keys(raw).some((k) => !['i', 'p', 'k'].includes(k)) || typeof raw.i !== 'string' || typeof raw.p !== 'string') {
    throw badToken('not a token this API made');
  }
  const { index, partitions, range } = plan;
  if (raw.i !== index.name || !partitions.includes(raw.p)) throw badToken('made for other filters');
  const partition = raw.p;
  if (raw.k === undefined) {
    // Only a walk over days resumes at the start of a partition.
    if (partitions.length === 1) throw badToken('not a token this API made');
    return { partition };
  }
  const k = raw.k;
  const names = ['pk', index.partitionKey, ISSUE_ORDER_KEY];
  if (!isPlainObject(k) || Object.keys(k).length !== names.length || !names.every((n) => typeof k[n] === 'string')) throw badToken('not a token this API made');
  const key = k as IndexKey;
  const order = ORDER.exec(key[ISSUE_ORDER_KEY]!);
  const serial = CERT_KEY.exec(key.pk!)?.[1];
  if (!order || serial !== order[2] || key[index.partitionKey] !== partition) throw badToken('not a token this API made');
  const issuedAt = order[1]!;
  if (index === CERTIFICATE_INDEXES.byIssueDay && issueDay(issuedAt) !== partition) throw badToken('not a token this API made');
  if ((range.from !== undefined && issuedAt < range.from) || (range.to !== undefined && issuedAt >= range.to)) throw badToken('outside the time range of this query');
  return { partition, key };
}

/**
 * One page of a query through `queryPartition`. A single-partition query is one
 * Query of `limit` items; a walk over days goes on to the next day while the page
 * has room, for at most MAX_PARTITIONS_PER_PAGE partitions and MAX_PAGE_BYTES of records.
 */
export async function listingPage(query: CertificateQuery, queryPartition: QueryPartition): Promise<CertificatePage> {
  const plan = planListing(query.filters);
  const { index, partitions, range, filters } = plan;
  const start = query.next !== undefined ? decodeNext(query.next, plan) : { partition: partitions[0]! };
  const records: CertificateRecord[] = [];
  let bytes = 0;
  let position: Position | undefined = start;
  for (let reads = 0; position && reads < MAX_PARTITIONS_PER_PAGE && records.length < query.limit; reads++) {
    const { partition, key }: Position = position;
    const page = await queryPartition({ index, partition, range, filters, limit: query.limit - records.length, ...(key ? { startKey: key } : {}) });
    for (const [n, record] of page.records.entries()) {
      records.push(record);
      bytes += JSON.stringify(record).length;
      if (bytes >= MAX_PAGE_BYTES && (n < page.records.length - 1 || page.lastKey || partitions.at(-1) !== partition)) {
        return { records, next: encodeNext(index, { partition, key: keyOf(index, partition, record) }) };
      }
    }
    if (page.lastKey) return { records, next: encodeNext(index, { partition, key: page.lastKey }) };
    const following: string | undefined = partitions[partitions.indexOf(partition) + 1];
    position = following === undefined ? undefined : { partition: following };
  }
  return { records, ...(position ? { next: encodeNext(index, position) } : {}) };
}
