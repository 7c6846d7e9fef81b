import { getApp } from '../app.js';
import { revokeRoute } from '../http/routes.js';

// Configuration is validated at cold start.
getApp();
export const handler = revokeRoute(getApp);
