/**
 * The AWS IoT just-in-time provisioning (JITP) template: validation, the
 * coherence check against the subject policy, serialisation into the escaped
 * `templateBody` AWS IoT stores with the CA registration, and the provisioning
 * preview (what JITP will create for one certificate).
 *
 * Pure: no AWS SDK. The template is evaluated here the way AWS IoT evaluates it
 * (`Ref` to a parameter, `Fn::Join`), so the preview matches what the cloud creates.
 */
import { attributeOidOf, type AttributeName } from '../pki/names.js';
import type { Policy } from '../pki/policy.js';

/** The parameters AWS IoT fills from the device certificate, and the subject field each comes from. */
export const JITP_PARAMETERS: Record<string, AttributeName | 'certificateId'> = {
  'AWS::IoT::Certificate::Country': 'C',
  'AWS::IoT::Certificate::Organization': 'O',
  'AWS::IoT::Certificate::OrganizationalUnit': 'OU',
  'AWS::IoT::Certificate::DistinguishedNameQualifier': 'dnQualifier',
  'AWS::IoT::Certificate::StateName': 'ST',
  'AWS::IoT::Certificate::CommonName': 'CN',
  'AWS::IoT::Certificate::SerialNumber': 'serialNumber',
  'AWS::IoT::Certificate::Id': 'certificateId',
};

/** AWS IoT's limit on `templateBody`. */
export const MAX_TEMPLATE_BODY_CHARS = 10_240;

const RESOURCE_TYPES = ['AWS::IoT::Thing', 'AWS::IoT::Certificate', 'AWS::IoT::Policy'] as const;
/** What AWS IoT accepts as a thing name and as a thing attribute value. */
const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const ATTRIBUTE_VALUE = /^[a-zA-Z0-9_.,@/:#=[\]-]{0,800}$/;

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

export class TemplateConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid provisioning template:\n  - ${problems.join('\n  - ')}`);
    this.name = 'TemplateConfigError';
  }
}

/** A validated JITP template. */
export interface ProvisioningTemplate {
  /** The template as AWS IoT stores it: one JSON string, policy documents serialised inside it. */
  body: string;
  /** Declared parameters. */
  parameters: string[];
  /** The template object `body` serialises (policy documents already strings). */
  document: { Parameters: Record<string, Json>; Resources: Record<string, { Type: string; Properties: Record<string, Json> } & Record<string, Json>> };
}

/** What JITP will create for one certificate. */
export interface ProvisioningPreview {
  thingName: string;
  attributes: Record<string, string>;
  certificateId: string;
  certificateStatus: string;
  /** Undefined when AWS IoT names the policy itself (from a hash of the document). */
  policyName?: string;
  policyDocument?: unknown;
  /** Reasons AWS IoT would refuse to provision this certificate (empty when none). */
  problems: string[];
}

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Evaluates `Ref` and `Fn::Join` with parameter values; throws on anything else AWS IoT would not resolve. */
function evaluate(node: Json, values: Record<string, string>, where: string): Json {
  if (Array.isArray(node)) return node.map((n, i) => evaluate(n, values, `${where}[${i}]`));
  if (!isObject(node)) return node;
  const keys = Object.keys(node);
  if (keys.length === 1 && keys[0] === 'Ref') {
    const name = node.Ref;
    if (typeof name !== 'string' || !Object.hasOwn(values, name)) throw new Error(`${where}: Ref to undeclared parameter ${JSON.stringify(name)}`);
    return values[name]!;
  }
  if (keys.length === 1 && keys[0] === 'Fn::Join') {
    const args = node['Fn::Join'];
    if (!Array.isArray(args) || args.length !== 2 || typeof args[0] !== 'string' || !Array.isArray(args[1])) {
      throw new Error(`${where}: Fn::Join takes ["delimiter", [values…]]`);
    }
    const parts = args[1].map((p, i) => evaluate(p, values, `${where}.Fn::Join[${i}]`));
    if (!parts.every((p) => typeof p === 'string')) throw new Error(`${where}: Fn::Join values must be strings`);
    return parts.join(args[0]);
  }
  const fn = keys.find((k) => k.startsWith('Fn::'));
  if (fn) throw new Error(`${where}: ${fn} is not supported here (use Ref and Fn::Join)`);
  return Object.fromEntries(keys.map((k) => [k, evaluate(node[k]!, values, `${where}.${k}`)]));
}

/** Resources that name everything of a kind: "*", "arn:…:iot:*:*:*", "arn:…:topic/*", "…:client/*". */
const EVERYTHING = /^(\*|arn:[^:]*:iot:[^:]*:[^:]*:(\*|[A-Za-z]+\/\*))$/;

/** Refuses policy statements that allow too much: any `*` / `iot:*` action (any case), or every resource of a kind. */
function checkLeastPrivilege(doc: unknown, where: string, problems: string[]): void {
  const statements = isObject(doc) ? doc.Statement : undefined;
  const list = Array.isArray(statements) ? statements : statements === undefined ? [] : [statements];
  if (!list.length) problems.push(`${where}: the policy document has no Statement`);
  for (const [i, s] of list.entries()) {
    if (!isObject(s) || s.Effect !== 'Allow') continue;
    const actions = ([] as Json[]).concat(s.Action ?? []).map((a) => String(a).toLowerCase());
    const resources = ([] as Json[]).concat(s.Resource ?? []).map(String);
    if (actions.some((a) => a === '*' || a === 'iot:*')) problems.push(`${where}.Statement[${i}]: allows every action ("*" or "iot:*")`);
    for (const r of resources.filter((r) => EVERYTHING.test(r))) problems.push(`${where}.Statement[${i}]: allows every resource of a kind ("${r}")`);
    if (s.NotAction !== undefined || s.NotResource !== undefined) problems.push(`${where}.Statement[${i}]: NotAction/NotResource with Allow grants too much`);
  }
}

/** Drops `$`-prefixed keys (comments) at any depth. */
function withoutComments(node: unknown): Json {
  if (Array.isArray(node)) return node.map(withoutComments);
  if (!isObject(node)) return node as Json;
  return Object.fromEntries(Object.entries(node).filter(([k]) => !k.startsWith('$')).map(([k, v]) => [k, withoutComments(v)]));
}

const isIntrinsic = (v: Record<string, Json>) => Object.keys(v).some((k) => k === 'Ref' || k.startsWith('Fn::'));

/**
 * Validates a readable template (policy documents may be written as JSON
 * objects; keys starting with `$`, at any depth, are comments) and serialises it.
 */
export function parseTemplate(input: unknown): ProvisioningTemplate {
  const problems: string[] = [];
  if (!isObject(input)) throw new TemplateConfigError(['the template must be a JSON object with Parameters and Resources']);
  const source = withoutComments(input) as Record<string, Json>;
  const top = Object.keys(source);
  for (const k of top) if (k !== 'Parameters' && k !== 'Resources') problems.push(`unknown top-level key "${k}"`);
  const params = source.Parameters;
  const resources = source.Resources;
  if (!isObject(params)) problems.push('Parameters must be an object');
  if (!isObject(resources)) problems.push('Resources must be an object');
  if (problems.length) throw new TemplateConfigError(problems);
  const P = params as Record<string, Json>;
  const R = resources as Record<string, Json>;

  for (const [name, decl] of Object.entries(P)) {
    if (!Object.hasOwn(JITP_PARAMETERS, name)) {
      problems.push(`Parameters.${name}: JITP supplies only ${Object.keys(JITP_PARAMETERS).join(', ')}`);
    }
    if (!isObject(decl) || decl.Type !== 'String') problems.push(`Parameters.${name}: must be { "Type": "String" }`);
  }
  if (!Object.hasOwn(P, 'AWS::IoT::Certificate::Id')) problems.push('Parameters: AWS::IoT::Certificate::Id must be declared (the certificate resource needs it)');

  const byType = new Map<string, string[]>();
  const out: ProvisioningTemplate['document']['Resources'] = {};
  for (const [logical, res] of Object.entries(R)) {
    if (!isObject(res) || typeof res.Type !== 'string' || !isObject(res.Properties)) {
      problems.push(`Resources.${logical}: needs a Type and Properties`);
      continue;
    }
    if (!(RESOURCE_TYPES as readonly string[]).includes(res.Type)) {
      problems.push(`Resources.${logical}: type ${res.Type} is not one of ${RESOURCE_TYPES.join(', ')}`);
      continue;
    }
    byType.set(res.Type, [...(byType.get(res.Type) ?? []), logical]);
    const properties = { ...res.Properties };
    if (res.Type === 'AWS::IoT::Policy') {
      const doc = properties.PolicyDocument;
      if (isObject(doc) && !isIntrinsic(doc)) properties.PolicyDocument = JSON.stringify(doc);
      else if (typeof doc !== 'string' && !isObject(doc)) problems.push(`Resources.${logical}.Properties.PolicyDocument is required`);
    }
    out[logical] = { ...res, Properties: properties } as ProvisioningTemplate['document']['Resources'][string];
  }
  for (const type of RESOURCE_TYPES) {
    const count = byType.get(type)?.length ?? 0;
    if (type !== 'AWS::IoT::Policy' && count !== 1) problems.push(`Resources: exactly one ${type} is needed (found ${count})`);
    if (type === 'AWS::IoT::Policy' && count > 1) problems.push('Resources: at most one AWS::IoT::Policy is supported');
  }
  if (problems.length) throw new TemplateConfigError(problems);

  const document = { Parameters: P, Resources: out };
  const template: ProvisioningTemplate = { body: JSON.stringify(document), parameters: Object.keys(P), document };
  if (template.body.length > MAX_TEMPLATE_BODY_CHARS) {
    problems.push(`the serialised template is ${template.body.length} characters; AWS IoT accepts at most ${MAX_TEMPLATE_BODY_CHARS}`);
  }

  // Evaluate once with placeholder values: every Ref resolves, every function is supported.
  const placeholders = Object.fromEntries(template.parameters.map((p) => [p, 'x']));
  const cert = out[byType.get('AWS::IoT::Certificate')![0]!]!;
  if (!isObject(cert.Properties.CertificateId) || cert.Properties.CertificateId.Ref !== 'AWS::IoT::Certificate::Id') {
    problems.push('the certificate resource must have CertificateId { "Ref": "AWS::IoT::Certificate::Id" }');
  }
  for (const [logical, res] of Object.entries(out)) {
    try {
      const props = evaluate(res.Properties, placeholders, `Resources.${logical}.Properties`) as Record<string, Json>;
      if (res.Type === 'AWS::IoT::Policy') {
        let doc: unknown;
        try {
          doc = JSON.parse(String(props.PolicyDocument));
        } catch {
          problems.push(`Resources.${logical}.Properties.PolicyDocument is not valid JSON`);
        }
        if (doc !== undefined) checkLeastPrivilege(doc, `Resources.${logical}.Properties.PolicyDocument`, problems);
      }
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length) throw new TemplateConfigError(problems);
  return template;
}

/**
 * AWS IoT fails provisioning when a declared parameter is missing from the
 * device certificate, so every parameter must come from a *required* subject field.
 */
export function coherenceProblems(template: ProvisioningTemplate, policy: Policy): string[] {
  const problems: string[] = [];
  for (const name of template.parameters) {
    const field = JITP_PARAMETERS[name];
    if (!field || field === 'certificateId') continue;
    const rule = policy.subject.attributes.get(attributeOidOf(field)!);
    if (rule?.presence !== 'required') {
      const state = rule ? `makes ${field} ${rule.presence}` : `does not mention ${field} (so it is not allowed)`;
      problems.push(`template parameter ${name} needs ${field} in every device certificate, but the subject policy ${state}; make ${field} required or remove the parameter`);
    }
  }
  return problems;
}

/** What JITP will create for a certificate with this subject and certificate id. */
export function previewProvisioning(
  template: ProvisioningTemplate,
  subject: Partial<Record<AttributeName, string>>,
  certificateId: string,
): ProvisioningPreview {
  const problems: string[] = [];
  const values: Record<string, string> = {};
  for (const name of template.parameters) {
    const field = JITP_PARAMETERS[name]!;
    const value = field === 'certificateId' ? certificateId : subject[field];
    if (value === undefined) problems.push(`the certificate has no ${field}, which parameter ${name} needs`);
    values[name] = value ?? '';
  }
  const resources = Object.values(template.document.Resources).map((r) => ({
    type: r.Type,
    props: evaluate(r.Properties, values, r.Type) as Record<string, Json>,
  }));
  const thing = resources.find((r) => r.type === 'AWS::IoT::Thing')!.props;
  const cert = resources.find((r) => r.type === 'AWS::IoT::Certificate')!.props;
  const policy = resources.find((r) => r.type === 'AWS::IoT::Policy')?.props;

  const thingName = String(thing.ThingName ?? '');
  if (!THING_NAME.test(thingName)) problems.push(`thing name "${thingName}" is not a valid AWS IoT thing name`);
  const attributes: Record<string, string> = {};
  if (isObject(thing.AttributePayload)) {
    for (const [k, v] of Object.entries(thing.AttributePayload)) {
      attributes[k] = String(v);
      if (!ATTRIBUTE_VALUE.test(String(v))) problems.push(`thing attribute ${k}="${String(v)}" has characters AWS IoT refuses`);
    }
  }
  let policyDocument: unknown;
  if (policy) {
    try {
      policyDocument = JSON.parse(String(policy.PolicyDocument));
    } catch {
      policyDocument = policy.PolicyDocument;
    }
  }
  return {
    thingName,
    attributes,
    certificateId,
    certificateStatus: String(cert.Status ?? 'ACTIVE'),
    ...(policy && typeof policy.PolicyName === 'string' ? { policyName: policy.PolicyName } : {}),
    ...(policy ? { policyDocument } : {}),
    problems,
  };
}
