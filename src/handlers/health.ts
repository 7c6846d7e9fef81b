import { observability } from '../compose/observability.js';
import { healthRoute } from '../http/health-route.js';

// Health needs no configuration, table or key: it answers even when those are broken.
export const handler = healthRoute(observability());
