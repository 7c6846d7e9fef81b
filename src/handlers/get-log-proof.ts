import { loadConfig } from '../config/config.js';
import { composeLogReading } from '../compose/log.js';
import { getLogProofRoute } from '../http/log-routes.js';

// Configuration is validated and clients are built at cold start.
export const handler = getLogProofRoute(composeLogReading(loadConfig()));
