/**
 * The pieces several functions are composed from. Each is built from the
 * validated configuration; a test replaces any of them through the typed
 * options of the composition that uses it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { Config } from '../config/config.js';
import type { Middleware, Observability } from '../http/edge.js';
import { localOriginGuard, localSigV4 } from '../http/local-guards.js';
import { createKmsSigner } from '../kms/kms-signer.js';
import type { LocalCredentials } from '../http/sigv4.js';
import { credentialsFile, LOCAL_PROFILE, readLocalCredentials } from '../local/local-credentials.js';
import { refuseSoftwareKeys, softwareSigners } from '../local/software-signer.js';
import { METRIC, MetricUnit, type Metrics } from '../observability/metrics.js';
import { traced, tracer } from '../observability/tracing.js';
import { observability as baseObservability, type ObservabilityOptions } from './observability.js';
import type { SignerFactory } from '../service/ports.js';
import { DynamoStore } from '../store/dynamo-store.js';
import { DynamoLotStore } from '../store/dynamo-lot-store.js';

export type { ObservabilityOptions } from './observability.js';

/** The log, the metrics, and X-Ray around the handler when tracing is on. */
export function observability(o: ObservabilityOptions = {}): Observability {
  const t = tracer();
  return { ...baseObservability(o), ...(t.isTracingEnabled() ? { tracer: t } : {}) };
}

/** What every composed HTTP function has besides its use case's dependencies. */
export interface ComposedFunction {
  obs: Observability;
  http: HttpSettings;
  /** Local mode's guards (origin and host; SigV4 in local SigV4 mode); none in AWS. */
  guards: Middleware[];
  /**
   * Local mode's guards for a route AWS serves without authentication (EST
   * cacerts and csrattrs): the origin and host guard only, never SigV4.
   */
  publicGuards: Middleware[];
}

/** The edge of a composed function: its observability, its request settings, local mode's guards. */
export function edge(config: Config, o: ObservabilityOptions = {}): ComposedFunction {
  const http = httpSettings(config);
  const publicGuards = http.localApiPort ? [localOriginGuard(http.localApiPort)] : [];
  return {
    obs: observability(o),
    http,
    guards: [...publicGuards, ...(http.localCredentials ? [localSigV4(http.localCredentials)] : [])],
    publicGuards,
  };
}

/** What the HTTP edge reads from the configuration. */
export interface HttpSettings {
  maxBodyBytes: number;
  /** Local mode only: the station id comes from X-Station-Id (there is no IAM). */
  trustStationHeader: boolean;
  /** Local mode only: EST simplereenroll's client certificate comes from X-Est-Client-Cert (the local TLS listener's). */
  trustClientCertHeader: boolean;
  /** Local mode only: the port of the local API, for the origin and host guard. */
  localApiPort?: number;
  /** Local SigV4 mode only: the one access key every request must be signed with. */
  localCredentials?: LocalCredentials;
}

export const httpSettings = (config: Config): HttpSettings => ({
  maxBodyBytes: config.maxBodyBytes,
  trustStationHeader: config.trustStationHeader,
  trustClientCertHeader: config.trustClientCertHeader,
  ...(config.localApiPort ? { localApiPort: config.localApiPort } : {}),
  ...(config.localAuth === 'sigv4' ? { localCredentials: localSigningCredentials(config.localStateDir) } : {}),
});

/** Local SigV4 mode's credentials, read at cold start; npm start makes them before the functions start. */
function localSigningCredentials(stateDir: string): LocalCredentials {
  const found = readLocalCredentials(stateDir);
  if (!found) throw new Error(`LOCAL_AUTH=sigv4, but ${credentialsFile(stateDir)} holds no ${LOCAL_PROFILE} profile: start with npm start`);
  return found;
}

/** The ledger (certificates, claims, CA records) in the stage's table. */
export const ledger = (config: Config, dynamo?: DynamoDBClient): DynamoStore =>
  new DynamoStore(dynamo ?? traced(new DynamoDBClient({ region: config.region, maxAttempts: 4 })), config.tableName);

/** The production lots, in the same table. */
export const lotLedger = (config: Config, dynamo?: DynamoDBClient): DynamoLotStore =>
  new DynamoLotStore(dynamo ?? traced(new DynamoDBClient({ region: config.region, maxAttempts: 4 })), config.tableName);

/**
 * CA signers: a KMS key through the KMS client (built on first use, each Sign's
 * latency measured), a software key only in local mode.
 */
export function caSigners(config: Config, o: { kms?: KMSClient; metrics?: Metrics } = {}): SignerFactory {
  let client = o.kms;
  const kms = () => (client ??= traced(new KMSClient({ region: config.region, maxAttempts: 4 })));
  const { metrics } = o;
  const observe = metrics && ((ms: number, ok: boolean) => void (ok && metrics.addMetric(METRIC.kmsSignLatency, MetricUnit.Milliseconds, ms)));
  const software = config.allowSoftwareSigner ? softwareSigners(config.localStateDir) : refuseSoftwareKeys;
  return async (key) => (key.kind === 'kms' ? createKmsSigner(kms(), key.keyId, observe) : software(key));
}
