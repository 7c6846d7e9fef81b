import { loadConfig } from '../config/config.js';
import { composeReading } from '../compose/reading.js';
import { getCertificateRoute } from '../http/read-routes.js';

// Configuration is validated and clients are built at cold start.
export const handler = getCertificateRoute(composeReading(loadConfig()));
