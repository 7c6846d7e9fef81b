import { observability } from '../compose/observability.js';
import { openapiRoute } from '../http/openapi-route.js';

// Serves openapi.yaml (packaged with the function) as JSON; needs no table or key.
export const handler = openapiRoute(observability());
