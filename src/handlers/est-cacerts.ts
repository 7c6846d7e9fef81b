import { loadConfig } from '../config/config.js';
import { composeReading } from '../compose/reading.js';
import { estCaCertsRoute } from '../http/est-routes.js';

// Configuration is validated and clients are built at cold start.
export const handler = estCaCertsRoute(composeReading(loadConfig()));
