import { getApp } from '../app.js';
import { rotateRoute } from '../http/routes.js';

// Configuration is validated at cold start.
getApp();
export const handler = rotateRoute(getApp);
