import { loadConfig } from '../config/config.js';
import { composeReenrolling } from '../compose/issuing.js';
import { estSimpleReenrollRoute } from '../http/est-routes.js';

// Configuration is validated and clients are built at cold start.
export const handler = estSimpleReenrollRoute(composeReenrolling(loadConfig()));
