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
import { realSleep, systemClock, type Clock, type KeyReference, type SignerFactory, type Sleep } from './service/ports.js';
import { createLogger, type Logger } from './observability/logger.js';

/** Everything a request needs, built once per container (cold start). */
export interface App {
  config: Config;
  logger: Logger;
  store: DynamoStore;
  cas: CaDirectory;
  issue: IssueDeps;
}

export interface AppOverrides {
  dynamo?: DynamoDBClient;
  kms?: KMSClient;
  clock?: Clock;
  random?: RandomSource;
  sleep?: Sleep;
  logger?: Logger;
}

export function signerFactory(config: Config, kms: () => KMSClient): SignerFactory {
  return async (key: KeyReference) => {
    if (key.kind === 'kms') return createKmsSigner(kms(), key.keyId);
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
  const dynamo = o.dynamo ?? new DynamoDBClient({ region: config.region, maxAttempts: 4 });
  let kmsClient = o.kms;
  const kms = () => (kmsClient ??= new KMSClient({ region: config.region, maxAttempts: 4 }));
  const clock = o.clock ?? systemClock;
  const store = new DynamoStore(dynamo, config.tableName);
  const cas = new CaDirectory(store, signerFactory(config, kms), clock, config.caCacheTtlMs);
  return {
    config,
    logger: o.logger ?? createLogger(),
    store,
    cas,
    issue: {
      policy: config.policy,
      store,
      cas,
      clock,
      random: o.random ?? systemRandom,
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
