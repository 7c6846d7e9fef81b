import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parsePolicy, PolicyConfigError, type Policy } from '../pki/policy.js';
import { isDeployedLambda } from '../pki/signer.js';

export interface Config {
  tableName: string;
  organization: string;
  country: string;
  policy: Policy;
  policyFile: string;
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
  region: string;
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

  const policyFile = path(env.POLICY_FILE ?? 'config/policy.json');
  let policy: Policy | undefined;
  try {
    policy = parsePolicy(JSON.parse(readFile(policyFile)), { organization, country });
  } catch (e) {
    if (e instanceof PolicyConfigError) problems.push(...e.problems.map((p) => `${policyFile}: ${p}`));
    else if (e instanceof SyntaxError) problems.push(`${policyFile}: not valid JSON (${e.message})`);
    else problems.push(`${policyFile}: cannot be read (${(e as Error).message})`);
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
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
  };
  if (problems.length || !policy) throw new ConfigError(problems);
  return { ...config, policy };
}
