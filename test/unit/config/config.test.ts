import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, MAX_BODY_BYTES } from '../../../src/config/config.js';
import { createSoftwareSigner, SoftwareSignerRefused } from '../../../src/pki/signer.js';

const POLICY_PATH = fileURLToPath(new URL('../../../config/policy.json', import.meta.url));
const POLICY_TEXT = readFileSync(POLICY_PATH, 'utf8');
const O_OID = '2.5.4.10';
const MINIMAL_ENV = { TABLE_NAME: 'factory-ca-ledger' };

const TEMPLATE_TEXT = readFileSync(fileURLToPath(new URL('../../../config/jitp-template.json', import.meta.url)), 'utf8');

/**
 * A readFile that serves the project's policy for any path but the JITP
 * template's (`template`, the project's by default) and records the policy paths asked for.
 */
function policyReader(text: string = POLICY_TEXT, template: string = TEMPLATE_TEXT): { read: (path: string) => string; paths: string[] } {
  const paths: string[] = [];
  return {
    paths,
    read: (path) => {
      if (path.endsWith('jitp-template.json')) return template;
      paths.push(path);
      return text;
    },
  };
}

const policyWith = (change: (doc: Record<string, unknown>) => void): string => {
  const doc = JSON.parse(POLICY_TEXT) as Record<string, unknown>;
  change(doc);
  return JSON.stringify(doc);
};

/** The ConfigError loadConfig throws (fails the test if it returns). */
function configErrorOf(env: NodeJS.ProcessEnv, read: (path: string) => string = policyReader().read): ConfigError {
  try {
    loadConfig(env, read);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/** The problems a ConfigError lists, one per "  - " line. */
const problemsOf = (error: ConfigError) => error.message.split('\n  - ').slice(1);

describe('Function: loadConfig', () => {
  it('reads config/policy.json under the working directory with only TABLE_NAME set', () => {
    // Prepare
    const reader = policyReader();

    // Act
    const config = loadConfig(MINIMAL_ENV, reader.read);

    // Assess
    expect(reader.paths).toEqual([resolve(process.cwd(), 'config/policy.json')]);
    expect(config.policyFile).toBe(resolve(process.cwd(), 'config/policy.json'));
    expect(config.tableName).toBe('factory-ca-ledger');
    expect(config.policy.validityDays).toBe(3650);
    expect(config.policy.keyTypes).toEqual(['EC_P256', 'EC_P384', 'RSA_2048', 'RSA_3072', 'RSA_4096']);
    expect(config.policy.subject.attributes.get(O_OID)?.value).toBe('Example Corp');
  });

  it('reads the policy file from disk with its default reader', () => {
    // Act
    const config = loadConfig({ ...MINIMAL_ENV, POLICY_FILE: POLICY_PATH });

    // Assess
    expect(config.policyFile).toBe(POLICY_PATH);
    expect(config.policy.backdateSeconds).toBe(300);
  });

  it('applies the documented defaults', () => {
    // Act
    const config = loadConfig(MINIMAL_ENV, policyReader().read);

    // Assess
    expect(config).toMatchObject({
      organization: 'Example Corp',
      country: 'US',
      allowSoftwareSigner: false,
      trustStationHeader: false,
      localStateDir: resolve(process.cwd(), '.local'),
      caCacheTtlMs: 300_000,
      claimLeaseMs: 120_000,
      inFlightWaitMs: 5000,
      maxBodyBytes: MAX_BODY_BYTES,
      region: 'us-east-1',
    });
  });

  it('reads every setting from the environment', () => {
    // Prepare
    const env = {
      TABLE_NAME: 'ledger.prod_1',
      ORGANIZATION: 'Acme Devices GmbH',
      COUNTRY: 'DE',
      CA_CACHE_TTL_SECONDS: '0',
      CLAIM_LEASE_SECONDS: '3600',
      IN_FLIGHT_WAIT_MS: '60000',
      LOCAL_STATE_DIR: '/var/lib/factory-ca',
      POLICY_FILE: '/etc/factory-ca/policy.json',
      ALLOW_SOFTWARE_SIGNER: 'true',
      TRUST_STATION_HEADER: 'true',
      AWS_REGION: 'eu-central-1',
    };
    const reader = policyReader();

    // Act
    const config = loadConfig(env, reader.read);

    // Assess
    expect(reader.paths).toEqual(['/etc/factory-ca/policy.json']);
    expect(config).toMatchObject({
      tableName: 'ledger.prod_1',
      organization: 'Acme Devices GmbH',
      country: 'DE',
      caCacheTtlMs: 0,
      claimLeaseMs: 3_600_000,
      inFlightWaitMs: 60_000,
      localStateDir: '/var/lib/factory-ca',
      allowSoftwareSigner: true,
      trustStationHeader: true,
      region: 'eu-central-1',
    });
  });

  it('falls back to AWS_DEFAULT_REGION for the region', () => {
    // Act
    const config = loadConfig({ ...MINIMAL_ENV, AWS_DEFAULT_REGION: 'ap-southeast-2' }, policyReader().read);

    // Assess
    expect(config.region).toBe('ap-southeast-2');
  });

  it('resolves relative files against LAMBDA_TASK_ROOT in a deployed function, and against the working directory offline', () => {
    // Prepare
    const deployed = policyReader();
    const offline = policyReader();
    const lambda = { ...MINIMAL_ENV, AWS_LAMBDA_FUNCTION_NAME: 'factory-ca-prod-issue', LAMBDA_TASK_ROOT: '/var/task' };

    // Act
    const inLambda = loadConfig(lambda, deployed.read);
    const inOffline = loadConfig({ ...lambda, IS_OFFLINE: 'true' }, offline.read);

    // Assess
    expect(deployed.paths).toEqual(['/var/task/config/policy.json']);
    expect(inLambda.localStateDir).toBe('/var/task/.local');
    expect(offline.paths).toEqual([resolve(process.cwd(), 'config/policy.json')]);
    expect(inOffline.localStateDir).toBe(resolve(process.cwd(), '.local'));
  });

  it('substitutes ORGANIZATION into the fixed value of the O rule', () => {
    // Act
    const config = loadConfig({ ...MINIMAL_ENV, ORGANIZATION: 'Acme Devices GmbH' }, policyReader().read);

    // Assess
    const rule = config.policy.subject.attributes.get(O_OID);
    expect(rule?.field).toBe('O');
    expect(rule?.value).toBe('Acme Devices GmbH');
  });

  it('substitutes an ORGANIZATION containing "$" characters literally', () => {
    // Act
    const config = loadConfig({ ...MINIMAL_ENV, ORGANIZATION: "Cash $& Carry $' Ltd" }, policyReader().read);

    // Assess
    expect(config.policy.subject.attributes.get(O_OID)?.value).toBe("Cash $& Carry $' Ltd");
  });

  describe('with an invalid configuration', () => {
    it.each([
      ['TABLE_NAME missing', {}, 'TABLE_NAME'],
      ['TABLE_NAME with a space', { TABLE_NAME: 'my ledger' }, 'TABLE_NAME'],
      ['COUNTRY not alpha-2', { ...MINIMAL_ENV, COUNTRY: 'USA' }, 'COUNTRY'],
      ['COUNTRY in lower case', { ...MINIMAL_ENV, COUNTRY: 'us' }, 'COUNTRY'],
      ['ORGANIZATION blank', { ...MINIMAL_ENV, ORGANIZATION: '   ' }, 'ORGANIZATION'],
      ['ORGANIZATION over 64 characters', { ...MINIMAL_ENV, ORGANIZATION: 'x'.repeat(65) }, 'ORGANIZATION'],
      ['CA_CACHE_TTL_SECONDS not an integer', { ...MINIMAL_ENV, CA_CACHE_TTL_SECONDS: '1.5' }, 'CA_CACHE_TTL_SECONDS'],
      ['CA_CACHE_TTL_SECONDS not a number', { ...MINIMAL_ENV, CA_CACHE_TTL_SECONDS: 'five' }, 'CA_CACHE_TTL_SECONDS'],
      ['CA_CACHE_TTL_SECONDS over a day', { ...MINIMAL_ENV, CA_CACHE_TTL_SECONDS: '86401' }, 'CA_CACHE_TTL_SECONDS'],
      ['CLAIM_LEASE_SECONDS under 10', { ...MINIMAL_ENV, CLAIM_LEASE_SECONDS: '9' }, 'CLAIM_LEASE_SECONDS'],
      ['IN_FLIGHT_WAIT_MS negative', { ...MINIMAL_ENV, IN_FLIGHT_WAIT_MS: '-1' }, 'IN_FLIGHT_WAIT_MS'],
      ['CA_CACHE_TTL_SECONDS in hex', { ...MINIMAL_ENV, CA_CACHE_TTL_SECONDS: '0x10' }, 'CA_CACHE_TTL_SECONDS'],
      ['CLAIM_LEASE_SECONDS with an exponent', { ...MINIMAL_ENV, CLAIM_LEASE_SECONDS: '1e2' }, 'CLAIM_LEASE_SECONDS'],
      ['IN_FLIGHT_WAIT_MS with spaces', { ...MINIMAL_ENV, IN_FLIGHT_WAIT_MS: ' 7 ' }, 'IN_FLIGHT_WAIT_MS'],
      ['ALLOW_SOFTWARE_SIGNER not a boolean', { ...MINIMAL_ENV, ALLOW_SOFTWARE_SIGNER: 'yes' }, 'ALLOW_SOFTWARE_SIGNER'],
      ['TRUST_STATION_HEADER not a boolean', { ...MINIMAL_ENV, TRUST_STATION_HEADER: '1' }, 'TRUST_STATION_HEADER'],
    ])('refuses %s', (_case, env, setting) => {
      // Act
      const error = configErrorOf(env);

      // Assess
      expect(problemsOf(error)).toHaveLength(1);
      expect(problemsOf(error)[0]).toContain(setting);
    });

    it('lists every environment problem together with an invalid JSON policy', () => {
      // Prepare
      const env = { COUNTRY: 'usa', CA_CACHE_TTL_SECONDS: '1.5', CLAIM_LEASE_SECONDS: '5', ALLOW_SOFTWARE_SIGNER: 'yes' };

      // Act
      const error = configErrorOf(env, policyReader('{ "subject": ').read);

      // Assess
      expect(error.name).toBe('ConfigError');
      expect(error.message).toMatch(/^factory-ca cannot start, its configuration is invalid:/);
      const problems = problemsOf(error);
      expect(problems).toHaveLength(6);
      expect(problems).toEqual(
        expect.arrayContaining([
          expect.stringContaining('TABLE_NAME'),
          expect.stringContaining('COUNTRY'),
          expect.stringContaining('CA_CACHE_TTL_SECONDS'),
          expect.stringContaining('CLAIM_LEASE_SECONDS'),
          expect.stringContaining('ALLOW_SOFTWARE_SIGNER'),
          expect.stringMatching(/config\/policy\.json: not valid JSON/),
        ]),
      );
    });

    it('lists a policy with an unknown key together with the environment problems', () => {
      // Prepare
      const policy = policyWith((doc) => {
        doc.validityDay = 30;
      });

      // Act
      const error = configErrorOf({ COUNTRY: 'Germany', IN_FLIGHT_WAIT_MS: '1e9' }, policyReader(policy).read);

      // Assess
      expect(problemsOf(error)).toEqual(
        expect.arrayContaining([
          expect.stringContaining('TABLE_NAME'),
          expect.stringContaining('COUNTRY'),
          expect.stringContaining('IN_FLIGHT_WAIT_MS'),
          expect.stringContaining('unknown setting "validityDay"'),
        ]),
      );
    });

    it('lists an unreadable policy file, naming the file, together with the environment problems', () => {
      // Prepare
      const unreadable = (path: string): string => {
        if (path.endsWith('jitp-template.json')) return TEMPLATE_TEXT;
        throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
      };

      // Act
      const error = configErrorOf({ TABLE_NAME: 'x', POLICY_FILE: '/missing/policy.json', TRUST_STATION_HEADER: 'on' }, unreadable);

      // Assess
      const problems = problemsOf(error);
      expect(problems).toHaveLength(3);
      expect(problems).toEqual(
        expect.arrayContaining([
          expect.stringContaining('TABLE_NAME'),
          expect.stringContaining('TRUST_STATION_HEADER'),
          expect.stringMatching(/^\/missing\/policy\.json: cannot be read \(ENOENT/),
        ]),
      );
    });

    it('refuses a policy whose ${variable} is unknown', () => {
      // Prepare
      const policy = policyWith((doc) => {
        const subject = doc.subject as { attributes: Record<string, Record<string, unknown>> };
        subject.attributes.O!.value = '${company}';
      });

      // Act
      const error = configErrorOf(MINIMAL_ENV, policyReader(policy).read);

      // Assess
      expect(error.message).toContain('unknown variable ${company}');
    });
  });

  describe('in a deployed Lambda function', () => {
    const lambda = { ...MINIMAL_ENV, AWS_LAMBDA_FUNCTION_NAME: 'factory-ca-prod-issue' };

    it('refuses ALLOW_SOFTWARE_SIGNER=true', () => {
      // Act
      const error = configErrorOf({ ...lambda, ALLOW_SOFTWARE_SIGNER: 'true' });

      // Assess
      expect(problemsOf(error)).toEqual([expect.stringContaining('ALLOW_SOFTWARE_SIGNER cannot be set in a deployed stage')]);
    });

    it('refuses TRUST_STATION_HEADER=true', () => {
      // Act
      const error = configErrorOf({ ...lambda, TRUST_STATION_HEADER: 'true' });

      // Assess
      expect(problemsOf(error)).toEqual([expect.stringContaining('TRUST_STATION_HEADER cannot be set in a deployed stage')]);
    });

    it('refuses ALLOW_SOFTWARE_SIGNER=true when IS_OFFLINE is set to anything but "true"', () => {
      // Act
      const error = configErrorOf({ ...lambda, IS_OFFLINE: 'false', ALLOW_SOFTWARE_SIGNER: 'true' });

      // Assess
      expect(problemsOf(error)).toEqual([expect.stringContaining('ALLOW_SOFTWARE_SIGNER cannot be set in a deployed stage')]);
    });

    it('accepts ALLOW_SOFTWARE_SIGNER=false', () => {
      // Act
      const config = loadConfig({ ...lambda, ALLOW_SOFTWARE_SIGNER: 'false' }, policyReader().read);

      // Assess
      expect(config.allowSoftwareSigner).toBe(false);
    });

    it('accepts ALLOW_SOFTWARE_SIGNER=true under serverless-offline (IS_OFFLINE=true)', () => {
      // Act
      const config = loadConfig({ ...lambda, ALLOW_SOFTWARE_SIGNER: 'true', IS_OFFLINE: 'true' }, policyReader().read);

      // Assess
      expect(config.allowSoftwareSigner).toBe(true);
    });
  });
});

describe('Function: createSoftwareSigner', () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

  it('refuses to run in a deployed Lambda function', () => {
    // Act + Assess
    expect(() => createSoftwareSigner(key, { AWS_LAMBDA_FUNCTION_NAME: 'factory-ca-prod-issue' })).toThrow(SoftwareSignerRefused);
  });

  it('runs under serverless-offline (IS_OFFLINE set)', () => {
    // Act
    const signer = createSoftwareSigner(key, { AWS_LAMBDA_FUNCTION_NAME: 'factory-ca-dev-issue', IS_OFFLINE: 'true' });

    // Assess
    expect(signer.algorithm).toBe('ECDSA_SHA_256');
  });

  it('runs outside Lambda', () => {
    // Act
    const signer = createSoftwareSigner(key.export({ format: 'pem', type: 'pkcs8' }) as string, {});

    // Assess
    expect(signer.algorithm).toBe('ECDSA_SHA_256');
  });
});
