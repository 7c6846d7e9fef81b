import { getApp } from '../app.js';
import { getCaRoute } from '../http/routes.js';

// Configuration is validated and clients are built at cold start.
getApp();
export const handler = getCaRoute(getApp);
