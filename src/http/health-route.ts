import { httpFunction, json, type Observability } from './edge.js';

/** GET /health: answers even when the configuration, the table or a key is broken. */
export const healthRoute = (obs: Observability) => httpFunction('GET /health', { obs }, async () => json(200, { status: 'ok' }));
