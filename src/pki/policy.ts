import { KEY_TYPES } from './keys.js';
import { DEFAULT_RSA_PUBLIC_EXPONENTS, MAX_RSA_PUBLIC_EXPONENT } from './rsa-key-quality.js';
import { PRINTABLE_STRING_ONLY, STRING_TYPES, attributeOidOf, valueProblems, type DistinguishedName, type StringType } from './names.js';
import type { ErrorDetail } from './errors.js';
import { describePattern } from './pattern-words.js';

export type Presence = 'required' | 'optional' | 'forbidden';

export interface AttributeRule {
  presence: Presence;
  /** ECMAScript regular expression the whole value must match (anchored here). */
  pattern?: RegExp;
  /** The pattern as the operator wrote it, for tools (`pattern` in a violation's details). */
  patternText?: string;
  /** The pattern in words, completing "must be …": the policy's `description`, or words derived from the pattern. */
  patternWords?: string;
  /** The value must equal this exactly. */
  value?: string;
  minLength: number;
  maxLength: number;
}

/** A validated issuance policy. Build it with `parsePolicy`. */
export interface Policy {
  subject: {
    /** Rules keyed by attribute OID, in the order given; `field` is the name the operator used. */
    attributes: Map<string, AttributeRule & { field: string }>;
    allowRepeatedAttributes: boolean;
    allowMultiValuedRdns: boolean;
    stringTypes: StringType[];
  };
  keyTypes: string[];
  /** Public exponents an RSA key may have (default [65537]); each odd, from 3 to 2^32 − 1. */
  rsaPublicExponents: number[];
  validityDays: number;
  backdateSeconds: number;
  allowDuplicateCommonName: boolean;
  /** Every issuance (but a re-enrollment, which stays in its predecessor's lot) must name a production lot. Off by default. */
  requireLot: boolean;
}

export class PolicyConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid policy:\n  - ${problems.join('\n  - ')}`);
    this.name = 'PolicyConfigError';
  }
}

const DEFAULT_MIN = 1;
const DEFAULT_MAX = 64;
const KNOWN_KEYS = new Set(['subject', 'keyTypes', 'rsaPublicExponents', 'validityDays', 'backdateSeconds', 'allowDuplicateCommonName', 'requireLot', '$comment']);
const SUBJECT_KEYS = new Set(['attributes', 'allowRepeatedAttributes', 'allowMultiValuedRdns', 'stringTypes']);
const RULE_KEYS = new Set(['presence', 'pattern', 'description', 'value', 'minLength', 'maxLength']);
const MAX_DESCRIPTION = 200;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `${name}` in a fixed value is replaced from `vars` (for example the configured organization). */
function substitute(text: string, vars: Record<string, string>, where: string, problems: string[]): string {
  return text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, name: string) => {
    const v = Object.hasOwn(vars, name) ? vars[name] : undefined;
    if (v === undefined) {
      problems.push(`${where}: unknown variable \${${name}}`);
      return '';
    }
    return v;
  });
}

function intIn(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function parseRule(name: string, raw: unknown, vars: Record<string, string>, problems: string[]): AttributeRule | undefined {
  const where = `subject.attributes.${name}`;
  if (!isObject(raw)) {
    problems.push(`${where}: must be an object`);
    return undefined;
  }
  for (const k of Object.keys(raw)) if (!RULE_KEYS.has(k)) problems.push(`${where}: unknown setting "${k}"`);
  const presence = raw.presence;
  if (presence !== 'required' && presence !== 'optional' && presence !== 'forbidden') {
    problems.push(`${where}.presence: must be "required", "optional" or "forbidden"`);
  }
  const rule: AttributeRule = { presence: presence as Presence, minLength: DEFAULT_MIN, maxLength: DEFAULT_MAX };
  if (raw.minLength !== undefined) {
    if (intIn(raw.minLength, 1, 65536)) rule.minLength = raw.minLength;
    else problems.push(`${where}.minLength: must be an integer from 1`);
  }
  if (raw.maxLength !== undefined) {
    if (intIn(raw.maxLength, 1, 65536)) rule.maxLength = raw.maxLength;
    else problems.push(`${where}.maxLength: must be an integer from 1`);
  }
  if (rule.minLength > rule.maxLength) problems.push(`${where}: minLength is greater than maxLength`);
  if (raw.pattern !== undefined) {
    if (typeof raw.pattern !== 'string') problems.push(`${where}.pattern: must be a string`);
    else {
      try {
        new RegExp(raw.pattern, 'u'); // reports the operator's own pattern if it is invalid
        rule.pattern = new RegExp(`^(?:${raw.pattern})$`, 'u');
        rule.patternText = raw.pattern;
        const words = describePattern(raw.pattern);
        if (words) rule.patternWords = words;
      } catch (e) {
        problems.push(`${where}.pattern: invalid regular expression (${(e as Error).message})`);
      }
    }
  }
  if (raw.description !== undefined) {
    if (typeof raw.description !== 'string' || raw.description.trim() === '' || raw.description.length > MAX_DESCRIPTION) {
      problems.push(`${where}.description: must be a non-empty string of at most ${MAX_DESCRIPTION} characters`);
    } else if (raw.pattern === undefined) problems.push(`${where}.description: describes a pattern; give the pattern too`);
    else rule.patternWords = raw.description;
  }
  if (raw.value !== undefined) {
    if (typeof raw.value !== 'string' || raw.value.length === 0) problems.push(`${where}.value: must be a non-empty string`);
    else rule.value = substitute(raw.value, vars, `${where}.value`, problems);
  }
  return rule;
}

/**
 * Validates a policy document (the contents of config/policy.json) and returns
 * the policy, or throws PolicyConfigError listing every problem.
 */
export function parsePolicy(doc: unknown, vars: Record<string, string> = {}): Policy {
  const problems: string[] = [];
  if (!isObject(doc)) throw new PolicyConfigError(['the policy must be a JSON object']);
  for (const k of Object.keys(doc)) if (!KNOWN_KEYS.has(k)) problems.push(`unknown setting "${k}"`);

  const subject = doc.subject;
  const attributes = new Map<string, AttributeRule & { field: string }>();
  let allowRepeatedAttributes = false;
  let allowMultiValuedRdns = false;
  let stringTypes: StringType[] = ['UTF8String', 'PrintableString'];
  if (!isObject(subject)) problems.push('subject: must be an object');
  else {
    for (const k of Object.keys(subject)) if (!SUBJECT_KEYS.has(k)) problems.push(`subject: unknown setting "${k}"`);
    if (!isObject(subject.attributes)) problems.push('subject.attributes: must be an object');
    else {
      for (const [name, raw] of Object.entries(subject.attributes)) {
        const oid = attributeOidOf(name);
        if (!oid) {
          problems.push(`subject.attributes.${name}: unknown attribute (use a short name such as CN, or a dotted OID)`);
          continue;
        }
        if (attributes.has(oid)) problems.push(`subject.attributes.${name}: the same attribute is listed twice`);
        const rule = parseRule(name, raw, vars, problems);
        if (rule) attributes.set(oid, { ...rule, field: name });
      }
    }
    if (subject.allowRepeatedAttributes !== undefined) {
      if (typeof subject.allowRepeatedAttributes === 'boolean') allowRepeatedAttributes = subject.allowRepeatedAttributes;
      else problems.push('subject.allowRepeatedAttributes: must be true or false');
    }
    if (subject.allowMultiValuedRdns !== undefined) {
      if (typeof subject.allowMultiValuedRdns === 'boolean') allowMultiValuedRdns = subject.allowMultiValuedRdns;
      else problems.push('subject.allowMultiValuedRdns: must be true or false');
    }
    if (subject.stringTypes !== undefined) {
      const st = subject.stringTypes;
      if (!Array.isArray(st) || st.length === 0 || !st.every((t) => (STRING_TYPES as unknown[]).includes(t))) {
        problems.push(`subject.stringTypes: must be a non-empty list of ${STRING_TYPES.join(', ')}`);
      } else stringTypes = st as StringType[];
    }
  }

  let keyTypes: string[] = [...KEY_TYPES];
  if (doc.keyTypes !== undefined) {
    const kt = doc.keyTypes;
    if (!Array.isArray(kt) || kt.length === 0 || !kt.every((t) => (KEY_TYPES as readonly unknown[]).includes(t))) {
      problems.push(`keyTypes: must be a non-empty list of ${KEY_TYPES.join(', ')}`);
    } else keyTypes = kt as string[];
  }
  let rsaPublicExponents = [...DEFAULT_RSA_PUBLIC_EXPONENTS];
  if (doc.rsaPublicExponents !== undefined) {
    const list = doc.rsaPublicExponents;
    if (!Array.isArray(list) || list.length === 0 || !list.every((e) => intIn(e, 3, MAX_RSA_PUBLIC_EXPONENT) && e % 2 === 1)) {
      problems.push(`rsaPublicExponents: must be a non-empty list of odd integers from 3 to ${MAX_RSA_PUBLIC_EXPONENT} (2^32 − 1)`);
    } else rsaPublicExponents = list as number[];
  }
  let validityDays = 3650;
  if (doc.validityDays !== undefined) {
    if (intIn(doc.validityDays, 1, 36500)) validityDays = doc.validityDays;
    else problems.push('validityDays: must be an integer from 1 to 36500');
  }
  let backdateSeconds = 300;
  if (doc.backdateSeconds !== undefined) {
    if (intIn(doc.backdateSeconds, 0, 86400)) backdateSeconds = doc.backdateSeconds;
    else problems.push('backdateSeconds: must be an integer from 0 to 86400');
  }
  let allowDuplicateCommonName = false;
  if (doc.allowDuplicateCommonName !== undefined) {
    if (typeof doc.allowDuplicateCommonName === 'boolean') allowDuplicateCommonName = doc.allowDuplicateCommonName;
    else problems.push('allowDuplicateCommonName: must be true or false');
  }
  let requireLot = false;
  if (doc.requireLot !== undefined) {
    if (typeof doc.requireLot === 'boolean') requireLot = doc.requireLot;
    else problems.push('requireLot: must be true or false');
  }
  if (problems.length) throw new PolicyConfigError(problems);
  return {
    subject: { attributes, allowRepeatedAttributes, allowMultiValuedRdns, stringTypes },
    keyTypes,
    rsaPublicExponents,
    validityDays,
    backdateSeconds,
    allowDuplicateCommonName,
    requireLot,
  };
}

/**
 * Checks a subject against the policy and returns every violation (empty when
 * the subject conforms), in subject order, then the missing required fields.
 */
export function evaluateSubject(policy: Policy, subject: DistinguishedName): ErrorDetail[] {
  const rules = policy.subject.attributes;
  const violations: ErrorDetail[] = [];
  const seen = new Map<string, number>();
  const allowed = [...rules.values()].filter((r) => r.presence !== 'forbidden').map((r) => r.field);

  for (const rdn of subject.rdns) {
    if (rdn.length > 1 && !policy.subject.allowMultiValuedRdns) {
      violations.push({ field: rdn.map((a) => a.name).join('+'), reason: 'multi-valued RDNs are not allowed; give each attribute an RDN of its own' });
    }
    for (const attr of rdn) {
      const rule = rules.get(attr.oid);
      const field = rule?.field ?? attr.name;
      const count = (seen.get(attr.oid) ?? 0) + 1;
      seen.set(attr.oid, count);
      if (!rule || rule.presence === 'forbidden') {
        violations.push({ field, reason: `attribute is not allowed; the subject may hold only ${allowed.join(', ')}` });
        continue;
      }
      if (count === 2 && !policy.subject.allowRepeatedAttributes) {
        violations.push({ field, reason: 'attribute is repeated; it may appear only once' });
      }
      if (attr.value === undefined) {
        violations.push({ field, reason: `value is not a valid string: ${attr.decodeError ?? 'unknown encoding'}` });
        continue;
      }
      if (PRINTABLE_STRING_ONLY.has(attr.oid)) {
        if (attr.stringType !== 'PrintableString') {
          violations.push({ field, reason: `${attr.stringType} encoding is not allowed; ${attr.name} must be a PrintableString (X.520, RFC 5280 appendix A)` });
        }
      } else if (attr.stringType && !policy.subject.stringTypes.includes(attr.stringType)) {
        violations.push({ field, reason: `${attr.stringType} encoding is not allowed; use ${policy.subject.stringTypes.join(' or ')}` });
      }
      violations.push(...checkValue(field, attr.value, rule));
    }
  }
  for (const [oid, rule] of rules) {
    if (rule.presence === 'required' && !seen.has(oid)) {
      violations.push({ field: rule.field, reason: 'required attribute is missing' });
    }
  }
  return violations;
}

function checkValue(field: string, value: string, rule: AttributeRule): ErrorDetail[] {
  // Control, invisible, private-use, unassigned… characters, blank or padded values, text
  // not in NFC and stacked marks are refused in every value, whatever the rule.
  const out: ErrorDetail[] = valueProblems(value).map((reason) => ({ field, reason }));
  const length = [...value].length;
  if (length < rule.minLength || length > rule.maxLength) {
    const wanted = rule.minLength === rule.maxLength ? `exactly ${rule.minLength}` : `${rule.minLength} to ${rule.maxLength}`;
    out.push({ field, reason: `is ${length} characters long; the policy allows ${wanted}` });
  }
  if (rule.value !== undefined && value !== rule.value) {
    out.push({ field, reason: `must be exactly "${rule.value}"` });
  } else if (rule.pattern && !rule.pattern.test(value)) {
    // In words for the station operator; the regular expression for tools.
    const reason = rule.patternWords ? `must be ${rule.patternWords}` : 'does not have the form the policy requires (the rule is in pattern)';
    out.push({ field, reason, pattern: rule.patternText });
  }
  return out;
}
