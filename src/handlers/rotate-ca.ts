import { loadConfig } from '../config/config.js';
import { composeLifecycle } from '../compose/operations.js';
import { rotateRoute } from '../http/lifecycle-routes.js';

// Configuration is validated and clients are built at cold start.
export const handler = rotateRoute(composeLifecycle(loadConfig()));
