import { loadConfig } from '../config/config.js';
import { composePolicyReading } from '../compose/reading.js';
import { estCsrAttrsRoute } from '../http/est-routes.js';

// Configuration is validated and the CSR attributes are made at cold start; no table, no key.
export const handler = estCsrAttrsRoute(composePolicyReading(loadConfig()));
