import { getApp } from '../app.js';
import { rotateRoute } from '../http/lifecycle-routes.js';

// Configuration is validated at cold start.
getApp();
export const handler = rotateRoute(getApp);
