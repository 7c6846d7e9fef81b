/**
 * Checks responses against openapi.yaml: the status is documented for the
 * operation, the answer's media type (its Content-Type) is documented for that
 * status, and the body validates against that media type's schema (JSON Schema
 * 2020-12, as OpenAPI 3.1 uses): the parsed JSON, or the text itself for any
 * other media type. Tests record what they checked, so a test can prove that
 * every documented response, in every documented media type, was produced.
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

/** Every documented response as "METHOD /path STATUS media/type" (one per media type; no media type when it has no content). */
export function documentedResponses(): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries(openapi.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      for (const status of Object.keys(op.responses)) {
        const { response } = responseOf(method, path, Number(status));
        const types = Object.keys(response.content ?? {});
        const name = `${method.toUpperCase()} ${path} ${status}`;
        if (types.length === 0) out.push(name);
        for (const type of types) out.push(`${name} ${type}`);
      }
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

/** What the checks saw: "METHOD /template STATUS media/type". */
export const seen = new Set<string>();

/**
 * Throws unless the response is documented and its body validates. `path` may
 * be concrete; `body` is the parsed JSON for a JSON answer, the text otherwise;
 * the media type is the Content-Type header's (JSON when there is none). Headers
 * are checked for Retry-After on 503 and Location on issuance.
 */
export function expectConforms(method: string, path: string, status: number, body: unknown, headers: Record<string, string | undefined> = {}): void {
  const template = templateOf(path);
  const { ref, response } = responseOf(method, template, status);
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const mediaType = (lower['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  const types = Object.keys(response.content ?? {});
  seen.add(`${method.toUpperCase()} ${template} ${status}${types.length ? ` ${mediaType}` : ''}`);
  if (types.length) {
    if (!types.includes(mediaType)) throw new Error(`${method} ${path} ${status}: openapi.yaml documents ${types.join(', ')}, not ${mediaType}`);
    const validate = ajv.getSchema(`${ref}/${pointer('content', mediaType, 'schema')}`);
    if (!validate) throw new Error(`no schema for ${method} ${template} ${status} ${mediaType}`);
    if (!validate(body)) {
      throw new Error(`${method} ${path} ${status}: the body does not match openapi.yaml:\n${ajv.errorsText(validate.errors, { separator: '\n' })}\n${JSON.stringify(body).slice(0, 500)}`);
    }
  }
  for (const name of Object.keys(response.headers ?? {})) {
    const required = (name === 'Retry-After' && status === 503) || name === 'Location';
    if (required && lower[name.toLowerCase()] === undefined) throw new Error(`${method} ${path} ${status}: header ${name} missing`);
  }
}
