import { afterAll, beforeAll } from '@jest/globals';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App, type AppOverrides } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { bootstrapLocalCa, ensureTable, localDynamoClient, startDynalite } from '../../src/local/local-stack.js';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { lambdaContext } from './api.js';
import type { Logger } from '../../src/observability/logger.js';
import type { Metrics } from '../../src/observability/metrics.js';

export interface LogEntry {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps what it is told, so tests can read the log lines. */
export function memoryLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: string) => (message: string, fields: Record<string, unknown> = {}) => entries.push({ level, message, fields });
  return { entries, info: at('INFO'), warn: at('WARN'), error: at('ERROR') };
}

export interface MetricEntry {
  name: string;
  value: number;
  dimensions?: Record<string, string>;
}

/** Metrics kept in memory: `entries` are what was flushed, in order. */
export function memoryMetrics(): Metrics & { entries: MetricEntry[]; pending: MetricEntry[]; counts(name: string, dimensions?: Record<string, string>): number } {
  const pending: MetricEntry[] = [];
  const entries: MetricEntry[] = [];
  return {
    entries,
    pending,
    count: (name, dimensions) => void (dimensions ? entries.push({ name, value: 1, dimensions }) : pending.push({ name, value: 1 })),
    milliseconds: (name, value) => void pending.push({ name, value }),
    gauge: (name, value) => void pending.push({ name, value }),
    flush: () => void entries.push(...pending.splice(0)),
    counts: (name, dimensions) =>
      entries.filter((e) => e.name === name && JSON.stringify(e.dimensions) === JSON.stringify(dimensions)).reduce((n, e) => n + e.value, 0),
  };
}

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

export interface TestApp {
  app: App;
  config: Config;
  logger: ReturnType<typeof memoryLogger>;
  metrics: ReturnType<typeof memoryMetrics>;
  stateDir: string;
  /** The ledger's DynamoDB client (for scans in tests). */
  client: DynamoDBClient;
  cleanup(): void;
}

/**
 * The real app (real config loader, DynamoDB store, software CA made by the same
 * builder as local mode) on a fresh table of the given ledger.
 */
export async function createTestApp(
  ledger: TestLedger,
  env: Record<string, string> = {},
  overrides: AppOverrides = {},
): Promise<TestApp> {
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
  await ensureTable(ledger.client, tableName);
  const logger = memoryLogger();
  const metrics = memoryMetrics();
  await bootstrapLocalCa(ledger.client, config, logger);
  const app = createApp(config, { dynamo: ledger.client, logger, metrics, ...overrides });
  return { app, config, logger, metrics, stateDir, client: ledger.client, cleanup: () => rmSync(stateDir, { recursive: true, force: true }) };
}

/**
 * One ledger and one test app for a test file: registers the beforeAll/afterAll
 * that start and stop them, and returns an accessor (valid inside tests).
 */
export function useTestApp(env: Record<string, string> = {}, overrides: AppOverrides = {}): () => TestApp {
  let ledger: TestLedger | undefined;
  let t: TestApp | undefined;
  beforeAll(async () => {
    ledger = await startTestLedger();
    t = await createTestApp(ledger, env, overrides);
  });
  afterAll(async () => {
    t?.cleanup();
    await ledger?.close();
  });
  return () => {
    if (!t) throw new Error('useTestApp: the app exists only inside tests');
    return t;
  };
}

/** A Lambda handler for API Gateway events, as the routes are. */
export type RouteHandler = (e: APIGatewayProxyEvent, c: Context) => Promise<APIGatewayProxyResult>;

/** Calls a route handler and parses its JSON body. */
export async function callRoute(handler: RouteHandler, event: APIGatewayProxyEvent) {
  const res = await handler(event, lambdaContext());
  return { ...res, json: JSON.parse(res.body) as Record<string, any> };
}
