import { loadConfig } from '../config/config.js';
import { composeIssuing } from '../compose/issuing.js';
import { issueRoute } from '../http/issuing-routes.js';

// Configuration is validated and clients are built at cold start.
export const handler = issueRoute(composeIssuing(loadConfig()));
