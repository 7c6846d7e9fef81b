import { loadConfig } from '../config/config.js';
import { composeRevocation } from '../compose/operations.js';
import { revokeRoute } from '../http/revocation-routes.js';

// Configuration is validated and clients are built at cold start.
export const handler = revokeRoute(composeRevocation(loadConfig()));
