import { loadConfig } from '../config/config.js';
import { composeIssuing } from '../compose/issuing.js';
import { estSimpleEnrollRoute } from '../http/est-routes.js';

// Configuration is validated and clients are built at cold start.
export const handler = estSimpleEnrollRoute(composeIssuing(loadConfig()));
