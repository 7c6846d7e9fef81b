import { loadConfig } from '../config/config.js';
import { composeKeyBlocking } from '../compose/operations.js';
import { blockKeysRoute } from '../http/key-routes.js';

// Configuration is validated and clients are built at cold start.
export const handler = blockKeysRoute(composeKeyBlocking(loadConfig()));
