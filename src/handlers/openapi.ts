import { openapiRoute } from '../http/openapi.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';

// Serves openapi.yaml (packaged with the function) as JSON; needs no table or key.
const observability = { logger: createLogger(), metrics: createMetrics() };
export const handler = openapiRoute(() => observability);
