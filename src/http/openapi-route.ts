/** GET /openapi.json: needs no table and no key (the health check is apart: it needs no YAML parser either). */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { httpFunction, json, type Observability } from './edge.js';

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
