/**
 * The CRL functions: publishing (the CA signers and the ledger, run with the
 * lifecycle role, the one allowed to sign with every CA key) and reading (the
 * ledger and the CRL store only: no key access).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/config.js';
import { traced } from '../observability/tracing.js';
import { isDeployedLambda } from '../pki/signer.js';
import { fileCrlObjects, s3CrlObjects } from '../s3/crl-objects.js';
import type { CrlPublishDeps, CrlReadDeps } from '../service/crl.js';
import { systemClock, type CaStore, type CertificateStore, type Clock, type CrlLedger, type CrlObjects, type SignerFactory } from '../service/ports.js';
import { caSigners, type ComposedFunction, edge, ledger, observability, type ObservabilityOptions } from './shared.js';
import type { Observability } from '../http/edge.js';

export interface CrlOptions extends ObservabilityOptions {
  dynamo?: DynamoDBClient;
  kms?: KMSClient;
  s3?: S3Client;
  store?: CertificateStore & CaStore & CrlLedger;
  objects?: CrlObjects;
  signers?: SignerFactory;
  clock?: Clock;
}

/** Published CRLs: the stage's bucket, or the local state directory (never in a deployed function). */
export function crlObjects(config: Config, o: CrlOptions = {}): CrlObjects {
  if (o.objects) return o.objects;
  if (config.crl.bucket) return s3CrlObjects(o.s3 ?? traced(new S3Client({ region: config.region, maxAttempts: 4 })), config.crl.bucket);
  if (isDeployedLambda(process.env)) throw new Error('CRL_BUCKET is required in a deployed stage (serverless.yml sets it)');
  return fileCrlObjects(config.localStateDir);
}

export interface CrlPublishingFunction {
  obs: Observability;
  crl: CrlPublishDeps;
}

/** The publishing job (every minute, and after bootstrap and rotation). */
export function composeCrlPublishing(config: Config, o: CrlOptions = {}): CrlPublishingFunction {
  const obs = observability(o);
  return {
    obs,
    crl: {
      store: o.store ?? ledger(config, o.dynamo),
      objects: crlObjects(config, o),
      signerFactory: o.signers ?? caSigners(config, { ...(o.kms ? { kms: o.kms } : {}), metrics: obs.metrics }),
      clock: o.clock ?? systemClock,
      policy: { validityDays: config.crl.validityDays, republishAfterHours: 24 },
    },
  };
}

export interface CrlReadingFunction extends ComposedFunction {
  crls: CrlReadDeps & { clock: Clock };
}

/** GET /crl/{name}: public, read-only. */
export function composeCrlReading(config: Config, o: CrlOptions = {}): CrlReadingFunction {
  return { ...edge(config, o), crls: { store: o.store ?? ledger(config, o.dynamo), objects: crlObjects(config, o), clock: o.clock ?? systemClock } };
}
