import { loadConfig } from '../config/config.js';
import { composeLogReading } from '../compose/log.js';
import { getLogConsistencyRoute } from '../http/log-routes.js';

// Configuration is validated and clients are built at cold start.
export const handler = getLogConsistencyRoute(composeLogReading(loadConfig()));
