/**
 * The issuance log's functions: the sequencer (the ledger and the log key:
 * the one function that signs checkpoints) and the readers (the ledger only).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBClient as DynamoDB } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/config.js';
import type { Observability } from '../http/edge.js';
import { createKmsSigner } from '../kms/kms-signer.js';
import type { LogLedger } from '../log/ledger.js';
import { softwareKeyManager } from '../local/software-keys.js';
import { softwareSigners } from '../local/software-signer.js';
import { traced } from '../observability/tracing.js';
import type { Signer } from '../pki/signer.js';
import { CaError } from '../service/errors.js';
import type { LogReadDeps } from '../service/log-reading.js';
import type { LogSequencerDeps } from '../service/log-sequencer.js';
import { logKeyAliasOf, systemClock, type Clock, type CrlObjects } from '../service/ports.js';
import { DynamoLogStore } from '../store/dynamo-log-store.js';
import { crlObjects } from './crl.js';
import { type ComposedFunction, edge, observability, type ObservabilityOptions } from './shared.js';

export interface LogOptions extends ObservabilityOptions {
  dynamo?: DynamoDBClient;
  kms?: KMSClient;
  s3?: S3Client;
  ledger?: LogLedger;
  objects?: CrlObjects;
  /** The log key, instead of the configured one. */
  logSigner?: () => Promise<Signer>;
  clock?: Clock;
}

/** The KMS alias of a log key generation: `<KEY_ALIAS_PREFIX>-log-<generation>` (bootstrap creates the first, rotation the next). */
export const logKeyAlias = (config: Config, generation = 1): string => logKeyAliasOf(config.lifecycle.keyAliasPrefix, generation);

/** The issuance log's ledger items, in the stage's table. */
export const logLedger = (config: Config, dynamo?: DynamoDBClient): DynamoLogStore =>
  new DynamoLogStore(dynamo ?? traced(new DynamoDB({ region: config.region, maxAttempts: 4 })), config.tableName);

/**
 * The log keys, each loaded once: the KMS key behind a generation's alias
 * (ECC_NIST_P256), or locally a P-256 software key file under the state
 * directory, made on first use.
 */
export function logSigner(config: Config, o: { kms?: KMSClient } = {}): (generation: number) => Promise<Signer> {
  const loaded = new Map<number, Promise<Signer>>();
  let kms = o.kms;
  const load = async (generation: number): Promise<Signer> => {
    const alias = logKeyAlias(config, generation);
    if (config.allowSoftwareSigner) {
      const ref = await softwareKeyManager(config.localStateDir, config.lifecycle.keySpec).createKey(alias, 'log');
      if (ref.kind !== 'software') throw new Error('a local log key is a software key');
      return softwareSigners(config.localStateDir)(ref);
    }
    kms ??= traced(new KMSClient({ region: config.region, maxAttempts: 4 }));
    const signer = await createKmsSigner(kms, alias);
    if (signer.algorithm !== 'ECDSA_SHA_256') throw new CaError('INTERNAL', 'The log key is not usable', { logDetail: `${alias} signs with ${signer.algorithm}, not ECDSA P-256 SHA-256` });
    return signer;
  };
  return (generation) => {
    let signer = loaded.get(generation);
    if (!signer) {
      signer = load(generation).catch((e) => {
        loaded.delete(generation);
        throw e;
      });
      loaded.set(generation, signer);
    }
    return signer;
  };
}

export interface LogSequencingFunction {
  obs: Observability;
  sequencer: LogSequencerDeps;
}

/** The sequencer job (every minute in AWS, reserved concurrency 1; every few seconds locally). */
export function composeLogSequencing(config: Config, o: LogOptions = {}): LogSequencingFunction {
  return {
    obs: observability(o),
    sequencer: {
      ledger: o.ledger ?? logLedger(config, o.dynamo),
      logSigner: o.logSigner ?? logSigner(config, o.kms ? { kms: o.kms } : {}),
      origin: config.log.origin,
      clock: o.clock ?? systemClock,
      claimLeaseMs: config.claimLeaseMs,
      objects: crlObjects(config, { ...(o.objects ? { objects: o.objects } : {}), ...(o.s3 ? { s3: o.s3 } : {}) }),
    },
  };
}

export interface LogReadingFunction extends ComposedFunction {
  log: LogReadDeps;
}

/** GET /log/…: the ledger only (the checkpoint route is public, the proofs authenticated like GET /certificates). */
export function composeLogReading(config: Config, o: LogOptions = {}): LogReadingFunction {
  return { ...edge(config, o), log: { ledger: o.ledger ?? logLedger(config, o.dynamo) } };
}
