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

    it('refuses TRUST_CLIENT_CERT_HEADER=true (the client certificate comes from API Gateway mutual TLS there)', () => {
      const error = configErrorOf({ ...lambda, TRUST_CLIENT_CERT_HEADER: 'true' });
      expect(problemsOf(error)).toEqual([expect.stringContaining('TRUST_CLIENT_CERT_HEADER cannot be set in a deployed stage')]);
      expect(loadConfig({ ...MINIMAL_ENV, TRUST_CLIENT_CERT_HEADER: 'true' }).trustClientCertHeader).toBe(true);
      expect(loadConfig(MINIMAL_ENV).trustClientCertHeader).toBe(false);
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

describe('Function: loadConfig — CA lifecycle settings', () => {
  const TEMPLATE_PATH = resolve(process.cwd(), 'config/jitp-template.json');
  const ROLE = (name: string) => `arn:aws:iam::123456789012:role/${name}`;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Doc = Record<string, any>;

  /** The shipped template document changed by `change`, as text. */
  const templateWith = (change: (doc: Doc) => void): string => {
    const doc = JSON.parse(TEMPLATE_TEXT) as Doc;
    change(doc);
    return JSON.stringify(doc);
  };
  const withOrganizationalUnit = templateWith((doc) => {
    doc.Parameters['AWS::IoT::Certificate::OrganizationalUnit'] = { Type: 'String' };
    doc.Resources.thing.Properties.AttributePayload.unit = { Ref: 'AWS::IoT::Certificate::OrganizationalUnit' };
  });

  it('applies the documented defaults', () => {
    // Act
    const config = loadConfig(MINIMAL_ENV, policyReader().read);

    // Assess
    expect(config.lifecycle).toEqual({
      iotMode: 'aws',
      keySpec: 'ECC_NIST_P256',
      keyAliasPrefix: 'alias/factory-ca-local',
      rotationPeriodDays: 365,
      rotationMinRemainingDays: 3650,
    });
    expect(config.lifecycle.rotationMinRemainingDays).toBe(config.policy.validityDays);
  });

  it('loads the JITP template from config/jitp-template.json under the working directory', () => {
    // Prepare
    const asked: string[] = [];
    const read = (path: string) => {
      asked.push(path);
      return path.endsWith('jitp-template.json') ? TEMPLATE_TEXT : POLICY_TEXT;
    };

    // Act
    const config = loadConfig(MINIMAL_ENV, read);

    // Assess
    expect(asked).toContain(TEMPLATE_PATH);
    expect(config.templateFile).toBe(TEMPLATE_PATH);
    expect(config.template.parameters).toEqual(['AWS::IoT::Certificate::CommonName', 'AWS::IoT::Certificate::Country', 'AWS::IoT::Certificate::Id']);
    expect(typeof config.template.body).toBe('string');
    expect(config.template.body).not.toContain('$comment');
  });

  it('reads the JITP template from disk with its default reader', () => {
    // Act
    const config = loadConfig({ ...MINIMAL_ENV, POLICY_FILE: POLICY_PATH });

    // Assess
    expect(config.templateFile).toBe(TEMPLATE_PATH);
    expect(Object.keys(config.template.document.Resources)).toEqual(['thing', 'certificate', 'policy']);
  });

  it('defaults ROTATION_MIN_REMAINING_DAYS to the validityDays of the policy', () => {
    // Prepare
    const policy = policyWith((doc) => {
      doc.validityDays = 825;
    });

    // Act
    const config = loadConfig(MINIMAL_ENV, policyReader(policy).read);

    // Assess
    expect(config.lifecycle.rotationMinRemainingDays).toBe(825);
  });

  it('reads every lifecycle setting from the environment', () => {
    // Prepare
    const env = {
      ...MINIMAL_ENV,
      IOT_MODE: 'dry-run',
      CA_KEY_SPEC: 'RSA_3072',
      KEY_ALIAS_PREFIX: 'alias/factory-ca-prod',
      JITP_ROLE_ARN: ROLE('factory-ca-jitp'),
      ISSUE_ROLE_ARN: ROLE('factory-ca-prod-issue'),
      LIFECYCLE_ROLE_ARN: ROLE('service-role/factory-ca-prod-lifecycle'),
      IOT_REGISTRATION_CODE: '4f8e2b1c9d3a7e6f0b5c8d2e1f4a9b7c3d6e0f1a2b5c8d9e4f7a0b3c6d9e2f5a',
      ROTATION_PERIOD_DAYS: '90',
      ROTATION_MIN_REMAINING_DAYS: '730',
      JITP_TEMPLATE_FILE: '/etc/factory-ca/jitp-template.json',
    };

    // Act
    const config = loadConfig(env, policyReader().read);

    // Assess
    expect(config.templateFile).toBe('/etc/factory-ca/jitp-template.json');
    expect(config.lifecycle).toEqual({
      iotMode: 'dry-run',
      keySpec: 'RSA_3072',
      keyAliasPrefix: 'alias/factory-ca-prod',
      jitpRoleArn: ROLE('factory-ca-jitp'),
      issueRoleArn: ROLE('factory-ca-prod-issue'),
      lifecycleRoleArn: ROLE('service-role/factory-ca-prod-lifecycle'),
      registrationCode: '4f8e2b1c9d3a7e6f0b5c8d2e1f4a9b7c3d6e0f1a2b5c8d9e4f7a0b3c6d9e2f5a',
      rotationPeriodDays: 90,
      rotationMinRemainingDays: 730,
    });
  });

  it('resolves a relative JITP_TEMPLATE_FILE against LAMBDA_TASK_ROOT in a deployed function', () => {
    // Act
    const config = loadConfig(
      { ...MINIMAL_ENV, AWS_LAMBDA_FUNCTION_NAME: 'factory-ca-prod-lifecycle', LAMBDA_TASK_ROOT: '/var/task', JITP_TEMPLATE_FILE: 'provisioning/jitp-template.json' },
      policyReader().read,
    );

    // Assess
    expect(config.templateFile).toBe('/var/task/provisioning/jitp-template.json');
  });

  it.each(['ECC_NIST_P256', 'ECC_NIST_P384', 'RSA_2048', 'RSA_3072', 'RSA_4096'])('accepts CA_KEY_SPEC=%s', (spec) => {
    // Act
    const config = loadConfig({ ...MINIMAL_ENV, CA_KEY_SPEC: spec }, policyReader().read);

    // Assess
    expect(config.lifecycle.keySpec).toBe(spec);
  });

  it('accepts role ARNs of another partition (aws-cn)', () => {
    // Act
    const config = loadConfig({ ...MINIMAL_ENV, LIFECYCLE_ROLE_ARN: 'arn:aws-cn:iam::123456789012:role/factory-ca-lifecycle' }, policyReader().read);

    // Assess
    expect(config.lifecycle.lifecycleRoleArn).toBe('arn:aws-cn:iam::123456789012:role/factory-ca-lifecycle');
  });

  it('treats empty role ARNs and registration code as unset', () => {
    // Act
    const config = loadConfig({ ...MINIMAL_ENV, JITP_ROLE_ARN: '', ISSUE_ROLE_ARN: '', LIFECYCLE_ROLE_ARN: '', IOT_REGISTRATION_CODE: '' }, policyReader().read);

    // Assess
    expect(config.lifecycle).not.toHaveProperty('jitpRoleArn');
    expect(config.lifecycle).not.toHaveProperty('issueRoleArn');
    expect(config.lifecycle).not.toHaveProperty('lifecycleRoleArn');
    expect(config.lifecycle).not.toHaveProperty('registrationCode');
  });

  it('accepts IOT_MODE=dry-run under serverless-offline (IS_OFFLINE=true)', () => {
    // Act
    const config = loadConfig({ ...MINIMAL_ENV, AWS_LAMBDA_FUNCTION_NAME: 'factory-ca-dev-lifecycle', IS_OFFLINE: 'true', IOT_MODE: 'dry-run' }, policyReader().read);

    // Assess
    expect(config.lifecycle.iotMode).toBe('dry-run');
  });

  describe('with an invalid lifecycle configuration', () => {
    it.each<[string, NodeJS.ProcessEnv, string]>([
      ['IOT_MODE=maybe', { IOT_MODE: 'maybe' }, 'IOT_MODE must be aws or dry-run'],
      ['IOT_MODE=dry-run in a deployed Lambda function', { IOT_MODE: 'dry-run', AWS_LAMBDA_FUNCTION_NAME: 'factory-ca-prod-lifecycle' }, 'IOT_MODE=dry-run cannot be set in a deployed stage'],
      ['CA_KEY_SPEC=ECC_NIST_P521', { CA_KEY_SPEC: 'ECC_NIST_P521' }, 'CA_KEY_SPEC must be one of'],
      ['KEY_ALIAS_PREFIX under alias/aws/', { KEY_ALIAS_PREFIX: 'alias/aws/x' }, 'KEY_ALIAS_PREFIX'],
      ['KEY_ALIAS_PREFIX without alias/', { KEY_ALIAS_PREFIX: 'factory' }, 'KEY_ALIAS_PREFIX'],
      ['JITP_ROLE_ARN naming a user', { JITP_ROLE_ARN: 'arn:aws:iam::123456789012:user/factory-ca-jitp' }, 'JITP_ROLE_ARN must be an IAM role ARN'],
      ['JITP_ROLE_ARN that is a bare name', { JITP_ROLE_ARN: 'factory-ca-jitp' }, 'JITP_ROLE_ARN must be an IAM role ARN'],
      ['ISSUE_ROLE_ARN with a short account id', { ISSUE_ROLE_ARN: 'arn:aws:iam::12345:role/issue' }, 'ISSUE_ROLE_ARN must be an IAM role ARN'],
      ['LIFECYCLE_ROLE_ARN of another service', { LIFECYCLE_ROLE_ARN: 'arn:aws:sts::123456789012:assumed-role/lifecycle/session' }, 'LIFECYCLE_ROLE_ARN must be an IAM role ARN'],
      ['IOT_REGISTRATION_CODE with a dash', { IOT_REGISTRATION_CODE: '4f8e2b1c-9d3a7e6f0b5c8d2e1f4a9b7c' }, 'IOT_REGISTRATION_CODE'],
      ['IOT_REGISTRATION_CODE too short', { IOT_REGISTRATION_CODE: 'abc123' }, 'IOT_REGISTRATION_CODE'],
      ['ROTATION_PERIOD_DAYS of 0', { ROTATION_PERIOD_DAYS: '0' }, 'ROTATION_PERIOD_DAYS'],
      ['ROTATION_MIN_REMAINING_DAYS not a number', { ROTATION_MIN_REMAINING_DAYS: 'ten' }, 'ROTATION_MIN_REMAINING_DAYS'],
    ])('refuses %s', (_case, env, problem) => {
      // Act
      const error = configErrorOf({ ...MINIMAL_ENV, ...env });

      // Assess
      expect(problemsOf(error)).toEqual([expect.stringContaining(problem)]);
    });

    it('lists every lifecycle problem together', () => {
      // Prepare
      const env = {
        ...MINIMAL_ENV,
        IOT_MODE: 'maybe',
        CA_KEY_SPEC: 'ECC_NIST_P521',
        KEY_ALIAS_PREFIX: 'factory',
        JITP_ROLE_ARN: 'factory-ca-jitp',
        IOT_REGISTRATION_CODE: 'not-a-code-0000000000',
      };

      // Act
      const error = configErrorOf(env);

      // Assess
      const problems = problemsOf(error);
      expect(problems).toHaveLength(5);
      expect(problems).toEqual(
        expect.arrayContaining([
          expect.stringContaining('IOT_MODE'),
          expect.stringContaining('CA_KEY_SPEC'),
          expect.stringContaining('KEY_ALIAS_PREFIX'),
          expect.stringContaining('JITP_ROLE_ARN'),
          expect.stringContaining('IOT_REGISTRATION_CODE'),
        ]),
      );
    });

    it('refuses a template whose parameter the policy does not make required, naming the template file', () => {
      // Act
      const error = configErrorOf(MINIMAL_ENV, policyReader(POLICY_TEXT, withOrganizationalUnit).read);

      // Assess
      const problems = problemsOf(error);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(new RegExp(`^${TEMPLATE_PATH.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: template parameter AWS::IoT::Certificate::OrganizationalUnit`));
      expect(problems[0]).toContain('makes OU optional');
    });

    it('accepts that template with a policy that makes OU required', () => {
      // Prepare
      const policy = policyWith((doc) => {
        const subject = doc.subject as { attributes: Record<string, Record<string, unknown>> };
        subject.attributes.OU!.presence = 'required';
      });

      // Act
      const config = loadConfig(MINIMAL_ENV, policyReader(policy, withOrganizationalUnit).read);

      // Assess
      expect(config.template.parameters).toContain('AWS::IoT::Certificate::OrganizationalUnit');
    });

    it('refuses an invalid template, naming the template file', () => {
      // Prepare
      const template = templateWith((doc) => {
        doc.Resources.policy.Properties.PolicyDocument.Statement[0].Action = 'iot:*';
      });

      // Act
      const error = configErrorOf(MINIMAL_ENV, policyReader(POLICY_TEXT, template).read);

      // Assess
      expect(problemsOf(error)).toEqual([`${TEMPLATE_PATH}: Resources.policy.Properties.PolicyDocument.Statement[0]: allows every action ("*" or "iot:*")`]);
    });

    it('refuses a template file that is not JSON, naming the file', () => {
      // Act
      const error = configErrorOf(MINIMAL_ENV, policyReader(POLICY_TEXT, '{ "Parameters": ').read);

      // Assess
      expect(problemsOf(error)).toEqual([expect.stringMatching(/config\/jitp-template\.json: not valid JSON/)]);
    });

    it('lists a template problem together with a policy problem', () => {
      // Prepare
      const policy = policyWith((doc) => {
        doc.validityDay = 30;
      });
      const template = templateWith((doc) => {
        doc.Outputs = {};
      });

      // Act
      const error = configErrorOf(MINIMAL_ENV, policyReader(policy, template).read);

      // Assess
      expect(problemsOf(error)).toEqual(
        expect.arrayContaining([expect.stringContaining('unknown setting "validityDay"'), `${TEMPLATE_PATH}: unknown top-level key "Outputs"`]),
      );
      expect(problemsOf(error)).toHaveLength(2);
    });
  });
});
