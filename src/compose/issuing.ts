/**
 * The issuing function (POST /certificates): the policy, the ledger, the active
 * issuing CA with its signer, clock, randomness. Nothing else: no AWS IoT, no
 * key administration.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { Config } from '../config/config.js';
import { systemRandom, type RandomSource } from '../pki/serial.js';
import type { ProvisioningTemplate } from '../provisioning/template.js';
import { CaDirectory } from '../service/ca-directory.js';
import type { IssueDeps } from '../service/issue-certificate.js';
import type { ReenrollDeps } from '../service/reenroll-certificate.js';
import { realSleep, systemClock, type CaStore, type CertificateStore, type Clock, type LotStore, type SignerFactory, type Sleep } from '../service/ports.js';
import { caSigners, type ComposedFunction, edge, ledger, lotLedger, type ObservabilityOptions } from './shared.js';
import { iotRegistrar, type IotOptions } from './iot.js';

export interface IssuingOptions extends ObservabilityOptions {
  dynamo?: DynamoDBClient;
  kms?: KMSClient;
  store?: CertificateStore & CaStore;
  lots?: LotStore;
  signers?: SignerFactory;
  clock?: Clock;
  random?: RandomSource;
  sleep?: Sleep;
}

export interface IssuingFunction extends ComposedFunction {
  issue: IssueDeps;
  /** The JITP template, for the provisioning preview of what is issued. */
  template: ProvisioningTemplate;
}

export function composeIssuing(config: Config, o: IssuingOptions = {}): IssuingFunction {
  const fn = edge(config, o);
  const { obs } = fn;
  const clock = o.clock ?? systemClock;
  const store = o.store ?? ledger(config, o.dynamo);
  const signers = o.signers ?? caSigners(config, { ...(o.kms ? { kms: o.kms } : {}), metrics: obs.metrics });
  return {
    ...fn,
    template: config.template,
    issue: {
      policy: config.policy,
      store,
      lots: o.lots ?? lotLedger(config, o.dynamo),
      cas: new CaDirectory(store, signers, clock, config.caCacheTtlMs, config.crl.baseUrl),
      clock,
      random: o.random ?? systemRandom,
      sleep: o.sleep ?? realSleep,
      claimLeaseMs: config.claimLeaseMs,
      inFlightWaitMs: config.inFlightWaitMs,
    },
  };
}

export interface ReenrollingFunction extends IssuingFunction {
  reenroll: ReenrollDeps;
}

/**
 * EST simplereenroll: the issuing function, plus AWS IoT (or its dry run) to
 * deactivate the certificate a device replaces. Its route takes no IAM
 * identity: the device authenticates with its current certificate (mutual TLS).
 */
export function composeReenrolling(config: Config, o: IssuingOptions & IotOptions = {}): ReenrollingFunction {
  const fn = composeIssuing(config, o);
  const registrar = iotRegistrar(config, fn.obs.logger, o);
  return { ...fn, reenroll: { issue: fn.issue, iot: () => registrar } };
}
