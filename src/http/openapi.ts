import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { httpHandler, json, type Observability } from './handler.js';

/** Where openapi.yaml is: beside the handler in Lambda, the project root under serverless-offline. */
export function openapiPath(env: NodeJS.ProcessEnv = process.env): string {
  const file = env.OPENAPI_FILE ?? 'openapi.yaml';
  if (isAbsolute(file)) return file;
  return resolve((env.IS_OFFLINE !== 'true' && env.LAMBDA_TASK_ROOT) || process.cwd(), file);
}

let document: unknown;

/** GET /openapi.json: the API description, read and converted once per container. */
export const openapiRoute = (obs: () => Observability, path: () => string = () => openapiPath()) =>
  httpHandler('GET /openapi.json', obs, async () => json(200, (document ??= parse(readFileSync(path(), 'utf8')))));
