import { composeCrlPublishing, composeCrlReading, type CrlPublishingFunction, type CrlReadingFunction } from '../../src/compose/crl.js';
import { getCrlRoute } from '../../src/http/crl-routes.js';
import { composeLogReading, composeLogSequencing, type LogReadingFunction, type LogSequencingFunction } from '../../src/compose/log.js';
import { getLogCheckpointRoute, getLogConsistencyRoute, getLogEntryRoute, getLogProofRoute } from '../../src/http/log-routes.js';
import { DynamoLogStore } from '../../src/store/dynamo-log-store.js';
import { afterAll, beforeAll } from '@jest/globals';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { closeLotRoute, getLotRoute, openLotRoute } from '../../src/http/lot-routes.js';
import { composeLots, type LotFunction } from '../../src/compose/lots.js';
import { composeIssuing, composeReenrolling, type IssuingFunction, type IssuingOptions, type ReenrollingFunction } from '../../src/compose/issuing.js';
import { composeKeyBlocking, composeLifecycle, composeRevocation, type KeyBlockingFunction, type LifecycleFunction, type OperationsOptions, type RevocationFunction } from '../../src/compose/operations.js';
import { composeReading, type ReadingFunction } from '../../src/compose/reading.js';
import { ledger, lotLedger } from '../../src/compose/shared.js';
import { ensureLocalCredentials } from '../../src/local/local-credentials.js';
import { estCaCertsRoute, estCsrAttrsRoute, estSimpleEnrollRoute, estSimpleReenrollRoute } from '../../src/http/est-routes.js';
import { healthRoute } from '../../src/http/health-route.js';
import { issueRoute } from '../../src/http/issuing-routes.js';
import { blockKeysRoute, getBlockedKeyRoute } from '../../src/http/key-routes.js';
import { revokeRoute } from '../../src/http/revocation-routes.js';
import { rotateRoute } from '../../src/http/lifecycle-routes.js';
import { getCaRoute, getCertificateRoute, listCertificatesRoute } from '../../src/http/read-routes.js';
import { fieldsOf, LOGGER_OPTIONS } from '../../src/observability/logger.js';
import { METRICS_NAMESPACE } from '../../src/observability/metrics.js';
import type { DynamoStore } from '../../src/store/dynamo-store.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { bootstrapLocalCa, ensureTable, localDynamoClient, startDynalite } from '../../src/local/local-stack.js';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { lambdaContext } from './api.js';

export interface LogEntry {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

/** A Powertools Logger that keeps its lines in memory, so tests can read them (nothing is printed). */
export class MemoryLogger extends Logger {
  readonly entries: LogEntry[] = [];
  protected override printLog(_level: number, log: LogItem): void {
    const attributes = log.getAttributes() as Record<string, unknown>;
    this.entries.push({ level: String(attributes.level), message: String(attributes.message), fields: { ...fieldsOf(attributes), ...pick(attributes, 'correlation_id') } });
  }
}
const pick = (o: Record<string, unknown>, key: string) => (o[key] === undefined ? {} : { [key]: o[key] });

export const memoryLogger = () => new MemoryLogger(LOGGER_OPTIONS);

export interface MetricEntry {
  name: string;
  value: number;
  dimensions?: Record<string, string>;
}

/** Powertools Metrics that keep what they publish in memory: `entries`, in order (one per value). */
export class MemoryMetrics extends Metrics {
  entries: MetricEntry[] = [];
  override publishStoredMetrics(): this {
    if (this.hasStoredMetrics()) {
      const emf = this.serializeMetrics() as unknown as Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Dimensions: string[][]; Metrics: Array<{ Name: string }> }> } };
      const [directive] = emf._aws.CloudWatchMetrics;
      const names = (directive?.Dimensions[0] ?? []).filter((d) => d !== 'service');
      const dimensions = names.length ? Object.fromEntries(names.map((d) => [d, String(emf[d])])) : undefined;
      for (const { Name } of directive?.Metrics ?? []) {
        for (const value of ([] as number[]).concat(emf[Name] as number | number[])) this.entries.push({ name: Name, value, ...(dimensions ? { dimensions } : {}) });
      }
    }
    this.clearMetrics();
    this.clearDimensions();
    this.clearMetadata();
    return this;
  }
  override singleMetric(): Metrics {
    const single = new MemoryMetrics({ namespace: METRICS_NAMESPACE, serviceName: 'factory-ca', singleMetric: true });
    single.entries = this.entries;
    return single;
  }
  /** The sum of a metric's published values, with exactly these dimensions (none: undefined). */
  counts(name: string, dimensions?: Record<string, string>): number {
    return this.entries.filter((e) => e.name === name && JSON.stringify(e.dimensions) === JSON.stringify(dimensions)).reduce((n, e) => n + e.value, 0);
  }
}

export const memoryMetrics = () => new MemoryMetrics({ namespace: METRICS_NAMESPACE, serviceName: 'factory-ca' });

export interface TestLedger {
  endpoint: string;
  client: DynamoDBClient;
  close(): Promise<void>;
}

/** An in-memory dynalite, one per test file. */
export async function startTestLedger(): Promise<TestLedger> {
  const { server, endpoint } = await startDynalite();
  const client = localDynamoClient(endpoint);
  return {
    endpoint,
    client,
    close: async () => {
      client.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let tableCounter = 0;

/** Every function of the service, composed on one ledger, one logger and one metrics sink. */
export interface TestApp {
  config: Config;
  logger: MemoryLogger;
  metrics: MemoryMetrics;
  stateDir: string;
  /** The ledger's DynamoDB client (for scans in tests). */
  client: DynamoDBClient;
  /** The one store every function below uses (spy on it to inject faults). */
  store: DynamoStore;
  issuing: IssuingFunction;
  /** EST simplereenroll: the issuing function on the same ledger, plus AWS IoT in dry run. */
  reenrolling: ReenrollingFunction;
  reading: ReadingFunction;
  revocation: RevocationFunction;
  lifecycle: LifecycleFunction;
  keyBlocking: KeyBlockingFunction;
  crlReading: CrlReadingFunction;
  crlPublishing: CrlPublishingFunction;
  /** The issuance log's ledger (spy on it to inject faults), its readers and its sequencer (the local software log key). */
  logStore: DynamoLogStore;
  logReading: LogReadingFunction;
  logSequencing: LogSequencingFunction;
  lots: LotFunction;
  cleanup(): void;
}

/** What a test may replace in every composition. */
export type TestOverrides = IssuingOptions & OperationsOptions;

/**
 * The real functions (real config loader, DynamoDB store, software CA made by
 * the same bootstrap as local mode) on a fresh table of the given ledger.
 */
export async function createTestApp(ledgerDb: TestLedger, env: Record<string, string> = {}, overrides: TestOverrides = {}): Promise<TestApp> {
  const stateDir = mkdtempSync(join(tmpdir(), 'factory-ca-test-'));
  const tableName = `ledger-${process.pid}-${++tableCounter}`;
  const config = loadConfig({
    TABLE_NAME: tableName,
    ALLOW_SOFTWARE_SIGNER: 'true',
    LOCAL_STATE_DIR: stateDir,
    IN_FLIGHT_WAIT_MS: '3000',
    IOT_MODE: 'dry-run',
    ...env,
  });
  await ensureTable(ledgerDb.client, tableName);
  if (config.localAuth === 'sigv4') ensureLocalCredentials(stateDir);
  const logger = (overrides.logger as MemoryLogger | undefined) ?? memoryLogger();
  const metrics = (overrides.metrics as MemoryMetrics | undefined) ?? memoryMetrics();
  await bootstrapLocalCa(ledgerDb.client, config, memoryLogger());
  const store = ledger(config, ledgerDb.client);
  const logStore = new DynamoLogStore(ledgerDb.client, tableName);
  const o = { store, lots: lotLedger(config, ledgerDb.client), logKeys: logStore, logger, metrics, ...overrides };
  return {
    config,
    logger,
    metrics,
    stateDir,
    client: ledgerDb.client,
    store,
    issuing: composeIssuing(config, o),
    reenrolling: composeReenrolling(config, o),
    reading: composeReading(config, o),
    revocation: composeRevocation(config, o),
    lifecycle: composeLifecycle(config, o),
    keyBlocking: composeKeyBlocking(config, o),
    crlReading: composeCrlReading(config, o),
    crlPublishing: composeCrlPublishing(config, o),
    logStore,
    logReading: composeLogReading(config, { ledger: logStore, logger, metrics }),
    logSequencing: composeLogSequencing(config, { ledger: logStore, logger, metrics }),
    lots: composeLots(config, o),
    cleanup: () => rmSync(stateDir, { recursive: true, force: true }),
  };
}

/**
 * One ledger and one test app for a test file: registers the beforeAll/afterAll
 * that start and stop them, and returns an accessor (valid inside tests).
 */
export function useTestApp(env: Record<string, string> = {}, overrides: TestOverrides = {}): () => TestApp {
  let ledgerDb: TestLedger | undefined;
  let t: TestApp | undefined;
  beforeAll(async () => {
    ledgerDb = await startTestLedger();
    t = await createTestApp(ledgerDb, env, overrides);
  });
  afterAll(async () => {
    t?.cleanup();
    await ledgerDb?.close();
  });
  return () => {
    if (!t) throw new Error('useTestApp: the app exists only inside tests');
    return t;
  };
}

/** A Lambda handler for API Gateway events, as the routes are. */
export type RouteHandler = (e: APIGatewayProxyEvent, c: Context) => Promise<APIGatewayProxyResult>;

/** A handler built on its first call (the functions exist only once the test app is up). */
export function lazyHandler(make: () => RouteHandler): RouteHandler {
  let handler: RouteHandler | undefined;
  return (e, c) => (handler ??= make())(e, c);
}

/** Calls a route handler and parses its JSON body. */
export async function callRoute(handler: RouteHandler, event: APIGatewayProxyEvent) {
  const res = await handler(event, lambdaContext());
  return { ...res, json: JSON.parse(res.body) as Record<string, any> };
}

/** Every route of the service, each built on its first call from the test app's functions. */
export function routesOf(t: () => TestApp) {
  return {
    issue: lazyHandler(() => issueRoute(t().issuing)),
    getCertificate: lazyHandler(() => getCertificateRoute(t().reading)),
    listCertificates: lazyHandler(() => listCertificatesRoute(t().reading)),
    getCa: lazyHandler(() => getCaRoute(t().reading)),
    revoke: lazyHandler(() => revokeRoute(t().revocation)),
    rotate: lazyHandler(() => rotateRoute(t().lifecycle)),
    health: lazyHandler(() => healthRoute(t().issuing.obs)),
    blockKeys: lazyHandler(() => blockKeysRoute(t().keyBlocking)),
    getBlockedKey: lazyHandler(() => getBlockedKeyRoute(t().keyBlocking)),
    getCrl: lazyHandler(() => getCrlRoute(t().crlReading)),
    estCaCerts: lazyHandler(() => estCaCertsRoute(t().reading)),
    estCsrAttrs: lazyHandler(() => estCsrAttrsRoute({ ...t().reading, policy: t().config.policy })),
    estSimpleEnroll: lazyHandler(() => estSimpleEnrollRoute(t().issuing)),
    estSimpleReenroll: lazyHandler(() => estSimpleReenrollRoute(t().reenrolling)),
    getLogCheckpoint: lazyHandler(() => getLogCheckpointRoute(t().logReading)),
    getLogProof: lazyHandler(() => getLogProofRoute(t().logReading)),
    getLogEntry: lazyHandler(() => getLogEntryRoute(t().logReading)),
    getLogConsistency: lazyHandler(() => getLogConsistencyRoute(t().logReading)),
    openLot: lazyHandler(() => openLotRoute(t().lots)),
    getLot: lazyHandler(() => getLotRoute(t().lots)),
    closeLot: lazyHandler(() => closeLotRoute(t().lots)),
  };
}
