import { readFileSync } from 'node:fs';
import { resolve, relative, isAbsolute } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { loadConfig, type Config } from './config/config.js';
import { CaError } from './pki/errors.js';
import { systemRandom, type RandomSource } from './pki/serial.js';
import { createSoftwareSigner } from './pki/signer.js';
import { createKmsSigner } from './kms/kms-signer.js';
import { DynamoStore } from './store/dynamo-store.js';
import { CaDirectory } from './service/ca-directory.js';
import type { IssueDeps } from './service/issue-certificate.js';
import {
  realSleep,
  systemClock,
  type Clock,
  type KeyManager,
  type KeyReference,
  type SignerFactory,
  type Sleep,
} from './service/ports.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics, METRIC, type Metrics } from './observability/metrics.js';
import { traced } from './observability/tracing.js';

/** Everything a request needs, built once per container (cold start). */
export interface App {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  store: DynamoStore;
  cas: CaDirectory;
  issue: IssueDeps;
  /** The KMS client, built on first use. */
  kms: () => KMSClient;
  signers: SignerFactory;
  clock: Clock;
  random: RandomSource;
  /** What the caller replaced (tests, local mode): src/app-lifecycle.ts reads the lifecycle ones. */
  overrides: AppOverrides;
}

export interface AppOverrides {
  dynamo?: DynamoDBClient;
  kms?: KMSClient;
  clock?: Clock;
  random?: RandomSource;
  sleep?: Sleep;
  logger?: Logger;
  metrics?: Metrics;
  /** The AWS IoT client, or a whole registrar (used by src/app-lifecycle.ts). */
  iot?: unknown;
  keys?: KeyManager;
}

export function signerFactory(config: Config, kms: () => KMSClient, metrics?: Metrics): SignerFactory {
  const observe = metrics && ((durationMs: number, ok: boolean) => (ok ? metrics.milliseconds(METRIC.kmsSignLatency, durationMs) : undefined));
  return async (key: KeyReference) => {
    if (key.kind === 'kms') return createKmsSigner(kms(), key.keyId, observe);
    if (!config.allowSoftwareSigner) {
      throw new CaError('INTERNAL', 'CA key is not usable', { cause: new Error('software CA key found, but ALLOW_SOFTWARE_SIGNER is off') });
    }
    const file = resolve(config.localStateDir, key.file);
    const rel = relative(config.localStateDir, file);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      throw new CaError('INTERNAL', 'CA key is not usable', { cause: new Error(`key file ${key.file} is outside the state directory`) });
    }
    return createSoftwareSigner(readFileSync(file, 'utf8'));
  };
}

export function createApp(config: Config, o: AppOverrides = {}): App {
  const dynamo = o.dynamo ?? traced(new DynamoDBClient({ region: config.region, maxAttempts: 4 }));
  let kmsClient = o.kms;
  const kms = () => (kmsClient ??= traced(new KMSClient({ region: config.region, maxAttempts: 4 })));
  const clock = o.clock ?? systemClock;
  const store = new DynamoStore(dynamo, config.tableName);
  const logger = o.logger ?? createLogger();
  const metrics = o.metrics ?? createMetrics();
  const signers = signerFactory(config, kms, metrics);
  const cas = new CaDirectory(store, signers, clock, config.caCacheTtlMs);
  const random = o.random ?? systemRandom;
  return {
    config,
    logger,
    metrics,
    store,
    cas,
    kms,
    signers,
    clock,
    random,
    overrides: o,
    issue: {
      policy: config.policy,
      store,
      cas,
      clock,
      random,
      sleep: o.sleep ?? realSleep,
      claimLeaseMs: config.claimLeaseMs,
      inFlightWaitMs: config.inFlightWaitMs,
    },
  };
}

let shared: App | undefined;

/** The process-wide app: configuration is validated on first use, at cold start. */
export function getApp(): App {
  return (shared ??= createApp(loadConfig()));
}
