/** The routes that need no table and no key: the health check and the API description. */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { httpFunction, json, type Observability } from './edge.js';

/** GET /health: answers even when the configuration, the table or a key is broken. */
export const healthRoute = (obs: Observability) => httpFunction('GET /health', { obs }, async () => json(200, { status: 'ok' }));

/** Where openapi.yaml is: beside the handler in Lambda, the project root under serverless-offline. */
export function openapiPath(env: NodeJS.ProcessEnv = process.env): string {
  const file = env.OPENAPI_FILE ?? 'openapi.yaml';
  if (isAbsolute(file)) return file;
  return resolve((env.IS_OFFLINE !== 'true' && env.LAMBDA_TASK_ROOT) || process.cwd(), file);
}

/** GET /openapi.json: the API description, read and converted on first use. */
export function openapiRoute(obs: Observability, path: string = openapiPath()) {
  let document: unknown;
  return httpFunction('GET /openapi.json', { obs }, async () => json(200, (document ??= parse(readFileSync(path, 'utf8')))));
}
