import { getApp } from '../app.js';
import { revokeRoute } from '../http/lifecycle-routes.js';

// Configuration is validated at cold start.
getApp();
export const handler = revokeRoute(getApp);
