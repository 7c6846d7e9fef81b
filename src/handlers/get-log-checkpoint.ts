import { loadConfig } from '../config/config.js';
import { composeLogReading } from '../compose/log.js';
import { getLogCheckpointRoute } from '../http/log-routes.js';

// Configuration is validated and clients are built at cold start.
export const handler = getLogCheckpointRoute(composeLogReading(loadConfig()));
