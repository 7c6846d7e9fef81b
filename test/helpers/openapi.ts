/**
 * Checks responses against openapi.yaml: the status is documented for the
 * operation, and the JSON body validates against its schema (JSON Schema
 * 2020-12, as OpenAPI 3.1 uses). Tests record what they checked, so a test can
 * prove that every documented response was produced.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

export const OPENAPI_FILE = fileURLToPath(new URL('../../openapi.yaml', import.meta.url));
type Doc = { paths: Record<string, Record<string, { responses: Record<string, Record<string, unknown>> }>> } & Record<string, unknown>;
export const openapi = parse(readFileSync(OPENAPI_FILE, 'utf8')) as Doc;

const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;
const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
ajv.addSchema(openapi as object, 'openapi');

const METHODS = ['get', 'post', 'put', 'delete', 'patch'];
const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/** Every documented response as "METHOD /path STATUS". */
export function documentedResponses(): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries(openapi.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (op) for (const status of Object.keys(op.responses)) out.push(`${method.toUpperCase()} ${path} ${status}`);
    }
  }
  return out.sort();
}

/** The documented path template a concrete path matches ("/certificates/ab12/revoke" → "/certificates/{serialNumber}/revoke"). */
export function templateOf(path: string): string {
  const bare = path.split('?')[0]!;
  const found = Object.keys(openapi.paths).find((t) => new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(bare));
  if (!found) throw new Error(`openapi.yaml documents no path matching ${bare}`);
  return found;
}

/** The response object, following a $ref to components/responses. */
function responseOf(method: string, template: string, status: number): { ref: string; response: Record<string, any> } {
  const op = openapi.paths[template]?.[method.toLowerCase()];
  if (!op) throw new Error(`openapi.yaml documents no ${method} ${template}`);
  const response = op.responses[String(status)];
  if (!response) throw new Error(`openapi.yaml documents no ${status} for ${method} ${template} (documented: ${Object.keys(op.responses).join(', ')})`);
  if (typeof response.$ref === 'string') {
    const name = response.$ref.split('/').pop()!;
    return { ref: `openapi#/${pointer('components', 'responses', name)}`, response: (openapi.components as any).responses[name] };
  }
  return { ref: `openapi#/${pointer('paths', template, method.toLowerCase(), 'responses', String(status))}`, response };
}

/** What the checks saw: "METHOD /template STATUS". */
export const seen = new Set<string>();

/**
 * Throws unless the response is documented and its body validates. `path` may
 * be concrete; headers are checked for Retry-After on 503 and Location on issuance.
 */
export function expectConforms(method: string, path: string, status: number, body: unknown, headers: Record<string, string | undefined> = {}): void {
  const template = templateOf(path);
  const { ref, response } = responseOf(method, template, status);
  seen.add(`${method.toUpperCase()} ${template} ${status}`);
  if (response.content?.['application/json']) {
    const validate = ajv.getSchema(`${ref}/${pointer('content', 'application/json', 'schema')}`);
    if (!validate) throw new Error(`no schema for ${method} ${template} ${status}`);
    if (!validate(body)) {
      throw new Error(`${method} ${path} ${status}: the body does not match openapi.yaml:\n${ajv.errorsText(validate.errors, { separator: '\n' })}\n${JSON.stringify(body).slice(0, 500)}`);
    }
  }
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  for (const name of Object.keys(response.headers ?? {})) {
    const required = (name === 'Retry-After' && status === 503) || name === 'Location';
    if (required && lower[name.toLowerCase()] === undefined) throw new Error(`${method} ${path} ${status}: header ${name} missing`);
  }
}
