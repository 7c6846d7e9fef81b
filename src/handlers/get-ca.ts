import { loadConfig } from '../config/config.js';
import { composeReading } from '../compose/reading.js';
import { getCaRoute } from '../http/read-routes.js';

// Configuration is validated and clients are built at cold start.
export const handler = getCaRoute(composeReading(loadConfig()));
