/**
 * The reading functions (GET /certificates, GET /certificates/{serial}, GET /ca):
 * the ledger and the CA chains. No signer: they run with a role that has no key access.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Config } from '../config/config.js';
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
