import { loadConfig } from '../config/config.js';
import { composeCrlReading } from '../compose/crl.js';
import { getCrlRoute } from '../http/crl-routes.js';

// Configuration is validated and clients are built at cold start.
export const handler = getCrlRoute(composeCrlReading(loadConfig()));
