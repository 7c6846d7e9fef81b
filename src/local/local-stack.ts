import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import dynalite from 'dynalite';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { tableDefinition } from '../store/table.js';
import { composeLifecycle } from '../compose/operations.js';
import { bootstrap, type LifecycleReport } from '../service/ca-lifecycle.js';
import { ensureLogKey } from '../service/log-keys.js';
import { withCrls } from '../service/crl.js';
import { composeLogSequencing } from '../compose/log.js';
import { didWork, sequenceLog, type SequenceReport } from '../service/log-sequencer.js';
import { describeError } from '../observability/logger.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import { isStartProcess } from './start-lock.js';

/** Credentials and region for talking to dynalite (it checks neither). */
export const LOCAL_AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
} as const;

/** Starts dynalite on 127.0.0.1 (in memory, or on disk under `path`). */
export async function startDynalite(options: { path?: string; port?: number } = {}): Promise<{ server: Server; endpoint: string }> {
  if (options.path) mkdirSync(options.path, { recursive: true });
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(options.path ? { path: options.path } : {}) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { server, endpoint: `http://127.0.0.1:${port}` };
}

export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: LOCAL_AWS_ENV.AWS_REGION,
    credentials: { accessKeyId: LOCAL_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: LOCAL_AWS_ENV.AWS_SECRET_ACCESS_KEY },
  });
}

/** Creates the ledger table from its definition unless it exists, and waits until it is ACTIVE. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<boolean> {
  const status = async (): Promise<string | undefined> => {
    try {
      return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table?.TableStatus;
    } catch (e) {
      if (!(e instanceof ResourceNotFoundException) && (e as Error).name !== 'ResourceNotFoundException') throw e;
      return undefined;
    }
  };
  let current = await status();
  const created = current === undefined;
  if (created) await client.send(new CreateTableCommand(tableDefinition(tableName)));
  // dynalite (like DynamoDB) reports CREATING for a moment: reads before ACTIVE fail.
  for (let i = 0; (current = await status()) !== 'ACTIVE'; i++) {
    if (i >= 200) throw new Error(`table ${tableName} is still ${current ?? 'missing'} after 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return created;
}

/** The environment of local mode (shared by npm start and the lifecycle commands). */
export function localEnv(stateDir: string, tableName: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...LOCAL_AWS_ENV,
    TABLE_NAME: tableName,
    ALLOW_SOFTWARE_SIGNER: 'true',
    TRUST_STATION_HEADER: 'true',
    TRUST_CLIENT_CERT_HEADER: 'true',
    IOT_MODE: 'dry-run',
    LOCAL_STATE_DIR: stateDir,
  };
}

/**
 * Local mode's CA: the same bootstrap as in AWS, with software keys under the
 * state directory standing in for KMS and AWS IoT in dry run (the registration
 * bundle is written under `<stateDir>/iot/`). Creates nothing when it exists.
 */
export async function bootstrapLocalCa(client: DynamoDBClient, config: Config, logger?: Logger): Promise<LifecycleReport> {
  const fn = composeLifecycle(config, { dynamo: client, ...(logger ? { logger } : {}) });
  const report = await bootstrap(fn.lifecycle);
  report.actions.push(...(await ensureLogKey(fn.lifecycle)));
  return withCrls(fn.crl, report);
}

/**
 * Local mode's stand-in for the scheduled sequencer: one run every `intervalMs`
 * (never two at once), with the software log key under the state directory.
 * Returns a function that stops it (and waits for a run in progress).
 */
export function startLocalSequencer(client: DynamoDBClient, config: Config, o: { logger?: Logger; intervalMs?: number; onRun?: (report: SequenceReport) => void } = {}): () => Promise<void> {
  const fn = composeLogSequencing(config, { dynamo: client, ...(o.logger ? { logger: o.logger } : {}) });
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= sequenceLog(fn.sequencer)
      .then((report) => {
        if (didWork(report)) fn.obs.logger.info('log sequencing', { job: 'log', report: { ...report } });
        o.onRun?.(report);
      })
      .catch((e) => fn.obs.logger.error('log sequencing failed', { job: 'log', error: describeError(e) }))
      .finally(() => {
        running = undefined;
      });
  };
  run();
  const timer = setInterval(run, o.intervalMs ?? 5000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

/** Where a running `npm start` announces its DynamoDB endpoint, so local commands share it. */
export const endpointFile = (stateDir: string) => join(stateDir, 'dynalite.json');

/** What a running `npm start` announces in its state directory. */
export interface Announcement {
  endpoint: string;
  pid: number;
  /** The API it serves. */
  url?: string;
}

/** Writes this process's announcement; the function returned removes it (only while it is still this process's). */
export function announceEndpoint(stateDir: string, endpoint: string, url?: string): () => void {
  const announcement: Announcement = { endpoint, pid: process.pid, ...(url ? { url } : {}) };
  writeFileSync(endpointFile(stateDir), JSON.stringify(announcement) + '\n');
  return () => {
    if (readAnnouncement(stateDir)?.pid === process.pid) rmSync(endpointFile(stateDir), { force: true });
  };
}

function readAnnouncement(stateDir: string): Announcement | undefined {
  try {
    return JSON.parse(readFileSync(endpointFile(stateDir), 'utf8')) as Announcement;
  } catch {
    return undefined;
  }
}

/** The `npm start` running on this state directory, if one is. */
export function runningStack(stateDir: string): Announcement | undefined {
  const announcement = readAnnouncement(stateDir);
  return announcement && isStartProcess(announcement.pid) ? announcement : undefined;
}

/** The endpoint of the `npm start` running on this state directory, if one is. */
export function runningEndpoint(stateDir: string): string | undefined {
  return runningStack(stateDir)?.endpoint;
}

/** Removes the announcement of an `npm start` that is no longer running (killed, crashed). */
export function removeStaleAnnouncement(stateDir: string): void {
  const announcement = readAnnouncement(stateDir);
  if (announcement && !isStartProcess(announcement.pid)) rmSync(endpointFile(stateDir), { force: true });
}
