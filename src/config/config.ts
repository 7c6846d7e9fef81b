import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parsePolicy, PolicyConfigError, type Policy } from '../pki/policy.js';
import { isDeployedLambda } from '../pki/signer.js';
import { coherenceProblems, parseTemplate, TemplateConfigError, type ProvisioningTemplate } from '../provisioning/template.js';

/** KMS key specs a CA key may have. */
export const CA_KEY_SPECS = ['ECC_NIST_P256', 'ECC_NIST_P384', 'RSA_2048', 'RSA_3072', 'RSA_4096'] as const;
export type CaKeySpec = (typeof CA_KEY_SPECS)[number];

export interface Config {
  tableName: string;
  organization: string;
  country: string;
  policy: Policy;
  policyFile: string;
  /** The JITP template registered with every issuing CA; its parameters are required subject fields. */
  template: ProvisioningTemplate;
  templateFile: string;
  /** Software (file) CA keys: local mode and tests only. */
  allowSoftwareSigner: boolean;
  /** Where local mode keeps its CA keys; software key files are relative to it. */
  localStateDir: string;
  caCacheTtlMs: number;
  claimLeaseMs: number;
  inFlightWaitMs: number;
  maxBodyBytes: number;
  /** Local mode only: take the station id from the X-Station-Id header (no IAM there). */
  trustStationHeader: boolean;
  /**
   * Local mode only: EST simplereenroll takes the client certificate from the
   * X-Est-Client-Cert header, which the local TLS listener sets (it strips any a
   * client sent). In AWS, API Gateway's mutual TLS puts it in the request context.
   */
  trustClientCertHeader: boolean;
  /**
   * Local mode only: the port the local API serves on. Requests whose Host is not
   * a loopback name with this port, or whose Origin is another site, are refused.
   */
  localApiPort?: number;
  /** Local mode only: `sigv4` makes every route but /health, the CRLs, EST cacerts and csrattrs, and EST simplereenroll (its client certificate authenticates it) require AWS Signature V4 (local SigV4 mode). */
  localAuth?: 'sigv4';
  region: string;
  lifecycle: LifecycleConfig;
  crl: CrlConfig;
  log: LogConfig;
}

/** The issuance log. */
export interface LogConfig {
  /**
   * LOG_ORIGIN: the first line of every checkpoint, and the key name of its
   * signature (default `factory-ca/<STAGE or local>`): printable ASCII, no
   * space and no plus.
   */
  origin: string;
  /** LOG_KEY_ROTATION_DAYS: a log key signs this long before the scheduled rotation replaces it (default 365). */
  keyRotationDays: number;
  /** LOG_KEY_COSIGN_DAYS: how long the previous log key co-signs checkpoints after a rotation (default 30). */
  keyCosignDays: number;
}

/** Certificate revocation lists. */
export interface CrlConfig {
  /** nextUpdate − thisUpdate of every CRL (CRL_VALIDITY_DAYS, default 7). */
  validityDays: number;
  /** The S3 bucket CRLs are kept in (CRL_BUCKET); absent in local mode, which keeps them under the state directory. */
  bucket?: string;
  /**
   * CRL_BASE_URL: when set, device certificates carry a CRL distribution point,
   * `<base>/crl/<issuing CA id>.crl`. Unset by default (the profile stays as it was).
   */
  baseUrl?: string;
}

/** Settings of the CA lifecycle (bootstrap, rotation, revocation). */
export interface LifecycleConfig {
  /** Prefix of the KMS aliases of the CA keys: `<prefix>-root-1`, `<prefix>-issuing-<generation>`. */
  keyAliasPrefix: string;
  keySpec: CaKeySpec;
  /** `aws`: call AWS IoT. `dry-run` (local mode): write the registration bundle under the state directory. */
  iotMode: 'aws' | 'dry-run';
  /** The role AWS IoT assumes to provision devices (JITP). */
  jitpRoleArn?: string;
  /** Roles named in the CA keys' key policies: the issuing function may sign with issuing keys; the lifecycle role with both. */
  issueRoleArn?: string;
  lifecycleRoleArn?: string;
  /** The issuance log's sequencer role: the one signer in the log key's key policy. */
  logSequencerRoleArn?: string;
  /** Dry-run only: a registration code from `aws iot get-registration-code` for the verification certificate. */
  registrationCode?: string;
  rotationPeriodDays: number;
  rotationMinRemainingDays: number;
}

export class ConfigError extends Error {
  constructor(problems: string[]) {
    super(`factory-ca cannot start, its configuration is invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export const MAX_BODY_BYTES = 16 * 1024;

/** Reads and validates the whole configuration once (cold start). Every problem is listed. */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): Config {
  const problems: string[] = [];
  // In Lambda, files ship beside the handler; serverless-offline runs from the project.
  const root = (env.IS_OFFLINE !== 'true' && env.LAMBDA_TASK_ROOT) || process.cwd();
  const path = (p: string) => (isAbsolute(p) ? p : resolve(root, p));

  const tableName = env.TABLE_NAME ?? '';
  if (!/^[A-Za-z0-9_.-]{3,255}$/.test(tableName)) problems.push('TABLE_NAME must name a DynamoDB table (3-255 of A-Z a-z 0-9 _ . -)');
  const organization = env.ORGANIZATION ?? 'Example Corp';
  if (!organization.trim() || organization.length > 64) problems.push('ORGANIZATION must be 1-64 characters');
  const country = env.COUNTRY ?? 'US';
  if (!/^[A-Z]{2}$/.test(country)) problems.push('COUNTRY must be an ISO 3166-1 alpha-2 code such as US');

  const number = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = /^[0-9]{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };
  const flag = (name: string): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '' || raw === 'false') return false;
    if (raw === 'true') return true;
    problems.push(`${name} must be true or false`);
    return false;
  };

  const allowSoftwareSigner = flag('ALLOW_SOFTWARE_SIGNER');
  if (allowSoftwareSigner && isDeployedLambda(env)) {
    problems.push('ALLOW_SOFTWARE_SIGNER cannot be set in a deployed stage: CA keys must be in KMS');
  }
  const trustStationHeader = flag('TRUST_STATION_HEADER');
  if (trustStationHeader && isDeployedLambda(env)) {
    problems.push('TRUST_STATION_HEADER cannot be set in a deployed stage: the caller identity comes from IAM');
  }

  const trustClientCertHeader = flag('TRUST_CLIENT_CERT_HEADER');
  if (trustClientCertHeader && isDeployedLambda(env)) {
    problems.push('TRUST_CLIENT_CERT_HEADER cannot be set in a deployed stage: the client certificate comes from API Gateway mutual TLS');
  }

  const localApiPort = env.LOCAL_API_PORT ? number('LOCAL_API_PORT', 0, 1, 65_535) : undefined;
  if (localApiPort !== undefined && isDeployedLambda(env)) problems.push('LOCAL_API_PORT cannot be set in a deployed stage');
  const localAuth = env.LOCAL_AUTH || undefined;
  if (localAuth !== undefined && localAuth !== 'sigv4' && localAuth !== 'none') problems.push('LOCAL_AUTH must be sigv4 or none');
  if (localAuth === 'sigv4' && isDeployedLambda(env)) problems.push('LOCAL_AUTH cannot be set in a deployed stage: API Gateway checks IAM signatures there');

  const readJson = <T>(file: string, parse: (doc: unknown) => T): T | undefined => {
    try {
      return parse(JSON.parse(readFile(file)));
    } catch (e) {
      if (e instanceof PolicyConfigError || e instanceof TemplateConfigError) problems.push(...e.problems.map((p) => `${file}: ${p}`));
      else if (e instanceof SyntaxError) problems.push(`${file}: not valid JSON (${e.message})`);
      else problems.push(`${file}: cannot be read (${(e as Error).message})`);
      return undefined;
    }
  };
  const policyFile = path(env.POLICY_FILE ?? 'config/policy.json');
  const policy = readJson(policyFile, (doc) => parsePolicy(doc, { organization, country }));
  const templateFile = path(env.JITP_TEMPLATE_FILE ?? 'config/jitp-template.json');
  const template = readJson(templateFile, parseTemplate);
  if (policy && template) problems.push(...coherenceProblems(template, policy).map((p) => `${templateFile}: ${p}`));

  const iotMode = env.IOT_MODE ?? 'aws';
  if (iotMode !== 'aws' && iotMode !== 'dry-run') problems.push('IOT_MODE must be aws or dry-run');
  if (iotMode === 'dry-run' && isDeployedLambda(env)) problems.push('IOT_MODE=dry-run cannot be set in a deployed stage');
  const keySpec = (env.CA_KEY_SPEC ?? 'ECC_NIST_P256') as CaKeySpec;
  if (!CA_KEY_SPECS.includes(keySpec)) problems.push(`CA_KEY_SPEC must be one of ${CA_KEY_SPECS.join(', ')}`);
  const keyAliasPrefix = env.KEY_ALIAS_PREFIX ?? 'alias/factory-ca-local';
  if (!/^alias\/(?!aws\/)[A-Za-z0-9/_-]{1,200}$/.test(keyAliasPrefix)) {
    problems.push('KEY_ALIAS_PREFIX must be a KMS alias name such as alias/factory-ca-prod (not under alias/aws/)');
  }
  const arn = (name: string, service: string): string | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    if (!new RegExp(`^arn:aws[a-z-]*:${service}::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$`).test(raw)) problems.push(`${name} must be an IAM role ARN`);
    return raw;
  };
  const jitpRoleArn = arn('JITP_ROLE_ARN', 'iam');
  const issueRoleArn = arn('ISSUE_ROLE_ARN', 'iam');
  const lifecycleRoleArn = arn('LIFECYCLE_ROLE_ARN', 'iam');
  const logSequencerRoleArn = arn('LOG_SEQUENCER_ROLE_ARN', 'iam');
  const registrationCode = env.IOT_REGISTRATION_CODE || undefined;
  if (registrationCode !== undefined && !/^[A-Za-z0-9]{16,128}$/.test(registrationCode)) {
    problems.push('IOT_REGISTRATION_CODE must be the code `aws iot get-registration-code` prints');
  }

  const config = {
    tableName,
    organization,
    country,
    policyFile,
    allowSoftwareSigner,
    localStateDir: path(env.LOCAL_STATE_DIR ?? '.local'),
    caCacheTtlMs: number('CA_CACHE_TTL_SECONDS', 300, 0, 86_400) * 1000,
    claimLeaseMs: number('CLAIM_LEASE_SECONDS', 120, 10, 3600) * 1000,
    inFlightWaitMs: number('IN_FLIGHT_WAIT_MS', 5000, 0, 60_000),
    maxBodyBytes: MAX_BODY_BYTES,
    trustStationHeader,
    trustClientCertHeader,
    ...(localApiPort ? { localApiPort } : {}),
    ...(localAuth === 'sigv4' ? { localAuth: 'sigv4' as const } : {}),
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    templateFile,
  };
  const lifecycle: LifecycleConfig = {
    keyAliasPrefix,
    keySpec,
    iotMode: iotMode as LifecycleConfig['iotMode'],
    ...(jitpRoleArn ? { jitpRoleArn } : {}),
    ...(issueRoleArn ? { issueRoleArn } : {}),
    ...(lifecycleRoleArn ? { lifecycleRoleArn } : {}),
    ...(logSequencerRoleArn ? { logSequencerRoleArn } : {}),
    ...(registrationCode ? { registrationCode } : {}),
    rotationPeriodDays: number('ROTATION_PERIOD_DAYS', 365, 1, 7300),
    rotationMinRemainingDays: number('ROTATION_MIN_REMAINING_DAYS', policy?.validityDays ?? 3650, 0, 9125),
  };
  const crlBucket = env.CRL_BUCKET || undefined;
  if (crlBucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(crlBucket)) problems.push('CRL_BUCKET must be an S3 bucket name');
  const crlBaseUrl = (env.CRL_BASE_URL || undefined)?.replace(/\/+$/, '');
  if (crlBaseUrl !== undefined && !/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~\/-]*)?$/.test(crlBaseUrl)) {
    problems.push('CRL_BASE_URL must be an http:// or https:// URL of plain ASCII (such as https://pki.example.com), without query or fragment');
  }
  const crl: CrlConfig = {
    validityDays: number('CRL_VALIDITY_DAYS', 7, 2, 366),
    ...(crlBucket ? { bucket: crlBucket } : {}),
    ...(crlBaseUrl ? { baseUrl: crlBaseUrl } : {}),
  };
  const logOrigin = env.LOG_ORIGIN || `factory-ca/${env.STAGE || 'local'}`;
  if (!/^[\x21-\x2a\x2c-\x7e]{1,200}$/.test(logOrigin)) problems.push('LOG_ORIGIN must be printable ASCII without spaces or "+", at most 200 characters (such as factory-ca/prod)');
  const log: LogConfig = {
    origin: logOrigin,
    keyRotationDays: number('LOG_KEY_ROTATION_DAYS', 365, 1, 3650),
    keyCosignDays: number('LOG_KEY_COSIGN_DAYS', 30, 1, 365),
  };
  if (problems.length || !policy || !template) throw new ConfigError(problems);
  return { ...config, policy, template, lifecycle, crl, log };
}
