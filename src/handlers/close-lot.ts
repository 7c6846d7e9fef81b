import { loadConfig } from '../config/config.js';
import { composeLots } from '../compose/lots.js';
import { closeLotRoute } from '../http/lot-routes.js';

// Configuration is validated and clients are built at cold start.
export const handler = closeLotRoute(composeLots(loadConfig()));
