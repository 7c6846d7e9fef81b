import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { CertificateRecord } from '../service/ports.js';

/**
 * An index certificates are listed by: a partition per value of one field, each
 * partition in issue order. Every index sorts by the same attribute,
 * ISSUE_ORDER_KEY = `<issuedAt>#<serial>`.
 */
export interface CertificateIndex {
  name: string;
  /** The attribute that holds the index's partition key. */
  partitionKey: string;
  /** What the partition key value starts with. */
  prefix: string;
}

/** The sort key of every certificate index: `<issuedAt>#<serial>`, the order of issue. */
export const ISSUE_ORDER_KEY = 'gsi1sk';

export const CERTIFICATE_INDEXES = {
  byCommonName: { name: 'byCommonName', partitionKey: 'gsi1pk', prefix: 'CN#' },
  byIssuingCa: { name: 'byIssuingCa', partitionKey: 'gsi2pk', prefix: 'CA#' },
  byStation: { name: 'byStation', partitionKey: 'gsi3pk', prefix: 'STATION#' },
  /** Moves when a certificate is revoked: the revocation rewrites its partition key. */
  byStatus: { name: 'byStatus', partitionKey: 'gsi4pk', prefix: 'STATUS#' },
  /** One partition per UTC day of issue, for queries with only a time range. */
  byIssueDay: { name: 'byIssueDay', partitionKey: 'gsi5pk', prefix: 'DAY#' },
  /** The certificates of a production lot (sparse: only certificates issued under a lot are in it). */
  byLot: { name: 'byLot', partitionKey: 'gsi6pk', prefix: 'LOT#' },
} as const satisfies Record<string, CertificateIndex>;

/**
 * The issuance log's queue: a sparse index of the items with something not yet
 * in the log (a certificate recorded or revoked, a lot opened or closed). The
 * write that creates the work sets `partitionKey` to `value`; the log's
 * sequencer removes it once the work is logged. Sorted by ISSUE_ORDER_KEY.
 */
export const LOG_QUEUE_INDEX = { name: 'byLogQueue', partitionKey: 'gsi7pk', value: 'LOG#QUEUED' } as const;

/** The name of the index that lists certificates by common name. */
export const COMMON_NAME_INDEX = CERTIFICATE_INDEXES.byCommonName.name;

/** Every attribute a certificate item has for its indexes (none of them is part of the record). */
export const INDEX_ATTRIBUTES: readonly string[] = [...Object.values(CERTIFICATE_INDEXES).map((i) => i.partitionKey), LOG_QUEUE_INDEX.partitionKey, ISSUE_ORDER_KEY];

/** A certificate's sort key in every index. */
export const issueOrder = (record: Pick<CertificateRecord, 'issuedAt' | 'serialNumber'>): string => `${record.issuedAt}#${record.serialNumber}`;

/** The partition of the day index that holds an issue time (its UTC date). */
export const issueDay = (issuedAt: string): string => `${CERTIFICATE_INDEXES.byIssueDay.prefix}${issuedAt.slice(0, 10)}`;

/**
 * The index attributes of a certificate item, written with every record: the
 * sort key, and a partition key per index the record belongs in (a record
 * without a common name is in every index but byCommonName).
 */
export function certificateIndexKeys(record: CertificateRecord): Record<string, string> {
  const { byCommonName, byIssuingCa, byStation, byStatus, byLot } = CERTIFICATE_INDEXES;
  return {
    ...(record.commonName !== undefined ? { [byCommonName.partitionKey]: `${byCommonName.prefix}${record.commonName}` } : {}),
    ...(record.lotId !== undefined ? { [byLot.partitionKey]: `${byLot.prefix}${record.lotId}` } : {}),
    [byIssuingCa.partitionKey]: `${byIssuingCa.prefix}${record.issuingCaId}`,
    [byStation.partitionKey]: `${byStation.prefix}${record.stationId}`,
    [byStatus.partitionKey]: `${byStatus.prefix}${record.status}`,
    [CERTIFICATE_INDEXES.byIssueDay.partitionKey]: issueDay(record.issuedAt),
    [ISSUE_ORDER_KEY]: issueOrder(record),
  };
}

/**
 * The ledger's one table. serverless.yml declares the same keys and indexes for
 * AWS (a test keeps the two in step); local mode creates it from this. Every
 * index projects the whole record: a page is answered from the index alone.
 */
export function tableDefinition(tableName: string): CreateTableCommandInput {
  const indexes: Array<{ name: string; partitionKey: string }> = [...Object.values(CERTIFICATE_INDEXES), LOG_QUEUE_INDEX];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...new Set(['pk', ...indexes.flatMap((i) => [i.partitionKey, ISSUE_ORDER_KEY])])].map((AttributeName) => ({
      AttributeName,
      AttributeType: 'S' as const,
    })),
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    GlobalSecondaryIndexes: indexes.map((i) => ({
      IndexName: i.name,
      KeySchema: [
        { AttributeName: i.partitionKey, KeyType: 'HASH' },
        { AttributeName: ISSUE_ORDER_KEY, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    })),
  };
}
