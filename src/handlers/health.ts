import { healthRoute } from '../http/routes.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';

// Health needs no configuration, table or key: it answers even when those are broken.
const observability = { logger: createLogger(), metrics: createMetrics() };
export const handler = healthRoute(() => observability);
