import type { Observability } from '../http/edge.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { tracer } from '../observability/tracing.js';

export interface ObservabilityOptions {
  logger?: Logger;
  metrics?: Metrics;
}

/** The log, the metrics, and X-Ray when tracing is on: what every function, health included, is composed with. */
export function observability(o: ObservabilityOptions = {}): Observability {
  const t = tracer();
  return { logger: o.logger ?? createLogger(), metrics: o.metrics ?? createMetrics(), ...(t.isTracingEnabled() ? { tracer: t } : {}) };
}
