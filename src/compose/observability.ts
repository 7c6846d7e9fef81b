import type { Observability } from '../http/edge.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';

export interface ObservabilityOptions {
  logger?: Logger;
  metrics?: Metrics;
}

/**
 * The log and the metrics: what every function, health included, is composed
 * with. The functions that call AWS add X-Ray (compose/shared.ts); health and
 * the API description do without it, which keeps the X-Ray SDK out of their bundles.
 */
export function observability(o: ObservabilityOptions = {}): Observability {
  return { logger: o.logger ?? createLogger(), metrics: o.metrics ?? createMetrics() };
}
