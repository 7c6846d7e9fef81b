/**
 * The operator functions and jobs: revocation (the ledger, the CA chains, AWS
 * IoT) and the CA lifecycle (bootstrap and rotation: the ledger, KMS key
 * administration, CA signers, AWS IoT registration). Revocation never builds the
 * key administration; nothing here builds the issuance pipeline.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { Config } from '../config/config.js';
import { caKeyPolicy } from '../kms/key-policy.js';
import { kmsKeyManager } from '../kms/kms-key-manager.js';
import { PLACEHOLDER_JITP_ROLE_ARN } from '../local/dry-run-registrar.js';
import { softwareKeyManager } from '../local/software-keys.js';
import { traced } from '../observability/tracing.js';
import { iotRegistrar, type IotOptions } from './iot.js';
import { CaError } from '../service/errors.js';
import { systemRandom, type RandomSource } from '../pki/serial.js';
import { CaChains } from '../service/ca-directory.js';
import type { LifecycleDeps } from '../service/ca-lifecycle.js';
import { systemClock, type CaStore, type CertificateStore, type Clock, type CrlLedger, type CrlObjects, type IotRegistrar, type KeyManager, type SignerFactory } from '../service/ports.js';
import type { RevokeDeps } from '../service/revoke-certificate.js';
import type { BlockDeps } from '../service/blocked-keys.js';
import { caSigners, type ComposedFunction, edge, ledger, type ObservabilityOptions } from './shared.js';
import { crlObjects } from './crl.js';
import { logLedger } from './log.js';
import type { LogKeyStore } from '../log/ledger.js';
import type { CrlPublishDeps } from '../service/crl.js';
import type { S3Client } from '@aws-sdk/client-s3';

export interface OperationsOptions extends ObservabilityOptions, IotOptions {
  /** Where CRLs are published (the stage's bucket, or files in local mode). */
  objects?: CrlObjects;
  s3?: S3Client;
  dynamo?: DynamoDBClient;
  kms?: KMSClient;
  store?: CertificateStore & CaStore & CrlLedger;
  keys?: KeyManager;
  signers?: SignerFactory;
  clock?: Clock;
  random?: RandomSource;
  /** The issuance log key's state (the ledger's table by default). */
  logKeys?: LogKeyStore;
}

const notConfigured = (detail: string) => new CaError('INTERNAL', 'The CA lifecycle is not configured', { logDetail: detail });

/** CA keys: in KMS with the project's key policy and tags, or software keys in local mode. */
function keyManager(config: Config, kms: KMSClient, o: OperationsOptions): KeyManager {
  if (o.keys) return o.keys;
  const lc = config.lifecycle;
  if (config.allowSoftwareSigner) return softwareKeyManager(config.localStateDir, lc.keySpec);
  const { issueRoleArn, lifecycleRoleArn, logSequencerRoleArn } = lc;
  if (!issueRoleArn || !lifecycleRoleArn) throw notConfigured('ISSUE_ROLE_ARN and LIFECYCLE_ROLE_ARN are required to create KMS keys');
  return kmsKeyManager(kms, {
    keySpec: lc.keySpec,
    keyPolicy: (purpose) => {
      if (purpose === 'log' && !logSequencerRoleArn) throw notConfigured('LOG_SEQUENCER_ROLE_ARN is required to create the issuance log key');
      return caKeyPolicy({ purpose, issueRoleArn, lifecycleRoleArn, ...(logSequencerRoleArn ? { logSequencerRoleArn } : {}) });
    },
    tags: { 'factory-ca:table': config.tableName },
  });
}

export interface RevocationFunction extends ComposedFunction {
  revoke: RevokeDeps;
}

/** POST /certificates/{serial}/revoke. */
export function composeRevocation(config: Config, o: OperationsOptions = {}): RevocationFunction {
  const fn = edge(config, o);
  const store = o.store ?? ledger(config, o.dynamo);
  const registrar = iotRegistrar(config, fn.obs.logger, o);
  return {
    ...fn,
    revoke: { store, cas: new CaChains(store), iot: () => registrar, clock: o.clock ?? systemClock },
  };
}

export interface KeyBlockingFunction extends ComposedFunction {
  keys: BlockDeps;
}

/** POST /blocked-keys and GET /blocked-keys/{spkiSha256}: the key index only. */
export function composeKeyBlocking(config: Config, o: OperationsOptions = {}): KeyBlockingFunction {
  return { ...edge(config, o), keys: { store: o.store ?? ledger(config, o.dynamo), clock: o.clock ?? systemClock } };
}

export interface LifecycleFunction extends ComposedFunction {
  lifecycle: LifecycleDeps;
  /** CRLs, signed again after a bootstrap or a rotation (the root's list names a compromised CA at once). */
  crl: CrlPublishDeps;
}

/** POST /ca/rotate, and the bootstrap and scheduled rotation jobs. */
export function composeLifecycle(config: Config, o: OperationsOptions = {}): LifecycleFunction {
  const fn = edge(config, o);
  const { obs } = fn;
  const lc = config.lifecycle;
  const jitpRoleArn = lc.jitpRoleArn ?? (lc.iotMode === 'dry-run' ? PLACEHOLDER_JITP_ROLE_ARN : undefined);
  if (!jitpRoleArn) throw notConfigured('JITP_ROLE_ARN is required with IOT_MODE=aws');
  const kms = o.kms ?? traced(new KMSClient({ region: config.region, maxAttempts: 4 }));
  const store = o.store ?? ledger(config, o.dynamo);
  const signerFactory = o.signers ?? caSigners(config, { kms, metrics: obs.metrics });
  const clock = o.clock ?? systemClock;
  return {
    ...fn,
    crl: { store, objects: crlObjects(config, o), signerFactory, clock, policy: { validityDays: config.crl.validityDays, republishAfterHours: 24 } },
    lifecycle: {
      store,
      keys: keyManager(config, kms, o),
      iot: iotRegistrar(config, obs.logger, o),
      signerFactory,
      clock,
      random: o.random ?? systemRandom,
      naming: { organization: config.organization, country: config.country },
      keyAliasPrefix: lc.keyAliasPrefix,
      template: config.template,
      jitpRoleArn,
      rotation: { periodDays: lc.rotationPeriodDays, minRemainingDays: lc.rotationMinRemainingDays },
      tags: { 'factory-ca:table': config.tableName },
      logKeys: o.logKeys ?? logLedger(config, o.dynamo),
      logKeyRotation: { periodDays: config.log.keyRotationDays, cosignDays: config.log.keyCosignDays },
    },
  };
}
