import { healthRoute } from '../http/routes.js';
import { createLogger } from '../observability/logger.js';

// Health needs no configuration, table or key: it answers even when those are broken.
const logger = createLogger();
export const handler = healthRoute(() => logger);
