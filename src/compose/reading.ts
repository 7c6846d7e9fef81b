/**
 * The reading functions (GET /certificates, GET /certificates/{serial}, GET /ca,
 * GET /.well-known/est/cacerts): the ledger and the CA chains. No signer: they
 * run with a role that has no key access. And the one that reads only the
 * policy (GET /.well-known/est/csrattrs): no ledger at all.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Config } from '../config/config.js';
import type { Policy } from '../pki/policy.js';
import { CaChains } from '../service/ca-directory.js';
import type { ReadDeps } from '../service/certificates.js';
import { systemClock, type CaStore, type CertificateStore, type Clock } from '../service/ports.js';
import { type ComposedFunction, edge, ledger, type ObservabilityOptions } from './shared.js';

export interface ReadingOptions extends ObservabilityOptions {
  dynamo?: DynamoDBClient;
  store?: CertificateStore & CaStore;
  clock?: Clock;
}

export interface ReadingFunction extends ComposedFunction {
  read: ReadDeps & { chains: CaChains };
}

export function composeReading(config: Config, o: ReadingOptions = {}): ReadingFunction {
  const store = o.store ?? ledger(config, o.dynamo);
  return { ...edge(config, o), read: { store, chains: new CaChains(store), template: config.template, clock: o.clock ?? systemClock } };
}

export interface PolicyReadingFunction extends ComposedFunction {
  policy: Policy;
}

/** What EST's csrattrs is made from: the policy; no table, no key. */
export function composePolicyReading(config: Config, o: ObservabilityOptions = {}): PolicyReadingFunction {
  return { ...edge(config, o), policy: config.policy };
}
