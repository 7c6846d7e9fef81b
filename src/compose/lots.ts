/**
 * The lot functions (POST /lots, GET /lots/{lotId}, POST /lots/{lotId}/close):
 * the lot items of the ledger's table and the clock. No key, no CA, no AWS IoT.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Config } from '../config/config.js';
import type { LotDeps } from '../service/lots.js';
import { systemClock, type Clock, type LotStore } from '../service/ports.js';
import { type ComposedFunction, edge, lotLedger, type ObservabilityOptions } from './shared.js';

export interface LotOptions extends ObservabilityOptions {
  dynamo?: DynamoDBClient;
  lots?: LotStore;
  clock?: Clock;
}

export interface LotFunction extends ComposedFunction {
  lots: LotDeps;
}

export function composeLots(config: Config, o: LotOptions = {}): LotFunction {
  return { ...edge(config, o), lots: { lots: o.lots ?? lotLedger(config, o.dynamo), clock: o.clock ?? systemClock } };
}
