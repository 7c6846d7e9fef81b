import { getApp } from '../app.js';
import { listCertificatesRoute } from '../http/routes.js';

// Configuration is validated and clients are built at cold start.
getApp();
export const handler = listCertificatesRoute(getApp);
