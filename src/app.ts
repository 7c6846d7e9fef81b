import { readFileSync } from 'node:fs';
import { join, resolve, relative, isAbsolute } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IoTClient } from '@aws-sdk/client-iot';
import { KMSClient } from '@aws-sdk/client-kms';
import { loadConfig, type Config } from './config/config.js';
import { CaError } from './pki/errors.js';
import { systemRandom, type RandomSource } from './pki/serial.js';
import { createSoftwareSigner } from './pki/signer.js';
import { createKmsSigner } from './kms/kms-signer.js';
import { kmsKeyManager } from './kms/kms-key-manager.js';
import { caKeyPolicy } from './kms/key-policy.js';
import { awsIotRegistrar } from './iot/iot-registrar.js';
import { dryRunRegistrar, PLACEHOLDER_JITP_ROLE_ARN } from './local/dry-run-registrar.js';
import { softwareKeyManager } from './local/software-keys.js';
import type { LifecycleDeps } from './service/ca-lifecycle.js';
import type { RevokeDeps } from './service/revoke-certificate.js';
import { DynamoStore } from './store/dynamo-store.js';
import { CaDirectory } from './service/ca-directory.js';
import type { IssueDeps } from './service/issue-certificate.js';
import {
  realSleep,
  systemClock,
  type Clock,
  type IotRegistrar,
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
  revoke: RevokeDeps;
  /** Built on first use: only the lifecycle functions need KMS key creation and AWS IoT. */
  lifecycle(): LifecycleDeps;
}

export interface AppOverrides {
  dynamo?: DynamoDBClient;
  kms?: KMSClient;
  clock?: Clock;
  random?: RandomSource;
  sleep?: Sleep;
  logger?: Logger;
  metrics?: Metrics;
  iot?: IoTClient | IotRegistrar;
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
  const lc = config.lifecycle;

  let iot: IotRegistrar | undefined;
  const iotRegistrar = () =>
    (iot ??=
      o.iot && 'mode' in o.iot
        ? o.iot
        : lc.iotMode === 'dry-run'
          ? dryRunRegistrar(join(config.localStateDir, 'iot'), {
              ...(lc.registrationCode ? { registrationCode: lc.registrationCode } : {}),
              print: (line) => logger.info(line),
            })
          : awsIotRegistrar((o.iot as IoTClient | undefined) ?? traced(new IoTClient({ region: config.region, maxAttempts: 4 }))));

  const keyManager = (): KeyManager => {
    if (o.keys) return o.keys;
    if (config.allowSoftwareSigner) return softwareKeyManager(config.localStateDir, lc.keySpec);
    const { issueRoleArn, lifecycleRoleArn } = lc;
    if (!issueRoleArn || !lifecycleRoleArn) {
      throw new CaError('INTERNAL', 'The CA lifecycle is not configured', { cause: new Error('ISSUE_ROLE_ARN and LIFECYCLE_ROLE_ARN are required to create KMS keys') });
    }
    return kmsKeyManager(kms(), {
      keySpec: lc.keySpec,
      keyPolicy: (purpose) => caKeyPolicy({ purpose, issueRoleArn, lifecycleRoleArn }),
      tags: { 'factory-ca:table': config.tableName },
    });
  };

  let lifecycle: LifecycleDeps | undefined;
  return {
    config,
    logger,
    metrics,
    store,
    cas,
    lifecycle: () => {
      if (lifecycle) return lifecycle;
      const jitpRoleArn = lc.jitpRoleArn ?? (lc.iotMode === 'dry-run' ? PLACEHOLDER_JITP_ROLE_ARN : undefined);
      if (!jitpRoleArn) {
        throw new CaError('INTERNAL', 'The CA lifecycle is not configured', { cause: new Error('JITP_ROLE_ARN is required with IOT_MODE=aws') });
      }
      return (lifecycle = {
        store,
        keys: keyManager(),
        iot: iotRegistrar(),
        signerFactory: signers,
        clock,
        random,
        naming: { organization: config.organization, country: config.country },
        keyAliasPrefix: lc.keyAliasPrefix,
        template: config.template,
        jitpRoleArn,
        rotation: { periodDays: lc.rotationPeriodDays, minRemainingDays: lc.rotationMinRemainingDays },
        tags: { 'factory-ca:table': config.tableName },
      });
    },
    revoke: { store, cas, iot: iotRegistrar, clock },
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
