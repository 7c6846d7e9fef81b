/**
 * What a million certificates cost in AWS, from what the bench measured: the
 * DynamoDB items as written, the request log line, the in-process time per
 * certificate and the issuing bundle's module initialisation; and, apart, what
 * production lots and the issuance log add (lots-and-log.ts). Prices: prices.ts.
 */
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { LOGGER_OPTIONS, redact } from '../src/observability/logger.js';
import { METRICS_NAMESPACE } from '../src/observability/metrics.js';
import { PRICES, QUOTAS, privateCaMonth } from './prices.js';

/** Stated, not measured: network round trips from a Lambda function in the same region. */
export const ASSUMED = {
  kmsSignMs: 15,
  dynamoCallMs: 5,
  /** The Lambda platform's START, END and REPORT lines (with an X-Ray trace id), per invocation. */
  platformLogBytes: 350,
  /** CPU share of a Lambda function: 1,769 MB is one vCPU. */
  mbPerVcpu: 1769,
  /** The issuance log's sequencer runs once a minute (serverless.yml), through a 30-day month; each run signs a checkpoint (at a million a month, the log grows every minute). */
  sequencerRunsPerMonth: 30 * 24 * 60,
  /** One sequencer run of about 23 entries: some 70 round trips one after the other (leaves are put one at a time), a KMS Sign and an S3 PUT. */
  sequencerRunMs: 500,
  /** The bench machine's core is taken as fast as one Graviton (arm64) vCPU. */
} as const;

/** The size DynamoDB bills for an item: attribute names plus values, by DynamoDB's item-size rules. */
export function itemSize(item: Record<string, AttributeValue>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return numberSize(v.N);
  if (v.B !== undefined) return v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS) return v.SS.reduce((a, s) => a + Buffer.byteLength(s), 0);
  if (v.NS) return v.NS.reduce((a, n) => a + numberSize(n), 0);
  if (v.BS) return v.BS.reduce((a, b) => a + b.length, 0);
  if (v.L) return 3 + v.L.reduce((a, e) => a + 1 + valueSize(e), 0);
  if (v.M) return 3 + Object.entries(v.M).reduce((a, [k, e]) => a + 1 + Buffer.byteLength(k) + valueSize(e), 0);
  return 0;
}

/** Numbers: about one byte per two significant digits, plus one. */
function numberSize(n: string): number {
  const digits = n.replace(/^-/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length || 1;
  return Math.ceil(digits / 2) + 1;
}

export interface ItemSizes {
  /** Bytes of each item written, by its `type` attribute (claim, key, certificate…). */
  writes: Map<string, number[]>;
  /** Bytes of each item read with a consistent read, by its `type` attribute. */
  reads: Map<string, number[]>;
}

const isAttributeValue = (v: unknown) => typeof v === 'object' && v !== null && ('S' in v || 'N' in v || 'B' in v);

/** Records the size of every item the client writes (PutItem) and reads (GetItem), below the document client's marshalling. */
export function recordItemSizes(client: DynamoDBClient): ItemSizes {
  const sizes: ItemSizes = { writes: new Map(), reads: new Map() };
  const add = (m: Map<string, number[]>, raw: Record<string, unknown>) => {
    // The document client's (un)marshalling may run on either side of this step: size the DynamoDB form.
    const marshalled = isAttributeValue(raw.pk);
    const item = (marshalled ? raw : marshall(raw, { removeUndefinedValues: true })) as Record<string, AttributeValue>;
    const type = item.type?.S ?? '?';
    m.set(type, [...(m.get(type) ?? []), itemSize(item)]);
  };
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { Item?: Record<string, unknown> };
      if (input.Item) add(sizes.writes, input.Item);
      const out = await next(args);
      const item = (out.output as { Item?: Record<string, unknown> }).Item;
      if (item) add(sizes.reads, item);
      return out;
    },
    { step: 'serialize', priority: 'high', name: 'benchItemSizes' },
  );
  return sizes;
}

/** A Powertools Logger that prints nothing and counts the bytes of the JSON lines it would print. */
export class ByteCountingLogger extends Logger {
  bytes = 0;
  lines = 0;
  constructor() {
    super({ ...LOGGER_OPTIONS, logLevel: 'INFO' });
  }
  protected override printLog(_level: number, log: LogItem): void {
    this.bytes += Buffer.byteLength(JSON.stringify(log.getAttributes(), redact)) + 1;
    this.lines++;
  }
}

/** Powertools Metrics that print nothing and count the bytes of the embedded-metric-format lines (also CloudWatch Logs ingestion). */
export class ByteCountingMetrics extends Metrics {
  bytes = 0;
  constructor() {
    super({ namespace: METRICS_NAMESPACE, serviceName: 'factory-ca' });
  }
  override publishStoredMetrics(): this {
    if (this.hasStoredMetrics()) this.bytes += Buffer.byteLength(JSON.stringify(this.serializeMetrics())) + 1;
    this.clearMetrics();
    return this;
  }
}

/** Units per certificate for one kind of request (see capacity.ts's breakdown). */
export interface Part {
  what: string;
  units: number;
  /** The median size billed (bytes). */
  bytes: number;
}

/** What lots and the issuance log add, per certificate unless said otherwise (lots-and-log.ts). */
export interface LotsAndLog {
  certificates: number;
  runs: number;
  lots: { writes: Part[]; reads: Part[]; roundTrips: number };
  log: {
    writes: Part[];
    reads: Part[];
    /** The queue's pages (Query on byLogQueue, eventually consistent). */
    queueReads: Part[];
    requestsPerRun: number;
    signsPerRun: number;
    objectPutsPerRun: number;
    /** The sequencer job's log line and metrics line, per run. */
    logBytesPerRun: number;
    memoryMb: number;
  };
  /** The certificate record's entries in its five listing indexes (every index copies the whole record). */
  listingIndexes: Part[];
}

export interface Measured {
  kmsSignsPerCert: number;
  /** Per certificate: the DynamoDB writes with their item sizes, and the consistent reads with theirs. */
  writeBytes: number[];
  readBytes: number[];
  /** Bytes the function logs per request (request line + metrics line), measured. */
  logBytesPerRequest: number;
  /** Wall time per request through the issuing route, in process, with no network (µs). */
  inProcessUs: number;
  /** Module initialisation of the packaged issuing bundle (ms, median). */
  initMs: number;
  /** serverless.yml's memory size for the issuing function (MB). */
  memoryMb: number;
  lotsAndLog?: LotsAndLog;
}

const unitsOf = (parts: readonly Part[]) => parts.reduce((a, p) => a + p.units, 0);

/** Write request units for an item of `bytes` (1 per started KB); read request units for a consistent read (1 per started 4 KB). */
export const wru = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
export const rru = (bytes: number) => Math.max(1, Math.ceil(bytes / 4096));

/** Lambda duration of one warm request at `memoryMb`: CPU scaled by the CPU share, plus the assumed round trips. */
export function warmMs(m: Measured, memoryMb: number): number {
  const share = Math.min(1, memoryMb / ASSUMED.mbPerVcpu);
  const calls = m.writeBytes.length + m.readBytes.length;
  return m.inProcessUs / 1000 / share + m.kmsSignsPerCert * ASSUMED.kmsSignMs + calls * ASSUMED.dynamoCallMs;
}

export interface CostLine {
  what: string;
  usage: string;
  dollars: number;
}

/** The bill for one million certificates (fixed monthly costs for one month included). */
export function millionCost(m: Measured, memoryMb = m.memoryMb): CostLine[] {
  const M = 1e6;
  const wrus = m.writeBytes.reduce((a, b) => a + wru(b), 0);
  const rrus = m.readBytes.reduce((a, b) => a + rru(b), 0);
  const listing = m.lotsAndLog ? unitsOf(m.lotsAndLog.listingIndexes) : 0;
  const gbSeconds = (memoryMb / 1024) * (warmMs(m, memoryMb) / 1000) * M;
  const logGb = ((m.logBytesPerRequest + ASSUMED.platformLogBytes) * M) / 1e9;
  return [
    { what: 'KMS Sign (ECC)', usage: `${(m.kmsSignsPerCert * M).toLocaleString('en-US')} requests`, dollars: ((m.kmsSignsPerCert * M) / 10_000) * PRICES.kms.asymmetricPer10k },
    { what: 'KMS keys (root + issuing), one month', usage: '2 keys', dollars: 2 * PRICES.kms.keyMonth },
    { what: 'DynamoDB writes', usage: `${wrus} WRU per certificate`, dollars: wrus * PRICES.dynamodb.perMillionWru },
    ...(listing
      ? [{ what: 'DynamoDB listing index writes', usage: `${listing.toFixed(2)} WRU per certificate (byCommonName … byIssueDay, each a copy of the record)`, dollars: listing * PRICES.dynamodb.perMillionWru }]
      : []),
    { what: 'DynamoDB consistent reads', usage: `${rrus} RRU per certificate`, dollars: rrus * PRICES.dynamodb.perMillionRru },
    { what: `Lambda arm64 ${memoryMb} MB duration`, usage: `${gbSeconds.toFixed(0)} GB-s`, dollars: gbSeconds * PRICES.lambda.perGbSecondArm },
    { what: 'Lambda requests', usage: '1,000,000', dollars: PRICES.lambda.perMillionRequests },
    { what: 'API Gateway REST requests', usage: '1,000,000', dollars: PRICES.apiGateway.perMillionRest },
    { what: 'CloudWatch Logs ingestion', usage: `${logGb.toFixed(2)} GB`, dollars: logGb * PRICES.cloudWatchLogs.perGbIngested },
  ];
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');

/** What issuing every one of the million under a lot adds: the lot read, the seat, the byLot index entry, and their round trips. */
export function lotCost(m: Measured, l: LotsAndLog): CostLine[] {
  const [wrus, rrus] = [unitsOf(l.lots.writes), unitsOf(l.lots.reads)];
  const gbSeconds = (m.memoryMb / 1024) * ((l.lots.roundTrips * ASSUMED.dynamoCallMs) / 1000) * 1e6;
  return [
    { what: 'DynamoDB writes', usage: `${wrus.toFixed(2)} WRU per certificate`, dollars: wrus * PRICES.dynamodb.perMillionWru },
    { what: 'DynamoDB consistent reads', usage: `${rrus.toFixed(2)} RRU per certificate`, dollars: rrus * PRICES.dynamodb.perMillionRru },
    { what: `Lambda arm64 ${m.memoryMb} MB duration`, usage: `${gbSeconds.toFixed(0)} GB-s (${l.lots.roundTrips.toFixed(0)} more round trips)`, dollars: gbSeconds * PRICES.lambda.perGbSecondArm },
  ];
}

/** What logging the million costs: the DynamoDB units per certificate (per-run items amortised over a run's certificates), and per run the sequencer's invocation, Sign and S3 PUT. */
export function logCost(l: LotsAndLog): CostLine[] {
  const runs = ASSUMED.sequencerRunsPerMonth;
  const [wrus, rrus, queue] = [unitsOf(l.log.writes), unitsOf(l.log.reads), unitsOf(l.log.queueReads)];
  const gbSeconds = (l.log.memoryMb / 1024) * (ASSUMED.sequencerRunMs / 1000) * runs;
  const [signs, puts] = [l.log.signsPerRun * runs, l.log.objectPutsPerRun * runs];
  const logGb = ((l.log.logBytesPerRun + ASSUMED.platformLogBytes) * runs) / 1e9;
  return [
    { what: 'DynamoDB writes', usage: `${wrus.toFixed(2)} WRU per certificate`, dollars: wrus * PRICES.dynamodb.perMillionWru },
    { what: 'DynamoDB consistent reads', usage: `${rrus.toFixed(2)} RRU per certificate`, dollars: rrus * PRICES.dynamodb.perMillionRru },
    { what: 'DynamoDB queue reads (Query)', usage: `${queue.toFixed(2)} RRU per certificate, eventually consistent`, dollars: queue * PRICES.dynamodb.perMillionRru },
    { what: 'KMS Sign (checkpoints)', usage: `${count(signs)} requests`, dollars: (signs / 10_000) * PRICES.kms.asymmetricPer10k },
    { what: 'KMS log key, one month', usage: '1 key', dollars: PRICES.kms.keyMonth },
    { what: `Lambda arm64 ${l.log.memoryMb} MB duration`, usage: `${gbSeconds.toFixed(0)} GB-s (sequencer)`, dollars: gbSeconds * PRICES.lambda.perGbSecondArm },
    { what: 'Lambda requests', usage: `${count(runs)} (sequencer)`, dollars: (runs / 1e6) * PRICES.lambda.perMillionRequests },
    { what: 'S3 PUT (checkpoint copies)', usage: `${count(puts)} requests`, dollars: (puts / 1000) * PRICES.s3.perThousandPut },
    { what: 'CloudWatch Logs ingestion', usage: `${logGb.toFixed(3)} GB (sequencer)`, dollars: logGb * PRICES.cloudWatchLogs.perGbIngested },
  ];
}

const usd = (d: number) => `$${d.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/** Parts as `what units` (units per certificate, with the size billed), a few to a row. */
function printParts(label: string, parts: readonly Part[], row: (label: string, value: string) => void): void {
  const shown = parts.filter((p) => p.units >= 0.005).map((p) => `${p.what} ${p.units.toFixed(2)} (${p.bytes} B)`);
  const rest = unitsOf(parts.filter((p) => p.units < 0.005));
  if (rest) shown.push(`other ${rest.toFixed(3)}`);
  for (let i = 0; i < shown.length; i += 2) row(i ? '' : label, shown.slice(i, i + 2).join(';  '));
}

export function printCost(m: Measured, row: (label: string, value: string) => void): void {
  const lines = millionCost(m);
  const ours = lines.reduce((a, l) => a + l.dollars, 0);
  console.log(`\n6. Cost of one million certificates in one month (${PRICES.region} list prices read ${PRICES.read}, bench/prices.ts; no free tier)`);
  row('measured: DynamoDB items written (bytes)', m.writeBytes.map((b) => `${b}`).join(' + ') + `  → ${m.writeBytes.map(wru).join(' + ')} WRU`);
  row('measured: consistent reads (bytes)', m.readBytes.map((b) => `${b}`).join(' + ') + `  → ${m.readBytes.map(rru).join(' + ')} RRU`);
  row('measured: log bytes per request', `${m.logBytesPerRequest.toFixed(0)} B (+ ${ASSUMED.platformLogBytes} B assumed for START/END/REPORT)`);
  row('measured: in-process time per request', `${m.inProcessUs.toFixed(0)} µs on this machine's core`);
  row('assumed: round trips', `KMS Sign ${ASSUMED.kmsSignMs} ms, DynamoDB ${ASSUMED.dynamoCallMs} ms per call`);
  row(`Lambda duration per request at ${m.memoryMb} MB`, `${warmMs(m, m.memoryMb).toFixed(1)} ms (estimate)`);
  for (const l of lines) row(`  ${l.what}`, `${usd(l.dollars).padStart(10)}   ${l.usage}`);
  row('factory-ca, in all', usd(ours).padStart(10));
  const l = m.lotsAndLog;
  let withBoth = ours;
  if (l) {
    const lots = lotCost(m, l);
    const log = logCost(l);
    const lotsTotal = lots.reduce((a, x) => a + x.dollars, 0);
    const logTotal = log.reduce((a, x) => a + x.dollars, 0);
    withBoth = ours + lotsTotal + logTotal;
    console.log(`  lots and the issuance log (${l.certificates} certificates under one lot, logged by ${l.runs} sequencer runs; units per certificate, size billed)`);
    printParts('measured: lots, writes (WRU)', l.lots.writes, row);
    printParts('measured: lots, consistent reads (RRU)', l.lots.reads, row);
    printParts('measured: log, writes (WRU)', l.log.writes, row);
    printParts('measured: log, consistent reads (RRU)', l.log.reads, row);
    printParts('measured: log, queue reads (RRU)', l.log.queueReads, row);
    row('measured: per sequencer run', `${l.log.requestsPerRun.toFixed(0)} DynamoDB requests, ${l.log.signsPerRun.toFixed(2)} KMS Sign, ${l.log.objectPutsPerRun.toFixed(2)} S3 PUT, ${l.log.logBytesPerRun.toFixed(0)} B logged`);
    row('assumed: sequencer runs', `${count(ASSUMED.sequencerRunsPerMonth)} a month (one a minute, 30 days), each signs; ${ASSUMED.sequencerRunMs} ms at ${l.log.memoryMb} MB`);
    for (const x of lots) row(`  lots: ${x.what}`, `${usd(x.dollars).padStart(10)}   ${x.usage}`);
    row('lots, in all (every certificate under a lot)', usd(lotsTotal).padStart(10));
    for (const x of log) row(`  log: ${x.what}`, `${usd(x.dollars).padStart(10)}   ${x.usage}`);
    row('issuance log, in all', usd(logTotal).padStart(10));
    row('factory-ca with lots and the issuance log', usd(withBoth).padStart(10));
  }
  const pca = privateCaMonth(1e6);
  row('AWS Private CA, general-purpose (1 CA)', `${usd(pca.total).padStart(10)}   CA ${usd(pca.caFee)} + certificates ${usd(pca.certificates)}`);
  row('  AWS Private CA / factory-ca', `${(pca.total / ours).toFixed(0).padStart(8)} ×${l ? `   (${(pca.total / withBoth).toFixed(0)} × with lots and the log)` : ''}`);
  const shortLived = PRICES.privateCa.shortLivedCaMonth + 1e6 * PRICES.privateCa.shortLivedPerCertificate;
  row('AWS Private CA, short-lived mode (≤ 7 days)', `${usd(shortLived).padStart(10)}   (device certificates outlive 7 days: for scale only)`);
  row('throughput bound per account and region', `KMS ECC Sign ${QUOTAS.kmsEccPerSecond}/s (shared) vs Private CA IssueCertificate ${QUOTAS.privateCaIssuePerSecond}/s (default quotas)`);
}

export function printMemoryTable(m: Measured, row: (label: string, value: string) => void): void {
  console.log(`\n7. Lambda memory for issueCertificate: an estimate (CPU share = MB / ${ASSUMED.mbPerVcpu}; measured CPU and init scaled by it, round trips as assumed above)`);
  row('memory', '  warm request   cold init   Lambda $/million   all $/million');
  for (const mb of [128, 256, 512, 1024]) {
    const share = Math.min(1, mb / ASSUMED.mbPerVcpu);
    const lines = millionCost(m, mb);
    const lambda = lines.filter((l) => l.what.startsWith('Lambda')).reduce((a, l) => a + l.dollars, 0);
    const all = lines.reduce((a, l) => a + l.dollars, 0);
    const mark = mb === m.memoryMb ? '  ← serverless.yml' : '';
    row(`${mb} MB`, `${warmMs(m, mb).toFixed(1).padStart(9)} ms ${(m.initMs / share).toFixed(0).padStart(8)} ms ${usd(lambda).padStart(14)} ${usd(all).padStart(15)}${mark}`);
  }
}
