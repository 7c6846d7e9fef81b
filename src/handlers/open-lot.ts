import { loadConfig } from '../config/config.js';
import { composeLots } from '../compose/lots.js';
import { openLotRoute } from '../http/lot-routes.js';

// Configuration is validated and clients are built at cold start.
export const handler = openLotRoute(composeLots(loadConfig()));
